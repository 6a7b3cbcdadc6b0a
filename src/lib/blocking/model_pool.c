/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * model_pool.c - a fixed pool of threads fed by a queue (UNP: blocking I/O).
 *
 * The thread model pays for a thread per connection; the pool starts
 * --workers threads once (default 8) and hands them accepted connections
 * through a queue.  A worker serves one connection at a time with the
 * blocking driver, so N workers serve N clients at once and the rest wait
 * in the queue, already accepted.  Queued and served connections together
 * are bounded by --max-conns.
 *
 * What it promises under slow clients: a new client is served, or told
 * "ERR server busy" and closed, within QUEUE_WAIT_MS; it never waits for
 * ever.  N slow clients (a byte every few seconds, never quite idle) hold
 * N workers for as long as they keep moving bytes, and nothing can take a
 * worker back from a client that is not breaking any rule; what the pool
 * can do is not keep the next client waiting without an answer.  So the
 * queue is bounded twice: a connection that arrives when QUEUE_PER_WORKER
 * x workers are already queued is refused at once (enqueue), and one that
 * has waited QUEUE_WAIT_MS is refused by the keeper thread, which sleeps
 * until the oldest queued connection's time is up.  A stalled client (no
 * byte either way) is cut at --idle-timeout like on every blocking model;
 * there is no default, because a chat member may rightly sit quiet.
 */
#include "sk_accept_loop.h"
#include "sk_trace.h"
#include "sk_blocking.h"
#include "sk_error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WORKERS 8
#define QUEUE_WAIT_MS 2000   /* longest a connection waits for a worker */
#define QUEUE_PER_WORKER 64  /* queued connections per worker, at most */

struct job {
    struct job *next;
    sk_socket_t fd;
    struct sk_addr peer;
    uint64_t queued_ms;            /* sk_now_ms() when it was queued */
};

struct pool {
    struct sk_server *srv;
    sk__mutex_t *lock;
    sk__cond_t *ready;              /* a job was queued, or stopping */
    sk__cond_t *keeper_wake;        /* the queue was empty and is not, or stopping */
    struct job *head, *tail;       /* oldest first */
    long queued, queue_cap;
    long busy;
    unsigned long refused_busy;    /* under lock; into stats.refused at the end */
    int stopping;                  /* under lock: workers leave */
    struct sk__blocking_conn **live; /* per worker, for abort on stop */
};

struct worker_arg {
    struct pool *pool;
    int index;
};

static void on_start(void *ctx, struct sk__blocking_conn *conn)
{
    struct worker_arg *a = ctx;
    sk__mutex_lock(a->pool->lock);
    a->pool->live[a->index] = conn;
    if (a->pool->stopping)
        sk__blocking_abort(conn);
    sk__mutex_unlock(a->pool->lock);
}

static void on_end(void *ctx, struct sk__blocking_conn *conn)
{
    struct worker_arg *a = ctx;
    (void)conn;
    sk__mutex_lock(a->pool->lock);
    a->pool->live[a->index] = NULL;
    sk__mutex_unlock(a->pool->lock);
}

static void *worker_main(void *arg)
{
    struct worker_arg *a = arg;
    struct pool *p = a->pool;
    struct sk__blocking_hooks hooks = { 1, on_start, on_end, a };
    for (;;) {
        sk__mutex_lock(p->lock);
        while (p->head == NULL && !p->stopping)
            sk__cond_wait(p->ready, p->lock);
        if (p->stopping) {
            sk__mutex_unlock(p->lock);
            return NULL;
        }
        struct job *j = p->head;
        p->head = j->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->queued--;
        p->busy++;
        sk__mutex_unlock(p->lock);

        sk__blocking_serve(p->srv, j->fd, &j->peer, &hooks);
        sk__server_leave(p->srv, &j->peer);
        free(j);

        sk__mutex_lock(p->lock);
        p->busy--;
        sk__cond_broadcast(p->ready); /* the accept loop may wait for idle */
        sk__mutex_unlock(p->lock);
    }
}

/* Answer a connection that no worker will take in time: one busy line. */
static void refuse_busy(struct pool *p, struct job *j, const char *why)
{
    sk__server_refuse_busy(p->srv, j->fd, &j->peer, why);
    sk__server_leave(p->srv, &j->peer);
    free(j);
}

/* Queue an admitted connection for the workers.  SK_ACCEPT_TAKEN: queued;
 * SK_ACCEPT_REFUSED: the queue is full, and the peer got the busy line (fd
 * closed; the accept loop releases its slot); -ENOMEM: nothing done, the
 * caller still owns fd. */
static int enqueue(struct pool *p, sk_socket_t fd, const struct sk_addr *peer)
{
    struct job *j = malloc(sizeof *j);
    if (j == NULL)
        return -ENOMEM;
    j->next = NULL;
    j->fd = fd;
    j->peer = *peer;
    j->queued_ms = sk_now_ms();
    sk__mutex_lock(p->lock);
    if (p->queued >= p->queue_cap) {
        sk__mutex_unlock(p->lock); /* the accept loop counts this refusal */
        char why[96];
        snprintf(why, sizeof why, "every worker busy and %ld connections queued",
                 p->queue_cap);
        /* The shared accept loop releases the peer's slot itself. */
        sk__server_refuse_busy(p->srv, j->fd, &j->peer, why);
        free(j);
        return SK_ACCEPT_REFUSED;
    }
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    if (++p->queued == 1)
        sk__cond_signal(p->keeper_wake); /* the keeper sleeps on an empty queue */
    sk__cond_signal(p->ready);
    sk__mutex_unlock(p->lock);
    return 0;
}

