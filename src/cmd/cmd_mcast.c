/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_mcast.c - `sockit mcast send|recv`: the tutorial's news sender and
 * news receiver, for multicast groups and broadcast addresses.
 *
 * The sender sends each line of a file (or stdin) as one datagram, the
 * newline included, exactly as the book's news_sender does with fgets()
 * and sendto(), so the book's receiver understands it.  The receiver
 * binds the port on every address (INADDR_ANY, as the book does; Windows
 * cannot bind a group address), joins the group and prints each datagram
 * as it arrives.  A broadcast needs no group: SO_BROADCAST on the sender
 * is the whole difference.
 *
 * Multicast TTL defaults to 64 here, not the kernel's 1, so that the
 * news can cross routers; use --ttl 1 to keep it on the local link.
 */
#include "cli.h"
#include "cli_getopt.h"
#include "sk_addr.h"
#include "sk_error.h"
#include "sk_mcast.h"
#include "sk_sock.h"
#include "sk_trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help_text[] =
    "usage: sockit mcast send GROUP PORT [FILE] [options]\n"
    "       sockit mcast recv GROUP PORT [options]\n"
    "\n"
    "send: send each line of FILE (default: stdin) as one datagram to GROUP.\n"
    "recv: join GROUP, print each datagram as it arrives.  When ready, it\n"
    "      prints one line to stderr: receiving on GROUP port PORT (KIND)\n"
    "\n"
    "GROUP is a multicast group (224.0.0.0/4 or ff00::/8), or with\n"
    "--broadcast an IPv4 broadcast address (10.9.0.255, 255.255.255.255).\n"
    "\n"
    "send options:\n"
    "      --ttl N            routers a datagram may cross, 0-255 (default 64)\n"
    "      --interval SEC     pause between datagrams (default 0)\n"
    "      --loop on|off      copies for members on this host (kernel default on)\n"
    "      --interface IF     leave by this interface: a local IPv4 address or a name\n"
    "      --broadcast        GROUP is a broadcast address: set SO_BROADCAST\n"
    "recv options:\n"
    "      --count N          exit after N datagrams\n"
    "  -t, -w, --timeout SEC  exit 1 if nothing arrives for SEC seconds\n"
    "      --interface IF     join on this interface: a local IPv4 address or a name\n"
    "      --broadcast        receive broadcasts to PORT; join no group\n"
    "      --trace[=FMT]      show each socket call and TCP's state on\n"
    "                         stderr; FMT: text (default) or json\n"
    "  -V, --version          print sockit's version\n"
    "  -h, --help             this text\n";

/* Largest UDP payload (IPv6 jumbograms aside): 65535 - 8 header bytes. */
#define MAX_DATAGRAM 65535

enum { OPT_TTL = 256, OPT_INTERVAL, OPT_LOOP, OPT_INTERFACE, OPT_BROADCAST, OPT_COUNT };

struct mcast_args {
    int sending;
    const char *group_text;
    const char *port_text;
    const char *file;        /* send: NULL = stdin */
    struct sk_addr group;
    int port;
    int broadcast;
    int ttl;                 /* -1 = not given */
    int loop;                /* -1 = kernel default */
    int interval_ms;
    const char *interface;
    long count;              /* recv: 0 = forever */
    int timeout_ms;          /* recv: 0 = wait forever */
};

