/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_netcat.c - `sockit connect` and `sockit listen`: a netcat that gets
 * half-close right.
 *
 * This file parses the options, makes the connection (connect, or listen
 * and accept / take the first datagram), says what happened with -v, and
 * turns how the conversation ended into the exit status.  The copying
 * itself is relay.h's; --exec's process is relay_exec().
 */
#include "cli.h"
#include "cli_getopt.h"
#include "relay.h"
#include "sk_addr.h"
#include "sk_error.h"
#include "sk_sock.h"
#include "time_client.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The same as `sockit --version` (main.c). */
#ifndef SOCKIT_VERSION
#define SOCKIT_VERSION "0.1.0"
#endif

#define EXIT_STATUS_TEXT                                                              \
    "exit status:\n"                                                                  \
    "  0    the conversation ended cleanly: both sides closed (or -q ran out, or\n"  \
    "       the reader of our standard output went away)\n"                           \
    "  1    it did not: connection refused, reset, -w timeout, a read or write\n"     \
    "       error, or an --exec program that failed (one line names it)\n"            \
    "  2    usage error\n"                                                            \
    "  130  stopped by SIGINT or SIGTERM\n"

#define COMMON_OPTIONS_TEXT                                                           \
    "  -u, --udp             UDP instead of TCP: each read of standard input is\n"   \
    "                        one datagram; there is no FIN, so end of input only\n"   \
    "                        starts -q's clock\n"                                     \
    "  -4, -6                IPv4 or IPv6 only\n"                                     \
    "  -w, --idle SEC        exit 1 when no data has moved either way for SEC\n"      \
    "                        (and give up connecting after SEC)\n"                    \
    "  -q, --quit SEC        after end of standard input, wait at most SEC for the\n" \
    "                        peer to close, then quit with status 0 (nc.openbsd's\n"  \
    "                        -q; default: wait as long as the peer takes)\n"          \
    "  --no-shutdown         at end of standard input keep our write side open\n"     \
    "                        (no FIN).  sockit sends FIN by default, so this is\n"    \
    "                        nc.openbsd's -N inverted (and has no short form, so\n"   \
    "                        that -N never means the opposite of nc's)\n"             \
    "  -v, --verbose         connection events on standard error\n"                   \
    "  --exec CMD [ARGS...]  run CMD (execvp, no shell) with the connection as its\n" \
    "                        standard input and output instead of relaying; every\n"  \
    "                        word after --exec belongs to CMD\n"                      \
    "  --sh-exec STRING      the same with /bin/sh -c STRING\n"                       \
    "  -V, --version         sockit's version\n"                                     \
    "  -h, --help            this text\n"

#define HALF_CLOSE_TEXT                                                               \
    "Half-close: end of standard input sends FIN once all of it has gone out\n"       \
    "(shutdown(SHUT_WR)); what the peer sends is still written out until the\n"      \
    "peer closes.  When the peer closes first, standard input is still sent until\n"  \
    "it ends (the peer may only have half-closed), except from a terminal.\n"

static const char connect_help[] =
    "usage: sockit connect [options] HOST PORT\n"
    "       sockit connect [options] unix:PATH\n"
    "\n"
    "Connect to HOST PORT (or the Unix stream socket PATH, which takes the place\n"
    "of both) and copy standard input to the socket and the socket to standard\n"
    "output, byte for byte.\n"
    "\n" HALF_CLOSE_TEXT "\n"
    "options:\n" COMMON_OPTIONS_TEXT
    "  --time                read RFC 868 time values (4 bytes, the time service)\n"
    "                        and print each as a date instead of the raw bytes\n"
    "\n" EXIT_STATUS_TEXT "\n"
    "examples:\n"
    "  sockit connect 127.0.0.1 13                 # daytime: the date, exit 0\n"
    "  printf 'data' | sockit connect host 9       # discard: FIN, then exit 0\n"
    "  sockit connect -u 127.0.0.1 7 -q 1          # UDP echo, quit 1 s after EOF\n"
    "  sockit connect unix:/run/app.sock\n";

