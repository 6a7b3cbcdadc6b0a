/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_sockopt.c - `sockit sockopt [-u] [NAME[=VALUE]...]`: the options of
 * a fresh socket, and what the kernel makes of a change.
 *
 * The tutorial's getsockopt/setsockopt lessons (SO_TYPE, SO_RCVBUF,
 * TCP_NODELAY, SO_REUSEADDR) become one table, sk_sockopt_table(), that
 * this command lists.  Setting reads the value back, because the kernel
 * may not keep what it was given: Linux doubles SO_RCVBUF and SO_SNDBUF
 * (socket(7)) and clamps them to its limits.
 *
 * Every argument is checked before the first line is printed, so a typo
 * is a usage error (exit 2) with no partial output.
 */
#include "cli.h"
#include "cli_getopt.h"
#include "sk_error.h"
#include "sk_sockopt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help_text[] =
    "usage: sockit sockopt [-u] [-6] [NAME[=VALUE]...]\n"
    "\n"
    "List every socket option sockit knows with its value on a fresh TCP\n"
    "socket (UDP with -u), then for each argument:\n"
    "  NAME=VALUE   set the option and read it back  (nodelay: off -> on)\n"
    "  NAME         read the option\n"
    "\n"
    "Values: on/off for switches, a number (K and M suffixes) for sizes,\n"
    "'off' or seconds for linger.\n"
    "\n"
    "examples:\n"
    "  sockit sockopt\n"
    "  sockit sockopt nodelay=on rcvbuf=64K linger=5\n"
    "  sockit sockopt -u broadcast=on\n"
    "\n"
    "options:\n"
    "  -u, --udp    a UDP socket instead of TCP\n"
    "  -4, --ipv4   an IPv4 socket (the default)\n"
    "  -6, --ipv6   an IPv6 socket instead of IPv4\n"
    "  -V, --version  print sockit's version\n"
    "  -h, --help   this text\n";

#define VALUE_LEN 64

/* The number a size value asks for (64K = 65536), or -1. */
static long requested_size(const char *value)
{
    uint64_t n;
    return sk__parse_size(value, 0x7fffffff, &n) == 0 ? (long)n : -1;
}

static void check_argument(const char *arg)
{
    const char *eq = strchr(arg, '=');
    char name[32];
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (len == 0 || len >= sizeof name)
        cli_usage_error("unknown socket option '%s' (run 'sockit sockopt' for the list)", arg);
    memcpy(name, arg, len);
    name[len] = '\0';
    if (sk_sockopt_find(name) == NULL)
        cli_usage_error("unknown socket option '%s' (run 'sockit sockopt' for the list)", name);
    if (eq == NULL)
        return;
    int rc = sk_sockopt_check(arg);
    if (rc == SK_EREADONLY)
        cli_usage_error("%s is read-only", name);
    if (rc < 0)
        cli_usage_error("invalid value '%s' for %s: %s", eq + 1, name, sk_strerror(rc));
}

static void list_options(sk_socket_t s)
{
    size_t count;
    const struct sk_sockopt_info *table = sk_sockopt_table(&count);
    char (*values)[VALUE_LEN] = calloc(count, sizeof *values);
    if (values == NULL)
        cli_fail("out of memory");
    /* Values first, so the summaries line up after the widest one (an
     * option this socket type lacks reads "n/a (reason)"). */
    int width = 5;
    for (size_t i = 0; i < count; i++) {
        int rc = sk_sockopt_get(s, table[i].name, values[i], VALUE_LEN);
        if (rc < 0)
            snprintf(values[i], VALUE_LEN, "n/a (%s)", sk_strerror(rc));
        int len = (int)strlen(values[i]);
        if (len > width)
            width = len;
    }
    for (size_t i = 0; i < count; i++)
        printf("%-15s %-*s  %s\n", table[i].name, width, values[i], table[i].summary);
    free(values);
}

static void read_option(sk_socket_t s, const char *name, const char *type_name)
{
    char value[VALUE_LEN];
    int rc = sk_sockopt_get(s, name, value, sizeof value);
    if (rc < 0) {
        fflush(stdout);
        cli_fail("cannot read %s on a %s socket: %s", name, type_name, sk_strerror(rc));
    }
    printf("%s: %s\n", name, value);
}

static void set_option(sk_socket_t s, const char *arg, const char *type_name)
{
    const char *eq = strchr(arg, '=');
    char name[32], before[VALUE_LEN], after[VALUE_LEN];
    snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
    const char *value = eq + 1;

    int rc = sk_sockopt_get(s, name, before, sizeof before);
    if (rc < 0)
        snprintf(before, sizeof before, "n/a");
    rc = sk_sockopt_set(s, name, value);
    if (rc < 0) {
        fflush(stdout);
        cli_fail("cannot set %s=%s on a %s socket: %s", name, value, type_name,
                 sk_strerror(rc));
    }
    rc = sk_sockopt_get(s, name, after, sizeof after);
    if (rc < 0) {
        fflush(stdout);
        cli_fail("set %s, but cannot read it back: %s", name, sk_strerror(rc));
    }
    printf("%s: %s -> %s\n", name, before, after);

    const struct sk_sockopt_info *info = sk_sockopt_find(name);
    long asked = info->kind == SK_OPT_INT ? requested_size(value) : -1;
    long got = strtol(after, NULL, 10);
    if (asked < 0 || got == asked)
        return;
    if (got == 2 * asked)
        printf("note: %s reads back doubled (%ld for %ld): Linux reserves as much again "
               "for its own bookkeeping (socket(7))\n", name, got, asked);
    else
        printf("note: %s reads back %ld, not %ld: the kernel adjusted it to its limits\n",
               name, got, asked);
}

int cmd_sockopt(int argc, char **argv)
{
    static const struct option options[] = {
        { "udp", no_argument, NULL, 'u' },
        { "ipv4", no_argument, NULL, '4' },
        { "ipv6", no_argument, NULL, '6' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int udp = 0, family = AF_UNSPEC;
    int c;
    opterr = 0;
    while ((c = cli_getopt(argc, argv, "u46h", options)) != -1) {
        switch (c) {
        case 'u': udp = 1; break;
        case '4':
        case '6': cli_set_family(&family, c); break;
        case 'h': cli_help(help_text);
        default: cli_bad_option(argc, argv);
        }
    }
    if (family == AF_UNSPEC)
        family = AF_INET;
    for (int i = optind; i < argc; i++)
        check_argument(argv[i]);

    const char *type_name = udp ? "UDP" : "TCP";
    sk_socket_t s = socket(family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (s == SK_INVALID_SOCKET)
        cli_fail("cannot open a %s %s socket: %s", family == AF_INET6 ? "IPv6" : "IPv4",
                 type_name, sk_strerror(sk__socket_error()));

    printf("a fresh %s %s socket:\n", family == AF_INET6 ? "IPv6" : "IPv4", type_name);
    list_options(s);
    if (optind < argc)
        printf("\n");
    for (int i = optind; i < argc; i++) {
        if (strchr(argv[i], '=') != NULL)
            set_option(s, argv[i], type_name);
        else
            read_option(s, argv[i], type_name);
    }
    sk_socket_close(s);
    return 0;
}
