/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_bench_run.c - sk_bench_run(): the steps of a load run, in order.
 *
 *   set up      one worker (event loop, counters, histograms) per thread,
 *               each with an equal share of the connections
 *   connect     every echo/UDP socket up front, so the clock starts with
 *               all of them ready; connect mode instead probes the address
 *               once and leaves the connecting to the workers
 *   arm         deadlines, per-connection quotas and open-loop schedules
 *   run         start the worker threads, then report once a second from
 *               what they publish, until every one is done
 *   collect     join them and add up their totals and histograms
 *
 * The wire format, the checks and the poll engine's loop are in
 * sk_bench.c, the uring engine in sk_bench_uring.c; which one runs is
 * chosen here (sk_bench_engine_for).
 */
#include "sk_bench.h"
#include "sk_bench_internal.h"
#include "sk_error.h"
#include "sk_sock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void counts_add(struct sk_bench_counts *a, const struct sk_bench_counts *b)
{
    a->msgs += b->msgs;
    a->bytes += b->bytes;
    a->connects += b->connects;
    a->mismatches += b->mismatches;
    a->resets += b->resets;
    a->short_replies += b->short_replies;
    a->connect_failures += b->connect_failures;
    a->timeouts += b->timeouts;
    a->udp_lost += b->udp_lost;
    a->udp_duplicates += b->udp_duplicates;
    a->udp_reordered += b->udp_reordered;
    a->udp_late += b->udp_late;
}

/* ---- engines ---------------------------------------------------------- */

/* AUTO picks the uring engine wherever it runs: it measured 6 to 27 %
 * cheaper per message than the poll engine at every point of the matrix
 * with more than one connection, and 0 to 7 % with one (BENCHMARKS.md,
 * "The load generator's engines"). */
#define AUTO_PREFERS_URING 1

const char *sk_bench_engine_name(enum sk_bench_engine engine)
{
    switch (engine) {
    case SK_BENCH_ENGINE_AUTO: return "auto";
    case SK_BENCH_ENGINE_POLL: return "poll";
    case SK_BENCH_ENGINE_URING: return "uring";
    }
    return "unknown";
}

/* Only TCP echo, closed or open loop, has an io_uring engine. */
static int uring_has_mode(const struct sk_bench_config *cfg)
{
    return !cfg->udp && cfg->mode == SK_BENCH_ECHO;
}

int sk_bench_engine_check(const struct sk_bench_config *cfg, enum sk_bench_engine engine,
                          const char **why)
{
    if (engine == SK_BENCH_ENGINE_AUTO || engine == SK_BENCH_ENGINE_POLL)
        return 0;
    if (engine != SK_BENCH_ENGINE_URING) {
        *why = "no such engine";
        return -EINVAL;
    }
    if (cfg != NULL && !uring_has_mode(cfg)) {
        *why = "the uring engine runs TCP echo only; UDP, --stream and --connect-rate "
               "run on the poll engine";
        return -EINVAL;
    }
#ifdef SK_HAVE_URING
    return sk__bench_uring_probe(why);
#else
    *why = "this build has no io_uring (Linux, built with liburing-dev, only)";
    return SK_ENOTAVAIL;
#endif
}

enum sk_bench_engine sk_bench_engine_for(const struct sk_bench_config *cfg)
{
    const char *why;
    if (cfg->engine != SK_BENCH_ENGINE_AUTO)
        return cfg->engine;
    if (AUTO_PREFERS_URING && uring_has_mode(cfg) &&
        sk_bench_engine_check(cfg, SK_BENCH_ENGINE_URING, &why) == 0)
        return SK_BENCH_ENGINE_URING;
    return SK_BENCH_ENGINE_POLL;
}

/* ---- workers ------------------------------------------------------------ */

