/*
 * sk_bench.h - the load generator behind `sockit bench`.
 *
 * Drives an echo server with many connections (or UDP sockets) from
 * event loops on one or more threads, checks every byte that comes back
 * against what was sent, and measures latency into sk_hist histograms.
 *
 * Every message is different: it starts with an 8-byte header (connection
 * number and sequence number) and continues with bytes taken from a
 * random block at an offset that depends on both, so a reply delivered to
 * the wrong connection, reordered, duplicated or corrupted never passes.
 * Sending uses writev() straight from the block, so generating load costs
 * no copying; checking is one memcmp per received chunk.
 */
#ifndef SK_BENCH_H
#define SK_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "sk_compat.h"
#include "sk_hist.h"

#define SK_BENCH_MAX_SIZE (1u << 20)

enum sk_bench_mode {
    SK_BENCH_ECHO,    /* keep connections open, messages in flight */
    SK_BENCH_CONNECT, /* connect, one echo, close, again */
};

struct sk_bench_counts {
    uint64_t msgs;            /* replies received whole and correct */
    uint64_t bytes;           /* their payload bytes */
    uint64_t connects;        /* completed connections (connect mode) */
    uint64_t mismatches;      /* replies whose bytes differ from the request */
    uint64_t resets;          /* connections reset or failed mid-run */
    uint64_t short_replies;   /* connections closed with replies missing */
    uint64_t connect_failures;
    uint64_t timeouts;        /* replies still missing at the end */
    uint64_t udp_lost, udp_duplicates, udp_reordered, udp_late;
};

/* Everything that counts as an error for the exit status. */
uint64_t sk_bench_errors(const struct sk_bench_counts *c);

struct sk_bench_report {
    double elapsed_s;  /* since the start */
    double interval_s; /* this report covers that long */
    struct sk_bench_counts counts;
    const struct sk_hist *hist; /* latencies in ns */
};

struct sk_bench_config {
    const char *host, *port;
    int udp;
    enum sk_bench_mode mode;
    int conns;          /* connections (or UDP sockets) */
    size_t size;        /* bytes per message */
    int depth;          /* messages in flight per connection (closed loop) */
    double duration_s;  /* used when count is 0 */
    uint64_t count;     /* total messages (or connections in connect mode) */
    double rate;        /* open loop: messages per second in total; 0 = closed */
    int threads;
    int timeout_ms;     /* connect, UDP loss and the final drain */
    /* Called about once a second from the reporting thread. */
    void (*on_interval)(void *ctx, const struct sk_bench_report *r);
    void *ctx;
    sk_flag_t *stop; /* set to end early (Ctrl-C) */
};

/* Run to the end; *final gets the totals and the whole-run histogram
 * (which the caller provides).  Returns 0, or a code if the run could not
 * start (nothing to connect to, for one). */
int sk_bench_run(const struct sk_bench_config *cfg, struct sk_bench_report *final,
                 struct sk_hist *final_hist);

#endif
