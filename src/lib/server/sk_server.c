/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_server.c - running a service on a model, and what models share.
 */
#include "sk_server.h"
#include "sk_trace.h"
#include "sk_error.h"
#include "sk_sock.h"
#include "sk_sockopt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct sk_model sk__model_iterative;
extern const struct sk_model sk__model_fork;
extern const struct sk_model sk__model_thread;
extern const struct sk_model sk__model_pool;
extern const struct sk_model sk__model_nonblock;
extern const struct sk_model sk__model_sigio;
extern const struct sk_model sk__model_select;
extern const struct sk_model sk__model_poll;
extern const struct sk_model sk__model_epoll;
extern const struct sk_model sk__model_uring;
extern const struct sk_model sk__model_iocp;

/* Listed from the simplest to the most scalable; the default is the last
 * one that runs here and supports the protocol. */
static const struct sk_model *const models[] = {
    &sk__model_iterative,
    &sk__model_fork,
    &sk__model_thread,
    &sk__model_pool,
    &sk__model_nonblock,
    &sk__model_sigio,
    &sk__model_select,
    &sk__model_poll,
    &sk__model_epoll,
    &sk__model_uring,
    &sk__model_iocp,
    NULL
};

const struct sk_model *const *sk_model_list(void)
{
    return models;
}

const struct sk_model *sk_model_find(const char *name)
{
    for (size_t i = 0; models[i] != NULL; i++)
        if (strcmp(models[i]->name, name) == 0)
            return models[i];
    return NULL;
}

int sk_model_probe(const struct sk_model *m, const char **why)
{
    *why = NULL;
    return m->probe ? m->probe(why) : 0;
}

const struct sk_model *sk_model_default(int udp)
{
    const struct sk_model *best = NULL;
    unsigned need = udp ? SK_MODEL_UDP : SK_MODEL_TCP;
    for (size_t i = 0; models[i] != NULL; i++) {
        const char *why;
        if ((models[i]->flags & need) && sk_model_probe(models[i], &why) == 0)
            best = models[i];
    }
    return best;
}

int sk__server_stopping(const struct sk_server *srv)
{
    return sk_stop_requested(srv->cfg->stop);
}

void sk__server_ready(struct sk_server *srv)
{
    const struct sk_server_config *cfg = srv->cfg;
    if (srv->ready || cfg->on_ready == NULL)
        return;
    srv->ready = 1;
    struct sk_server_info info;
    memset(&info, 0, sizeof info);
    sk_addr_format_host((const struct sockaddr *)&srv->bound.ss, info.host, sizeof info.host);
    info.port = srv->port;
    info.service = srv->service->name;
    info.model = srv->model->name;
    info.udp = cfg->udp;
    cfg->on_ready(cfg->ready_ctx, &info);
}

const char sk_why_listen[] = "cannot listen";
const char sk_why_msglog[] = "cannot open the --log file";

/* Out of descriptors with a connection (perhaps) waiting: libuv's trick.
 * Give the spare descriptor back, use it to take the waiting connection
 * off the queue, close that, and keep the spare again; without this the
 * listener stays readable and the server spins.  The listener is
 * non-blocking, so when nothing waits the accept here returns at once:
 * a blocking one would sleep until the next client arrived and then drop
 * it, long after the descriptors were free again.  Returns 0 when one was
 * dropped (try again: more may wait), or a code (would-block: nothing
 * waits, or there is no spare) to hand back to the caller. */
static int drop_waiting_connection(struct sk_server *srv, int why)
{
    uint64_t now = sk_now_ms();
    if (now - srv->last_emfile_log_ms >= 1000) {
        sk_log(&srv->cfg->logger, SK_LOG_WARN,
               "out of file descriptors (%s): dropping new connections", sk_err_name(why));
        srv->last_emfile_log_ms = now;
    }
    /* The spare may have been lost to another thread's open() the last
     * time: take it back now that a descriptor may be free. */
    if (srv->reserve_fd == SK_INVALID_SOCKET)
        srv->reserve_fd = sk__spare_open();
    if (srv->reserve_fd == SK_INVALID_SOCKET) {
        sk__sleep_ms(100); /* nothing to drop with: do not spin */
        return why;
    }
    sk_socket_close(srv->reserve_fd);
    srv->reserve_fd = SK_INVALID_SOCKET;
    sk_socket_t victim;
    int rc = sk_accept(srv->listener, &victim, NULL);
    if (rc == 0)
        sk__close_traced(victim);
    srv->reserve_fd = sk__spare_open();
    return rc;
}

