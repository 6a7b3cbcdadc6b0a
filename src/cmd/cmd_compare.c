/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_compare.c - `sockit compare`: sockit's models against other echo
 * servers, measured the same way, one at a time, on this machine.
 *
 * Each run starts one server on 127.0.0.1 (a sockit model through this
 * same binary, or a peer: the programs of bench/peers/, socat, ncat),
 * waits for it to listen, drives it with `sockit bench --json` (this
 * binary again, /proc/self/exe) and stops it.  The server is pinned to
 * one CPU and the load generator to another (sched_setaffinity in the
 * child before exec), so neither steals the other's core.  Runs are
 * interleaved - at each matrix point every server once, then every server
 * again, --repeat times - so a slow drift of the machine (frequency,
 * a neighbour on the host) spreads over all servers instead of landing
 * on one.  Each point reports the median messages/s with the min-max
 * range, the median p99 and the server's CPU time per message - the
 * figure that measures the server even where the load generator, out of
 * CPU, set the rate (such points are marked).
 *
 * This file reads the options, makes the list of servers and walks the
 * matrix; compare.h says which file does the rest.  Linux only.
 */
#include "compare.h"

#include "cli.h"
#include "cli_getopt.h"
#include "sk_server.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char help_text[] =
    "usage: sockit compare [options]\n"
    "\n"
    "Start each sockit model that runs here, then each peer echo server\n"
    "(libuv, libevent, textbook epoll, Go, Node.js, socat, ncat; for --udp the\n"
    "textbook recvfrom/sendto loop), one at a time on 127.0.0.1, and load\n"
    "each with 'sockit bench' over a matrix of connections x message sizes x\n"
    "depths.  The server runs on one CPU and the load generator on another.\n"
    "Runs are interleaved (A B C A B C ...) and repeated; each point reports\n"
    "the median msgs/s with its min-max, the median p99 latency, the server's\n"
    "CPU time per message (srv us/msg: user + system of the server's process\n"
    "group - every thread and forked child - over the run, divided by the\n"
    "messages echoed), errors, the server's CPU use and its user-space share,\n"
    "and the load generator's CPU use and CPU time per message.  Where the\n"
    "load generator used more than 90% of its CPU its figure is marked '*':\n"
    "msgs/s there measures the generator, not the server.  A server that\n"
    "fails to start, or a run with errors, is shown as such.  The JSON fields\n"
    "are in the README (server_cpu_us_per_msg, generator_cpu_pct,\n"
    "generator_saturated, generator_cpu_us_per_msg, ...).\n"
    "\n"
    "options:\n"
    "      --models LIST     sockit models, comma-separated, or 'none'\n"
    "                        (default: every model that runs here)\n"
    "      --peers LIST      peers, comma-separated, or 'none' (default: all;\n"
    "                        TCP: uv_echo,event_echo,epoll_echo,go_echo,node_echo,\n"
    "                        socat,ncat; UDP: udp_echo)\n"
    "      --conns LIST      connections (UDP: sockets) (default 1,50,500)\n"
    "      --sizes LIST      message sizes in bytes (default 128,4096)\n"
    "      --depths LIST     messages in flight per connection (default 1,16)\n"
    "      --repeat N        runs of each server at each point (default 3)\n"
    "      --duration SEC    length of each run (default 2)\n"
    "  -u, --udp             compare UDP echo servers\n"
    "      --quick           a tiny matrix (1,8 conns x 128 B x depth 1,\n"
    "                        one 0.3 s run); options given still apply\n"
    "  -J, --json FILE       also write every run and the summary as JSON\n"
    "      --markdown FILE   also write the tables as Markdown\n"
    "      --peer-dir DIR    where 'make peers' put the peers\n"
    "                        (default: peers/ beside this program)\n"
    "      --server-cpu N    CPU for the servers (default: the first allowed)\n"
    "      --client-cpu N    CPU for the load generator (default: the second)\n"
    "  -V, --version         print sockit's version\n"
    "  -h, --help            this text\n";

