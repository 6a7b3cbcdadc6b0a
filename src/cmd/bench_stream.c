/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bench_stream.c - the throughput mode's report, in the units iperf3
 * users read: bits per second (SI: 1 Gbit/s = 10^9 bit/s) beside bytes
 * per second (1 MB/s = 10^6 B/s), per interval and for the whole run.
 */
#include "bench_stream.h"
#include "cli.h"
#include "sk_addr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* "9.41 Gbit/s" and the like. */
static const char *bits_text(char *buf, size_t cap, double bits_per_s)
{
    static const char *units[] = { "bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s" };
    int u = 0;
    while (bits_per_s >= 1000.0 && u < 4) {
        bits_per_s /= 1000.0;
        u++;
    }
    snprintf(buf, cap, "%.2f %s", bits_per_s, units[u]);
    return buf;
}

static void put_json(struct cli_json *o)
{
    if (cli_json_write(stdout, o, 0) < 0 || fflush(stdout) == EOF)
        cli_fail("cannot write to standard output: %s", strerror(errno));
    cli_json_free(o);
}

void bench_stream_interval(const struct sk_bench_report *r, int json, int progress)
{
    double bytes_per_s = r->interval_s > 0 ? (double)r->counts.bytes / r->interval_s : 0;
    uint64_t errors = sk_bench_errors(&r->counts);
    if (json) {
        struct cli_json *j = cli_json_object();
        cli_json_add(j, "type", cli_json_string("interval"));
        cli_json_stamp(j);
        cli_json_add(j, "t", cli_json_fixed(r->elapsed_s, 3));
        cli_json_add(j, "interval_s", cli_json_fixed(r->interval_s, 3));
        cli_json_add(j, "bytes", cli_json_uint(r->counts.bytes));
        cli_json_add(j, "bytes_per_s", cli_json_fixed(bytes_per_s, 1));
        cli_json_add(j, "bits_per_s", cli_json_fixed(8 * bytes_per_s, 1));
        cli_json_add(j, "errors", cli_json_uint(errors));
        put_json(j);
    }
    if (progress) {
        char bits[32];
        fprintf(stderr, "%6.1fs %14s %10.2f MB/s  errors %llu\n", r->elapsed_s,
                bits_text(bits, sizeof bits, 8 * bytes_per_s), bytes_per_s / 1e6,
                (unsigned long long)errors);
    }
}

void bench_stream_final(const struct sk_bench_config *cfg, const struct sk_bench_report *r,
                        double cpu_user_s, double cpu_sys_s, struct cli_json *record)
{
    const struct sk_bench_counts *c = &r->counts;
    int sending = cfg->mode == SK_BENCH_STREAM_SEND;
    double bytes_per_s = r->elapsed_s > 0 ? (double)c->bytes / r->elapsed_s : 0;
    double cpu_s = cpu_user_s + cpu_sys_s;
    /* The generator's own cost: CPU seconds per gigabyte moved. */
    double cpu_per_gb = c->bytes ? cpu_s / ((double)c->bytes / 1e9) : 0;
    uint64_t errors = sk_bench_errors(c);
    if (record != NULL) {
        cli_json_add(record, "host", cli_json_string(cfg->host));
        cli_json_add(record, "port", cli_json_int(sk_port_parse(cfg->port, SOCK_STREAM)));
        cli_json_add(record, "proto", cli_json_string("tcp"));
        cli_json_add(record, "mode", cli_json_string(sending ? "stream-send" : "stream-recv"));
        cli_json_add(record, "streams", cli_json_int(cfg->conns));
        cli_json_add(record, "write_size", sending ? cli_json_uint(cfg->size) : NULL);
        cli_json_add(record, "threads", cli_json_int(cfg->threads));
        cli_json_add(record, "duration_s", cli_json_fixed(r->elapsed_s, 3));
        cli_json_add(record, "bytes", cli_json_uint(c->bytes));
        cli_json_add(record, "bytes_per_s", cli_json_fixed(bytes_per_s, 1));
        cli_json_add(record, "bits_per_s", cli_json_fixed(8 * bytes_per_s, 1));
        cli_json_add(record, "errors", cli_json_uint(errors));
        cli_json_add(record, "resets", cli_json_uint(c->resets));
        cli_json_add(record, "timeouts", cli_json_uint(c->timeouts));
        cli_json_add(record, "cpu_user_s", cli_json_fixed(cpu_user_s, 3));
        cli_json_add(record, "cpu_sys_s", cli_json_fixed(cpu_sys_s, 3));
        cli_json_add(record, "cpu_s_per_gb", cli_json_fixed(cpu_per_gb, 3));
        put_json(record);
        return;
    }
    char bits[32];
    printf("sockit bench: %s port %s, tcp stream %s the server, %d stream%s",
           cfg->host, cfg->port, sending ? "to" : "from", cfg->conns, cfg->conns == 1 ? "" : "s");
    if (sending)
        printf(" x %zu B writes", cfg->size);
    printf(", %.1f s\n", r->elapsed_s);
    printf("  %-12s%llu bytes (%.2f GB) in %.2f s\n", sending ? "sent" : "received",
           (unsigned long long)c->bytes, (double)c->bytes / 1e9, r->elapsed_s);
    printf("  rate        %s (%.2f MB/s)\n", bits_text(bits, sizeof bits, 8 * bytes_per_s),
           bytes_per_s / 1e6);
    printf("  errors      %llu", (unsigned long long)errors);
    if (errors > 0)
        printf(" (resets or early closes %llu, sinks that never closed after our FIN %llu, "
               "connect failures %llu)",
               (unsigned long long)c->resets, (unsigned long long)c->timeouts,
               (unsigned long long)c->connect_failures);
    printf("\n");
    if (cpu_s > 0)
        printf("  cpu         %.2f s user, %.2f s system (%.3f s per GB)\n", cpu_user_s,
               cpu_sys_s, cpu_per_gb);
}
