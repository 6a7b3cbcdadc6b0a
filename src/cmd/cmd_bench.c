/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_bench.c - `sockit bench HOST PORT`: load an echo server, check every
 * byte, report throughput and latency percentiles.
 *
 * The measuring is sk_bench_run(); this file parses options, prints a
 * progress line a second on a terminal, writes JSON (one object per
 * interval and a final one) and merges the final objects of several runs
 * (--merge) exactly, from their histogram buckets.
 */
#include "bench_stream.h"
#include "cli.h"
#include "cli_getopt.h"
#include "cli_json.h"
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
    "       sockit bench HOST PORT --stream [-R] [-P N] [-D SEC] [-s BYTES] [-J]\n"
    "       sockit bench --merge FILE.json FILE.json... [-J]\n"
    "\n"
    "Load an echo server and measure it.  Every reply is checked byte for\n"
    "byte against what was sent (each byte depends on the connection and\n"
    "its place in the stream, at any size); any mismatch, reset, short\n"
    "reply, timeout, UDP loss or UDP duplicate is an error and makes the\n"
    "exit status 1.  UDP reordering and late replies are reported but are\n"
    "not errors (UDP promises neither).\n"
    "\n"
    "With --stream it measures throughput instead, as iperf3 does: one-way\n"
    "TCP streams to a sink such as 'sockit serve discard' (each write --size\n"
    "bytes, default 128K; at the end a FIN, and the sink's close as the\n"
    "receipt that it read every byte), or with -R from a source such as\n"
    "'sockit serve chargen'.  It prints bits and bytes per second each\n"
    "second and for the whole run.\n"
    "\n"
    "options:\n"
    "  -c, --conns N        connections, or UDP sockets (default 1)\n"
    "  -s, --size BYTES     message size (default 64; UDP: 8 to 65507; 8K)\n"
    "  -d, --depth K        messages in flight per connection (default 1)\n"
    "  -D, --duration SEC   run this long (default 10; 2s, 500ms)\n"
    "  -n, --count N        or send N messages in all (connections with\n"
    "                       --connect-rate)\n"
    "  -r, --rate R         open loop: R messages per second in all, latency\n"
    "                       measured from when each was due; a run that\n"
    "                       reaches less than 95% of R says so\n"
    "      --connect-rate   connect, one echo, close, repeatedly: connections\n"
    "                       per second (--conns of them at once)\n"
    "  -u, --udp            UDP: reports loss, duplicates and reordering\n"
    "      --stream         throughput: stream to the server (a sink)\n"
    "  -R, --reverse        throughput: stream from the server (a source)\n"
    "  -P, --parallel N     streams at once (the same as --conns)\n"
    "  -4, -6               IPv4 or IPv6 addresses of HOST only\n"
    "  -T, --threads N      event-loop threads (default 1)\n"
    "      --engine E       how TCP echo moves its bytes: uring (io_uring,\n"
    "                       one submit per turn of the loop for every\n"
    "                       connection's sends and replies; Linux), poll\n"
    "                       (epoll: a system call per send and per\n"
    "                       receive), or auto (default: uring where it\n"
    "                       runs, else poll).  UDP, --stream and\n"
    "                       --connect-rate always use poll\n"
    "  -t, -w, --timeout SEC\n"
    "                       connect timeout, UDP loss timeout and the final\n"
    "                       wait for replies; with --count, the longest wait\n"
    "                       for any reply (default 2)\n"
    "  -J, --json           JSON lines on stdout: one object per second and\n"
    "                       a final one (see the README for the fields)\n"
    "      --merge          merge the final objects of runs taken at once\n"
    "                       (any JSON holding them: JSON lines, or one object\n"
    "                       however laid out)\n"
    "  -q, --quiet          no progress lines on a terminal\n"
    "  -V, --version        print sockit's version\n"
    "  -h, --help           this text\n";

static struct sk_stop stop_requested; /* its flag is set by the signal handler */

struct output {
    int json, progress;
    const struct sk_bench_config *cfg;
};

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

/* A percentile of h in microseconds for the text forms: "n/a" when h
 * holds no sample, since a latency of 0 would be a measurement. */