int sk__server_accept(struct sk_server *srv, sk_socket_t *out, struct sk_addr *peer)
{
    for (;;) {
        if (sk__server_stopping(srv))
            return -ECANCELED;
        int rc = sk_accept(srv->listener, out, peer);
        if (rc == 0) {
            srv->stats.accepted++;
            return 0;
        }
        if (sk_error_is(rc, ECONNABORTED) || rc == -EPROTO)
            continue;
        if (sk_error_is(rc, EMFILE) || rc == -ENFILE) {
            rc = drop_waiting_connection(srv, rc);
            if (rc == 0 || sk_error_is(rc, ECONNABORTED) || rc == -EPROTO)
                continue;
            /* Still out of descriptors, or nothing waiting: the caller
             * waits for the next connection as for any would-block. */
            if (sk_error_is(rc, EMFILE) || rc == -ENFILE)
                return -EAGAIN;
        }
        return rc; /* -EINTR, would-block, or a failure */
    }
}

/* Close fd after one line, never blocking: the peer may not read. */
static void refuse_with(sk_socket_t fd, const char *line, size_t len)
{
    sk__socket_set_nonblocking(fd, 1);
    (void)!send(fd, line, len, SK_MSG_NOSIGNAL);
    sk__close_traced(fd);
}

static const char busy_line[] = "ERR server busy: too many connections\r\n";

void sk__server_refuse(struct sk_server *srv, sk_socket_t fd, const struct sk_addr *peer)
{
    char who[SK_ADDRSTRLEN] = "?";
    sk_addr_format((const struct sockaddr *)&peer->ss, who, sizeof who);
    sk_log(&srv->cfg->logger, SK_LOG_WARN, "%s: refused: %ld connections already",
           who, srv->max_conns);
    refuse_with(fd, busy_line, sizeof busy_line - 1);
}

void sk__server_refuse_busy(struct sk_server *srv, sk_socket_t fd, const struct sk_addr *peer,
                           const char *why)
{
    char who[SK_ADDRSTRLEN] = "?";
    sk_addr_format((const struct sockaddr *)&peer->ss, who, sizeof who);
    sk_log(&srv->cfg->logger, SK_LOG_WARN, "%s: refused: %s", who, why);
    refuse_with(fd, busy_line, sizeof busy_line - 1);
}

int sk__server_admit(struct sk_server *srv, sk_socket_t fd, const struct sk_addr *peer,
                    long live)
{
    if (live >= srv->max_conns) {
        sk__server_refuse(srv, fd, peer);
        return 0;
    }
    if (srv->peerlimit == NULL)
        return 1;
    struct sk__peer_key key;
    sk__peer_key_of((const struct sockaddr *)&peer->ss, &key);
    int rc = sk__peerlimit_enter(srv->peerlimit, &key);
    if (rc == 1)
        return 1;
    static const char line[] = "ERR too many connections from your address\r\n";
    char who[SK_ADDRSTRLEN] = "?";
    sk_addr_format((const struct sockaddr *)&peer->ss, who, sizeof who);
    if (rc == 0)
        sk_log(&srv->cfg->logger, SK_LOG_WARN, "%s: refused: %ld connections from it already",
               who, srv->cfg->max_per_ip);
    else
        sk_log(&srv->cfg->logger, SK_LOG_WARN, "%s: refused: %s", who, sk_strerror(rc));
    refuse_with(fd, line, sizeof line - 1);
    return 0;
}

