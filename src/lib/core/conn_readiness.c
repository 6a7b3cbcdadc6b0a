/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * conn_readiness.c - the connection core's readiness backend: select,
 * poll, epoll, nonblock and sigio.
 *
 * The kernel says which sockets are ready (an sk__poller under sk__loop
 * says how); this file then moves bytes at once with non-blocking recv()
 * and send().  A service's write is tried with send() before anything is
 * queued, so an echo costs one recv() and one send(), and the loop is
 * asked for writability only when the kernel could not take everything.
 * Echo on Linux copies nothing at all: its bytes go socket to pipe to
 * socket with splice() (mirror_body).
 * Everything else (buffers, limits, closing, posts) is sk_conn.c's.
 */
#include "sk_conn.h"
#include "sk_error.h"
#include "sk_event.h"
#include "sk_sock.h"
#include "sk_trace.h"

#include <errno.h>
#include <stdlib.h>

#define ACCEPTS_PER_EVENT 64 /* level-triggered: the rest come next round */
#define DATAGRAM_BATCHES_PER_EVENT 4

struct ready_worker {
    struct sk__worker base;
    struct sk__loop *loop;
    int edge;         /* the poller reports changes: read and accept until EAGAIN */
    uint8_t *scratch; /* bufsize bytes: where reads land */
    struct sk__splice_pipe pipe; /* echo's splice path; size 0 when none */
};

#define RW(w) ((struct ready_worker *)(w))

static void on_conn_event(struct sk__loop *loop, int fd, void *data, int events)
{
    (void)loop, (void)fd, (void)events;
    sk__conn_process(data);
}

static void on_listener(struct sk__loop *loop, int fd, void *data, int events)
{
    struct ready_worker *rw = data;
    (void)loop, (void)fd, (void)events;
    sk__worker_accept_ready(&rw->base, rw->edge ? 0 : ACCEPTS_PER_EVENT);
}

static void on_datagrams(struct sk__loop *loop, int fd, void *data, int events)
{
    struct ready_worker *rw = data;
    (void)fd, (void)events;
    /* Level-triggered: a few batches, then the other events get a turn. */
    sk__worker_datagrams(&rw->base, rw->edge ? 1 << 30 : DATAGRAM_BATCHES_PER_EVENT);
    loop->progress++;
}

static int loop_size(void)
{
    long limit = sk__descriptor_limit();
    if (limit <= 0 || limit > (1L << 20))
        limit = 1L << 20;
    return (int)limit;
}

static int ready_worker_init(struct sk__worker *w)
{
    struct ready_worker *rw = RW(w);
    const struct sk__poller *poller = w->shared->arg;
    rw->edge = (poller->flags & SK_POLLER_EDGE) != 0;
    int rc = sk__socket_set_nonblocking(w->listener, 1);
    if (rc < 0)
        return rc;
    if ((rw->scratch = malloc(w->bufsize)) == NULL)
        return -ENOMEM;
    if ((rc = sk__loop_create(poller, loop_size(), &rw->loop)) < 0)
        return rc;
    w->fd_limit = rw->loop->setsize;
    if ((w->srv->service->flags & SK_SERVICE_MIRROR) && !w->srv->cfg->udp &&
        !w->srv->cfg->no_splice) {
        /* One pipe per worker, emptied after every move: two descriptors
         * in all, not two per connection.  Without one, echo copies. */
        rc = sk__splice_pipe_open(&rw->pipe, w->bufsize);
        if (rc < 0 && rc != SK_EUNSUPPORTED)
            sk_log(&w->srv->cfg->logger, SK_LOG_DEBUG, "no pipe for splice (%s): copying",
                   sk_strerror(rc));
    }
    /* A listener this poller cannot watch (select past FD_SETSIZE) fails
     * the start, before any worker says it is listening. */
    if ((rc = sk__loop_watch(rw->loop, (int)w->listener, SK_EV_READ, on_listener, rw)) < 0)
        return rc;
    return sk__loop_watch(rw->loop, (int)w->listener, SK_EV_NONE, NULL, NULL);
}

