/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_worker.c - the workers of the connection core: accepting (with the
 * limits and libuv's EMFILE answer), datagrams, timers, the loop each
 * worker runs, and starting and stopping them (sk_conn.h).
 *
 * Each worker is one thread that owns a listener (worker 0 the server's,
 * the others their own on SO_REUSEPORT, or none when the backend has
 * worker 0 accept for all: IOCP), its backend's state and the
 * connections it accepted; worker 0 runs on the calling thread, which
 * receives the stop signals.  A server says it is listening only once
 * every worker is set up.
 */
#include "sk_conn.h"
#include "sk_error.h"
#include "sk_sock.h"
#include "sk_trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STOP_CHECK_MS 250   /* workers without signals look this often */
#define ACCEPT_PAUSE_MS 100 /* out of descriptors with no spare: wait this long */
#define DRAIN_MS 1000       /* at stop: how long cancels may take */

/* ---- accepting -------------------------------------------------------- */

void sk__worker_stop_listening(struct sk__worker *w)
{
    if (!w->listening)
        return;
    if (w->accept_resume_ms == 0) /* a paused listener is unwatched already */
        w->shared->be->listen(w, 0);
    w->listening = 0;
    w->accept_resume_ms = 0;
}

/* nginx's answer when accept() cannot work: stop watching the listener
 * for a moment, rather than have it reported ready again at once. */
void sk__worker_pause_accepting(struct sk__worker *w)
{
    if (!w->listening || w->accept_resume_ms != 0)
        return;
    w->shared->be->listen(w, 0);
    w->accept_resume_ms = sk_now_ms() + ACCEPT_PAUSE_MS;
}

static void log_emfile(struct sk__worker *w, int rc)
{
    uint64_t now = sk_now_ms();
    unsigned long long last = atomic_load(&w->shared->last_emfile_log_ms);
    /* Only the worker that moves the shared clock on logs. */
    if (now - last >= 1000 &&
        atomic_compare_exchange_strong(&w->shared->last_emfile_log_ms, &last, now))
        sk_log(&w->srv->cfg->logger, SK_LOG_WARN,
               "out of file descriptors (%s): dropping new connections", sk_err_name(rc));
}

/* libuv's answer to EMFILE: free the spare descriptor, accept and close
 * what waits now, take the spare back.  Only what waits at this moment is
 * dropped (each accept is preceded by a zero-timeout wait), so the first
 * client after the flood is served, not reset.  The workers share one
 * descriptor table, and another may take the slot freed here before the
 * spare is reopened: a missing spare is reopened first, and without one
 * the listener is paused instead of left ready. */
static void drop_waiting_connections(struct sk__worker *w)
{
    if (w->reserve_fd == SK_INVALID_SOCKET)
        w->reserve_fd = sk__spare_open();
    if (w->reserve_fd == SK_INVALID_SOCKET) {
        sk__worker_pause_accepting(w);
        return;
    }
    sk_socket_close(w->reserve_fd);
    w->reserve_fd = SK_INVALID_SOCKET;
    sk_socket_t victim;
    while (sk__socket_wait(w->listener, SK_WAIT_READ, 0) > 0 &&
           sk_accept(w->listener, &victim, NULL) == 0)
        sk__close_traced(victim);
    w->reserve_fd = sk__spare_open();
}

void sk__worker_accept_failed(struct sk__worker *w, int rc)
{
    if (rc == -EINTR || rc == -EPROTO || sk_error_is(rc, ECONNABORTED) ||
        sk__error_would_block(rc) || rc == -ECANCELED)
        return;
    if (sk_error_is(rc, EMFILE) || rc == -ENFILE) {
        log_emfile(w, rc);
        drop_waiting_connections(w);
        return;
    }
    sk_log(&w->srv->cfg->logger, SK_LOG_WARN, "accept failed: %s", sk_strerror(rc));
    sk__worker_pause_accepting(w);
}

void sk__worker_accepted(struct sk__worker *w, sk_socket_t fd, const struct sk_addr *peer)
{
    struct sk_server *srv = w->srv;
    long max_clients = srv->cfg->max_clients;
    if (w->stopping || !w->listening) {
        sk__close_traced(fd);
        return;
    }
    long n = atomic_fetch_add(&w->shared->accepted, 1) + 1;
    if (max_clients > 0 && n > max_clients) {
        sk__close_traced(fd); /* another worker took the last one */
        sk__worker_stop_listening(w);
        return;
    }
    sk__server_set_nodelay(srv, fd);
    if (w->fd_limit > 0 && (int)fd >= w->fd_limit) {
        char who[SK_ADDRSTRLEN] = "?";
        sk_addr_format((const struct sockaddr *)&peer->ss, who, sizeof who);
        sk_log(&srv->cfg->logger, SK_LOG_WARN,
               "%s: refused: descriptor %d is beyond what %s can watch (%d)", who, (int)fd,
               srv->model->name, w->fd_limit);
        sk__close_traced(fd);
        atomic_fetch_add(&w->shared->refused, 1);
    } else if (!sk__server_admit(srv, fd, peer, atomic_load(&w->shared->live))) {
        atomic_fetch_add(&w->shared->refused, 1);
    } else {
        sk__conn_open(w, fd, peer);
    }
    if (max_clients > 0 && n == max_clients)
        sk__worker_stop_listening(w);
}

void sk__worker_accept_ready(struct sk__worker *w, int max)
{
    for (int i = 0; w->listening && w->accept_resume_ms == 0 && (max == 0 || i < max); i++) {
        sk_socket_t fd;
        struct sk_addr peer;
        int rc = sk_accept(w->listener, &fd, &peer);
        if (rc == 0) {
            sk__worker_accepted(w, fd, &peer);
            continue;
        }
        if (rc == -EINTR || rc == -EPROTO || sk_error_is(rc, ECONNABORTED))
            continue;
        sk__worker_accept_failed(w, rc);
        return;
    }
}

int sk__worker_datagrams(struct sk__worker *w, int batches)
{
    long max = w->srv->cfg->max_clients;
    for (int i = 0; i < batches; i++) {
        if (!w->listening)
            return 0;
        int got = sk__datagram_serve_batch(w->srv, w->listener, w->batch);
        if (got <= 0)
            return 0;
        if (max > 0 && (long)w->srv->stats.datagrams >= max) {
            sk__worker_stop_listening(w);
            return 0;
        }
        if (got < SK_DATAGRAM_BATCH)
            return 0; /* a short batch: the socket is empty */
    }
    return 1;
}

/* ---- the loop --------------------------------------------------------- */

/* --trace=tcp: every connection's TCP_INFO once a second; when next. */
static uint64_t trace_tcp_samples(struct sk__worker *w)
{
    if (w->now_ms - w->traced_tcp_ms >= SK_TRACE_TCP_PERIOD_MS) {
        w->traced_tcp_ms = w->now_ms;
        for (struct sk__conn *c = w->all; c != NULL; c = c->all_next)
            if (!c->closed && c->fd != SK_INVALID_SOCKET)
                sk__trace_tcp(c->fd, "every second");
    }
    return w->traced_tcp_ms + SK_TRACE_TCP_PERIOD_MS;
}

/* Idle timeouts, stalled readers, a paused listener: what is due now, and
 * how long the worker may wait for the next. */
static int run_timers(struct sk__worker *w)
{
    uint64_t next = w->now_ms + STOP_CHECK_MS;
    if (SK_TRACING() && (sk__trace_flags & SK_TRACE_TCP)) {
        uint64_t due = trace_tcp_samples(w);
        if (due < next)
            next = due;
    }
    int idle_ms = w->srv->cfg->idle_timeout_ms;
    if (idle_ms > 0) {
        uint64_t due = sk__conn_expire_idle(w, idle_ms);
        if (due < next)
            next = due;
    }
    /* Another worker served the last of --max-clients: this one is done
     * accepting too, or it would keep the server waiting for it. */
    long max_clients = w->srv->cfg->max_clients;
    if (w->listening && max_clients > 0 && atomic_load(&w->shared->accepted) >= max_clients &&
        !w->srv->cfg->udp)
        sk__worker_stop_listening(w);
    /* Services set deadlines without telling the worker: look every
     * STOP_CHECK_MS, and exactly when the nearest one is due. */
    if (w->now_ms >= w->deadline_check_ms) {
        uint64_t due = sk__conn_expire_deadlines(w);
        w->deadline_check_ms = due < w->now_ms + STOP_CHECK_MS ? due : w->now_ms + STOP_CHECK_MS;
    }
    if (w->deadline_check_ms < next)
        next = w->deadline_check_ms;
    if (w->backlogged > 0) { /* posts wait somewhere: is anybody stalled? */
        uint64_t stall = sk__conn_drop_stalled(w);
        if (stall < next)
            next = stall;
    }
    if (w->accept_resume_ms != 0) {
        if (w->now_ms >= w->accept_resume_ms) {
            w->accept_resume_ms = 0;
            if (w->listening)
                w->shared->be->listen(w, 1);
        } else if (w->accept_resume_ms < next) {
            next = w->accept_resume_ms;
        }
    }
    if (w->ready != NULL)
        return 0;
    return next > w->now_ms ? (int)(next - w->now_ms) : 0;
}

static int worker_done(struct sk__worker *w)
{
    if (atomic_load(&w->shared->failed) != 0 || sk__server_stopping(w->srv))
        return 1;
    return !w->listening && w->live == 0 && w->ready == NULL;
}

/* Every worker set up, or one failed: then worker 0 says "listening". */
static int barrier(struct sk__worker *w, int rc)
{
    struct sk__workers *sh = w->shared;
    if (rc < 0) {
        int expected = 0;
        atomic_compare_exchange_strong(&sh->failed, &expected, rc);
    }
    sk__mutex_lock(sh->lock);
    sh->started++;
    sk__cond_broadcast(sh->cond);
    while (sh->started < sh->count && atomic_load(&sh->failed) == 0)
        sk__cond_wait(sh->cond, sh->lock);
    sk__mutex_unlock(sh->lock);
    return atomic_load(&sh->failed);
}

static void *worker_main(void *arg)
{
    struct sk__worker *w = arg;
    const struct sk__conn_backend *be = w->shared->be;
    int rc = be->worker_init(w);
    if (barrier(w, rc) != 0)
        return NULL;
    if (w->index == 0)
        sk__server_ready(w->srv);
    w->now_ms = sk_now_ms();
    w->listening = 1;
    be->listen(w, 1);
    while (!worker_done(w)) {
        int timeout = run_timers(w);
        rc = be->wait(w, timeout);
        w->now_ms = sk_now_ms();
        if (rc < 0 && rc != -EINTR) {
            sk_log(&w->srv->cfg->logger, SK_LOG_ERROR, "%s failed: %s", be->name,
                   sk_strerror(rc));
            int expected = 0;
            atomic_compare_exchange_strong(&w->shared->failed, &expected, rc);
            break;
        }
        sk__conn_run_ready(w);
    }
    /* Stopping: every connection ends now, services see on_close. */
    w->stopping = 1;
    sk__worker_stop_listening(w);
    while (w->oldest != NULL)
        sk__conn_close(w->oldest);
    sk__conn_run_ready(w);
    if (be->drain != NULL)
        be->drain(w, DRAIN_MS);
    sk__conn_run_ready(w);
    return NULL;
}

/* The worker's listener: worker 0 uses the server's; the others bind
 * their own with SO_REUSEPORT, so the kernel spreads connections over
 * them and no two workers ever wake for the same one. */
static int worker_prepare(struct sk__worker *w, struct sk__workers *sh, int index)
{
    struct sk_server *srv = sh->srv;
    w->shared = sh;
    w->srv = srv;
    w->index = index;
    w->bufsize = srv->buffer_size;
    w->reserve_fd = SK_INVALID_SOCKET;
    w->listener = srv->listener;
    /* A Unix socket's path has one listener, which every loop shares. */
    if (index > 0 && !sh->be->one_acceptor && srv->port >= 0) {
        char port[16], host[SK_ADDRSTRLEN];
        snprintf(port, sizeof port, "%d", srv->port);
        const char *reuse[] = { "reuseport=on" };
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
        int rc = sk__datagram_batch_new(w->bufsize, &w->batch);
        if (rc < 0)
            return rc;
    }
    w->reserve_fd = sk__spare_open();
    return 0;
}

static void worker_cleanup(struct sk__worker *w)
{
    if (w->shared->be->worker_cleanup != NULL)
        w->shared->be->worker_cleanup(w);
    sk__conn_free_all(w); /* what the backend gave up on */
    if (w->own_listener)
        sk_socket_close(w->listener);
    if (w->reserve_fd != SK_INVALID_SOCKET)
        sk_socket_close(w->reserve_fd);
    sk__datagram_batch_free(w->batch);
}

int sk__conn_serve(struct sk_server *srv, const struct sk__conn_backend *be, const void *arg)
{
    int n = srv->cfg->workers, shared = (srv->service->flags & SK_SERVICE_SHARED) != 0;
    if (n > 1 && shared) {
        sk_log(&srv->cfg->logger, SK_LOG_INFO,
               "%s runs on one loop so that every session can reach every other",
               srv->service->name);
        n = 1;
    }
    if (n <= 0)
        n = shared || be->default_workers == NULL ? 1 : be->default_workers();
    struct sk__workers sh;
    memset(&sh, 0, sizeof sh);
    sh.srv = srv;
    sh.be = be;
    sh.arg = arg;
    sh.count = n;
    sh.lock = sk__mutex_new();
    sh.cond = sk__cond_new();
    struct sk__worker **ws = calloc((size_t)n, sizeof *ws);
    sh.all = ws;
    int rc = sh.lock && sh.cond && ws ? 0 : -ENOMEM;
    int prepared = 0, started = 0;
    for (; rc == 0 && prepared < n; prepared++) {
        if ((ws[prepared] = calloc(1, be->worker_size)) == NULL)
            rc = -ENOMEM;
        else
            rc = worker_prepare(ws[prepared], &sh, prepared);
    }
    /* Workers 1..N-1 on threads; worker 0 on this thread, which receives
     * the stop signals and so wakes at once. */
    for (int i = 1; i < n && rc == 0; i++, started++)
        rc = sk__thread_start(&ws[i]->thread, worker_main, ws[i]);
    if (rc == 0) {
        worker_main(ws[0]);
        rc = atomic_load(&sh.failed);
    } else if (sh.lock != NULL && sh.cond != NULL) {
        int expected = 0;
        atomic_compare_exchange_strong(&sh.failed, &expected, rc);
        sk__mutex_lock(sh.lock);
        sk__cond_broadcast(sh.cond); /* the started workers stop too */
        sk__mutex_unlock(sh.lock);
    }
    if (rc != 0 && srv->why == NULL)
        srv->why = "cannot start the event loops";
    for (int i = 1; i <= started; i++)
        sk__thread_join(ws[i]->thread);
    for (int i = 0; i < prepared; i++) {
        if (ws[i] != NULL)
            worker_cleanup(ws[i]);
        free(ws[i]);
    }
    free(ws);
    if (sh.cond)
        sk__cond_free(sh.cond);
    if (sh.lock)
        sk__mutex_free(sh.lock);
    srv->stats.accepted = (unsigned long)atomic_load(&sh.accepted);
    srv->stats.refused += atomic_load(&sh.refused);
    return rc;
}