/* Unlink the queued jobs that have waited QUEUE_WAIT_MS (under lock). */
static struct job *take_expired(struct pool *p, uint64_t now)
{
    struct job *expired = NULL, **last = &expired;
    while (p->head != NULL && now - p->head->queued_ms >= QUEUE_WAIT_MS) {
        struct job *j = p->head;
        p->head = j->next;
        j->next = NULL;
        *last = j;
        last = &j->next;
        p->queued--;
        p->refused_busy++;
    }
    if (p->head == NULL)
        p->tail = NULL;
    return expired;
}

/* The keeper: with every worker held by slow clients nothing else would
 * ever answer the queue, so it refuses each connection whose wait is up.
 * Jobs are queued in time order, so the head is the next one due. */
static void *keeper_main(void *arg)
{
    struct pool *p = arg;
    sk__mutex_lock(p->lock);
    while (!p->stopping) {
        uint64_t now = sk_now_ms();
        struct job *expired = take_expired(p, now);
        if (expired != NULL) {
            sk__cond_broadcast(p->ready); /* the accept loop may wait for an empty pool */
            sk__mutex_unlock(p->lock);
            char why[64];
            snprintf(why, sizeof why, "every worker busy for %d ms", QUEUE_WAIT_MS);
            while (expired != NULL) {
                struct job *next = expired->next;
                refuse_busy(p, expired, why);
                expired = next;
            }
            sk__mutex_lock(p->lock);
        } else if (p->head == NULL) {
            sk__cond_wait(p->keeper_wake, p->lock);
        } else {
            sk__cond_wait_ms(p->keeper_wake, p->lock,
                            (int)(p->head->queued_ms + QUEUE_WAIT_MS - now));
        }
    }
    sk__mutex_unlock(p->lock);
    return NULL;
}

static long in_flight(struct pool *p)
{
    sk__mutex_lock(p->lock);
    long n = p->queued + p->busy;
    sk__mutex_unlock(p->lock);
    return n;
}

/* The shared loop's view of the pool.  take() queues the connection for
 * a worker; a pool that wants to answer "busy" instead returns
 * SK_ACCEPT_REFUSED from here after answering and closing fd. */
static long pool_live(void *ctx)
{
    return in_flight(ctx);
}

static int pool_take(void *ctx, sk_socket_t fd, const struct sk_addr *peer)
{
    return enqueue(ctx, fd, peer);
}

static int accept_loop(struct pool *p)
{
    struct sk_server *srv = p->srv;
    struct sk__accept_ops ops = {
        .live = pool_live,
        .take = pool_take,
        .take_failed = "cannot queue a connection",
        .ctx = p,
    };
    int rc = sk__accept_loop(srv, &ops);
    /* --max-clients reached: let the queue drain and the workers finish. */
    while (rc == 0 && !sk__server_stopping(srv) && in_flight(p) > 0) {
        sk__mutex_lock(p->lock);
        if (p->queued + p->busy > 0)
            sk__cond_wait(p->ready, p->lock);
        sk__mutex_unlock(p->lock);
    }
    return rc;
}

static int pool_run(struct sk_server *srv)
{
    int nworkers = srv->cfg->workers > 0 ? srv->cfg->workers : DEFAULT_WORKERS;
    struct pool p;
    memset(&p, 0, sizeof p);
    p.srv = srv;
    p.lock = sk__mutex_new();
    p.ready = sk__cond_new();
    p.keeper_wake = sk__cond_new();
    p.queue_cap = (long)nworkers * QUEUE_PER_WORKER;
    p.live = calloc((size_t)nworkers, sizeof *p.live);
    struct worker_arg *args = calloc((size_t)nworkers, sizeof *args);
    sk__thread_t *threads = calloc((size_t)nworkers, sizeof *threads);
    sk__thread_t keeper;
    int rc = 0, started = 0, keeping = 0;
    if (p.lock == NULL || p.ready == NULL || p.keeper_wake == NULL || p.live == NULL ||
        args == NULL || threads == NULL)
        rc = -ENOMEM;
    for (int i = 0; i < nworkers && rc == 0; i++) {
        args[i].pool = &p;
        args[i].index = i;
        if ((rc = sk__thread_start(&threads[i], worker_main, &args[i])) == 0)
            started++;
    }
    if (rc == 0 && (rc = sk__thread_start(&keeper, keeper_main, &p)) == 0)
        keeping = 1;
    if (rc == 0) {
        sk__server_ready(srv);
        rc = accept_loop(&p);
    } else {
        srv->why = "cannot start the pool";
    }

    if (p.lock != NULL) {
        sk__mutex_lock(p.lock);
        p.stopping = 1;
        for (int i = 0; i < nworkers; i++)
            if (p.live && p.live[i])
                sk__blocking_abort(p.live[i]);
        if (p.ready)
            sk__cond_broadcast(p.ready);
        if (p.keeper_wake)
            sk__cond_signal(p.keeper_wake);
        sk__mutex_unlock(p.lock);
    }
    for (int i = 0; i < started; i++)
        sk__thread_join(threads[i]);
    if (keeping)
        sk__thread_join(keeper);
    srv->stats.refused += p.refused_busy;
    while (p.head != NULL) { /* accepted but never served */
        struct job *j = p.head;
        p.head = j->next;
        sk__close_traced(j->fd);
        free(j);
    }
    sk__cond_free(p.keeper_wake);
    sk__cond_free(p.ready);
    sk__mutex_free(p.lock);
    free(p.live);
    free(args);
    free(threads);
    return rc;
}

const struct sk_model sk__model_pool = {
    .name = "pool",
    .io_model = "blocking",
    .summary = "--workers threads (default 8) fed by a queue; busy after 2 s queued",
    .flags = SK_MODEL_TCP | SK_MODEL_SHARED | SK_MODEL_WORKERS,
    .probe = NULL,
    .run = pool_run,
};