static const char *us_text(char *buf, size_t cap, const struct sk_hist *h, double q)
{
    if (h->count == 0)
        return "n/a";
    snprintf(buf, cap, "%.1f", us(q >= 1.0 ? h->max : sk_hist_quantile(h, q)));
    return buf;
}

/* The same for JSON: null when h holds no sample. */
static struct cli_json *us_json(const struct sk_hist *h, double q)
{
    if (h->count == 0)
        return NULL;
    return cli_json_fixed(us(q >= 1.0 ? h->max : sk_hist_quantile(h, q)), 1);
}

static void add_percentiles(struct cli_json *o, const struct sk_hist *h)
{
    cli_json_add(o, "p50_us", us_json(h, 0.5));
    cli_json_add(o, "p90_us", us_json(h, 0.9));
    cli_json_add(o, "p99_us", us_json(h, 0.99));
    cli_json_add(o, "p999_us", us_json(h, 0.999));
    cli_json_add(o, "max_us", us_json(h, 1.0));
}

/* One object a line on stdout, flushed: a reader sees each as it comes. */
static void put_json_line(struct cli_json *o)
{
    if (cli_json_write(stdout, o, 0) < 0 || fflush(stdout) == EOF)
        cli_fail("cannot write to standard output: %s", strerror(errno));
    cli_json_free(o);
}

static struct cli_json *new_record(const char *type)
{
    struct cli_json *o = cli_json_object();
    cli_json_add(o, "type", cli_json_string(type));
    cli_json_stamp(o);
    return o;
}

static int is_stream(const struct sk_bench_config *cfg)
{
    return cfg->mode == SK_BENCH_STREAM_SEND || cfg->mode == SK_BENCH_STREAM_RECV;
}

static void print_interval(void *ctx, const struct sk_bench_report *r)
{
    struct output *o = ctx;
    if (is_stream(o->cfg)) {
        bench_stream_interval(r, o->json, o->progress);
        return;
    }
    double rate = r->interval_s > 0 ? (double)r->counts.msgs / r->interval_s : 0;
    double mb = r->interval_s > 0 ? (double)r->counts.bytes / r->interval_s / 1e6 : 0;
    uint64_t errors = sk_bench_errors(&r->counts);
    if (o->json) {
        struct cli_json *j = new_record("interval");
        cli_json_add(j, "t", cli_json_fixed(r->elapsed_s, 3));
        cli_json_add(j, "msgs", cli_json_uint(r->counts.msgs));
        cli_json_add(j, "msgs_per_s", cli_json_fixed(rate, 1));
        cli_json_add(j, "mbytes_per_s", cli_json_fixed(mb, 3));
        cli_json_add(j, "connects", cli_json_uint(r->counts.connects));
        add_percentiles(j, r->hist);
        cli_json_add(j, "errors", cli_json_uint(errors));
        put_json_line(j);
    }
    if (o->progress) {
        char p50[32], p99[32];
        fprintf(stderr, "%6.1fs %12.0f msg/s %9.2f MB/s  p50 %8s us  p99 %8s us  errors %llu\n",
                r->elapsed_s, rate, mb, us_text(p50, sizeof p50, r->hist, 0.5),
                us_text(p99, sizeof p99, r->hist, 0.99), (unsigned long long)errors);
    }
}

/* Totals of a run (or of merged runs) and their histogram. */
struct result {
    struct sk_bench_counts counts;
    double elapsed_s;
    double msgs_per_s, mbytes_per_s, connects_per_s;
    double cpu_user_s, cpu_sys_s;
    struct sk_hist *hist;
    enum sk_bench_engine engine; /* the one that ran (not for --merge) */
    /* An open-loop run (-r) that fell short of the rate asked by more
     * than RATE_SHORTFALL says so; the message is empty otherwise. */
    char rate_warning[160];
};

/* Below 95% of the rate asked, the run measured a slower pace than the
 * one the user will quote it for. */
#define RATE_SHORTFALL 0.95

