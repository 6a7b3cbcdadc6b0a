/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockit/bench.h - the load generator behind `sockit bench`.
 *
 * Drives an echo server with many connections (or UDP sockets) from
 * event loops on one or more threads, checks every byte that comes back
 * against what was sent, and measures latency into sk_hist histograms.
 *
 * Every byte is checked.  Over TCP byte i of a connection's stream is a
 * function of the connection and i (cut from a random block), so a reply
 * delivered to the wrong connection, reordered, replayed, cut, extended or
 * corrupted never passes, at any message size.  A UDP message starts with
 * an 8-byte header (connection and sequence number) that matches the
 * datagram to the message it answers, and continues with block bytes
 * keyed by both.  Sending uses writev() straight from the block, so
 * generating load costs no copying; checking is one memcmp per received
 * chunk.
 */
#ifndef SOCKIT_BENCH_H
#define SOCKIT_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <sockit/platform.h>
#include <sockit/hist.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SK_BENCH_MAX_SIZE (1u << 20)

enum sk_bench_mode {
    SK_BENCH_ECHO,    /* keep connections open, messages in flight */
    SK_BENCH_CONNECT, /* connect, one echo, close, again */
    /* Throughput, as iperf3 measures it: one-way TCP streams for
     * duration_s, counted in sk_bench_counts.bytes (no latency). */
    SK_BENCH_STREAM_SEND, /* to a sink (discard): --size bytes a write; at
                           * the end, FIN, and the sink's close as receipt */
    SK_BENCH_STREAM_RECV, /* from a source (chargen) */
};

/* How a worker moves the bytes (TCP echo; UDP, --stream and connect mode
 * always run on the poll engine). */
enum sk_bench_engine {
    SK_BENCH_ENGINE_AUTO,  /* uring where the mode has it and it runs, else poll */
    SK_BENCH_ENGINE_POLL,  /* readiness: epoll (Linux), WSAPoll (Windows); a
                            * writev and a recv per turn of each connection */
    SK_BENCH_ENGINE_URING, /* io_uring (Linux, built with liburing): every
                            * connection's sends and receives go in one
                            * submit-and-wait per turn of the loop */
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
    enum sk_bench_engine engine; /* the one that ran: POLL or URING */
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
    struct sk_stop *stop; /* requested to end early (Ctrl-C); NULL = never */
    int family;         /* AF_INET or AF_INET6 only; 0 (AF_UNSPEC) = either */
    enum sk_bench_engine engine; /* 0 (AUTO) = the cheapest that runs here */
};

/* "auto", "poll" or "uring". */
const char *sk_bench_engine_name(enum sk_bench_engine engine);
/* 0 if engine can run cfg's mode here, else a code with *why saying why
 * not (built without liburing, a kernel without io_uring, io_uring
 * disabled or forbidden, a mode only the poll engine has). */
int sk_bench_engine_check(const struct sk_bench_config *cfg, enum sk_bench_engine engine,
                          const char **why);
/* The engine sk_bench_run() would use for cfg. */
enum sk_bench_engine sk_bench_engine_for(const struct sk_bench_config *cfg);

/* Run to the end; *final gets the totals and the whole-run histogram
 * (which the caller provides).  Returns 0, or a code if the run could not
 * start (nothing to connect to, for one). */
int sk_bench_run(const struct sk_bench_config *cfg, struct sk_bench_report *final,
                 struct sk_hist *final_hist);

#ifdef __cplusplus
}
#endif

#endif
