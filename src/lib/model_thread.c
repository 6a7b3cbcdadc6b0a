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
#include "sk_blocking.h"
#include "sk_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct thread_model;

struct worker {
    struct worker *prev, *next;
    struct thread_model *model;
    struct sk_blocking_conn *conn; /* set while serving, under the lock */
    sk_socket_t fd;
    struct sk_addr peer;
};

struct thread_model {
    struct sk_server *srv;
    sk_mutex_t *lock;
    struct worker *head;
    long live;
};

static void on_start(void *ctx, struct sk_blocking_conn *conn)
{
    struct worker *w = ctx;
    sk_mutex_lock(w->model->lock);
    w->conn = conn;
    /* A stop that came between accept and now would have missed us. */
    if (sk_server_stopping(w->model->srv))
        sk_blocking_abort(conn);
    sk_mutex_unlock(w->model->lock);
}

static void on_end(void *ctx, struct sk_blocking_conn *conn)
{
    struct worker *w = ctx;
    (void)conn;
    sk_mutex_lock(w->model->lock);
    w->conn = NULL;
    sk_mutex_unlock(w->model->lock);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct thread_model *m = w->model;
    struct sk_blocking_hooks hooks = { 1, on_start, on_end, w };
    sk_blocking_serve(m->srv, w->fd, &w->peer, &hooks);
    sk_server_leave(m->srv, &w->peer);

    sk_mutex_lock(m->lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        m->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    m->live--;
    sk_mutex_unlock(m->lock);
    free(w);
    return NULL;
}

static long live_count(struct thread_model *m)
{
    sk_mutex_lock(m->lock);
    long n = m->live;
    sk_mutex_unlock(m->lock);
    return n;
}

static int start_worker(struct thread_model *m, sk_socket_t fd, const struct sk_addr *peer)
{
    struct worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    w->model = m;
    w->fd = fd;
    w->peer = *peer;
    sk_mutex_lock(m->lock);
    w->next = m->head;
    if (m->head)
        m->head->prev = w;
    m->head = w;
    m->live++;
    sk_mutex_unlock(m->lock);

    int rc = sk_thread_start_detached(worker_main, w);
    if (rc < 0) {
        sk_mutex_lock(m->lock);
        if (w->prev)
            w->prev->next = w->next;
        else
            m->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        m->live--;
        sk_mutex_unlock(m->lock);
        free(w);
    }
    return rc;
}

static int thread_run(struct sk_server *srv)
{
    struct thread_model m = { srv, sk_mutex_new(), NULL, 0 };
    if (m.lock == NULL)
        return -ENOMEM;
    long max = srv->cfg->max_clients;
    for (long served = 0; max <= 0 || served < max;) {
        sk_socket_t fd;
        struct sk_addr peer;
        int rc = sk_server_accept(srv, &fd, &peer);
        if (rc == -ECANCELED)
            break;
        if (rc == -EINTR)
            continue;
        if (rc < 0) {
            sk_log(&srv->cfg->logger, SK_LOG_ERROR, "accept failed: %s", sk_strerror(rc));
            sk_sleep_ms(100);
            continue;
        }
        if (!sk_server_admit(srv, fd, &peer, live_count(&m))) {
            srv->stats.refused++;
            continue;
        }
        if ((rc = start_worker(&m, fd, &peer)) < 0) {
            sk_log(&srv->cfg->logger, SK_LOG_ERROR, "cannot start a thread: %s",
                   sk_strerror(rc));
            sk_server_leave(srv, &peer);
            sk_socket_close(fd);
            sk_sleep_ms(100);
            continue;
        }
        served++;
    }

    /* Stopping: wake every connection; after --max-clients, let them end. */
    if (sk_server_stopping(srv)) {
        sk_mutex_lock(m.lock);
        for (struct worker *w = m.head; w != NULL; w = w->next)
            if (w->conn != NULL)
                sk_blocking_abort(w->conn);
        sk_mutex_unlock(m.lock);
    }
    while (live_count(&m) > 0)
        sk_sleep_ms(5);
    sk_mutex_free(m.lock);
    return 0;
}

const struct sk_model sk_model_thread = {
    .name = "thread",
    .io_model = "blocking",
    .summary = "a thread per connection; shared state behind a mutex",
    .flags = SK_MODEL_TCP | SK_MODEL_SHARED,
    .probe = NULL,
    .run = thread_run,
};
