/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_echo.c - `sockit echo HOST PORT [WORD]`: the tutorial's echo client,
 * with the bugs the tutorial itself points out taken away.
 *
 * The book's client sends a line with one send() and expects it back from
 * one recv().  TCP keeps no message boundaries, so a recv() may return any
 * part of the line: this client reads back exactly as many bytes as it
 * sent (sk_recv_exact), and checks they are the same bytes.  It sends a
 * long line in pieces of ECHO_CHUNK bytes and reads each piece back before
 * sending the next, so an echo server that stops reading while its replies
 * pile up can never deadlock it, however long the line.
 *
 * An echo server sends back what it was sent and nothing else, so bytes
 * beyond the echo are a failure too.  After each line any that already
 * arrived are found at once; after the last one the client half-closes
 * (shutdown SHUT_WR, "nothing more from me") and reads until the server
 * closes, for at most EXTRA_WAIT_MS: a server that keeps its side open
 * after that has sent nothing extra within it, and is not waited for
 * longer.  The WORD is printed only once that check has passed.
 *
 * Over UDP each line is one datagram and the reply is one datagram.  An
 * unconnected socket (sendto/recvfrom, the book's way) accepts datagrams
 * from anyone, so replies from other sources are ignored, and it never
 * hears about ICMP errors: a missing server is only a timeout.  A
 * connected UDP socket (--connected) receives only from the server and is
 * told of an ICMP port unreachable as ECONNREFUSED.
 */
#include "cli.h"
#include "cli_getopt.h"
#include "sk_addr.h"
#include "sk_error.h"
#include "sk_sock.h"
#include "sk_trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help_text[] =
    "usage: sockit echo HOST PORT [WORD] [options]\n"
    "       sockit echo unix:PATH [WORD] [options]\n"
    "\n"
    "unix:PATH (a Unix stream socket) takes the place of HOST and PORT.\n"
    "Without WORD, the tutorial's interactive client: read a line, send it,\n"
    "print what comes back as 'Message from server: LINE'; Q or end of input\n"
    "quits.  With WORD, send it once and print the echo.\n"
    "Every byte sent must come back unchanged, or the exit status is 1.\n"
    "\n"
    "examples:\n"
    "  sockit echo 127.0.0.1 7\n"
    "  sockit echo ::1 7007 hello\n"
    "  sockit echo -u 127.0.0.1 7 hello\n"
    "\n"
    "options:\n"
    "  -u, --udp          use UDP: one datagram per line\n"
    "  -4, -6             IPv4 or IPv6 addresses of HOST only\n"
    "      --connected    connect() the UDP socket: only the server's replies\n"
    "                     are received, and a closed port is reported at once\n"
    "  -t, -w, --timeout SEC\n"
    "                     how long to wait: for a UDP reply (default 2), for a\n"
    "                     TCP connection and each read (default 10); 2s, 500ms\n"
    "  -v, --verbose      say which address it talks to, on stderr\n"
    "  -V, --version      print sockit's version\n"
    "      --trace[=FMT]  show each socket call and TCP's state on\n"
    "                     stderr; FMT: text (default) or json\n"
    "  -h, --help         this text\n";

/* Bytes sent before reading their echo; less than any socket buffer. */
#define ECHO_CHUNK 65536
/* The largest UDP payload over IPv4: 65535 - 20 (IP) - 8 (UDP). */
#define MAX_UDP_PAYLOAD 65507

/* After the last echo, how long to wait for the server to close. */
#define EXTRA_WAIT_MS 1000

#define DEFAULT_UDP_TIMEOUT_MS 2000
#define DEFAULT_TCP_TIMEOUT_MS 10000

struct echo_client {
    const char *host;      /* or "unix:PATH" */
    const char *port_text; /* NULL for a Unix socket */
    const char *where;     /* "HOST port PORT" or "unix:PATH", for messages */
    int udp;
    int connected;         /* UDP: connect() the socket */
    int timeout_ms;
    int family;            /* -4, -6: AF_INET, AF_INET6; else AF_UNSPEC */
    int verbose;
    sk_socket_t s;
    struct sk_addr server; /* unconnected UDP: where to send, whom to trust */
    char *reply;
    size_t reply_cap;
};

static const char *seconds(int ms)
{
    static char text[32];
    snprintf(text, sizeof text, "%g s", ms / 1000.0);
    return text;
}

/* Every failure to talk to the server, as one line and exit 1. */
static noreturn void fail_talking(const struct echo_client *c, int rc)
{
    fflush(stdout);
    if (rc < SK_EAI_BASE && rc > SK_EAI_BASE - 100)
        cli_fail("cannot resolve '%s': %s", c->host, sk_strerror(rc));
    /* sk_error_is: Winsock reports these in its own range. */
    if (sk_error_is(rc, ECONNREFUSED))
        cli_fail("connection refused (nothing listening on %s?)", c->where);
    if (sk_error_is(rc, ETIMEDOUT))
        cli_fail("no connection to %s within %s", c->where,
                 seconds(c->timeout_ms));
    if (rc == SK_ENOREPLY)
        cli_fail("no reply from %s within %s", c->where,
                 seconds(c->timeout_ms));
    if (sk_error_is(rc, ECONNRESET))
        cli_fail("connection reset by %s", c->where);
    cli_fail("%s: %s", c->where, sk_strerror(rc));
}

static void echo_open(struct echo_client *c)
{
    int rc;
    if (!c->udp) {
        rc = sk_connect_family(c->host, c->port_text, c->family, SOCK_STREAM, c->timeout_ms,
                               &c->s);
        /* A reply that stops arriving, or a server that stops reading,
         * ends the wait after the same timeout. */
        if (rc == 0 && (rc = sk_set_timeouts(c->s, c->timeout_ms, c->timeout_ms)) < 0)
            sk_close(c->s);
    } else if (c->connected) {
        rc = sk_connect_family(c->host, c->port_text, c->family, SOCK_DGRAM, -1, &c->s);
    } else {
        rc = sk_udp_open_family(c->host, c->port_text, c->family, &c->s, &c->server);
    }
    if (rc < 0)
        fail_talking(c, rc);
    if (c->verbose) {
        struct sk_addr peer = c->server;
        if (c->udp && !c->connected)
            cli_say_peer("sending to", &peer);
        else if (sk_peer_addr(c->s, &peer) == 0)
            cli_say_peer("connected to", &peer);
    }
}

static void ensure_reply_room(struct echo_client *c, size_t need)
{
    if (need <= c->reply_cap)
        return;
    char *bigger = realloc(c->reply, need);
    if (bigger == NULL)
        cli_fail("out of memory for a %zu-byte reply", need);
    c->reply = bigger;
    c->reply_cap = need;
}

static noreturn void fail_mismatch(const char *sent, size_t sent_len, const char *got,
                                   size_t got_len, size_t base)
{
    size_t i = 0;
    while (i < sent_len && i < got_len && sent[i] == got[i])
        i++;
    fflush(stdout);
    if (got_len != sent_len)
        cli_fail("the server echoed %zu bytes for %zu sent", got_len, sent_len);
    cli_fail("the server echoed different bytes (first difference at byte %zu)", base + i);
}

/* TCP: send a piece, read back exactly its length, compare; repeat. */
static void exchange_stream(struct echo_client *c, const char *msg, size_t len)
{
    ensure_reply_room(c, len ? len : 1);
    for (size_t off = 0; off < len;) {
        size_t piece = len - off < ECHO_CHUNK ? len - off : ECHO_CHUNK;
        int rc = sk_send_all(c->s, msg + off, piece);
        if (sk__error_would_block(rc))
            cli_fail("%s stopped reading for %s", c->where,
                     seconds(c->timeout_ms));
        if (rc < 0)
            fail_talking(c, rc);
        size_t got = 0;
        long n = sk_recv_exact(c->s, c->reply + off, piece, &got);
        if (n == SK_EEOF) {
            fflush(stdout);
            cli_fail("%s closed the connection after echoing %zu of %zu bytes",
                     c->where, off + got, len);
        }
        if (n < 0 && sk__error_would_block((int)n)) {
            fflush(stdout);
            if (off + got == 0)
                fail_talking(c, SK_ENOREPLY);
            cli_fail("only %zu of %zu bytes came back from %s within %s", off + got,
                     len, c->where, seconds(c->timeout_ms));
        }
        if (n < 0)
            fail_talking(c, (int)n);
        if (memcmp(msg + off, c->reply + off, piece) != 0)
            fail_mismatch(msg + off, piece, c->reply + off, piece, off);
        off += piece;
    }
}

/* TCP: fail if the server sends anything within wait_ms (0: only what
 * has already arrived).  Returns when it closes, or has sent nothing. */
static void fail_if_more_arrives(struct echo_client *c, int wait_ms)
{
    uint64_t deadline = sk_now_ms() + (uint64_t)wait_ms;
    for (;;) {
        uint64_t now = sk_now_ms();
        int left = now < deadline ? (int)(deadline - now) : 0;
        int rc = sk__socket_wait(c->s, SK_WAIT_READ, left);
        if (rc == -EINTR)
            continue;
        if (rc <= 0)
            return; /* nothing more came (or cannot tell: nothing to blame) */
        char extra[4096];
        long n = sk_recv_some(c->s, extra, sizeof extra);
        if (n == 0 || (n < 0 && !sk__error_would_block((int)n) && n != -EINTR))
            return; /* closed (or reset) with nothing extra */
        if (n > 0) {
            fflush(stdout);
            cli_fail("%s sent back more than it was sent (%ld extra byte%s)",
                     c->where, n, n == 1 ? "" : "s or more");
        }
    }
}

/* TCP, after the last echo: say we are done and wait for the server to
 * close, failing on any byte that comes before it does. */
static void finish_stream(struct echo_client *c)
{
    int rc = sk_shutdown_write(c->s);
    if (rc < 0)
        fail_talking(c, rc);
    fail_if_more_arrives(c, c->timeout_ms < EXTRA_WAIT_MS ? c->timeout_ms : EXTRA_WAIT_MS);
}

static int same_address(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family || sk_addr_port(a) != sk_addr_port(b))
        return 0;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return 0;
}