static void ready_worker_cleanup(struct sk__worker *w)
{
    struct ready_worker *rw = RW(w);
    if (rw->loop != NULL)
        sk__loop_destroy(rw->loop);
    sk__splice_pipe_close(&rw->pipe);
    free(rw->scratch);
}

static int ready_wait(struct sk__worker *w, int timeout_ms)
{
    return sk__loop_run_once(RW(w)->loop, timeout_ms);
}

static void ready_listen(struct sk__worker *w, int on)
{
    struct ready_worker *rw = RW(w);
    int udp = w->srv->cfg->udp;
    if (!on) {
        sk__loop_watch(rw->loop, (int)w->listener, SK_EV_NONE, NULL, NULL);
        return;
    }
    if (sk__loop_watch(rw->loop, (int)w->listener, SK_EV_READ, udp ? on_datagrams : on_listener,
                      rw) < 0) {
        sk__worker_accept_failed(w, -ENOMEM);
        return;
    }
    /* Edge-triggered pollers (epoll --edge, sigio) report nothing that
     * was already waiting when the listener is watched again. */
    if (udp)
        on_datagrams(rw->loop, (int)w->listener, rw, SK_EV_READ);
    else
        on_listener(rw->loop, (int)w->listener, rw, SK_EV_READ);
}

static int ready_conn_start(struct sk__conn *c)
{
    return sk__socket_set_nonblocking(c->fd, 1);
}

/* The data path, each written once with a constant `traced` (sk_trace.h
 * says why): the copies with tracing off carry no trace code at all. */
static SK_ALWAYS_INLINE int flush_body(struct sk__conn *c, int traced)
{
    struct sk__loop *loop = RW(c->w)->loop;
    const uint8_t *p;
    size_t len;
    int moved = 0;
    while ((p = sk__conn_out_span(c, &len)) != NULL) {
        long n = (long)send(c->fd, (const char *)p, len, SK_MSG_NOSIGNAL | SK_MSG_DONTWAIT);
        if (n < 0) {
            int rc = sk__socket_error();
            if (traced)
                sk__trace_io(c->fd, "send", len, rc, p);
            if (rc == -EINTR)
                continue;
            return sk__error_would_block(rc) ? moved : rc;
        }
        if (traced)
            sk__trace_io(c->fd, "send", len, n, p);
        sk__conn_sent(c, (size_t)n);
        loop->progress++;
        moved = 1;
    }
    return moved;
}

static SK_ALWAYS_INLINE long send_now_body(struct sk__conn *c, const void *data, size_t len,
                                           int traced)
{
    long n = (long)send(c->fd, (const char *)data, len, SK_MSG_NOSIGNAL | SK_MSG_DONTWAIT);
    if (n >= 0) {
        if (traced)
            sk__trace_io(c->fd, "send", len, n, data);
        RW(c->w)->loop->progress++;
        return n;
    }
    int rc = sk__socket_error();
    if (traced)
        sk__trace_io(c->fd, "send", len, rc, data);
    return sk__error_would_block(rc) || rc == -EINTR ? 0 : rc;
}

static SK_ALWAYS_INLINE int read_body(struct sk__conn *c, int *drained, int traced)
{
    struct ready_worker *rw = RW(c->w);
    size_t want = sk__conn_out_room(c);
    if (want > c->w->bufsize)
        want = c->w->bufsize;
    long n = (long)recv(c->fd, (char *)rw->scratch, want, 0);
    if (n > 0) {
        if (traced)
            sk__trace_io(c->fd, "recv", want, n, rw->scratch);
        rw->loop->progress++;
        /* Level-triggered: a short read means the socket is empty; asking
         * again would only cost a system call that says EAGAIN. */
        if (!rw->edge && (size_t)n < want)
            *drained = 1;
        sk__conn_received(c, rw->scratch, (size_t)n);
        return 1;
    }
    if (n == 0) {
        if (traced)
            sk__trace_io(c->fd, "recv", want, 0, NULL);
        sk__conn_eof(c);
        return 1;
    }
    int rc = sk__socket_error();
    if (traced)
        sk__trace_io(c->fd, "recv", want, rc, NULL);
    if (rc == -EINTR)
        return 1;
    if (sk__error_would_block(rc)) {
        *drained = 1;
        return 0;
    }
    return rc;
}

