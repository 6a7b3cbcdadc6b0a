/*
 * model_uring.c - the io_uring model: completion-based I/O on liburing.
 *
 * The Unix Network Programming "asynchronous I/O" model: the server asks
 * the kernel to accept, receive and send, and learns when each finished.
 * Each worker thread owns one ring, one listening socket (its own, bound
 * with SO_REUSEPORT, or the shared one) and the connections it accepted;
 * nothing is shared between workers but three counters.
 *
 * io_uring techniques, and the kernel each needs:
 *   - multishot accept (io_uring_prep_multishot_accept)          5.19
 *     falls back to re-armed single accepts on -EINVAL, and
 *     uses single accepts near --max-conns (see below)            5.5
 *   - a provided-buffer ring, registered once per worker
 *     (io_uring_register_buf_ring + io_uring_buf_ring_add;
 *     liburing 2.3 has no io_uring_setup_buf_ring, so the ring
 *     memory is mmap()ed here the way that helper does it)       5.19
 *   - multishot recv from that ring (io_uring_prep_recv_multishot)
 *     with a total-length cap in sqe->optlen                     6.17
 *     falls back to single-shot recv with IOSQE_BUFFER_SELECT
 *     (older kernels reject the cap with -EINVAL)                5.19
 *   - send (io_uring_prep_send) from the connection's buffer     5.6
 *   - cancel by user_data (io_uring_prep_cancel64)               5.5
 *   - UDP: a multishot poll (io_uring_prep_poll_multishot) wakes
 *     the worker, which then drains the socket with non-blocking
 *     recvfrom()/sendto(); single-shot poll on -EINVAL           5.13
 *   - io_uring_submit_and_wait_timeout: one system call per loop
 *     iteration submits everything queued and waits at most
 *     250 ms (IORING_FEAT_EXT_ARG, 5.11; older kernels get
 *     liburing's internal timeout SQE)
 *   - IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (6.1), else
 *     COOP_TASKRUN (5.19), else no setup flags.  The ring is
 *     created on the thread that drives it, as SINGLE_ISSUER asks.
 * The probe needs buffer rings, so the model runs on Linux >= 5.19.
 * (liburing 2.3 has no name for the cap's SQE field: see arm_recv.)
 *
 * user_data is a connection (or worker) pointer with the operation in its
 * three low bits (both structures are at least 8-byte aligned).  Every
 * operation in flight is counted on its connection, and a connection is
 * freed only once that count is back to zero: a completion can never
 * reach freed memory.  Closing cancels what is in flight, and the socket
 * is closed only after the last completion, so a cancel can never hit a
 * descriptor number the kernel already gave to somebody else.
 *
 * Memory stays bounded whatever peers do.  The provided-buffer ring is
 * fixed when a worker starts (256 buffers of min(16 KiB, --buffer)), and a
 * connection holds at most two --buffer buffers: its queued output, and
 * the input its service could not take yet; both come from a per-worker
 * free list only while they hold bytes.  One send is in flight per
 * connection, straight from the output buffer (a circular buffer, so data
 * written meanwhile is appended without moving what the kernel reads).
 *
 * Backpressure.  An uncapped multishot recv keeps pulling while it is
 * armed: the kernel may drain a flooding peer's whole socket buffer into
 * the shared ring before we see one completion, and a peer that never
 * reads would then keep those buffers for good and starve everybody else
 * (measured: 8 such peers held 213 of 256 buffers).  So a multishot recv
 * is armed only with the kernel's length cap (6.17), set so that all it
 * can ever bring fits the connection's empty input buffer, and only while
 * the output has room for a whole ring buffer.  When a completion leaves
 * the service with less room than that, or with input it could not take,
 * the multishot is cancelled and the connection is "throttled": it reads
 * with single-shot recvs of at most its output room (the OpenBSD nc rule,
 * as in sk_event.c) until its output has drained completely.  Without the
 * cap (older kernels) every recv is single-shot.  Completions that arrive
 * before a cancel lands are copied into the input buffer; should a kernel
 * ever bring more than that holds, the ring buffer itself is held, in
 * order, until the service takes it (and multishot is switched off).  A
 * peer that never reads therefore stops being read, its socket buffers
 * fill and TCP's window pushes back.  -ENOBUFS (the ring momentarily
 * empty) parks the connection until a buffer comes back; not an error.
 *
 * Everything else is sk_event.c's: deferred frees, idle timeouts through
 * an activity list, --max-conns refusal with one line, --max-clients,
 * EMFILE with libuv's reserve descriptor (here the "drop" accept goes
 * through the ring too, so a busy shared listener can never block us),
 * chat on one worker, stop closes every connection (services see
 * on_close) with worker 0 on the calling thread.
 */
#include "sk_server.h"
#include "sk_error.h"
#include "sk_postq.h"
#include "sk_sock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef SK_HAVE_URING

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define RING_ENTRIES 1024        /* submission queue; completions get twice that */
#define BUF_GROUP 1              /* the provided-buffer group id */
#define BUF_COUNT 256            /* provided buffers per worker (a power of two) */
#define BUF_SIZE_MAX 16384       /* bytes per provided buffer */
#define DATAGRAMS_PER_EVENT 64   /* then the other work gets a turn */
#define ROUNDS_PER_PROCESS 16    /* fairness between connections */
#define STOP_CHECK_MS 250        /* the longest wait for a completion */
#define ACCEPT_RETRY_MS 100      /* after an accept error we cannot fix */
#define DRAIN_MS 1000            /* at stop: how long cancels may take */

/* What a completion is for: the low bits of user_data. */
enum uring_op {
    OP_IGNORE = 0, /* cancels; their results do not matter */
    OP_ACCEPT = 1, /* pointer is the worker */
    OP_RECV = 2,   /* pointer is the connection */
    OP_SEND = 3,
    OP_POLL = 4,   /* UDP readiness; pointer is the worker */
    OP_MASK = 7    /* liburing's own timeout (all ones) lands on 7: ignored */
};

struct uring_buf {
    struct uring_buf *next_free;
    size_t head, len; /* bytes live from head, len of them (circular for output) */
    uint8_t data[];
};

struct uring_shared {
    struct sk_server *srv;
    atomic_long live;
    atomic_long accepted;
    atomic_ulong refused;
    atomic_int failed; /* a worker could not start: everybody stops */
    int nworkers;
};

struct uring_conn;

struct uring_worker {
    struct uring_shared *shared;
    struct sk_server *srv;
    int index;
    struct io_uring ring;
    int ring_ready;
    unsigned setup_flags;
    sk_socket_t listener;
    int own_listener;
    int listening;               /* accepting (or polling the UDP socket) */
    int listen_armed;            /* an accept or poll is in flight */
    int listen_multishot;        /* ... and it is a multishot one */
    int listen_cancelled;        /* ... and it is being cancelled */
    int multishot_accept;        /* still believed supported */
    int multishot_recv;          /* with the kernel's total-length cap */
    int multishot_poll;
    int dropping;                /* EMFILE: the armed accept is the one to drop */
    int reserve_fd;
    uint64_t listen_retry_at_ms; /* 0, or when to re-arm after an error */
    uint64_t last_emfile_log_ms;
    int stopping;
    size_t bufsize;

