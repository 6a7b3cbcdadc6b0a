/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_bench.c - the load generator: connections on event loops, verified
 * replies, latency histograms.
 *
 * Threads: the calling thread connects every socket (so the clock starts
 * with all of them up), hands an equal share to each worker thread, and
 * then only reports once a second.  Each worker runs its own event loop
 * over its connections and keeps its own counters and histograms; the
 * reporter reads them under a per-worker mutex taken once a second, so
 * the data path takes no lock.
 *
 * Closed loop (default): each connection keeps --depth messages in flight
 * and sends the next when a reply is complete.  Open loop (--rate): sends
 * are scheduled at fixed intervals and latency is measured from when a
 * message was due, not when it went out, so a stalled server cannot hide
 * its stall by delaying the requests (coordinated omission).
 *
 * What is sent.  TCP: byte i of connection c's stream is f(c, i), taken
 * from a random block at an offset keyed by c (stream_at), whatever the
 * message size.  Message boundaries play no part in the check, so a
 * reply that is swapped, replayed, dropped, extended or sent to the wrong
 * connection shows as a mismatch even when messages are shorter than any
 * header could be (--size 1).  Send times are kept per connection in a
 * ring indexed by message sequence number, not in the message, so
 * latency needs nothing from the bytes either.
 *
 * UDP (--size 8 and more): each datagram starts with an 8-byte header
 * (connection and sequence number) and continues with block bytes keyed
 * by both, so a datagram is matched to the message it answers; loss (no
 * reply within --timeout), duplicates, reordering and late replies are
 * each counted.
 */
#include "sk_bench.h"
#include "sk_bench_internal.h"
#include "sk_compat.h"
#include "sk_error.h"
#include "sk_loop.h"
#include "sk_sock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>
#endif

/* A power of two: TCP stream offsets are (uint32_t sequence) * size and
 * wrap at 2^32 * size, a multiple of BLOCK_SIZE, so the stream stays
 * continuous across the wrap. */
#define BLOCK_SIZE (2u * SK_BENCH_MAX_SIZE)
#define IOV_MESSAGES 32

/* Random bytes every message is cut from: BLOCK_SIZE of them, followed by
 * a copy of the first SK_BENCH_MAX_SIZE, so SK_BENCH_MAX_SIZE bytes from
 * any offset below BLOCK_SIZE are contiguous. */
static uint8_t *block;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static size_t block_offset(uint32_t id, uint32_t seq, size_t size)
{
    return (size_t)(mix64(((uint64_t)id << 32) | seq) % (BLOCK_SIZE - size + 1));
}

/* Byte `offset` of TCP connection id's stream, and the SK_BENCH_MAX_SIZE
 * bytes after it.  Each connection starts at its own place in the block. */
static const uint8_t *stream_at(uint32_t id, uint64_t offset)
{
    return block + ((mix64((uint64_t)id ^ 0x5bd1e9955bd1e995ULL) + offset) & (BLOCK_SIZE - 1));
}

const uint8_t *sk__bench_stream_bytes(uint32_t id, uint64_t offset)
{
    return stream_at(id, offset);
}

int sk__bench_is_stream(const struct sk_bench_config *cfg)
{
    return cfg->mode == SK_BENCH_STREAM_SEND || cfg->mode == SK_BENCH_STREAM_RECV;
}