static const char listen_help[] =
    "usage: sockit listen [-l ADDR] -p PORT [-k] [options]\n"
    "       sockit listen -l unix:PATH [-k] [options]\n"
    "\n"
    "Wait for one connection on PORT (or the Unix stream socket PATH), then copy\n"
    "standard input to it and it to standard output, as `sockit connect` does.\n"
    "With -u, answer the first peer that sends a datagram (the socket is\n"
    "connected to it, like nc -u -l).\n"
    "\n" HALF_CLOSE_TEXT "\n"
    "options:\n"
    "  -l, --listen ADDR     the address to bind: a host, or unix:PATH (a stale\n"
    "                        socket file that nothing listens on is replaced;\n"
    "                        the file is removed at exit).  Default: every address\n"
    "  -p, --port PORT       the port; 0 picks a free one (always printed then)\n"
    "  -k, --keep-open       after a connection ends, take the next one, one at a\n"
    "                        time (nc -k); a failed connection is reported and the\n"
    "                        next one taken.  TCP and Unix sockets only\n"
    COMMON_OPTIONS_TEXT
    "\n"
    "With -v, or with -p 0, sockit prints \"listening on ADDR port N (tcp)\" on\n"
    "standard error once it listens.  -w counts from the connection on.\n"
    "\n" EXIT_STATUS_TEXT
    "With -k only a stop signal (130) or a failure to listen (1) ends sockit.\n"
    "\n"
    "examples:\n"
    "  sockit listen -p 5000 > received             # one transfer, then exit\n"
    "  sockit listen -p 5000 -k --exec cat -n       # number lines, for everyone\n"
    "  sockit listen -l unix:/tmp/s.sock --sh-exec 'date; cat'\n";

struct netcat {
    int listen;               /* listen rather than connect */
    int udp, family, verbose, keep, time_values;
    struct relay_options relay;
    char *const *exec_argv;   /* --exec / --sh-exec */
    const char *host, *port;  /* host may be "unix:PATH"; port NULL then */
};

static struct sk_stop stop_flag;

static const char *proto(const struct netcat *nc, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_UNIX)
        return NULL;
    return nc->udp ? "udp" : "tcp";
}

/* "127.0.0.1 port 7 (tcp)" or "unix:/path", for -v and messages. */
static void describe(const struct netcat *nc, const struct sk_addr *a, char *buf, size_t cap)
{
    char host[SK_ADDRSTRLEN];
    const struct sockaddr *sa = (const struct sockaddr *)&a->ss;
    if (sk_addr_format_host(sa, host, sizeof host) < 0)
        snprintf(host, sizeof host, "?");
    if (proto(nc, sa) == NULL)
        snprintf(buf, cap, "%s", host);
    else
        snprintf(buf, cap, "%s port %d (%s)", host, sk_addr_port(sa), proto(nc, sa));
}

static const char *where(const struct netcat *nc)
{
    static char buf[SK_HOSTLEN + SK_PORTLEN + 16];
    if (nc->port == NULL)
        snprintf(buf, sizeof buf, "%s", nc->host);
    else
        snprintf(buf, sizeof buf, "%s port %s", nc->host, nc->port);
    return buf;
}

static const char *net_error_text(int code)
{
    if (sk_error_is(code, ECONNRESET) || sk_error_is(code, EPIPE))
        return "connection reset by peer";
    if (sk_error_is(code, ECONNREFUSED))
        return "connection refused";
    return sk_strerror(code);
}

static noreturn void unsupported_here(void)
{
    cli_fail("relaying is not available on this platform");
}

/* How one conversation ended, as an exit status (and one line when it
 * was not clean). */
