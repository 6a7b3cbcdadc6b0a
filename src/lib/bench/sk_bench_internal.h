/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_bench_internal.h - what the parts of the load generator share:
 * sk_bench.c (what goes on the wire, how replies are checked, and each
 * worker's readiness loop: the poll engine), sk_bench_uring.c (the same
 * TCP echo on io_uring completions: the uring engine) and sk_bench_run.c
 * (setting the workers up, starting them, reporting and collecting).
 * Not part of the public API; internal names carry the sk__bench_ prefix
 * (libuv's uv__ convention).
 *
 * The two engines differ only in how bytes reach the socket and come
 * back.  What may be sent and when, how a reply is checked and timed, and
 * what ends a connection are the sk__bench_tcp_* functions below, and the
 * deadlines, final wait and publishing after every wait are
 * sk__bench_after_wait(): both engines call them, so a number means the
 * same thing whichever engine measured it.
 */
#ifndef SK_BENCH_INTERNAL_H
#define SK_BENCH_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "sk_addr.h"
#include "sk_bench.h"
#include "sk_compat.h"
#include "sk_hist.h"
#include "sk_loop.h"

#define RECV_BUFFER (256u * 1024u)
#define UDP_WINDOW 4096u /* sequence numbers tracked per UDP socket */
#define UDP_BATCH 16     /* datagrams per sendmmsg/recvmmsg */
#define OPEN_LOOP_CAP 4096u

struct worker;
struct sk__bench_uring; /* sk_bench_uring.c's per-worker state */

struct bconn {
    struct worker *w;
    int fd;
    uint32_t id;
    int done;
    uint64_t quota;        /* messages to complete; UINT64_MAX = until the deadline */
    uint32_t next_send;    /* the message being sent (send_off bytes out) or next */
    size_t send_off;
    uint32_t next_recv;    /* TCP: the message being received (recv_off bytes in) */
    size_t recv_off;
    uint64_t *sent_at;     /* ns, by seq % ring */
    uint32_t ring;
    uint64_t due_ns;       /* open loop: when message next_send is due */
    uint64_t cycle_ns;     /* connect mode: when this connection began */
    /* UDP: which sequence numbers came back, over a sliding window */
    uint8_t *seen, *expired;
    uint32_t oldest;       /* lowest seq neither received nor expired */
    uint32_t highest;      /* one past the highest seq received */
    /* Stream modes */
    uint64_t stream_offset; /* bytes sent so far */
    int stream_shut;        /* our FIN is out (send mode) */
};

struct worker {
    const struct sk_bench_config *cfg;
    struct sk__loop *loop;
    struct bconn *conns;
    int nconns, active;
    uint64_t deadline_ns;  /* 0 = count mode */
    uint64_t interval_ns;  /* open loop: between sends on one connection */
    uint8_t *rbuf;
    struct sk_addr dest;   /* connect mode */
    uint64_t cycles_left;  /* connect mode: connections still to make */
    uint32_t next_id;
    struct sk_bench_counts total;
    struct sk_hist *hist;
    sk__mutex_t *lock;      /* guards reported/reported_hist */
    struct sk_bench_counts reported;
    struct sk_hist *interval_hist;
    uint64_t last_publish_ns;
    struct sk_hist *unpublished; /* latencies since the last publish */
    atomic_int finished;
    sk__thread_t thread;
    /* sk__bench_after_wait()'s state: the end of the final wait for
     * replies (0 = sending goes on), when overdue replies are looked for
     * next, and whether they are looked for at all. */
    uint64_t drain_deadline, next_overdue_check;
    int check_overdue;
    enum sk_bench_engine engine; /* POLL or URING, never AUTO */
    struct sk__bench_uring *uring;
    /* Called before a connection's socket is closed (the uring engine
     * cancels what it has in flight on it); NULL for the poll engine. */
    void (*forget)(struct worker *w, struct bconn *c);
};

typedef void sk__bench_step_fn(struct worker *w, struct bconn *c);

/* sk_bench.c */
int sk__bench_make_block(void);
void sk__bench_conn_close(struct worker *w, struct bconn *c);
void sk__bench_conn_done(struct worker *w, struct bconn *c);
void sk__bench_on_tcp(struct sk__loop *loop, int fd, void *data, int events);
void sk__bench_on_udp(struct sk__loop *loop, int fd, void *data, int events);
void *sk__bench_worker_main(void *arg);
/* After every wait, in either engine: the deadline and the final wait for
 * replies, overdue replies, publishing, and (open loop, UDP, or once
 * sending is over) a step of every live connection. */
void sk__bench_after_wait(struct worker *w, sk__bench_step_fn *step);
/* A worker's last act: publish what it measured and say it is done. */
void sk__bench_worker_finish(struct worker *w);

/* TCP echo, the engine-independent part.  Message seq may start at `now`
 * as the k-th new one of this send (window, quota, deadline and, open
 * loop, its due time allow it): 1, with its send time stamped, or 0. */
int sk__bench_tcp_may_start(struct worker *w, struct bconn *c, uint32_t seq, uint32_t k,
                            uint64_t now);
/* n more bytes went out (partial: a message was part sent before them);
 * returns how many messages they started or finished. */
uint32_t sk__bench_tcp_sent(struct worker *w, struct bconn *c, size_t n, int partial);
/* len bytes came back at `now`: checked against the stream, latencies
 * recorded for the messages they complete.  0, or -EPROTO (counted). */
int sk__bench_tcp_check(struct worker *w, struct bconn *c, const uint8_t *p, size_t len,
                        uint64_t now);
/* The server closed (a short reply if anything was still due), or the
 * connection failed with rc: each ends the connection. */
void sk__bench_tcp_closed(struct worker *w, struct bconn *c);
void sk__bench_tcp_failed(struct worker *w, struct bconn *c, int rc);
/* Nothing in flight and nothing more to send at `now`: the connection
 * is done (1), else 0. */
int sk__bench_tcp_finished(struct worker *w, struct bconn *c, uint64_t now);
uint32_t sk__bench_tcp_in_flight(const struct bconn *c);
/* Byte offset of connection id's stream, and SK_BENCH_MAX_SIZE after it. */
const uint8_t *sk__bench_stream_bytes(uint32_t id, uint64_t offset);
int sk__bench_is_stream(const struct sk_bench_config *cfg);

/* sk_bench_stream.c: the throughput mode's step for one connection. */
void sk__bench_stream_step(struct worker *w, struct bconn *c);
void sk__bench_on_stream(struct sk__loop *loop, int fd, void *data, int events);

/* sk_bench_uring.c (Linux with liburing only: SK_HAVE_URING). */
#ifdef SK_HAVE_URING
/* Per worker, from the thread that sets the run up: the ring (created
 * disabled, enabled by the worker's own thread), its buffers, and the
 * worker's sockets made blocking (io_uring waits on them itself). */
int sk__bench_uring_setup(struct worker *w);
void sk__bench_uring_free(struct worker *w);
void *sk__bench_uring_main(void *arg);
int sk__bench_uring_probe(const char **why);
#endif

#endif
