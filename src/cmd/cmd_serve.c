/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_serve.c - `sockit serve SERVICE`: run a service on a model.
 *
 * Everything here is the program's side: parsing options, checking them
 * before anything binds, printing the library's log lines and the one
 * "listening on" line a script waits for.  The serving itself is
 * sk_server_run().
 */
#include "cli.h"
#include "cli_getopt.h"
#include "sk_addr.h"
#include "sk_error.h"
#include "sk_server.h"
#include "sk_sockopt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char help_text[] =
    "usage: sockit serve SERVICE [options]\n"
    "       sockit serve file FILE [options]     serve one file for any name\n"
    "       sockit serve --service list | --model list\n"
    "\n"
    "Run SERVICE on a concurrency MODEL until interrupted (Ctrl-C, SIGTERM or SIGHUP).\n"
    "When ready it prints one line to stderr:\n"
    "  listening on ADDR port PORT (SERVICE, MODEL)\n"
    "\n"
    "chat: each line goes to the other members as \"[sender] line\"; a member\n"
    "is shown by its address until it sends \"/nick NAME\"; \"/who\" lists the\n"
    "room, \"/help\" the commands (see 'sockit chat --help').\n"
    "\n"
    "options:\n"
    "  -l, --listen ADDR       address to bind: HOST, HOST:PORT or [V6]:PORT,\n"
    "                          or unix:PATH for a Unix stream socket (no -p;\n"
    "                          a stale socket file there is replaced, and the\n"
    "                          file is removed at exit)\n"
    "                          (default: every address, IPv6 and IPv4)\n"
    "  -p, --port PORT         port number or service name; 0 picks a free port\n"
    "                          (default: the service's well-known port; below\n"
    "                          1024 needs root)\n"
    "  -4, -6                  IPv4 or IPv6 only (without -l: 0.0.0.0 or an\n"
    "                          IPv6-only ::)\n"
    "  -m, --model MODEL       concurrency model; 'list' shows them\n"
    "  -u, --udp               serve over UDP instead of TCP\n"
    "      --service list      show the services\n"
    "      --max-clients N     serve N clients (UDP: N datagrams), then exit\n"
    "      --max-conns N       refuse connections beyond N at once\n"
    "                          (default: the descriptor limit less 16)\n"
    "      --max-per-ip N      refuse connections beyond N at once from one\n"
    "                          address (default: no limit)\n"
    "  -t, -w, --idle-timeout SEC\n"
    "                          close a connection idle for SEC seconds (blocking\n"
    "                          models: no byte moved either way; event-loop\n"
    "                          models: none received); iterative defaults to 30\n"
    "      --buffer BYTES      per-connection buffer; for UDP, the largest\n"
    "                          datagram answered (default 64K)\n"
    "      --root DIR          file service: serve files from DIR only\n"
    "      --sendfile          file service: send with sendfile() (zero-copy)\n"
    "                          where the model can, instead of read + send\n"
    "      --log FILE          append every received message to FILE ('-':\n"
    "                          standard error)\n"
    "      --sockopt NAME=VAL  set a socket option on the listening socket\n"
    "                          (repeatable; 'sockit sockopt' lists the names).\n"
    "                          Connections get TCP_NODELAY; nodelay=off leaves\n"
    "                          Nagle on, to watch it delay small replies\n"
    "      --backlog N         listen queue length (default 511)\n"
    "      --workers N         pool: threads (default 8); event-loop models:\n"
    "                          loops on N threads sharing the port (default 1)\n"
    "      --edge              epoll: edge-triggered instead of level-triggered\n"
    "      --no-splice         echo, Linux event-loop models: copy each byte\n"
    "                          through user memory (recv + send) instead of\n"
    "                          moving it socket to pipe to socket with splice()\n"
    "      --no-reap           for teaching, fork model: never waitpid() the\n"
    "                          children, so each ended one stays a zombie\n"
    "                          (<defunct> in ps) until the server exits\n"
    "  -k, --keep-open         keep serving after each client (the default;\n"
    "                          --max-clients N stops after N)\n"
    CLI_TRACE_HELP
    "  -q, --quiet             log warnings and errors only\n"
    "  -v, --verbose           also log dropped datagrams and other details\n"
    "  -V, --version           print sockit's version\n"
    "  -h, --help              this text\n"
    "\n"
    "Times take s or ms (2, 0.5, 500ms); sizes take K, M or G (64K).\n";

