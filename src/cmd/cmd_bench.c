/*
 * cmd_bench.c - `sockit bench HOST PORT`: load an echo server, check every
 * byte, report throughput and latency percentiles.
 *
 * The measuring is sk_bench_run(); this file parses options, prints a
 * progress line a second on a terminal, writes JSON (one object per
 * interval and a final one) and merges the final objects of several runs
 * (--merge) exactly, from their histogram buckets.
 */
#include "cli.h"
#include "cli_getopt.h"
#include "sk_addr.h"
#include "sk_bench.h"
#include "sk_error.h"

#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help_text[] =
    "usage: sockit bench HOST PORT [options]\n"
    "       sockit bench --merge FILE.json FILE.json... [--json]\n"
    "\n"
    "Load an echo server and measure it.  Every reply is checked byte for\n"
    "byte against what was sent (each message differs by connection and\n"
    "sequence); any mismatch, reset, short reply, timeout, UDP loss or UDP\n"
    "duplicate is an error and makes the exit status 1.  UDP reordering and\n"
    "late replies are reported but are not errors (UDP promises neither).\n"
    "\n"
    "options:\n"
    "  -c, --conns N        connections, or UDP sockets (default 1)\n"
    "  -s, --size BYTES     message size (default 64; UDP: 8 to 65507)\n"
    "  -d, --depth K        messages in flight per connection (default 1)\n"
    "  -t, --duration SEC   run this long (default 10)\n"
    "  -n, --count N        or send N messages in all (connections with\n"
    "                       --connect-rate)\n"
    "  -r, --rate R         open loop: R messages per second in all, latency\n"
    "                       measured from when each was due\n"
    "      --connect-rate   connect, one echo, close, repeatedly: connections\n"
    "                       per second (--conns of them at once)\n"
    "  -u, --udp            UDP: reports loss, duplicates and reordering\n"
    "  -T, --threads N      event-loop threads (default 1)\n"
    "      --timeout SEC    connect timeout, UDP loss timeout and the final\n"
    "                       wait for replies; with --count, the longest wait\n"
    "                       for any reply (default 2)\n"
    "      --json           JSON lines on stdout: one object per second and\n"
    "                       a final one (see the README for the fields)\n"
    "      --merge          merge the final objects of runs taken at once\n"
    "  -h, --help           this text\n";

static sk_flag_t stop_requested;

struct output {
    int json, progress;
    const struct sk_bench_config *cfg;
};

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static void print_interval(void *ctx, const struct sk_bench_report *r)
{
    struct output *o = ctx;
    double rate = r->interval_s > 0 ? (double)r->counts.msgs / r->interval_s : 0;
    double mb = r->interval_s > 0 ? (double)r->counts.bytes / r->interval_s / 1e6 : 0;
    uint64_t errors = sk_bench_errors(&r->counts);
    if (o->json) {
        printf("{\"type\":\"interval\",\"t\":%.3f,\"msgs\":%llu,\"msgs_per_s\":%.1f,"
               "\"mbytes_per_s\":%.3f,\"connects\":%llu,\"p50_us\":%.1f,\"p90_us\":%.1f,"
               "\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"errors\":%llu}\n",
               r->elapsed_s, (unsigned long long)r->counts.msgs, rate, mb,
               (unsigned long long)r->counts.connects, us(sk_hist_quantile(r->hist, 0.5)),
               us(sk_hist_quantile(r->hist, 0.9)), us(sk_hist_quantile(r->hist, 0.99)),
               us(sk_hist_quantile(r->hist, 0.999)), us(r->hist->max),
               (unsigned long long)errors);
        fflush(stdout);
    }
    if (o->progress) {
        fprintf(stderr, "%6.1fs %12.0f msg/s %9.2f MB/s  p50 %8.1f us  p99 %8.1f us  errors %llu\n",
                r->elapsed_s, rate, mb, us(sk_hist_quantile(r->hist, 0.5)),
                us(sk_hist_quantile(r->hist, 0.99)), (unsigned long long)errors);
    }
}

/* Totals of a run (or of merged runs) and their histogram. */
struct result {
    struct sk_bench_counts counts;
    double elapsed_s;
    double msgs_per_s, mbytes_per_s, connects_per_s;
    double cpu_user_s, cpu_sys_s;
    struct sk_hist *hist;
};

