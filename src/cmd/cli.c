/*
 * cli.c - messages, exit codes and number parsing for the subcommands.
 */
#include "cli.h"
#include "cli_getopt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

long cli_parse_long(const char *text, long min, long max, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
        cli_usage_error("invalid %s '%s' (expected %ld to %ld)", what, text, min, max);
    return v;
}

int cli_parse_seconds_ms(const char *text, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    /* Up to a million seconds (11.5 days): the milliseconds fit an int. */
    if (*text == '\0' || *end != '\0' || errno != 0 || !(v >= 0) || v > 1e6)
        cli_usage_error("invalid %s '%s' (expected seconds, such as 2 or 0.5)", what, text);
    return (int)(v * 1000.0 + 0.5);
}

void cli_bad_option(int argc, char **argv)
{
    const char *opt = optind - 1 < argc && optind > 0 ? argv[optind - 1] : "?";
    /* optopt is the short option letter; long options have none (their
     * internal codes are >= 256) and are named from argv instead. */
    if (optopt > 0 && optopt < 256 && optopt != '?')
        cli_usage_error("option '-%c' is unknown or needs a value", optopt);
    cli_usage_error("option '%s' is unknown or needs a value", opt);
}

void cli_help(const char *text)
{
    fputs(text, stdout);
    exit(0);
}