static struct sk_stop stop_requested; /* its flag is set by the signal handler */
static int log_threshold = SK_LOG_INFO;

static void log_line(void *ctx, enum sk_log_level level, const char *message)
{
    (void)ctx;
    if ((int)level > log_threshold)
        return;
    static const char *const names[] = { "error", "warning", "info", "debug" };
    char stamp[32], line[1200];
    time_t now = time(NULL);
    struct tm tm;
    sk__localtime(now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    int n = snprintf(line, sizeof line, "%s %s: %s\n", stamp, names[level], message);
    if (n > 0) {
        size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
        /* One write per line: children and threads never interleave. */
        (void)sk__fd_write(2, line, len);
    }
}

static void on_ready(void *ctx, const struct sk_server_info *info)
{
    (void)ctx;
    if (info->port < 0) /* a Unix socket: the host is "unix:PATH" */
        fprintf(stderr, "listening on %s (%s, %s)\n", info->host, info->service,
                info->model);
    else
        fprintf(stderr, "listening on %s port %d (%s, %s)\n", info->host, info->port,
                info->service, info->model);
    fflush(stderr);
}

static void list_models(void)
{
    const struct sk_model *const *m = sk_model_list();
    const struct sk_model *def_tcp = sk_model_default(0), *def_udp = sk_model_default(1);
    printf("%-10s %-14s %-9s %s\n", "MODEL", "I/O MODEL", "PROTOCOLS", "DESCRIPTION");
    for (; *m != NULL; m++) {
        const char *why;
        int rc = sk_model_probe(*m, &why);
        char protos[16];
        snprintf(protos, sizeof protos, "%s%s%s", ((*m)->flags & SK_MODEL_TCP) ? "tcp" : "",
                 ((*m)->flags & SK_MODEL_TCP) && ((*m)->flags & SK_MODEL_UDP) ? "," : "",
                 ((*m)->flags & SK_MODEL_UDP) ? "udp" : "");
        printf("%-10s %-14s %-9s %s%s%s", (*m)->name, (*m)->io_model, protos, (*m)->summary,
               *m == def_tcp ? " [default]" : "", *m == def_udp ? " [default for UDP]" : "");
        if (rc < 0)
            printf(" (unavailable: %s)", why ? why : sk_strerror(rc));
        printf("\n");
    }
}

static void list_services(void)
{
    const struct sk_service *const *s = sk_service_list();
    printf("%-8s %-9s %s\n", "SERVICE", "PROTOCOLS", "DESCRIPTION");
    for (; *s != NULL; s++) {
        char protos[16];
        snprintf(protos, sizeof protos, "%s%s%s", ((*s)->flags & SK_SERVICE_TCP) ? "tcp" : "",
                 ((*s)->flags & SK_SERVICE_TCP) && ((*s)->flags & SK_SERVICE_UDP) ? "," : "",
                 ((*s)->flags & SK_SERVICE_UDP) ? "udp" : "");
        printf("%-8s %-9s %s\n", (*s)->name, protos, (*s)->summary);
    }
}

enum {
    OPT_SERVICE = 256, OPT_MAX_CLIENTS, OPT_MAX_CONNS, OPT_MAX_PER_IP, OPT_ROOT, OPT_LOG,
    OPT_SOCKOPT, OPT_BACKLOG, OPT_BUFFER, OPT_WORKERS, OPT_EDGE, OPT_NO_SPLICE, OPT_SENDFILE,
    OPT_NO_REAP
};

int cmd_serve(int argc, char **argv)
{
    static const struct option options[] = {
        { "listen", required_argument, NULL, 'l' },
        { "port", required_argument, NULL, 'p' },
        { "model", required_argument, NULL, 'm' },
        { "udp", no_argument, NULL, 'u' },
        { "service", required_argument, NULL, OPT_SERVICE },
        { "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
        { "max-conns", required_argument, NULL, OPT_MAX_CONNS },
        { "max-per-ip", required_argument, NULL, OPT_MAX_PER_IP },
        { "idle-timeout", required_argument, NULL, 't' },
        { "root", required_argument, NULL, OPT_ROOT },
        { "sendfile", no_argument, NULL, OPT_SENDFILE },
        { "log", required_argument, NULL, OPT_LOG },
        { "sockopt", required_argument, NULL, OPT_SOCKOPT },
        { "backlog", required_argument, NULL, OPT_BACKLOG },
        { "buffer", required_argument, NULL, OPT_BUFFER },
        { "workers", required_argument, NULL, OPT_WORKERS },
        { "edge", no_argument, NULL, OPT_EDGE },
        { "no-splice", no_argument, NULL, OPT_NO_SPLICE },
        { "no-reap", no_argument, NULL, OPT_NO_REAP },
        { "keep-open", no_argument, NULL, 'k' },
        CLI_TRACE_OPTION,
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct sk_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *listen_arg = NULL, *port_arg = NULL, *service_opt = NULL;
    const char **sockopts = calloc((size_t)argc, sizeof *sockopts);
    if (sockopts == NULL)
        cli_fail("out of memory");

    int c, keep_open = 0;
    opterr = 0;
    while ((c = cli_getopt(argc, argv, "l:p:m:t:w:46kuqvh", options)) != -1) {
        switch (c) {
        case 'l':
            cli_refuse_option_as_value("-l", optarg, "an address",
                                       "to listen on every address leave -l out, or write "
                                       "-l 0.0.0.0 (or -l ::)");
            listen_arg = optarg;
            break;
        case '4':
        case '6': cli_set_family(&cfg.family, c); break;
        case 'k': keep_open = 1; break;
        case 'p': port_arg = optarg; break;
        case 'm': cfg.model = optarg; break;
        case 'u': cfg.udp = 1; break;
        case 'q': log_threshold = SK_LOG_WARN; break;
        case 'v': log_threshold = SK_LOG_DEBUG; break;
        case 'h': cli_help(help_text);
        case OPT_SERVICE: service_opt = optarg; break;
        case OPT_MAX_CLIENTS:
            cfg.max_clients = cli_parse_long(optarg, 1, CLI_COUNT_MAX, "--max-clients");
            break;
        case OPT_MAX_CONNS:
            cfg.max_conns = cli_parse_long(optarg, 1, 1L << 30, "--max-conns");
            break;
        case OPT_MAX_PER_IP:
            cfg.max_per_ip = cli_parse_long(optarg, 1, 1L << 30, "--max-per-ip");
            break;
        case 't':
        case 'w': {
            int ms = cli_parse_seconds_ms(optarg, "--idle-timeout");
            if (ms <= 0)
                cli_usage_error("--idle-timeout must be more than 0 seconds");
            cfg.idle_timeout_ms = ms;
            break;
        }
        case OPT_ROOT: cfg.service_config.root = optarg; break;
        case OPT_SENDFILE: cfg.service_config.sendfile = 1; break;
        case OPT_LOG: cfg.msglog_path = optarg; break;
        case OPT_SOCKOPT: {
            int rc = sk_sockopt_check(optarg);
            if (rc < 0)
                cli_usage_error("--sockopt '%s': %s", optarg, sk_strerror(rc));
            sockopts[cfg.nsockopts++] = optarg;
            break;
        }
        case OPT_WORKERS:
            cfg.workers = (int)cli_parse_long(optarg, 1, 1024, "--workers");
            break;
        case OPT_EDGE: cfg.edge = 1; break;
        case OPT_NO_SPLICE: cfg.no_splice = 1; break;
        case OPT_NO_REAP: cfg.no_reap = 1; break;
        case CLI_OPT_TRACE: cli_trace_start(optarg); break;
        case OPT_BUFFER:
            cfg.buffer_size = (size_t)cli_parse_size(optarg, 64, 1L << 26, "--buffer");
            break;
        case OPT_BACKLOG:
            cfg.backlog = (int)cli_parse_long(optarg, 1, 65535, "--backlog");
            break;
        default: cli_bad_option(argc, argv);
        }
    }
    cfg.sockopts = sockopts;
    if (keep_open && cfg.max_clients > 0)
        cli_usage_error("-k keeps serving and --max-clients stops: give one");

    if (cfg.model != NULL && strcmp(cfg.model, "list") == 0) {
        free(sockopts);
        list_models();
        return 0;
    }
    if (service_opt != NULL) {
        if (strcmp(service_opt, "list") != 0)
            cli_usage_error("--service takes 'list'; name the service as the first argument");
        free(sockopts);
        list_services();
        return 0;
    }
    if (optind >= argc)
        cli_usage_error("missing SERVICE (try --service list)");
    cfg.service = argv[optind++];
    if (strcmp(cfg.service, "list") == 0) {
        free(sockopts);
        list_services();
        return 0;
    }
    const struct sk_service *svc = sk_service_find(cfg.service);
    if (svc == NULL)
        cli_usage_error("unknown service '%s' (try --service list)", cfg.service);
    if (strcmp(cfg.service, "file") == 0 && optind < argc)
        cfg.service_config.single_file = argv[optind++];
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);

    if (cfg.model != NULL && sk_model_find(cfg.model) == NULL)
        cli_usage_error("unknown model '%s' (try --model list)", cfg.model);
    if (strcmp(cfg.service, "file") == 0) {
        if (cfg.service_config.root == NULL && cfg.service_config.single_file == NULL)
            cli_usage_error("file needs --root DIR or a FILE to serve");
        if (cfg.service_config.root != NULL && cfg.service_config.single_file != NULL)
            cli_usage_error("give either --root DIR or FILE, not both");
        const char *path = cfg.service_config.root ? cfg.service_config.root
                                                   : cfg.service_config.single_file;
        int kind = sk__path_kind(path);
        if (kind < 0)
            cli_fail("cannot serve '%s': %s", path, sk_strerror(kind));
        if (cfg.service_config.root && kind != SK_FILE_DIRECTORY)
            cli_usage_error("--root '%s' is not a directory", path);
        if (cfg.service_config.single_file && kind != SK_FILE_REGULAR)
            cli_usage_error("'%s' is not a regular file", path);
    } else if (cfg.service_config.root != NULL) {
        cli_usage_error("--root only applies to the file service");
    } else if (cfg.service_config.sendfile) {
        cli_usage_error("--sendfile only applies to the file service");
    }
    if (cfg.no_splice && strcmp(cfg.service, "echo") != 0)
        cli_usage_error("--no-splice only applies to the echo service");

    /* -l HOST[:PORT] and -p PORT; the port defaults to the service's own. */
    static char host[SK_HOSTLEN], port[SK_PORTLEN];
    if (sk_addr_is_unix(listen_arg)) {
        /* -l unix:PATH: a stream service on a Unix socket; no port. */
        if (port_arg != NULL)
            cli_usage_error("-p does not apply to a Unix socket (-l %s)", listen_arg);
        if (cfg.udp)
            cli_usage_error("-u does not apply to a Unix socket (stream services only)");
        snprintf(host, sizeof host, "%s", listen_arg);
        snprintf(port, sizeof port, "0");
    } else if (listen_arg != NULL) {
        if (sk_addr_split(listen_arg, host, sizeof host, port, sizeof port) < 0)
            cli_usage_error("malformed address '%s' (expected HOST, HOST:PORT or [V6]:PORT)",
                            listen_arg);
        if (host[0] == '\0' && port[0] != '\0')
            cli_usage_error("-l takes an address; give the port with -p");
    }
    if (port_arg != NULL) {
        if (port_arg[0] == '\0')
            cli_usage_error("invalid port '' (expected 0-65535 or a service name)");
        if (port[0] != '\0')
            cli_usage_error("port given twice (in -l and -p)");
        snprintf(port, sizeof port, "%s", port_arg);
    }
    if (port[0] == '\0') {
        int p = sk_port_parse(cfg.service, cfg.udp ? SOCK_DGRAM : SOCK_STREAM);
        if (p < 0)
            cli_usage_error("%s has no well-known port; give one with -p", cfg.service);
        snprintf(port, sizeof port, "%d", p);
    }
    if (sk_port_parse(port, cfg.udp ? SOCK_DGRAM : SOCK_STREAM) < 0)
        cli_usage_error("invalid port '%s' (expected 0-65535 or a service name)", port);
    cfg.host = host[0] ? host : NULL;
    cfg.port = port;
    cfg.logger.write = log_line;
    cfg.on_ready = on_ready;
    cfg.stop = &stop_requested;
    cfg.service_config.chat_output_cap = 1 << 20;

    sk__signal_set_flag(SIGINT, &stop_requested.flag);
    sk__signal_set_flag(SIGTERM, &stop_requested.flag);
#ifdef SIGHUP
    /* A closed terminal sends SIGHUP: stop as cleanly as on SIGTERM
     * (Windows has no SIGHUP; its console close event sets the flag). */
    sk__signal_set_flag(SIGHUP, &stop_requested.flag);
#endif

    /* A model this machine cannot run (iocp on Linux, uring where the
     * kernel lacks it) is a runtime failure: the same command works
     * elsewhere.  Say why in the model's own words. */
    const char *why = NULL;
    if (cfg.model != NULL && sk_model_probe(sk_model_find(cfg.model), &why) < 0)
        cli_fail("model '%s' cannot run here: %s", cfg.model, why);

    int rc = sk_server_run(&cfg, &why);
    free(sockopts);
    if (rc == SK_EUNSUPPORTED)
        cli_usage_error("%s", why);
    if (rc < 0) {
        if (why == sk_why_listen && sk_addr_is_unix(cfg.host))
            cli_fail("cannot listen on %s: %s", cfg.host,
                     rc == SK_ENOTAVAIL ? "Unix domain sockets are not supported on this platform"
                                        : sk_strerror(rc));
        /* Ports below 1024 are root's on Linux (unless the kernel was
         * told otherwise); say what works instead. */
        int p = sk_addr_is_unix(cfg.host) ? 0
                                          : sk_port_parse(port, cfg.udp ? SOCK_DGRAM : SOCK_STREAM);
        if (why == sk_why_listen && sk_error_is(rc, EACCES) && p > 0 && p < 1024)
            cli_fail("cannot listen on %s port %s: %s; ports below 1024 need root: use -p 0 "
                     "for any free port, or a port above 1023", cfg.host ? cfg.host : "*", port,
                     sk_strerror(rc));
        if (why == sk_why_listen)
            cli_fail("cannot listen on %s port %s: %s", cfg.host ? cfg.host : "*", port,
                     sk_strerror(rc));
        if (why == sk_why_msglog)
            cli_fail("cannot open the --log file '%s': %s", cfg.msglog_path, sk_strerror(rc));
        if (why != NULL)
            cli_fail("%s: %s", why, sk_strerror(rc));
        cli_fail("%s", sk_strerror(rc));
    }
    return 0;
}