static void print_hist_json(const struct sk_hist *h)
{
    printf(",\"hist\":{\"unit\":\"ns\",\"min\":%llu,\"max\":%llu,\"buckets\":[",
           (unsigned long long)(h->count ? h->min : 0), (unsigned long long)h->max);
    int first = 1;
    for (size_t i = 0; i < SK_HIST_BUCKETS; i++) {
        if (h->buckets[i] == 0)
            continue;
        printf("%s[%zu,%llu]", first ? "" : ",", i, (unsigned long long)h->buckets[i]);
        first = 0;
    }
    printf("]}");
}

static void print_final(const struct result *r, const struct sk_bench_config *cfg, int json)
{
    const struct sk_hist *h = r->hist;
    const struct sk_bench_counts *c = &r->counts;
    uint64_t errors = sk_bench_errors(c);
    double mb = r->mbytes_per_s;
    uint64_t work = c->msgs ? c->msgs : c->connects;
    double cpu_us = work ? (r->cpu_user_s + r->cpu_sys_s) * 1e6 / (double)work : 0;
    if (json) {
        printf("{\"type\":\"final\"");
        if (cfg != NULL)
            printf(",\"host\":\"%s\",\"port\":\"%s\",\"proto\":\"%s\",\"mode\":\"%s\","
                   "\"conns\":%d,\"size\":%zu,\"depth\":%d,\"rate\":%.1f,\"threads\":%d",
                   cfg->host, cfg->port, cfg->udp ? "udp" : "tcp",
                   cfg->mode == SK_BENCH_CONNECT ? "connect" : "echo", cfg->conns, cfg->size,
                   cfg->depth, cfg->rate, cfg->threads);
        printf(",\"duration_s\":%.3f,\"msgs\":%llu,\"bytes\":%llu,\"msgs_per_s\":%.1f,"
               "\"mbytes_per_s\":%.3f,\"connects\":%llu,\"connects_per_s\":%.1f,"
               "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
               "\"max_us\":%.1f,\"errors\":%llu,\"mismatches\":%llu,\"resets\":%llu,"
               "\"short_replies\":%llu,\"connect_failures\":%llu,\"timeouts\":%llu,"
               "\"udp_lost\":%llu,\"udp_duplicates\":%llu,\"udp_reordered\":%llu,"
               "\"udp_late\":%llu,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,"
               "\"cpu_us_per_msg\":%.3f",
               r->elapsed_s, (unsigned long long)c->msgs, (unsigned long long)c->bytes,
               r->msgs_per_s, mb, (unsigned long long)c->connects, r->connects_per_s,
               us(sk_hist_quantile(h, 0.5)), us(sk_hist_quantile(h, 0.9)),
               us(sk_hist_quantile(h, 0.99)), us(sk_hist_quantile(h, 0.999)), us(h->max),
               (unsigned long long)errors, (unsigned long long)c->mismatches,
               (unsigned long long)c->resets, (unsigned long long)c->short_replies,
               (unsigned long long)c->connect_failures, (unsigned long long)c->timeouts,
               (unsigned long long)c->udp_lost, (unsigned long long)c->udp_duplicates,
               (unsigned long long)c->udp_reordered, (unsigned long long)c->udp_late,
               r->cpu_user_s, r->cpu_sys_s, cpu_us);
        print_hist_json(h);
        printf("}\n");
        return;
    }
    if (cfg != NULL)
        printf("sockit bench: %s port %s, %s %s, %d connection%s x %zu B, depth %d%s, %.1f s\n",
               cfg->host, cfg->port, cfg->udp ? "udp" : "tcp",
               cfg->mode == SK_BENCH_CONNECT ? "connect+echo+close" : "echo", cfg->conns,
               cfg->conns == 1 ? "" : "s", cfg->size, cfg->depth,
               cfg->rate > 0 ? ", open loop" : "", r->elapsed_s);
    else
        printf("sockit bench: merged runs, %.1f s\n", r->elapsed_s);
    if (c->connects > 0 || (cfg && cfg->mode == SK_BENCH_CONNECT))
        printf("  connections %llu (%.1f/s)\n", (unsigned long long)c->connects,
               r->connects_per_s);
    printf("  messages    %llu (%.1f/s, %.2f MB/s each way)\n", (unsigned long long)c->msgs,
           r->msgs_per_s, mb);
    printf("  latency     p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us\n",
           us(sk_hist_quantile(h, 0.5)), us(sk_hist_quantile(h, 0.9)),
           us(sk_hist_quantile(h, 0.99)), us(sk_hist_quantile(h, 0.999)), us(h->max));
    printf("  errors      %llu", (unsigned long long)errors);
    if (errors > 0)
        printf(" (mismatches %llu, resets %llu, short replies %llu, connect failures %llu, "
               "timeouts %llu, lost %llu, duplicates %llu)",
               (unsigned long long)c->mismatches, (unsigned long long)c->resets,
               (unsigned long long)c->short_replies, (unsigned long long)c->connect_failures,
               (unsigned long long)c->timeouts, (unsigned long long)c->udp_lost,
               (unsigned long long)c->udp_duplicates);
    printf("\n");
    if (c->udp_reordered || c->udp_late)
        printf("  udp         reordered %llu, late %llu\n",
               (unsigned long long)c->udp_reordered, (unsigned long long)c->udp_late);
    if (r->cpu_user_s + r->cpu_sys_s > 0)
        printf("  cpu         %.2f s user, %.2f s system (%.2f us per %s)\n", r->cpu_user_s,
               r->cpu_sys_s, cpu_us, c->msgs ? "message" : "connection");
}

