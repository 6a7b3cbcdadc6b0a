/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_bench_uring.c - the load generator's io_uring engine (TCP echo).
 *
 * The poll engine (sk_bench.c) makes a writev() and a recv() per turn of
 * each connection, and an epoll_wait() per turn of the loop.  Here one
 * io_uring_submit_and_wait_timeout() per turn of the loop carries every
 * connection's next send and brings back every reply that came.
 * io_uring techniques, and the kernel each needs:
 *   - multishot recv (io_uring_prep_recv_multishot) from a ring of
 *     provided buffers: armed once per connection, it posts a completion
 *     per arrival until it stops (-ENOBUFS, or the kernel ends it), and
 *     is armed again then                                          6.0
 *     falls back to single-shot recvs with IOSQE_BUFFER_SELECT,
 *     armed again after each completion, on -EINVAL                5.19
 *   - a provided-buffer ring per worker (io_uring_register_buf_ring;
 *     liburing 2.3 has no io_uring_setup_buf_ring, so the ring memory
 *     is mmap()ed here as that helper does it); each buffer goes back
 *     to the ring as soon as its bytes are checked                 5.19
 *   - one send (io_uring_prep_send, MSG_WAITALL) per connection at a
 *     time, of every message its window lets start, cut straight from
 *     the stream block (any SK_BENCH_MAX_SIZE bytes of a connection's
 *     stream are contiguous there).  One at a time because a second
 *     send queued while the first waits for room could overtake it
 *     (liburing's examples/proxy.c tells the story); MSG_WAITALL makes
 *     the kernel finish a send that found the socket full, so a send
 *     completes whole or fails                                     5.6
 *   - cancel by user_data when a connection ends                   5.5
 *   - IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (6.1), else
 *     COOP_TASKRUN (5.19), else no such flags; always R_DISABLED, so
 *     that the thread setting the run up makes the ring and registers
 *     its buffers while the worker thread, which enables it, becomes
 *     its single issuer (IORING_REGISTER_ENABLE_RINGS)             5.10
 *   - io_uring_register_ring_fd: each enter skips the fd lookup    5.18
 *   - the wait's timeout passed to the enter (IORING_FEAT_EXT_ARG) 5.11
 *
 * What may be sent and when, how a reply is checked and timed and what
 * ends a connection are sk_bench.c's (sk__bench_tcp_*), as are the
 * deadline, the overdue replies and the final wait (sk__bench_after_wait),
 * so both engines count and time the same way.  Time stamps: a message is
 * stamped right before the submit that sends it (the sends go out inside
 * that call), a reply when the wait that brought it returns (with
 * deferred task work the kernel copies replies in during that wait).  An
 * open loop stamps the due time, as the poll engine does.
 *
 * user_data is the connection's index shifted left by two, with the
 * operation in the two low bits.  A completion for a connection that has
 * ended (its socket closed, fd -1) only gives its buffer back.
 *
 * The sockets are blocking: io_uring waits for them itself, and on an
 * O_NONBLOCK socket it would report -EAGAIN instead.
 */
#include "sk_bench.h"
#include "sk_bench_internal.h"
#include "sk_error.h"
#include "sk_uring.h"

#include <sockit/server.h>

#ifdef SK_HAVE_URING

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define TICK_MS 50                /* the longest wait: deadlines and overdue replies */
#define RATE_TICK_NS 10000000u    /* open loop: the longest wait */
#define SQ_MIN 64u
#define SQ_MAX 1024u              /* a turn that queues more submits early */
#define BUF_GROUP 1
#define BUF_SIZE_MIN 4096u
#define BUF_SIZE_MAX 65536u
#define BUF_COUNT_MIN 64u
#define BUF_COUNT_MAX 32768u      /* the kernel's limit for one buffer ring */
#define BUF_BYTES_MAX (32u << 20) /* per worker */

/* What a completion is for: the low bits of user_data. */
enum uring_op {
    OP_IGNORE = 0, /* cancels */
    OP_RECV = 1,
    OP_SEND = 2,
    OP_MASK = 3    /* liburing's own timeouts (all ones) land here: ignored */
};

struct uring_conn {
    unsigned recv_armed : 1, send_armed : 1, touched : 1, fresh : 1;
    uint32_t fresh_from; /* closed loop: the first message the queued send starts */
    uint32_t send_len;   /* bytes of the send in flight */
};

struct sk__bench_uring {
    struct io_uring ring;
    int ring_ready;
    int multishot;       /* multishot recv still believed supported */
    uint64_t now;        /* when the last wait returned: one clock read a turn */
    struct io_uring_buf_ring *br;
    size_t br_bytes;
    uint8_t *bufs;
    size_t bufs_bytes;
    unsigned buf_size, buf_count;
    struct uring_conn *uc;
    int *touched, ntouched; /* connections with completions this turn */
    int *fresh, nfresh;     /* connections whose new messages await their stamp */
};

static unsigned pow2_within(uint64_t want, unsigned lo, unsigned hi)
{
    unsigned n = lo;
    while (n < want && n < hi)
        n *= 2;
    return n;
}

static uint64_t op_data(int index, enum uring_op op)
{
    return ((uint64_t)(unsigned)index << 2) | (uint64_t)op;
}

/* Closed loop: the messages queued since the last submit go out in the
 * next one, so that is their send time. */
static void stamp_fresh(struct worker *w)
{
    struct sk__bench_uring *u = w->uring;
    if (u->nfresh == 0)
        return;
    uint64_t now = sk__now_ns();
    for (int i = 0; i < u->nfresh; i++) {
        struct bconn *c = &w->conns[u->fresh[i]];
        struct uring_conn *uc = &u->uc[u->fresh[i]];
        for (uint32_t seq = uc->fresh_from; seq != c->next_send; seq++)
            c->sent_at[seq % c->ring] = now;
        uc->fresh = 0;
    }
    u->nfresh = 0;
}

/* An SQE; when the queue is full, stamp and submit what is there first. */
static struct io_uring_sqe *get_sqe(struct worker *w)
{
    struct sk__bench_uring *u = w->uring;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (sqe == NULL) {
        stamp_fresh(w);
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

static void buf_return(struct sk__bench_uring *u, unsigned bid)
{
    io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * u->buf_size, u->buf_size,
                          (unsigned short)bid, io_uring_buf_ring_mask(u->buf_count), 0);
    io_uring_buf_ring_advance(u->br, 1);
}

static int arm_recv(struct worker *w, int i)
{
    struct sk__bench_uring *u = w->uring;
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL)
        return -EBUSY;
    if (u->multishot)
        io_uring_prep_recv_multishot(sqe, w->conns[i].fd, NULL, 0, 0);
    else
        io_uring_prep_recv(sqe, w->conns[i].fd, NULL, u->buf_size, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data64(sqe, op_data(i, OP_RECV));
    u->uc[i].recv_armed = 1;
    return 0;
}

/* One send of every message that may start now (none: nothing queued). */
static int queue_send(struct worker *w, int i)
{
    struct sk__bench_uring *u = w->uring;
    struct bconn *c = &w->conns[i];
    size_t size = w->cfg->size;
    uint32_t most = (uint32_t)(SK_BENCH_MAX_SIZE / size), k = 0;
    while (k < most && sk__bench_tcp_may_start(w, c, c->next_send + k, k, u->now))
        k++;
    if (k == 0)
        return 0;
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL)
        return -EBUSY;
    size_t len = (size_t)k * size;
    io_uring_prep_send(sqe, c->fd, sk__bench_stream_bytes(c->id, (uint64_t)c->next_send * size),
                       len, MSG_WAITALL | SK_MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, op_data(i, OP_SEND));
    struct uring_conn *uc = &u->uc[i];
    uc->send_armed = 1;
    uc->send_len = (uint32_t)len;
    if (w->cfg->rate <= 0 && !uc->fresh) {
        uc->fresh = 1;
        uc->fresh_from = c->next_send;
        u->fresh[u->nfresh++] = i;
    }
    /* Counted as sent now: its echo may come back before its completion. */
    sk__bench_tcp_sent(w, c, len, 0);
    return 0;
}

/* A turn of one connection: done, or its next send and its receive armed. */
static void uring_step(struct worker *w, struct bconn *c)
{
    struct sk__bench_uring *u = w->uring;
    int i = (int)(c - w->conns);
    if (c->done || c->fd < 0 || sk__bench_tcp_finished(w, c, u->now))
        return;
    int rc = 0;
    if (!u->uc[i].send_armed)
        rc = queue_send(w, i);
    if (rc == 0 && !u->uc[i].recv_armed)
        rc = arm_recv(w, i);
    if (rc < 0)
        sk__bench_tcp_failed(w, c, rc);
}

/* The connection is ending: cancel what it has in flight (w->forget). */
static void uring_forget(struct worker *w, struct bconn *c)
{
    struct sk__bench_uring *u = w->uring;
    int i = (int)(c - w->conns);
    static const enum uring_op ops[] = { OP_RECV, OP_SEND };
    for (int k = 0; k < 2; k++) {
        if (ops[k] == OP_RECV ? !u->uc[i].recv_armed : !u->uc[i].send_armed)
            continue;
        struct io_uring_sqe *sqe = get_sqe(w);
        if (sqe == NULL)
            return; /* it ends when the ring is torn down */
        io_uring_prep_cancel64(sqe, op_data(i, ops[k]), 0);
        io_uring_sqe_set_data64(sqe, op_data(0, OP_IGNORE));
    }
}

static void touch(struct sk__bench_uring *u, int i)
{
    if (!u->uc[i].touched) {
        u->uc[i].touched = 1;
        u->touched[u->ntouched++] = i;
    }
}

static void on_recv(struct worker *w, int i, int res, unsigned flags, uint64_t now)
{
    struct sk__bench_uring *u = w->uring;
    struct bconn *c = &w->conns[i];
    int bid = (flags & IORING_CQE_F_BUFFER) ? (int)(flags >> IORING_CQE_BUFFER_SHIFT) : -1;
    if (!(flags & IORING_CQE_F_MORE))
        u->uc[i].recv_armed = 0;
    int rc = 0;
    if (c->fd < 0) {
        /* ended: nothing to check */
    } else if (res > 0 && bid >= 0) {
        rc = sk__bench_tcp_check(w, c, u->bufs + (size_t)bid * u->buf_size, (size_t)res, now);
    } else if (res == 0) {
        sk__bench_tcp_closed(w, c);
    } else if (res == -EINVAL && u->multishot) {
        u->multishot = 0; /* armed again below, single-shot */
    } else if (res != -ENOBUFS && res != -EINTR && res != -EAGAIN) {
        rc = res < 0 ? res : -EPROTO;
    }
    if (bid >= 0)
        buf_return(u, (unsigned)bid);
    if (rc < 0)
        sk__bench_tcp_failed(w, c, rc);
    else if (c->fd >= 0)
        touch(u, i);
}

static void on_send(struct worker *w, int i, int res)
{
    struct sk__bench_uring *u = w->uring;
    struct bconn *c = &w->conns[i];
    u->uc[i].send_armed = 0;
    if (c->fd < 0)
        return;
    if (res < 0 || (uint32_t)res != u->uc[i].send_len)
        sk__bench_tcp_failed(w, c, res < 0 ? res : -EPIPE);
    else
        touch(u, i);
}

/* How long the next wait may last. */
static struct __kernel_timespec wait_time(const struct worker *w)
{
    uint64_t ns = (uint64_t)TICK_MS * 1000000u;
    if (w->cfg->rate > 0) {
        /* Until the earliest message due (nanoseconds: the enter's timeout
         * is a high-resolution timer).  One already due is waiting for its
         * window or its send, and a completion will wake the loop for it. */
        uint64_t now = sk__now_ns();
        ns = RATE_TICK_NS;
        for (int i = 0; i < w->nconns; i++) {
            const struct bconn *c = &w->conns[i];
            if (!c->done && c->due_ns > now && c->due_ns - now < ns)
                ns = c->due_ns - now;
        }
    }
    struct __kernel_timespec ts = { .tv_sec = (long long)(ns / 1000000000u),
                                    .tv_nsec = (long long)(ns % 1000000000u) };
    return ts;
}

/* Submit what is queued, wait for a completion, and handle them all. */
static int turn(struct worker *w)
{
    struct sk__bench_uring *u = w->uring;
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts = wait_time(w);
    stamp_fresh(w);
    int rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
        return rc;
    uint64_t now = u->now = sk__now_ns();
    unsigned head, count = 0;
    io_uring_for_each_cqe(&u->ring, head, cqe) {
        int i = (int)(cqe->user_data >> 2);
        switch ((enum uring_op)(cqe->user_data & OP_MASK)) {
        case OP_RECV:
            on_recv(w, i, cqe->res, cqe->flags, now);
            break;
        case OP_SEND:
            on_send(w, i, cqe->res);
            break;
        default:
            break;
        }
        count++;
    }
    io_uring_cq_advance(&u->ring, count);
    for (int k = 0; k < u->ntouched; k++) {
        int i = u->touched[k];
        u->uc[i].touched = 0;
        uring_step(w, &w->conns[i]);
    }
    u->ntouched = 0;
    return 0;
}

void *sk__bench_uring_main(void *arg)
{
    struct worker *w = arg;
    struct sk__bench_uring *u = w->uring;
    /* This thread becomes the ring's single issuer.  (liburing 2.3
     * declares io_uring_enable_rings() but does not export it.) */
    int rc = io_uring_register((unsigned)u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    if (rc >= 0) {
        io_uring_register_ring_fd(&u->ring); /* an optimisation: may fail */
        u->now = sk__now_ns();
        for (int i = 0; i < w->nconns; i++)
            uring_step(w, &w->conns[i]);
    }
    while (rc >= 0 && w->active > 0) {
        rc = turn(w);
        if (rc >= 0)
            sk__bench_after_wait(w, uring_step);
    }
    if (rc < 0) /* the ring itself failed: every connection left with it */
        for (int i = 0; i < w->nconns; i++)
            if (!w->conns[i].done)
                sk__bench_tcp_failed(w, &w->conns[i], rc);
    io_uring_submit(&u->ring); /* the last cancels */
    io_uring_unregister_ring_fd(&u->ring);
    sk__bench_worker_finish(w);
    return NULL;
}

/* ---- setting up and tearing down ------------------------------------------ */

static int ring_setup(struct sk__bench_uring *u, int nconns)
{
    static const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    unsigned entries = pow2_within(2 * (uint64_t)nconns + 8, SQ_MIN, SQ_MAX);
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof flag_sets / sizeof *flag_sets && rc == -EINVAL; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = flag_sets[i] | IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
        p.cq_entries = 4 * entries; /* a send and a receive or two per connection */
        rc = io_uring_queue_init_params(entries, &u->ring, &p);
    }
    if (rc < 0)
        return rc;
    u->ring_ready = 1;
    u->multishot = 1;
    return 0;
}

/* Buffers big enough for a connection's whole window where memory allows,
 * and enough of them for every connection to have a few arrivals waiting. */
static int buffers_setup(struct sk__bench_uring *u, const struct sk_bench_config *cfg,
                         int nconns)
{
    u->buf_size = pow2_within((uint64_t)cfg->size * (uint64_t)cfg->depth, BUF_SIZE_MIN,
                              BUF_SIZE_MAX);
    u->buf_count = pow2_within(4 * (uint64_t)nconns, BUF_COUNT_MIN, BUF_COUNT_MAX);
    while ((uint64_t)u->buf_size * u->buf_count > BUF_BYTES_MAX && u->buf_size > BUF_SIZE_MIN)
        u->buf_size /= 2;
    while ((uint64_t)u->buf_size * u->buf_count > BUF_BYTES_MAX)
        u->buf_count /= 2;
    int rc = sk__uring_buf_ring_map(&u->ring, u->buf_count, BUF_GROUP, &u->br, &u->br_bytes);
    if (rc < 0)
        return rc;
    u->bufs_bytes = (size_t)u->buf_count * u->buf_size;
    void *mem = mmap(NULL, u->bufs_bytes, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED)
        return -errno;
    u->bufs = mem;
    io_uring_buf_ring_init(u->br);
    for (unsigned i = 0; i < u->buf_count; i++)
        io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * u->buf_size, u->buf_size,
                              (unsigned short)i, io_uring_buf_ring_mask(u->buf_count), (int)i);
    io_uring_buf_ring_advance(u->br, (int)u->buf_count);
    return 0;
}

