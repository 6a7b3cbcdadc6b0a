/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_conn.c - the connection core: everything the event-driven models
 * share, whichever kernel mechanism moves the bytes (sk_conn.h).
 *
 * Memory stays bounded whatever peers do.  A connection holds at most two
 * buffers of --buffer bytes: its queued output, and the input its service
 * could not take yet.  Both come from a per-worker free list only while
 * they hold bytes, so an idle connection holds none.  A connection is read
 * only while its output has room, never more than that room, and only
 * once earlier input is gone, so a peer that sends without reading soon
 * stops being read: its socket buffers fill and TCP's window pushes back
 * on it (the OpenBSD nc rule).
 *
 * Posts (one session writing to another: chat) are all-or-nothing.  What
 * does not fit the target's output waits in its backlog, in order, and
 * moves up as sends free room.  While any connection's posts wait, the
 * worker reads from no other connection: the senders are pushed back
 * instead of the room running ahead of its slowest reader, so a member
 * who keeps reading never loses a line, however large the paste.  What
 * "too slow" means is the service's (sk_session_set_slow_reader): a
 * target whose waiting output passes its limit, or that takes no byte for
 * its stall time while posts wait, is dropped, and the room moves on.
 *
 * Closing is deferred to the end of a round (the "ready" list), so no
 * connection is freed while a service callback or another connection's
 * broadcast may still hold a pointer to it; a completion backend frees it
 * only once the kernel has given back every operation (sk__conn_release).
 */
#include "sk_conn.h"
#include "sk_trace.h"
#include "sk_error.h"
#include "sk_sock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS_PER_PROCESS 16 /* fairness: then yield to other connections */

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ---- buffers ---------------------------------------------------------- */

static struct sk__conn_buf *buf_get(struct sk__worker *w)
{
    struct sk__conn_buf *b = w->free_bufs;
    if (b != NULL)
        w->free_bufs = b->next_free;
    else if ((b = malloc(sizeof *b + w->bufsize)) == NULL)
        return NULL;
    b->head = b->len = 0;
    b->next_free = NULL;
    return b;
}

static void buf_put(struct sk__worker *w, struct sk__conn_buf *b)
{
    if (b == NULL)
        return;
    b->next_free = w->free_bufs;
    w->free_bufs = b;
}

static size_t buf_len(const struct sk__conn_buf *b)
{
    return b ? b->len : 0;
}

/* Output is circular: bytes a send in flight points at never move. */
static void out_append(struct sk__worker *w, struct sk__conn_buf *b, const uint8_t *data, size_t n)
{
    size_t tail = (b->head + b->len) % w->bufsize;
    size_t first = min_size(n, w->bufsize - tail);
    memcpy(b->data + tail, data, first);
    memcpy(b->data, data + first, n - first);
    b->len += n;
}

/* Input is linear (nothing in flight reads it); compacts when needed. */
static void in_append(struct sk__worker *w, struct sk__conn_buf *b, const uint8_t *data, size_t n)
{
    if (b->head + b->len + n > w->bufsize) {
        memmove(b->data, b->data + b->head, b->len);
        b->head = 0;
    }
    memcpy(b->data + b->head + b->len, data, n);
    b->len += n;
}

const uint8_t *sk__conn_out_span(const struct sk__conn *c, size_t *len)
{
    if (c->out == NULL || c->out->len == 0)
        return NULL;
    *len = min_size(c->out->len, c->w->bufsize - c->out->head);
    return c->out->data + c->out->head;
}


/* ---- bookkeeping ------------------------------------------------------ */

void sk__conn_schedule(struct sk__conn *c)
{
    if (c->in_ready)
        return;
    c->in_ready = 1;
    c->ready_next = c->w->ready;
    c->w->ready = c;
}