/* Echo without user memory: splice the waiting bytes into the worker's
 * pipe, and from the pipe back out of the same socket.  What the socket
 * would not take is read out of the pipe into the connection's output
 * (the copy this path otherwise saves), so the pipe is empty again for
 * the next connection. */
static SK_ALWAYS_INLINE int mirror_body(struct sk__conn *c, int *drained, int traced)
{
    struct ready_worker *rw = RW(c->w);
    size_t want = sk__conn_out_room(c);
    if (want > rw->pipe.size)
        want = rw->pipe.size;
    /* The trace shows the first bytes, as recv's does: peeked, because
     * the splice itself never brings them into user memory. */
    uint8_t preview[SK_TRACE_PREVIEW];
    long peeked = traced ? (long)recv(c->fd, (char *)preview, sizeof preview,
                                      MSG_PEEK | SK_MSG_DONTWAIT)
                         : 0;
    if (peeked < 0)
        peeked = sk__socket_error();
    /* A peek that failed took the socket's pending error (a reset) with
     * it: that error is this receive's result, or it would be lost. */
    long n = peeked < 0 && !sk__error_would_block((int)peeked) && peeked != -EINTR
                 ? peeked
                 : sk__splice_in(&rw->pipe, c->fd, want);
    long first = n < (long)sizeof preview ? n : (long)sizeof preview;
    const uint8_t *shown = peeked > 0 && peeked >= first ? preview : NULL;
    if (traced && n == SK_EUNSUPPORTED)
        sk__trace_call(c->fd, "splice in", NULL, -EAGAIN,
                       "splice cannot move what waits (TCP urgent data next, or a socket it "
                       "cannot read); recv() can: this connection copies from now on",
                       SK__TRACE_NO_TCP);
    else if (traced)
        sk__trace_io(c->fd, "splice in", want, n, shown);
    if (n == 0) {
        sk__conn_eof(c);
        return 1;
    }
    if (n < 0) {
        if (n == -EINTR)
            return 1;
        if (sk__error_would_block((int)n)) {
            *drained = 1;
            return 0;
        }
        if (n != SK_EUNSUPPORTED)
            return (int)n;
        /* A socket splice cannot read, or urgent data: copy from now on. */
        c->mirror = 0;
        return read_body(c, drained, traced);
    }
    rw->loop->progress++;
    /* Level-triggered: the poller says so again if more waits.  Asking
     * now, after a full move, would mostly cost a splice that says EAGAIN
     * and the urgent-mark ioctl behind it: with 64 KiB in flight that was
     * four system calls per move where the textbook loop makes two. */
    if (!rw->edge)
        *drained = 1;
    size_t sent = 0;
    long out = 0;
    while (sent < (size_t)n) {
        out = sk__splice_out(&rw->pipe, c->fd, (size_t)n - sent);
        if (traced)
            sk__trace_io(c->fd, "splice out", (size_t)n - sent, out, sent == 0 ? shown : NULL);
        if (out == -EINTR)
            continue;
        if (out <= 0)
            break;
        sent += (size_t)out;
    }
    size_t rest = (size_t)n - sent;
    int rc = rest > 0 ? sk__splice_take(&rw->pipe, rw->scratch, rest) : 0;
    if (rc < 0) {
        /* Bytes of this connection may still sit in the pipe: no other
         * connection may ever use it.  The worker copies from now on. */
        sk_log(&c->w->srv->cfg->logger, SK_LOG_WARN, "splice pipe failed (%s): copying",
               sk_strerror(rc));
        sk__splice_pipe_close(&rw->pipe);
        return rc;
    }
    sk__conn_mirrored(c, (size_t)n, sent, rw->scratch, rest);
    if (out < 0 && !sk__error_would_block((int)out))
        return (int)out;
    return 1;
}

