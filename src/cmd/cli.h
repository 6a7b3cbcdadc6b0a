/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cli.h - what every sockit subcommand shares: messages, exit codes and
 * checked number parsing.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage error.  Every message
 * is one line on stderr that starts with the subcommand's name.
 */
#ifndef SOCKIT_CLI_H
#define SOCKIT_CLI_H

#include <stddef.h>
#include <stdnoreturn.h>

#include "sk_compat.h" /* SK_PRINTF */

/* The version every subcommand's -V and every JSON object reports. */
#ifndef SOCKIT_VERSION
#define SOCKIT_VERSION "0.1.0"
#endif

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

/* The one way numbers are read from the command line: plain decimal (no
 * space, '+', hex, exponent, "inf" or "nan"; '-' only when min < 0),
 * range- and overflow-checked, or exit 2 with one line naming the option
 * (what) and the text. */
/* An integer in [min, max]. */
long cli_parse_long(const char *text, long min, long max, const char *what);
/* A number with an optional fraction ("2", "0.5") in [min, max];
 * expected says what was wanted, for the message. */
double cli_parse_decimal(const char *text, double min, double max, const char *what,
                         const char *expected);
/* A duration, to milliseconds: a plain number is seconds ("2", "0.5"),
 * or it carries its unit: "2s", "500ms".  At most 10^6 seconds.  Every
 * option that takes a time reads it through this. */
int cli_parse_duration_ms(const char *text, const char *what);
/* The old name, still used by cmd_chat.c. */
#define cli_parse_seconds_ms cli_parse_duration_ms
/* A size in bytes in [min, max]: digits with an optional K, M or G
 * (x 1024, 1024^2, 1024^3): "64K", "8k", "1M".  The same reader as socket
 * option values (sk__parse_size), so "--buffer 64K" and "--sockopt
 * rcvbuf=64K" agree.  Every option that takes a size reads it through
 * this. */
unsigned long long cli_parse_size(const char *text, unsigned long long min,
                                  unsigned long long max, const char *what);

/* -4 and -6, as in nc: force IPv4 or IPv6 for every address the
 * subcommand resolves.  Call from the getopt switch with the option
 * letter ('4' or '6'); *family is AF_UNSPEC (0) until then.  Both given
 * is a usage error. */
void cli_set_family(int *family, int option);

/* A required option value that is really the next option: "-l -p 0"
 * gives -l the value "-p" and leaves "0" over.  When value starts with
 * '-', exit 2 with "OPTION needs WANTED (got 'VALUE'); HINT".  Only for
 * values that never start with '-', such as addresses (a file may be
 * called "-x"). */
void cli_refuse_option_as_value(const char *option, const char *value, const char *wanted,
                                const char *hint);

/* -v in the clients, as nc -v: one line on stderr naming the address
 * the socket talks to, "sockit echo: connected to ::1 port 7". */
struct sk_addr;
void cli_say_peer(const char *verb, const struct sk_addr *peer);

/* Print "sockit VERSION" and exit 0 (-V, --version). */
noreturn void cli_version(void);

/* The visible form of a peer's bytes, in the style of OpenBSD's vis(3),
 * so that nothing a server or another chat member sends reaches our
 * terminal as a control sequence: ESC shows as "^[", CR as "\\r", other
 * control bytes, DEL and bytes that are not printable UTF-8 as "\\xNN".
 * Printable ASCII, printable UTF-8 and tab are kept; a newline is kept
 * with CLI_VIS_KEEP_NEWLINE and shown as "\\n" without.  With
 * CLI_VIS_PARTIAL a UTF-8 character cut short at the end of src is left
 * for the next call (a stream read in pieces); otherwise it is escaped.
 *
 * Writes at most cap - 1 characters and a NUL to dst (a byte takes at
 * most 4, so 4 * len + 1 always holds all of src) and their count to
 * *dst_len when it is not NULL.  Returns how many bytes of src it used. */
#define CLI_VIS_KEEP_NEWLINE 1u
#define CLI_VIS_PARTIAL 2u
size_t cli_vis(char *dst, size_t cap, const void *src, size_t len, unsigned flags,
               size_t *dst_len);

/* getopt_long's message for an unknown option is replaced by ours. */
noreturn void cli_bad_option(int argc, char **argv);

/* --trace[=FORMAT]: start tracing on stderr, or exit 2 on a bad FORMAT.
 * CLI_TRACE_HELP is its line for a help text. */
void cli_trace_start(const char *spec);
#define CLI_OPT_TRACE 0x7472 /* --trace's getopt value, the same in every table */
#define CLI_TRACE_OPTION { "trace", optional_argument, NULL, CLI_OPT_TRACE }
#define CLI_TRACE_HELP \
    "      --trace[=FMT]       show each socket call and TCP's state on stderr;\n" \
    "                          FMT: text (default), json, tcp (a TCP_INFO sample\n" \
    "                          every second), or a mix: --trace=json,tcp\n"

/* Print the help text and exit 0. */
noreturn void cli_help(const char *text);

int cmd_serve(int argc, char **argv);
int cmd_echo(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_time(int argc, char **argv);
int cmd_lookup(int argc, char **argv);
int cmd_addr(int argc, char **argv);
int cmd_sockopt(int argc, char **argv);
int cmd_mcast(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_compare(int argc, char **argv);

#endif
