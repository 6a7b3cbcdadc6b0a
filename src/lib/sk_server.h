/*
 * sk_server.h - a server: one service run by one model on one socket.
 *
 * sk_server_run() resolves the names, opens the service instance, binds
 * the socket, reports readiness and hands control to the model.  Models
 * move bytes between sockets and sessions and know nothing of what the
 * bytes mean; the helpers here (accepting with descriptor-exhaustion
 * handling, the connection limit, the UDP loop guard) are what every
 * model shares.
 */
#ifndef SK_SERVER_H
#define SK_SERVER_H

#include "sk_addr.h"
#include "sk_msglog.h"
#include "sk_peerlimit.h"
#include "sk_service.h"

#define SK_MODEL_TCP 0x1    /* serves stream services */
#define SK_MODEL_UDP 0x2    /* serves datagram services */
#define SK_MODEL_SHARED 0x4 /* sessions can reach each other (chat) */
#define SK_MODEL_WORKERS 0x8 /* takes --workers */
#define SK_MODEL_EDGE 0x10   /* takes --edge */
#define SK_MODEL_REUSEPORT 0x20 /* --workers N binds N sockets to the port */

/* Per-connection buffer, and the largest datagram a UDP server takes. */
#define SK_DEFAULT_BUFFER 65536

struct sk_server;

struct sk_model {
    const char *name;
    const char *io_model; /* the Unix Network Programming I/O model */
    const char *summary;
    unsigned flags;
    /* 0 if the model can run on this machine, else a code; *why (if
     * set) names what is missing.  NULL = always available. */
    int (*probe)(const char **why);
    int (*run)(struct sk_server *srv);
};

struct sk_server_info {
    char host[SK_ADDRSTRLEN]; /* the bound address, "127.0.0.1", "::" */
    int port;
    const char *service;
    const char *model;
    int udp;
};

struct sk_server_config {
    const char *service;         /* service name */
    const char *model;           /* model name; NULL = default */
    const char *host;            /* NULL or "" = every address */
    const char *port;            /* "0" = any free port */
    int udp;
    int backlog;
    long max_clients;            /* stop after this many; 0 = never */
    long max_conns;              /* refuse beyond this many at once; 0 = default */
    long max_per_ip;             /* refuse beyond this many from one address; 0 = no limit */
    int idle_timeout_ms;         /* 0 = none */
    size_t buffer_size;          /* 0 = SK_DEFAULT_BUFFER */
    int workers;                 /* pool threads, or event loops; 0 = default */
    int edge;                    /* epoll: edge-triggered */
    const char *msglog_path;     /* --log FILE: every received byte */
    const char *const *sockopts; /* "name=value", for the listening socket */
    int nsockopts;
    struct sk_service_config service_config;
    struct sk_logger logger;
    void (*on_ready)(void *ctx, const struct sk_server_info *info);
    void *ready_ctx;
    sk_flag_t *stop;             /* set (by a signal handler) to stop */
};

struct sk_server_stats {
    unsigned long accepted;
    unsigned long refused;       /* over max-conns */
    unsigned long datagrams;
    unsigned long dropped;       /* loop guard and truncated datagrams */
};

/* The reflection guard (sk_datagram.c): per-peer memory of our last
 * reply, to recognise it coming back from another echo service. */
struct sk_reflect;
int sk_reflect_open(struct sk_reflect **out);
void sk_reflect_close(struct sk_reflect *r);
/* 1 if this datagram is our last reply to `from` coming back once too
 * often; the caller drops it. */
int sk_reflect_check(struct sk_reflect *r, const struct sockaddr *from, const void *data,
                     size_t len);
void sk_reflect_remember(struct sk_reflect *r, const struct sockaddr *to, const void *reply,
                         size_t len);

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
    struct sk_msglog *msglog;    /* NULL unless --log */
    struct sk_reflect *reflect;  /* UDP only */
    struct sk_server_stats stats;
    sk_socket_t reserve_fd;      /* spare descriptor for EMFILE, or SK_INVALID_SOCKET */
    uint64_t last_emfile_log_ms;
    struct sk_peerlimit *peerlimit; /* --max-per-ip, or NULL */
    int ready;                   /* the ready line has been given */
    const char *why;             /* set by a model whose run fails: what failed */
};

