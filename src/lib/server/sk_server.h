/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_server.h - a server inside the library: sockit/server.h (public:
 * the configuration, sk_server_run, the model and service lists) and
 * what the models share.
 *
 * sk_server_run() resolves the names, opens the service instance, binds
 * the socket, reports readiness and hands control to the model.  Models
 * move bytes between sockets and sessions and know nothing of what the
 * bytes mean; the helpers here (accepting with descriptor-exhaustion
 * handling, the connection limit, serving a datagram) are what every
 * model shares.
 */
#ifndef SK_SERVER_H
#define SK_SERVER_H

#include <sockit/server.h>

#include "sk_addr.h"
#include "sk_datagram.h"
#include "sk_msglog.h"
#include "sk_peerlimit.h"
#include "sk_service.h"

struct sk__server_stats {
    unsigned long accepted;
    unsigned long refused;       /* over max-conns */
    unsigned long datagrams;
    unsigned long dropped;       /* loop and reply guards, truncated datagrams */
};

struct sk_server {
    const struct sk_server_config *cfg;
    const struct sk_service *service;
    const struct sk_model *model;
    struct sk_instance instance;
    struct sk_service_config service_config; /* cfg's, with the port filled in */
    sk_socket_t listener;
    struct sk_addr bound;
    int port;
    long max_conns;
    size_t buffer_size;
    struct sk__msglog *msglog;    /* NULL unless --log */
    struct sk__reflect *reflect;  /* UDP only */
    struct sk__server_stats stats;
    sk_socket_t reserve_fd;      /* spare descriptor for EMFILE, or SK_INVALID_SOCKET */
    uint64_t last_emfile_log_ms;
    struct sk__peerlimit *peerlimit; /* --max-per-ip, or NULL */
    int ready;                   /* the ready line has been given */
    int nodelay;                 /* TCP_NODELAY for connections: 1 unless --sockopt nodelay=off */
    const char *why;             /* set by a model whose run fails: what failed */
};

/* Tell the program the server is ready (cfg->on_ready), once.  Models
 * that take --workers call it when every worker is up, so that a server
 * whose workers cannot start never claims to be listening; for the others
 * sk_server_run calls it before run. */
void sk__server_ready(struct sk_server *srv);

/* 1 once the server should stop. */
int sk__server_stopping(const struct sk_server *srv);

/* Accept one connection from the non-blocking listener.  Returns 0, a
 * would-block code when none waits (wait for the listener and call
 * again), -ECANCELED when stopping, -EINTR when a signal arrived (the
 * model checks its flags and calls again), or another code.  Handles
 * ECONNABORTED, and EMFILE/ENFILE with libuv's reserve descriptor: close
 * the spare, accept and drop the waiting connections, reopen the spare,
 * log at most once a second.  The listener must be non-blocking: on a
 * blocking one the drop would wait for, and drop, the next client.  The
 * blocking models call it through sk__accept_loop(). */
int sk__server_accept(struct sk_server *srv, sk_socket_t *out, struct sk_addr *peer);

/* Whether to serve a new connection: --max-conns against live (the
 * model's count of connections now) and --max-per-ip.  1: serve it, and
 * call sk__server_leave() with the same peer when it ends.  0: refused; the
 * peer got one line, fd is closed and the refusal logged (the model counts
 * it: its threads may refuse at once).  Safe from several threads. */
int sk__server_admit(struct sk_server *srv, sk_socket_t fd, const struct sk_addr *peer,
                    long live);
void sk__server_leave(struct sk_server *srv, const struct sk_addr *peer);
/* Answer a connection over max_conns with one line and close it (the
 * caller counts it in stats.refused). */
void sk__server_refuse(struct sk_server *srv, sk_socket_t fd, const struct sk_addr *peer);
/* The same busy line for a model's own reason (pool: every worker busy);
 * why ends the log line "PEER: refused: WHY". */
void sk__server_refuse_busy(struct sk_server *srv, sk_socket_t fd, const struct sk_addr *peer,
                           const char *why);

/* Set TCP_NODELAY on an accepted connection to srv->nodelay, traced:
 * the one setting every model gives its connections.  On unless the
 * listener was given nodelay=off, which leaves Nagle on for teaching. */
void sk__server_set_nodelay(const struct sk_server *srv, sk_socket_t fd);

/* Log a new or finished connection. */
void sk__server_log_peer(struct sk_server *srv, const struct sk_addr *peer,
                        const char *what);

/* A server's datagrams (sk_server_udp.c), over the guards and batches of
 * sk_datagram.h.  Serve datagrams on srv->listener until stopped (or
 * max_clients datagrams): the textbook recvfrom/sendto loop, with the
 * guards and the truncation check. */
int sk__serve_datagrams(struct sk_server *srv);
/* Receive the datagrams waiting on the non-blocking socket fd (at most one
 * batch), answer each through the service, and send the answers in one
 * call.  How many were received (0: none waited), or a code.  Stops
 * answering at max_clients datagrams. */
int sk__datagram_serve_batch(struct sk_server *srv, sk_socket_t fd,
                            struct sk__datagram_batch *b);
/* Handle one datagram already received (models with their own I/O). */
void sk__datagram_handle(struct sk_server *srv, const uint8_t *in, size_t len,
                        int truncated, const struct sockaddr *from,
                        uint8_t *reply, size_t *reply_len);

#endif
