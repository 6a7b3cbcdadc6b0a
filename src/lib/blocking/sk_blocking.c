/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_blocking.c - the blocking connection driver shared by the
 * iterative, fork, thread and pool models.
 *
 * Writes go straight to the socket until every byte is out, so a
 * service's output never queues in memory: a peer that stops reading
 * holds up this connection's writer, and its own TCP window is the limit.
 * Another thread may post to the session (chat); a post waits for room at
 * most the service's stall time (sk_session_set_slow_reader; default
 * POST_TIMEOUT_MS) and otherwise fails, so one stuck peer cannot stall
 * everybody else: the same rule the connection core applies.
 *
 * "Blocking" is the programming model, not the socket mode: the socket is
 * non-blocking and every wait is one poll() (wait_io) bounded by the
 * connection's deadlines.  A blocking send() has no deadline that counts
 * from the last byte moved, and SO_RCVTIMEO only watches one direction,
 * so before this a peer that filled its window and then stopped reading
 * (or asked for a large file and never read it) held its thread, or the
 * whole iterative server, for ever.  Two deadlines end a connection:
 *
 *   idle      --idle-timeout ms since the last byte moved either way
 *             (received, sent, or posted by another thread), so a send
 *             that cannot move a byte ends it just as silence does, and a
 *             slow but steady reader is never cut;
 *   session   a moment the service set with sk_session_set_deadline()
 *             (the file service's request line), however many bytes
 *             trickle in meanwhile.
 *
 * Serial models (SK_MODEL_SERIAL: iterative) are stopped by any one
 * stalled peer, so they get SK_SERIAL_IDLE_MS when --idle-timeout is not
 * given.
 */
#include "sk_blocking.h"
#include "sk_error.h"
#include "sk_sock.h"
#include "sk_trace.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define POST_TIMEOUT_MS 2000


struct sk__blocking_conn {
    struct sk_session session;
    struct sk_server *srv;
    sk_socket_t fd;
    sk__mutex_t *write_lock; /* NULL unless other threads may post */
    atomic_int aborted;      /* set from other threads (chat, stop) */
    atomic_ullong last_progress_ms; /* sk_now_ms() when a byte last moved */
    int idle_ms;             /* the idle deadline; 0 = none */
    int expired;             /* a deadline ended it (logged once) */
    uint64_t traced_tcp_ms;  /* --trace=tcp: the last sample */
    unsigned long long bytes_in, bytes_out;
    size_t input_size;      /* --buffer */
    uint8_t input[];
};

#define CONN(s) ((struct sk__blocking_conn *)(s))

static void fail(struct sk__blocking_conn *c)
{
    c->session.flags |= SK_SESSION_FAILED;
}

static void note_progress(struct sk__blocking_conn *c)
{
    atomic_store(&c->last_progress_ms, sk_now_ms());
}

/* Milliseconds until the nearer deadline: -1 for none, 0 once passed. */
static int time_left(struct sk__blocking_conn *c, uint64_t now)
{
    uint64_t due = UINT64_MAX;
    if (c->idle_ms > 0)
        due = atomic_load(&c->last_progress_ms) + (uint64_t)c->idle_ms;
    if (c->session.deadline_ms != 0 && c->session.deadline_ms < due)
        due = c->session.deadline_ms;
    if (due == UINT64_MAX)
        return -1;
    if (due <= now)
        return 0;
    return due - now > INT_MAX ? INT_MAX : (int)(due - now);
}

/* A deadline passed: say which, once, and end the connection. */
static int expire(struct sk__blocking_conn *c, uint64_t now)
{
    if (!c->expired) {
        c->expired = 1;
        if (c->session.deadline_ms != 0 && c->session.deadline_ms <= now)
            sk_session_log(&c->session, SK_LOG_INFO, "deadline passed; closing");
        else
            sk_session_log(&c->session, SK_LOG_INFO, "idle for %d ms; closing", c->idle_ms);
    }
    fail(c);
    return -ETIMEDOUT;
}

/* Wait until the socket is ready for what (SK_WAIT_READ or _WRITE).  1
 * when it is; -ETIMEDOUT when a deadline passed first; -ECANCELED when
 * the server is stopping or the connection was aborted; another code if
 * poll() failed.  A signal (SIGTERM on the iterative model's thread) ends
 * poll() with EINTR and the loop looks at the stop flag; other threads
 * are woken by sk__blocking_abort's shutdown(). */
static int wait_io(struct sk__blocking_conn *c, int what)
{
    for (;;) {
        if (atomic_load(&c->aborted) || sk__server_stopping(c->srv))
            return -ECANCELED;
        uint64_t now = sk_now_ms();
        int left = time_left(c, now);
        if (left == 0)
            return expire(c, now);
        /* Where nothing interrupts a wait (Windows), wait in slices and
         * look at the stop flag between them. */
        if (SK_WAIT_SLICE_MS > 0 && (left < 0 || left > SK_WAIT_SLICE_MS))
            left = SK_WAIT_SLICE_MS;
        if (SK_TRACING() && (sk__trace_flags & SK_TRACE_TCP)) {
            if (now - c->traced_tcp_ms >= SK_TRACE_TCP_PERIOD_MS) {
                sk__trace_tcp(c->fd, "every second");
                c->traced_tcp_ms = now;
            }
            if (left < 0 || left > SK_TRACE_TCP_PERIOD_MS)
                left = SK_TRACE_TCP_PERIOD_MS; /* wake for the next sample */
        }
        int rc = sk__socket_wait(c->fd, what, left);
        if (rc > 0)
            return 1;
        if (rc < 0 && rc != -EINTR)
            return rc;
    }
}

/* send() until done.  A session's own write waits for room with wait_io
 * (its idle and session deadlines); a post from another session
 * (post_stall_ms > 0) waits at most that long without progress and then
 * gives up with SK_EBUFFULL: the peer is a slow reader. */
static int send_locked(struct sk__blocking_conn *c, const void *data, size_t len, int post_stall_ms)
{
    const char *p = data;
    while (len > 0) {
        long n = sk__send_nowait(c->fd, p, len);
        /* The trace shows the blocking send() this means; would-block
         * retries and the waits between them are how it is done here. */
        if (SK_TRACING() && (n >= 0 || (n != -EINTR && !sk__error_would_block((int)n))))
            sk__trace_io(c->fd, "send", len, n, p);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            c->bytes_out += (unsigned long long)n;
            note_progress(c);
            continue;
        }
        int rc = n < 0 ? (int)n : -EIO;
        if (rc == -EINTR)
            continue;
        if (!sk__error_would_block(rc))
            return rc;
        if (post_stall_ms <= 0) {
            if ((rc = wait_io(c, SK_WAIT_WRITE)) < 0)
                return rc;
            continue;
        }
        rc = sk__socket_wait(c->fd, SK_WAIT_WRITE, post_stall_ms);
        if (rc == 0)
            return SK_EBUFFULL;
        if (rc < 0 && rc != -EINTR)
            return rc;
    }
    return 0;
}