static struct cli_json *hist_json(const struct sk_hist *h)
{
    struct cli_json *j = cli_json_object();
    cli_json_add(j, "unit", cli_json_string("ns"));
    cli_json_add(j, "min", h->count ? cli_json_uint(h->min) : NULL);
    cli_json_add(j, "max", h->count ? cli_json_uint(h->max) : NULL);
    struct cli_json *buckets = cli_json_array();
    for (size_t i = 0; i < SK_HIST_BUCKETS; i++) {
        if (h->buckets[i] == 0)
            continue;
        struct cli_json *pair = cli_json_array();
        cli_json_add(pair, NULL, cli_json_uint(i));
        cli_json_add(pair, NULL, cli_json_uint(h->buckets[i]));
        cli_json_add(buckets, NULL, pair);
    }
    cli_json_add(j, "buckets", buckets);
    return j;
}

static void print_final_json(const struct result *r, const struct sk_bench_config *cfg)
{
    const struct sk_bench_counts *c = &r->counts;
    uint64_t work = c->msgs ? c->msgs : c->connects;
    double cpu_us = work ? (r->cpu_user_s + r->cpu_sys_s) * 1e6 / (double)work : 0;
    struct cli_json *j = new_record("final");
    if (cfg != NULL) {
        cli_json_add(j, "host", cli_json_string(cfg->host));
        cli_json_add(j, "port", cli_json_int(sk_port_parse(cfg->port,
                                                           cfg->udp ? SOCK_DGRAM : SOCK_STREAM)));
        cli_json_add(j, "proto", cli_json_string(cfg->udp ? "udp" : "tcp"));
        cli_json_add(j, "mode", cli_json_string(cfg->mode == SK_BENCH_CONNECT ? "connect"
                                                                               : "echo"));
        cli_json_add(j, "conns", cli_json_int(cfg->conns));
        cli_json_add(j, "size", cli_json_uint(cfg->size));
        cli_json_add(j, "depth", cli_json_int(cfg->depth));
        cli_json_add(j, "rate", cli_json_fixed(cfg->rate, 1));
        cli_json_add(j, "threads", cli_json_int(cfg->threads));
        cli_json_add(j, "engine", cli_json_string(sk_bench_engine_name(r->engine)));
        cli_json_add(j, "rate_reached_pct",
                     cfg->rate > 0 ? cli_json_fixed(100.0 * r->msgs_per_s / cfg->rate, 1) : NULL);
        cli_json_add(j, "rate_warning",
                     r->rate_warning[0] ? cli_json_string(r->rate_warning) : NULL);
    }
    cli_json_add(j, "duration_s", cli_json_fixed(r->elapsed_s, 3));
    cli_json_add(j, "msgs", cli_json_uint(c->msgs));
    cli_json_add(j, "bytes", cli_json_uint(c->bytes));
    cli_json_add(j, "msgs_per_s", cli_json_fixed(r->msgs_per_s, 1));
    cli_json_add(j, "mbytes_per_s", cli_json_fixed(r->mbytes_per_s, 3));
    cli_json_add(j, "connects", cli_json_uint(c->connects));
    cli_json_add(j, "connects_per_s", cli_json_fixed(r->connects_per_s, 1));
    add_percentiles(j, r->hist);
    cli_json_add(j, "errors", cli_json_uint(sk_bench_errors(c)));
    static const struct {
        const char *key;
        size_t off;
    } counts[] = {
#define F(name) { #name, offsetof(struct sk_bench_counts, name) }
        F(mismatches), F(resets), F(short_replies), F(connect_failures), F(timeouts),
        F(udp_lost), F(udp_duplicates), F(udp_reordered), F(udp_late),
#undef F
    };
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++)
        cli_json_add(j, counts[i].key,
                     cli_json_uint(*(const uint64_t *)((const char *)c + counts[i].off)));
    cli_json_add(j, "cpu_user_s", cli_json_fixed(r->cpu_user_s, 3));
    cli_json_add(j, "cpu_sys_s", cli_json_fixed(r->cpu_sys_s, 3));
    cli_json_add(j, "cpu_us_per_msg", cli_json_fixed(cpu_us, 3));
    cli_json_add(j, "hist", hist_json(r->hist));
    put_json_line(j);
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
        print_final_json(r, cfg);
        return;
    }
    if (cfg != NULL)
        printf("sockit bench: %s port %s, %s %s, %d connection%s x %zu B, depth %d%s, %.1f s, "
               "%s engine\n",
               cfg->host, cfg->port, cfg->udp ? "udp" : "tcp",
               cfg->mode == SK_BENCH_CONNECT ? "connect+echo+close" : "echo", cfg->conns,
               cfg->conns == 1 ? "" : "s", cfg->size, cfg->depth,
               cfg->rate > 0 ? ", open loop" : "", r->elapsed_s, sk_bench_engine_name(r->engine));
    else
        printf("sockit bench: merged runs, %.1f s\n", r->elapsed_s);
    if (c->connects > 0 || (cfg && cfg->mode == SK_BENCH_CONNECT))
        printf("  connections %llu (%.1f/s)\n", (unsigned long long)c->connects,
               r->connects_per_s);
    printf("  messages    %llu (%.1f/s, %.2f MB/s each way)\n", (unsigned long long)c->msgs,
           r->msgs_per_s, mb);
    char p50[32], p90[32], p99[32], p999[32], max[32];
    const char *unit = h->count ? " us" : "";
    printf("  latency     p50 %s%s  p90 %s%s  p99 %s%s  p99.9 %s%s  max %s%s\n",
           us_text(p50, sizeof p50, h, 0.5), unit, us_text(p90, sizeof p90, h, 0.9), unit,
           us_text(p99, sizeof p99, h, 0.99), unit, us_text(p999, sizeof p999, h, 0.999), unit,
           us_text(max, sizeof max, h, 1.0), unit);
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

