/*
 * sk_event.c - the event-loop server engine behind select, poll, epoll,
 * nonblock and sigio.
 *
 * Each worker thread owns one loop, one listening socket (its own, bound
 * with SO_REUSEPORT, or a shared one) and the connections it accepted.
 * Nothing is shared between workers but two counters, so no lock is taken
 * on the data path.
 *
 * Memory stays bounded whatever peers do.  A connection holds at most two
 * buffers of --buffer bytes: its queued output, and the input its service
 * could not take yet.  Both come from a per-worker free list only while
 * they hold bytes, so an idle connection holds none.  A connection is read
 * only while its output has room, and never more than that room, so a
 * peer that sends without reading soon stops being read: its socket
 * buffers fill and TCP's window pushes back on it (the OpenBSD nc rule).
 *
 * Writes go out at once: a service's write is tried with send() before
 * anything is queued, so an echo costs one recv() and one send(), and the
 * loop is only asked for writability when the kernel could not take
 * everything.
 *
 * Closing is deferred to the end of a loop iteration (the "ready" list),
 * so no connection is freed while a service callback or another
 * connection's broadcast may still hold a pointer to it.
 */
#include "sk_event.h"
#include "sk_error.h"
#include "sk_sock.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCEPTS_PER_EVENT 64     /* level-triggered: the rest come next round */
#define DATAGRAMS_PER_EVENT 64
#define ROUNDS_PER_PROCESS 16    /* fairness: then yield to other connections */
#define STOP_CHECK_MS 250        /* workers without signals look this often */
#define ACCEPT_PAUSE_MS 100      /* out of descriptors with no spare: wait this long */

struct ev_buf {
    struct ev_buf *next_free;
    size_t head, tail; /* bytes live in data[head, tail) */
    uint8_t data[];
};

struct ev_shared {
    struct sk_server *srv;
    const struct sk_poller *poller;
    atomic_long live;
    atomic_long accepted;
    atomic_ulong refused;
    /* One clock for the EMFILE warning: at most one a second per server,
     * however many loops run out of descriptors at the same moment. */
    atomic_ullong last_emfile_log_ms;
};

struct ev_conn;

struct ev_worker {
    struct ev_shared *shared;
    struct sk_server *srv;
    struct sk_loop *loop;
    int edge;
    sk_socket_t listener;
    int own_listener;
    int listening;
    sk_socket_t reserve_fd;     /* the EMFILE spare, or SK_INVALID_SOCKET */
    uint64_t accept_resume_ms;  /* nonzero: listener unwatched until then */
    size_t bufsize;
    uint8_t *scratch;         /* bufsize bytes: where reads land */
    struct sk_datagram_batch *batch; /* UDP: receive and reply buffers */
    struct ev_buf *free_bufs;
    struct ev_conn *oldest, *newest; /* by last input: the idle-timeout order */
    struct ev_conn *ready;           /* to process or free after this round */
    long live;
    sk_thread_t thread;
};

struct ev_conn {
    struct sk_session session;
    struct ev_worker *w;
    int fd;
    unsigned eof : 1, shut : 1, aborted : 1, closed : 1, in_ready : 1;
    unsigned file_blocked : 1;       /* send_file found the socket full */
    size_t queued;                   /* bytes ever accepted by write */
    struct ev_buf *in, *out;
    uint64_t last_input_ms;
    struct ev_conn *older, *newer;
    struct ev_conn *ready_next;
    struct sk_addr peer;             /* for --max-per-ip's count */
    unsigned long long bytes_in, bytes_out;
};

#define CONN(s) ((struct ev_conn *)(s))

/* ---- buffers ---------------------------------------------------------- */

static struct ev_buf *buf_get(struct ev_worker *w)
{
    struct ev_buf *b = w->free_bufs;
    if (b != NULL) {
        w->free_bufs = b->next_free;
    } else if ((b = malloc(sizeof *b + w->bufsize)) == NULL) {
        return NULL;
    }
    b->head = b->tail = 0;
    b->next_free = NULL;
    return b;
}

static void buf_put(struct ev_worker *w, struct ev_buf *b)
{
    if (b == NULL)
        return;
    b->next_free = w->free_bufs;
    w->free_bufs = b;
}

