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
 * UDP: each socket is connected; a reply is matched by its header, so
 * loss (no reply within --timeout), duplicates, reordering and late
 * replies are each counted.
 */
#include "sk_bench.h"
#include "sk_compat.h"
#include "sk_error.h"
#include "sk_loop.h"
#include "sk_sock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/timerfd.h>
#endif

#define BLOCK_SIZE (2u * SK_BENCH_MAX_SIZE)
#define RECV_BUFFER (256u * 1024u)
#define IOV_MESSAGES 32
#define UDP_WINDOW 4096u /* sequence numbers tracked per UDP socket */
#define UDP_BATCH 16     /* datagrams per sendmmsg/recvmmsg */
#define OPEN_LOOP_CAP 4096u

static uint8_t *block; /* random bytes every message is cut from */

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

static void counts_add(struct sk_bench_counts *a, const struct sk_bench_counts *b)
{
    a->msgs += b->msgs;
    a->bytes += b->bytes;
    a->connects += b->connects;
    a->mismatches += b->mismatches;
    a->resets += b->resets;
    a->short_replies += b->short_replies;
    a->connect_failures += b->connect_failures;
    a->timeouts += b->timeouts;
    a->udp_lost += b->udp_lost;
    a->udp_duplicates += b->udp_duplicates;
    a->udp_reordered += b->udp_reordered;
    a->udp_late += b->udp_late;
}

/* ---- state -------------------------------------------------------------- */

struct worker;

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
};

struct worker {
    const struct sk_bench_config *cfg;
    struct sk_loop *loop;
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
    sk_mutex_t *lock;      /* guards reported/reported_hist */
    struct sk_bench_counts reported;
    struct sk_hist *interval_hist;
    uint64_t last_publish_ns;
    struct sk_hist *unpublished; /* latencies since the last publish */
    atomic_int finished;
    sk_thread_t thread;
};