/* What merge_file holds while it checks one file: file-wide so that the
 * fuzz harness, whose cli_fail() jumps back instead of exiting, can free
 * it after a rejection (merge_release). */
static struct {
    char *text;
    struct cli_json *values; /* every value in the file, in an array */
} merge_held;

static void merge_release(void)
{
    free(merge_held.text);
    cli_json_free(merge_held.values);
    merge_held.text = NULL;
    merge_held.values = NULL;
}

/* The whole file, NUL-terminated; *len its size. */
static char *read_whole_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        cli_fail("cannot read '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    for (;;) {
        if (text == NULL)
            cli_fail("out of memory");
        n += fread(text + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        cap *= 2;
        char *bigger = realloc(text, cap);
        if (bigger == NULL)
            free(text);
        text = bigger;
    }
    text[n] = '\0';
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(text);
        cli_fail("cannot read '%s': %s", path, strerror(errno));
    }
    *len = n;
    return text;
}

static int is_final(const struct cli_json *v)
{
    const char *type = cli_json_text(cli_json_get(v, "type"));
    return type != NULL && strcmp(type, "final") == 0;
}

/* The last final object of path: its JSON values one after another (the
 * JSON lines bench --json writes, or one object however it is laid out),
 * or one array of them.  Anything that is not JSON is refused with where
 * it went wrong. */
static const struct cli_json *read_final_object(const char *path)
{
    size_t len, at = 0;
    merge_held.text = read_whole_file(path, &len);
    const char *text = merge_held.text;
    if (strlen(text) != len)
        cli_fail("'%s' is not JSON text: it holds a NUL byte", path);
    merge_held.values = cli_json_array();
    const struct cli_json *final = NULL;
    while (at < len) {
        size_t used, error_at;
        char why[128];
        struct cli_json *v = cli_json_parse(text + at, len - at, &used, &error_at, why,
                                            sizeof why);
        if (used == 0) {
            size_t bad = at + error_at, line = 1, column = 1;
            for (size_t i = 0; i < bad && i < len; i++, column++)
                if (text[i] == '\n')
                    line++, column = 0;
            cli_fail("'%s' is not valid JSON: %s at line %zu, column %zu", path, why, line,
                     column);
        }
        at += used;
        cli_json_add(merge_held.values, NULL, v);
        if (is_final(v))
            final = v;
        for (size_t i = 0; i < cli_json_length(v); i++)
            if (is_final(cli_json_at(v, i)))
                final = cli_json_at(v, i);
    }
    if (final == NULL)
        cli_fail("'%s' holds no final object (was it written by 'sockit bench --json'?)",
                 path);
    return final;
}