    /* The provided-buffer ring. */
    struct io_uring_buf_ring *br;
    size_t br_bytes;
    int br_registered;
    uint8_t *pbufs;
    size_t pbufs_bytes;
    unsigned pbuf_size;
    unsigned pbuf_out;           /* buffers user space holds right now */
    int *held_next;              /* per buffer id: the next held one, or -1 */
    unsigned *held_off, *held_len;

    struct sk_datagram_batch *batch; /* UDP: receive and reply buffers */
    int udp_pending;             /* the socket may still hold datagrams */

    struct uring_buf *free_bufs;
    struct uring_conn *oldest, *newest; /* live, by last input: idle order */
    struct uring_conn *ready;           /* to process or free after this batch */
    struct uring_conn *starved;         /* waiting for a provided buffer */
    struct uring_conn *all;             /* every connection not yet freed */
    long live;
    sk_thread_t thread;
};

struct uring_conn {
    struct sk_session session; /* first: the session is the connection */
    struct uring_worker *w;
    int fd;
    unsigned closed : 1, finished : 1, aborted : 1, eof : 1, eof_told : 1, shut : 1;
    unsigned in_ready : 1, recv_armed : 1, recv_multishot : 1, recv_cancelled : 1;
    unsigned send_armed : 1, throttled : 1, starved : 1;
    int inflight;              /* operations whose completion is still due */
    size_t recv_taken;         /* bytes the armed multishot recv brought so far */
    size_t queued;             /* bytes ever accepted by write */
    struct uring_buf *in, *out;
    struct sk_postq backlog;   /* posts waiting for room (sk_postq.h) */
    struct sk_addr peer;       /* for --max-per-ip's count */
    int held_head, held_tail;  /* provided buffers kept for the service */
    uint64_t last_input_ms;
    struct uring_conn *older, *newer, *ready_next, *starved_next;
    struct uring_conn *all_prev, *all_next;
    unsigned long long bytes_in, bytes_out;
};

_Static_assert(_Alignof(struct uring_conn) >= 8, "user_data needs 3 free pointer bits");
_Static_assert(_Alignof(struct uring_worker) >= 8, "user_data needs 3 free pointer bits");

#define CONN(s) ((struct uring_conn *)(s))

static uint64_t op_data(const void *p, enum uring_op op)
{
    return (uint64_t)(uintptr_t)p | (uint64_t)op;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* An SQE; when the queue is full, submit what is there and take a fresh one. */
static struct io_uring_sqe *get_sqe(struct uring_worker *w)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (sqe == NULL) {
        int rc = io_uring_submit(&w->ring);
        if (rc < 0)
            sk_log(&w->srv->cfg->logger, SK_LOG_WARN, "io_uring_submit failed: %s",
                   sk_strerror(rc));
        sqe = io_uring_get_sqe(&w->ring);
    }
    return sqe;
}

static void cancel_op(struct uring_worker *w, uint64_t target)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL)
        return; /* the operation ends at stop, when the ring is torn down */
    io_uring_prep_cancel64(sqe, target, 0);
    io_uring_sqe_set_data64(sqe, op_data(NULL, OP_IGNORE));
}

/* ---- connection buffers ---------------------------------------------- */

static struct uring_buf *buf_get(struct uring_worker *w)
{
    struct uring_buf *b = w->free_bufs;
    if (b != NULL)
        w->free_bufs = b->next_free;
    else if ((b = malloc(sizeof *b + w->bufsize)) == NULL)
        return NULL;
    b->head = b->len = 0;
    b->next_free = NULL;
    return b;
}

static void buf_put(struct uring_worker *w, struct uring_buf *b)
{
    if (b == NULL)
        return;
    b->next_free = w->free_bufs;
    w->free_bufs = b;
}

static size_t buf_len(const struct uring_buf *b)
{
    return b ? b->len : 0;
}

/* Output is circular: bytes the kernel is sending never move. */
static void out_append(struct uring_worker *w, struct uring_buf *b, const uint8_t *data, size_t n)
{
    size_t tail = (b->head + b->len) % w->bufsize;
    size_t first = min_size(n, w->bufsize - tail);
    memcpy(b->data + tail, data, first);
    memcpy(b->data, data + first, n - first);
    b->len += n;
}

/* Input is linear (nothing in flight reads it); compacts when needed. */
static void in_append(struct uring_worker *w, struct uring_buf *b, const uint8_t *data, size_t n)
{
    if (b->head + b->len + n > w->bufsize) {
        memmove(b->data, b->data + b->head, b->len);
        b->head = 0;
    }
    memcpy(b->data + b->head + b->len, data, n);
    b->len += n;
}

/* ---- the provided-buffer ring ---------------------------------------- */

static uint8_t *pbuf_data(struct uring_worker *w, int bid)
{
    return w->pbufs + (size_t)bid * w->pbuf_size;
}

static void pbuf_return(struct uring_worker *w, int bid)
{
    io_uring_buf_ring_add(w->br, pbuf_data(w, bid), w->pbuf_size, (unsigned short)bid,
                          io_uring_buf_ring_mask(BUF_COUNT), 0);
    io_uring_buf_ring_advance(w->br, 1);
    w->pbuf_out--;
}

static int pbuf_setup(struct uring_worker *w)
{
    w->pbuf_size = (unsigned)min_size(w->bufsize, BUF_SIZE_MAX);
    w->br_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, w->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (mem == MAP_FAILED)
        return -errno;
    w->br = mem;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)(uintptr_t)mem;
    reg.ring_entries = BUF_COUNT;
    reg.bgid = BUF_GROUP;
    int rc = io_uring_register_buf_ring(&w->ring, &reg, 0);
    if (rc < 0)
        return rc;
    w->br_registered = 1;
    /* Touched now (MAP_POPULATE), so the ring is a fixed cost paid at
     * start and the resident size never creeps up as buffers rotate. */
    w->pbufs_bytes = (size_t)BUF_COUNT * w->pbuf_size;
    mem = mmap(NULL, w->pbufs_bytes, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED)
        return -errno;
    w->pbufs = mem;
    w->held_next = malloc(BUF_COUNT * sizeof *w->held_next);
    w->held_off = malloc(BUF_COUNT * sizeof *w->held_off);
    w->held_len = malloc(BUF_COUNT * sizeof *w->held_len);
    if (!w->held_next || !w->held_off || !w->held_len)
        return -ENOMEM;
    io_uring_buf_ring_init(w->br);
    for (int i = 0; i < BUF_COUNT; i++)
        io_uring_buf_ring_add(w->br, pbuf_data(w, i), w->pbuf_size, (unsigned short)i,
                              io_uring_buf_ring_mask(BUF_COUNT), i);
    io_uring_buf_ring_advance(w->br, BUF_COUNT);
    return 0;
}

/* ---- bookkeeping ------------------------------------------------------ */

static void schedule(struct uring_conn *c)
{
    if (c->in_ready)
        return;
    c->in_ready = 1;
    c->ready_next = c->w->ready;
    c->w->ready = c;
}