/* UDP: one datagram out, wait for the server's datagram back.  Returns
 * the reply's length (len + 1 means "longer than sent") or a code. */
static long exchange_datagram(struct echo_client *c, const char *msg, size_t len)
{
    if (len > MAX_UDP_PAYLOAD)
        cli_fail("a %zu-byte message does not fit in one UDP datagram (at most %d bytes)",
                 len, MAX_UDP_PAYLOAD);
    ensure_reply_room(c, len + 1);
    long n;
    if (c->connected)
        n = (long)send(c->s, msg, len, 0);
    else
        n = (long)sendto(c->s, msg, len, 0, (const struct sockaddr *)&c->server.ss,
                         c->server.len);
    long sent = n >= 0 ? n : sk__socket_error();
    sk_trace_datagram(c->s, c->connected ? "send" : "sendto", len, sent,
                      c->connected ? NULL : (const struct sockaddr *)&c->server.ss, msg);
    if (n < 0)
        return sent;

    uint64_t deadline = sk_now_ms() + (uint64_t)c->timeout_ms;
    for (;;) {
        uint64_t now = sk_now_ms();
        if (now >= deadline)
            return SK_ENOREPLY;
        int rc = sk__socket_wait(c->s, SK_WAIT_READ, (int)(deadline - now));
        if (rc == 0)
            return SK_ENOREPLY;
        if (rc == -EINTR)
            continue;
        if (rc < 0)
            return rc;
        struct sk_addr from;
        from.len = sizeof from.ss;
        /* One byte more than sent: a longer reply shows as len + 1. */
        n = (long)recvfrom(c->s, c->reply, len + 1, 0, (struct sockaddr *)&from.ss, &from.len);
        rc = n >= 0 ? 0 : sk__socket_error();
        sk_trace_datagram(c->s, "recvfrom", len + 1, n >= 0 ? n : rc,
                          (const struct sockaddr *)&from.ss, c->reply);
        if (n < 0) {
            if (rc == -EINTR || sk__error_would_block(rc))
                continue;
            return rc;
        }
        if (c->connected ||
            same_address((const struct sockaddr *)&from.ss,
                         (const struct sockaddr *)&c->server.ss))
            return n;
        /* Anyone can send to an unconnected socket; only the server's
         * datagram is its echo. */
        char who[SK_ADDRSTRLEN] = "?";
        sk_addr_format((const struct sockaddr *)&from.ss, who, sizeof who);
        cli_warn("ignored a datagram from %s (not the server)", who);
    }
}

