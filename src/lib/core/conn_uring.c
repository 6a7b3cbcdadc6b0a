/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * conn_uring.c - the connection core's io_uring backend (liburing).
 *
 * The Unix Network Programming "asynchronous I/O" model: the worker asks
 * the kernel to accept, receive and send, and learns when each finished.
 * Each worker thread owns one ring; the core (sk_conn.c) owns everything
 * else.  io_uring techniques, and the kernel each needs:
 *   - multishot accept (io_uring_prep_multishot_accept)          5.19
 *     falls back to re-armed single accepts on -EINVAL, and
 *     uses single accepts near --max-conns (see below)            5.5
 *   - a provided-buffer ring, registered once per worker
 *     (io_uring_register_buf_ring + io_uring_buf_ring_add;
 *     liburing 2.3 has no io_uring_setup_buf_ring, so the ring
 *     memory is mmap()ed here the way that helper does it)       5.19
 *   - multishot recv from that ring (io_uring_prep_recv_multishot)
 *     with a total-length cap in sqe->optlen                     6.17
 *     as a bundle: one receive fills as many buffers as the
 *     bytes waiting need, with one completion                   6.10
 *     falls back to single-shot recv with IOSQE_BUFFER_SELECT
 *     (older kernels reject the cap with -EINVAL)                5.19
 *   - send (io_uring_prep_send) from the connection's buffer,    5.6
 *     or for echo straight from the provided buffer the bytes
 *     arrived in (below: "Echo in place")
 *   - with SOCKIT_URING=zc-send, echo sends of 16 KiB and more
 *     are zero-copy (io_uring_prep_sendmsg_zc): the kernel pins
 *     the buffers and says when it let go (IORING_CQE_F_NOTIF)    6.1
 *   - io_uring_register_ring_fd: each enter skips the fd lookup   5.18
 *   - cancel by user_data (io_uring_prep_cancel64)               5.5
 *   - UDP: a multishot poll (io_uring_prep_poll_multishot) wakes
 *     the worker, which then drains the socket with non-blocking
 *     recvmmsg()/sendmmsg(); single-shot poll on -EINVAL          5.13
 *   - io_uring_submit_and_wait_timeout: one system call per loop
 *     round submits everything queued and waits (IORING_FEAT_EXT_ARG,
 *     5.11; older kernels get liburing's internal timeout SQE)
 *   - IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (6.1), else
 *     COOP_TASKRUN (5.19), else no setup flags.  The ring is
 *     created on the thread that drives it, as SINGLE_ISSUER asks.
 *   SOCKIT_URING=no-NAME turns one of them off, to measure it, and
 *   SOCKIT_URING=bundle turns bundles on, which are off by default
 *   (sk_uring.h says why; scripts/bench_uring.py measures them).
 *
 * user_data is a connection (or worker) pointer with the operation in its
 * three low bits.  Every operation in flight is counted on its connection,
 * which the core frees only once that count is back to zero: a completion
 * never reaches freed memory.  Closing cancels what is in flight, and the
 * socket is closed only after the last completion, so a cancel can never
 * hit a descriptor number the kernel already gave to somebody else.
 *
 * Backpressure.  An uncapped multishot recv keeps pulling while it is
 * armed: the kernel may drain a flooding peer's whole socket buffer into
 * the shared ring before we see one completion, and a peer that never
 * reads would then keep those buffers and starve everybody else.  So a
 * multishot recv is armed only with the kernel's length cap (6.17), set so
 * that all it can ever bring fits the connection's empty input buffer, and
 * only while the output has room for a whole ring buffer.  When that stops
 * being true the multishot is cancelled and the connection is
 * "throttled": single-shot recvs of at most its output room (the OpenBSD
 * nc rule) until its output has drained.  Ring buffers go back to the
 * ring as soon as the core has taken their bytes.  -ENOBUFS (the ring
 * momentarily empty) parks the connection until a buffer comes back.
 *
 * The sockets stay blocking: io_uring waits on them itself, and an
 * O_NONBLOCK socket would make it report -EAGAIN instead.
 *
 * Echo in place.  The readiness backend splices echo's bytes (mirror());
 * here the ring has IORING_OP_SPLICE, but the kernel always hands it to
 * an io-wq worker thread that blocks in splice() (liburing issue #426),
 * so every connection waiting for bytes would hold a kernel thread.
 * Instead the send goes out from the provided buffer the receive filled,
 * and the buffer returns to the ring when the send completes: no copy in
 * user space, and the bytes are still warm in the cache when the kernel
 * reads them back.  A peer that does not read would keep its buffers, so
 * one connection holds at most HELD_MAX of them and all together at most
 * half the ring; beyond that, and whenever bytes are already queued in
 * the connection's output, the bytes are copied there as before.  With
 * zc-send a large send only pins the buffers' pages; they go back to the
 * ring once every zero-copy send of the connection has been notified.
 */
#include "sk_conn.h"
#include "sk_trace.h"
#include "sk_error.h"
#include "sk_sock.h"
#include "sk_uring.h"

#define COMPLETION "io_uring completion" /* how the trace names what finished */

#ifdef SK_HAVE_URING

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#define RING_ENTRIES 1024        /* submission queue; completions get twice that */
#define BUF_GROUP 1              /* the provided-buffer group id */
#define BUF_COUNT 256            /* provided buffers per worker (a power of two) */
#define BUF_SIZE_MAX 16384       /* bytes per provided buffer */
#define DATAGRAM_BATCHES 4       /* per wake-up; then the other work gets a turn */
#define HELD_MAX 8               /* ring buffers one connection echoes from at once */
#define ZC_MIN 16384             /* zero-copy sends (zc-send) of at least this many bytes */

/* Receive bundles (Linux 6.10): liburing 2.3's header predates them. */
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4)
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14)
#endif