static void activity_unlink(struct uring_conn *c)
{
    struct uring_worker *w = c->w;
    if (c->older)
        c->older->newer = c->newer;
    else if (w->oldest == c)
        w->oldest = c->newer;
    if (c->newer)
        c->newer->older = c->older;
    else if (w->newest == c)
        w->newest = c->older;
    c->older = c->newer = NULL;
}

static void activity_touch(struct uring_conn *c, uint64_t now)
{
    struct uring_worker *w = c->w;
    c->last_input_ms = now;
    if (w->newest == c)
        return;
    activity_unlink(c);
    c->older = w->newest;
    if (w->newest)
        w->newest->newer = c;
    w->newest = c;
    if (w->oldest == NULL)
        w->oldest = c;
}

static void starved_unlink(struct uring_conn *c)
{
    if (!c->starved)
        return;
    for (struct uring_conn **p = &c->w->starved; *p != NULL; p = &(*p)->starved_next) {
        if (*p == c) {
            *p = c->starved_next;
            break;
        }
    }
    c->starved = 0;
    c->starved_next = NULL;
}

static int broken(const struct uring_conn *c)
{
    return c->aborted || (c->session.flags & SK_SESSION_FAILED);
}

/* Room for the session's own writes: none while posts wait, so that
 * bytes leave in the order they were given. */
static size_t out_room(const struct uring_conn *c)
{
    if (c->closed || broken(c) || c->backlog.len > 0)
        return 0;
    return c->w->bufsize - buf_len(c->out);
}

static int has_pending_input(const struct uring_conn *c)
{
    return c->in != NULL || c->held_head >= 0;
}

static void fail(struct uring_conn *c)
{
    c->session.flags |= SK_SESSION_FAILED;
    schedule(c);
}

/* ---- session ops ------------------------------------------------------ */

static size_t uring_write(struct sk_session *s, const void *data, size_t len)
{
    struct uring_conn *c = CONN(s);
    size_t n = min_size(len, out_room(c));
    if (n == 0)
        return 0;
    if (c->out == NULL && (c->out = buf_get(c->w)) == NULL) {
        fail(c);
        return 0;
    }
    /* Only copied: the send goes out with this batch's submit, so a
     * message costs no system call of its own. */
    out_append(c->w, c->out, data, n);
    c->queued += n;
    return n;
}

static int uring_post(struct sk_session *s, const void *data, size_t len)
{
    struct uring_conn *c = CONN(s);
    struct uring_worker *w = c->w;
    if (c->closed || broken(c))
        return -EPIPE; /* already going away: not a slow reader */
    if (out_room(c) < len) {
        size_t cap = w->srv->service_config.chat_output_cap;
        if (cap < w->bufsize)
            cap = w->bufsize;
        /* A member is dropped only when output and backlog together pass
         * the chat cap: one batch of a paste is not a slow reader. */
        if (buf_len(c->out) + c->backlog.len + len > cap)
            return SK_EBUFFULL;
        int rc = sk_postq_push(&c->backlog, data, len);
        if (rc < 0)
            return rc;
        c->queued += len;
    } else if (uring_write(s, data, len) != len) {
        return SK_EBUFFULL;
    }
    schedule(c); /* the target may be idle: make sure its send is armed */
    return 0;
}

/* Move waiting posts into the output as far as it has room. */
static void backlog_drain(struct uring_conn *c)
{
    struct uring_worker *w = c->w;
    size_t len;
    const uint8_t *p;
    while ((p = sk_postq_peek(&c->backlog, &len)) != NULL && buf_len(c->out) < w->bufsize) {
        if (c->out == NULL && (c->out = buf_get(w)) == NULL) {
            fail(c);
            return;
        }
        size_t n = min_size(len, w->bufsize - buf_len(c->out));
        out_append(w, c->out, p, n);
        sk_postq_consume(&c->backlog, n);
    }
}

static size_t uring_room(struct sk_session *s)
{
    return out_room(CONN(s));
}

static void uring_abort(struct sk_session *s)
{
    struct uring_conn *c = CONN(s);
    c->aborted = 1;
    schedule(c);
}

static const struct sk_session_ops uring_ops = {
    .write = uring_write,
    .post = uring_post,
    .room = uring_room,
    .abort = uring_abort,
    /* No send_file: the sockets belong to the ring, and a sendfile() on
     * one could block the whole loop; the file service reads and sends. */
};

/* ---- input ------------------------------------------------------------ */

/* Hand bytes to the service; returns how many it took.  Once the session
 * is ending, whatever is left is as good as taken (nobody will read it). */
static size_t feed(struct uring_conn *c, const uint8_t *data, size_t len)
{
    struct sk_session *s = &c->session;
    const struct sk_service *svc = c->w->srv->service;
    size_t off = 0;
    while (off < len) {
        if (c->closed || broken(c) || (s->flags & SK_SESSION_CLOSE))
            return len;
        size_t used = svc->on_data(s, data + off, len - off);
        if (used == 0)
            break;
        off += used;
    }
    return off;
}

static void hold_pbuf(struct uring_conn *c, int bid, unsigned off, unsigned len)
{
    struct uring_worker *w = c->w;
    w->held_next[bid] = -1;
    w->held_off[bid] = off;
    w->held_len[bid] = len;
    if (c->held_tail >= 0)
        w->held_next[c->held_tail] = bid;
    else
        c->held_head = bid;
    c->held_tail = bid;
}

static void release_held(struct uring_conn *c)
{
    struct uring_worker *w = c->w;
    while (c->held_head >= 0) {
        int bid = c->held_head;
        c->held_head = w->held_next[bid];
        pbuf_return(w, bid);
    }
    c->held_tail = -1;
}

/* Copy held ring buffers into the input buffer while it has room, so the
 * ring gets them back as early as possible. */
static int absorb_held(struct uring_conn *c)
{
    struct uring_worker *w = c->w;
    while (c->held_head >= 0) {
        int bid = c->held_head;
        size_t room = w->bufsize - buf_len(c->in);
        size_t n = min_size(room, w->held_len[bid]);
        if (n == 0)
            break;
        if (c->in == NULL && (c->in = buf_get(w)) == NULL)
            return -ENOMEM;
        in_append(w, c->in, pbuf_data(w, bid) + w->held_off[bid], n);
        w->held_off[bid] += (unsigned)n;
        w->held_len[bid] -= (unsigned)n;
        if (w->held_len[bid] > 0)
            break;
        c->held_head = w->held_next[bid];
        if (c->held_head < 0)
            c->held_tail = -1;
        pbuf_return(w, bid);
    }
    return 0;
}

/* New bytes in provided buffer bid.  The service gets them at once when
 * nothing older waits; what it leaves is copied into the input buffer,
 * and only what does not fit there keeps the ring buffer.  Returns 1 when
 * the ring buffer is now held. */