static void make_header(uint8_t h[8], uint32_t id, uint32_t seq)
{
    for (int i = 0; i < 4; i++) {
        h[i] = (uint8_t)(id >> (24 - 8 * i));
        h[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
    }
}

uint64_t sk_bench_errors(const struct sk_bench_counts *c)
{
    return c->mismatches + c->resets + c->short_replies + c->connect_failures +
           c->timeouts + c->udp_lost + c->udp_duplicates;
}

/* ---- state -------------------------------------------------------------- */

static int sending_allowed(const struct worker *w, const struct bconn *c, uint64_t now)
{
    if (sk_stop_requested(w->cfg->stop))
        return 0;
    /* A connection cycle that began before the deadline still completes;
     * cycle_start() is what stops starting new ones. */
    if (w->deadline_ns != 0 && now >= w->deadline_ns && w->cfg->mode != SK_BENCH_CONNECT)
        return 0;
    return (uint64_t)c->next_send < c->quota;
}

static void record(struct worker *w, uint64_t latency_ns)
{
    sk_hist_record(w->unpublished, latency_ns);
    w->total.msgs++;
    w->total.bytes += w->cfg->size;
}

void sk__bench_conn_close(struct worker *w, struct bconn *c)
{
    if (c->fd >= 0) {
        if (w->forget != NULL)
            w->forget(w, c);
        sk__loop_watch(w->loop, c->fd, SK_EV_NONE, NULL, NULL);
        sk_socket_close(c->fd);
        c->fd = -1;
    }
}

void sk__bench_conn_done(struct worker *w, struct bconn *c)
{
    sk__bench_conn_close(w, c);
    if (!c->done) {
        c->done = 1;
        w->active--;
    }
}

/* Messages started and not yet answered. */
static uint32_t tcp_in_flight(const struct bconn *c)
{
    return c->next_send - c->next_recv + (c->send_off > 0 ? 1 : 0);
}

uint32_t sk__bench_tcp_in_flight(const struct bconn *c)
{
    return tcp_in_flight(c);
}

/* ---- TCP echo: what both engines share ---------------------------------- */

int sk__bench_tcp_may_start(struct worker *w, struct bconn *c, uint32_t seq, uint32_t k,
                            uint64_t now)
{
    const struct sk_bench_config *cfg = w->cfg;
    uint32_t limit = cfg->rate > 0 ? c->ring : (uint32_t)cfg->depth;
    uint64_t due = c->due_ns + (uint64_t)k * w->interval_ns;
    if (!sending_allowed(w, c, now) || (uint64_t)seq >= c->quota ||
        seq - c->next_recv >= limit || (cfg->rate > 0 && due > now))
        return 0;
    c->sent_at[seq % c->ring] = cfg->rate > 0 ? due : now;
    return 1;
}

uint32_t sk__bench_tcp_sent(struct worker *w, struct bconn *c, size_t n, int partial)
{
    size_t size = w->cfg->size;
    size_t total = c->send_off + n;
    uint32_t whole = (uint32_t)(total / size);
    uint32_t started = whole + (total % size ? 1u : 0u);
    if (w->cfg->rate > 0 && started > (uint32_t)partial)
        c->due_ns += (uint64_t)(started - (uint32_t)partial) * w->interval_ns;
    c->next_send += whole;
    c->send_off = total % size;
    return started;
}

int sk__bench_tcp_check(struct worker *w, struct bconn *c, const uint8_t *p, size_t len,
                        uint64_t now)
{
    size_t size = w->cfg->size;
    while (len > 0) {
        if (tcp_in_flight(c) == 0 ||
            (c->next_recv == c->next_send && c->recv_off >= c->send_off)) {
            w->total.mismatches++; /* more bytes than were ever sent */
            return -EPROTO;
        }
        uint32_t seq = c->next_recv;
        size_t pos = c->recv_off, take = size - pos;
        if (take > len)
            take = len;
        if (memcmp(p, stream_at(c->id, (uint64_t)seq * size + pos), take) != 0) {
            w->total.mismatches++;
            return -EPROTO;
        }
        p += take;
        len -= take;
        c->recv_off += take;
        if (c->recv_off == size) {
            record(w, now - c->sent_at[seq % c->ring]);
            c->recv_off = 0;
            c->next_recv++;
        }
    }
    return 0;
}

void sk__bench_tcp_closed(struct worker *w, struct bconn *c)
{
    if (tcp_in_flight(c) > 0 || ((uint64_t)c->next_recv < c->quota && w->deadline_ns == 0))
        w->total.short_replies++;
    sk__bench_conn_done(w, c);
}

void sk__bench_tcp_failed(struct worker *w, struct bconn *c, int rc)
{
    if (rc != -EPROTO)
        w->total.resets++;
    sk__bench_conn_done(w, c);
}

int sk__bench_tcp_finished(struct worker *w, struct bconn *c, uint64_t now)
{
    if (tcp_in_flight(c) > 0 || sending_allowed(w, c, now))
        return 0;
    sk__bench_conn_done(w, c);
    return 1;
}

/* ---- TCP echo on the poll engine ------------------------------------------ */

void sk__bench_on_tcp(struct sk__loop *loop, int fd, void *data, int events);

/* Send what depth, rate and the socket allow.  0, or a code. */
static int tcp_send(struct worker *w, struct bconn *c)
{
    size_t size = w->cfg->size;
    struct iovec iov[IOV_MESSAGES];
    uint64_t now = sk__now_ns();

    for (;;) {
        int niov = 0, nmsg = 0, partial = c->send_off > 0;
        /* The partly sent message first, then new ones while allowed. */
        while (nmsg < IOV_MESSAGES) {
            uint32_t seq = c->next_send + (uint32_t)nmsg;
            size_t skip = (nmsg == 0) ? c->send_off : 0;
            if (!(nmsg == 0 && partial) &&
                !sk__bench_tcp_may_start(w, c, seq, (uint32_t)(nmsg - partial), now))
                break;
            iov[niov].iov_base = (void *)stream_at(c->id, (uint64_t)seq * size + skip);
            iov[niov].iov_len = size - skip;
            niov++;
            nmsg++;
        }
        if (niov == 0)
            return 0;
        long n = sk__send_vec(c->fd, iov, niov);
        if (n < 0) {
            if (n == -EINTR)
                continue;
            if (sk__error_would_block((int)n))
                return 0;
            return (int)n;
        }
        uint32_t started = sk__bench_tcp_sent(w, c, (size_t)n, partial);
        if (started < (uint32_t)nmsg || c->send_off > 0)
            return 0; /* the socket took less than offered: it is full */
    }
}

/* Read and check what arrived.  1 = server closed, 0 = drained, < 0 error. */
static int tcp_receive(struct worker *w, struct bconn *c)
{
    for (;;) {
        long n = (long)recv(c->fd, (char *)w->rbuf, RECV_BUFFER, 0);
        if (n == 0)
            return 1;
        if (n < 0) {
            int rc = sk__socket_error();
            if (rc == -EINTR)
                continue;
            if (sk__error_would_block(rc))
                return 0;
            return rc;
        }
        int rc = sk__bench_tcp_check(w, c, w->rbuf, (size_t)n, sk__now_ns());
        if (rc < 0)
            return rc;
        if ((size_t)n < RECV_BUFFER)
            return 0;
    }
}

static void tcp_step(struct worker *w, struct bconn *c)
{
    int rc = tcp_receive(w, c);
    if (rc == 1) {
        sk__bench_tcp_closed(w, c);
        return;
    }
    if (rc == 0)
        rc = tcp_send(w, c);
    if (rc < 0) {
        sk__bench_tcp_failed(w, c, rc);
        return;
    }
    if (sk__bench_tcp_finished(w, c, sk__now_ns()))
        return;
    int mask = SK_EV_READ | (c->send_off > 0 ? SK_EV_WRITE : 0);
    if (sk__loop_watch(w->loop, c->fd, mask, sk__bench_on_tcp, c) < 0) {
        w->total.resets++;
        sk__bench_conn_done(w, c);
    }
}

void sk__bench_on_tcp(struct sk__loop *loop, int fd, void *data, int events)
{
    (void)loop, (void)fd, (void)events;
    struct bconn *c = data;
    tcp_step(c->w, c);
}

/* ---- connect mode: connect, one echo, close ------------------------------- */

static void on_cycle(struct sk__loop *loop, int fd, void *data, int events);

/* Start the next connection on slot c, if any are left. */
static void cycle_start(struct worker *w, struct bconn *c)
{
    for (;;) {
        if (w->cycles_left == 0 || sk_stop_requested(w->cfg->stop) ||
            (w->deadline_ns && sk__now_ns() >= w->deadline_ns)) {
            sk__bench_conn_done(w, c);
            return;
        }
        w->cycles_left--;
        c->cycle_ns = sk__now_ns();
        c->id = w->next_id++;
        c->next_send = c->next_recv = 0;
        c->send_off = c->recv_off = 0;
        c->quota = 1;
#ifdef SOCK_NONBLOCK
        int fd = socket(w->dest.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
        int fd = (int)socket(w->dest.ss.ss_family, SOCK_STREAM, 0);
        if (fd >= 0 && sk__socket_set_nonblocking(fd, 1) < 0) {
            sk_socket_close(fd);
            fd = -1;
        }
#endif
        if (fd < 0) {
            w->total.connect_failures++;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, (const void *)&one, sizeof one);
        if (connect(fd, (struct sockaddr *)&w->dest.ss, w->dest.len) != 0 &&
            sk__socket_error() != -EINPROGRESS && !sk__error_would_block(sk__socket_error())) {
            sk_socket_close(fd);
            w->total.connect_failures++;
            continue;
        }
        c->fd = fd;
        if (sk__loop_watch(w->loop, fd, SK_EV_WRITE, on_cycle, c) < 0) {
            sk__bench_conn_close(w, c);
            w->total.connect_failures++;
            continue;
        }
        return;
    }
}

static void on_cycle(struct sk__loop *loop, int fd, void *data, int events)
{
    (void)loop, (void)events;
    struct bconn *c = data;
    struct worker *w = c->w;
    if (c->next_send == 0 && c->send_off == 0) { /* connecting */
        int err = 0;
        sk_socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, (void *)&err, &len) != 0 || err != 0) {
            w->total.connect_failures++;
            sk__bench_conn_close(w, c);
            cycle_start(w, c);
            return;
        }
    }
    int rc = tcp_send(w, c);
    /* Connect mode measures the connection's whole life. */
    c->sent_at[0] = c->cycle_ns;
    if (rc == 0 && c->next_send == 0 && c->send_off == 0 && sk_stop_requested(w->cfg->stop)) {
        /* Stopped (Ctrl-C) before this cycle's message went out: not an
         * error.  Watching for writability again would spin until the
         * final wait and then count a timeout. */
        sk__bench_conn_close(w, c);
        cycle_start(w, c); /* sees the stop: the slot is done */
        return;
    }
    if (rc == 0 && c->next_send == 1 && c->send_off == 0)
        rc = tcp_receive(w, c);
    if (rc < 0 || rc == 1) {
        if (rc == 1)
            w->total.short_replies++;
        else if (rc != -EPROTO)
            w->total.resets++;
        sk__bench_conn_close(w, c);
        cycle_start(w, c);
        return;
    }
    if (c->next_recv == 1) { /* the one echo came back whole */
        w->total.connects++;
        sk__bench_conn_close(w, c);
        cycle_start(w, c);
        return;
    }
    int mask = c->next_send == 1 && c->send_off == 0 ? SK_EV_READ : SK_EV_WRITE;
    sk__loop_watch(w->loop, fd, mask, on_cycle, c);
}