/* What a completion is for: the low bits of user_data. */
enum uring_op {
    OP_IGNORE = 0, /* cancels; their results do not matter */
    OP_ACCEPT = 1, /* pointer is the worker */
    OP_RECV = 2,   /* pointer is the connection */
    OP_SEND = 3,
    OP_POLL = 4,   /* UDP readiness; pointer is the worker */
    OP_MASK = 7    /* liburing's own timeout (all ones) lands on 7: ignored */
};

/* Part of a provided buffer an echo sends back from where it arrived. */
struct held_buf {
    unsigned short bid;
    unsigned off, len;
};

struct uring_conn {
    struct sk__conn base;
    unsigned recv_armed : 1, recv_multishot : 1, recv_cancelled : 1, recv_bundle : 1;
    unsigned send_armed : 1, send_held : 1, send_zc : 1, throttled : 1, starved : 1;
    int inflight;              /* operations whose completion is still due */
    size_t recv_taken;         /* bytes the armed multishot recv brought so far */
    struct uring_conn *starved_next;
    unsigned nheld, held_head; /* echo in place: a FIFO of buffers to send */
    unsigned held_done;        /* ... the first of them all sent, kept while zc_notifs */
    unsigned zc_notifs;        /* zero-copy sends whose pages the kernel still holds */
    struct held_buf held[HELD_MAX];
    struct msghdr held_msg;    /* ... all of them in one send, while it is in flight */
    struct iovec held_iov[HELD_MAX];
};

struct uring_worker {
    struct sk__worker base;
    struct io_uring ring;
    int ring_ready;
    int ringfd_registered;       /* io_uring_register_ring_fd took */
    unsigned setup_flags;
    unsigned features;           /* SOCKIT_URING's choice (sk_uring.h) */
    int listen_armed;            /* an accept or poll is in flight */
    int listen_multishot;        /* ... and it is a multishot one */
    int listen_cancelled;        /* ... and it is being cancelled */
    int multishot_accept, multishot_recv, multishot_poll; /* still believed supported */
    int bundle;                  /* multishot receives take several buffers at once */
    int udp_pending;             /* the socket may still hold datagrams */
    long closing;                /* closed connections with operations due */
    /* The provided-buffer ring. */
    struct io_uring_buf_ring *br;
    size_t br_bytes;
    uint8_t *pbufs;
    size_t pbufs_bytes;
    unsigned pbuf_size;
    unsigned pbuf_out;           /* buffers user space holds right now */
    unsigned pbuf_held;          /* ... of which connections echo from */
    int in_place;                /* echo sends from the buffers (SK_URING_ECHO_IN_PLACE) */
    int zc_send;                 /* ... large ones with IORING_OP_SENDMSG_ZC (SK_URING_ZC_SEND) */
    /* Which buffer sits where in the ring: a bundle's completion names
     * only its first buffer, the rest are the ring entries after it. */
    unsigned br_pos;                    /* entries ever added */
    unsigned short slot_bid[BUF_COUNT]; /* buffer id at each entry */
    unsigned short bid_slot[BUF_COUNT]; /* ... and each buffer's last entry */
    struct uring_conn *starved;  /* waiting for a provided buffer */
};

_Static_assert(_Alignof(struct uring_conn) >= 8, "user_data needs 3 free pointer bits");
_Static_assert(_Alignof(struct uring_worker) >= 8, "user_data needs 3 free pointer bits");

#define UC(c) ((struct uring_conn *)(c))
#define UW(w) ((struct uring_worker *)(w))

static uint64_t op_data(const void *p, enum uring_op op)
{
    return (uint64_t)(uintptr_t)p | (uint64_t)op;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* An SQE; when the queue is full, submit what is there and take a fresh one. */
static struct io_uring_sqe *get_sqe(struct uring_worker *uw)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&uw->ring);
    if (sqe == NULL) {
        int rc = io_uring_submit(&uw->ring);
        if (rc < 0)
            sk_log(&uw->base.srv->cfg->logger, SK_LOG_WARN, "io_uring_submit failed: %s",
                   sk_strerror(rc));
        sqe = io_uring_get_sqe(&uw->ring);
    }
    return sqe;
}

static void cancel_op(struct uring_worker *uw, uint64_t target)
{
    struct io_uring_sqe *sqe = get_sqe(uw);
    if (sqe == NULL)
        return; /* the operation ends at stop, when the ring is torn down */
    io_uring_prep_cancel64(sqe, target, 0);
    io_uring_sqe_set_data64(sqe, op_data(NULL, OP_IGNORE));
}

/* ---- the provided-buffer ring ---------------------------------------- */

static uint8_t *pbuf_data(struct uring_worker *uw, int bid)
{
    return uw->pbufs + (size_t)bid * uw->pbuf_size;
}