static size_t buf_len(const struct ev_buf *b)
{
    return b ? b->tail - b->head : 0;
}

/* Append len bytes (the caller checked the room); compacts when needed. */
static void buf_append(struct ev_worker *w, struct ev_buf *b, const void *data, size_t len)
{
    if (b->tail + len > w->bufsize) {
        memmove(b->data, b->data + b->head, b->tail - b->head);
        b->tail -= b->head;
        b->head = 0;
    }
    memcpy(b->data + b->tail, data, len);
    b->tail += len;
}

/* ---- bookkeeping ------------------------------------------------------ */

static void schedule(struct ev_conn *c)
{
    if (c->in_ready)
        return;
    c->in_ready = 1;
    c->ready_next = c->w->ready;
    c->w->ready = c;
}

static void activity_unlink(struct ev_conn *c)
{
    struct ev_worker *w = c->w;
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

static void activity_touch(struct ev_conn *c, uint64_t now)
{
    struct ev_worker *w = c->w;
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

static size_t out_room(const struct ev_conn *c)
{
    if (c->aborted || (c->session.flags & SK_SESSION_FAILED))
        return 0;
    return c->w->bufsize - buf_len(c->out);
}

static void fail(struct ev_conn *c)
{
    c->session.flags |= SK_SESSION_FAILED;
}

/* ---- session ops ------------------------------------------------------ */

static size_t ev_write(struct sk_session *s, const void *data, size_t len)
{
    struct ev_conn *c = CONN(s);
    if (c->closed || c->aborted || (s->flags & SK_SESSION_FAILED) || len == 0)
        return 0;
    size_t done = 0;
    if (c->out == NULL) {
        /* Nothing queued: try the socket first, so the common case copies
         * nothing and needs no writability event. */
        long n = (long)send(c->fd, (const char *)data, len, SK_MSG_NOSIGNAL | SK_MSG_DONTWAIT);
        if (n > 0) {
            done = (size_t)n;
            c->bytes_out += (unsigned long long)n;
            c->w->loop->progress++;
        } else if (n < 0) {
            int rc = sk_socket_error();
            if (!sk_error_would_block(rc) && rc != -EINTR) {
                fail(c);
                schedule(c);
                return 0;
            }
        }
    }
    size_t rest = len - done, room = out_room(c);
    size_t copy = rest < room ? rest : room;
    if (copy > 0) {
        if (c->out == NULL && (c->out = buf_get(c->w)) == NULL) {
            fail(c);
            schedule(c);
            return done;
        }
        buf_append(c->w, c->out, (const uint8_t *)data + done, copy);
    }
    c->queued += done + copy;
    return done + copy;
}

static int ev_post(struct sk_session *s, const void *data, size_t len)
{
    struct ev_conn *c = CONN(s);
    if (c->closed || c->aborted || (s->flags & SK_SESSION_FAILED))
        return -EPIPE; /* already going away: not a slow reader */
    if (out_room(c) < len)
        return SK_EBUFFULL;
    if (ev_write(s, data, len) != len)
        return SK_EBUFFULL;
    /* The target may be idle in the loop: make sure it gets to flush. */
    if (c->out != NULL)
        schedule(c);
    return 0;
}

static size_t ev_room(struct sk_session *s)
{
    return out_room(CONN(s));
}

static void ev_abort(struct sk_session *s)
{
    struct ev_conn *c = CONN(s);
    c->aborted = 1;
    schedule(c);
}

/* sendfile() on the non-blocking socket, only once everything queued
 * before has gone (the file's bytes must follow them).  A full socket
 * sets file_blocked, so the loop watches for writability although
 * nothing is queued, and calls on_writable again when it comes. */
static long ev_send_file(struct sk_session *s, int fd, int64_t offset, size_t len)
{
    struct ev_conn *c = CONN(s);
    if (c->closed || c->aborted || (s->flags & SK_SESSION_FAILED))
        return -EPIPE;
    if (c->out != NULL)
        return 0; /* on_writable runs again once the queue has drained */
    long n;
    do
        n = sk_send_file(c->fd, fd, offset, len);
    while (n == -EINTR);
    if (n > 0) {
        c->queued += (size_t)n;
        c->bytes_out += (unsigned long long)n;
        c->w->loop->progress++;
        return n;
    }
    if (sk_error_would_block((int)n)) {
        c->file_blocked = 1;
        return 0;
    }
    if (n != SK_EUNSUPPORTED && n != SK_ESHORT) {
        fail(c);
        schedule(c);
    }
    return n;
}

static const struct sk_session_ops ev_ops = { ev_write, ev_post, ev_room, ev_abort,
                                              ev_send_file };

/* ---- connections ------------------------------------------------------ */

static void on_conn_event(struct sk_loop *loop, int fd, void *data, int events);

static void conn_close(struct ev_conn *c)
{
    if (c->closed)
        return;
    struct ev_worker *w = c->w;
    const struct sk_service *svc = w->srv->service;
    c->closed = 1;
    if (svc->on_close)
        svc->on_close(&c->session);
    sk_loop_watch(w->loop, c->fd, SK_EV_NONE, NULL, NULL);
    sk_session_log(&c->session, SK_LOG_INFO, "closed (%llu bytes in, %llu out)",
                   c->bytes_in, c->bytes_out);
    sk_socket_close(c->fd);
    c->fd = -1;
    sk_server_leave(w->srv, &c->peer);
    buf_put(w, c->in);
    buf_put(w, c->out);
    c->in = c->out = NULL;
    activity_unlink(c);
    w->live--;
    atomic_fetch_sub(&w->shared->live, 1);
    schedule(c); /* freed once this round is over */
}

static void conn_free(struct ev_conn *c)
{
    free(c->session.state);
    free(c);
}

/* 1 = everything sent, 0 = the socket is full, < 0 = failed. */
static int flush(struct ev_conn *c)
{
    struct ev_buf *b = c->out;
    while (b != NULL && b->tail > b->head) {
        long n = (long)send(c->fd, (const char *)b->data + b->head, b->tail - b->head,
                            SK_MSG_NOSIGNAL | SK_MSG_DONTWAIT);
        if (n < 0) {
            int rc = sk_socket_error();
            if (rc == -EINTR)
                continue;
            return sk_error_would_block(rc) ? 0 : rc;
        }
        b->head += (size_t)n;
        c->bytes_out += (unsigned long long)n;
        c->w->loop->progress++;
    }
    buf_put(c->w, c->out);
    c->out = NULL;
    return 1;
}

/* Hand data to the service; keep what it did not take in c->in. */
static int feed(struct ev_conn *c, const uint8_t *data, size_t len)
{
    struct sk_session *s = &c->session;
    const struct sk_service *svc = c->w->srv->service;
    size_t off = 0;
    while (off < len && !(s->flags & (SK_SESSION_FAILED | SK_SESSION_CLOSE)) && !c->aborted) {
        size_t used = svc->on_data(s, data + off, len - off);
        if (used == 0)
            break;
        off += used;
    }
    if (off == len || (s->flags & (SK_SESSION_FAILED | SK_SESSION_CLOSE)) || c->aborted)
        return off > 0;
    if (c->in == NULL && (c->in = buf_get(c->w)) == NULL) {
        fail(c);
        return 0;
    }
    buf_append(c->w, c->in, data + off, len - off);
    return off > 0;
}

/* Feed what waits in c->in; returns 1 if the service took some.  What it
 * still leaves moves to a fresh buffer (the old one returns to the pool). */
static int feed_pending(struct ev_conn *c)
{
    struct ev_buf *in = c->in;
    c->in = NULL;
    int progress = feed(c, in->data + in->head, in->tail - in->head);
    buf_put(c->w, in);
    return progress;
}

static int can_read(const struct ev_conn *c)
{
    return !c->eof && c->in == NULL && !c->aborted &&
           !(c->session.flags & (SK_SESSION_FAILED | SK_SESSION_CLOSE)) && out_room(c) > 0;
}

static void update_interest(struct ev_conn *c)
{
    int mask;
    if (c->w->edge) {
        mask = SK_EV_READ | SK_EV_WRITE; /* registered once, never changed */
    } else {
        mask = can_read(c) ? SK_EV_READ : SK_EV_NONE;
        if (c->out != NULL || c->file_blocked)
            mask |= SK_EV_WRITE;
        if (mask == SK_EV_NONE && c->shut)
            mask = SK_EV_READ; /* wait for the peer's FIN after ours */
    }
    if (sk_loop_watch(c->w->loop, c->fd, mask, on_conn_event, c) < 0) {
        sk_session_log(&c->session, SK_LOG_WARN, "cannot watch the connection; closing");
        conn_close(c);
    }
}

/* Read one chunk.  Returns 1 on data or EOF, 0 when drained, < 0 on error. */
static int read_some(struct ev_conn *c, int *drained)
{
    struct ev_worker *w = c->w;
    struct sk_session *s = &c->session;
    size_t want = out_room(c);
    if (want > w->bufsize)
        want = w->bufsize;
    long n = (long)recv(c->fd, (char *)w->scratch, want, 0);
    if (n > 0) {
        c->bytes_in += (unsigned long long)n;
        w->loop->progress++;
        activity_touch(c, sk_now_ms());
        if (w->srv->msglog != NULL)
            sk_msglog_write(w->srv->msglog, w->scratch, (size_t)n);
        /* Level-triggered: a short read means the socket is empty; asking
         * again would only cost a system call that says EAGAIN. */
        if (!w->edge && (size_t)n < want)
            *drained = 1;
        feed(c, w->scratch, (size_t)n);
        return 1;
    }
    if (n == 0) {
        c->eof = 1;
        const struct sk_service *svc = w->srv->service;
        if (svc->on_eof)
            svc->on_eof(s);
        else
            sk_session_close(s);
        return 1;
    }
    int rc = sk_socket_error();
    if (rc == -EINTR)
        return 1;
    if (sk_error_would_block(rc)) {
        *drained = 1;
        return 0;
    }
    return rc;
}

static void conn_process(struct ev_conn *c)
{
    struct ev_worker *w = c->w;
    struct sk_session *s = &c->session;
    const struct sk_service *svc = w->srv->service;
    int drained = 0, round;

    c->file_blocked = 0; /* on_writable below finds out again */
    for (round = 0; round < ROUNDS_PER_PROCESS; round++) {
        int progress = 0, rc;
        if (c->closed)
            return;
        if (c->aborted || (s->flags & SK_SESSION_FAILED)) {
            conn_close(c);
            return;
        }
        if (c->out != NULL) {
            size_t before = buf_len(c->out);
            if ((rc = flush(c)) < 0) {
                if (!sk_error_is(rc, ECONNRESET) && !sk_error_is(rc, EPIPE) &&
                    !sk_error_is(rc, ECONNABORTED))
                    sk_session_log(s, SK_LOG_WARN, "send failed: %s", sk_strerror(rc));
                conn_close(c);
                return;
            }
            progress |= buf_len(c->out) != before;
        }
        while ((s->flags & SK_SESSION_WANT_WRITABLE) && c->out == NULL && !c->aborted &&
               !(s->flags & (SK_SESSION_CLOSE | SK_SESSION_FAILED))) {
            size_t before = c->queued;
            svc->on_writable(s);
            if (c->queued == before)
                break;
            progress = 1;
        }
        if (c->in != NULL && out_room(c) > 0)
            progress |= feed_pending(c);
        if (!drained && can_read(c)) {
            rc = read_some(c, &drained);
            if (rc < 0) {
                if (!sk_error_is(rc, ECONNRESET) && !sk_error_is(rc, ECONNABORTED))
                    sk_session_log(s, SK_LOG_WARN, "receive failed: %s", sk_strerror(rc));
                conn_close(c);
                return;
            }
            progress |= rc;
        }
        if (c->out == NULL && !c->aborted) {
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
            if (c->eof && c->in == NULL && !(s->flags & SK_SESSION_WANT_WRITABLE)) {
                conn_close(c);
                return;
            }
        }
        if (!progress)
            break;
    }
    if (round == ROUNDS_PER_PROCESS)
        schedule(c); /* more to do: after the others have had their turn */
    update_interest(c);
}

static void on_conn_event(struct sk_loop *loop, int fd, void *data, int events)
{
    (void)loop, (void)fd, (void)events;
    conn_process(data);
}

static void conn_open(struct ev_worker *w, sk_socket_t fd, const struct sk_addr *peer)
{
    const struct sk_service *svc = w->srv->service;
    struct ev_conn *c = calloc(1, sizeof *c);
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
    c->session.ops = &ev_ops;
    c->session.instance = &w->srv->instance;
    c->session.state = state;
    sk_addr_format((const struct sockaddr *)&peer->ss, c->session.peer,
                   sizeof c->session.peer);
    w->live++;
    atomic_fetch_add(&w->shared->live, 1);
    activity_touch(c, sk_now_ms());
    sk_session_log(&c->session, SK_LOG_INFO, "connected");
    if (svc->on_open)
        svc->on_open(&c->session);
    conn_process(c);
}

/* ---- accepting -------------------------------------------------------- */

static void log_emfile(struct ev_worker *w, int rc)
{
    uint64_t now = sk_now_ms();
    unsigned long long last = atomic_load(&w->shared->last_emfile_log_ms);
    /* Only the loop that moves the shared clock on logs. */
    if (now - last >= 1000 &&
        atomic_compare_exchange_strong(&w->shared->last_emfile_log_ms, &last, now))
        sk_log(&w->srv->cfg->logger, SK_LOG_WARN,
               "out of file descriptors (%s): dropping new connections", sk_err_name(rc));
}

static void on_listener(struct sk_loop *loop, int fd, void *data, int events);

/* nginx's answer when accept() cannot work: stop watching the listener
 * for a moment.  A level-triggered poller would otherwise report it
 * readable at once, and the loop would spin on EMFILE at full CPU. */
static void pause_accepting(struct ev_worker *w)
{
    if (!w->listening || w->accept_resume_ms != 0)
        return;
    sk_loop_watch(w->loop, (int)w->listener, SK_EV_NONE, NULL, NULL);
    w->accept_resume_ms = sk_now_ms() + ACCEPT_PAUSE_MS;
}

/* Watch the listener again and try it at once: edge-triggered pollers
 * (epoll --edge, sigio) report no connection that was already waiting. */
static void resume_accepting(struct ev_worker *w)
{
    w->accept_resume_ms = 0;
    if (!w->listening)
        return;
    if (sk_loop_watch(w->loop, (int)w->listener, SK_EV_READ, on_listener, w) < 0) {
        w->accept_resume_ms = sk_now_ms() + ACCEPT_PAUSE_MS;
        return;
    }
    on_listener(w->loop, (int)w->listener, w, SK_EV_READ);
}

/* libuv's answer to EMFILE: free the spare descriptor, accept and close
 * what waits, take the spare back.  The listener stops being readable, so
 * the loop does not spin, and the existing clients keep being served.
 *
 * With several loops the spare can be lost: the loops share one
 * descriptor table, and another loop's accept() may take the slot this
 * one freed before it reopens its spare.  So a missing spare is reopened
 * here (descriptors may have been freed since), and without one the
 * listener is paused instead of left readable. */
static void drop_waiting_connections(struct ev_worker *w)
{
    if (w->reserve_fd == SK_INVALID_SOCKET)
        w->reserve_fd = sk_spare_open();
    if (w->reserve_fd == SK_INVALID_SOCKET) {
        pause_accepting(w);
        return;
    }
    sk_socket_close(w->reserve_fd);
    w->reserve_fd = SK_INVALID_SOCKET;
    for (;;) {
        sk_socket_t victim;
        if (sk_accept(w->listener, &victim, NULL) < 0)
            break;
        sk_socket_close(victim);
    }
    w->reserve_fd = sk_spare_open();
}

static void stop_listening(struct ev_worker *w)
{
    if (w->listening) {
        if (w->accept_resume_ms == 0) /* a paused listener is unwatched already */
            sk_loop_watch(w->loop, (int)w->listener, SK_EV_NONE, NULL, NULL);
        w->listening = 0;
        w->accept_resume_ms = 0;
    }
}

static void on_listener(struct sk_loop *loop, int fd, void *data, int events)
{
    struct ev_worker *w = data;
    struct sk_server *srv = w->srv;
    long max_clients = srv->cfg->max_clients;
    (void)loop, (void)fd, (void)events;

    for (int i = 0; w->edge || i < ACCEPTS_PER_EVENT; i++) {
        sk_socket_t cfd;
        struct sk_addr peer;
        int rc = sk_accept(w->listener, &cfd, &peer);
        if (rc < 0) {
            if (rc == -EINTR || sk_error_is(rc, ECONNABORTED) || rc == -EPROTO)
                continue;
            if (sk_error_is(rc, EMFILE) || rc == -ENFILE) {
                log_emfile(w, rc);
                drop_waiting_connections(w);
                return;
            }
            if (!sk_error_would_block(rc))
                sk_log(&srv->cfg->logger, SK_LOG_WARN, "accept failed: %s", sk_strerror(rc));
            return;
        }
        long n = atomic_fetch_add(&w->shared->accepted, 1) + 1;
        if (max_clients > 0 && n > max_clients) {
            sk_socket_close(cfd); /* another worker took the last one */
            stop_listening(w);
            return;
        }
        if (sk_socket_set_nonblocking(cfd, 1) < 0) {
            sk_socket_close(cfd);
            continue;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, (const void *)&one, sizeof one);
        if ((int)cfd >= w->loop->setsize) {
            char who[SK_ADDRSTRLEN] = "?";
            sk_addr_format((const struct sockaddr *)&peer.ss, who, sizeof who);
            sk_log(&srv->cfg->logger, SK_LOG_WARN,
                   "%s: refused: descriptor %d is beyond what %s can watch (%d)", who,
                   (int)cfd, w->loop->poller->name, w->loop->setsize);
            sk_socket_close(cfd);
            atomic_fetch_add(&w->shared->refused, 1);
        } else if (!sk_server_admit(srv, cfd, &peer, atomic_load(&w->shared->live))) {
            atomic_fetch_add(&w->shared->refused, 1);
        } else {
            conn_open(w, cfd, &peer);
        }
        if (max_clients > 0 && n == max_clients) {
            stop_listening(w);
            return;
        }
    }
}

static void on_datagrams(struct sk_loop *loop, int fd, void *data, int events)
{
    struct ev_worker *w = data;
    (void)loop, (void)events;
    /* A batch at a time (recvmmsg/sendmmsg where there are).  Level-
     * triggered: a short batch means the socket is empty, and a few
     * batches are enough before the other events get their turn. */
    for (int i = 0; w->edge || i < DATAGRAMS_PER_EVENT / SK_DATAGRAM_BATCH; i++) {
        int got = sk_datagram_serve_batch(w->srv, (sk_socket_t)fd, w->batch);
        if (got <= 0)
            return;
        w->loop->progress++;
        long max = w->srv->cfg->max_clients;
        if (max > 0 && (long)w->srv->stats.datagrams >= max) {
            stop_listening(w);
            return;
        }
        if (!w->edge && got < SK_DATAGRAM_BATCH)
            return;
    }
}

/* ---- the loop --------------------------------------------------------- */

static void run_ready(struct ev_worker *w)
{
    while (w->ready != NULL) {
        struct ev_conn *list = w->ready;
        w->ready = NULL;
        while (list != NULL) {
            struct ev_conn *c = list;
            list = c->ready_next;
            c->in_ready = 0;
            if (c->closed)
                conn_free(c);
            else
                conn_process(c);
        }
        /* Connections processed above may have scheduled themselves again
         * because they have more work: leave those to the next iteration. */
        int more_work = 0;
        for (struct ev_conn *c = w->ready; c != NULL; c = c->ready_next)
            more_work |= !c->closed;
        if (more_work)
            break;
    }
}

static int expire_idle(struct ev_worker *w)
{
    int timeout = STOP_CHECK_MS;
    int idle_ms = w->srv->cfg->idle_timeout_ms;
    if (idle_ms <= 0)
        return timeout;
    uint64_t now = sk_now_ms();
    while (w->oldest != NULL && now - w->oldest->last_input_ms >= (uint64_t)idle_ms) {
        struct ev_conn *c = w->oldest;
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

static int worker_done(struct ev_worker *w)
{
    if (sk_server_stopping(w->srv))
        return 1;
    return !w->listening && w->live == 0 && w->ready == NULL;
}

static void *worker_run(void *arg)
{
    struct ev_worker *w = arg;
    while (!worker_done(w)) {
        int timeout = expire_idle(w);
        if (w->accept_resume_ms != 0) {
            uint64_t now = sk_now_ms();
            if (now >= w->accept_resume_ms)
                resume_accepting(w);
            else if (w->accept_resume_ms - now < (uint64_t)timeout)
                timeout = (int)(w->accept_resume_ms - now);
        }
        if (w->ready != NULL)
            timeout = 0;
        int rc = sk_loop_run_once(w->loop, timeout);
        if (rc < 0 && rc != -EINTR) {
            sk_log(&w->srv->cfg->logger, SK_LOG_ERROR, "%s failed: %s",
                   w->loop->poller->name, sk_strerror(rc));
            break;
        }
        run_ready(w);
    }
    /* Stopping: every connection ends now, services see on_close. */
    while (w->oldest != NULL)
        conn_close(w->oldest);
    run_ready(w);
    return NULL;
}

static int loop_size(void)
{
    long limit = sk_descriptor_limit();
    if (limit <= 0 || limit > (1L << 20))
        limit = 1L << 20;
    return (int)limit;
}

static int worker_init(struct ev_worker *w, struct ev_shared *shared, int index)
{
    struct sk_server *srv = shared->srv;
    memset(w, 0, sizeof *w);
    w->shared = shared;
    w->srv = srv;
    w->edge = (shared->poller->flags & SK_POLLER_EDGE) != 0;
    w->bufsize = srv->buffer_size;
    w->reserve_fd = SK_INVALID_SOCKET;
    w->listener = srv->listener;
    if (index > 0) {
        /* Its own socket on the same port: the kernel spreads connections
         * over the workers, and no two loops ever wake for the same one. */
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
    int rc = sk_socket_set_nonblocking(w->listener, 1);
    if (rc < 0)
        return rc;
    w->scratch = malloc(w->bufsize + 1);
    if (w->scratch == NULL)
        return -ENOMEM;
    if (srv->cfg->udp && (rc = sk_datagram_batch_new(w->bufsize, &w->batch)) < 0)
        return rc;
    w->reserve_fd = sk_spare_open();
    if ((rc = sk_loop_create(shared->poller, loop_size(), &w->loop)) < 0)
        return rc;
    rc = sk_loop_watch(w->loop, (int)w->listener, SK_EV_READ,
                       srv->cfg->udp ? on_datagrams : on_listener, w);
    if (rc < 0)
        return rc;
    w->listening = 1;
    return 0;
}

static void worker_cleanup(struct ev_worker *w)
{
    sk_loop_destroy(w->loop);
    if (w->own_listener)
        sk_socket_close(w->listener);
    if (w->reserve_fd != SK_INVALID_SOCKET)
        sk_socket_close(w->reserve_fd);
    while (w->free_bufs != NULL) {
        struct ev_buf *b = w->free_bufs;
        w->free_bufs = b->next_free;
        free(b);
    }
    free(w->scratch);
    sk_datagram_batch_free(w->batch);
}

int sk_event_serve(struct sk_server *srv, const struct sk_poller *poller)
{
    int nworkers = srv->cfg->workers > 0 ? srv->cfg->workers : 1;
    if (nworkers > 1 && (srv->service->flags & SK_SERVICE_SHARED)) {
        sk_log(&srv->cfg->logger, SK_LOG_INFO,
               "%s runs on one loop so that every session can reach every other",
               srv->service->name);
        nworkers = 1;
    }
    struct ev_shared shared;
    memset(&shared, 0, sizeof shared);
    shared.srv = srv;
    shared.poller = poller;
    struct ev_worker *workers = calloc((size_t)nworkers, sizeof *workers);
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
        srv->why = "cannot start the event loops";
    }
    if (rc != 0 && srv->cfg->stop != NULL)
        *srv->cfg->stop = 1; /* let the started workers end too */
    for (int i = 1; i <= started; i++)
        sk_thread_join(workers[i].thread);
    for (int i = 0; i < nworkers; i++)
        worker_cleanup(&workers[i]);
    free(workers);
    srv->stats.accepted = (unsigned long)atomic_load(&shared.accepted);
    srv->stats.refused += atomic_load(&shared.refused);
    return rc;
}