/* Send msg, get its echo into c->reply, check it is the same bytes. */
static void exchange(struct echo_client *c, const char *msg, size_t len)
{
    if (!c->udp) {
        exchange_stream(c, msg, len);
        fail_if_more_arrives(c, 0);
        return;
    }
    long n = exchange_datagram(c, msg, len);
    if (n < 0)
        fail_talking(c, (int)n);
    if ((size_t)n != len || memcmp(msg, c->reply, len) != 0)
        fail_mismatch(msg, len, c->reply, (size_t)n, 0);
}

static int is_quit(const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    return len == 1 && (line[0] == 'Q' || line[0] == 'q');
}

static void write_out(const char *data, size_t len)
{
    if (fwrite(data, 1, len, stdout) != len)
        cli_fail("cannot write to stdout: %s", strerror(errno));
}

static void run_interactive(struct echo_client *c)
{
    int prompt = sk__fd_isatty(0);
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        if (prompt) {
            fputs("Input message(Q to quit): ", stdout);
            fflush(stdout);
        }
        errno = 0;
        long len = sk__getline(&line, &cap, stdin);
        if (len < 0) {
            if (ferror(stdin))
                cli_fail("cannot read stdin: %s", strerror(errno));
            break;
        }
        if (is_quit(line, (size_t)len))
            break;
        exchange(c, line, (size_t)len);
        fputs("Message from server: ", stdout);
        write_out(c->reply, (size_t)len);
        if (len == 0 || c->reply[len - 1] != '\n')
            fputc('\n', stdout);
        if (fflush(stdout) != 0)
            cli_fail("cannot write to stdout: %s", strerror(errno));
    }
    free(line);
    if (!c->udp)
        finish_stream(c);
}