static void pbuf_add(struct uring_worker *uw, int bid, int offset)
{
    unsigned slot = (uw->br_pos + (unsigned)offset) & (BUF_COUNT - 1);
    io_uring_buf_ring_add(uw->br, pbuf_data(uw, bid), uw->pbuf_size, (unsigned short)bid,
                          io_uring_buf_ring_mask(BUF_COUNT), offset);
    uw->slot_bid[slot] = (unsigned short)bid;
    uw->bid_slot[bid] = (unsigned short)slot;
}

static void pbuf_return(struct uring_worker *uw, int bid)
{
    pbuf_add(uw, bid, 0);
    io_uring_buf_ring_advance(uw->br, 1);
    uw->br_pos++;
    uw->pbuf_out--;
}

/* The i-th buffer of the bundle whose first buffer is first.  The kernel
 * took ring entries in order from first's, and none of them can have been
 * refilled since: the ring never holds more than BUF_COUNT buffers. */
static int pbuf_bundle_bid(const struct uring_worker *uw, int first, unsigned i)
{
    return uw->slot_bid[(uw->bid_slot[first] + i) & (BUF_COUNT - 1)];
}

static int pbuf_setup(struct uring_worker *uw)
{
    uw->pbuf_size = (unsigned)min_size(uw->base.bufsize, BUF_SIZE_MAX);
    int rc = sk__uring_buf_ring_map(&uw->ring, BUF_COUNT, BUF_GROUP, &uw->br, &uw->br_bytes);
    if (rc < 0)
        return rc;
    /* Touched now (MAP_POPULATE), so the ring is a fixed cost paid at
     * start and the resident size never creeps up as buffers rotate. */
    uw->pbufs_bytes = (size_t)BUF_COUNT * uw->pbuf_size;
    void *mem = mmap(NULL, uw->pbufs_bytes, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED)
        return -errno;
    uw->pbufs = mem;
    io_uring_buf_ring_init(uw->br);
    for (int i = 0; i < BUF_COUNT; i++)
        pbuf_add(uw, i, i);
    io_uring_buf_ring_advance(uw->br, BUF_COUNT);
    uw->br_pos = BUF_COUNT;
    return 0;
}

/* Echo in place: the first n held buffers go back to the ring. */
static void release_first(struct uring_conn *uc, unsigned n)
{
    struct uring_worker *uw = UW(uc->base.w);
    for (; n > 0 && uc->nheld > 0; n--, uc->nheld--) {
        pbuf_return(uw, uc->held[uc->held_head].bid);
        uw->pbuf_held--;
        uc->held_head = (uc->held_head + 1) % HELD_MAX;
    }
    uc->held_done = 0;
}

/* ... and all of them, once the kernel is done with them (the connection
 * closed: no send in flight, no zero-copy pages pinned). */
static void release_held(struct uring_conn *uc)
{
    if (!uc->send_armed && uc->zc_notifs == 0)
        release_first(uc, uc->nheld);
}

/* ---- receiving and sending -------------------------------------------- */

static int can_read(struct uring_conn *uc)
{
    return !uc->starved && sk__conn_can_read(&uc->base);
}

static void arm_recv(struct uring_conn *uc)
{
    struct uring_worker *uw = UW(uc->base.w);
    struct io_uring_sqe *sqe = get_sqe(uw);
    if (sqe == NULL) {
        sk__conn_fail(&uc->base, -EBUSY, "receive");
        return;
    }
    size_t room = sk__conn_out_room(&uc->base), bufsize = uw->base.bufsize;
    if (uw->multishot_recv && !uc->throttled && room >= uw->pbuf_size &&
        bufsize >= 2 * (size_t)uw->pbuf_size) {
        /* Capped so that everything it brings fits the input buffer
         * (empty now): the kernel can never bring more than this
         * connection may hold, however late we see the completions.  The
         * kernel stops once the cap is used up, but the last receive may
         * fill a whole buffer, hence one buffer less one byte off.  The
         * cap is sqe->optlen, which liburing 2.3 still calls file_index. */
        io_uring_prep_recv_multishot(sqe, uc->base.fd, NULL, 0, 0);
        sqe->file_index = (uint32_t)(bufsize - uw->pbuf_size + 1);
        /* A bundle takes all that waits (up to the cap) in one receive and
         * one completion, over as many buffers as it fills: the echo then
         * goes back in one send, as a readiness loop's big recv() does. */
        uc->recv_bundle = uw->bundle != 0;
        if (uc->recv_bundle)
            sqe->ioprio |= IORING_RECVSEND_BUNDLE;
        uc->recv_taken = 0;
        uc->recv_multishot = 1;
    } else {
        /* Never more than the output can take: the nc rule. */
        io_uring_prep_recv(sqe, uc->base.fd, NULL, min_size(room, uw->pbuf_size), 0);
        uc->recv_multishot = 0;
        uc->recv_bundle = 0;
    }
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data64(sqe, op_data(uc, OP_RECV));
    uc->recv_armed = 1;
    uc->recv_cancelled = 0;
    uc->inflight++;
}

static const struct held_buf *held_at(const struct uring_conn *uc, unsigned i)
{
    return &uc->held[(uc->held_head + i) % HELD_MAX];
}

/* Echo in place: every held buffer not yet sent in one sendmsg, so the
 * bytes leave in as few segments as a copy into the output would make;
 * zero-copy when asked for and big enough to be worth the pinning. */