/* ---- parsing ------------------------------------------------------------------ */

/* A comma-separated list of numbers in [min, max]; sizes (is_size) take
 * K, M and G. */
static int parse_int_list(const char *text, int *out, long min, long max, const char *what,
                          int is_size)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", text);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == COMPARE_MAX_LIST)
            cli_usage_error("%s: at most %d values", what, COMPARE_MAX_LIST);
        out[n++] = is_size ? (int)cli_parse_size(tok, (unsigned long long)min,
                                                 (unsigned long long)max, what)
                           : (int)cli_parse_long(tok, min, max, what);
    }
    if (n == 0)
        cli_usage_error("%s needs at least one value", what);
    return n;
}

static FILE *open_output(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        cli_fail("cannot write '%s': %s", path, strerror(errno));
    return f;
}

/* ---- the command ----------------------------------------------------------------- */

enum {
    OPT_MODELS = 256, OPT_PEERS, OPT_CONNS, OPT_SIZES, OPT_DEPTHS, OPT_REPEAT, OPT_DURATION,
    OPT_QUICK, OPT_MARKDOWN, OPT_PEER_DIR, OPT_SERVER_CPU, OPT_CLIENT_CPU
};

/* The first two CPUs we may run on, for the default pinning. */
static void default_cpus(struct options *o)
{
    cpu_set_t set;
    int first = -1, second = -1;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int i = 0; i < CPU_SETSIZE && second < 0; i++)
            if (CPU_ISSET(i, &set)) {
                if (first < 0)
                    first = i;
                else
                    second = i;
            }
    if (o->server_cpu < 0)
        o->server_cpu = first;
    if (o->client_cpu < 0)
        o->client_cpu = second >= 0 && second != o->server_cpu ? second : first;
    o->pin = o->server_cpu >= 0 && o->client_cpu >= 0 && o->server_cpu != o->client_cpu;
}

