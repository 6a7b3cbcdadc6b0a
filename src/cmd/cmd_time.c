/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_time.c - `sockit time`: ask a time server (RFC 868) for the time and
 * say how far it is from ours.
 *
 * Over TCP the server sends 4 bytes and closes; over UDP it answers any
 * datagram (we send an empty one) with a 4-byte datagram.  The value
 * counts whole seconds since 1900, so the offset is only good to about a
 * second either way.
 */
#include "cli.h"
#include "cli_getopt.h"
#include "sk_addr.h"
#include "sk_error.h"
#include "sk_sock.h"
#include "time_client.h"

#include <errno.h>
#include <string.h>

/* The same as `sockit --version` (main.c). */
#ifndef SOCKIT_VERSION
#define SOCKIT_VERSION "0.1.0"
#endif

#define SECONDS_1900_TO_1970 2208988800u
#define DEFAULT_TIMEOUT_MS 5000

static const char help_text[] =
    "usage: sockit time [options] HOST PORT\n"
    "       sockit time [options] unix:PATH\n"
    "\n"
    "Ask a time server (RFC 868: 4 bytes, seconds since 1900) for the time, and\n"
    "print it in UTC with its offset from the local clock, for example\n"
    "  2026-12-02 06:30:00 UTC (server clock -1 s from ours)\n"
    "The protocol counts whole seconds, so an offset of 1 s either way can be\n"
    "rounding alone.  unix:PATH takes the place of HOST and PORT.\n"
    "\n"
    "options:\n"
    "  -u, --udp          ask with a datagram instead of a TCP connection\n"
    "  -t, --timeout SEC  wait at most SEC for the answer (default 5)\n"
    "  -V, --version      sockit's version\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 got the time, 1 no answer or a malformed one, 2 usage error.\n";

int64_t time_from_rfc868(uint32_t value)
{
    int64_t t = (int64_t)value - SECONDS_1900_TO_1970;
    if (value < SECONDS_1900_TO_1970)
        t += (int64_t)1 << 32; /* the era after 2036-02-07 06:28:16 */
    return t;
}

void time_format_utc(int64_t unix_seconds, char *buf, size_t cap)
{
    struct tm tm;
    if (sk__gmtime((time_t)unix_seconds, &tm) < 0 ||
        strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(buf, cap, "%lld seconds after 1970 UTC", (long long)unix_seconds);
}

static uint32_t be32(const unsigned char b[4])
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int time_print_values(sk_socket_t s, FILE *out)
{
    unsigned char b[4];
    for (;;) {
        size_t got = 0;
        long n = sk_recv_exact(s, b, sizeof b, &got);
        if (n == SK_EEOF)
            return got == 0 ? 0 : SK_ESHORT;
        if (n < 0)
            return (int)n;
        char date[64];
        time_format_utc(time_from_rfc868(be32(b)), date, sizeof date);
        fprintf(out, "%s\n", date);
        fflush(out);
    }
}

/* The 4-byte answer, over TCP (the first value of the stream) or UDP. */
static int ask(const char *host, const char *port, int udp, int timeout_ms, uint32_t *value)
{
    sk_socket_t s;
    unsigned char b[8];
    int rc = sk_connect(host, port, udp ? SOCK_DGRAM : SOCK_STREAM, timeout_ms, &s);
    if (rc < 0)
        return rc;
    if ((rc = sk_set_timeouts(s, timeout_ms, timeout_ms)) < 0)
        goto out;
    if (!udp) {
        long n = sk_recv_exact(s, b, 4, NULL);
        rc = n == 4 ? 0 : n == SK_EEOF ? SK_ESHORT : (int)n;
    } else {
        long n = sk_send_some(s, b, 0);
        if (n < 0) {
            rc = (int)n;
            goto out;
        }
        n = sk_recv_some(s, b, sizeof b);
        rc = n == 4 ? 0 : n >= 0 ? SK_EPROTOCOL : (int)n;
    }
    if (rc == 0)
        *value = be32(b);
out:
    sk_socket_close(s);
    return rc;
}

int cmd_time(int argc, char **argv)
{
    static const struct option options[] = {
        { "udp", no_argument, NULL, 'u' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int udp = 0, timeout_ms = DEFAULT_TIMEOUT_MS, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ut:hV", options, NULL)) != -1) {
        switch (c) {
        case 'u': udp = 1; break;
        case 't':
            timeout_ms = cli_parse_seconds_ms(optarg, "--timeout");
            if (timeout_ms <= 0)
                cli_usage_error("--timeout must be more than 0 seconds");
            break;
        case 'V': printf("sockit %s\n", SOCKIT_VERSION); return 0;
        case 'h': cli_help(help_text);
        default: cli_bad_option(argc, argv);
        }
    }
    if (optind >= argc)
        cli_usage_error("missing HOST");
    const char *host = argv[optind++], *port = NULL;
    if (*host == '\0')
        cli_usage_error("empty HOST");
    if (sk_addr_is_unix(host)) {
        if (udp)
            cli_usage_error("-u does not apply to a Unix socket");
    } else {
        if (optind >= argc)
            cli_usage_error("missing PORT");
        port = argv[optind++];
        if (sk_port_parse(port, udp ? SOCK_DGRAM : SOCK_STREAM) <= 0)
            cli_usage_error("invalid port '%s' (expected 1-65535 or a service name)", port);
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);

    uint32_t value = 0;
    int rc = ask(host, port, udp, timeout_ms, &value);
    time_t local = time(NULL);
    if (rc < 0) {
        const char *what = sk_error_is(rc, EAGAIN) || sk_error_is(rc, EWOULDBLOCK) ||
                                   sk_error_is(rc, ETIMEDOUT)
                               ? "no answer in time"
                           : rc == SK_ESHORT    ? "the answer was shorter than 4 bytes"
                           : rc == SK_EPROTOCOL ? "the answer was not 4 bytes"
                           : rc == SK_ENOTAVAIL ? "Unix domain sockets are not supported on "
                                                  "this platform"
                                                : sk_strerror(rc);
        if (port != NULL)
            cli_fail("%s port %s: %s", host, port, what);
        cli_fail("%s: %s", host, what);
    }
    int64_t server = time_from_rfc868(value);
    char date[64];
    time_format_utc(server, date, sizeof date);
    long long offset = (long long)(server - (int64_t)local);
    printf("%s (server clock %+lld s from ours)\n", date, offset);
    return 0;
}