static void prep_send_held(struct uring_conn *uc, struct io_uring_sqe *sqe)
{
    struct uring_worker *uw = UW(uc->base.w);
    size_t bytes = 0;
    unsigned n = 0;
    for (unsigned i = uc->held_done; i < uc->nheld; i++, n++) {
        const struct held_buf *h = held_at(uc, i);
        uc->held_iov[n].iov_base = pbuf_data(uw, h->bid) + h->off;
        uc->held_iov[n].iov_len = h->len;
        bytes += h->len;
    }
    memset(&uc->held_msg, 0, sizeof uc->held_msg);
    uc->held_msg.msg_iov = uc->held_iov;
    uc->held_msg.msg_iovlen = n;
    uc->send_zc = uw->zc_send && bytes >= ZC_MIN;
    if (uc->send_zc)
        io_uring_prep_sendmsg_zc(sqe, uc->base.fd, &uc->held_msg, SK_MSG_NOSIGNAL);
    else
        io_uring_prep_sendmsg(sqe, uc->base.fd, &uc->held_msg, SK_MSG_NOSIGNAL);
}

/* Only queued until now: the send goes out with this round's submit, so
 * a message costs no system call of its own.  Held bytes came before
 * anything in the output, so they go first; from the output, its
 * contiguous part from the head, the rest with the next send. */
static void arm_send(struct uring_conn *uc)
{
    struct uring_worker *uw = UW(uc->base.w);
    struct io_uring_sqe *sqe = get_sqe(uw);
    if (sqe == NULL) {
        sk__conn_fail(&uc->base, -EBUSY, "send");
        return;
    }
    uc->send_held = uc->nheld > uc->held_done;
    uc->send_zc = 0;
    if (uc->send_held) {
        prep_send_held(uc, sqe);
    } else {
        size_t len;
        const uint8_t *p = sk__conn_out_span(&uc->base, &len);
        io_uring_prep_send(sqe, uc->base.fd, p, len, SK_MSG_NOSIGNAL);
        uc->base.sending = len;
    }
    io_uring_sqe_set_data64(sqe, op_data(uc, OP_SEND));
    uc->send_armed = 1;
    uc->inflight++;
}

/* Receive when the connection can take input; stop when it cannot. */
static void update_recv(struct uring_conn *uc)
{
    struct uring_worker *uw = UW(uc->base.w);
    if (uc->recv_armed) {
        if (uc->recv_multishot && !uc->recv_cancelled &&
            (!can_read(uc) || sk__conn_out_room(&uc->base) < uw->pbuf_size)) {
            cancel_op(uw, op_data(uc, OP_RECV));
            uc->recv_cancelled = 1;
            uc->throttled = 1;
        }
        return;
    }
    if (can_read(uc))
        arm_recv(uc);
}

static void uring_update(struct sk__conn *c)
{
    struct uring_conn *uc = UC(c);
    if ((uc->nheld > uc->held_done || sk__conn_out_len(c) > 0) && !uc->send_armed)
        arm_send(uc);
    if (uc->nheld == 0 && sk__conn_out_len(c) == 0 && c->in == NULL)
        uc->throttled = 0; /* the peer keeps up again */
    update_recv(uc);
}

static void starved_unlink(struct uring_conn *uc)
{
    if (!uc->starved)
        return;
    for (struct uring_conn **p = &UW(uc->base.w)->starved; *p != NULL; p = &(*p)->starved_next) {
        if (*p == uc) {
            *p = uc->starved_next;
            break;
        }
    }
    uc->starved = 0;
    uc->starved_next = NULL;
}

/* The last operation of a closed connection came back. */
static void finish(struct uring_conn *uc)
{
    if (uc->base.fd != SK_INVALID_SOCKET)
        sk__close_traced(uc->base.fd);
    uc->base.fd = SK_INVALID_SOCKET;
    UW(uc->base.w)->closing--;
    sk__conn_release(&uc->base);
}

/* A closed connection waiting only for zero-copy notifications: the
 * kernel lets go of the pages when the socket drops the segments, which
 * a peer that reads nothing would put off until the socket closes, so
 * close it now (nothing is in flight that names the descriptor). */
static void close_if_only_pinned(struct uring_conn *uc)
{
    if (uc->base.closed && uc->zc_notifs > 0 && uc->inflight == (int)uc->zc_notifs &&
        uc->base.fd != SK_INVALID_SOCKET) {
        sk__close_traced(uc->base.fd);
        uc->base.fd = SK_INVALID_SOCKET;
    }
}

static int uring_conn_stop(struct sk__conn *c)
{
    struct uring_conn *uc = UC(c);
    struct uring_worker *uw = UW(c->w);
    if (uc->recv_armed && !uc->recv_cancelled) {
        cancel_op(uw, op_data(uc, OP_RECV));
        uc->recv_cancelled = 1;
    }
    if (uc->send_armed)
        cancel_op(uw, op_data(uc, OP_SEND)); /* held buffers go back when it has */
    release_held(uc);
    starved_unlink(uc);
    if (uc->inflight > 0) {
        uw->closing++;
        close_if_only_pinned(uc);
        return 0; /* the socket goes when the ring is done with it */
    }
    sk__close_traced(c->fd);
    c->fd = SK_INVALID_SOCKET;
    return 1;
}