static int take_input(struct uring_conn *c, int bid, size_t len)
{
    struct uring_worker *w = c->w;
    const uint8_t *data = pbuf_data(w, bid);
    size_t off = 0;
    if (!has_pending_input(c))
        off = feed(c, data, len);
    if (off == len)
        return 0;
    if (c->held_head < 0) {
        size_t n = min_size(len - off, w->bufsize - buf_len(c->in));
        if (n > 0) {
            if (c->in == NULL && (c->in = buf_get(w)) == NULL) {
                fail(c);
                return 0;
            }
            in_append(w, c->in, data + off, n);
            off += n;
        }
        if (off == len)
            return 0;
    }
    hold_pbuf(c, bid, (unsigned)off, (unsigned)(len - off));
    return 1;
}

/* Feed what waits, oldest first; returns 1 if the service took some. */
static int feed_pending(struct uring_conn *c)
{
    struct uring_worker *w = c->w;
    int progress = 0;
    if (c->in != NULL) {
        size_t used = feed(c, c->in->data + c->in->head, c->in->len);
        progress = used > 0;
        c->in->head += used;
        c->in->len -= used;
        if (c->in->len > 0)
            goto absorb;
        buf_put(w, c->in);
        c->in = NULL;
    }
    while (c->held_head >= 0) {
        int bid = c->held_head;
        size_t used = feed(c, pbuf_data(w, bid) + w->held_off[bid], w->held_len[bid]);
        progress |= used > 0;
        w->held_off[bid] += (unsigned)used;
        w->held_len[bid] -= (unsigned)used;
        if (w->held_len[bid] > 0)
            break;
        c->held_head = w->held_next[bid];
        if (c->held_head < 0)
            c->held_tail = -1;
        pbuf_return(w, bid);
    }
absorb:
    if (absorb_held(c) < 0)
        fail(c);
    return progress;
}

static void drop_pending_input(struct uring_conn *c)
{
    buf_put(c->w, c->in);
    c->in = NULL;
    release_held(c);
}

/* ---- arming operations ------------------------------------------------ */

static int can_read(const struct uring_conn *c)
{
    return !c->closed && !c->eof && !c->starved && !has_pending_input(c) && !broken(c) &&
           !(c->session.flags & SK_SESSION_CLOSE) && out_room(c) > 0;
}

static void arm_recv(struct uring_conn *c)
{
    struct uring_worker *w = c->w;
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL) {
        fail(c);
        return;
    }
    size_t room = out_room(c);
    if (w->multishot_recv && !c->throttled && room >= w->pbuf_size &&
        w->bufsize >= 2 * (size_t)w->pbuf_size) {
        /* Capped so that everything it brings fits the input buffer
         * (empty now): the kernel can never bring more than this
         * connection may hold, however late we see the completions.  The
         * kernel stops once the cap is used up, but the last receive may
         * fill a whole buffer, hence one buffer less one byte off.  The
         * cap is sqe->optlen, which liburing 2.3 still calls file_index. */
        io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
        sqe->file_index = (uint32_t)(w->bufsize - w->pbuf_size + 1);
        c->recv_taken = 0;
        c->recv_multishot = 1;
    } else {
        /* Never more than the output can take: the nc rule. */
        io_uring_prep_recv(sqe, c->fd, NULL, min_size(room, w->pbuf_size), 0);
        c->recv_multishot = 0;
    }
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data64(sqe, op_data(c, OP_RECV));
    c->recv_armed = 1;
    c->recv_cancelled = 0;
    c->inflight++;
}

static void arm_send(struct uring_conn *c)
{
    struct uring_worker *w = c->w;
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL) {
        fail(c);
        return;
    }
    /* The contiguous part from head; the rest goes with the next send. */
    size_t n = min_size(c->out->len, w->bufsize - c->out->head);
    io_uring_prep_send(sqe, c->fd, c->out->data + c->out->head, n, SK_MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, op_data(c, OP_SEND));
    c->send_armed = 1;
    c->inflight++;
}

/* Receive when the connection can take input; stop when it cannot. */
static void update_recv(struct uring_conn *c)
{
    if (c->recv_armed) {
        if (c->recv_multishot && !c->recv_cancelled &&
            (!can_read(c) || out_room(c) < c->w->pbuf_size)) {
            cancel_op(c->w, op_data(c, OP_RECV));
            c->recv_cancelled = 1;
            c->throttled = 1;
        }
        return;
    }
    if (can_read(c))
        arm_recv(c);
}

/* ---- connections ------------------------------------------------------ */

static void conn_finish(struct uring_conn *c)
{
    struct uring_worker *w = c->w;
    if (c->fd >= 0)
        sk_socket_close(c->fd);
    c->fd = -1;
    buf_put(w, c->out);
    c->out = NULL;
    sk_postq_clear(&c->backlog);
    c->finished = 1;
    schedule(c); /* freed once this batch is over */
}

static void conn_close(struct uring_conn *c)
{
    if (c->closed)
        return;
    struct uring_worker *w = c->w;
    const struct sk_service *svc = w->srv->service;
    c->closed = 1;
    sk_server_leave(w->srv, &c->peer); /* the socket goes when the ring is done with it */
    if (svc->on_close)
        svc->on_close(&c->session);
    sk_session_log(&c->session, SK_LOG_INFO, "closed (%llu bytes in, %llu out)",
                   c->bytes_in, c->bytes_out);
    drop_pending_input(c);
    if (c->recv_armed && !c->recv_cancelled) {
        cancel_op(w, op_data(c, OP_RECV));
        c->recv_cancelled = 1;
    }
    if (c->send_armed)
        cancel_op(w, op_data(c, OP_SEND));
    activity_unlink(c);
    starved_unlink(c);
    w->live--;
    atomic_fetch_sub(&w->shared->live, 1);
    if (c->inflight == 0)
        conn_finish(c);
}

static void conn_free(struct uring_conn *c)
{
    struct uring_worker *w = c->w;
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        w->all = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    free(c->session.state);
    free(c);
}

static void conn_process(struct uring_conn *c)
{
    struct uring_worker *w = c->w;
    struct sk_session *s = &c->session;
    const struct sk_service *svc = w->srv->service;
    int round;

    for (round = 0; round < ROUNDS_PER_PROCESS; round++) {
        int progress = 0;
        if (c->closed)
            return;
        if (broken(c)) {
            conn_close(c);
            return;
        }
        if (c->backlog.len > 0)
            backlog_drain(c);
        if (s->flags & SK_SESSION_CLOSE)
            drop_pending_input(c);
        if (has_pending_input(c) && out_room(c) > 0)
            progress |= feed_pending(c);
        if (c->eof && !c->eof_told && !has_pending_input(c)) {
            c->eof_told = 1;
            if (svc->on_eof)
                svc->on_eof(s);
            else
                sk_session_close(s);
            progress = 1;
        }
        /* Refill before the output runs dry, so a send is always queued. */
        while ((s->flags & SK_SESSION_WANT_WRITABLE) && !broken(c) &&
               !(s->flags & SK_SESSION_CLOSE) && buf_len(c->out) <= w->bufsize / 2) {
            size_t before = c->queued;
            svc->on_writable(s);
            if (c->queued == before)
                break;
            progress = 1;
        }
        if (!progress)
            break;
    }
    if (c->closed)
        return;
    if (broken(c)) {
        conn_close(c);
        return;
    }
    if (round == ROUNDS_PER_PROCESS)
        schedule(c); /* more to do: after the others have had their turn */
    if (buf_len(c->out) > 0 && !c->send_armed)
        arm_send(c);
    if (buf_len(c->out) == 0 && !c->send_armed) {
        if (s->flags & SK_SESSION_CLOSE) {
            conn_close(c);
            return;
        }
        if ((s->flags & SK_SESSION_SHUTDOWN) && !c->shut) {
            if (sk_shutdown_write(c->fd) < 0) {
                conn_close(c);
                return;
            }
            c->shut = 1;
        }
        /* Peer gone and nothing left to do: nothing can happen now. */
        if (c->eof && c->eof_told && !has_pending_input(c) &&
            !(s->flags & SK_SESSION_WANT_WRITABLE)) {
            conn_close(c);
            return;
        }
        if (!has_pending_input(c))
            c->throttled = 0; /* the peer keeps up again */
    }
    update_recv(c);
}