/* recv() what has arrived, waiting for it with wait_io: a byte count, 0
 * at end of stream, or a code (-ETIMEDOUT, -ECANCELED, a socket error). */
static long recv_input(struct sk__blocking_conn *c, void *buf, size_t len)
{
    for (;;) {
        long n = (long)recv(c->fd, buf, len, 0);
        int rc = n >= 0 ? 0 : sk__socket_error();
        if (SK_TRACING() && (n >= 0 || (rc != -EINTR && !sk__error_would_block(rc))))
            sk__trace_io(c->fd, "recv", len, n >= 0 ? n : rc, buf);
        if (n > 0)
            note_progress(c);
        if (n >= 0)
            return n;
        if (rc == -EINTR)
            continue; /* wait_io looks at the stop flag */
        if (!sk__error_would_block(rc))
            return rc;
        if ((rc = wait_io(c, SK_WAIT_READ)) < 0)
            return rc;
    }
}

static size_t blocking_write(struct sk_session *s, const void *data, size_t len)
{
    struct sk__blocking_conn *c = CONN(s);
    if (s->flags & SK_SESSION_FAILED)
        return 0;
    if (c->write_lock)
        sk__mutex_lock(c->write_lock);
    int rc = send_locked(c, data, len, 0);
    if (c->write_lock)
        sk__mutex_unlock(c->write_lock);
    if (rc < 0) {
        fail(c);
        return 0;
    }
    return len;
}