/* A completion's nbufs buffers from first (a bundle fills several): their
 * len bytes to the core, which copies what it keeps, unless the
 * connection is closed; then the buffers go back.  The ids are all looked
 * up before any goes back, since returning one moves it in the ring. */
static void take_buffers(struct uring_conn *uc, int first, unsigned nbufs, size_t len)
{
    struct uring_worker *uw = UW(uc->base.w);
    int bids[BUF_COUNT];
    for (unsigned i = 0; i < nbufs; i++)
        bids[i] = pbuf_bundle_bid(uw, first, i);
    for (unsigned i = 0; i < nbufs && len > 0; i++) {
        size_t n = min_size(len, uw->pbuf_size);
        if (!uc->base.closed)
            sk__conn_received(&uc->base, pbuf_data(uw, bids[i]), n);
        len -= n;
    }
    for (unsigned i = 0; i < nbufs; i++)
        pbuf_return(uw, bids[i]);
}

/* Echo in place: keep a completion's buffers to send them back as they
 * are.  0 when they must be copied instead (see the top of the file). */
static int hold_buffers(struct uring_conn *uc, int first, unsigned nbufs, size_t len)
{
    struct uring_worker *uw = UW(uc->base.w);
    if (!uw->in_place || uc->nheld + nbufs > HELD_MAX || uw->pbuf_held + nbufs > BUF_COUNT / 2 ||
        !sk__conn_may_hold(&uc->base, len))
        return 0;
    sk__conn_mirror_held(&uc->base, len);
    for (unsigned i = 0; i < nbufs; i++) {
        struct held_buf *h = &uc->held[(uc->held_head + uc->nheld) % HELD_MAX];
        h->bid = (unsigned short)pbuf_bundle_bid(uw, first, i);
        h->off = 0;
        h->len = (unsigned)min_size(len, uw->pbuf_size);
        len -= h->len;
        uc->nheld++;
        uw->pbuf_held++;
    }
    return 1;
}

static void on_recv(struct uring_conn *uc, int res, unsigned flags)
{
    struct uring_worker *uw = UW(uc->base.w);
    int bid = (flags & IORING_CQE_F_BUFFER) ? (int)(flags >> IORING_CQE_BUFFER_SHIFT) : -1;
    unsigned nbufs = bid < 0 ? 0
                     : uc->recv_bundle && res > 0 ? ((unsigned)res + uw->pbuf_size - 1) / uw->pbuf_size
                     : 1;
    uw->pbuf_out += nbufs;
    if (!(flags & IORING_CQE_F_MORE)) {
        uc->recv_armed = 0;
        uc->inflight--;
    }
    if (SK_TRACING() && res != -ECANCELED && (res != -ENOBUFS || !uc->starved))
        sk__trace_completion(COMPLETION, uc->base.fd, "recv", uw->pbuf_size * (nbufs ? nbufs : 1),
                             res, res > 0 && bid >= 0 ? pbuf_data(uw, bid) : NULL);
    if (uc->base.closed) {
        take_buffers(uc, bid, nbufs, 0);
        if (uc->inflight == 0)
            finish(uc);
        else
            close_if_only_pinned(uc);
        return;
    }
    if (res > 0 && bid >= 0) {
        if (uc->recv_multishot && (uc->recv_taken += (size_t)res) > uw->base.bufsize &&
            uw->multishot_recv) {
            /* A kernel that took the cap for something else: never rely
             * on it again (the core refuses what does not fit). */
            uw->multishot_recv = 0;
            sk_log(&uw->base.srv->cfg->logger, SK_LOG_WARN,
                   "io_uring: multishot recv ignored its length cap; "
                   "using single-shot receives");
        }
        if (!hold_buffers(uc, bid, nbufs, (size_t)res))
            take_buffers(uc, bid, nbufs, (size_t)res);
        sk__conn_schedule(&uc->base);
        return;
    }
    take_buffers(uc, bid, nbufs, 0);
    if (res == 0) {
        sk__conn_eof(&uc->base);
    } else if (res == -ENOBUFS) {
        if (!uc->starved) { /* the ring is empty for now: re-armed when buffers return */
            uc->starved = 1;
            uc->starved_next = uw->starved;
            uw->starved = uc;
        }
    } else if (res == -EINVAL && uc->recv_bundle && uw->bundle) {
        uw->bundle = 0;
        sk_log(&uw->base.srv->cfg->logger, SK_LOG_INFO,
               "io_uring: this kernel refuses bundled multishot receives; "
               "receiving one buffer at a time");
    } else if (res == -EINVAL && uc->recv_multishot && uw->multishot_recv) {
        uw->multishot_recv = 0;
        sk_log(&uw->base.srv->cfg->logger, SK_LOG_INFO,
               "io_uring: multishot recv with a length cap is not supported "
               "(needs Linux >= 6.17); using single-shot receives");
    } else if (res != -ECANCELED && res != -EINTR && res != -EAGAIN) {
        sk__conn_fail(&uc->base, res, "receive");
    }
    sk__conn_schedule(&uc->base);
}

/* n held bytes went; each buffer all sent goes back to the ring, unless
 * a zero-copy send still pins pages (then once the last is notified). */