int cmd_compare(int argc, char **argv)
{
    static const struct option options[] = {
        { "models", required_argument, NULL, OPT_MODELS },
        { "peers", required_argument, NULL, OPT_PEERS },
        { "conns", required_argument, NULL, OPT_CONNS },
        { "sizes", required_argument, NULL, OPT_SIZES },
        { "depths", required_argument, NULL, OPT_DEPTHS },
        { "repeat", required_argument, NULL, OPT_REPEAT },
        { "duration", required_argument, NULL, OPT_DURATION },
        { "udp", no_argument, NULL, 'u' },
        { "quick", no_argument, NULL, OPT_QUICK },
        { "json", required_argument, NULL, 'J' },
        { "markdown", required_argument, NULL, OPT_MARKDOWN },
        { "peer-dir", required_argument, NULL, OPT_PEER_DIR },
        { "server-cpu", required_argument, NULL, OPT_SERVER_CPU },
        { "client-cpu", required_argument, NULL, OPT_CLIENT_CPU },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct options o;
    memset(&o, 0, sizeof o);
    o.server_cpu = o.client_cpu = -1;
    const char *conns_arg = NULL, *sizes_arg = NULL, *depths_arg = NULL;
    int repeat = 0, duration_ms = -1;

    int c;
    opterr = 0;
    while ((c = cli_getopt(argc, argv, "J:uh", options)) != -1) {
        switch (c) {
        case OPT_MODELS: o.models = optarg; break;
        case OPT_PEERS: o.peers = optarg; break;
        case OPT_CONNS: conns_arg = optarg; break;
        case OPT_SIZES: sizes_arg = optarg; break;
        case OPT_DEPTHS: depths_arg = optarg; break;
        case OPT_REPEAT: repeat = (int)cli_parse_long(optarg, 1, 64, "--repeat"); break;
        case OPT_DURATION:
            duration_ms = cli_parse_seconds_ms(optarg, "--duration");
            if (duration_ms < 100)
                cli_usage_error("--duration must be at least 0.1 seconds");
            break;
        case 'u': o.udp = 1; break;
        case OPT_QUICK: o.quick = 1; break;
        case 'J': o.json_path = optarg; break;
        case OPT_MARKDOWN: o.md_path = optarg; break;
        case OPT_PEER_DIR: o.peer_dir = optarg; break;
        case OPT_SERVER_CPU:
            o.server_cpu = (int)cli_parse_long(optarg, 0, CPU_SETSIZE - 1, "--server-cpu");
            break;
        case OPT_CLIENT_CPU:
            o.client_cpu = (int)cli_parse_long(optarg, 0, CPU_SETSIZE - 1, "--client-cpu");
            break;
        case 'h': cli_help(help_text);
        default: cli_bad_option(argc, argv);
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);

    /* --quick sets a tiny matrix; anything given explicitly wins. */
    o.nconns = parse_int_list(conns_arg ? conns_arg : o.quick ? "1,8" : "1,50,500", o.conns, 1,
                              100000, "--conns", 0);
    int sizes[COMPARE_MAX_LIST];
    o.nsizes = parse_int_list(sizes_arg ? sizes_arg : o.quick ? "128" : "128,4096", sizes, 1,
                              65536, "--sizes", 1);
    for (int i = 0; i < o.nsizes; i++)
        o.sizes[i] = sizes[i];
    o.ndepths = parse_int_list(depths_arg ? depths_arg : o.quick ? "1" : "1,16", o.depths, 1,
                               4096, "--depths", 0);
    o.repeat = repeat ? repeat : o.quick ? 1 : 3;
    o.duration_s = duration_ms > 0 ? duration_ms / 1000.0 : o.quick ? 0.3 : 2.0;
    if (o.udp)
        for (int i = 0; i < o.nsizes; i++)
            if (o.sizes[i] < 8 || o.sizes[i] > 65507)
                cli_usage_error("UDP messages are 8 to 65507 bytes (--sizes %ld)", o.sizes[i]);
    compare_check_names(o.models, "model", o.udp);
    compare_check_names(o.peers, "peer", o.udp);

    ssize_t n = readlink("/proc/self/exe", compare_self_path, sizeof compare_self_path - 1);
    if (n <= 0)
        cli_fail("cannot find this program (/proc/self/exe): %s", strerror(errno));
    compare_self_path[n] = '\0';
    static char default_peer_dir[sizeof compare_self_path + 8];
    if (o.peer_dir == NULL) {
        snprintf(default_peer_dir, sizeof default_peer_dir, "%s", compare_self_path);
        char *slash = strrchr(default_peer_dir, '/');
        snprintf(slash ? slash + 1 : default_peer_dir,
                 sizeof default_peer_dir - (size_t)(slash ? slash + 1 - default_peer_dir : 0),
                 "peers");
        o.peer_dir = default_peer_dir;
    }
    default_cpus(&o);
    if (o.pin) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0 &&
            (!CPU_ISSET(o.server_cpu, &set) || !CPU_ISSET(o.client_cpu, &set)))
            cli_usage_error("CPU %d or %d is not one this process may use", o.server_cpu,
                            o.client_cpu);
    }

    struct server servers[COMPARE_MAX_SERVERS];
    int nservers = compare_add_servers(&o, servers);
    if (nservers == 0)
        cli_usage_error("nothing to compare: no model or peer selected");

    struct point points[COMPARE_MAX_LIST * COMPARE_MAX_LIST * COMPARE_MAX_LIST];
    int npoints = 0;
    for (int i = 0; i < o.nconns; i++)
        for (int j = 0; j < o.nsizes; j++)
            for (int k = 0; k < o.ndepths; k++)
                points[npoints++] = (struct point){ o.conns[i], o.depths[k], o.sizes[j] };

    struct cell *cells = calloc((size_t)(npoints * nservers), sizeof *cells);
    struct run *runs = calloc((size_t)(npoints * nservers * o.repeat), sizeof *runs);
    struct summary *sums = calloc((size_t)nservers, sizeof *sums);
    if (cells == NULL || runs == NULL || sums == NULL)
        cli_fail("out of memory");
    for (int i = 0; i < npoints * nservers; i++)
        cells[i].runs = &runs[i * o.repeat];

    compare_children_init();
    sk__signal_set_flag(SIGINT, &compare_stop_requested);
    sk__signal_set_flag(SIGTERM, &compare_stop_requested);
    sk__signal_set_flag(SIGHUP, &compare_stop_requested);

    struct report rp = { &o, servers, nservers, points, npoints, cells, sums, -1, -1, "", "", 0 };
    compare_describe_machine(rp.machine, sizeof rp.machine);
    time_t now = time(NULL);
    strftime(rp.date, sizeof rp.date, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));

    int runnable = 0;
    for (int s = 0; s < nservers; s++) {
        if (servers[s].skip[0])
            fprintf(stderr, "%s: %s %s skipped: %s\n", cli_prog,
                    servers[s].is_model ? "model" : "peer", servers[s].name, servers[s].skip);
        else
            runnable++;
    }
    int total = npoints * o.repeat * runnable, done = 0;
    char label[96];
    /* Point by point; at each, every server once per round. */
    for (int p = 0; p < npoints && !compare_stop_requested; p++) {
        compare_point_label(&points[p], o.udp, label, sizeof label);
        for (int r = 0; r < o.repeat && !compare_stop_requested; r++) {
            for (int s = 0; s < nservers && !compare_stop_requested; s++) {
                if (servers[s].skip[0])
                    continue;
                struct run *run = &compare_cell(&rp, p, s)->runs[r];
                /* A server that hung bench once at this point would again:
                 * its other runs here are not worth the wait. */
                if (r > 0 && strncmp(compare_cell(&rp, p, s)->runs[r - 1].note, COMPARE_HUNG_NOTE,
                                     strlen(COMPARE_HUNG_NOTE)) == 0)
                    memcpy(run->note, compare_cell(&rp, p, s)->runs[r - 1].note, sizeof run->note);
                else
                    compare_run_one(&servers[s], &o, &points[p], run);
                done++;
                if (run->have)
                    fprintf(stderr, "%s: [%d/%d] %s, run %d: %-10s %10.0f msg/s  p99 %9.1f us"
                                    "  errors %.0f%s%s\n", cli_prog, done, total, label, r + 1,
                            servers[s].name, run->msgs_per_s, run->p99_us, run->errors,
                            run->note[0] ? "  " : "", run->note);
                else
                    fprintf(stderr, "%s: [%d/%d] %s, run %d: %-10s %s\n", cli_prog, done, total,
                            label, r + 1, servers[s].name, run->note);
            }
        }
    }
    rp.interrupted = compare_stop_requested != 0;
    if (rp.interrupted)
        fprintf(stderr, "%s: interrupted; the tables hold the runs that finished\n", cli_prog);

    for (int i = 0; i < npoints * nservers; i++)
        compare_summarise_cell(&cells[i], o.repeat);
    compare_summarise_servers(&rp);
    compare_print_tables(stdout, &rp, 0);
    fflush(stdout);
    if (o.md_path != NULL) {
        FILE *f = open_output(o.md_path);
        compare_print_tables(f, &rp, 1);
        if (fclose(f) != 0)
            cli_fail("cannot write '%s': %s", o.md_path, strerror(errno));
    }
    if (o.json_path != NULL) {
        FILE *f = open_output(o.json_path);
        compare_write_json(f, &rp);
        int write_failed = ferror(f);
        if (fclose(f) != 0 || write_failed)
            cli_fail("cannot write '%s': %s", o.json_path, strerror(errno));
    }
    free(cells);
    free(runs);
    free(sums);
    return rp.interrupted ? EXIT_RUNTIME : 0;
}