int sk__bench_uring_setup(struct worker *w)
{
    struct sk__bench_uring *u = calloc(1, sizeof *u);
    if (u == NULL)
        return -ENOMEM;
    w->uring = u;
    w->forget = uring_forget;
    size_t n = (size_t)(w->nconns > 0 ? w->nconns : 1);
    u->uc = calloc(n, sizeof *u->uc);
    u->touched = calloc(n, sizeof *u->touched);
    u->fresh = calloc(n, sizeof *u->fresh);
    if (u->uc == NULL || u->touched == NULL || u->fresh == NULL)
        return -ENOMEM;
    int rc = ring_setup(u, w->nconns);
    if (rc == 0)
        rc = buffers_setup(u, w->cfg, w->nconns);
    for (int i = 0; rc == 0 && i < w->nconns; i++)
        if (w->conns[i].fd >= 0)
            rc = sk__socket_set_nonblocking(w->conns[i].fd, 0);
    return rc;
}

void sk__bench_uring_free(struct worker *w)
{
    struct sk__bench_uring *u = w->uring;
    if (u == NULL)
        return;
    w->forget = NULL;
    /* Tearing the ring down cancels what is still in flight; only then
     * may the buffers those operations point at go. */
    if (u->ring_ready)
        io_uring_queue_exit(&u->ring);
    if (u->br != NULL)
        munmap(u->br, u->br_bytes);
    if (u->bufs != NULL)
        munmap(u->bufs, u->bufs_bytes);
    free(u->uc);
    free(u->touched);
    free(u->fresh);
    free(u);
    w->uring = NULL;
}

/* The engine needs what the uring server model needs (io_uring itself,
 * recv and send, buffer rings), so that model's probe answers for both
 * and says why not in the same words. */
int sk__bench_uring_probe(const char **why)
{
    const struct sk_model *m = sk_model_find("uring");
    if (m == NULL) {
        *why = "this build has no io_uring";
        return SK_ENOTAVAIL;
    }
    return sk_model_probe(m, why);
}

#endif /* SK_HAVE_URING */