void sk__server_set_nodelay(const struct sk_server *srv, sk_socket_t fd)
{
    /* Replies go out as soon as they are written, not after Nagle's wait
     * for the previous segment's acknowledgement.  Set either way: Linux
     * copies the listener's setting to the connection, Windows does not. */
    int on = srv->nodelay;
    int rc = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, (const void *)&on, sizeof on);
    if (SK_TRACING())
        sk__trace_call(fd, "setsockopt", on ? "IPPROTO_TCP, TCP_NODELAY, 1" : "IPPROTO_TCP, TCP_NODELAY, 0",
                       rc == 0 ? 0 : sk__socket_error(),
                       on ? SK_NODELAY_MEANING : SK_NAGLE_MEANING, SK__TRACE_NO_TCP);
}

void sk__server_leave(struct sk_server *srv, const struct sk_addr *peer)
{
    if (srv->peerlimit == NULL)
        return;
    struct sk__peer_key key;
    sk__peer_key_of((const struct sockaddr *)&peer->ss, &key);
    sk__peerlimit_leave(srv->peerlimit, &key);
}

void sk__server_log_peer(struct sk_server *srv, const struct sk_addr *peer, const char *what)
{
    char who[SK_ADDRSTRLEN] = "?";
    sk_addr_format((const struct sockaddr *)&peer->ss, who, sizeof who);
    sk_log(&srv->cfg->logger, SK_LOG_INFO, "%s: %s", who, what);
}

static const char *check_combination(const struct sk_server_config *cfg,
                                     const struct sk_service *svc,
                                     const struct sk_model *m)
{
    int udp = cfg->udp;
    static char why[160];
    if (udp && !(svc->flags & SK_SERVICE_UDP)) {
        snprintf(why, sizeof why, "%s has no UDP protocol; drop -u", svc->name);
        return why;
    }
    if (!udp && !(svc->flags & SK_SERVICE_TCP)) {
        snprintf(why, sizeof why, "%s is UDP only; add -u", svc->name);
        return why;
    }
    if (udp && !(m->flags & SK_MODEL_UDP)) {
        const struct sk_model *best = sk_model_default(1);
        snprintf(why, sizeof why,
                 "model %s serves connections, not datagrams; use -m %s or iterative for UDP",
                 m->name, best ? best->name : "iterative");
        return why;
    }
    if (!udp && !(m->flags & SK_MODEL_TCP)) {
        snprintf(why, sizeof why, "model %s does not serve TCP", m->name);
        return why;
    }
    if (cfg->workers > 0 && !(m->flags & SK_MODEL_WORKERS)) {
        snprintf(why, sizeof why,
                 "--workers applies to the pool and event-loop models, not %s", m->name);
        return why;
    }
    if (cfg->edge && !(m->flags & SK_MODEL_EDGE)) {
        snprintf(why, sizeof why, "--edge applies to the epoll model, not %s", m->name);
        return why;
    }
    if (cfg->no_reap && strcmp(m->name, "fork") != 0) {
        snprintf(why, sizeof why, "--no-reap applies to the fork model, not %s", m->name);
        return why;
    }
    if (!udp && (svc->flags & SK_SERVICE_SHARED) && !(m->flags & SK_MODEL_SHARED)) {
        snprintf(why, sizeof why,
                 "%s needs sessions that share state, which model %s cannot give "
                 "(each connection is a separate process); use -m thread",
                 svc->name, m->name);
        return why;
    }
    return NULL;
}