static void activity_unlink(struct sk__conn *c)
{
    struct sk__worker *w = c->w;
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

/* A byte moved, either way: the idle timeout is about progress. */
static void activity_touch(struct sk__conn *c)
{
    struct sk__worker *w = c->w;
    c->last_active_ms = w->now_ms;
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

static int broken(const struct sk__conn *c)
{
    return c->aborted || (c->session.flags & SK_SESSION_FAILED);
}

static int ending(const struct sk__conn *c)
{
    return c->closed || broken(c) || (c->session.flags & SK_SESSION_CLOSE);
}

static int is_reset(int rc)
{
    return sk_error_is(rc, ECONNRESET) || sk_error_is(rc, EPIPE) ||
           sk_error_is(rc, ECONNABORTED) || rc == -ECANCELED;
}

void sk__conn_fail(struct sk__conn *c, int rc, const char *what)
{
    if (rc < 0 && what != NULL && !is_reset(rc) && !broken(c))
        sk_session_log(&c->session, SK_LOG_WARN, "%s failed: %s", what, sk_strerror(rc));
    c->session.flags |= SK_SESSION_FAILED;
    sk__conn_schedule(c);
}


/* ---- the post backlog and push-back ----------------------------------- */

static void backlog_start(struct sk__conn *c)
{
    if (c->backlogged)
        return;
    c->backlogged = 1;
    c->w->backlogged++;
    c->last_sent_ms = c->w->now_ms; /* the stall clock starts now */
}

static void wake_paused(struct sk__worker *w)
{
    while (w->paused != NULL) {
        struct sk__conn *c = w->paused;
        w->paused = c->paused_next;
        c->paused = 0;
        c->paused_next = NULL;
        sk__conn_schedule(c);
    }
}

static void backlog_end(struct sk__conn *c)
{
    if (!c->backlogged)
        return;
    c->backlogged = 0;
    if (--c->w->backlogged == 0)
        wake_paused(c->w);
}

static void unpause(struct sk__conn *c)
{
    if (!c->paused)
        return;
    for (struct sk__conn **p = &c->w->paused; *p != NULL; p = &(*p)->paused_next) {
        if (*p == c) {
            *p = c->paused_next;
            break;
        }
    }
    c->paused = 0;
    c->paused_next = NULL;
}

/* Move waiting posts into the output as far as it has room. */
static void backlog_drain(struct sk__conn *c)
{
    struct sk__worker *w = c->w;
    size_t len;
    const uint8_t *p;
    while ((p = sk__postq_peek(&c->backlog, &len)) != NULL && buf_len(c->out) < w->bufsize) {
        if (c->out == NULL && (c->out = buf_get(w)) == NULL) {
            sk__conn_fail(c, -ENOMEM, "output");
            return;
        }
        size_t n = min_size(len, w->bufsize - buf_len(c->out));
        out_append(w, c->out, p, n);
        sk__postq_consume(&c->backlog, n);
    }
    if (c->backlog.len == 0)
        backlog_end(c);
}

int sk__conn_can_read(struct sk__conn *c)
{
    if (c->eof || c->in != NULL || ending(c) || sk__conn_out_room(c) == 0)
        return 0;
    if (c->w->backlogged > 0 && !c->backlogged) {
        if (!c->paused) { /* read again once the posts have gone */
            c->paused = 1;
            c->paused_next = c->w->paused;
            c->w->paused = c;
        }
        return 0;
    }
    return 1;
}

/* ---- session ops ------------------------------------------------------ */

#define CONN(s) ((struct sk__conn *)(s))

static size_t conn_write(struct sk_session *s, const void *data, size_t len)
{
    struct sk__conn *c = CONN(s);
    struct sk__worker *w = c->w;
    size_t room = sk__conn_out_room(c), done = 0;
    if (room == 0 || len == 0)
        return 0;
    if (c->out == NULL && w->shared->be->send_now != NULL) {
        /* Nothing queued: try the socket first, so the common case copies
         * nothing and needs no writability event. */
        long n = w->shared->be->send_now(c, data, len);
        if (n < 0) {
            sk__conn_fail(c, (int)n, "send");
            return 0;
        }
        if (n > 0) {
            done = (size_t)n;
            c->bytes_out += (unsigned long long)n;
            activity_touch(c);
        }
    }
    size_t copy = min_size(len - done, room);
    if (copy > 0) {
        if (c->out == NULL && (c->out = buf_get(w)) == NULL) {
            sk__conn_fail(c, -ENOMEM, "output");
            return done;
        }
        out_append(w, c->out, (const uint8_t *)data + done, copy);
    }
    c->queued += done + copy;
    return done + copy;
}

static int conn_post(struct sk_session *s, const void *data, size_t len)
{
    struct sk__conn *c = CONN(s);
    if (c->closed || broken(c))
        return -EPIPE; /* already going away: not a slow reader */
    if (c->backlog.len == 0 && sk__conn_out_room(c) >= len) {
        if (conn_write(s, data, len) != len)
            return -EPIPE; /* only a broken connection takes less */
    } else {
        size_t limit = s->post_limit ? s->post_limit : c->w->bufsize;
        if (buf_len(c->out) + c->backlog.len + len > limit)
            return SK_EBUFFULL;
        int rc = sk__postq_push(&c->backlog, data, len);
        if (rc < 0)
            return rc;
        c->queued += len;
        backlog_start(c);
    }
    sk__conn_schedule(c); /* the target may be idle: make sure it flushes */
    return 0;
}

static size_t conn_room(struct sk_session *s)
{
    return sk__conn_out_room(CONN(s));
}

static void conn_abort(struct sk_session *s)
{
    struct sk__conn *c = CONN(s);
    c->aborted = 1;
    sk__conn_schedule(c);
}

/* sendfile(), only once everything queued before has gone (the file's
 * bytes must follow them).  A full socket sets file_blocked, so the
 * backend waits for writability although nothing is queued. */
static long conn_send_file(struct sk_session *s, int fd, int64_t offset, size_t len)
{
    struct sk__conn *c = CONN(s);
    const struct sk__conn_backend *be = c->w->shared->be;
    if (c->closed || broken(c))
        return -EPIPE;
    if (be->send_file == NULL)
        return SK_EUNSUPPORTED;
    if (c->out != NULL || c->backlog.len > 0)
        return 0; /* on_writable runs again once the queue has drained */
    long n = be->send_file(c, fd, offset, len);
    if (n > 0) {
        c->queued += (size_t)n;
        c->bytes_out += (unsigned long long)n;
        activity_touch(c);
        return n;
    }
    if (sk__error_would_block((int)n)) {
        c->file_blocked = 1;
        return 0;
    }
    if (n != SK_EUNSUPPORTED && n != SK_ESHORT)
        sk__conn_fail(c, (int)n, "sendfile");
    return n;
}

static const struct sk_session_ops conn_ops = {
    .write = conn_write,
    .post = conn_post,
    .room = conn_room,
    .abort = conn_abort,
    .send_file = conn_send_file,
};

/* ---- input ------------------------------------------------------------ */

/* Hand bytes to the service; how many it took.  Once the session is
 * ending, whatever is left is as good as taken (nobody will read it). */
static size_t feed(struct sk__conn *c, const uint8_t *data, size_t len)
{
    const struct sk_service *svc = c->w->srv->service;
    size_t off = 0;
    while (off < len) {
        if (ending(c))
            return len;
        size_t used = svc->on_data(&c->session, data + off, len - off);
        if (used == 0)
            break;
        off += used;
    }
    return off;
}

void sk__conn_received(struct sk__conn *c, const uint8_t *data, size_t len)
{
    struct sk__worker *w = c->w;
    c->bytes_in += (unsigned long long)len;
    activity_touch(c);
    if (w->srv->msglog != NULL)
        sk__msglog_write(w->srv->msglog, data, len);
    size_t off = c->in == NULL ? feed(c, data, len) : 0;
    if (off == len)
        return;
    if (c->in == NULL && (c->in = buf_get(w)) == NULL) {
        sk__conn_fail(c, -ENOMEM, "input");
        return;
    }
    if (c->in->len + (len - off) > w->bufsize) {
        sk__conn_fail(c, -ENOBUFS, "receive"); /* a backend broke its promise */
        return;
    }
    in_append(w, c->in, data + off, len - off);
}

void sk__conn_mirrored(struct sk__conn *c, size_t received, size_t sent, const uint8_t *rest,
                       size_t rest_len)
{
    struct sk__worker *w = c->w;
    c->bytes_in += (unsigned long long)received;
    c->bytes_out += (unsigned long long)sent;
    c->queued += received;
    activity_touch(c);
    if (rest_len == 0)
        return;
    if (c->out == NULL && (c->out = buf_get(w)) == NULL) {
        sk__conn_fail(c, -ENOMEM, "output");
        return;
    }
    if (buf_len(c->out) + rest_len > w->bufsize) {
        sk__conn_fail(c, -ENOBUFS, "mirror"); /* a backend broke its promise */
        return;
    }
    out_append(w, c->out, rest, rest_len);
}

int sk__conn_may_hold(const struct sk__conn *c, size_t n)
{
    return c->mirror && c->out == NULL && !ending(c) && n <= sk__conn_out_room(c);
}

void sk__conn_mirror_held(struct sk__conn *c, size_t n)
{
    c->bytes_in += (unsigned long long)n;
    c->queued += n;
    c->held += n;
    activity_touch(c);
}

void sk__conn_mirror_sent(struct sk__conn *c, size_t n)
{
    c->held -= n;
    c->bytes_out += (unsigned long long)n;
    c->last_sent_ms = c->w->now_ms;
    activity_touch(c);
}

void sk__conn_eof(struct sk__conn *c)
{
    c->eof = 1;
}

void sk__conn_sent(struct sk__conn *c, size_t n)
{
    struct sk__conn_buf *b = c->out;
    b->head = (b->head + n) % c->w->bufsize;
    b->len -= n;
    c->bytes_out += (unsigned long long)n;
    c->last_sent_ms = c->w->now_ms;
    activity_touch(c);
    if (b->len == 0 && c->sending == 0) {
        buf_put(c->w, b);
        c->out = NULL;
    }
}

/* Feed what waits in c->in; 1 if the service took some. */
static int feed_pending(struct sk__conn *c)
{
    struct sk__conn_buf *in = c->in;
    size_t used = feed(c, in->data + in->head, in->len);
    in->head += used;
    in->len -= used;
    if (in->len == 0) {
        buf_put(c->w, in);
        c->in = NULL;
    }
    return used > 0;
}

static void drop_pending_input(struct sk__conn *c)
{
    buf_put(c->w, c->in);
    c->in = NULL;
}

/* ---- connections ------------------------------------------------------ */

void sk__conn_close(struct sk__conn *c)
{
    if (c->closed)
        return;
    struct sk__worker *w = c->w;
    const struct sk_service *svc = w->srv->service;
    c->closed = 1;
    if (svc->on_close)
        svc->on_close(&c->session);
    sk_session_log(&c->session, SK_LOG_INFO, "closed (%llu bytes in, %llu out)",
                   c->bytes_in, c->bytes_out);
    sk__server_leave(w->srv, &c->peer);
    drop_pending_input(c);
    sk__postq_clear(&c->backlog);
    backlog_end(c);
    unpause(c);
    activity_unlink(c);
    w->live--;
    atomic_fetch_sub(&w->shared->live, 1);
    if (w->shared->be->conn_stop(c))
        c->freeable = 1;
    sk__conn_schedule(c); /* freed once this round is over */
}

void sk__conn_release(struct sk__conn *c)
{
    c->freeable = 1;
    sk__conn_schedule(c);
}

static void conn_free(struct sk__conn *c)
{
    struct sk__worker *w = c->w;
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        w->all = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    buf_put(w, c->in);
    buf_put(w, c->out);
    sk__postq_clear(&c->backlog);
    free(c->session.state);
    free(c);
}

/* Closing, half-closing, or nothing yet: decided only once every byte
 * queued has left (nginx half-closes only after its buffer drained). */
static int conn_settle(struct sk__conn *c)
{
    struct sk_session *s = &c->session;
    if (c->out != NULL || c->sending > 0 || c->held > 0 || c->file_blocked || c->backlog.len > 0)
        return 0;
    if (s->flags & SK_SESSION_CLOSE) {
        sk__conn_close(c);
        return 1;
    }
    if ((s->flags & SK_SESSION_SHUTDOWN) && !c->shut) {
        if (sk_shutdown_write(c->fd) < 0) {
            sk__conn_close(c);
            return 1;
        }
        c->shut = 1;
    }
    /* Peer gone and nothing left to do: nothing can happen now. */
    if (c->eof && c->eof_told && c->in == NULL && !(s->flags & SK_SESSION_WANT_WRITABLE)) {
        sk__conn_close(c);
        return 1;
    }
    return 0;
}

void sk__conn_process(struct sk__conn *c)
{
    struct sk__worker *w = c->w;
    struct sk_session *s = &c->session;
    const struct sk_service *svc = w->srv->service;
    const struct sk__conn_backend *be = w->shared->be;
    size_t refill = be->refill_early ? w->bufsize / 2 : 0;
    int drained = 0, round;

    c->file_blocked = 0; /* on_writable below finds out again */
    for (round = 0; round < ROUNDS_PER_PROCESS; round++) {
        int progress = 0, rc;
        if (c->closed)
            return;
        if (broken(c))
            break;
        if (c->backlog.len > 0)
            backlog_drain(c);
        if (s->flags & SK_SESSION_CLOSE)
            drop_pending_input(c);
        if (c->out != NULL && be->flush != NULL) {
            if ((rc = be->flush(c)) < 0) {
                sk__conn_fail(c, rc, "send");
                break;
            }
            progress |= rc;
            if (c->backlog.len > 0)
                backlog_drain(c);
        }
        while ((s->flags & SK_SESSION_WANT_WRITABLE) && buf_len(c->out) <= refill &&
               c->backlog.len == 0 && !ending(c)) {
            size_t before = c->queued;
            svc->on_writable(s);
            if (c->queued == before)
                break;
            progress = 1;
        }
        if (c->in != NULL && sk__conn_out_room(c) > 0)
            progress |= feed_pending(c);
        if (c->eof && !c->eof_told && c->in == NULL) {
            c->eof_told = 1;
            if (svc->on_eof)
                svc->on_eof(s);
            else
                sk_session_close(s);
            progress = 1;
        }
        if (be->read != NULL && !drained && sk__conn_can_read(c)) {
            /* Mirrored bytes must not pass what is already queued. */
            if (c->mirror && c->out == NULL && be->mirror != NULL)
                rc = be->mirror(c, &drained);
            else
                rc = be->read(c, &drained);
            if (rc < 0) {
                sk__conn_fail(c, rc, "receive");
                break;
            }
            progress |= rc;
        }
        if (!progress)
            break;
    }
    if (c->closed)
        return;
    if (broken(c)) {
        sk__conn_close(c);
        return;
    }
    if (round == ROUNDS_PER_PROCESS)
        sk__conn_schedule(c); /* more to do: after the others have had their turn */
    if (!conn_settle(c))
        be->update(c);
}

void sk__conn_open(struct sk__worker *w, sk_socket_t fd, const struct sk_addr *peer)
{
    const struct sk_service *svc = w->srv->service;
    const struct sk__conn_backend *be = w->shared->be;
    struct sk__conn *c = calloc(1, be->conn_size);
    void *state = svc->session_size ? calloc(1, svc->session_size) : NULL;
    if (c == NULL || (svc->session_size && state == NULL)) {
        free(c);
        free(state);
        sk_log(&w->srv->cfg->logger, SK_LOG_WARN, "out of memory: dropping a connection");
        sk__server_leave(w->srv, peer);
        sk__close_traced(fd);
        return;
    }
    c->w = w;
    c->fd = fd;
    c->peer = *peer;
    /* Nothing but the service sees the bytes, unless --log must. */
    c->mirror = (svc->flags & SK_SERVICE_MIRROR) && w->srv->msglog == NULL &&
                ((be->mirror != NULL && !w->srv->cfg->no_splice) || be->mirror_in_place);
    c->session.ops = &conn_ops;
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
    activity_touch(c);
    if (be->conn_start != NULL && be->conn_start(c) < 0) {
        sk_session_log(&c->session, SK_LOG_WARN, "cannot watch the connection; closing");
        w->live--; /* never opened for the service */
        atomic_fetch_sub(&w->shared->live, 1);
        activity_unlink(c);
        sk__server_leave(w->srv, peer);
        if (be->conn_stop(c))
            c->freeable = 1;
        c->closed = 1;
        sk__conn_schedule(c);
        return;
    }
    sk_session_log(&c->session, SK_LOG_INFO, "connected");
    if (svc->on_open)
        svc->on_open(&c->session);
    sk__conn_process(c);
}

/* ---- rounds and timers ----------------------------------------------- */

void sk__conn_run_ready(struct sk__worker *w)
{
    while (w->ready != NULL) {
        struct sk__conn *list = w->ready;
        w->ready = NULL;
        while (list != NULL) {
            struct sk__conn *c = list;
            list = c->ready_next;
            c->in_ready = 0;
            if (c->freeable)
                conn_free(c);
            else if (!c->closed)
                sk__conn_process(c);
        }
        /* Connections processed above may have scheduled themselves again
         * because they have more work: leave those to the next round. */
        int more_work = 0;
        for (struct sk__conn *c = w->ready; c != NULL; c = c->ready_next)
            more_work |= !c->closed;
        if (more_work)
            break;
    }
}

/* Members whose posts wait and who took nothing for their stall time are
 * dropped: the room was held back for them long enough. */
uint64_t sk__conn_drop_stalled(struct sk__worker *w)
{
    uint64_t next = UINT64_MAX;
    if (w->backlogged == 0)
        return next;
    for (struct sk__conn *c = w->oldest; c != NULL;) {
        struct sk__conn *newer = c->newer;
        int stall = c->session.post_stall_ms;
        if (c->backlogged && stall > 0 && !broken(c)) {
            uint64_t due = c->last_sent_ms + (uint64_t)stall;
            if (w->now_ms >= due) {
                /* Posts only go between members of a shared service. */
                sk_log(&w->srv->cfg->logger, SK_LOG_WARN,
                       "dropping slow member %s: output full (%zu bytes waiting, none "
                       "taken for %d ms)", c->session.peer, buf_len(c->out) + c->backlog.len,
                       stall);
                conn_abort(&c->session);
            } else if (due < next) {
                next = due;
            }
        }
        c = newer;
    }
    return next;
}

/* Close what made no progress either way for --idle-timeout; when the
 * next one is due (UINT64_MAX: none). */
uint64_t sk__conn_expire_idle(struct sk__worker *w, int idle_ms)
{
    while (w->oldest != NULL && w->now_ms - w->oldest->last_active_ms >= (uint64_t)idle_ms) {
        struct sk__conn *c = w->oldest;
        sk_session_log(&c->session, SK_LOG_INFO, "idle for %d ms; closing", idle_ms);
        sk__conn_close(c);
    }
    return w->oldest != NULL ? w->oldest->last_active_ms + (uint64_t)idle_ms + 1 : UINT64_MAX;
}

/* Close the sessions whose own deadline (sk_session_set_deadline) has
 * passed; when the next is due (UINT64_MAX: none). */
uint64_t sk__conn_expire_deadlines(struct sk__worker *w)
{
    uint64_t next = UINT64_MAX;
    for (struct sk__conn *c = w->oldest; c != NULL;) {
        struct sk__conn *newer = c->newer;
        uint64_t due = c->session.deadline_ms;
        if (due != 0 && w->now_ms >= due) {
            sk_session_log(&c->session, SK_LOG_INFO, "deadline passed; closing");
            sk__conn_close(c);
        } else if (due != 0 && due < next) {
            next = due;
        }
        c = newer;
    }
    return next;
}

/* At the end: what the backend gave up on, and the free list. */
void sk__conn_free_all(struct sk__worker *w)
{
    while (w->all != NULL) {
        if (!w->all->freeable && w->all->fd != SK_INVALID_SOCKET)
            sk__close_traced(w->all->fd);
        conn_free(w->all);
    }
    while (w->free_bufs != NULL) {
        struct sk__conn_buf *b = w->free_bufs;
        w->free_bufs = b->next_free;
        free(b);
    }
}