static void conn_open(struct uring_worker *w, sk_socket_t fd, const struct sk_addr *peer)
{
    const struct sk_service *svc = w->srv->service;
    struct uring_conn *c = calloc(1, sizeof *c);
    void *state = svc->session_size ? calloc(1, svc->session_size) : NULL;
    if (c == NULL || (svc->session_size && state == NULL)) {
        free(c);
        free(state);
        sk_log(&w->srv->cfg->logger, SK_LOG_WARN, "out of memory: dropping a connection");
        sk_server_leave(w->srv, peer);
        sk_socket_close(fd);
        return;
    }
    c->w = w;
    c->fd = fd;
    c->peer = *peer;
    c->held_head = c->held_tail = -1;
    c->session.ops = &uring_ops;
    c->session.instance = &w->srv->instance;
    c->session.state = state;
    sk_addr_format((const struct sockaddr *)&peer->ss, c->session.peer,
                   sizeof c->session.peer);
    c->all_next = w->all;
    if (w->all)
        w->all->all_prev = c;
    w->all = c;
    w->live++;
    atomic_fetch_add(&w->shared->live, 1);
    activity_touch(c, sk_now_ms());
    sk_session_log(&c->session, SK_LOG_INFO, "connected");
    if (svc->on_open)
        svc->on_open(&c->session);
    conn_process(c);
}

/* ---- completions ------------------------------------------------------ */

static void starve(struct uring_conn *c)
{
    if (c->starved)
        return;
    c->starved = 1;
    c->starved_next = c->w->starved;
    c->w->starved = c;
}

static void on_recv(struct uring_conn *c, int res, unsigned flags)
{
    struct uring_worker *w = c->w;
    int bid = (flags & IORING_CQE_F_BUFFER) ? (int)(flags >> IORING_CQE_BUFFER_SHIFT) : -1;
    if (bid >= 0)
        w->pbuf_out++;
    if (!(flags & IORING_CQE_F_MORE)) {
        c->recv_armed = 0;
        c->inflight--;
    }
    if (c->closed) {
        if (bid >= 0)
            pbuf_return(w, bid);
        if (c->inflight == 0)
            conn_finish(c);
        return;
    }
    if (res > 0 && bid >= 0 && c->recv_multishot) {
        c->recv_taken += (size_t)res;
        if (c->recv_taken > w->bufsize && w->multishot_recv) {
            /* A kernel that took the cap for something else: hold what
             * came (the ring bounds it) and never rely on it again. */
            w->multishot_recv = 0;
            sk_log(&w->srv->cfg->logger, SK_LOG_WARN,
                   "io_uring: multishot recv ignored its length cap; "
                   "using single-shot receives");
        }
        if (!w->multishot_recv && c->recv_armed && !c->recv_cancelled) {
            cancel_op(w, op_data(c, OP_RECV));
            c->recv_cancelled = 1;
        }
    }
    if (res > 0 && bid >= 0) {
        c->bytes_in += (unsigned long long)res;
        activity_touch(c, sk_now_ms());
        if (w->srv->msglog != NULL)
            sk_msglog_write(w->srv->msglog, pbuf_data(w, bid), (size_t)res);
        if (broken(c) || !take_input(c, bid, (size_t)res))
            pbuf_return(w, bid);
        schedule(c);
        return;
    }
    if (bid >= 0)
        pbuf_return(w, bid);
    if (res == 0) {
        c->eof = 1;
    } else if (res == -ENOBUFS) {
        starve(c); /* the ring is empty for now: re-armed when buffers return */
    } else if (res == -EINVAL && c->recv_multishot && w->multishot_recv) {
        w->multishot_recv = 0;
        sk_log(&w->srv->cfg->logger, SK_LOG_INFO,
               "io_uring: multishot recv with a length cap is not supported "
               "(needs Linux >= 6.17); using single-shot receives");
    } else if (res != -ECANCELED && res != -EINTR && res != -EAGAIN) {
        if (res != -ECONNRESET)
            sk_session_log(&c->session, SK_LOG_WARN, "receive failed: %s", sk_strerror(res));
        fail(c);
    }
    schedule(c);
}

static void on_send(struct uring_conn *c, int res)
{
    struct uring_worker *w = c->w;
    c->send_armed = 0;
    c->inflight--;
    if (c->closed) {
        if (c->inflight == 0)
            conn_finish(c);
        return;
    }
    if (res <= 0) {
        if (res < 0 && res != -ECONNRESET && res != -EPIPE && res != -ECANCELED)
            sk_session_log(&c->session, SK_LOG_WARN, "send failed: %s", sk_strerror(res));
        fail(c);
        return;
    }
    struct uring_buf *b = c->out;
    b->head = (b->head + (size_t)res) % w->bufsize;
    b->len -= (size_t)res;
    c->bytes_out += (unsigned long long)res;
    if (b->len == 0) {
        buf_put(w, b);
        c->out = NULL;
    }
    schedule(c);
}

/* ---- accepting -------------------------------------------------------- */

static void log_emfile(struct uring_worker *w, int rc)
{
    uint64_t now = sk_now_ms();
    if (now - w->last_emfile_log_ms >= 1000) {
        sk_log(&w->srv->cfg->logger, SK_LOG_WARN,
               "out of file descriptors (%s): dropping new connections", sk_err_name(rc));
        w->last_emfile_log_ms = now;
    }
}

static void cancel_listener(struct uring_worker *w)
{
    if (w->listen_armed && !w->listen_cancelled) {
        cancel_op(w, op_data(w, w->srv->cfg->udp ? OP_POLL : OP_ACCEPT));
        w->listen_cancelled = 1;
    }
}

static void stop_listening(struct uring_worker *w)
{
    if (!w->listening)
        return;
    w->listening = 0;
    cancel_listener(w);
}

/* A multishot accept takes everything in the listen queue at once, before
 * we get to count it against --max-conns.  Near the limit that burst
 * would run the process out of descriptors instead of refusing with a
 * line, so there each accept is a single one again. */