/* A count from a merged file: a whole number from 0 to 2^64-1, or the
 * file is not one of ours. */
static uint64_t count_of(const char *path, const struct cli_json *obj, const char *key)
{
    const struct cli_json *v = cli_json_get(obj, key);
    uint64_t n;
    if (v == NULL)
        cli_fail("'%s': final object lacks \"%s\"", path, key);
    if (cli_json_count(v, &n) < 0)
        cli_fail("'%s': \"%s\" is not a count", path, key);
    return n;
}

/* A figure that may be missing (older files); a present one must be a
 * number. */
static double figure_of(const char *path, const struct cli_json *obj, const char *key)
{
    const struct cli_json *v = cli_json_get(obj, key);
    double d = 0;
    if (v != NULL && (cli_json_double(v, &d) < 0 || !(d >= 0 && d < 1e300)))
        cli_fail("'%s': \"%s\" is not a number of 0 or more", path, key);
    return d;
}

static void merge_file(const char *path, struct result *into)
{
    const struct cli_json *obj = read_final_object(path);
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
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        *(uint64_t *)((char *)&into->counts + fields[i].off) += count_of(path, obj, fields[i].key);
    /* Runs taken at the same time: rates add, the duration is the longest.
     * mbytes_per_s adds like msgs_per_s (bytes / longest duration would
     * disagree with it whenever the runs' durations differ). */
    double duration = figure_of(path, obj, "duration_s");
    if (duration > into->elapsed_s)
        into->elapsed_s = duration;
    into->msgs_per_s += figure_of(path, obj, "msgs_per_s");
    into->mbytes_per_s += figure_of(path, obj, "mbytes_per_s");
    into->connects_per_s += figure_of(path, obj, "connects_per_s");
    into->cpu_user_s += figure_of(path, obj, "cpu_user_s");
    into->cpu_sys_s += figure_of(path, obj, "cpu_sys_s");

    const struct cli_json *hist = cli_json_get(obj, "hist");
    const struct cli_json *buckets = cli_json_get(hist, "buckets");
    if (cli_json_type_of(buckets) != CLI_JSON_ARRAY)
        cli_fail("'%s': final object has no histogram", path);
    /* Check every bucket before adding any, so a rejected file leaves
     * the merge as it was. */
    size_t n = cli_json_length(buckets);
    for (size_t i = 0; i < n; i++) {
        const struct cli_json *pair = cli_json_at(buckets, i);
        uint64_t idx, count;
        if (cli_json_length(pair) != 2 || cli_json_count(cli_json_at(pair, 0), &idx) < 0 ||
            cli_json_count(cli_json_at(pair, 1), &count) < 0 || idx >= SK_HIST_BUCKETS)
            cli_fail("'%s': malformed histogram (bucket %zu)", path, i);
    }
    struct sk_hist *h = into->hist;
    for (size_t i = 0; i < n; i++) {
        uint64_t idx, count;
        cli_json_count(cli_json_at(cli_json_at(buckets, i), 0), &idx);
        cli_json_count(cli_json_at(cli_json_at(buckets, i), 1), &count);
        h->buckets[idx] += count;
        h->count += count;
    }
    /* min and max are null for a run with no sample. */
    uint64_t mn, mx;
    if (cli_json_count(cli_json_get(hist, "min"), &mn) == 0 &&
        cli_json_count(cli_json_get(hist, "max"), &mx) == 0) {
        if (mx > h->max)
            h->max = mx;
        if (mn < h->min && (mn > 0 || mx > 0))
            h->min = mn;
    }
    merge_release();
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

enum { OPT_CONNECT_RATE = 256, OPT_MERGE, OPT_STREAM, OPT_ENGINE };

static enum sk_bench_engine parse_engine(const char *arg)
{
    static const enum sk_bench_engine all[] = { SK_BENCH_ENGINE_AUTO, SK_BENCH_ENGINE_POLL,
                                                SK_BENCH_ENGINE_URING };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (strcmp(arg, sk_bench_engine_name(all[i])) == 0)
            return all[i];
    cli_usage_error("invalid --engine '%s' (expected uring, poll or auto)", arg);
}

/* An engine asked for by name must be one that can run this mode here:
 * a mode it lacks is a usage error, an io_uring this system will not
 * give us a failure that says why. */
static void check_engine(const struct sk_bench_config *cfg)
{
    const char *why = NULL;
    int rc = sk_bench_engine_check(cfg, cfg->engine, &why);
    if (rc == -EINVAL)
        cli_usage_error("--engine %s: %s", sk_bench_engine_name(cfg->engine), why);
    if (rc < 0)
        cli_fail("--engine %s: %s; --engine poll runs without it",
                 sk_bench_engine_name(cfg->engine), why ? why : sk_strerror(rc));
}

/* The throughput mode's report and exit status. */
static int finish_stream(const struct sk_bench_config *cfg, const struct sk_bench_report *final,
                         struct sk_hist *hist, double user_s, double sys_s, int json)
{
    bench_stream_final(cfg, final, user_s, sys_s, json ? new_record("final") : NULL);
    free(hist);
    uint64_t errors = sk_bench_errors(&final->counts);
    if (errors > 0) {
        fprintf(stderr, "%s: %llu error%s\n", cli_prog, (unsigned long long)errors,
                errors == 1 ? "" : "s");
        return EXIT_RUNTIME;
    }
    if (final->counts.bytes == 0) {
        fprintf(stderr, "%s: no byte %s\n", cli_prog,
                cfg->mode == SK_BENCH_STREAM_SEND ? "was sent" : "arrived");
        return EXIT_RUNTIME;
    }
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option options[] = {
        { "conns", required_argument, NULL, 'c' },
        { "size", required_argument, NULL, 's' },
        { "depth", required_argument, NULL, 'd' },
        { "duration", required_argument, NULL, 'D' },
        { "count", required_argument, NULL, 'n' },
        { "rate", required_argument, NULL, 'r' },
        { "connect-rate", no_argument, NULL, OPT_CONNECT_RATE },
        { "udp", no_argument, NULL, 'u' },
        { "stream", no_argument, NULL, OPT_STREAM },
        { "reverse", no_argument, NULL, 'R' },
        { "parallel", required_argument, NULL, 'P' },
        { "threads", required_argument, NULL, 'T' },
        { "engine", required_argument, NULL, OPT_ENGINE },
        { "timeout", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'J' },
        { "merge", no_argument, NULL, OPT_MERGE },
        { "quiet", no_argument, NULL, 'q' },
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
    int json = 0, merge = 0, have_duration = 0, quiet = 0, have_size = 0, stream = 0;
    int reverse = 0, have_depth = 0;

    int c;
    opterr = 0;
    while ((c = cli_getopt(argc, argv, "c:s:d:D:t:w:n:r:uRP:T:J46qh", options)) != -1) {
        switch (c) {
        case 'c': cfg.conns = (int)cli_parse_long(optarg, 1, 100000, "--conns"); break;
        case 'P': cfg.conns = (int)cli_parse_long(optarg, 1, 100000, "--parallel"); break;
        case 's':
            cfg.size = (size_t)cli_parse_size(optarg, 1, SK_BENCH_MAX_SIZE, "--size");
            have_size = 1;
            break;
        case 'd':
            cfg.depth = (int)cli_parse_long(optarg, 1, 4096, "--depth");
            have_depth = 1;
            break;
        case OPT_STREAM: stream = 1; break;
        case 'R': reverse = 1; break;
        case '4':
        case '6': cli_set_family(&cfg.family, c); break;
        case 'q': quiet = 1; break;
        case 'D':
            cfg.duration_s = (double)cli_parse_seconds_ms(optarg, "--duration") / 1000.0;
            if (cfg.duration_s <= 0)
                cli_usage_error("--duration must be more than 0 seconds");
            have_duration = 1;
            break;
        case 'n':
            cfg.count = (uint64_t)cli_parse_long(optarg, 1, CLI_COUNT_MAX, "--count");
            break;
        case 'r':
            cfg.rate = cli_parse_decimal(optarg, 0, 1e9, "--rate", "messages per second");
            if (!(cfg.rate > 0))
                cli_usage_error("invalid --rate '%s' (expected messages per second)", optarg);
            break;
        case OPT_CONNECT_RATE: cfg.mode = SK_BENCH_CONNECT; break;
        case OPT_ENGINE: cfg.engine = parse_engine(optarg); break;
        case 'u': cfg.udp = 1; break;
        case 'T': cfg.threads = (int)cli_parse_long(optarg, 1, 256, "--threads"); break;
        case 't':
        case 'w':
            cfg.timeout_ms = cli_parse_seconds_ms(optarg, "--timeout");
            if (cfg.timeout_ms <= 0)
                cli_usage_error("--timeout must be more than 0 seconds");
            break;
        case 'J': json = 1; break;
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
    if (stream || reverse) {
        if (cfg.udp || cfg.mode == SK_BENCH_CONNECT || cfg.rate > 0 || cfg.count > 0 ||
            have_depth)
            cli_usage_error("--stream%s measures TCP throughput for --duration: no -u, "
                            "--connect-rate, --rate, --count or --depth",
                            reverse ? " (-R)" : "");
        if (reverse && have_size)
            cli_usage_error("-R reads what the server sends: --size sets the write size of "
                            "a --stream to the server");
        cfg.mode = reverse ? SK_BENCH_STREAM_RECV : SK_BENCH_STREAM_SEND;
        if (!have_size)
            cfg.size = 128 * 1024;
    }

    check_engine(&cfg);

    struct output out = { json, !json && !quiet && sk__fd_isatty(2), &cfg };
    cfg.on_interval = (out.json || out.progress) ? print_interval : NULL;
    cfg.ctx = &out;
    cfg.stop = &stop_requested;
    sk__signal_set_flag(SIGINT, &stop_requested.flag);
    sk__signal_set_flag(SIGTERM, &stop_requested.flag);

    double user_before = 0, sys_before = 0, user_after = 0, sys_after = 0;
    sk__cpu_times(&user_before, &sys_before);
    struct sk_bench_report final;
    struct result r;
    memset(&r, 0, sizeof r);
    r.hist = malloc(sizeof *r.hist);
    if (r.hist == NULL)
        cli_fail("out of memory");
    int rc = sk_bench_run(&cfg, &final, r.hist);
    if (rc < 0) {
        free(r.hist);
        cli_fail("cannot connect to %s port %s: %s", cfg.host, cfg.port, sk_strerror(rc));
    }
    sk__cpu_times(&user_after, &sys_after);
    if (is_stream(&cfg))
        return finish_stream(&cfg, &final, r.hist, user_after - user_before,
                             sys_after - sys_before, json);
    r.counts = final.counts;
    r.engine = final.engine;
    r.elapsed_s = final.elapsed_s;
    r.msgs_per_s = r.elapsed_s > 0 ? (double)r.counts.msgs / r.elapsed_s : 0;
    r.mbytes_per_s = r.elapsed_s > 0 ? (double)r.counts.bytes / r.elapsed_s / 1e6 : 0;
    r.connects_per_s = r.elapsed_s > 0 ? (double)r.counts.connects / r.elapsed_s : 0;
    r.cpu_user_s = user_after - user_before;
    r.cpu_sys_s = sys_after - sys_before;
    /* A run with errors fails and says why; the pace it kept is then
     * beside the point. */
    if (cfg.rate > 0 && r.msgs_per_s < RATE_SHORTFALL * cfg.rate &&
        sk_bench_errors(&r.counts) == 0) {
        snprintf(r.rate_warning, sizeof r.rate_warning,
                 "reached %.1f messages/s, %.1f%% of the %.1f asked with --rate", r.msgs_per_s,
                 100.0 * r.msgs_per_s / cfg.rate, cfg.rate);
        cli_warn("warning: %s", r.rate_warning);
    }
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