static int conversation_status(const struct netcat *nc, const struct relay_result *r)
{
    if (nc->verbose && r->end != RELAY_UNSUPPORTED)
        cli_warn("closed: %llu bytes sent, %llu received", (unsigned long long)r->sent,
                 (unsigned long long)r->received);
    switch (r->end) {
    case RELAY_CLOSED:
    case RELAY_QUIT:
    case RELAY_OUTPUT_GONE:
        return 0;
    case RELAY_IDLE:
        cli_warn("no data either way for %.3g s (-w); giving up", nc->relay.idle_ms / 1000.0);
        return EXIT_RUNTIME;
    case RELAY_STOPPED:
        return 130;
    case RELAY_NET_ERROR:
        cli_warn("%s", net_error_text(r->code));
        return EXIT_RUNTIME;
    case RELAY_IO_ERROR:
        cli_warn("standard input or output: %s", sk_strerror(r->code));
        return EXIT_RUNTIME;
    case RELAY_UNSUPPORTED:
        unsupported_here();
    }
    return EXIT_RUNTIME;
}

/* The connection is made: relay it, run --exec, or read time values. */
static int converse(const struct netcat *nc, sk_socket_t s)
{
    if (nc->exec_argv != NULL) {
        int rc = relay_exec(s, nc->exec_argv, &stop_flag.flag);
        if (rc == SK_ENOTAVAIL)
            cli_fail("--exec and --sh-exec are not available on Windows (a socket is not a "
                     "handle every program can read as its standard input)");
        if (rc < 0) {
            cli_warn("cannot run '%s': %s", nc->exec_argv[0], sk_strerror(rc));
            return EXIT_RUNTIME;
        }
        if (stop_flag.flag)
            return 130;
        if (rc == 127)
            return EXIT_RUNTIME; /* the child said why */
        if (rc > 128)
            cli_warn("'%s' was killed by signal %d", nc->exec_argv[0], rc - 128);
        else if (rc != 0)
            cli_warn("'%s' exited with status %d", nc->exec_argv[0], rc);
        else if (nc->verbose)
            cli_warn("'%s' exited with status 0", nc->exec_argv[0]);
        return rc == 0 ? 0 : EXIT_RUNTIME;
    }
    if (nc->time_values) {
        int rc = time_print_values(s, stdout);
        sk_socket_close(s);
        if (rc < 0) {
            cli_warn("%s", rc == SK_ESHORT ? "the time value was cut short (not RFC 868?)"
                                           : net_error_text(rc));
            return EXIT_RUNTIME;
        }
        return 0;
    }
    struct relay_result r;
    relay_run(s, &nc->relay, &r);
    sk_socket_close(s);
    return conversation_status(nc, &r);
}

static int run_connect(struct netcat *nc)
{
    int socktype = nc->udp ? SOCK_DGRAM : SOCK_STREAM;
    int timeout = nc->relay.idle_ms > 0 ? nc->relay.idle_ms : -1;
    sk_socket_t s = SK_INVALID_SOCKET;
    int rc;
    if (sk_addr_is_unix(nc->host)) {
        rc = sk_connect(nc->host, NULL, SOCK_STREAM, timeout, &s);
    } else {
        struct addrinfo *list = NULL;
        rc = sk_addr_resolve(nc->host, nc->port, nc->family, socktype, 0, &list);
        if (rc < 0)
            cli_fail("cannot connect to %s: %s", where(nc), sk_strerror(rc));
        rc = -ECONNREFUSED;
        for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
            rc = sk_connect_addr(ai->ai_addr, (sk_socklen_t)ai->ai_addrlen, socktype, timeout,
                                 &s);
            if (rc == 0)
                break;
        }
        freeaddrinfo(list);
    }
    if (rc < 0) {
        if (rc == SK_ENOTAVAIL)
            cli_fail("cannot connect to %s: Unix domain sockets are not supported on this "
                     "platform", nc->host);
        if (sk_error_is(rc, ETIMEDOUT))
            cli_fail("cannot connect to %s: no answer within %.3g s (-w)", where(nc),
                     timeout / 1000.0);
        cli_fail("cannot connect to %s: %s", where(nc), sk_strerror(rc));
    }
    if (nc->verbose) {
        struct sk_addr peer;
        char text[SK_ADDRSTRLEN + 32];
        if (sk_peer_addr(s, &peer) == 0) {
            describe(nc, &peer, text, sizeof text);
            cli_warn("connected to %s", text);
        }
    }
    return converse(nc, s);
}