static int accept_burst_fits(struct uring_worker *w)
{
    long backlog = w->srv->cfg->backlog > 0 ? w->srv->cfg->backlog : SK_DEFAULT_BACKLOG;
    long room = w->srv->max_conns - atomic_load(&w->shared->live);
    return room > (backlog + 16) * w->shared->nworkers;
}

static void arm_listener(struct uring_worker *w)
{
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL) {
        w->listen_retry_at_ms = sk_now_ms() + ACCEPT_RETRY_MS;
        return;
    }
    if (w->srv->cfg->udp) {
        if (w->multishot_poll)
            io_uring_prep_poll_multishot(sqe, (int)w->listener, POLLIN);
        else
            io_uring_prep_poll_add(sqe, (int)w->listener, POLLIN);
        io_uring_sqe_set_data64(sqe, op_data(w, OP_POLL));
    } else {
        /* The connection to drop after EMFILE is taken by a single accept,
         * so the spare descriptor can be taken back before the next one. */
        w->listen_multishot = w->multishot_accept && !w->dropping && accept_burst_fits(w);
        if (w->listen_multishot)
            io_uring_prep_multishot_accept(sqe, (int)w->listener, NULL, NULL, SOCK_CLOEXEC);
        else
            io_uring_prep_accept(sqe, (int)w->listener, NULL, NULL, SOCK_CLOEXEC);
        io_uring_sqe_set_data64(sqe, op_data(w, OP_ACCEPT));
    }
    w->listen_armed = 1;
    w->listen_cancelled = 0;
    w->listen_retry_at_ms = 0;
}

static void accepted(struct uring_worker *w, int fd)
{
    struct sk_server *srv = w->srv;
    long max_clients = srv->cfg->max_clients;
    if (w->stopping) {
        sk_socket_close(fd);
        return;
    }
    long n = atomic_fetch_add(&w->shared->accepted, 1) + 1;
    if (max_clients > 0 && n > max_clients) {
        sk_socket_close(fd); /* another worker took the last one */
        stop_listening(w);
        return;
    }
    struct sk_addr peer;
    if (sk_peer_addr(fd, &peer) < 0) {
        sk_socket_close(fd); /* reset before we got to it */
    } else {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, (const void *)&one, sizeof one);
        if (!sk_server_admit(srv, fd, &peer, atomic_load(&w->shared->live))) {
            atomic_fetch_add(&w->shared->refused, 1);
        } else {
            conn_open(w, fd, &peer);
        }
    }
    if (max_clients > 0 && n == max_clients)
        stop_listening(w);
    else if (w->listen_multishot && !accept_burst_fits(w))
        cancel_listener(w); /* re-armed as a single accept */
}

static void on_accept(struct uring_worker *w, int res, unsigned flags)
{
    if (!(flags & IORING_CQE_F_MORE))
        w->listen_armed = 0;
    if (res >= 0) {
        if (w->dropping) {
            /* libuv's EMFILE answer: the waiting connection goes, the
             * spare comes back, and accepting carries on. */
            sk_socket_close(res);
            w->dropping = 0;
            w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            return;
        }
        accepted(w, res);
        return;
    }
    switch (res) {
    case -ECANCELED:
    case -EINTR:
    case -EAGAIN:
    case -ECONNABORTED:
    case -EPROTO:
        break;
    case -EMFILE:
    case -ENFILE:
        log_emfile(w, res);
        if (w->reserve_fd >= 0 && !w->dropping) {
            close(w->reserve_fd);
            w->reserve_fd = -1;
            w->dropping = 1;
        } else {
            /* No spare to give back: wait rather than spin. */
            w->listen_retry_at_ms = sk_now_ms() + ACCEPT_RETRY_MS;
        }
        break;
    case -EINVAL:
        if (w->multishot_accept) {
            w->multishot_accept = 0;
            sk_log(&w->srv->cfg->logger, SK_LOG_INFO,
                   "io_uring: multishot accept is not supported (needs Linux >= 5.19); "
                   "using single accepts");
            break;
        }
        /* fall through */
    default:
        sk_log(&w->srv->cfg->logger, SK_LOG_WARN, "accept failed: %s", sk_strerror(res));
        w->listen_retry_at_ms = sk_now_ms() + ACCEPT_RETRY_MS;
        break;
    }
}

/* ---- datagrams -------------------------------------------------------- */

static void drain_datagrams(struct uring_worker *w)
{
    struct sk_server *srv = w->srv;
    long max = srv->cfg->max_clients;
    w->udp_pending = 0;
    /* A batch at a time: recvmmsg() and sendmmsg(), one system call each
     * for up to SK_DATAGRAM_BATCH datagrams. */
    for (int i = 0; i < DATAGRAMS_PER_EVENT / SK_DATAGRAM_BATCH; i++) {
        if (!w->listening)
            return;
        int got = sk_datagram_serve_batch(srv, w->listener, w->batch);
        if (max > 0 && (long)srv->stats.datagrams >= max) {
            stop_listening(w);
            return;
        }
        if (got < SK_DATAGRAM_BATCH)
            return; /* drained (or failed: the next poll says) */
    }
    w->udp_pending = 1; /* the poll fires on new arrivals only: come back */
}

static void on_poll(struct uring_worker *w, int res, unsigned flags)
{
    if (!(flags & IORING_CQE_F_MORE))
        w->listen_armed = 0;
    if (res >= 0) {
        drain_datagrams(w);
        return;
    }
    if (res == -ECANCELED)
        return;
    if (res == -EINVAL && w->multishot_poll) {
        w->multishot_poll = 0;
        return;
    }
    sk_log(&w->srv->cfg->logger, SK_LOG_WARN, "poll failed: %s", sk_strerror(res));
    w->listen_retry_at_ms = sk_now_ms() + ACCEPT_RETRY_MS;
}

/* ---- the loop --------------------------------------------------------- */

static void handle_cqe(struct uring_worker *w, const struct io_uring_cqe *cqe)
{
    void *p = (void *)(uintptr_t)(cqe->user_data & ~(uint64_t)OP_MASK);
    switch ((enum uring_op)(cqe->user_data & OP_MASK)) {
    case OP_ACCEPT:
        on_accept(w, cqe->res, cqe->flags);
        break;
    case OP_POLL:
        on_poll(w, cqe->res, cqe->flags);
        break;
    case OP_RECV:
        on_recv(p, cqe->res, cqe->flags);
        break;
    case OP_SEND:
        on_send(p, cqe->res);
        break;
    default:
        break; /* cancels, liburing's timeouts */
    }
}

static void reap_completions(struct uring_worker *w)
{
    struct io_uring_cqe *cqe;
    unsigned head, count = 0;
    io_uring_for_each_cqe(&w->ring, head, cqe) {
        handle_cqe(w, cqe);
        count++;
    }
    io_uring_cq_advance(&w->ring, count);
}

static void run_ready(struct uring_worker *w)
{
    while (w->ready != NULL) {
        struct uring_conn *list = w->ready;
        w->ready = NULL;
        while (list != NULL) {
            struct uring_conn *c = list;
            list = c->ready_next;
            c->in_ready = 0;
            if (c->finished)
                conn_free(c);
            else if (!c->closed)
                conn_process(c);
            /* closed, operations still due: conn_finish schedules it */
        }
        int more_work = 0;
        for (struct uring_conn *c = w->ready; c != NULL; c = c->ready_next)
            more_work |= !c->closed;
        if (more_work)
            break;
    }
}