static SK_TRACED_COPY int mirror_traced(struct sk__conn *c, int *drained)
{
    return mirror_body(c, drained, 1);
}

static SK_TRACED_COPY int flush_traced(struct sk__conn *c)
{
    return flush_body(c, 1);
}

static SK_TRACED_COPY long send_now_traced(struct sk__conn *c, const void *data, size_t len)
{
    return send_now_body(c, data, len, 1);
}

static SK_TRACED_COPY int read_traced(struct sk__conn *c, int *drained)
{
    return read_body(c, drained, 1);
}

static int ready_flush(struct sk__conn *c)
{
    if (SK_TRACING())
        return flush_traced(c);
    return flush_body(c, 0);
}

static long ready_send_now(struct sk__conn *c, const void *data, size_t len)
{
    if (SK_TRACING())
        return send_now_traced(c, data, len);
    return send_now_body(c, data, len, 0);
}

static int ready_read(struct sk__conn *c, int *drained)
{
    if (SK_TRACING())
        return read_traced(c, drained);
    return read_body(c, drained, 0);
}

static int ready_mirror(struct sk__conn *c, int *drained)
{
    if (RW(c->w)->pipe.size == 0)
        return ready_read(c, drained);
    if (SK_TRACING())
        return mirror_traced(c, drained);
    return mirror_body(c, drained, 0);
}

static void ready_update(struct sk__conn *c)
{
    struct ready_worker *rw = RW(c->w);
    int mask;
    if (rw->edge) {
        mask = SK_EV_READ | SK_EV_WRITE; /* registered once, never changed */
    } else {
        mask = sk__conn_can_read(c) ? SK_EV_READ : SK_EV_NONE;
        if (sk__conn_out_len(c) > 0 || c->file_blocked)
            mask |= SK_EV_WRITE;
        if (mask == SK_EV_NONE && c->shut && !c->paused)
            mask = SK_EV_READ; /* wait for the peer's FIN after ours */
    }
    if (sk__loop_watch(rw->loop, (int)c->fd, mask, on_conn_event, c) < 0) {
        sk_session_log(&c->session, SK_LOG_WARN, "cannot watch the connection; closing");
        sk__conn_close(c);
    }
}

static int ready_conn_stop(struct sk__conn *c)
{
    sk__loop_watch(RW(c->w)->loop, (int)c->fd, SK_EV_NONE, NULL, NULL);
    sk__close_traced(c->fd);
    c->fd = SK_INVALID_SOCKET;
    return 1;
}

static long ready_send_file(struct sk__conn *c, int fd, int64_t offset, size_t len)
{
    long n;
    do
        n = sk__send_file(c->fd, fd, offset, len);
    while (n == -EINTR);
    if (SK_TRACING())
        sk__trace_io(c->fd, "sendfile", len, n, NULL);
    if (n > 0)
        RW(c->w)->loop->progress++;
    return n;
}

static const struct sk__conn_backend readiness = {
    .name = "readiness loop",
    .worker_size = sizeof(struct ready_worker),
    .conn_size = sizeof(struct sk__conn),
    .refill_early = 0,
    .worker_init = ready_worker_init,
    .worker_cleanup = ready_worker_cleanup,
    .wait = ready_wait,
    .listen = ready_listen,
    .conn_start = ready_conn_start,
    .flush = ready_flush,
    .send_now = ready_send_now,
    .read = ready_read,
    .update = ready_update,
    .conn_stop = ready_conn_stop,
    .send_file = ready_send_file,
    .mirror = ready_mirror,
};

int sk__event_serve(struct sk_server *srv, const struct sk__poller *poller)
{
    return sk__conn_serve(srv, &readiness, poller);
}