/* Tell the program the server is ready (cfg->on_ready), once.  Models
 * that take --workers call it when every worker is up, so that a server
 * whose workers cannot start never claims to be listening; for the others
 * sk_server_run calls it before run. */
void sk_server_ready(struct sk_server *srv);

/* Run until cfg->stop is set, max_clients is reached or a fatal error.
 * Returns 0 or a code; *why gets a static explanation for refusals
 * ("chat needs a model whose sessions share state"). */
int sk_server_run(const struct sk_server_config *cfg, const char **why);
/* Two of the stages *why names, as themselves, so that a program can
 * word those failures with what it knows (the address, the file name). */
extern const char sk_why_listen[];  /* "cannot listen" */
extern const char sk_why_msglog[];  /* "cannot open the --log file" */

const struct sk_model *sk_model_find(const char *name);
const struct sk_model *const *sk_model_list(void);
/* The model used when none is named: the fastest that runs here. */
const struct sk_model *sk_model_default(int udp);
/* 0 if the model can run here; else a code and *why. */
int sk_model_probe(const struct sk_model *m, const char **why);

/* 1 once the server should stop. */
int sk_server_stopping(const struct sk_server *srv);

/* Accept one connection.  Returns -ECANCELED when stopping and -EINTR
 * when a signal arrived (the model checks its flags and calls again).
 * Handles ECONNABORTED and EMFILE/ENFILE with libuv's reserve
 * descriptor: close the spare, accept and drop the waiting connection,
 * reopen the spare, log at most once a second. */
int sk_server_accept(struct sk_server *srv, sk_socket_t *out, struct sk_addr *peer);

/* Whether to serve a new connection: --max-conns against live (the
 * model's count of connections now) and --max-per-ip.  1: serve it, and
 * call sk_server_leave() with the same peer when it ends.  0: refused; the
 * peer got one line, fd is closed and the refusal logged (the model counts
 * it: its threads may refuse at once).  Safe from several threads. */
int sk_server_admit(struct sk_server *srv, sk_socket_t fd, const struct sk_addr *peer,
                    long live);
void sk_server_leave(struct sk_server *srv, const struct sk_addr *peer);
/* Answer a connection over max_conns with one line and close it (the
 * caller counts it in stats.refused). */
void sk_server_refuse(struct sk_server *srv, sk_socket_t fd, const struct sk_addr *peer);

/* Log a new or finished connection. */
void sk_server_log_peer(struct sk_server *srv, const struct sk_addr *peer,
                        const char *what);

/* The UDP loop guard: 0 to answer, or a static reason to drop a datagram
 * from this source (ports that answer back, multicast/broadcast sources). */
const char *sk_datagram_guard(const struct sockaddr *from, int own_port);

/* Serve datagrams on srv->listener until stopped (or max_clients
 * datagrams): the textbook recvfrom/sendto loop, with the guard and the
 * truncation check. */
int sk_serve_datagrams(struct sk_server *srv);
/* Datagrams a batch holds: one recvmmsg() and one sendmmsg() each. */
#define SK_DATAGRAM_BATCH 16
struct sk_datagram_batch;
/* Buffers for a batch of datagrams up to size bytes: about 2 x 16 x size. */
int sk_datagram_batch_new(size_t size, struct sk_datagram_batch **out);
void sk_datagram_batch_free(struct sk_datagram_batch *b);
/* Receive the datagrams waiting on the non-blocking socket fd (at most one
 * batch), answer each through the service, and send the answers in one
 * call.  How many were received (0: none waited), or a code.  Stops
 * answering at max_clients datagrams. */
int sk_datagram_serve_batch(struct sk_server *srv, sk_socket_t fd,
                            struct sk_datagram_batch *b);
/* Handle one datagram already received (models with their own I/O). */
void sk_datagram_handle(struct sk_server *srv, const uint8_t *in, size_t len,
                        int truncated, const struct sockaddr *from,
                        uint8_t *reply, size_t *reply_len);

#endif