static void rearm(struct uring_worker *w)
{
    /* Connections parked on -ENOBUFS: try again once a buffer is back. */
    if (w->starved != NULL && w->pbuf_out < BUF_COUNT) {
        struct uring_conn *list = w->starved;
        w->starved = NULL;
        while (list != NULL) {
            struct uring_conn *c = list;
            list = c->starved_next;
            c->starved = 0;
            c->starved_next = NULL;
            update_recv(c);
        }
    }
    if (w->listening && !w->listen_armed &&
        (w->listen_retry_at_ms == 0 || sk_now_ms() >= w->listen_retry_at_ms))
        arm_listener(w);
}

static int expire_idle(struct uring_worker *w)
{
    int timeout = STOP_CHECK_MS;
    int idle_ms = w->srv->cfg->idle_timeout_ms;
    if (idle_ms <= 0)
        return timeout;
    uint64_t now = sk_now_ms();
    while (w->oldest != NULL && now - w->oldest->last_input_ms >= (uint64_t)idle_ms) {
        struct uring_conn *c = w->oldest;
        sk_session_log(&c->session, SK_LOG_INFO, "idle for %d ms; closing", idle_ms);
        conn_close(c);
    }
    if (w->oldest != NULL) {
        uint64_t due = w->oldest->last_input_ms + (uint64_t)idle_ms - now;
        if (due < (uint64_t)timeout)
            timeout = (int)due + 1;
    }
    return timeout;
}

/* Submit what is queued and wait up to timeout_ms for a completion. */
static int submit_and_wait(struct uring_worker *w, int timeout_ms)
{
    struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000,
                                    .tv_nsec = (long long)(timeout_ms % 1000) * 1000000 };
    struct io_uring_cqe *cqe;
    int rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
    if (rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY)
        return 0;
    return rc < 0 ? rc : 0;
}

static int worker_done(struct uring_worker *w)
{
    if (atomic_load(&w->shared->failed) != 0 || sk_server_stopping(w->srv))
        return 1;
    return !w->listening && w->live == 0 && w->ready == NULL;
}

static int ring_setup(struct uring_worker *w)
{
    static const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof flag_sets / sizeof *flag_sets; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = flag_sets[i];
        rc = io_uring_queue_init_params(RING_ENTRIES, &w->ring, &p);
        if (rc == 0) {
            w->setup_flags = flag_sets[i];
            break;
        }
        if (rc != -EINVAL)
            break;
    }
    if (rc < 0)
        return rc;
    w->ring_ready = 1;
    w->multishot_accept = w->multishot_recv = w->multishot_poll = 1;
    if (!w->srv->cfg->udp && (rc = pbuf_setup(w)) < 0)
        return rc;
    return 0;
}

static void *worker_run(void *arg)
{
    struct uring_worker *w = arg;
    const struct sk_logger *logger = &w->srv->cfg->logger;
    int rc = ring_setup(w);
    if (rc < 0) {
        sk_log(logger, SK_LOG_ERROR, "worker %d: cannot set up io_uring: %s%s", w->index,
               sk_strerror(rc),
               rc == -EINVAL ? " (buffer rings need Linux >= 5.19)"
               : rc == -ENOMEM ? " (raise the locked-memory limit, ulimit -l)" : "");
        int expected = 0;
        atomic_compare_exchange_strong(&w->shared->failed, &expected, rc);
        return NULL;
    }
    if (w->index == 0)
        sk_log(logger, SK_LOG_DEBUG,
               "io_uring: %s, %u provided buffers of %u bytes per worker",
               (w->setup_flags & IORING_SETUP_DEFER_TASKRUN) ? "single issuer, deferred task work"
               : w->setup_flags ? "cooperative task work" : "default setup",
               BUF_COUNT, w->pbuf_size);
    w->listening = 1;
    arm_listener(w);

    while (!worker_done(w)) {
        int timeout = expire_idle(w);
        if (w->ready != NULL || w->udp_pending)
            timeout = 0;
        if (w->listening && !w->listen_armed && w->listen_retry_at_ms != 0) {
            uint64_t now = sk_now_ms();
            int wait = w->listen_retry_at_ms > now ? (int)(w->listen_retry_at_ms - now) : 0;
            if (wait < timeout)
                timeout = wait;
        }
        if ((rc = submit_and_wait(w, timeout)) < 0) {
            sk_log(logger, SK_LOG_ERROR, "io_uring_submit_and_wait failed: %s",
                   sk_strerror(rc));
            int expected = 0;
            atomic_compare_exchange_strong(&w->shared->failed, &expected, rc);
            break;
        }
        reap_completions(w);
        if (w->udp_pending && w->listening)
            drain_datagrams(w);
        run_ready(w);
        rearm(w);
    }

    /* Stopping: every connection ends now, services see on_close; then
     * the cancels are given a moment to come back. */
    w->stopping = 1;
    stop_listening(w);
    while (w->oldest != NULL)
        conn_close(w->oldest);
    run_ready(w);
    uint64_t deadline = sk_now_ms() + DRAIN_MS;
    while ((w->all != NULL || w->listen_armed) && sk_now_ms() < deadline) {
        if (submit_and_wait(w, 50) < 0)
            break;
        reap_completions(w);
        run_ready(w);
    }
    return NULL;
}

static int worker_init(struct uring_worker *w, struct uring_shared *shared, int index)
{
    struct sk_server *srv = shared->srv;
    memset(w, 0, sizeof *w);
    w->shared = shared;
    w->srv = srv;
    w->index = index;
    w->bufsize = srv->buffer_size;
    w->listener = srv->listener;
    w->reserve_fd = -1;
    if (index > 0) {
        /* Its own socket on the same port: the kernel spreads connections
         * over the workers, and no two rings wait for the same one. */
        char port[16];
        snprintf(port, sizeof port, "%d", srv->port);
        const char *reuse[] = { "reuseport=on" };
        char host[SK_ADDRSTRLEN];
        sk_addr_format_host((const struct sockaddr *)&srv->bound.ss, host, sizeof host);
        struct sk_listen_config lc = {
            .host = host, .port = port,
            .socktype = srv->cfg->udp ? SOCK_DGRAM : SOCK_STREAM,
            .backlog = srv->cfg->backlog, .sockopts = reuse, .nsockopts = 1,
        };
        if (sk_listen(&lc, &w->listener, NULL) == 0)
            w->own_listener = 1;
        else
            w->listener = srv->listener; /* no SO_REUSEPORT: share one */
    }
    if (srv->cfg->udp) {
        int rc = sk_datagram_batch_new(w->bufsize, &w->batch);
        if (rc < 0)
            return rc;
    }
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return 0;
}