int sk_server_run(const struct sk_server_config *cfg, const char **why)
{
    struct sk_server srv;
    int rc;

    *why = NULL;
    memset(&srv, 0, sizeof srv);
    srv.cfg = cfg;
    srv.listener = SK_INVALID_SOCKET;
    srv.reserve_fd = SK_INVALID_SOCKET;
    srv.service = sk_service_find(cfg->service);
    if (srv.service == NULL)
        return SK_ESERVICE;
    srv.model = cfg->model ? sk_model_find(cfg->model) : sk_model_default(cfg->udp);
    if (srv.model == NULL)
        return SK_EMODEL;
    if ((rc = sk_model_probe(srv.model, why)) < 0)
        return rc;
    if ((*why = check_combination(cfg, srv.service, srv.model)) != NULL)
        return SK_EUNSUPPORTED;

    if (cfg->msglog_path != NULL && (rc = sk__msglog_open(cfg->msglog_path, &srv.msglog)) < 0) {
        *why = sk_why_msglog;
        return rc;
    }

    /* Several event loops each bind their own socket to the port, which
     * the kernel allows only if the first one asked for SO_REUSEPORT too. */
    const char **opts = calloc((size_t)cfg->nsockopts + 1, sizeof *opts);
    if (opts == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < cfg->nsockopts; i++)
        opts[i] = cfg->sockopts[i];
    int nopts = cfg->nsockopts;
#ifdef SO_REUSEPORT /* Windows has none: the loops share one socket */
    if (cfg->workers > 1 && (srv.model->flags & SK_MODEL_REUSEPORT))
        opts[nopts++] = "reuseport=on";
#endif
    struct sk_listen_config lc = {
        .host = cfg->host,
        .port = cfg->port ? cfg->port : "0",
        .socktype = cfg->udp ? SOCK_DGRAM : SOCK_STREAM,
        .backlog = cfg->backlog,
        .sockopts = opts,
        .nsockopts = nopts,
        .family = cfg->family,
    };
    rc = sk_listen(&lc, &srv.listener, &srv.bound);
    free(opts);
    if (rc < 0) {
        *why = sk_why_listen;
        goto out;
    }
    srv.port = sk_addr_port((const struct sockaddr *)&srv.bound.ss);
    srv.nodelay = sk__sockopt_bool_in(cfg->sockopts, cfg->nsockopts, "nodelay", 1);
    srv.service_config = cfg->service_config;
    srv.service_config.port = srv.port;
    srv.service_config.idle_timeout_ms = cfg->idle_timeout_ms;
    srv.max_conns = cfg->max_conns;
    if (srv.max_conns <= 0) {
        /* The descriptor limit less a reserve for the listener, logs,
         * files being served and the EMFILE spare. */
        long limit = sk__descriptor_limit();
        srv.max_conns = limit > 32 ? limit - 16 : 16;
    }
    if (cfg->max_per_ip > 0 && !cfg->udp &&
        (rc = sk__peerlimit_open(cfg->max_per_ip, &srv.peerlimit)) < 0)
        goto out;
    srv.reserve_fd = sk__spare_open();
    srv.buffer_size = cfg->buffer_size ? cfg->buffer_size : SK_DEFAULT_BUFFER;

    if (cfg->udp && (rc = sk__reflect_open(&srv.reflect)) < 0)
        goto out;
    if ((rc = sk__instance_open(&srv.instance, srv.service, &srv.service_config,
                               &cfg->logger)) < 0) {
        *why = "cannot start the service";
        goto out;
    }

    if (!(srv.model->flags & SK_MODEL_WORKERS))
        sk__server_ready(&srv);
    rc = srv.model->run(&srv);
    if (rc < 0 && srv.why != NULL)
        *why = srv.why;
    if (!srv.ready)
        ; /* never started: the caller reports the failure */
    else if (cfg->udp)
        sk_log(&cfg->logger, SK_LOG_INFO, "stopped: %lu datagrams, %lu dropped",
               srv.stats.datagrams, srv.stats.dropped);
    else
        sk_log(&cfg->logger, SK_LOG_INFO, "stopped: %lu connections, %lu refused",
               srv.stats.accepted, srv.stats.refused);
    sk__instance_close(&srv.instance);
out:
    if (srv.listener != SK_INVALID_SOCKET) {
        sk__close_traced(srv.listener);
        (void)sk_listen_unlink(&srv.bound); /* a Unix socket's file */
    }
    if (srv.reserve_fd != SK_INVALID_SOCKET)
        sk_socket_close(srv.reserve_fd);
    sk__msglog_close(srv.msglog);
    sk__reflect_close(srv.reflect);
    sk__peerlimit_close(srv.peerlimit);
    return rc;
}