static int worker_setup(struct worker *w, const struct sk_bench_config *cfg, int nconns,
                        enum sk_bench_engine engine)
{
    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    w->engine = engine;
    w->nconns = nconns;
    w->active = nconns;
    w->conns = calloc((size_t)(nconns ? nconns : 1), sizeof *w->conns);
    /* TCP reads RECV_BUFFER at a time; UDP a batch of size + 1 slots. */
    size_t rbuf_size = RECV_BUFFER;
    if (w->cfg->udp && (size_t)UDP_BATCH * (w->cfg->size + 1) > rbuf_size)
        rbuf_size = (size_t)UDP_BATCH * (w->cfg->size + 1);
    w->rbuf = malloc(rbuf_size);
    w->hist = malloc(sizeof *w->hist);
    w->unpublished = malloc(sizeof *w->unpublished);
    w->interval_hist = malloc(sizeof *w->interval_hist);
    w->lock = sk__mutex_new();
    if (!w->conns || !w->rbuf || !w->hist || !w->unpublished || !w->interval_hist || !w->lock)
        return -ENOMEM;
    sk_hist_init(w->hist);
    sk_hist_init(w->unpublished);
    sk_hist_init(w->interval_hist);
    uint32_t ring = cfg->rate > 0 ? OPEN_LOOP_CAP : cfg->udp ? UDP_WINDOW : (uint32_t)cfg->depth;
    for (int i = 0; i < nconns; i++) {
        struct bconn *c = &w->conns[i];
        c->w = w;
        c->fd = -1;
        c->ring = ring;
        c->sent_at = calloc(ring, sizeof *c->sent_at);
        if (c->sent_at == NULL)
            return -ENOMEM;
        if (cfg->udp) {
            c->seen = calloc(UDP_WINDOW / 8, 1);
            c->expired = calloc(UDP_WINDOW / 8, 1);
            if (c->seen == NULL || c->expired == NULL)
                return -ENOMEM;
        }
    }
    return sk__loop_create_fastest(&w->loop);
}

static void worker_free(struct worker *w)
{
#ifdef SK_HAVE_URING
    sk__bench_uring_free(w);
#endif
    for (int i = 0; w->conns && i < w->nconns; i++) {
        sk__bench_conn_close(w, &w->conns[i]);
        free(w->conns[i].sent_at);
        free(w->conns[i].seen);
        free(w->conns[i].expired);
    }
    free(w->conns);
    free(w->rbuf);
    free(w->hist);
    free(w->unpublished);
    free(w->interval_hist);
    sk__mutex_free(w->lock);
    if (w->loop)
        sk__loop_destroy(w->loop);
}

/* Connect every echo/UDP socket up front, so the clock starts with all of
 * them ready. */
