/*
 * model_pool.c - a fixed pool of threads fed by a queue (UNP: blocking I/O).
 *
 * The thread model pays for a thread per connection; the pool starts
 * --workers threads once (default 8) and hands them accepted connections
 * through a queue.  A worker serves one connection at a time with the
 * blocking driver, so N workers serve N clients at once and the rest wait
 * in the queue, already accepted.  Queued and served connections together
 * are bounded by --max-conns.
 */
#include "sk_blocking.h"
#include "sk_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WORKERS 8

struct job {
    struct job *next;
    sk_socket_t fd;
    struct sk_addr peer;
};

struct pool {
    struct sk_server *srv;
    sk_mutex_t *lock;
    sk_cond_t *ready;              /* a job was queued, or stopping */
    struct job *head, *tail;
    long queued;
    long busy;
    int stopping;                  /* under lock: workers leave */
    struct sk_blocking_conn **live; /* per worker, for abort on stop */
};

struct worker_arg {
    struct pool *pool;
    int index;
};

static void on_start(void *ctx, struct sk_blocking_conn *conn)
{
    struct worker_arg *a = ctx;
    sk_mutex_lock(a->pool->lock);
    a->pool->live[a->index] = conn;
    if (a->pool->stopping)
        sk_blocking_abort(conn);
    sk_mutex_unlock(a->pool->lock);
}

static void on_end(void *ctx, struct sk_blocking_conn *conn)
{
    struct worker_arg *a = ctx;
    (void)conn;
    sk_mutex_lock(a->pool->lock);
    a->pool->live[a->index] = NULL;
    sk_mutex_unlock(a->pool->lock);
}

static void *worker_main(void *arg)
{
    struct worker_arg *a = arg;
    struct pool *p = a->pool;
    struct sk_blocking_hooks hooks = { 1, on_start, on_end, a };
    for (;;) {
        sk_mutex_lock(p->lock);
        while (p->head == NULL && !p->stopping)
            sk_cond_wait(p->ready, p->lock);
        if (p->stopping) {
            sk_mutex_unlock(p->lock);
            return NULL;
        }
        struct job *j = p->head;
        p->head = j->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->queued--;
        p->busy++;
        sk_mutex_unlock(p->lock);

        sk_blocking_serve(p->srv, j->fd, &j->peer, &hooks);
        sk_server_leave(p->srv, &j->peer);
        free(j);

        sk_mutex_lock(p->lock);
        p->busy--;
        sk_cond_broadcast(p->ready); /* the accept loop may wait for idle */
        sk_mutex_unlock(p->lock);
    }
}

static int enqueue(struct pool *p, sk_socket_t fd, const struct sk_addr *peer)
{
    struct job *j = malloc(sizeof *j);
    if (j == NULL)
        return -ENOMEM;
    j->next = NULL;
    j->fd = fd;
    j->peer = *peer;
    sk_mutex_lock(p->lock);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    sk_cond_signal(p->ready);
    sk_mutex_unlock(p->lock);
    return 0;
}

static long in_flight(struct pool *p)
{
    sk_mutex_lock(p->lock);
    long n = p->queued + p->busy;
    sk_mutex_unlock(p->lock);
    return n;
}

static void accept_loop(struct pool *p)
{
    struct sk_server *srv = p->srv;
    long max = srv->cfg->max_clients;
    for (long served = 0; max <= 0 || served < max;) {
        sk_socket_t fd;
        struct sk_addr peer;
        int rc = sk_server_accept(srv, &fd, &peer);
        if (rc == -ECANCELED)
            return;
        if (rc == -EINTR)
            continue;
        if (rc < 0) {
            sk_log(&srv->cfg->logger, SK_LOG_ERROR, "accept failed: %s", sk_strerror(rc));
            sk_sleep_ms(100);
            continue;
        }
        if (!sk_server_admit(srv, fd, &peer, in_flight(p))) {
            srv->stats.refused++;
            continue;
        }
        if (enqueue(p, fd, &peer) < 0) {
            sk_server_leave(srv, &peer);
            sk_socket_close(fd);
            continue;
        }
        served++;
    }
    /* --max-clients reached: let the queue drain and the workers finish. */
    while (!sk_server_stopping(srv) && in_flight(p) > 0) {
        sk_mutex_lock(p->lock);
        if (p->queued + p->busy > 0)
            sk_cond_wait(p->ready, p->lock);
        sk_mutex_unlock(p->lock);
    }
}

static int pool_run(struct sk_server *srv)
{
    int nworkers = srv->cfg->workers > 0 ? srv->cfg->workers : DEFAULT_WORKERS;
    struct pool p;
    memset(&p, 0, sizeof p);
    p.srv = srv;
    p.lock = sk_mutex_new();
    p.ready = sk_cond_new();
    p.live = calloc((size_t)nworkers, sizeof *p.live);
    struct worker_arg *args = calloc((size_t)nworkers, sizeof *args);
    sk_thread_t *threads = calloc((size_t)nworkers, sizeof *threads);
    int rc = 0, started = 0;
    if (p.lock == NULL || p.ready == NULL || p.live == NULL || args == NULL || threads == NULL)
        rc = -ENOMEM;
    for (int i = 0; i < nworkers && rc == 0; i++) {
        args[i].pool = &p;
        args[i].index = i;
        if ((rc = sk_thread_start(&threads[i], worker_main, &args[i])) == 0)
            started++;
    }
    if (rc == 0) {
        sk_server_ready(srv);
        accept_loop(&p);
    } else {
        srv->why = "cannot start the pool";
    }

    if (p.lock != NULL) {
        sk_mutex_lock(p.lock);
        p.stopping = 1;
        for (int i = 0; i < nworkers; i++)
            if (p.live && p.live[i])
                sk_blocking_abort(p.live[i]);
        if (p.ready)
            sk_cond_broadcast(p.ready);
        sk_mutex_unlock(p.lock);
    }
    for (int i = 0; i < started; i++)
        sk_thread_join(threads[i]);
    while (p.head != NULL) { /* accepted but never served */
        struct job *j = p.head;
        p.head = j->next;
        sk_socket_close(j->fd);
        free(j);
    }
    sk_cond_free(p.ready);
    sk_mutex_free(p.lock);
    free(p.live);
    free(args);
    free(threads);
    return rc;
}

const struct sk_model sk_model_pool = {
    .name = "pool",
    .io_model = "blocking",
    .summary = "a fixed pool of threads (--workers, default 8) fed by a queue",
    .flags = SK_MODEL_TCP | SK_MODEL_SHARED | SK_MODEL_WORKERS,
    .probe = NULL,
    .run = pool_run,
};
