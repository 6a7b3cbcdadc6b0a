/*
 * sk_blocking.c - the blocking connection driver shared by the
 * iterative, fork and thread models.
 *
 * Writes go straight to the socket with send() until every byte is out,
 * so a service's output never queues in memory: a peer that stops reading
 * blocks this connection's writer, and its own TCP window is the limit.
 * Another thread may post to the session (chat); a post waits at most
 * POST_TIMEOUT_MS for room and otherwise drops the slow member, so one
 * stuck peer cannot stall everybody else.
 */
#include "sk_blocking.h"
#include "sk_error.h"
#include "sk_sock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define POST_TIMEOUT_MS 2000

struct sk_blocking_conn {
    struct sk_session session;
    struct sk_server *srv;
    sk_socket_t fd;
    sk_mutex_t *write_lock; /* NULL unless other threads may post */
    atomic_int aborted;      /* set from other threads (chat, stop) */
    unsigned long long bytes_in, bytes_out;
    size_t input_size;      /* --buffer */
    uint8_t input[];
};

#define CONN(s) ((struct sk_blocking_conn *)(s))

static void fail(struct sk_blocking_conn *c)
{
    c->session.flags |= SK_SESSION_FAILED;
}

/* send() until done.  Unlike sk_send_all, a signal that asks the server
 * to stop ends the wait: the iterative model runs connections on the
 * thread that receives SIGTERM, and a peer that never reads must not be
 * able to keep the server from stopping. */
static int send_locked(struct sk_blocking_conn *c, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        long n = (long)send(c->fd, p, len, SK_MSG_NOSIGNAL);
        if (n < 0) {
            int rc = sk_socket_error();
            if (rc == -EINTR && !sk_server_stopping(c->srv))
                continue;
            return rc;
        }
        p += n;
        len -= (size_t)n;
        c->bytes_out += (unsigned long long)n;
    }
    return 0;
}

/* recv() that returns -EINTR when the server is stopping. */
static long recv_interruptible(struct sk_blocking_conn *c, void *buf, size_t len)
{
#ifdef _WIN32
    /* A console Ctrl-C interrupts no blocking call on Windows: wait for
     * input in slices, looking at the stop flag between them, and keep
     * the idle clock here (recv() only runs once there is data). */
    int idle_ms = c->srv->cfg->idle_timeout_ms;
    uint64_t since = sk_now_ms();
    for (;;) {
        if (sk_server_stopping(c->srv))
            return -EINTR;
        int ready = sk_socket_wait(c->fd, SK_WAIT_READ, 250);
        if (ready < 0)
            return ready;
        if (ready > 0)
            break;
        if (idle_ms > 0 && sk_now_ms() - since >= (uint64_t)idle_ms)
            return SK_WSA_BASE - WSAEWOULDBLOCK; /* what SO_RCVTIMEO says */
    }
#endif
    for (;;) {
        long n = (long)recv(c->fd, buf, len, 0);
        if (n >= 0)
            return n;
        int rc = sk_socket_error();
        if (rc != -EINTR || sk_server_stopping(c->srv))
            return rc;
    }
}

static size_t blocking_write(struct sk_session *s, const void *data, size_t len)
{
    struct sk_blocking_conn *c = CONN(s);
    if (s->flags & SK_SESSION_FAILED)
        return 0;
    if (c->write_lock)
        sk_mutex_lock(c->write_lock);
    int rc = send_locked(c, data, len);
    if (c->write_lock)
        sk_mutex_unlock(c->write_lock);
    if (rc < 0) {
        fail(c);
        return 0;
    }
    return len;
}

/* sendfile() on the blocking socket: it returns once what fits has gone
 * (all of len, unless a signal came), so the caller's loop over the file
 * is the same as with write(). */
static long blocking_send_file(struct sk_session *s, int fd, int64_t offset, size_t len)
{
    struct sk_blocking_conn *c = CONN(s);
    if (s->flags & SK_SESSION_FAILED)
        return -EPIPE;
    if (c->write_lock)
        sk_mutex_lock(c->write_lock);
    long n;
    do
        n = sk_send_file(c->fd, fd, offset, len);
    while (n == -EINTR && !sk_server_stopping(c->srv));
    if (c->write_lock)
        sk_mutex_unlock(c->write_lock);
    if (n > 0)
        c->bytes_out += (unsigned long long)n;
    else if (n != SK_EUNSUPPORTED && n != SK_ESHORT)
        fail(c); /* a blocking socket never says "later": it broke */
    return n;
}