/* sendfile() what the socket takes, waiting for room as a write does, so
 * the caller's loop over the file is the same as with write(). */
static long blocking_send_file(struct sk_session *s, int fd, int64_t offset, size_t len)
{
    struct sk__blocking_conn *c = CONN(s);
    if (s->flags & SK_SESSION_FAILED)
        return -EPIPE;
    if (c->write_lock)
        sk__mutex_lock(c->write_lock);
    long n;
    for (;;) {
        n = sk__send_file(c->fd, fd, offset, len);
        if (SK_TRACING() && n != -EINTR && (n >= 0 || !sk__error_would_block((int)n)))
            sk__trace_io(c->fd, "sendfile", len, n, NULL);
        if (n == -EINTR)
            continue;
        if (n >= 0 || !sk__error_would_block((int)n))
            break;
        int rc = wait_io(c, SK_WAIT_WRITE);
        if (rc < 0) {
            n = rc;
            break;
        }
    }
    if (c->write_lock)
        sk__mutex_unlock(c->write_lock);
    if (n > 0) {
        c->bytes_out += (unsigned long long)n;
        note_progress(c);
    } else if (n < 0 && n != SK_EUNSUPPORTED && n != SK_ESHORT) {
        fail(c); /* a deadline passed, the server is stopping, or it broke */
    }
    return n;
}


static int blocking_post(struct sk_session *s, const void *data, size_t len)
{
    struct sk__blocking_conn *c = CONN(s);
    if (atomic_load(&c->aborted) || (s->flags & SK_SESSION_FAILED))
        return -EPIPE; /* already going away: not a slow reader */
    if (c->write_lock)
        sk__mutex_lock(c->write_lock);
    int stall_ms = s->post_stall_ms > 0 ? s->post_stall_ms : POST_TIMEOUT_MS;
    int rc = send_locked(c, data, len, stall_ms);
    if (c->write_lock)
        sk__mutex_unlock(c->write_lock);
    if (rc < 0)
        sk__blocking_abort(c);
    return rc; /* SK_EBUFFULL only when the peer stopped reading */
}

static size_t blocking_room(struct sk_session *s)
{
    /* A blocking write takes everything it is given. */
    return (s->flags & SK_SESSION_FAILED) ? 0 : (size_t)1 << 30;
}

static void blocking_abort_op(struct sk_session *s)
{
    sk__blocking_abort(CONN(s));
}

static const struct sk_session_ops blocking_ops = {
    .write = blocking_write,
    .post = blocking_post,
    .room = blocking_room,
    .abort = blocking_abort_op,
    .send_file = blocking_send_file,
};

void sk__blocking_abort(struct sk__blocking_conn *c)
{
    atomic_store(&c->aborted, 1);
    /* shutdown() wakes a recv() blocked in another thread; close() would
     * not, and could hand the descriptor number to a new connection. */
    shutdown(c->fd, SK_SHUT_RDWR);
}

/* Hand input to the service; keep what it did not take. */
static size_t feed(struct sk__blocking_conn *c, size_t have)
{
    struct sk_session *s = &c->session;
    size_t off = 0;
    while (off < have && !(s->flags & (SK_SESSION_FAILED | SK_SESSION_CLOSE))) {
        size_t used = s->instance->service->on_data(s, c->input + off, have - off);
        if (used == 0)
            break;
        off += used;
    }
    if (s->flags & (SK_SESSION_FAILED | SK_SESSION_CLOSE))
        return 0; /* the rest will never be read */
    memmove(c->input, c->input + off, have - off);
    return have - off;
}