/* ---- UDP echo -------------------------------------------------------------- */

static int bit_get(const uint8_t *map, uint32_t seq)
{
    uint32_t i = seq % UDP_WINDOW;
    return (map[i / 8] >> (i % 8)) & 1;
}

static void bit_set(uint8_t *map, uint32_t seq, int on)
{
    uint32_t i = seq % UDP_WINDOW;
    if (on)
        map[i / 8] |= (uint8_t)(1u << (i % 8));
    else
        map[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static uint32_t udp_outstanding(const struct bconn *c)
{
    return c->next_send - c->oldest;
}

/* Move `oldest` past what came back, and give up on what is overdue. */
static void udp_expire(struct worker *w, struct bconn *c, uint64_t now)
{
    uint64_t timeout = (uint64_t)w->cfg->timeout_ms * 1000000u;
    while (c->oldest != c->next_send) {
        uint32_t seq = c->oldest;
        if (!bit_get(c->seen, seq)) {
            if (now - c->sent_at[seq % c->ring] < timeout)
                break;
            bit_set(c->expired, seq, 1);
            w->total.udp_lost++;
        }
        c->oldest++;
    }
}

void sk__bench_on_udp(struct sk__loop *loop, int fd, void *data, int events);

/* Closed loop: up to UDP_BATCH datagrams per system call (sendmmsg where
 * there is one), so the generator is not what limits a batched server.
 * Open loop sends each datagram when it is due, one at a time. */
static int udp_send(struct worker *w, struct bconn *c)
{
    const struct sk_bench_config *cfg = w->cfg;
    size_t size = cfg->size;
    uint64_t now = sk__now_ns();
    uint32_t limit = cfg->rate > 0 ? UDP_WINDOW / 2 : (uint32_t)cfg->depth;
    int batch = cfg->rate > 0 ? 1 : UDP_BATCH;
    uint8_t headers[UDP_BATCH][8];
    struct iovec iov[2 * UDP_BATCH];
    while (sending_allowed(w, c, now) && udp_outstanding(c) < limit &&
           (cfg->rate <= 0 || c->due_ns <= now)) {
        int nmsg = 0;
        while (nmsg < batch && udp_outstanding(c) + (uint32_t)nmsg < limit &&
               (uint64_t)c->next_send + (uint64_t)nmsg < c->quota) {
            uint32_t seq = c->next_send + (uint32_t)nmsg;
            make_header(headers[nmsg], c->id, seq);
            iov[2 * nmsg].iov_base = headers[nmsg];
            iov[2 * nmsg].iov_len = 8;
            iov[2 * nmsg + 1].iov_base = block + block_offset(c->id, seq, size);
            iov[2 * nmsg + 1].iov_len = size - 8;
            /* Clear the window slot this sequence number reuses. */
            bit_set(c->seen, seq, 0);
            bit_set(c->expired, seq, 0);
            c->sent_at[seq % c->ring] = cfg->rate > 0 ? c->due_ns : now;
            nmsg++;
        }
        int n = sk__send_vec_batch(c->fd, iov, 2, nmsg);
        if (n < 0) {
            if (n == -EINTR)
                continue;
            if (sk__error_would_block(n) || sk_error_is(n, ENOBUFS))
                return 0;
            if (sk_error_is(n, ECONNREFUSED) || sk_error_is(n, ECONNRESET))
                continue; /* an ICMP error for an earlier datagram */
            return n;
        }
        c->next_send += (uint32_t)n;
        if (cfg->rate > 0)
            c->due_ns += (uint64_t)n * w->interval_ns;
        if (n < nmsg)
            return 0; /* the socket is full */
    }
    return 0;
}

/* One datagram that came back: check it and take its latency. */
static void udp_check(struct worker *w, struct bconn *c, const uint8_t *p, size_t n,
                      int truncated, uint64_t now)
{
    size_t size = w->cfg->size;
    if (n < 8 || truncated) {
        w->total.mismatches++;
        return;
    }
    uint32_t id = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    uint32_t seq = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    uint32_t back = c->next_send - seq; /* 1 = the last one sent */
    if (n != size || id != c->id || back == 0 || back > UDP_WINDOW ||
        memcmp(p + 8, block + block_offset(id, seq, size), size - 8) != 0) {
        w->total.mismatches++; /* never sent, or not what was sent */
        return;
    }
    if (bit_get(c->seen, seq)) {
        w->total.udp_duplicates++;
        return;
    }
    bit_set(c->seen, seq, 1);
    if (bit_get(c->expired, seq)) { /* given up on, then it came */
        bit_set(c->expired, seq, 0);
        w->total.udp_late++;
        w->total.udp_lost--;
        return;
    }
    if (seq + 1 < c->highest)
        w->total.udp_reordered++;
    else
        c->highest = seq + 1;
    record(w, now - c->sent_at[seq % c->ring]);
}

/* Up to UDP_BATCH datagrams per system call (recvmmsg where there is one),
 * into slots of size + 1 bytes: a longer reply shows as truncated. */
static int udp_receive(struct worker *w, struct bconn *c)
{
    size_t slot = w->cfg->size + 1;
    struct sk__dgram d[UDP_BATCH];
    for (int i = 0; i < UDP_BATCH; i++) {
        d[i].data = w->rbuf + (size_t)i * slot;
        d[i].cap = slot;
    }
    for (;;) {
        int got = sk__recv_batch(c->fd, d, UDP_BATCH);
        if (got < 0) {
            /* ICMP errors for earlier datagrams (Windows: as resets) */
            if (got == -EINTR || sk_error_is(got, ECONNREFUSED) || sk_error_is(got, ECONNRESET))
                continue;
            if (sk__error_would_block(got))
                return 0;
            return got;
        }
        uint64_t now = sk__now_ns();
        for (int i = 0; i < got; i++)
            udp_check(w, c, d[i].data, d[i].len, d[i].truncated, now);
    }
}

static void udp_step(struct worker *w, struct bconn *c)
{
    int rc = udp_receive(w, c);
    udp_expire(w, c, sk__now_ns());
    if (rc == 0)
        rc = udp_send(w, c);
    if (rc < 0) {
        w->total.resets++;
        sk__bench_conn_done(w, c);
        return;
    }
    if (udp_outstanding(c) == 0 && !sending_allowed(w, c, sk__now_ns()))
        sk__bench_conn_done(w, c);
}

void sk__bench_on_udp(struct sk__loop *loop, int fd, void *data, int events)
{
    (void)loop, (void)fd, (void)events;
    struct bconn *c = data;
    udp_step(c->w, c);
}

/* ---- workers ------------------------------------------------------------- */

/* Hand what was measured since the last call to the reporter. */
static void publish(struct worker *w)
{
    sk__mutex_lock(w->lock);
    w->reported = w->total;
    sk_hist_merge(w->interval_hist, w->unpublished);
    sk__mutex_unlock(w->lock);
    sk_hist_merge(w->hist, w->unpublished);
    sk_hist_init(w->unpublished);
    w->last_publish_ns = sk__now_ns();
}

/* A reply overdue by --timeout ends its connection as timeouts; in
 * connect mode a whole cycle (connect, echo) overdue by --timeout does.
 * With --duration the final wait does this for echo connections at the
 * end; with --count there is no end to wait from, so without this a
 * server that stops answering (or a connect that never completes) would
 * hang the run.  Connect mode applies it always: --timeout is also its
 * connect timeout. */
static void give_up_overdue(struct worker *w, uint64_t now)
{
    const struct sk_bench_config *cfg = w->cfg;
    uint64_t timeout = (uint64_t)cfg->timeout_ms * 1000000u;
    for (int i = 0; i < w->nconns; i++) {
        struct bconn *c = &w->conns[i];
        if (c->done || c->fd < 0)
            continue;
        if (cfg->mode == SK_BENCH_CONNECT) {
            if (now - c->cycle_ns >= timeout) {
                w->total.timeouts++;
                sk__bench_conn_close(w, c);
                cycle_start(w, c);
            }
        } else if (tcp_in_flight(c) > 0 &&
                   now - c->sent_at[c->next_recv % c->ring] >= timeout) {
            w->total.timeouts += tcp_in_flight(c);
            sk__bench_conn_done(w, c);
        }
    }
}

/* ---- open loop: waking when the next message is due ---------------------
 *
 * The loop's timeout is whole milliseconds, so an open loop woken by it
 * sends each message up to a millisecond after it was due, and since
 * latency counts from the due time that delay was measured as the
 * server's: at --rate 2000 on loopback the median came out near 570 us
 * where the closed loop measures 20 us.  On Linux a timerfd, armed for the
 * earliest due time, wakes the loop to the nanosecond; elsewhere the 1 ms
 * tick remains (and its error with it). */

#ifdef __linux__
static void on_due_timer(struct sk__loop *loop, int fd, void *data, int events)
{
    (void)loop, (void)data, (void)events;
    uint64_t expirations;
    ssize_t n = read(fd, &expirations, sizeof expirations); /* clear it */
    (void)n;
}
#endif

static int due_timer_open(struct worker *w)
{
#ifdef __linux__
    /* Timer slack (50 us by default) would delay each wake-up further. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd >= 0 && sk__loop_watch(w->loop, fd, SK_EV_READ, on_due_timer, NULL) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
#else
    (void)w;
    return -1;
#endif
}

/* Arm the timer for the earliest due time still ahead.  A connection whose
 * message is already due but unsent is waiting for its socket or for
 * replies (its window), and an event will wake the loop for it. */
static void due_timer_arm(struct worker *w, int fd, uint64_t *armed)
{
#ifdef __linux__
    uint64_t now = sk__now_ns(), next = UINT64_MAX;
    for (int i = 0; i < w->nconns; i++) {
        const struct bconn *c = &w->conns[i];
        if (!c->done && c->due_ns > now && c->due_ns < next)
            next = c->due_ns;
    }
    if (next == *armed)
        return;
    *armed = next;
    struct itimerspec its;
    memset(&its, 0, sizeof its); /* next == UINT64_MAX: disarmed */
    if (next != UINT64_MAX) {
        its.it_value.tv_sec = (time_t)(next / 1000000000u);
        its.it_value.tv_nsec = (long)(next % 1000000000u);
    }
    timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
#else
    (void)w, (void)fd, (void)armed;
#endif
}

/* The poll engine's step of one connection, whatever the mode. */
static void poll_step(struct worker *w, struct bconn *c)
{
    if (w->cfg->mode == SK_BENCH_CONNECT)
        cycle_start(w, c);
    else if (sk__bench_is_stream(w->cfg))
        sk__bench_stream_step(w, c);
    else if (w->cfg->udp)
        udp_step(w, c);
    else
        tcp_step(w, c);
}

void sk__bench_after_wait(struct worker *w, sk__bench_step_fn *step)
{
    const struct sk_bench_config *cfg = w->cfg;
    uint64_t now = sk__now_ns();
    int sending_over = sk_stop_requested(cfg->stop) ||
                       (w->deadline_ns != 0 && now >= w->deadline_ns);
    if (sending_over && w->drain_deadline == 0)
        w->drain_deadline = now + (uint64_t)cfg->timeout_ms * 1000000u;
    if (cfg->mode != SK_BENCH_CONNECT && (cfg->rate > 0 || cfg->udp || sending_over)) {
        for (int i = 0; i < w->nconns; i++)
            if (!w->conns[i].done)
                step(w, &w->conns[i]);
    }
    if (w->check_overdue && w->drain_deadline == 0 && now >= w->next_overdue_check) {
        give_up_overdue(w, now);
        w->next_overdue_check = now + 10000000u; /* 10 ms: O(conns) each time */
    }
    if (w->drain_deadline != 0 && now >= w->drain_deadline) {
        /* Replies still missing after the grace period. */
        for (int i = 0; i < w->nconns; i++) {
            struct bconn *c = &w->conns[i];
            if (c->done)
                continue;
            if (cfg->udp) {
                udp_expire(w, c, UINT64_MAX / 2);
            } else if (sk__bench_is_stream(cfg)) {
                w->total.timeouts++; /* the sink never closed after our FIN */
            } else if (cfg->mode == SK_BENCH_CONNECT) {
                if (c->fd >= 0)
                    w->total.timeouts++;
            } else {
                w->total.timeouts += tcp_in_flight(c);
            }
            sk__bench_conn_done(w, c);
        }
    }
    /* Often: the reporter divides what was last published by its own
     * one-second interval, so with a publish every 200 ms an interval
     * counted up to 20 % too little or too much (the first one of an
     * open loop at --rate 2000 always showed 1600/s).  A publish costs
     * a few microseconds. */
    if (now - w->last_publish_ns >= 10000000u)
        publish(w);
}

/* The poll engine's worker thread. */
void *sk__bench_worker_main(void *arg)
{
    struct worker *w = arg;
    const struct sk_bench_config *cfg = w->cfg;
    /* Timers: open loop sends, UDP loss, and the deadline all need the
     * loop to wake even when no socket does. */
    int tick_ms = cfg->rate > 0 ? 1 : cfg->udp ? 10 : 50;
    int due_fd = cfg->rate > 0 ? due_timer_open(w) : -1;
    uint64_t due_armed = 0;
    if (due_fd >= 0)
        tick_ms = 10; /* the timer wakes the sends; this is for the rest */

    for (int i = 0; i < w->nconns; i++) {
        /* With --count below --conns some connections have nothing to do
         * and are done already (fd -1): stepping them would read fd -1 and
         * count the EBADF as a reset. */
        if (!w->conns[i].done)
            poll_step(w, &w->conns[i]);
    }
    while (w->active > 0) {
        if (due_fd >= 0)
            due_timer_arm(w, due_fd, &due_armed);
        int rc = sk__loop_run_once(w->loop, tick_ms);
        if (rc < 0 && rc != -EINTR)
            break;
        sk__bench_after_wait(w, poll_step);
    }
    if (due_fd >= 0) {
        sk__loop_watch(w->loop, due_fd, SK_EV_NONE, NULL, NULL);
        sk__fd_close(due_fd);
    }
    sk__bench_worker_finish(w);
    return NULL;
}

void sk__bench_worker_finish(struct worker *w)
{
    publish(w);
    atomic_store(&w->finished, 1);
}

int sk__bench_make_block(void)
{
    if (block != NULL)
        return 0;
    block = malloc(BLOCK_SIZE + SK_BENCH_MAX_SIZE);
    if (block == NULL)
        return -ENOMEM;
    uint64_t x = 0x9e3779b97f4a7c15ULL ^ sk__now_ns();
    for (size_t i = 0; i < BLOCK_SIZE; i += 8) {
        x = mix64(x + 0x9e3779b97f4a7c15ULL);
        memcpy(block + i, &x, 8);
    }
    memcpy(block + BLOCK_SIZE, block, SK_BENCH_MAX_SIZE);
    return 0;
}

