/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * getopt_long.h - getopt_long() for C libraries that have none (MSVC's).
 *
 * glibc and mingw-w64 provide getopt_long() in <getopt.h>; Microsoft's C
 * runtime does not.  cli_getopt.h includes this header instead of
 * <getopt.h> when the compiler is MSVC, and CMake compiles getopt_long.c
 * for MSVC builds only.
 *
 * It behaves as glibc's getopt_long() does for what the subcommands use:
 *
 *   - short options, clustered ("-uq") or not, with a required argument
 *     attached ("-p7") or in the next element ("-p 7"); "x::" takes an
 *     optional argument, attached only;
 *   - long options with their argument after '=' or in the next element,
 *     abbreviated to any unambiguous prefix ("--conn" for "--connected");
 *   - options and operands in any order: operands are moved after the
 *     options (argv is permuted), so after the last option argv[optind]
 *     is the first operand.  glibc permutes late and this at once, so
 *     while options remain optind counts differently; what agrees is
 *     argv[optind - 1] after an option that ended its element (the bad
 *     option, for an error message) and optind once -1 is returned;
 *   - "--" ends the options; "-" alone is an operand;
 *   - errors return '?' (or ':' for a missing argument when optstring
 *     starts with ':'), with optopt set as glibc sets it: the option
 *     letter, the long option's val for a missing or unwanted argument,
 *     0 for an unknown or ambiguous long option; optind is past the bad
 *     element when the bad option ended it;
 *   - a message on stderr for each error unless opterr is 0 or optstring
 *     starts with ':';
 *   - flag and longindex as documented for glibc;
 *   - optind = 0 before a call starts a fresh scan (so does 1, after a
 *     scan that ran to its end).
 *
 * Not supported: a leading '+' or '-' in optstring, POSIXLY_CORRECT,
 * "-W foo", getopt_long_only().
 *
 * The names are macros for sk_-prefixed ones so that this can never clash
 * with a C library's own getopt (and can be tested against glibc's).
 */
#ifndef SOCKIT_GETOPT_LONG_H
#define SOCKIT_GETOPT_LONG_H

struct option {
    const char *name; /* the long option's name, without "--" */
    int has_arg;      /* no_argument, required_argument or optional_argument */
    int *flag;        /* NULL: getopt_long returns val; else *flag = val, returns 0 */
    int val;
};

#define no_argument 0
#define required_argument 1
#define optional_argument 2

extern char *sk_optarg; /* the current option's argument, or NULL */
extern int sk_optind;   /* the next element of argv to look at */
extern int sk_opterr;   /* 0: print no messages */
extern int sk_optopt;   /* the option that caused the last error */

/* argv is not const (glibc's prototype says char *const argv[]): the
 * elements are reordered, as glibc reorders them. */
int sk_getopt_long(int argc, char *argv[], const char *optstring,
                   const struct option *longopts, int *longindex);

#define optarg sk_optarg
#define optind sk_optind
#define opterr sk_opterr
#define optopt sk_optopt
#define getopt_long sk_getopt_long

#endif
