/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockit/server.h - a server: one service run by one model on one socket.
 *
 * sk_server_run() resolves the names, opens the service instance, binds
 * the socket, reports readiness (on_ready) and hands control to the
 * model until the stop request is set.  Models move bytes between
 * sockets and sessions and know nothing of what the bytes mean; the
 * lists and probes here say which models and services this build has
 * and which of them can run on this machine.  The models themselves and
 * the helpers they share are internal (src/lib/sk_server.h).
 */
#ifndef SOCKIT_SERVER_H
#define SOCKIT_SERVER_H

#include <sockit/addr.h>
#include <sockit/platform.h>
#include <sockit/service.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SK_MODEL_TCP 0x1    /* serves stream services */
#define SK_MODEL_UDP 0x2    /* serves datagram services */
#define SK_MODEL_SHARED 0x4 /* sessions can reach each other (chat) */
#define SK_MODEL_WORKERS 0x8 /* takes --workers */
#define SK_MODEL_EDGE 0x10   /* takes --edge */
#define SK_MODEL_REUSEPORT 0x20 /* --workers N binds N sockets to the port */
/* Serves one connection at a time, so one stalled peer would stop it: the
 * blocking driver gives it a default idle timeout (SK_SERIAL_IDLE_MS). */
#define SK_MODEL_SERIAL 0x40

/* Per-connection buffer, and the largest datagram a UDP server takes. */
#define SK_DEFAULT_BUFFER 65536

/* The running server a model is handed (internal). */
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
    const char *msglog_path;     /* --log FILE: every received byte; "-" = stderr */
    const char *const *sockopts; /* "name=value", for the listening socket */
    int nsockopts;
    struct sk_service_config service_config;
    struct sk_logger logger;
    void (*on_ready)(void *ctx, const struct sk_server_info *info);
    void *ready_ctx;
    struct sk_stop *stop;        /* stop when requested; NULL = never */
    int family;                  /* AF_INET or AF_INET6 only; 0 (AF_UNSPEC) = either */
    /* For teaching only (LEARN.md), fork model: leave ended children
     * unreaped, so that they show as zombies.  0 = reap them, as a server
     * must. */
    int no_reap;
    /* echo: copy through user memory even where splice() could move the
     * bytes (the Linux readiness models).  0 = splice. */
    int no_splice;
};

/* Run until cfg->stop is requested, max_clients is reached or a fatal error.
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

#ifdef __cplusplus
}
#endif

#endif