static void worker_cleanup(struct uring_worker *w)
{
    /* Tearing the ring down cancels whatever is still in flight; only then
     * may the memory those operations point at go. */
    if (w->ring_ready)
        io_uring_queue_exit(&w->ring);
    while (w->all != NULL) {
        struct uring_conn *c = w->all;
        if (c->fd >= 0)
            sk_socket_close(c->fd);
        buf_put(w, c->in);
        buf_put(w, c->out);
        sk_postq_clear(&c->backlog);
        conn_free(c);
    }
    if (w->br != NULL)
        munmap(w->br, w->br_bytes);
    if (w->pbufs != NULL)
        munmap(w->pbufs, w->pbufs_bytes);
    free(w->held_next);
    free(w->held_off);
    free(w->held_len);
    if (w->own_listener)
        sk_socket_close(w->listener);
    if (w->reserve_fd >= 0)
        close(w->reserve_fd);
    while (w->free_bufs != NULL) {
        struct uring_buf *b = w->free_bufs;
        w->free_bufs = b->next_free;
        free(b);
    }
    sk_datagram_batch_free(w->batch);
}

static int uring_run(struct sk_server *srv)
{
    int nworkers = srv->cfg->workers > 0 ? srv->cfg->workers : 1;
    if (nworkers > 1 && (srv->service->flags & SK_SERVICE_SHARED)) {
        sk_log(&srv->cfg->logger, SK_LOG_INFO,
               "%s runs on one loop so that every session can reach every other",
               srv->service->name);
        nworkers = 1;
    }
    struct uring_shared shared;
    memset(&shared, 0, sizeof shared);
    shared.srv = srv;
    shared.nworkers = nworkers;
    struct uring_worker *workers = calloc((size_t)nworkers, sizeof *workers);
    if (workers == NULL)
        return -ENOMEM;

    int rc = 0, started = 0;
    for (int i = 0; i < nworkers && rc == 0; i++)
        rc = worker_init(&workers[i], &shared, i);
    /* Workers 1..N-1 on threads; worker 0 on this thread, which receives
     * the stop signals and so wakes at once. */
    for (int i = 1; i < nworkers && rc == 0; i++, started++)
        rc = sk_thread_start(&workers[i].thread, worker_run, &workers[i]);
    if (rc == 0) {
        sk_server_ready(srv);
        worker_run(&workers[0]);
    } else {
        srv->why = "cannot start the uring workers";
    }
    if (rc != 0) {
        int expected = 0;
        atomic_compare_exchange_strong(&shared.failed, &expected, rc);
    }
    for (int i = 1; i <= started; i++)
        sk_thread_join(workers[i].thread);
    for (int i = 0; i < nworkers; i++)
        worker_cleanup(&workers[i]);
    free(workers);
    srv->stats.accepted = (unsigned long)atomic_load(&shared.accepted);
    srv->stats.refused += atomic_load(&shared.refused);
    return atomic_load(&shared.failed);
}

/* ---- the probe -------------------------------------------------------- */

static const char *disabled_reason(void)
{
    int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
    char text[8] = "";
    if (fd >= 0) {
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        text[n > 0 ? n : 0] = '\0';
    }
    if (text[0] == '2')
        return "io_uring is not available: kernel.io_uring_disabled is 2";
    if (text[0] == '1')
        return "io_uring is not available: kernel.io_uring_disabled is 1 and this user "
               "is not in kernel.io_uring_group";
    return "io_uring is not permitted here (EPERM: a seccomp or container policy?)";
}

static int probe_once(const char **why)
{
    static char message[160];
    struct io_uring ring;
    int rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0) {
        if (rc == -ENOSYS) {
            *why = "kernel lacks io_uring (needs Linux >= 5.19 for multishot accept and "
                   "buffer rings)";
        } else if (rc == -EPERM || rc == -EACCES) {
            *why = disabled_reason();
        } else if (rc == -ENOMEM) {
            *why = "cannot set up io_uring: out of locked memory (raise ulimit -l)";
        } else {
            snprintf(message, sizeof message, "cannot set up io_uring: %s (%s)",
                     sk_strerror(rc), sk_err_name(rc));
            *why = message;
        }
        return rc;
    }
    rc = 0;
    struct io_uring_probe *probe = io_uring_get_probe_ring(&ring);
    static const struct { int op; const char *name; } needed[] = {
        { IORING_OP_ACCEPT, "accept" }, { IORING_OP_RECV, "recv" },
        { IORING_OP_SEND, "send" }, { IORING_OP_POLL_ADD, "poll" },
        { IORING_OP_ASYNC_CANCEL, "cancel" },
    };
    if (probe == NULL) {
        *why = "kernel io_uring too old (needs Linux >= 5.19 for multishot accept and "
               "buffer rings)";
        rc = SK_ENOTAVAIL;
    }
    for (size_t i = 0; rc == 0 && i < sizeof needed / sizeof *needed; i++) {
        if (!io_uring_opcode_supported(probe, needed[i].op)) {
            snprintf(message, sizeof message,
                     "kernel io_uring lacks %s (needs Linux >= 5.19)", needed[i].name);
            *why = message;
            rc = SK_ENOTAVAIL;
        }
    }
    if (probe != NULL)
        io_uring_free_probe(probe);
    if (rc == 0) {
        /* Buffer rings (5.19): register a tiny one and take it back. */
        size_t bytes = 8 * sizeof(struct io_uring_buf);
        void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
        if (mem == MAP_FAILED) {
            *why = "cannot map memory for an io_uring buffer ring";
            rc = -errno;
        } else {
            struct io_uring_buf_reg reg;
            memset(&reg, 0, sizeof reg);
            reg.ring_addr = (unsigned long)(uintptr_t)mem;
            reg.ring_entries = 8;
            reg.bgid = BUF_GROUP;
            if (io_uring_register_buf_ring(&ring, &reg, 0) < 0) {
                *why = "kernel lacks io_uring buffer rings (needs Linux >= 5.19)";
                rc = SK_ENOTAVAIL;
            } else {
                io_uring_unregister_buf_ring(&ring, BUF_GROUP);
            }
            munmap(mem, bytes);
        }
    }
    io_uring_queue_exit(&ring);
    return rc;
}

static int uring_probe(const char **why)
{
    /* The answer does not change while we run; the list and the default
     * choice ask several times. */
    static int probed, result;
    static const char *reason;
    if (!probed) {
        reason = NULL;
        result = probe_once(&reason);
        probed = 1;
    }
    if (result < 0)
        *why = reason;
    return result;
}

#else /* !SK_HAVE_URING */

static int uring_probe(const char **why)
{
    *why = "built without liburing (apt-get install liburing-dev, then rebuild)";
    return SK_ENOTAVAIL;
}

static int uring_run(struct sk_server *srv)
{
    (void)srv;
    return SK_ENOTAVAIL;
}

#endif

const struct sk_model sk_model_uring = {
    .name = "uring",
    .io_model = "asynchronous",
    .summary = "io_uring: multishot accept and recv, provided buffers, batched submits",
    .flags = SK_MODEL_TCP | SK_MODEL_UDP | SK_MODEL_SHARED | SK_MODEL_WORKERS |
             SK_MODEL_REUSEPORT,
    .probe = uring_probe,
    .run = uring_run,
};