static void parse_options(int argc, char **argv, struct mcast_args *a)
{
    static const struct option options[] = {
        { "ttl", required_argument, NULL, OPT_TTL },
        { "interval", required_argument, NULL, OPT_INTERVAL },
        { "loop", required_argument, NULL, OPT_LOOP },
        { "interface", required_argument, NULL, OPT_INTERFACE },
        { "broadcast", no_argument, NULL, OPT_BROADCAST },
        { "count", required_argument, NULL, OPT_COUNT },
        { "timeout", required_argument, NULL, 't' },
        CLI_TRACE_OPTION,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *send_only = NULL, *recv_only = NULL;
    int c;
    opterr = 0;
    while ((c = cli_getopt(argc, argv, "t:w:h", options)) != -1) {
        switch (c) {
        case OPT_TTL:
            a->ttl = (int)cli_parse_long(optarg, 0, 255, "--ttl");
            send_only = "--ttl";
            break;
        case OPT_INTERVAL:
            a->interval_ms = cli_parse_seconds_ms(optarg, "--interval");
            send_only = "--interval";
            break;
        case OPT_LOOP:
            if (strcmp(optarg, "on") == 0)
                a->loop = 1;
            else if (strcmp(optarg, "off") == 0)
                a->loop = 0;
            else
                cli_usage_error("--loop takes on or off, not '%s'", optarg);
            send_only = "--loop";
            break;
        case OPT_INTERFACE: a->interface = optarg; break;
        case OPT_BROADCAST: a->broadcast = 1; break;
        case OPT_COUNT:
            a->count = cli_parse_long(optarg, 1, CLI_COUNT_MAX, "--count");
            recv_only = "--count";
            break;
        case 't':
        case 'w':
            a->timeout_ms = cli_parse_seconds_ms(optarg, "--timeout");
            if (a->timeout_ms <= 0)
                cli_usage_error("--timeout must be more than 0 seconds");
            recv_only = "--timeout";
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
    if (a->sending && recv_only != NULL)
        cli_usage_error("%s applies to 'mcast recv', not 'mcast send'", recv_only);
    if (!a->sending && send_only != NULL)
        cli_usage_error("%s applies to 'mcast send', not 'mcast recv'", send_only);
}

/* GROUP PORT [FILE], then the checks that need all of them together. */
static void parse_arguments(int argc, char **argv, struct mcast_args *a)
{
    int left = argc - optind;
    if (left < 1)
        cli_usage_error("missing GROUP");
    if (left < 2)
        cli_usage_error("missing PORT");
    if (left > (a->sending ? 3 : 2))
        cli_usage_error("unexpected argument '%s'", argv[optind + (a->sending ? 3 : 2)]);
    a->group_text = argv[optind];
    a->port_text = argv[optind + 1];
    if (a->sending && left == 3 && strcmp(argv[optind + 2], "-") != 0)
        a->file = argv[optind + 2];

    a->port = sk_port_parse(a->port_text, SOCK_DGRAM);
    if (a->port <= 0)
        cli_usage_error("invalid port '%s' (expected 1-65535)", a->port_text);
    if (sk_addr_numeric(a->group_text, a->port, &a->group) < 0)
        cli_usage_error("'%s' is not a numeric IPv4 or IPv6 address", a->group_text);
    const struct sockaddr *sa = (const struct sockaddr *)&a->group.ss;

    if (a->broadcast) {
        if (sa->sa_family != AF_INET)
            cli_usage_error("IPv6 has no broadcast; use a multicast group such as ff02::1");
        if (sk_mcast_is_group(sa))
            cli_usage_error("%s is a multicast group; drop --broadcast", a->group_text);
        if (a->ttl >= 0 || a->loop >= 0 || a->interface != NULL)
            cli_usage_error("--ttl, --loop and --interface apply to multicast; a broadcast "
                            "goes where the route to its address leads");
    } else if (!sk_mcast_is_group(sa)) {
        cli_usage_error("%s is not a multicast group (224.0.0.0/4 or ff00::/8); "
                        "for a broadcast address add --broadcast", a->group_text);
    }
}

static const char *seconds(int ms)
{
    static char text[32];
    snprintf(text, sizeof text, "%g s", ms / 1000.0);
    return text;
}

static void configure_sender(sk_socket_t s, const struct mcast_args *a)
{
    int family = a->group.ss.ss_family;
    int rc;
    if (a->broadcast) {
        if ((rc = sk_broadcast_enable(s)) < 0)
            cli_fail("cannot enable broadcast (SO_BROADCAST): %s", sk_strerror(rc));
        return;
    }
    if ((rc = sk_mcast_set_ttl(s, family, a->ttl >= 0 ? a->ttl : 64)) < 0)
        cli_fail("cannot set the multicast TTL: %s", sk_strerror(rc));
    if (a->loop >= 0 && (rc = sk_mcast_set_loop(s, family, a->loop)) < 0)
        cli_fail("cannot set multicast loopback: %s", sk_strerror(rc));
    if (a->interface != NULL && (rc = sk_mcast_set_interface(s, family, a->interface)) < 0) {
        if (rc == SK_EADDRSYNTAX)
            cli_usage_error("--interface '%s' is neither a local IPv4 address nor an "
                            "interface name", a->interface);
        if (rc == SK_EFAMILY)
            cli_usage_error("an IPv6 group takes --interface as a name (eth0), not an address");
        cli_fail("cannot send by interface %s: %s", a->interface, sk_strerror(rc));
    }
}

static void send_failed(const struct mcast_args *a, long line, size_t len, int rc)
{
    if (rc == -EMSGSIZE)
        cli_fail("line %ld (%zu bytes) is too long for one datagram", line, len);
    if (rc == -ENETUNREACH && a->broadcast)
        cli_fail("cannot send to %s port %d: %s (255.255.255.255 follows the default "
                 "route; a subnet's broadcast address such as 10.9.0.255 needs none)",
                 a->group_text, a->port, sk_strerror(rc));
    if (rc == -ENETUNREACH || rc == -ENODEV)
        cli_fail("cannot send to %s port %d: %s (no route: add one, or pick --interface)",
                 a->group_text, a->port, sk_strerror(rc));
    cli_fail("cannot send to %s port %d: %s", a->group_text, a->port, sk_strerror(rc));
}

static int run_send(const struct mcast_args *a)
{
    FILE *in = stdin;
    if (a->file != NULL && (in = fopen(a->file, "r")) == NULL)
        cli_fail("cannot open '%s': %s", a->file, strerror(errno));

    sk_socket_t s;
    struct sk_addr dest;
    int rc = sk_udp_open(a->group_text, a->port_text, &s, &dest);
    if (rc < 0)
        cli_fail("cannot open a socket for %s: %s", a->group_text, sk_strerror(rc));
    configure_sender(s, a);

    /* Static, so the line stays reachable when send_failed() or cli_fail()
     * exits from inside the loop (a sanitizer would report it leaked). */
    static char *line;
    static size_t cap;
    long sent = 0;
    long len;
    while ((len = sk__getline(&line, &cap, in)) >= 0) {
        if (sent > 0 && a->interval_ms > 0)
            sk__sleep_ms(a->interval_ms);
        long n = (long)sendto(s, line, (size_t)len, 0, (const struct sockaddr *)&dest.ss,
                              dest.len);
        int err = n < 0 ? sk__socket_error() : 0;
        sk_trace_datagram(s, "sendto", (size_t)len, n >= 0 ? n : err,
                          (const struct sockaddr *)&dest.ss, line);
        if (n < 0)
            send_failed(a, sent + 1, (size_t)len, err);
        sent++;
    }
    if (ferror(in))
        cli_fail("cannot read %s: %s", a->file ? a->file : "stdin", strerror(errno));
    free(line);
    if (in != stdin)
        fclose(in);
    sk_close(s);
    printf("sent %ld datagram%s to %s port %d\n", sent, sent == 1 ? "" : "s",
           a->group_text, a->port);
    return 0;
}

static sk_socket_t open_receiver(const struct mcast_args *a)
{
    int family = a->group.ss.ss_family;
    struct sk_listen_config cfg;
    memset(&cfg, 0, sizeof cfg);
    /* Every address, so multicast and broadcast (which are addressed to
     * the group or broadcast address, not to ours) are delivered.  Every
     * member of a group binds the group's port, so several receivers on
     * this host must share it: SO_REUSEADDR, set here because a server's
     * datagram socket (sk_listen's default) must never share its port. */
    static const char *const share_port[] = { "reuseaddr=on" };
    cfg.host = family == AF_INET6 ? "::" : "0.0.0.0";
    cfg.port = a->port_text;
    cfg.socktype = SOCK_DGRAM;
    cfg.no_reuseaddr = 1; /* no exclusive use (Windows) before the sharing */
    cfg.sockopts = share_port;
    cfg.nsockopts = 1;
    sk_socket_t s;
    int rc = sk_listen(&cfg, &s, NULL);
    if (rc < 0)
        cli_fail("cannot bind port %d: %s", a->port, sk_strerror(rc));
    if (a->broadcast)
        return s;
    rc = sk_mcast_join(s, (const struct sockaddr *)&a->group.ss, a->interface);
    if (rc == SK_EADDRSYNTAX)
        cli_usage_error("--interface '%s' is neither a local IPv4 address nor an "
                        "interface name", a->interface);
    if (rc == SK_EFAMILY)
        cli_usage_error("an IPv6 group takes --interface as a name (eth0), not an address");
    if (rc == -ENODEV)
        cli_fail("cannot join %s: %s (no interface routes multicast: add a route for "
                 "the group, or pick --interface)", a->group_text, sk_strerror(rc));
    if (rc < 0)
        cli_fail("cannot join %s: %s", a->group_text, sk_strerror(rc));
    return s;
}

static int run_recv(const struct mcast_args *a)
{
    sk_socket_t s = open_receiver(a);
    fprintf(stderr, "receiving on %s port %d (%s)\n", a->group_text, a->port,
            a->broadcast ? "broadcast" : "multicast");
    fflush(stderr);

    /* Static: cli_fail() exits from inside the loop, and a heap buffer
     * would then be reported as leaked. */
    static char buf[MAX_DATAGRAM];
    long received = 0;
    while (a->count == 0 || received < a->count) {
        int rc = sk__socket_wait(s, SK_WAIT_READ, a->timeout_ms > 0 ? a->timeout_ms : -1);
        if (rc == -EINTR)
            continue;
        if (rc < 0)
            cli_fail("cannot wait for datagrams: %s", sk_strerror(rc));
        if (rc == 0)
            cli_fail("nothing arrived on %s port %d within %s", a->group_text, a->port,
                     seconds(a->timeout_ms));
        long n = (long)recv(s, buf, MAX_DATAGRAM, 0);
        rc = n >= 0 ? 0 : sk__socket_error();
        sk_trace_datagram(s, "recv", MAX_DATAGRAM, n >= 0 ? n : rc, NULL, buf);
        if (n < 0) {
            if (rc == -EINTR || sk__error_would_block(rc))
                continue;
            cli_fail("cannot receive: %s", sk_strerror(rc));
        }
        fwrite(buf, 1, (size_t)n, stdout);
        if (n == 0 || buf[n - 1] != '\n')
            fputc('\n', stdout);
        if (fflush(stdout) != 0)
            cli_fail("cannot write to stdout: %s", strerror(errno));
        received++;
    }
    if (!a->broadcast)
        (void)sk_mcast_leave(s, (const struct sockaddr *)&a->group.ss, a->interface);
    sk_close(s);
    return 0;
}

int cmd_mcast(int argc, char **argv)
{
    if (argc < 2)
        cli_usage_error("missing 'send' or 'recv'");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
        cli_help(help_text);

    struct mcast_args a;
    memset(&a, 0, sizeof a);
    a.ttl = -1;
    a.loop = -1;
    if (strcmp(argv[1], "send") == 0)
        a.sending = 1;
    else if (strcmp(argv[1], "recv") != 0)
        cli_usage_error("unknown action '%s' (expected send or recv)", argv[1]);

    /* Parse after the action word: argv[1] plays getopt's program name. */
    parse_options(argc - 1, argv + 1, &a);
    parse_arguments(argc - 1, argv + 1, &a);
    return a.sending ? run_send(&a) : run_recv(&a);
}