static void run_word(struct echo_client *c, const char *word)
{
    size_t len = strlen(word);
    exchange(c, word, len);
    if (!c->udp)
        finish_stream(c);
    write_out(c->reply, len);
    fputc('\n', stdout);
    if (fflush(stdout) != 0)
        cli_fail("cannot write to stdout: %s", strerror(errno));
}

enum { OPT_CONNECTED = 256 };

int cmd_echo(int argc, char **argv)
{
    static const struct option options[] = {
        { "udp", no_argument, NULL, 'u' },
        { "connected", no_argument, NULL, OPT_CONNECTED },
        { "timeout", required_argument, NULL, 't' },
        { "verbose", no_argument, NULL, 'v' },
        CLI_TRACE_OPTION,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct echo_client c;
    memset(&c, 0, sizeof c);
    c.s = SK_INVALID_SOCKET;
    c.timeout_ms = -1;

    int opt;
    opterr = 0;
    while ((opt = cli_getopt(argc, argv, "t:w:46uvh", options)) != -1) {
        switch (opt) {
        case 'u': c.udp = 1; break;
        case '4':
        case '6': cli_set_family(&c.family, opt); break;
        case 'v': c.verbose = 1; break;
        case OPT_CONNECTED: c.connected = 1; break;
        case 't':
        case 'w':
            c.timeout_ms = cli_parse_seconds_ms(optarg, "--timeout");
            if (c.timeout_ms <= 0)
                cli_usage_error("--timeout must be more than 0 seconds");
            break;
        case CLI_OPT_TRACE: cli_trace_start(optarg); break;
        case 'h': cli_help(help_text);
        default:
            /* A long-only option missing its value leaves its enum value
             * (not a letter) in optopt: let the message name argv instead. */
            if (optopt >= 256)
                optopt = 0;
            cli_bad_option(argc, argv);
        }
    }
    if (optind >= argc)
        cli_usage_error("missing HOST");
    /* unix:PATH takes the place of HOST and PORT: what follows is WORD. */
    int unix_path = sk_addr_is_unix(argv[optind]);
    if (unix_path) {
        if (c.udp)
            cli_usage_error("-u does not apply to a Unix socket (stream sockets only)");
        optind--; /* the arguments below count from a PORT that is not there */
    } else if (optind + 1 >= argc) {
        cli_usage_error("missing PORT");
    }
    if (optind + 3 < argc)
        cli_usage_error("unexpected argument '%s' (quote a WORD that has spaces)",
                        argv[optind + 3]);
    if (c.connected && !c.udp)
        cli_usage_error("--connected applies to UDP; add -u");

    /* "[::1]" as well as "::1": brackets are how addresses with ports
     * are written, so people type them here too. */
    static char host[SK_HOSTLEN];
    const char *host_arg = argv[unix_path ? optind + 1 : optind];
    size_t hlen = strlen(host_arg);
    if (hlen >= 2 && host_arg[0] == '[' && host_arg[hlen - 1] == ']' && hlen - 2 < sizeof host) {
        memcpy(host, host_arg + 1, hlen - 2);
        host[hlen - 2] = '\0';
        host_arg = host;
    }
    if (*host_arg == '\0')
        cli_usage_error("empty HOST");
    c.host = host_arg;
    static char where[SK_HOSTLEN + SK_PORTLEN + 8];
    if (unix_path) {
        c.port_text = NULL;
        snprintf(where, sizeof where, "%s", c.host);
    } else {
        c.port_text = argv[optind + 1];
        int port = sk_port_parse(c.port_text, c.udp ? SOCK_DGRAM : SOCK_STREAM);
        if (port <= 0)
            cli_usage_error("invalid port '%s' (expected 1-65535 or a service name)",
                            c.port_text);
        snprintf(where, sizeof where, "%s port %s", c.host, c.port_text);
    }
    c.where = where;
    const char *word = optind + 2 < argc ? argv[optind + 2] : NULL;
    if (word != NULL && *word == '\0')
        cli_usage_error("WORD is empty; an echo of nothing cannot be checked");
    if (c.timeout_ms < 0)
        c.timeout_ms = c.udp ? DEFAULT_UDP_TIMEOUT_MS : DEFAULT_TCP_TIMEOUT_MS;

    echo_open(&c);
    if (word != NULL)
        run_word(&c, word);
    else
        run_interactive(&c);
    free(c.reply);
    sk_close(c.s);
    return 0;
}