static int sending_allowed(const struct worker *w, const struct bconn *c, uint64_t now)
{
    if (w->cfg->stop != NULL && *w->cfg->stop)
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

static void conn_close(struct worker *w, struct bconn *c)
{
    if (c->fd >= 0) {
        sk_loop_watch(w->loop, c->fd, SK_EV_NONE, NULL, NULL);
        sk_socket_close(c->fd);
        c->fd = -1;
    }
}

static void conn_done(struct worker *w, struct bconn *c)
{
    conn_close(w, c);
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

/* ---- TCP echo ------------------------------------------------------------ */

static void on_tcp(struct sk_loop *loop, int fd, void *data, int events);

/* Send what depth, rate and the socket allow.  0, or a code. */
static int tcp_send(struct worker *w, struct bconn *c)
{
    const struct sk_bench_config *cfg = w->cfg;
    size_t size = cfg->size, hlen = size < 8 ? size : 8;
    uint8_t headers[IOV_MESSAGES][8];
    struct iovec iov[2 * IOV_MESSAGES];
    uint64_t now = sk_now_ns();
    uint32_t limit = cfg->rate > 0 ? c->ring : (uint32_t)cfg->depth;

    for (;;) {
        int niov = 0, nmsg = 0, partial = c->send_off > 0;
        /* The partly sent message first, then new ones while allowed. */
        while (nmsg < IOV_MESSAGES) {
            uint32_t seq = c->next_send + (uint32_t)nmsg;
            size_t skip = (nmsg == 0) ? c->send_off : 0;
            if (!(nmsg == 0 && partial)) {
                uint64_t due = c->due_ns + (uint64_t)(nmsg - partial) * w->interval_ns;
                if (!sending_allowed(w, c, now) || (uint64_t)seq >= c->quota ||
                    seq - c->next_recv >= limit || (cfg->rate > 0 && due > now))
                    break;
                c->sent_at[seq % c->ring] = cfg->rate > 0 ? due : now;
            }
            make_header(headers[nmsg], c->id, seq);
            if (skip < hlen) {
                iov[niov].iov_base = headers[nmsg] + skip;
                iov[niov].iov_len = hlen - skip;
                niov++;
            }
            if (size > 8) {
                size_t from = skip > 8 ? skip - 8 : 0;
                iov[niov].iov_base = block + block_offset(c->id, seq, size) + from;
                iov[niov].iov_len = size - 8 - from;
                niov++;
            }
            nmsg++;
        }
        if (niov == 0)
            return 0;
        long n = sk_send_vec(c->fd, iov, niov);
        if (n < 0) {
            if (n == -EINTR)
                continue;
            if (sk_error_would_block((int)n))
                return 0;
            return (int)n;
        }
        size_t total = c->send_off + (size_t)n;
        uint32_t whole = (uint32_t)(total / size);
        uint32_t started = whole + (total % size ? 1u : 0u);
        if (cfg->rate > 0 && started > (uint32_t)partial)
            c->due_ns += (uint64_t)(started - (uint32_t)partial) * w->interval_ns;
        c->next_send += whole;
        c->send_off = total % size;
        if (started < (uint32_t)nmsg || c->send_off > 0)
            return 0; /* the socket took less than offered: it is full */
    }
}

/* Read and check what arrived.  1 = server closed, 0 = drained, < 0 error. */
static int tcp_receive(struct worker *w, struct bconn *c)
{
    size_t size = w->cfg->size, hlen = size < 8 ? size : 8;
    for (;;) {
        long n = (long)recv(c->fd, (char *)w->rbuf, RECV_BUFFER, 0);
        if (n == 0)
            return 1;
        if (n < 0) {
            int rc = sk_socket_error();
            if (rc == -EINTR)
                continue;
            if (sk_error_would_block(rc))
                return 0;
            return rc;
        }
        uint64_t now = sk_now_ns();
        const uint8_t *p = w->rbuf;
        size_t len = (size_t)n;
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
            size_t k = 0;
            if (pos < hlen) {
                uint8_t h[8];
                make_header(h, c->id, seq);
                k = hlen - pos < take ? hlen - pos : take;
                if (memcmp(p, h + pos, k) != 0) {
                    w->total.mismatches++;
                    return -EPROTO;
                }
            }
            if (k < take &&
                memcmp(p + k, block + block_offset(c->id, seq, size) + (pos + k - 8),
                       take - k) != 0) {
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
        if ((size_t)n < RECV_BUFFER)
            return 0;
    }
}

static void tcp_step(struct worker *w, struct bconn *c)
{
    int rc = tcp_receive(w, c);
    if (rc == 1) {
        if (tcp_in_flight(c) > 0 ||
            ((uint64_t)c->next_recv < c->quota && w->deadline_ns == 0))
            w->total.short_replies++;
        conn_done(w, c);
        return;
    }
    if (rc == 0)
        rc = tcp_send(w, c);
    if (rc < 0) {
        if (rc != -EPROTO)
            w->total.resets++;
        conn_done(w, c);
        return;
    }
    if (tcp_in_flight(c) == 0 && !sending_allowed(w, c, sk_now_ns())) {
        conn_done(w, c);
        return;
    }
    int mask = SK_EV_READ | (c->send_off > 0 ? SK_EV_WRITE : 0);
    if (sk_loop_watch(w->loop, c->fd, mask, on_tcp, c) < 0) {
        w->total.resets++;
        conn_done(w, c);
    }
}

static void on_tcp(struct sk_loop *loop, int fd, void *data, int events)
{
    (void)loop, (void)fd, (void)events;
    struct bconn *c = data;
    tcp_step(c->w, c);
}

/* ---- connect mode: connect, one echo, close ------------------------------- */

static void on_cycle(struct sk_loop *loop, int fd, void *data, int events);

/* Start the next connection on slot c, if any are left. */
static void cycle_start(struct worker *w, struct bconn *c)
{
    for (;;) {
        if (w->cycles_left == 0 || (w->cfg->stop && *w->cfg->stop) ||
            (w->deadline_ns && sk_now_ns() >= w->deadline_ns)) {
            conn_done(w, c);
            return;
        }
        w->cycles_left--;
        c->cycle_ns = sk_now_ns();
        c->id = w->next_id++;
        c->next_send = c->next_recv = 0;
        c->send_off = c->recv_off = 0;
        c->quota = 1;
#ifdef SOCK_NONBLOCK
        int fd = socket(w->dest.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
        int fd = (int)socket(w->dest.ss.ss_family, SOCK_STREAM, 0);
        if (fd >= 0 && sk_socket_set_nonblocking(fd, 1) < 0) {
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
            sk_socket_error() != -EINPROGRESS && !sk_error_would_block(sk_socket_error())) {
            sk_socket_close(fd);
            w->total.connect_failures++;
            continue;
        }
        c->fd = fd;
        if (sk_loop_watch(w->loop, fd, SK_EV_WRITE, on_cycle, c) < 0) {
            conn_close(w, c);
            w->total.connect_failures++;
            continue;
        }
        return;
    }
}

static void on_cycle(struct sk_loop *loop, int fd, void *data, int events)
{
    (void)loop, (void)events;
    struct bconn *c = data;
    struct worker *w = c->w;
    if (c->next_send == 0 && c->send_off == 0) { /* connecting */
        int err = 0;
        sk_socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, (void *)&err, &len) != 0 || err != 0) {
            w->total.connect_failures++;
            conn_close(w, c);
            cycle_start(w, c);
            return;
        }
    }
    int rc = tcp_send(w, c);
    /* Connect mode measures the connection's whole life. */
    c->sent_at[0] = c->cycle_ns;
    if (rc == 0 && c->next_send == 0 && c->send_off == 0 && w->cfg->stop && *w->cfg->stop) {
        /* Stopped (Ctrl-C) before this cycle's message went out: not an
         * error.  Watching for writability again would spin until the
         * final wait and then count a timeout. */
        conn_close(w, c);
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
        conn_close(w, c);
        cycle_start(w, c);
        return;
    }
    if (c->next_recv == 1) { /* the one echo came back whole */
        w->total.connects++;
        conn_close(w, c);
        cycle_start(w, c);
        return;
    }
    int mask = c->next_send == 1 && c->send_off == 0 ? SK_EV_READ : SK_EV_WRITE;
    sk_loop_watch(w->loop, fd, mask, on_cycle, c);
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

static void on_udp(struct sk_loop *loop, int fd, void *data, int events);

/* Closed loop: up to UDP_BATCH datagrams per system call (sendmmsg where
 * there is one), so the generator is not what limits a batched server.
 * Open loop sends each datagram when it is due, one at a time. */
static int udp_send(struct worker *w, struct bconn *c)
{
    const struct sk_bench_config *cfg = w->cfg;
    size_t size = cfg->size;
    uint64_t now = sk_now_ns();
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
        int n = sk_send_vec_batch(c->fd, iov, 2, nmsg);
        if (n < 0) {
            if (n == -EINTR)
                continue;
            if (sk_error_would_block(n) || sk_error_is(n, ENOBUFS))
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
    struct sk_dgram d[UDP_BATCH];
    for (int i = 0; i < UDP_BATCH; i++) {
        d[i].data = w->rbuf + (size_t)i * slot;
        d[i].cap = slot;
    }
    for (;;) {
        int got = sk_recv_batch(c->fd, d, UDP_BATCH);
        if (got < 0) {
            /* ICMP errors for earlier datagrams (Windows: as resets) */
            if (got == -EINTR || sk_error_is(got, ECONNREFUSED) || sk_error_is(got, ECONNRESET))
                continue;
            if (sk_error_would_block(got))
                return 0;
            return got;
        }
        uint64_t now = sk_now_ns();
        for (int i = 0; i < got; i++)
            udp_check(w, c, d[i].data, d[i].len, d[i].truncated, now);
    }
}

static void udp_step(struct worker *w, struct bconn *c)
{
    int rc = udp_receive(w, c);
    udp_expire(w, c, sk_now_ns());
    if (rc == 0)
        rc = udp_send(w, c);
    if (rc < 0) {
        w->total.resets++;
        conn_done(w, c);
        return;
    }
    if (udp_outstanding(c) == 0 && !sending_allowed(w, c, sk_now_ns()))
        conn_done(w, c);
}

static void on_udp(struct sk_loop *loop, int fd, void *data, int events)
{
    (void)loop, (void)fd, (void)events;
    struct bconn *c = data;
    udp_step(c->w, c);
}

/* ---- workers ------------------------------------------------------------- */

/* Hand what was measured since the last call to the reporter. */
static void publish(struct worker *w)
{
    sk_mutex_lock(w->lock);
    w->reported = w->total;
    sk_hist_merge(w->interval_hist, w->unpublished);
    sk_mutex_unlock(w->lock);
    sk_hist_merge(w->hist, w->unpublished);
    sk_hist_init(w->unpublished);
    w->last_publish_ns = sk_now_ns();
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
                conn_close(w, c);
                cycle_start(w, c);
            }
        } else if (tcp_in_flight(c) > 0 &&
                   now - c->sent_at[c->next_recv % c->ring] >= timeout) {
            w->total.timeouts += tcp_in_flight(c);
            conn_done(w, c);
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
static void on_due_timer(struct sk_loop *loop, int fd, void *data, int events)
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
    if (fd >= 0 && sk_loop_watch(w->loop, fd, SK_EV_READ, on_due_timer, NULL) < 0) {
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
    uint64_t now = sk_now_ns(), next = UINT64_MAX;
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

static void *worker_main(void *arg)
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
    uint64_t drain_deadline = 0, next_overdue_check = 0;
    /* UDP has its own loss timeout; TCP echo with --duration the final wait. */
    int check_overdue = cfg->mode == SK_BENCH_CONNECT || (!cfg->udp && w->deadline_ns == 0);

    for (int i = 0; i < w->nconns; i++) {
        struct bconn *c = &w->conns[i];
        /* With --count below --conns some connections have nothing to do
         * and are done already (fd -1): stepping them would read fd -1 and
         * count the EBADF as a reset. */
        if (c->done)
            continue;
        if (cfg->mode == SK_BENCH_CONNECT)
            cycle_start(w, c);
        else if (cfg->udp)
            udp_step(w, c);
        else
            tcp_step(w, c);
    }
    while (w->active > 0) {
        if (due_fd >= 0)
            due_timer_arm(w, due_fd, &due_armed);
        int rc = sk_loop_run_once(w->loop, tick_ms);
        if (rc < 0 && rc != -EINTR)
            break;
        uint64_t now = sk_now_ns();
        int sending_over = (cfg->stop && *cfg->stop) ||
                           (w->deadline_ns != 0 && now >= w->deadline_ns);
        if (sending_over && drain_deadline == 0)
            drain_deadline = now + (uint64_t)cfg->timeout_ms * 1000000u;
        if (cfg->mode != SK_BENCH_CONNECT && (cfg->rate > 0 || cfg->udp || sending_over)) {
            for (int i = 0; i < w->nconns; i++) {
                struct bconn *c = &w->conns[i];
                if (c->done)
                    continue;
                if (cfg->udp)
                    udp_step(w, c);
                else
                    tcp_step(w, c);
            }
        }
        if (check_overdue && drain_deadline == 0 && now >= next_overdue_check) {
            give_up_overdue(w, now);
            next_overdue_check = now + 10000000u; /* 10 ms: O(conns) each time */
        }
        if (drain_deadline != 0 && now >= drain_deadline) {
            /* Replies still missing after the grace period. */
            for (int i = 0; i < w->nconns; i++) {
                struct bconn *c = &w->conns[i];
                if (c->done)
                    continue;
                if (cfg->udp) {
                    udp_expire(w, c, UINT64_MAX / 2);
                } else if (cfg->mode == SK_BENCH_CONNECT) {
                    if (c->fd >= 0)
                        w->total.timeouts++;
                } else {
                    w->total.timeouts += tcp_in_flight(c);
                }
                conn_done(w, c);
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
    if (due_fd >= 0) {
        sk_loop_watch(w->loop, due_fd, SK_EV_NONE, NULL, NULL);
        sk_fd_close(due_fd);
    }
    publish(w);
    atomic_store(&w->finished, 1);
    return NULL;
}

static int worker_setup(struct worker *w, const struct sk_bench_config *cfg, int nconns)
{
    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    w->nconns = nconns;
    w->active = nconns;
    w->conns = calloc((size_t)(nconns ? nconns : 1), sizeof *w->conns);
    /* TCP reads RECV_BUFFER at a time; UDP a batch of size + 1 slots. */
    size_t rbuf_size = RECV_BUFFER;
    if (w->cfg->udp && (size_t)UDP_BATCH * (w->cfg->size + 1) > rbuf_size)
        rbuf_size = (size_t)UDP_BATCH * (w->cfg->size + 1);
    w->rbuf = malloc(rbuf_size);
    w->hist = malloc(sizeof *w->hist);
    w->unpublished = malloc(sizeof *w->unpublished);
    w->interval_hist = malloc(sizeof *w->interval_hist);
    w->lock = sk_mutex_new();
    if (!w->conns || !w->rbuf || !w->hist || !w->unpublished || !w->interval_hist || !w->lock)
        return -ENOMEM;
    sk_hist_init(w->hist);
    sk_hist_init(w->unpublished);
    sk_hist_init(w->interval_hist);
    uint32_t ring = cfg->rate > 0 ? OPEN_LOOP_CAP : cfg->udp ? UDP_WINDOW : (uint32_t)cfg->depth;
    for (int i = 0; i < nconns; i++) {
        struct bconn *c = &w->conns[i];
        c->w = w;
        c->fd = -1;
        c->ring = ring;
        c->sent_at = calloc(ring, sizeof *c->sent_at);
        if (c->sent_at == NULL)
            return -ENOMEM;
        if (cfg->udp) {
            c->seen = calloc(UDP_WINDOW / 8, 1);
            c->expired = calloc(UDP_WINDOW / 8, 1);
            if (c->seen == NULL || c->expired == NULL)
                return -ENOMEM;
        }
    }
#ifdef _WIN32
    /* WSAPoll: select's sets would hold only FD_SETSIZE sockets. */
    return sk_loop_create(&sk_poller_poll, (int)sk_descriptor_limit(), &w->loop);
#else
    return sk_loop_create(&sk_poller_epoll, 1 << 20, &w->loop) == 0 ? 0
         : sk_loop_create(&sk_poller_poll, 1 << 20, &w->loop);
#endif
}

static void worker_free(struct worker *w)
{
    for (int i = 0; w->conns && i < w->nconns; i++) {
        conn_close(w, &w->conns[i]);
        free(w->conns[i].sent_at);
        free(w->conns[i].seen);
        free(w->conns[i].expired);
    }
    free(w->conns);
    free(w->rbuf);
    free(w->hist);
    free(w->unpublished);
    free(w->interval_hist);
    sk_mutex_free(w->lock);
    if (w->loop)
        sk_loop_destroy(w->loop);
}

static int make_block(void)
{
    if (block != NULL)
        return 0;
    block = malloc(BLOCK_SIZE);
    if (block == NULL)
        return -ENOMEM;
    uint64_t x = 0x9e3779b97f4a7c15ULL ^ sk_now_ns();
    for (size_t i = 0; i < BLOCK_SIZE; i += 8) {
        x = mix64(x + 0x9e3779b97f4a7c15ULL);
        memcpy(block + i, &x, 8);
    }
    return 0;
}

/* Connect every echo/UDP socket up front, so the clock starts with all of
 * them ready. */
static int connect_all(const struct sk_bench_config *cfg, struct worker *workers,
                       int nworkers)
{
    uint32_t id = 0;
    for (int t = 0; t < nworkers; t++) {
        for (int i = 0; i < workers[t].nconns; i++) {
            struct bconn *c = &workers[t].conns[i];
            sk_socket_t fd;
            int rc = sk_connect(cfg->host, cfg->port, cfg->udp ? SOCK_DGRAM : SOCK_STREAM,
                                cfg->timeout_ms, &fd);
            if (rc < 0)
                return rc;
            int one = 1;
            if (!cfg->udp)
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, (const void *)&one, sizeof one);
            sk_socket_set_nonblocking(fd, 1);
            c->fd = fd;
            c->id = id++;
            int mask = SK_EV_READ;
            rc = sk_loop_watch(workers[t].loop, fd, mask, cfg->udp ? on_udp : on_tcp, c);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

int sk_bench_run(const struct sk_bench_config *cfg, struct sk_bench_report *final,
                 struct sk_hist *final_hist)
{
    int nthreads = cfg->threads > 0 ? cfg->threads : 1;
    if (nthreads > cfg->conns)
        nthreads = cfg->conns;
    int rc = make_block();
    if (rc < 0)
        return rc;
    struct worker *workers = calloc((size_t)nthreads, sizeof *workers);
    if (workers == NULL)
        return -ENOMEM;

    uint64_t per_conn_quota = UINT64_MAX, extra = 0;
    if (cfg->count > 0 && cfg->mode == SK_BENCH_ECHO) {
        per_conn_quota = cfg->count / (uint64_t)cfg->conns;
        extra = cfg->count % (uint64_t)cfg->conns;
    }
    for (int t = 0; t < nthreads && rc == 0; t++) {
        int n = cfg->conns / nthreads + (t < cfg->conns % nthreads ? 1 : 0);
        rc = worker_setup(&workers[t], cfg, n);
    }
    if (rc == 0 && cfg->mode == SK_BENCH_CONNECT) {
        /* One connection first, closed at once: with nothing listening the
         * run fails here, with one message, as it does without
         * --connect-rate (instead of counting a failure per cycle for the
         * whole run), and every cycle then goes to the address that
         * answered, not merely the first one HOST resolves to. */
        struct sk_addr dest;
        sk_socket_t probe;
        rc = sk_connect(cfg->host, cfg->port, SOCK_STREAM, cfg->timeout_ms, &probe);
        if (rc == 0) {
            dest.len = (sk_socklen_t)sizeof dest.ss;
            if (getpeername(probe, (struct sockaddr *)&dest.ss, &dest.len) != 0)
                rc = sk_error_last();
            sk_socket_close(probe);
        }
        if (rc == 0) {
            uint64_t total = cfg->count > 0 ? cfg->count : UINT64_MAX;
            for (int t = 0; t < nthreads; t++) {
                workers[t].dest = dest;
                workers[t].cycles_left = total == UINT64_MAX ? UINT64_MAX
                    : total / (uint64_t)nthreads + ((uint64_t)t < total % (uint64_t)nthreads);
                workers[t].next_id = (uint32_t)t << 24;
            }
        }
    } else if (rc == 0) {
        rc = connect_all(cfg, workers, nthreads);
    }
    if (rc < 0) {
        for (int t = 0; t < nthreads; t++)
            worker_free(&workers[t]);
        free(workers);
        return rc;
    }

    uint64_t start = sk_now_ns();
    uint64_t deadline = cfg->count > 0 ? 0 : start + (uint64_t)(cfg->duration_s * 1e9);
    double per_conn_rate = cfg->rate > 0 ? cfg->rate / cfg->conns : 0;
    uint64_t k = 0;
    for (int t = 0; t < nthreads; t++) {
        struct worker *w = &workers[t];
        w->deadline_ns = deadline;
        w->interval_ns = per_conn_rate > 0 ? (uint64_t)(1e9 / per_conn_rate) : 0;
        w->last_publish_ns = start;
        for (int i = 0; i < w->nconns; i++, k++) {
            struct bconn *c = &w->conns[i];
            c->quota = per_conn_quota == UINT64_MAX ? UINT64_MAX : per_conn_quota + (k < extra);
            /* Spread the first sends of an open loop over one interval. */
            c->due_ns = start + (w->interval_ns * k) / (uint64_t)cfg->conns;
            if (c->quota == 0)
                conn_done(w, c);
        }
    }
    int started = 0;
    for (int t = 0; t < nthreads && rc == 0; t++, started++)
        rc = sk_thread_start(&workers[t].thread, worker_main, &workers[t]);

    /* Report once a second until every worker is done. */
    struct sk_hist *interval = malloc(sizeof *interval);
    struct sk_bench_counts last;
    memset(&last, 0, sizeof last);
    uint64_t last_ns = start;
    for (;;) {
        int finished = 0;
        for (int t = 0; t < started; t++)
            finished += atomic_load(&workers[t].finished);
        if (finished == started)
            break;
        uint64_t next = last_ns + 1000000000u;
        for (uint64_t now = sk_now_ns(); now < next; now = sk_now_ns()) {
            uint64_t left_ms = (next - now) / 1000000u;
            sk_sleep_ms(left_ms > 50 ? 50 : left_ms > 0 ? (int)left_ms : 1);
            finished = 0;
            for (int t = 0; t < started; t++)
                finished += atomic_load(&workers[t].finished);
            if (finished == started)
                break;
        }
        if (finished == started)
            break;
        if (interval == NULL || cfg->on_interval == NULL) {
            last_ns = next;
            continue;
        }
        struct sk_bench_counts sum;
        memset(&sum, 0, sizeof sum);
        sk_hist_init(interval);
        for (int t = 0; t < started; t++) {
            sk_mutex_lock(workers[t].lock);
            counts_add(&sum, &workers[t].reported);
            sk_hist_merge(interval, workers[t].interval_hist);
            sk_hist_init(workers[t].interval_hist);
            sk_mutex_unlock(workers[t].lock);
        }
        uint64_t now = sk_now_ns();
        struct sk_bench_report r;
        r.elapsed_s = (double)(now - start) / 1e9;
        r.interval_s = (double)(now - last_ns) / 1e9;
        r.counts = sum;
        /* Counters are cumulative; report this interval's share.  One
         * can shrink: a UDP reply that comes after it was counted lost
         * takes the loss back (udp_lost--), and an unsigned difference
         * would then print as 2^64 - 1 errors.  Such an interval shows 0. */
        uint64_t *a = (uint64_t *)&r.counts, *b = (uint64_t *)&last;
        for (size_t i = 0; i < sizeof sum / sizeof(uint64_t); i++)
            a[i] = a[i] >= b[i] ? a[i] - b[i] : 0;
        last = sum;
        last_ns = now;
        r.hist = interval;
        cfg->on_interval(cfg->ctx, &r);
    }
    for (int t = 0; t < started; t++)
        sk_thread_join(workers[t].thread);
    uint64_t end = sk_now_ns();

    memset(final, 0, sizeof *final);
    sk_hist_init(final_hist);
    for (int t = 0; t < nthreads; t++) {
        counts_add(&final->counts, &workers[t].total);
        sk_hist_merge(final_hist, workers[t].hist);
        worker_free(&workers[t]);
    }
    final->elapsed_s = final->interval_s = (double)(end - start) / 1e9;
    final->hist = final_hist;
    free(interval);
    free(workers);
    return rc;
}