static int connect_all(const struct sk_bench_config *cfg, struct worker *workers,
                       int nworkers)
{
    uint32_t id = 0;
    for (int t = 0; t < nworkers; t++) {
        for (int i = 0; i < workers[t].nconns; i++) {
            struct bconn *c = &workers[t].conns[i];
            sk_socket_t fd;
            int rc = sk_connect_family(cfg->host, cfg->port, cfg->family,
                                       cfg->udp ? SOCK_DGRAM : SOCK_STREAM, cfg->timeout_ms, &fd);
            if (rc < 0)
                return rc;
            int one = 1;
            if (!cfg->udp)
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, (const void *)&one, sizeof one);
            sk__socket_set_nonblocking(fd, 1);
            c->fd = fd;
            c->id = id++;
            if (workers[t].engine == SK_BENCH_ENGINE_URING)
                continue; /* its worker's ring waits for it instead */
            int mask = SK_EV_READ;
            sk__event_fn *on = sk__bench_is_stream(cfg) ? sk__bench_on_stream
                              : cfg->udp                  ? sk__bench_on_udp
                                                          : sk__bench_on_tcp;
            rc = sk__loop_watch(workers[t].loop, fd, mask, on, c);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* Connect mode: one connection first, closed at once.  With nothing
 * listening the run fails here, with one message, as it does without
 * --connect-rate (instead of counting a failure per cycle for the whole
 * run), and every cycle then goes to the address that answered, not
 * merely the first one HOST resolves to. */
static int probe_and_share_cycles(const struct sk_bench_config *cfg, struct worker *workers,
                                  int nthreads)
{
    struct sk_addr dest;
    sk_socket_t probe;
    int rc = sk_connect_family(cfg->host, cfg->port, cfg->family, SOCK_STREAM, cfg->timeout_ms,
                               &probe);
    if (rc < 0)
        return rc;
    dest.len = (sk_socklen_t)sizeof dest.ss;
    if (getpeername(probe, (struct sockaddr *)&dest.ss, &dest.len) != 0)
        rc = sk_error_last();
    sk_socket_close(probe);
    if (rc < 0)
        return rc;
    uint64_t total = cfg->count > 0 ? cfg->count : UINT64_MAX;
    for (int t = 0; t < nthreads; t++) {
        workers[t].dest = dest;
        workers[t].cycles_left = total == UINT64_MAX ? UINT64_MAX
            : total / (uint64_t)nthreads + ((uint64_t)t < total % (uint64_t)nthreads);
        workers[t].next_id = (uint32_t)t << 24;
    }
    return 0;
}

/* Workers, each with its share of the connections, connected (or, in
 * connect mode, with the probed address).  0, or a code with nothing
 * left allocated. */
static int setup_workers(const struct sk_bench_config *cfg, struct worker *workers,
                         int nthreads, enum sk_bench_engine engine)
{
    int rc = 0;
    for (int t = 0; t < nthreads && rc == 0; t++) {
        int n = cfg->conns / nthreads + (t < cfg->conns % nthreads ? 1 : 0);
        rc = worker_setup(&workers[t], cfg, n, engine);
    }
    if (rc == 0)
        rc = cfg->mode == SK_BENCH_CONNECT ? probe_and_share_cycles(cfg, workers, nthreads)
                                           : connect_all(cfg, workers, nthreads);
#ifdef SK_HAVE_URING
    for (int t = 0; t < nthreads && rc == 0 && engine == SK_BENCH_ENGINE_URING; t++)
        rc = sk__bench_uring_setup(&workers[t]);
#endif
    if (rc < 0)
        for (int t = 0; t < nthreads; t++)
            worker_free(&workers[t]);
    return rc;
}

/* Deadlines, quotas (--count spread over the connections) and the first
 * open-loop send times, all from one start time. */
static void arm_workers(const struct sk_bench_config *cfg, struct worker *workers,
                        int nthreads, uint64_t start)
{
    uint64_t per_conn_quota = UINT64_MAX, extra = 0;
    if (cfg->count > 0 && cfg->mode == SK_BENCH_ECHO) {
        per_conn_quota = cfg->count / (uint64_t)cfg->conns;
        extra = cfg->count % (uint64_t)cfg->conns;
    }
    uint64_t deadline = cfg->count > 0 ? 0 : start + (uint64_t)(cfg->duration_s * 1e9);
    double per_conn_rate = cfg->rate > 0 ? cfg->rate / cfg->conns : 0;
    uint64_t k = 0;
    for (int t = 0; t < nthreads; t++) {
        struct worker *w = &workers[t];
        w->deadline_ns = deadline;
        w->interval_ns = per_conn_rate > 0 ? (uint64_t)(1e9 / per_conn_rate) : 0;
        w->last_publish_ns = start;
        /* UDP has its own loss timeout; TCP echo with --duration the final wait. */
        w->check_overdue = cfg->mode == SK_BENCH_CONNECT || (!cfg->udp && deadline == 0);
        for (int i = 0; i < w->nconns; i++, k++) {
            struct bconn *c = &w->conns[i];
            c->quota = per_conn_quota == UINT64_MAX ? UINT64_MAX : per_conn_quota + (k < extra);
            /* Spread the first sends of an open loop over one interval. */
            c->due_ns = start + (w->interval_ns * k) / (uint64_t)cfg->conns;
            if (c->quota == 0)
                sk__bench_conn_done(w, c);
        }
    }
}

static int all_finished(struct worker *workers, int started)
{
    int finished = 0;
    for (int t = 0; t < started; t++)
        finished += atomic_load(&workers[t].finished);
    return finished == started;
}

/* Sleep until `until` in short steps; 1 if every worker finished first. */
static int wait_for_workers(struct worker *workers, int started, uint64_t until)
{
    for (uint64_t now = sk__now_ns(); now < until; now = sk__now_ns()) {
        uint64_t left_ms = (until - now) / 1000000u;
        sk__sleep_ms(left_ms > 50 ? 50 : left_ms > 0 ? (int)left_ms : 1);
        if (all_finished(workers, started))
            return 1;
    }
    return 0;
}

/* One interval report from what the workers last published. */
static void report_interval(const struct sk_bench_config *cfg, struct worker *workers,
                            int started, struct sk_hist *interval, struct sk_bench_counts *last,
                            uint64_t start, uint64_t last_ns, uint64_t now)
{
    struct sk_bench_counts sum;
    memset(&sum, 0, sizeof sum);
    sk_hist_init(interval);
    for (int t = 0; t < started; t++) {
        sk__mutex_lock(workers[t].lock);
        counts_add(&sum, &workers[t].reported);
        sk_hist_merge(interval, workers[t].interval_hist);
        sk_hist_init(workers[t].interval_hist);
        sk__mutex_unlock(workers[t].lock);
    }
    struct sk_bench_report r;
    r.elapsed_s = (double)(now - start) / 1e9;
    r.interval_s = (double)(now - last_ns) / 1e9;
    r.counts = sum;
    /* Counters are cumulative; report this interval's share.  One can
     * shrink: a UDP reply that comes after it was counted lost takes the
     * loss back (udp_lost--), and an unsigned difference would then print
     * as 2^64 - 1 errors.  Such an interval shows 0. */
    uint64_t *a = (uint64_t *)&r.counts, *b = (uint64_t *)last;
    for (size_t i = 0; i < sizeof sum / sizeof(uint64_t); i++)
        a[i] = a[i] >= b[i] ? a[i] - b[i] : 0;
    *last = sum;
    r.hist = interval;
    r.engine = workers[0].engine;
    cfg->on_interval(cfg->ctx, &r);
}

/* Report once a second until every started worker is done. */
static void report_until_done(const struct sk_bench_config *cfg, struct worker *workers,
                              int started, uint64_t start)
{
    struct sk_hist *interval = malloc(sizeof *interval);
    struct sk_bench_counts last;
    memset(&last, 0, sizeof last);
    uint64_t last_ns = start;
    while (!all_finished(workers, started)) {
        uint64_t next = last_ns + 1000000000u;
        if (wait_for_workers(workers, started, next))
            break;
        if (interval == NULL || cfg->on_interval == NULL) {
            last_ns = next;
            continue;
        }
        uint64_t now = sk__now_ns();
        report_interval(cfg, workers, started, interval, &last, start, last_ns, now);
        last_ns = now;
    }
    free(interval);
}

/* Join the workers, add up what they counted and measured, free them. */
static void collect_workers(struct worker *workers, int nthreads, int started, uint64_t start,
                            struct sk_bench_report *final, struct sk_hist *final_hist)
{
    for (int t = 0; t < started; t++)
        sk__thread_join(workers[t].thread);
    uint64_t end = sk__now_ns();
    memset(final, 0, sizeof *final);
    sk_hist_init(final_hist);
    for (int t = 0; t < nthreads; t++) {
        counts_add(&final->counts, &workers[t].total);
        sk_hist_merge(final_hist, workers[t].hist);
    }
    final->engine = workers[0].engine;
    for (int t = 0; t < nthreads; t++)
        worker_free(&workers[t]);
    final->elapsed_s = final->interval_s = (double)(end - start) / 1e9;
    final->hist = final_hist;
}

int sk_bench_run(const struct sk_bench_config *cfg, struct sk_bench_report *final,
                 struct sk_hist *final_hist)
{
    /* A stream is TCP and runs for a time: it has no messages to count. */
    if (sk__bench_is_stream(cfg) && (cfg->udp || cfg->count > 0 || cfg->rate > 0 ||
                                     cfg->duration_s <= 0))
        return -EINVAL;
    int nthreads = cfg->threads > 0 ? cfg->threads : 1;
    if (nthreads > cfg->conns)
        nthreads = cfg->conns;
    enum sk_bench_engine engine = sk_bench_engine_for(cfg);
    const char *why;
    int rc = sk_bench_engine_check(cfg, engine, &why);
    if (rc < 0)
        return rc;
    rc = sk__bench_make_block();
    if (rc < 0)
        return rc;
    struct worker *workers = calloc((size_t)nthreads, sizeof *workers);
    if (workers == NULL)
        return -ENOMEM;
    rc = setup_workers(cfg, workers, nthreads, engine);
    if (rc < 0) {
        free(workers);
        return rc;
    }

    uint64_t start = sk__now_ns();
    arm_workers(cfg, workers, nthreads, start);
    int started = 0;
    void *(*worker_main)(void *) = sk__bench_worker_main;
#ifdef SK_HAVE_URING
    if (engine == SK_BENCH_ENGINE_URING)
        worker_main = sk__bench_uring_main;
#endif
    for (int t = 0; t < nthreads && rc == 0; t++, started++)
        rc = sk__thread_start(&workers[t].thread, worker_main, &workers[t]);
    report_until_done(cfg, workers, started, start);
    collect_workers(workers, nthreads, started, start, final, final_hist);
    free(workers);
    return rc;
}
