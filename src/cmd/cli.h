/*
 * cli.h - what every sockit subcommand shares: messages, exit codes and
 * checked number parsing.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage error.  Every message
 * is one line on stderr that starts with the subcommand's name.
 */
#ifndef SOCKIT_CLI_H
#define SOCKIT_CLI_H

#include <stdnoreturn.h>

#include "sk_compat.h" /* SK_PRINTF */

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

/* The largest count an option takes: 2^40, or LONG_MAX where long has
 * 32 bits (Windows). */
#include <limits.h>
#if LONG_MAX > 0x7fffffffL
#define CLI_COUNT_MAX (1L << 40)
#else
#define CLI_COUNT_MAX LONG_MAX
#endif

/* The running subcommand's name ("sockit echo"), for messages. */
extern const char *cli_prog;

noreturn void cli_usage_error(const char *fmt, ...)
    SK_PRINTF(1, 2);
noreturn void cli_fail(const char *fmt, ...) SK_PRINTF(1, 2);
void cli_warn(const char *fmt, ...) SK_PRINTF(1, 2);

/* Parse an integer in [min, max] or exit with a usage error naming what. */
long cli_parse_long(const char *text, long min, long max, const char *what);
/* Seconds, possibly fractional ("2", "0.5"), to milliseconds. */
int cli_parse_seconds_ms(const char *text, const char *what);

/* getopt_long's message for an unknown option is replaced by ours. */
noreturn void cli_bad_option(int argc, char **argv);

/* Print the help text and exit 0. */
noreturn void cli_help(const char *text);

int cmd_serve(int argc, char **argv);
int cmd_echo(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_lookup(int argc, char **argv);
int cmd_addr(int argc, char **argv);
int cmd_sockopt(int argc, char **argv);
int cmd_mcast(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_compare(int argc, char **argv);

#endif
