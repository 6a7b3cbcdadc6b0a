/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * model_thread.c - a thread per connection (UNP: blocking I/O).
 *
 * Each accepted connection gets a detached thread running the blocking
 * driver.  The live connections sit on a list behind one mutex so that
 * stopping the server can wake each of them (shutdown() makes a blocked
 * recv() return), and so that --max-conns can be enforced.  Services
 * with shared state (chat) do their own locking; the driver locks each
 * connection's writes because other threads post to it.
 */
#include "sk_accept_loop.h"
#include "sk_blocking.h"
#include "sk_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct thread_model;

struct worker {
    struct worker *prev, *next;
    struct thread_model *model;
    struct sk__blocking_conn *conn; /* set while serving, under the lock */
    sk_socket_t fd;
    struct sk_addr peer;
};

struct thread_model {
    struct sk_server *srv;
    sk__mutex_t *lock;
    struct worker *head;
    long live;
};

static void on_start(void *ctx, struct sk__blocking_conn *conn)
{
    struct worker *w = ctx;
    sk__mutex_lock(w->model->lock);
    w->conn = conn;
    /* A stop that came between accept and now would have missed us. */
    if (sk__server_stopping(w->model->srv))
        sk__blocking_abort(conn);
    sk__mutex_unlock(w->model->lock);
}

static void on_end(void *ctx, struct sk__blocking_conn *conn)
{
    struct worker *w = ctx;
    (void)conn;
    sk__mutex_lock(w->model->lock);
    w->conn = NULL;
    sk__mutex_unlock(w->model->lock);
}

/* Take w off the live list and free it. */
static void worker_forget(struct thread_model *m, struct worker *w)
{
    sk__mutex_lock(m->lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        m->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    m->live--;
    sk__mutex_unlock(m->lock);
    free(w);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct thread_model *m = w->model;
    struct sk__blocking_hooks hooks = { 1, on_start, on_end, w };
    sk__blocking_serve(m->srv, w->fd, &w->peer, &hooks);
    sk__server_leave(m->srv, &w->peer);

    worker_forget(m, w);
    return NULL;
}

static long live_count(void *ctx)
{
    struct thread_model *m = ctx;
    sk__mutex_lock(m->lock);
    long n = m->live;
    sk__mutex_unlock(m->lock);
    return n;
}

static int start_worker(void *ctx, sk_socket_t fd, const struct sk_addr *peer)
{
    struct thread_model *m = ctx;
    struct worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    w->model = m;
    w->fd = fd;
    w->peer = *peer;
    sk__mutex_lock(m->lock);
    w->next = m->head;
    if (m->head)
        m->head->prev = w;
    m->head = w;
    m->live++;
    sk__mutex_unlock(m->lock);

    int rc = sk__thread_start_detached(worker_main, w);
    if (rc < 0)
        worker_forget(m, w);
    return rc;
}

static int thread_run(struct sk_server *srv)
{
    struct thread_model m = { srv, sk__mutex_new(), NULL, 0 };
    if (m.lock == NULL)
        return -ENOMEM;
    struct sk__accept_ops ops = {
        .live = live_count,
        .take = start_worker,
        .take_failed = "cannot start a thread",
        .ctx = &m,
    };
    int rc = sk__accept_loop(srv, &ops);

    /* Stopping: wake every connection; after --max-clients, let them end. */
    if (sk__server_stopping(srv)) {
        sk__mutex_lock(m.lock);
        for (struct worker *w = m.head; w != NULL; w = w->next)
            if (w->conn != NULL)
                sk__blocking_abort(w->conn);
        sk__mutex_unlock(m.lock);
    }
    while (live_count(&m) > 0)
        sk__sleep_ms(5);
    sk__mutex_free(m.lock);
    return rc;
}

const struct sk_model sk__model_thread = {
    .name = "thread",
    .io_model = "blocking",
    .summary = "a thread per connection; shared state behind a mutex",
    .flags = SK_MODEL_TCP | SK_MODEL_SHARED,
    .probe = NULL,
    .run = thread_run,
};
