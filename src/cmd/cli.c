/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cli.c - messages, exit codes, number parsing and the visible form of a
 * peer's text, for the subcommands.
 */
#include "cli.h"
#include "cli_getopt.h"
#include "cli_json.h"
#include "sk_addr.h"
#include "sk_sockopt.h" /* sk__parse_size */

#include <sockit/error.h>
#include <sockit/trace.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *cli_prog = "sockit";

static void vmessage(const char *fmt, va_list ap)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: ", cli_prog);
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    fprintf(stderr, "%s\n", line);
}

/* One line: what was wrong, and where to look. */
void cli_usage_error(const char *fmt, ...)
{
    char what[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s (try '%s --help')\n", cli_prog, what, cli_prog);
    exit(EXIT_USAGE);
}

void cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    exit(EXIT_RUNTIME);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
}

/* Every number on the command line is plain decimal: digits, a '.' and
 * more digits where fractions make sense, a leading '-' only where
 * negative values do.  strtol() and strtod() alone would also take " 5",
 * "+5", "0x10", "1e3", "inf" and "nan", which nobody means as a count or
 * a number of seconds. */
static int is_plain_decimal(const char *text, int negative_ok, int fraction_ok)
{
    const char *p = text;
    if (*p == '-' && negative_ok)
        p++;
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.' && fraction_ok) {
        p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

long cli_parse_long(const char *text, long min, long max, const char *what)
{
    long v = 0;
    if (is_plain_decimal(text, min < 0, 0)) {
        errno = 0;
        v = strtol(text, NULL, 10);
        if (errno == 0 && v >= min && v <= max)
            return v;
    }
    cli_usage_error("invalid %s '%s' (expected %ld to %ld)", what, text, min, max);
}

double cli_parse_decimal(const char *text, double min, double max, const char *what,
                         const char *expected)
{
    if (is_plain_decimal(text, min < 0, 1)) {
        errno = 0;
        double v = strtod(text, NULL);
        if (errno == 0 && v >= min && v <= max)
            return v;
    }
    cli_usage_error("invalid %s '%s' (expected %s)", what, text, expected);
}

int cli_parse_duration_ms(const char *text, const char *what)
{
    /* The number, then its unit: "ms", "s" or none (seconds). */
    size_t len = strlen(text), digits = len;
    double scale = 1000.0;
    if (len > 2 && strcmp(text + len - 2, "ms") == 0)
        digits = len - 2, scale = 1.0;
    else if (len > 1 && text[len - 1] == 's')
        digits = len - 1;
    char number[64];
    if (digits < sizeof number) {
        memcpy(number, text, digits);
        number[digits] = '\0';
        if (is_plain_decimal(number, 0, 1)) {
            /* Up to a million seconds (11.5 days): the milliseconds fit
             * an int. */
            double ms = strtod(number, NULL) * scale;
            if (ms <= 1e9)
                return (int)(ms + 0.5);
        }
    }
    cli_usage_error("invalid %s '%s' (expected seconds, such as 2, 0.5, 2s or 500ms)", what,
                    text);
}

unsigned long long cli_parse_size(const char *text, unsigned long long min,
                                  unsigned long long max, const char *what)
{
    uint64_t v;
    if (sk__parse_size(text, max, &v) == 0 && v >= min)
        return v;
    cli_usage_error("invalid %s '%s' (expected a size from %llu to %llu bytes; K, M and G "
                    "multiply by 1024)", what, text, min, max);
}

void cli_set_family(int *family, int option)
{
    int want = option == '4' ? AF_INET : AF_INET6;
    if (*family != AF_UNSPEC && *family != want)
        cli_usage_error("-4 and -6 contradict each other; give one");
    *family = want;
}

void cli_refuse_option_as_value(const char *option, const char *value, const char *wanted,
                                const char *hint)
{
    if (value[0] == '-' && value[1] != '\0')
        cli_usage_error("%s needs %s (got '%s'); %s", option, wanted, value, hint);
}

void cli_say_peer(const char *verb, const struct sk_addr *peer)
{
    char host[SK_HOSTLEN];
    if (sk_addr_format_host((const struct sockaddr *)&peer->ss, host, sizeof host) < 0)
        snprintf(host, sizeof host, "?");
    fprintf(stderr, "%s: %s %s port %d\n", cli_prog, verb, host,
            sk_addr_port((const struct sockaddr *)&peer->ss));
}

void cli_version(void)
{
    printf("sockit %s\n", SOCKIT_VERSION);
    exit(fflush(stdout) == 0 ? 0 : EXIT_RUNTIME);
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    /* The caller's tables with "V" and "version" added, made once per
     * table (a subcommand parses its options once, with one table). */
    static const struct option *made_for;
    static struct option *merged;
    static char *merged_short;
    if (made_for != longopts) {
        size_t n = 0;
        while (longopts[n].name != NULL)
            n++;
        free(merged);
        free(merged_short);
        merged = calloc(n + 2, sizeof *merged);
        merged_short = malloc(strlen(shortopts) + 2);
        if (merged == NULL || merged_short == NULL)
            cli_fail("out of memory");
        memcpy(merged, longopts, n * sizeof *merged);
        merged[n].name = "version";
        merged[n].has_arg = no_argument;
        merged[n].flag = NULL;
        merged[n].val = 'V';
        /* merged[n + 1] stays zero: the end. */
        snprintf(merged_short, strlen(shortopts) + 2, "%sV", shortopts);
        made_for = longopts;
    }
    int c = getopt_long(argc, argv, merged_short, merged, NULL);
    if (c == 'V')
        cli_version();
    return c;
}

void cli_bad_option(int argc, char **argv)
{
    const char *opt = optind - 1 < argc && optind > 0 ? argv[optind - 1] : "?";
    /* optopt is the short option letter; long options have none (their
     * internal codes are >= 256) and are named from argv instead. */
    /* A long option that shares a letter ("--timeout" is 't') is named
     * as typed. */
    if (optopt > 0 && optopt < 256 && optopt != '?' && strncmp(opt, "--", 2) != 0)
        cli_usage_error("option '-%c' is unknown or needs a value", optopt);
    cli_usage_error("option '%s' is unknown or needs a value", opt);
}

void cli_help(const char *text)
{
    fputs(text, stdout);
    exit(0);
}

/* ---- what every JSON object carries ---------------------------------------- */

void cli_json_stamp(struct cli_json *object)
{
    struct tm tm;
    char stamp[40] = "";
    if (sk__gmtime(time(NULL), &tm) == 0)
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cli_json_add(object, "sockit_version", cli_json_string(SOCKIT_VERSION));
    cli_json_add(object, "timestamp", stamp[0] ? cli_json_string(stamp) : NULL);
}

/* ---- a peer's text on our terminal ---------------------------------------- */

/* The length of the printable UTF-8 character at p (2 to 4 bytes), 0 when
 * p does not start one (a stray or overlong byte, a surrogate, a C1
 * control: terminals take U+009B as CSI), or -1 when the len bytes at p
 * are a valid start cut short. */
static int utf8_printable_length(const unsigned char *p, size_t len)
{
    unsigned char lo = 0x80, hi = 0xbf;
    int n;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, lo = p[0] == 0xc2 ? 0xa0 : 0x80;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    for (int i = 1; i < n; i++) {
        if ((size_t)i >= len)
            return -1;
        unsigned char c_lo = i == 1 ? lo : 0x80, c_hi = i == 1 ? hi : 0xbf;
        if (p[i] < c_lo || p[i] > c_hi)
            return 0;
    }
    return n;
}

size_t cli_vis(char *dst, size_t cap, const void *src, size_t len, unsigned flags,
               size_t *dst_len)
{
    const unsigned char *in = src;
    size_t i = 0, o = 0;
    while (i < len) {
        unsigned char c = in[i];
        char esc[8];
        const char *piece = esc;
        size_t n = 1, used = 1;
        if ((c >= 0x20 && c < 0x7f) || c == '\t' ||
            (c == '\n' && (flags & CLI_VIS_KEEP_NEWLINE))) {
            piece = (const char *)in + i;
        } else if (c >= 0x80) {
            int u = utf8_printable_length(in + i, len - i);
            if (u < 0 && (flags & CLI_VIS_PARTIAL))
                break; /* the rest of the character comes with the next call */
            if (u > 0) {
                piece = (const char *)in + i;
                n = used = (size_t)u;
            } else {
                n = (size_t)snprintf(esc, sizeof esc, "\\x%02x", c);
            }
        } else if (c == 0x1b) {
            memcpy(esc, "^[", n = 2);
        } else if (c == '\r' || c == '\n') {
            esc[0] = '\\', esc[1] = c == '\r' ? 'r' : 'n', n = 2;
        } else {
            n = (size_t)snprintf(esc, sizeof esc, "\\x%02x", c);
        }
        if (o + n >= cap)
            break;
        memcpy(dst + o, piece, n);
        o += n;
        i += used;
    }
    if (cap > 0)
        dst[o] = '\0';
    if (dst_len != NULL)
        *dst_len = o;
    return i;
}

void cli_trace_start(const char *spec)
{
    struct sk_trace_options options;
    if (sk_trace_parse(spec, &options) < 0)
        cli_usage_error("--trace takes text, json or tcp, or a mix like json,tcp (got '%s')",
                        spec);
    int rc = sk_trace_open(2, &options);
    if (rc < 0)
        cli_fail("cannot start tracing: %s", sk_strerror(rc));
}