/* listen -u: the first datagram picks the peer; the socket is connected
 * to it and the datagram is written out before the relay starts. */
static int take_first_datagram(const struct netcat *nc, sk_socket_t s)
{
    static char first[65536];
    struct sk_addr peer;
    long n;
    for (;;) {
        int w = sk__wait_readable_or_stop(s, &stop_flag.flag);
        if (stop_flag.flag)
            return 130;
        if (w < 0 && !sk_error_is(w, EINTR))
            cli_fail("cannot wait for a datagram: %s", sk_strerror(w));
        if (w != 1)
            continue;
        memset(&peer, 0, sizeof peer);
        peer.len = sizeof peer.ss;
        n = (long)recvfrom(s, first, sizeof first, 0, (struct sockaddr *)&peer.ss, &peer.len);
        if (n >= 0)
            break;
        int rc = sk__socket_error();
        if (!sk_error_is(rc, EINTR) && !sk__error_would_block(rc) &&
            !sk_error_is(rc, ECONNREFUSED) && !sk_error_is(rc, ECONNRESET))
            cli_fail("cannot receive: %s", sk_strerror(rc));
    }
    if (connect(s, (const struct sockaddr *)&peer.ss, peer.len) != 0)
        cli_fail("cannot connect to the first peer: %s", sk_strerror(sk__socket_error()));
    if (nc->verbose) {
        char text[SK_ADDRSTRLEN + 32];
        describe(nc, &peer, text, sizeof text);
        cli_warn("connection from %s", text);
    }
    if (nc->exec_argv == NULL) {
        for (long off = 0; off < n;) {
            long w = sk__fd_write(1, first + off, (size_t)(n - off));
            if (w < 0)
                return 0; /* our reader is gone before we began */
            off += w;
        }
    }
    return converse(nc, s);
}

static int run_listen(struct netcat *nc)
{
    int socktype = nc->udp ? SOCK_DGRAM : SOCK_STREAM;
    char host[SK_HOSTLEN];
    const char *bind_host = nc->host;
    /* -4/-6 pick the wildcard, or check a given name's family. */
    if (bind_host == NULL && nc->family != AF_UNSPEC)
        bind_host = nc->family == AF_INET ? "0.0.0.0" : "::";
    else if (bind_host != NULL && !sk_addr_is_unix(bind_host)) {
        struct addrinfo *list = NULL;
        int rc = sk_addr_resolve(bind_host, nc->port, nc->family, socktype, 1, &list);
        if (rc < 0)
            cli_fail("cannot listen on %s: %s", where(nc), sk_strerror(rc));
        rc = sk_addr_format_host(list->ai_addr, host, sizeof host);
        freeaddrinfo(list);
        if (rc < 0)
            cli_fail("cannot listen on %s: %s", where(nc), sk_strerror(rc));
        bind_host = host;
    }
    struct sk_listen_config lc = {
        .host = bind_host,
        .port = nc->port ? nc->port : "0",
        .socktype = socktype,
        .backlog = 16,
    };
    sk_socket_t listener;
    struct sk_addr bound;
    int rc = sk_listen(&lc, &listener, &bound);
    if (rc < 0) {
        if (rc == SK_ENOTAVAIL)
            cli_fail("cannot listen on %s: Unix domain sockets are not supported on this "
                     "platform", nc->host);
        cli_fail("cannot listen on %s: %s", where(nc), sk_strerror(rc));
    }
    if (nc->verbose || (nc->port != NULL && sk_port_parse(nc->port, socktype) == 0)) {
        char text[SK_ADDRSTRLEN + 32];
        describe(nc, &bound, text, sizeof text);
        cli_warn("listening on %s", text);
        fflush(stderr);
    }
    int status = 0;
    if (nc->udp) {
        status = take_first_datagram(nc, listener);
        (void)sk_listen_unlink(&bound);
        return status;
    }
    for (;;) {
        int w = sk__wait_readable_or_stop(listener, &stop_flag.flag);
        if (stop_flag.flag) {
            status = 130;
            break;
        }
        if (w < 0 && !sk_error_is(w, EINTR)) {
            cli_warn("cannot wait for a connection: %s", sk_strerror(w));
            status = EXIT_RUNTIME;
            break;
        }
        if (w != 1)
            continue;
        sk_socket_t s;
        struct sk_addr peer;
        rc = sk_accept(listener, &s, &peer);
        if (rc < 0) {
            if (sk_error_is(rc, EINTR) || sk__error_would_block(rc) ||
                sk_error_is(rc, ECONNABORTED))
                continue;
            cli_warn("cannot accept: %s", sk_strerror(rc));
            status = EXIT_RUNTIME;
            break;
        }
        if (nc->verbose) {
            char text[SK_ADDRSTRLEN + 32];
            describe(nc, &peer, text, sizeof text);
            cli_warn("connection from %s", text);
        }
        if (!nc->keep) /* one connection: nobody else may queue up behind it */
            sk_socket_close(listener), listener = SK_INVALID_SOCKET;
        status = converse(nc, s);
        if (!nc->keep || status == 130)
            break;
    }
    if (listener != SK_INVALID_SOCKET)
        sk_socket_close(listener);
    (void)sk_listen_unlink(&bound);
    return status;
}