static void held_sent(struct uring_conn *uc, size_t n)
{
    sk__conn_mirror_sent(&uc->base, n);
    while (n > 0 && uc->held_done < uc->nheld) {
        struct held_buf *h = &uc->held[(uc->held_head + uc->held_done) % HELD_MAX];
        size_t part = min_size(n, h->len);
        h->off += (unsigned)part;
        h->len -= (unsigned)part;
        n -= part;
        if (h->len == 0)
            uc->held_done++;
    }
    if (uc->zc_notifs == 0)
        release_first(uc, uc->held_done);
}

/* A zero-copy send's notification: the kernel let go of its pages. */
static void on_zc_notif(struct uring_conn *uc)
{
    if (SK_TRACING())
        sk__trace_model("io_uring notification", "zero-copy send", 0,
                        "the kernel let go of the pages the send pinned: the buffers may "
                        "be used again");
    uc->zc_notifs--;
    uc->inflight--;
    if (uc->base.closed) {
        release_held(uc);
        if (uc->inflight == 0)
            finish(uc);
        return;
    }
    if (uc->zc_notifs == 0)
        release_first(uc, uc->held_done);
    sk__conn_schedule(&uc->base);
}

static void on_send(struct uring_conn *uc, int res, unsigned flags)
{
    if (flags & IORING_CQE_F_NOTIF) {
        on_zc_notif(uc);
        return;
    }
    int held = uc->send_held, zc = uc->send_zc;
    if (SK_TRACING() && res != -ECANCELED) {
        /* What the trace shows of the bytes: the first buffer's. */
        size_t len = 0, sent_len = uc->base.sending;
        const uint8_t *p = sk__conn_out_span(&uc->base, &len);
        if (held) {
            p = uc->held_iov[0].iov_base;
            sent_len = 0;
            for (size_t i = 0; i < uc->held_msg.msg_iovlen; i++)
                sent_len += uc->held_iov[i].iov_len;
        }
        sk__trace_completion(COMPLETION, uc->base.fd,
                             zc ? "sendmsg_zc" : held ? "sendmsg" : "send", sent_len, res, p);
    }
    uc->send_armed = 0;
    uc->send_held = 0;
    uc->send_zc = 0;
    if (zc && (flags & IORING_CQE_F_MORE))
        uc->zc_notifs++; /* the request lives on until its notification */
    else
        uc->inflight--;
    uc->base.sending = 0;
    if (uc->base.closed) {
        release_held(uc); /* the kernel is done with them */
        if (uc->inflight == 0)
            finish(uc);
        else
            close_if_only_pinned(uc);
        return;
    }
    if (zc && (res == -EOPNOTSUPP || res == -EINVAL) && UW(uc->base.w)->zc_send) {
        /* A socket that cannot send zero-copy (a Unix one), or a kernel
         * that refuses it: this worker sends by copying from now on. */
        UW(uc->base.w)->zc_send = 0;
        sk_log(&uc->base.w->srv->cfg->logger, SK_LOG_INFO,
               "io_uring: zero-copy send refused (%s); sending by copying", sk_strerror(res));
    } else if (res <= 0)
        sk__conn_fail(&uc->base, res < 0 ? res : -EPIPE, "send");
    else if (held)
        held_sent(uc, (size_t)res);
    else
        sk__conn_sent(&uc->base, (size_t)res);
    sk__conn_schedule(&uc->base);
}

/* ---- the listener ----------------------------------------------------- */

/* A multishot accept takes everything in the listen queue at once, before
 * the core gets to count it against --max-conns.  Near the limit that
 * burst would run the process out of descriptors instead of refusing with
 * a line, so there each accept is a single one again. */
static int accept_burst_fits(struct uring_worker *uw)
{
    struct sk_server *srv = uw->base.srv;
    long backlog = srv->cfg->backlog > 0 ? srv->cfg->backlog : SK_DEFAULT_BACKLOG;
    long room = srv->max_conns - atomic_load(&uw->base.shared->live);
    return room > (backlog + 16) * uw->base.shared->count;
}

static void arm_listener(struct uring_worker *uw)
{
    struct io_uring_sqe *sqe = get_sqe(uw);
    if (sqe == NULL)
        return; /* tried again next round */
    int fd = (int)uw->base.listener;
    if (uw->base.srv->cfg->udp) {
        if (uw->multishot_poll)
            io_uring_prep_poll_multishot(sqe, fd, POLLIN);
        else
            io_uring_prep_poll_add(sqe, fd, POLLIN);
        io_uring_sqe_set_data64(sqe, op_data(uw, OP_POLL));
    } else {
        uw->listen_multishot = uw->multishot_accept && accept_burst_fits(uw);
        if (uw->listen_multishot)
            io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
        else
            io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
        io_uring_sqe_set_data64(sqe, op_data(uw, OP_ACCEPT));
    }
    uw->listen_armed = 1;
    uw->listen_cancelled = 0;
}

static void cancel_listener(struct uring_worker *uw)
{
    if (uw->listen_armed && !uw->listen_cancelled) {
        cancel_op(uw, op_data(uw, uw->base.srv->cfg->udp ? OP_POLL : OP_ACCEPT));
        uw->listen_cancelled = 1;
    }
}

static void uring_listen(struct sk__worker *w, int on)
{
    struct uring_worker *uw = UW(w);
    if (!on)
        cancel_listener(uw);
    else if (!uw->listen_armed)
        arm_listener(uw);
}