static void run(struct sk__blocking_conn *c)
{
    struct sk_session *s = &c->session;
    const struct sk_service *svc = s->instance->service;
    struct sk_server *srv = c->srv;
    size_t pending = 0;
    int shut = 0, eof = 0;

    if (svc->on_open)
        svc->on_open(s);
    for (;;) {
        while ((s->flags & SK_SESSION_WANT_WRITABLE) && !c->aborted &&
               !(s->flags & (SK_SESSION_FAILED | SK_SESSION_CLOSE)) &&
               !sk__server_stopping(srv))
            svc->on_writable(s);
        if (pending > 0)
            pending = feed(c, pending);
        if (c->aborted || sk__server_stopping(srv) ||
            (s->flags & (SK_SESSION_FAILED | SK_SESSION_CLOSE)))
            break;
        if ((s->flags & SK_SESSION_SHUTDOWN) && !shut) {
            if (sk_shutdown_write(c->fd) < 0)
                break;
            shut = 1;
        }
        if (eof) {
            if (s->flags & SK_SESSION_WANT_WRITABLE)
                continue;
            break; /* nothing more can arrive and nothing is left to send */
        }
        if (pending == c->input_size) {
            sk_session_log(s, SK_LOG_WARN, "service took no input; closing");
            break;
        }
        long n = recv_input(c, c->input + pending, c->input_size - pending);
        if (n > 0) {
            c->bytes_in += (unsigned long long)n;
            if (srv->msglog != NULL)
                sk__msglog_write(srv->msglog, c->input + pending, (size_t)n);
            pending = feed(c, pending + (size_t)n);
        } else if (n == 0) {
            eof = 1;
            if (svc->on_eof)
                svc->on_eof(s);
            else
                sk_session_close(s);
        } else {
            /* expire() has said why a deadline ended it. */
            if (!c->aborted && !sk_error_is((int)n, ECONNRESET) && n != -EINTR &&
                n != -ECANCELED && n != -ETIMEDOUT)
                sk_session_log(s, SK_LOG_WARN, "receive failed: %s", sk_strerror((int)n));
            break;
        }
    }
}

int sk__blocking_serve(struct sk_server *srv, sk_socket_t fd, const struct sk_addr *peer,
                      const struct sk__blocking_hooks *hooks)
{
    const struct sk_service *svc = srv->service;
    struct sk__blocking_conn *c = calloc(1, sizeof *c + srv->buffer_size);
    void *state = svc->session_size ? calloc(1, svc->session_size) : NULL;
    if (c == NULL || (svc->session_size && state == NULL)) {
        free(c);
        free(state);
        sk_socket_close(fd);
        return -ENOMEM;
    }
    c->srv = srv;
    c->fd = fd;
    c->input_size = srv->buffer_size;
    c->session.ops = &blocking_ops;
    c->session.instance = &srv->instance;
    c->session.state = state;
    sk_addr_format((const struct sockaddr *)&peer->ss, c->session.peer,
                   sizeof c->session.peer);
    if (hooks && hooks->threaded && (c->write_lock = sk__mutex_new()) == NULL) {
        free(c);
        free(state);
        sk_socket_close(fd);
        return -ENOMEM;
    }
    c->idle_ms = srv->cfg->idle_timeout_ms;
    if (c->idle_ms <= 0 && (srv->model->flags & SK_MODEL_SERIAL))
        c->idle_ms = SK_SERIAL_IDLE_MS;
    atomic_store(&c->last_progress_ms, sk_now_ms());
    /* Every wait is wait_io's poll(), bounded by the deadlines; fork's
     * child and BSD's accept() may hand the socket over in either mode. */
    int rc = sk__socket_set_nonblocking(fd, 1);
    if (rc < 0) {
        sk__mutex_free(c->write_lock);
        free(c);
        free(state);
        sk_socket_close(fd);
        return rc;
    }
    sk__server_set_nodelay(srv, fd);

    sk_session_log(&c->session, SK_LOG_INFO, "connected");
    if (hooks && hooks->on_start)
        hooks->on_start(hooks->ctx, c);
    run(c);
    if (svc->on_close)
        svc->on_close(&c->session);
    if (hooks && hooks->on_end)
        hooks->on_end(hooks->ctx, c);
    sk_session_log(&c->session, SK_LOG_INFO, "closed (%llu bytes in, %llu out)",
                   c->bytes_in, c->bytes_out);
    sk__close_traced(fd);
    sk__mutex_free(c->write_lock);
    free(state);
    free(c);
    return 0;
}