enum { OPT_NO_SHUTDOWN = 256, OPT_SH_EXEC, OPT_TIME };

static int run(int argc, char **argv, int listening)
{
    struct netcat nc;
    memset(&nc, 0, sizeof nc);
    nc.listen = listening;
    nc.family = AF_UNSPEC;
    nc.relay.quit_ms = -1;
    nc.relay.stop = &stop_flag.flag;

    /* Every word after --exec is the program's: cut argv there, before
     * getopt can take the program's own options for ours. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--exec") == 0) {
            if (i + 1 >= argc)
                cli_usage_error("--exec needs a program");
            nc.exec_argv = argv + i + 1;
            argc = i;
            break;
        }
    }
    static char *sh_argv[4] = { "/bin/sh", "-c", NULL, NULL };

    static const struct option options[] = {
        { "udp", no_argument, NULL, 'u' },
        { "idle", required_argument, NULL, 'w' },
        { "quit", required_argument, NULL, 'q' },
        { "no-shutdown", no_argument, NULL, OPT_NO_SHUTDOWN },
        { "verbose", no_argument, NULL, 'v' },
        { "listen", required_argument, NULL, 'l' },
        { "port", required_argument, NULL, 'p' },
        { "keep-open", no_argument, NULL, 'k' },
        { "sh-exec", required_argument, NULL, OPT_SH_EXEC },
        { "time", no_argument, NULL, OPT_TIME },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *shortopts = listening ? "u46w:q:vl:p:khV" : "u46w:q:vhV";
    const char *listen_arg = NULL, *port_arg = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, options, NULL)) != -1) {
        switch (c) {
        case 'u': nc.udp = 1; break;
        case '4': nc.family = AF_INET; break;
        case '6': nc.family = AF_INET6; break;
        case 'w':
            nc.relay.idle_ms = cli_parse_seconds_ms(optarg, "-w");
            if (nc.relay.idle_ms <= 0)
                cli_usage_error("-w must be more than 0 seconds");
            break;
        case 'q': nc.relay.quit_ms = cli_parse_seconds_ms(optarg, "-q"); break;
        case OPT_NO_SHUTDOWN: nc.relay.no_shutdown = 1; break;
        case 'v': nc.verbose = 1; break;
        case 'l':
            if (!listening)
                cli_usage_error("-l applies to sockit listen");
            listen_arg = optarg;
            break;
        case 'p':
            if (!listening)
                cli_usage_error("-p applies to sockit listen; give the port after HOST");
            port_arg = optarg;
            break;
        case 'k':
            if (!listening)
                cli_usage_error("-k applies to sockit listen");
            nc.keep = 1;
            break;
        case OPT_SH_EXEC:
            if (nc.exec_argv != NULL)
                cli_usage_error("--exec and --sh-exec exclude each other");
            sh_argv[2] = optarg;
            nc.exec_argv = sh_argv;
            break;
        case OPT_TIME:
            if (listening)
                cli_usage_error("--time applies to sockit connect");
            nc.time_values = 1;
            break;
        case 'V': printf("sockit %s\n", SOCKIT_VERSION); return 0;
        case 'h': cli_help(listening ? listen_help : connect_help);
        default:
            if (optopt >= 256)
                optopt = 0;
            cli_bad_option(argc, argv);
        }
    }

    if (listening) {
        if (optind < argc)
            cli_usage_error("unexpected argument '%s' (the port goes with -p)", argv[optind]);
        if (listen_arg != NULL && *listen_arg == '\0')
            cli_usage_error("empty -l address");
        nc.host = listen_arg;
        if (sk_addr_is_unix(listen_arg)) {
            if (port_arg != NULL)
                cli_usage_error("-p does not apply to a Unix socket (-l %s)", listen_arg);
        } else {
            if (port_arg == NULL)
                cli_usage_error("missing -p PORT");
            if (sk_port_parse(port_arg, nc.udp ? SOCK_DGRAM : SOCK_STREAM) < 0)
                cli_usage_error("invalid port '%s' (expected 0-65535 or a service name)",
                                port_arg);
            nc.port = port_arg;
            if (nc.host == NULL)
                nc.host = "*";
        }
        if (nc.keep && nc.udp)
            cli_usage_error("-k applies to TCP and Unix sockets (UDP answers one peer)");
        if (strcmp(nc.host, "*") == 0)
            nc.host = NULL;
    } else {
        if (optind >= argc)
            cli_usage_error("missing HOST");
        nc.host = argv[optind++];
        if (!sk_addr_is_unix(nc.host)) {
            if (optind >= argc)
                cli_usage_error("missing PORT");
            nc.port = argv[optind++];
            if (sk_port_parse(nc.port, nc.udp ? SOCK_DGRAM : SOCK_STREAM) <= 0)
                cli_usage_error("invalid port '%s' (expected 1-65535 or a service name)",
                                nc.port);
        }
        if (optind < argc)
            cli_usage_error("unexpected argument '%s'", argv[optind]);
        /* "[::1]" as well as "::1", as addresses with ports are written. */
        static char bare[SK_HOSTLEN];
        size_t len = strlen(nc.host);
        if (len >= 2 && nc.host[0] == '[' && nc.host[len - 1] == ']' && len - 2 < sizeof bare) {
            memcpy(bare, nc.host + 1, len - 2);
            bare[len - 2] = '\0';
            nc.host = bare;
        }
        if (*nc.host == '\0')
            cli_usage_error("empty HOST");
        if (nc.time_values && nc.exec_argv != NULL)
            cli_usage_error("--time and --exec exclude each other");
    }
    const char *h = nc.host ? nc.host : "";
    if (sk_addr_is_unix(h)) {
        if (nc.udp)
            cli_usage_error("-u does not apply to a Unix socket (stream sockets only)");
        if (nc.family != AF_UNSPEC)
            cli_usage_error("-4 and -6 do not apply to a Unix socket");
        struct sk_addr probe;
        if (sk_addr_unix(h, &probe) == SK_EADDRSYNTAX)
            cli_usage_error("invalid Unix socket path '%s' (empty, or too long for a socket "
                            "address)", h);
    }
    nc.relay.udp = nc.udp;
    if (nc.time_values && nc.udp)
        cli_usage_error("--time reads a stream; for UDP use 'sockit time -u'");

    sk__signal_set_flag(SIGINT, &stop_flag.flag);
    sk__signal_set_flag(SIGTERM, &stop_flag.flag);
    return listening ? run_listen(&nc) : run_connect(&nc);
}

int cmd_connect(int argc, char **argv)
{
    return run(argc, argv, 0);
}

int cmd_listen(int argc, char **argv)
{
    return run(argc, argv, 1);
}