/* ---- --merge: read the final objects back --------------------------------- */

static int json_number(const char *obj, const char *key, double *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(obj, pat);
    if (p == NULL)
        return -1;
    char *end;
    *out = strtod(p + strlen(pat), &end);
    return end == p + strlen(pat) ? -1 : 0;
}

static char *read_final_line(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        cli_fail("cannot read '%s': %s", path, strerror(errno));
    char *line = NULL, *final = NULL;
    size_t cap = 0;
    while (sk_getline(&line, &cap, f) > 0) {
        if (strstr(line, "\"type\":\"final\"") != NULL) {
            free(final);
            final = strdup(line);
        }
    }
    free(line);
    fclose(f);
    if (final == NULL)
        cli_fail("'%s' holds no final object (was it written by 'sockit bench --json'?)",
                 path);
    return final;
}

/* A count or a time in ns from a merged file: a whole number that fits,
 * or the file is not one of ours (converting anything else is undefined). */
static uint64_t count_of(const char *path, const char *key, double v)
{
    if (!(v >= 0 && v < 18446744073709551616.0) || v != (double)(uint64_t)v)
        cli_fail("'%s': \"%s\" is %g, not a count", path, key, v);
    return (uint64_t)v;
}

static void merge_file(const char *path, struct result *into)
{
    char *obj = read_final_line(path);
    static const struct {
        const char *key;
        size_t off;
    } fields[] = {
#define F(name) { #name, offsetof(struct sk_bench_counts, name) }
        F(msgs), F(bytes), F(connects), F(mismatches), F(resets), F(short_replies),
        F(connect_failures), F(timeouts), F(udp_lost), F(udp_duplicates), F(udp_reordered),
        F(udp_late),
#undef F
    };
    double v;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (json_number(obj, fields[i].key, &v) < 0)
            cli_fail("'%s': final object lacks \"%s\"", path, fields[i].key);
        *(uint64_t *)((char *)&into->counts + fields[i].off) += count_of(path, fields[i].key, v);
    }
    /* Runs taken at the same time: rates add, the duration is the longest. */
    if (json_number(obj, "duration_s", &v) == 0 && v > into->elapsed_s)
        into->elapsed_s = v;
    if (json_number(obj, "msgs_per_s", &v) == 0)
        into->msgs_per_s += v;
    /* Like msgs_per_s (bytes / longest duration would disagree with it
     * whenever the runs' durations differ). */
    if (json_number(obj, "mbytes_per_s", &v) == 0)
        into->mbytes_per_s += v;
    if (json_number(obj, "connects_per_s", &v) == 0)
        into->connects_per_s += v;
    if (json_number(obj, "cpu_user_s", &v) == 0)
        into->cpu_user_s += v;
    if (json_number(obj, "cpu_sys_s", &v) == 0)
        into->cpu_sys_s += v;

    const char *b = strstr(obj, "\"buckets\":[");
    if (b == NULL)
        cli_fail("'%s': final object has no histogram", path);
    b += strlen("\"buckets\":[");
    struct sk_hist *h = into->hist;
    double lo, hi;
    if (json_number(obj, "min", &lo) == 0 && json_number(obj, "max", &hi) == 0) {
        uint64_t mn = count_of(path, "min", lo), mx = count_of(path, "max", hi);
        if (mx > h->max)
            h->max = mx;
        if (mn < h->min && (mn > 0 || mx > 0))
            h->min = mn;
    }
    while (*b == '[') {
        char *end;
        unsigned long long idx = strtoull(b + 1, &end, 10);
        if (*end != ',')
            cli_fail("'%s': malformed histogram", path);
        unsigned long long n = strtoull(end + 1, &end, 10);
        if (*end != ']' || idx >= SK_HIST_BUCKETS)
            cli_fail("'%s': malformed histogram", path);
        h->buckets[idx] += n;
        h->count += n;
        b = end + 1;
        if (*b == ',')
            b++;
    }
    free(obj);
}