/* Send everything or give up after POST_TIMEOUT_MS without progress. */
static int send_with_deadline(struct sk_blocking_conn *c, const char *p, size_t len)
{
    while (len > 0) {
        long n = sk_send_nowait(c->fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            c->bytes_out += (unsigned long long)n;
            continue;
        }
        int rc = n < 0 ? (int)n : -EIO;
        if (rc == -EINTR)
            continue;
        if (!sk_error_would_block(rc))
            return rc;
        rc = sk_socket_wait(c->fd, SK_WAIT_WRITE, POST_TIMEOUT_MS);
        if (rc == 0)
            return SK_EBUFFULL;
        if (rc < 0 && rc != -EINTR)
            return rc;
    }
    return 0;
}

static int blocking_post(struct sk_session *s, const void *data, size_t len)
{
    struct sk_blocking_conn *c = CONN(s);
    if (atomic_load(&c->aborted) || (s->flags & SK_SESSION_FAILED))
        return -EPIPE; /* already going away: not a slow reader */
    if (c->write_lock)
        sk_mutex_lock(c->write_lock);
    int rc = send_with_deadline(c, data, len);
    if (c->write_lock)
        sk_mutex_unlock(c->write_lock);
    if (rc < 0)
        sk_blocking_abort(c);
    return rc; /* SK_EBUFFULL only when the peer stopped reading */
}

static size_t blocking_room(struct sk_session *s)
{
    /* A blocking write takes everything it is given. */
    return (s->flags & SK_SESSION_FAILED) ? 0 : (size_t)1 << 30;
}

static void blocking_abort_op(struct sk_session *s)
{
    sk_blocking_abort(CONN(s));
}

static const struct sk_session_ops blocking_ops = {
    .write = blocking_write,
    .post = blocking_post,
    .room = blocking_room,
    .abort = blocking_abort_op,
    .send_file = blocking_send_file,
};

void sk_blocking_abort(struct sk_blocking_conn *c)
{
    atomic_store(&c->aborted, 1);
    /* shutdown() wakes a recv() blocked in another thread; close() would
     * not, and could hand the descriptor number to a new connection. */
    shutdown(c->fd, SK_SHUT_RDWR);
}

/* Hand input to the service; keep what it did not take. */
static size_t feed(struct sk_blocking_conn *c, size_t have)
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

static void run(struct sk_blocking_conn *c)
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
               !sk_server_stopping(srv))
            svc->on_writable(s);
        if (pending > 0)
            pending = feed(c, pending);
        if (c->aborted || sk_server_stopping(srv) ||
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
        long n = recv_interruptible(c, c->input + pending, c->input_size - pending);
        if (n > 0) {
            c->bytes_in += (unsigned long long)n;
            if (srv->msglog != NULL)
                sk_msglog_write(srv->msglog, c->input + pending, (size_t)n);
            pending = feed(c, pending + (size_t)n);
        } else if (n == 0) {
            eof = 1;
            if (svc->on_eof)
                svc->on_eof(s);
            else
                sk_session_close(s);
        } else if (sk_error_would_block((int)n)) {
            sk_session_log(s, SK_LOG_INFO, "idle for %d ms; closing",
                           srv->cfg->idle_timeout_ms);
            break;
        } else {
            if (!c->aborted && !sk_error_is((int)n, ECONNRESET) && n != -EINTR)
                sk_session_log(s, SK_LOG_WARN, "receive failed: %s", sk_strerror((int)n));
            break;
        }
    }
}

int sk_blocking_serve(struct sk_server *srv, sk_socket_t fd, const struct sk_addr *peer,
                      const struct sk_blocking_hooks *hooks)
{
    const struct sk_service *svc = srv->service;
    struct sk_blocking_conn *c = calloc(1, sizeof *c + srv->buffer_size);
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
    if (hooks && hooks->threaded && (c->write_lock = sk_mutex_new()) == NULL) {
        free(c);
        free(state);
        sk_socket_close(fd);
        return -ENOMEM;
    }
    if (srv->cfg->idle_timeout_ms > 0)
        sk_set_timeouts(fd, srv->cfg->idle_timeout_ms, -1);
    /* Replies go out as soon as they are written, not after Nagle's wait
     * for the previous segment's acknowledgement. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, (const void *)&one, sizeof one);

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
    sk_socket_close(fd);
    sk_mutex_free(c->write_lock);
    free(state);
    free(c);
    return 0;
}
