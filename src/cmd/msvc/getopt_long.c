/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * getopt_long.c - getopt_long() for MSVC, whose C library has none; what
 * it does and does not do is in getopt_long.h.
 *
 * Between calls the state is optind and, when the last call stopped in
 * the middle of a cluster of short options ("-uqv"), that element and the
 * offset of its next letter.
 *
 * Operands may come before options ("serve echo -p 7"), as with glibc.
 * Each call skips operands to the next element that is an option, parses
 * one option there, then rotates the elements it used up (the option, and
 * its argument if that was the next element) to before the operands it
 * skipped.  Operands so keep their order and gather after the options,
 * and optind ends on the first of them.
 */
#include "getopt_long.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

char *sk_optarg;
int sk_optind = 1;
int sk_opterr = 1;
int sk_optopt = '?';

static const char *cluster;  /* the element whose letters are being read */
static size_t cluster_pos;   /* offset of its next letter */

/* "-x...", "--x..." and "--" are options; "-" and "x" are operands. */
static int is_option(const char *arg)
{
    return arg[0] == '-' && arg[1] != '\0';
}

/* Reverse argv[from, to). */
static void reverse(char **v, int from, int to)
{
    while (from < --to) {
        char *t = v[from];
        v[from++] = v[to];
        v[to] = t;
    }
}

/* Move argv[mid, end) to before argv[start, mid), keeping both in order. */
static void rotate(char **v, int start, int mid, int end)
{
    reverse(v, start, mid);
    reverse(v, mid, end);
    reverse(v, start, end);
}

/* Done with argv[optind]: move on to the next element. */
static void next_element(void)
{
    sk_optind++;
    cluster = NULL;
    cluster_pos = 0;
}

/* The next letter of the cluster at argv[optind]. */
static int short_option(int argc, char *argv[], const char *optstring, int report)
{
    char *arg = argv[sk_optind];
    int c = (unsigned char)arg[cluster_pos++];
    int last = arg[cluster_pos] == '\0';
    const char *spec = c == ':' ? NULL : strchr(optstring, c);

    if (last)
        next_element();
    if (spec == NULL) {
        sk_optopt = c;
        if (report)
            fprintf(stderr, "%s: invalid option -- '%c'\n", argv[0], c);
        return '?';
    }
    if (spec[1] != ':')
        return c;
    if (!last) { /* "-p7": the rest of the element is the argument */
        sk_optarg = arg + cluster_pos;
        next_element();
        return c;
    }
    if (spec[2] == ':') /* optional, and none attached */
        return c;
    if (sk_optind < argc && argv[sk_optind] != NULL) { /* "-p 7" */
        sk_optarg = argv[sk_optind++];
        return c;
    }
    sk_optopt = c;
    if (report)
        fprintf(stderr, "%s: option requires an argument -- '%c'\n", argv[0], c);
    return optstring[0] == ':' ? ':' : '?';
}

/* The long option at argv[optind] ("--name", "--name=value"). */
static int long_option(int argc, char *argv[], const char *optstring,
                       const struct option *longopts, int *longindex, int report)
{
    char *arg = argv[sk_optind];
    char *name = arg + 2;
    char *value = strchr(name, '=');
    size_t len = value != NULL ? (size_t)(value - name) : strlen(name);

    /* An exact match wins; otherwise the name may be a prefix of one
     * option, or of several that all mean the same. */
    const struct option *found = NULL;
    int ambiguous = 0;
    for (const struct option *o = longopts; o->name != NULL; o++) {
        if (strncmp(o->name, name, len) != 0)
            continue;
        if (o->name[len] == '\0') {
            found = o;
            ambiguous = 0;
            break;
        }
        if (found == NULL)
            found = o;
        else if (o->has_arg != found->has_arg || o->flag != found->flag || o->val != found->val)
            ambiguous = 1;
    }

    next_element();
    if (found == NULL || ambiguous) {
        sk_optopt = 0;
        if (report && found == NULL)
            fprintf(stderr, "%s: unrecognized option '%s'\n", argv[0], arg);
        else if (report)
            fprintf(stderr, "%s: option '%s' is ambiguous\n", argv[0], arg);
        return '?';
    }
    if (value != NULL) {
        if (found->has_arg == no_argument) {
            sk_optopt = found->val;
            if (report)
                fprintf(stderr, "%s: option '--%s' doesn't allow an argument\n", argv[0],
                        found->name);
            return '?';
        }
        sk_optarg = value + 1;
    } else if (found->has_arg == required_argument) {
        if (sk_optind >= argc || argv[sk_optind] == NULL) {
            sk_optopt = found->val;
            if (report)
                fprintf(stderr, "%s: option '--%s' requires an argument\n", argv[0], found->name);
            return optstring[0] == ':' ? ':' : '?';
        }
        sk_optarg = argv[sk_optind++];
    }
    if (longindex != NULL)
        *longindex = (int)(found - longopts);
    if (found->flag != NULL) {
        *found->flag = found->val;
        return 0;
    }
    return found->val;
}

int sk_getopt_long(int argc, char *argv[], const char *optstring,
                   const struct option *longopts, int *longindex)
{
    if (sk_optind <= 0) { /* optind = 0: start again */
        sk_optind = 1;
        cluster = NULL;
        cluster_pos = 0;
    }
    sk_optarg = NULL;
    int report = sk_opterr != 0 && optstring[0] != ':';

    /* Skip operands to the next option. */
    int first = sk_optind, at = sk_optind;
    while (at < argc && argv[at] != NULL && !is_option(argv[at]))
        at++;
    if (at >= argc || argv[at] == NULL) {
        sk_optind = first;
        cluster = NULL;
        cluster_pos = 0;
        return -1;
    }

    sk_optind = at;
    int c;
    if (argv[at] == cluster && cluster_pos > 0) {
        c = short_option(argc, argv, optstring, report);
    } else if (strcmp(argv[at], "--") == 0) {
        next_element();
        c = -1;
    } else if (argv[at][1] == '-' && longopts != NULL) {
        c = long_option(argc, argv, optstring, longopts, longindex, report);
    } else {
        cluster = argv[at];
        cluster_pos = 1;
        c = short_option(argc, argv, optstring, report);
    }

    /* Put what this call used up before the operands it skipped. */
    if (at > first) {
        int used = sk_optind - at;
        rotate(argv, first, at, sk_optind);
        sk_optind = first + used;
    }
    return c;
}