static int run_merge(int argc, char **argv, int json)
{
    if (argc < 1)
        cli_usage_error("--merge needs at least one JSON file");
    struct result r;
    memset(&r, 0, sizeof r);
    r.hist = malloc(sizeof *r.hist);
    if (r.hist == NULL)
        cli_fail("out of memory");
    sk_hist_init(r.hist);
    for (int i = 0; i < argc; i++)
        merge_file(argv[i], &r);
    print_final(&r, NULL, json);
    free(r.hist);
    return sk_bench_errors(&r.counts) == 0 ? 0 : EXIT_RUNTIME;
}

enum { OPT_CONNECT_RATE = 256, OPT_TIMEOUT, OPT_JSON, OPT_MERGE };

int cmd_bench(int argc, char **argv)
{
    static const struct option options[] = {
        { "conns", required_argument, NULL, 'c' },
        { "size", required_argument, NULL, 's' },
        { "depth", required_argument, NULL, 'd' },
        { "duration", required_argument, NULL, 't' },
        { "count", required_argument, NULL, 'n' },
        { "rate", required_argument, NULL, 'r' },
        { "connect-rate", no_argument, NULL, OPT_CONNECT_RATE },
        { "udp", no_argument, NULL, 'u' },
        { "threads", required_argument, NULL, 'T' },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "json", no_argument, NULL, OPT_JSON },
        { "merge", no_argument, NULL, OPT_MERGE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct sk_bench_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.conns = 1;
    cfg.size = 64;
    cfg.depth = 1;
    cfg.duration_s = 10;
    cfg.threads = 1;
    cfg.timeout_ms = 2000;
    int json = 0, merge = 0, have_duration = 0;
    char *end;

    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:s:d:t:n:r:uT:h", options, NULL)) != -1) {
        switch (c) {
        case 'c': cfg.conns = (int)cli_parse_long(optarg, 1, 100000, "--conns"); break;
        case 's': cfg.size = (size_t)cli_parse_long(optarg, 1, SK_BENCH_MAX_SIZE, "--size"); break;
        case 'd': cfg.depth = (int)cli_parse_long(optarg, 1, 4096, "--depth"); break;
        case 't':
            cfg.duration_s = (double)cli_parse_seconds_ms(optarg, "--duration") / 1000.0;
            if (cfg.duration_s <= 0)
                cli_usage_error("--duration must be more than 0 seconds");
            have_duration = 1;
            break;
        case 'n':
            cfg.count = (uint64_t)cli_parse_long(optarg, 1, CLI_COUNT_MAX, "--count");
            break;
        case 'r':
            errno = 0;
            cfg.rate = strtod(optarg, &end);
            if (*optarg == '\0' || *end != '\0' || errno != 0 || !(cfg.rate > 0) || cfg.rate > 1e9)
                cli_usage_error("invalid --rate '%s' (expected messages per second)", optarg);
            break;
        case OPT_CONNECT_RATE: cfg.mode = SK_BENCH_CONNECT; break;
        case 'u': cfg.udp = 1; break;
        case 'T': cfg.threads = (int)cli_parse_long(optarg, 1, 256, "--threads"); break;
        case OPT_TIMEOUT:
            cfg.timeout_ms = cli_parse_seconds_ms(optarg, "--timeout");
            if (cfg.timeout_ms <= 0)
                cli_usage_error("--timeout must be more than 0 seconds");
            break;
        case OPT_JSON: json = 1; break;
        case OPT_MERGE: merge = 1; break;
        case 'h': cli_help(help_text);
        default: cli_bad_option(argc, argv);
        }
    }
    if (merge)
        return run_merge(argc - optind, argv + optind, json);
    if (argc - optind != 2)
        cli_usage_error(argc - optind < 2 ? "missing HOST and PORT" : "unexpected argument '%s'",
                        argv[optind + 2 < argc ? optind + 2 : 0]);
    cfg.host = argv[optind];
    cfg.port = argv[optind + 1];
    if (sk_port_parse(cfg.port, cfg.udp ? SOCK_DGRAM : SOCK_STREAM) <= 0)
        cli_usage_error("invalid port '%s' (expected 1-65535 or a service name)", cfg.port);
    if (have_duration && cfg.count > 0)
        cli_usage_error("give --duration or --count, not both");
    if (cfg.udp && (cfg.size < 8 || cfg.size > 65507))
        cli_usage_error("UDP messages are 8 to 65507 bytes (--size %zu)", cfg.size);
    if (cfg.udp && cfg.mode == SK_BENCH_CONNECT)
        cli_usage_error("--connect-rate measures TCP connections; drop -u");
    if (cfg.mode == SK_BENCH_CONNECT && (cfg.rate > 0 || cfg.depth > 1))
        cli_usage_error("--connect-rate sends one message per connection: no --rate or --depth");
    if (cfg.rate > 0 && cfg.depth > 1)
        cli_usage_error("--rate sets the pace itself; --depth applies to the closed loop");

    struct output out = { json, !json && sk_fd_isatty(2), &cfg };
    cfg.on_interval = (out.json || out.progress) ? print_interval : NULL;
    cfg.ctx = &out;
    cfg.stop = &stop_requested;
    sk_signal_set_flag(SIGINT, &stop_requested);
    sk_signal_set_flag(SIGTERM, &stop_requested);

    double user_before = 0, sys_before = 0, user_after = 0, sys_after = 0;
    sk_cpu_times(&user_before, &sys_before);
    struct sk_bench_report final;
    struct result r;
    memset(&r, 0, sizeof r);
    r.hist = malloc(sizeof *r.hist);
    if (r.hist == NULL)
        cli_fail("out of memory");
    int rc = sk_bench_run(&cfg, &final, r.hist);
    if (rc < 0)
        cli_fail("cannot connect to %s port %s: %s", cfg.host, cfg.port, sk_strerror(rc));
    sk_cpu_times(&user_after, &sys_after);
    r.counts = final.counts;
    r.elapsed_s = final.elapsed_s;
    r.msgs_per_s = r.elapsed_s > 0 ? (double)r.counts.msgs / r.elapsed_s : 0;
    r.mbytes_per_s = r.elapsed_s > 0 ? (double)r.counts.bytes / r.elapsed_s / 1e6 : 0;
    r.connects_per_s = r.elapsed_s > 0 ? (double)r.counts.connects / r.elapsed_s : 0;
    r.cpu_user_s = user_after - user_before;
    r.cpu_sys_s = sys_after - sys_before;
    print_final(&r, &cfg, json);
    uint64_t errors = sk_bench_errors(&r.counts);
    free(r.hist);
    if (errors > 0) {
        fprintf(stderr, "%s: %llu error%s\n", cli_prog, (unsigned long long)errors,
                errors == 1 ? "" : "s");
        return EXIT_RUNTIME;
    }
    if (r.counts.msgs == 0) {
        fprintf(stderr, "%s: no reply arrived\n", cli_prog);
        return EXIT_RUNTIME;
    }
    return 0;
}