static void on_accept(struct uring_worker *uw, int res, unsigned flags)
{
    if (!(flags & IORING_CQE_F_MORE))
        uw->listen_armed = 0;
    if (res >= 0) {
        struct sk_addr peer;
        if (sk_peer_addr(res, &peer) < 0) {
            if (SK_TRACING())
                sk__trace_accept(COMPLETION, uw->base.listener, res, NULL);
            sk__close_traced(res); /* reset before we got to it */
        } else {
            if (SK_TRACING())
                sk__trace_accept(COMPLETION, uw->base.listener, res,
                                 (const struct sockaddr *)&peer.ss);
            sk__worker_accepted(&uw->base, res, &peer);
        }
        if (uw->listen_armed && uw->listen_multishot && !accept_burst_fits(uw))
            cancel_listener(uw); /* re-armed as a single accept */
        return;
    }
    if (SK_TRACING() && res != -ECANCELED)
        sk__trace_accept(COMPLETION, uw->base.listener, res, NULL);
    if (res == -EINVAL && uw->multishot_accept) {
        uw->multishot_accept = 0;
        sk_log(&uw->base.srv->cfg->logger, SK_LOG_INFO,
               "io_uring: multishot accept is not supported (needs Linux >= 5.19); "
               "using single accepts");
        return;
    }
    sk__worker_accept_failed(&uw->base, res);
    /* io_uring takes the descriptor before it looks for a connection: out
     * of descriptors, every accept fails at once whether or not anybody
     * waits, and re-arming it would spin.  Rest, as nginx does. */
    if (res == -EMFILE || res == -ENFILE)
        sk__worker_pause_accepting(&uw->base);
}

static void on_poll(struct uring_worker *uw, int res, unsigned flags)
{
    if (SK_TRACING() && res != -ECANCELED)
        sk__trace_completion(COMPLETION, uw->base.listener, "poll", 0, res, NULL);
    if (!(flags & IORING_CQE_F_MORE))
        uw->listen_armed = 0;
    if (res >= 0) {
        uw->udp_pending = 1;
    } else if (res == -EINVAL && uw->multishot_poll) {
        uw->multishot_poll = 0;
    } else if (res != -ECANCELED) {
        sk__worker_accept_failed(&uw->base, res);
    }
}

/* ---- the worker ------------------------------------------------------- */

static void handle_cqe(struct uring_worker *uw, const struct io_uring_cqe *cqe)
{
    void *p = (void *)(uintptr_t)(cqe->user_data & ~(uint64_t)OP_MASK);
    switch ((enum uring_op)(cqe->user_data & OP_MASK)) {
    case OP_ACCEPT:
        on_accept(uw, cqe->res, cqe->flags);
        break;
    case OP_POLL:
        on_poll(uw, cqe->res, cqe->flags);
        break;
    case OP_RECV:
        on_recv(p, cqe->res, cqe->flags);
        break;
    case OP_SEND:
        on_send(p, cqe->res, cqe->flags);
        break;
    default:
        break; /* cancels, liburing's timeouts */
    }
}

/* Submit what is queued, wait up to timeout_ms for a completion, and
 * handle every completion there is. */
static int submit_and_reap(struct uring_worker *uw, int timeout_ms)
{
    struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000,
                                    .tv_nsec = (long long)(timeout_ms % 1000) * 1000000 };
    struct io_uring_cqe *cqe;
    unsigned queued = SK_TRACING() ? io_uring_sq_ready(&uw->ring) : 0;
    int rc = io_uring_submit_and_wait_timeout(&uw->ring, &cqe, 1, &ts, NULL);
    if (SK_TRACING() && (queued > 0 || io_uring_cq_ready(&uw->ring) > 0)) {
        char args[64];
        snprintf(args, sizeof args, "%u queued, wait 1, timeout %d ms", queued, timeout_ms);
        char meaning[64];
        snprintf(meaning, sizeof meaning, "submitted; %u completions to reap",
                 io_uring_cq_ready(&uw->ring));
        sk__trace_model("io_uring_submit_and_wait_timeout", args, rc == -ETIME ? 0 : rc,
                        rc >= 0 || rc == -ETIME ? meaning : NULL);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
        return rc;
    unsigned head, count = 0;
    io_uring_for_each_cqe(&uw->ring, head, cqe) {
        handle_cqe(uw, cqe);
        count++;
    }
    io_uring_cq_advance(&uw->ring, count);
    return 0;
}

static int uring_wait(struct sk__worker *w, int timeout_ms)
{
    struct uring_worker *uw = UW(w);
    /* Connections parked on -ENOBUFS: try again once a buffer is back. */
    if (uw->starved != NULL && uw->pbuf_out < BUF_COUNT) {
        struct uring_conn *list = uw->starved;
        uw->starved = NULL;
        while (list != NULL) {
            struct uring_conn *uc = list;
            list = uc->starved_next;
            uc->starved = 0;
            uc->starved_next = NULL;
            sk__conn_schedule(&uc->base);
        }
    }
    if (w->listening && !uw->listen_armed && w->accept_resume_ms == 0)
        arm_listener(uw);
    if (uw->udp_pending || w->ready != NULL)
        timeout_ms = 0;
    int rc = submit_and_reap(uw, timeout_ms);
    /* The poll fires on new arrivals only: come back while more wait. */
    if (uw->udp_pending)
        uw->udp_pending = sk__worker_datagrams(w, DATAGRAM_BATCHES);
    return rc;
}

static int ring_setup(struct uring_worker *uw)
{
    static const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof flag_sets / sizeof *flag_sets; i++) {
        if ((flag_sets[i] & IORING_SETUP_DEFER_TASKRUN) && !(uw->features & SK_URING_DEFER))
            continue;
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = flag_sets[i];
        rc = io_uring_queue_init_params(RING_ENTRIES, &uw->ring, &p);
        if (rc == 0) {
            uw->setup_flags = flag_sets[i];
            uw->bundle = (p.features & IORING_FEAT_RECVSEND_BUNDLE) &&
                         (uw->features & SK_URING_BUNDLE);
            break;
        }
        if (rc != -EINVAL)
            break;
    }
    if (rc < 0)
        return rc;
    uw->ring_ready = 1;
    /* Each enter then skips looking the ring's descriptor up; a kernel
     * without it (before 5.18) just costs that lookup. */
    if (uw->features & SK_URING_RINGFD)
        uw->ringfd_registered = io_uring_register_ring_fd(&uw->ring) == 1;
    uw->multishot_accept = (uw->features & SK_URING_MULTISHOT_ACCEPT) != 0;
    uw->multishot_recv = (uw->features & SK_URING_MULTISHOT_RECV) != 0;
    uw->multishot_poll = 1;
    uw->in_place = (uw->features & SK_URING_ECHO_IN_PLACE) != 0;
    if (uw->in_place && (uw->features & SK_URING_ZC_SEND)) {
        struct io_uring_probe *probe = io_uring_get_probe_ring(&uw->ring);
        uw->zc_send = probe != NULL && io_uring_opcode_supported(probe, IORING_OP_SENDMSG_ZC);
        if (probe != NULL)
            io_uring_free_probe(probe);
    }
    if (!uw->base.srv->cfg->udp && (rc = pbuf_setup(uw)) < 0)
        return rc;
    return 0;
}

static int uring_worker_init(struct sk__worker *w)
{
    struct uring_worker *uw = UW(w);
    const struct sk_logger *logger = &w->srv->cfg->logger;
    const char *bad;
    size_t badlen;
    int rc = sk__uring_features(&uw->features, &bad, &badlen);
    if (rc < 0) {
        if (w->index == 0) { /* every worker fails the same way: one line says it */
            char names[128];
            sk__uring_feature_names(names, sizeof names);
            sk_log(logger, SK_LOG_ERROR, "SOCKIT_URING: '%.*s' is not an io_uring feature (%s, "
                   "each turned off with no-NAME, on with NAME)", (int)badlen, bad, names);
        }
        return rc;
    }
    rc = ring_setup(uw);
    if (rc < 0) {
        sk_log(logger, SK_LOG_ERROR, "worker %d: cannot set up io_uring: %s%s", w->index,
               sk_strerror(rc),
               rc == -EINVAL ? " (buffer rings need Linux >= 5.19)"
               : rc == -ENOMEM ? " (raise the locked-memory limit, ulimit -l)" : "");
        return rc;
    }
    if (w->index == 0)
        sk_log(logger, SK_LOG_DEBUG, "io_uring: %s, %u provided buffers of %u bytes per worker",
               (uw->setup_flags & IORING_SETUP_DEFER_TASKRUN) ? "single issuer, deferred task work"
               : uw->setup_flags ? "cooperative task work" : "default setup",
               BUF_COUNT, uw->pbuf_size);
    return 0;
}

/* At stop: the cancels are given a moment to come back. */
static void uring_drain(struct sk__worker *w, int ms)
{
    struct uring_worker *uw = UW(w);
    cancel_listener(uw);
    uint64_t deadline = sk_now_ms() + (uint64_t)ms;
    while ((uw->closing > 0 || uw->listen_armed) && sk_now_ms() < deadline)
        if (submit_and_reap(uw, 50) < 0)
            break;
}

/* Tearing the ring down cancels whatever is still in flight; only then
 * may the memory those operations point at go (the core frees it next). */
static void uring_worker_cleanup(struct sk__worker *w)
{
    struct uring_worker *uw = UW(w);
    if (uw->ring_ready) {
        if (uw->ringfd_registered)
            io_uring_unregister_ring_fd(&uw->ring);
        io_uring_queue_exit(&uw->ring);
    }
    if (uw->br != NULL)
        munmap(uw->br, uw->br_bytes);
    if (uw->pbufs != NULL)
        munmap(uw->pbufs, uw->pbufs_bytes);
}

static const struct sk__conn_backend uring_backend = {
    .name = "io_uring",
    .worker_size = sizeof(struct uring_worker),
    .conn_size = sizeof(struct uring_conn),
    .refill_early = 1, /* refill before the output runs dry: a send stays queued */
    .mirror_in_place = 1,
    .worker_init = uring_worker_init,
    .worker_cleanup = uring_worker_cleanup,
    .wait = uring_wait,
    .listen = uring_listen,
    .drain = uring_drain,
    .update = uring_update,
    .conn_stop = uring_conn_stop,
    /* No flush, send_now, read: everything is armed in update.  No
     * send_file: a sendfile() on a ring's socket could block the loop. */
};

int sk__uring_serve(struct sk_server *srv)
{
    return sk__conn_serve(srv, &uring_backend, NULL);
}

#endif /* SK_HAVE_URING */
