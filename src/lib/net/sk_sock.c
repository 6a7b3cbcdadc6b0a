/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_sock.c - listen, connect, accept and exact-length transfers.
 */
#include "sk_sock.h"
#include "sk_error.h"
#include "sk_sockopt.h"
#include "sk_trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- what --trace says about these calls ------------------------------ */

static void trace_socket(int family, int socktype, long long rc, int is_conn)
{
    char args[48];
    snprintf(args, sizeof args, "%s, %s",
             family == AF_INET ? "AF_INET" : family == AF_INET6 ? "AF_INET6" : "AF_?",
             socktype == SOCK_STREAM ? "SOCK_STREAM" : socktype == SOCK_DGRAM ? "SOCK_DGRAM"
                                                                                : "SOCK_?");
    /* A client's socket is its connection from here on; a listener's
     * connections get their ids at accept. */
    struct sk__trace_event ev;
    memset(&ev, 0, sizeof ev);
    ev.call = "socket";
    ev.fd = -1; /* no descriptor yet: the result is the one */
    ev.size = -1;
    ev.args = args;
    ev.has_result = 1;
    ev.result = rc;
    if (rc >= 0 && is_conn)
        ev.conn = sk__trace_conn_new((sk_socket_t)rc);
    else if (rc >= 0)
        sk__trace_conn_forget((sk_socket_t)rc);
    sk__trace_emit(&ev);
}

/* call(fd, address[, extra]) = rc, with the address as text. */
static void trace_addr_call(sk_socket_t s, const char *call, const struct sockaddr *sa,
                            const char *args, int rc, const char *meaning, int with_tcp)
{
    char addr[SK_ADDRSTRLEN] = "?";
    if (sa != NULL)
        sk_addr_format(sa, addr, sizeof addr);
    struct sk__trace_event ev;
    memset(&ev, 0, sizeof ev);
    ev.call = call;
    ev.fd = (long long)s;
    ev.size = -1;
    ev.addr = addr;
    ev.args = args;
    ev.has_result = 1;
    ev.result = rc;
    ev.meaning = rc == 0 ? meaning : NULL;
    ev.with_tcp = with_tcp && rc == 0;
    sk__trace_emit(&ev);
}

static int open_socket(int family, int socktype, int is_conn, sk_socket_t *out)
{
#ifdef SOCK_CLOEXEC
    sk_socket_t s = socket(family, socktype | SOCK_CLOEXEC, 0);
#else
    sk_socket_t s = socket(family, socktype, 0);
#endif
    if (s == SK_INVALID_SOCKET) {
        int rc = sk__socket_error();
        if (SK_TRACING())
            trace_socket(family, socktype, rc, is_conn);
        return rc;
    }
    if (SK_TRACING())
        trace_socket(family, socktype, (long long)s, is_conn);
    *out = s;
    return 0;
}

static int setsockopt_int(sk_socket_t s, int level, int name, int value, const char *what)
{
    int rc = 0;
    if (setsockopt(s, level, name, (const void *)&value, sizeof value) != 0)
        rc = sk__socket_error();
    if (SK_TRACING()) {
        char args[64];
        snprintf(args, sizeof args, "%s, %d", what, value);
        sk__trace_call(s, "setsockopt", args, rc, NULL, SK__TRACE_NO_TCP);
    }
    return rc;
}

#ifdef SK_HAVE_AF_UNIX
static int listen_unix(const struct sk_listen_config *cfg, sk_socket_t *out,
                       struct sk_addr *bound);
#endif

static int bind_one(const struct sk_listen_config *cfg, const struct addrinfo *ai,
                    sk_socket_t *out)
{
    sk_socket_t s = SK_INVALID_SOCKET;
    int rc = open_socket(ai->ai_family, cfg->socktype, 0, &s);
    if (rc < 0)
        return rc;
    if (!cfg->no_reuseaddr) {
        rc = sk__socket_reuse_addr(s, cfg->socktype);
        if (SK_TRACING() && cfg->socktype == SOCK_STREAM)
            sk__trace_call(s, "setsockopt", SK_REUSE_ADDR_OPTION, rc,
                           rc == 0 ? "a restarted server may bind while old connections "
                                     "sit in TIME_WAIT" : NULL, SK__TRACE_NO_TCP);
    }
    /* An IPv6 wildcard also takes IPv4 (dual-stack); a specific IPv6
     * address stays IPv6-only so it never collides with an IPv4 bind. */
    if (rc == 0 && ai->ai_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ai->ai_addr;
        int any = IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr) && cfg->family != AF_INET6;
        rc = setsockopt_int(s, IPPROTO_IPV6, IPV6_V6ONLY, any ? 0 : 1,
                            "IPPROTO_IPV6, IPV6_V6ONLY");
    }
    if (rc == 0 && cfg->socktype == SOCK_DGRAM)
        sk__socket_udp_ignore_resets(s);
    for (int i = 0; rc == 0 && i < cfg->nsockopts; i++) {
        rc = sk_sockopt_apply(s, cfg->sockopts[i]);
        if (SK_TRACING())
            sk__trace_call(s, "setsockopt", cfg->sockopts[i], rc, NULL, SK__TRACE_NO_TCP);
    }
    if (rc == 0) {
        if (bind(s, ai->ai_addr, (sk_socklen_t)ai->ai_addrlen) != 0)
            rc = sk__socket_error();
        if (SK_TRACING())
            trace_addr_call(s, "bind", ai->ai_addr, NULL, rc, NULL, SK__TRACE_NO_TCP);
    }
    if (rc == 0 && cfg->socktype == SOCK_STREAM) {
        int backlog = cfg->backlog > 0 ? cfg->backlog : SK_DEFAULT_BACKLOG;
        if (listen(s, backlog) != 0)
            rc = sk__socket_error();
        if (SK_TRACING()) {
            char args[80];
            struct sk_addr got;
            char where[SK_ADDRSTRLEN] = "?";
            if (sk_local_addr(s, &got) == 0)
                sk_addr_format((const struct sockaddr *)&got.ss, where, sizeof where);
            snprintf(args, sizeof args, "%d", backlog);
            char meaning[SK_ADDRSTRLEN + 80];
            snprintf(meaning, sizeof meaning,
                     "listening on %s: the kernel completes handshakes into the accept "
                     "queue", where);
            sk__trace_call(s, "listen", args, rc, rc == 0 ? meaning : NULL,
                           SK__TRACE_NO_TCP);
        }
    }
    if (rc < 0) {
        sk__close_traced(s);
        return rc;
    }
    *out = s;
    return 0;
}

#ifdef SK_HAVE_AF_UNIX
/* A file already at a Unix socket's path: a socket that refuses
 * connections was left by a server that died, and goes; a socket that
 * answers belongs to a live server (EADDRINUSE); anything else is not
 * ours to delete (EEXIST). */
static int clear_stale_unix(const struct sk_addr *a)
{
    const char *path = ((const struct sockaddr_un *)&a->ss)->sun_path;
    int state = sk__path_socket_state(path);
    if (state < 0 || state == SK_PATH_ABSENT)
        return state < 0 ? state : 0;
    if (state != SK_PATH_SOCKET)
        return -EEXIST;
    sk_socket_t probe;
    int rc = sk_connect_addr((const struct sockaddr *)&a->ss, a->len, SOCK_STREAM, 1000, &probe);
    if (rc == 0) {
        sk_socket_close(probe);
        return -EADDRINUSE;
    }
    if (!sk_error_is(rc, ECONNREFUSED))
        return rc;
    return sk__path_remove(path);
}

static int listen_unix(const struct sk_listen_config *cfg, sk_socket_t *out,
                       struct sk_addr *bound)
{
    struct sk_addr a;
    int rc = sk_addr_unix(cfg->host, &a);
    if (rc < 0)
        return rc;
    if (cfg->socktype != SOCK_STREAM)
        return SK_EUNSUPPORTED;
    if ((rc = clear_stale_unix(&a)) < 0)
        return rc;
    sk_socket_t s = SK_INVALID_SOCKET;
    if ((rc = open_socket(AF_UNIX, SOCK_STREAM, 0, &s)) < 0)
        return rc;
    if (bind(s, (const struct sockaddr *)&a.ss, a.len) != 0) {
        rc = sk__socket_error();
        sk_socket_close(s);
        return rc;
    }
    if (listen(s, cfg->backlog > 0 ? cfg->backlog : SK_DEFAULT_BACKLOG) != 0) {
        rc = sk__socket_error();
        sk_socket_close(s);
        (void)sk_listen_unlink(&a);
        return rc;
    }
    *out = s;
    if (bound != NULL)
        *bound = a; /* getsockname() would do, but Windows' may leave it empty */
    return 0;
}
#endif

int sk_listen_unlink(const struct sk_addr *bound)
{
#ifdef SK_HAVE_AF_UNIX
    const struct sockaddr_un *un = (const struct sockaddr_un *)&bound->ss;
    if (bound->ss.ss_family != AF_UNIX || un->sun_path[0] == '\0')
        return 0;
    char path[sizeof un->sun_path + 1];
    size_t n = strnlen(un->sun_path, sizeof un->sun_path);
    memcpy(path, un->sun_path, n);
    path[n] = '\0';
    return sk__path_remove(path);
#else
    (void)bound;
    return 0;
#endif
}

int sk_listen(const struct sk_listen_config *cfg, sk_socket_t *out,
              struct sk_addr *bound)
{
    struct addrinfo *list = NULL;
    const char *host = cfg->host;
    int rc;

    if (sk_addr_is_unix(host)) {
#ifdef SK_HAVE_AF_UNIX
        return listen_unix(cfg, out, bound);
#else
        return SK_ENOTAVAIL;
#endif
    }

    if ((host == NULL || *host == '\0') && cfg->family == AF_INET)
        host = "0.0.0.0";
    if (host == NULL || *host == '\0') {
        /* Prefer the dual-stack IPv6 wildcard; fall back to IPv4 on a
         * kernel built without IPv6 (unless IPv6 was asked for). */
        rc = sk_addr_resolve("::", cfg->port, AF_INET6, cfg->socktype, 1, &list);
        if (rc == 0) {
            rc = bind_one(cfg, list, out);
            freeaddrinfo(list);
            list = NULL;
            if (rc == 0)
                goto bound;
            if (cfg->family == AF_INET6 ||
                (!sk_error_is(rc, EAFNOSUPPORT) && !sk_error_is(rc, EADDRNOTAVAIL)))
                return rc;
        } else if (cfg->family == AF_INET6) {
            return rc;
        }
        host = "0.0.0.0";
    }
    rc = sk_addr_resolve(host, cfg->port, cfg->family, cfg->socktype, 1, &list);
    if (rc < 0)
        return rc;
    rc = SK_EADDRSYNTAX;
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        rc = bind_one(cfg, ai, out);
        if (rc == 0)
            break;
    }
    freeaddrinfo(list);
    if (rc < 0)
        return rc;
bound:
    if (bound != NULL && (rc = sk_local_addr(*out, bound)) < 0) {
        sk_socket_close(*out);
        return rc;
    }
    return 0;
}

int sk_connect_addr(const struct sockaddr *sa, sk_socklen_t len, int socktype,
                    int timeout_ms, sk_socket_t *out)
{
    sk_socket_t s = SK_INVALID_SOCKET;
    int rc = open_socket(sa->sa_family, socktype, 1, &s);
    if (rc < 0)
        return rc;
    const char *done = socktype == SOCK_STREAM
                     ? "the three-way handshake completed (SYN, SYN+ACK, ACK)"
                     : "a connected UDP socket: no packet is sent, the peer is only remembered";
    if (timeout_ms < 0 || socktype != SOCK_STREAM) {
        while ((rc = connect(s, sa, len)) != 0 && sk__socket_error() == -EINTR)
            ;
        if (rc != 0)
            rc = sk__socket_error();
        if (SK_TRACING())
            trace_addr_call(s, "connect", sa, NULL, rc, done, socktype == SOCK_STREAM);
        if (rc != 0) {
            sk__close_traced(s);
            return rc;
        }
        *out = s;
        return 0;
    }
    /* Non-blocking connect, wait for writability, then read SO_ERROR:
     * the one portable way to bound how long a connect may take. */
    if ((rc = sk__socket_set_nonblocking(s, 1)) < 0)
        goto fail;
    if (connect(s, sa, len) != 0) {
        rc = sk__socket_error();
        if (SK_TRACING())
            trace_addr_call(s, "connect", sa, NULL, rc, NULL, SK__TRACE_NO_TCP);
        if (rc != -EINPROGRESS && !sk__error_would_block(rc))
            goto fail;
        uint64_t deadline = sk_now_ms() + (uint64_t)timeout_ms;
        for (;;) {
            uint64_t now = sk_now_ms();
            if (now >= deadline) {
                rc = -ETIMEDOUT;
                goto fail;
            }
            rc = sk__socket_wait(s, SK_WAIT_WRITE, (int)(deadline - now));
            if (rc == 1)
                break;
            if (rc < 0 && !sk_error_is(rc, EINTR))
                goto fail;
        }
        int err = 0;
        sk_socklen_t errlen = sizeof err;
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, (void *)&err, &errlen) != 0) {
            rc = sk__socket_error();
            goto fail;
        }
        rc = err != 0 ? sk__socket_error_from(err) : 0;
        if (SK_TRACING())
            sk__trace_call(s, "getsockopt", "SOL_SOCKET, SO_ERROR", rc,
                           rc == 0 ? done : NULL, rc == 0);
        if (rc < 0)
            goto fail;
    } else if (SK_TRACING()) {
        trace_addr_call(s, "connect", sa, NULL, 0, done, SK__TRACE_WITH_TCP);
    }
    if ((rc = sk__socket_set_nonblocking(s, 0)) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    sk__close_traced(s);
    return rc;
}

int sk_connect(const char *host, const char *port, int socktype,
               int timeout_ms, sk_socket_t *out)
{
    return sk_connect_family(host, port, AF_UNSPEC, socktype, timeout_ms, out);
}

int sk_connect_family(const char *host, const char *port, int family, int socktype,
                      int timeout_ms, sk_socket_t *out)
{
    struct addrinfo *list = NULL;
    if (sk_addr_is_unix(host)) {
        struct sk_addr a;
        int rc = sk_addr_unix(host, &a);
        if (rc < 0)
            return rc;
        return sk_connect_addr((const struct sockaddr *)&a.ss, a.len, socktype,
                               timeout_ms, out);
    }
    int rc = sk_addr_resolve(host, port, family, socktype, 0, &list);
    if (rc < 0)
        return rc;
    rc = -ECONNREFUSED;
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        rc = sk_connect_addr(ai->ai_addr, (sk_socklen_t)ai->ai_addrlen, socktype,
                             timeout_ms, out);
        if (rc == 0)
            break;
    }
    freeaddrinfo(list);
    return rc;
}

int sk_udp_open(const char *host, const char *port, sk_socket_t *out,
                struct sk_addr *dest)
{
    return sk_udp_open_family(host, port, AF_UNSPEC, out, dest);
}

int sk_udp_open_family(const char *host, const char *port, int family, sk_socket_t *out,
                       struct sk_addr *dest)
{
    struct addrinfo *list = NULL;
    int rc = sk_addr_resolve(host, port, family, SOCK_DGRAM, 0, &list);
    if (rc < 0)
        return rc;
    rc = open_socket(list->ai_family, SOCK_DGRAM, 1, out);
    if (rc == 0) {
        memset(dest, 0, sizeof *dest);
        memcpy(&dest->ss, list->ai_addr, list->ai_addrlen);
        dest->len = (sk_socklen_t)list->ai_addrlen;
    }
    freeaddrinfo(list);
    return rc;
}

int sk_accept(sk_socket_t listener, sk_socket_t *out, struct sk_addr *peer)
{
    struct sk_addr tmp;
    struct sk_addr *a = peer ? peer : &tmp;
    /* An unbound Unix client comes back as a bare family: the zeroed
     * path then reads as "unnamed", not as what the stack held. */
    memset(a, 0, sizeof *a);
    a->len = sizeof a->ss;
#ifdef SOCK_CLOEXEC
    sk_socket_t s = accept4(listener, (struct sockaddr *)&a->ss, &a->len, SOCK_CLOEXEC);
#else
    sk_socket_t s = accept(listener, (struct sockaddr *)&a->ss, &a->len);
#endif
    if (s == SK_INVALID_SOCKET) {
        int rc = sk__socket_error();
        if (SK_TRACING())
            sk__trace_accept(NULL, listener, rc, NULL);
        return rc;
    }
    if (SK_TRACING())
        sk__trace_accept(NULL, listener, (long long)s, (const struct sockaddr *)&a->ss);
    *out = s;
    return 0;
}

long sk_send_some(sk_socket_t s, const void *buf, size_t len)
{
    for (;;) {
        long n = (long)send(s, buf, len, SK_MSG_NOSIGNAL);
        int rc = n >= 0 ? 0 : sk__socket_error();
        if (SK_TRACING())
            sk__trace_io(s, "send", len, n >= 0 ? n : rc, buf);
        if (n >= 0)
            return n;
        if (rc != -EINTR)
            return rc;
    }
}

long sk_recv_some(sk_socket_t s, void *buf, size_t len)
{
    for (;;) {
        long n = (long)recv(s, buf, len, 0);
        int rc = n >= 0 ? 0 : sk__socket_error();
        if (SK_TRACING())
            sk__trace_io(s, "recv", len, n >= 0 ? n : rc, buf);
        if (n >= 0)
            return n;
        if (rc != -EINTR)
            return rc;
    }
}

int sk_send_all(sk_socket_t s, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        long n = sk_send_some(s, p, len);
        if (n < 0)
            return (int)n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

long sk_recv_exact(sk_socket_t s, void *buf, size_t len, size_t *got)
{
    char *p = buf;
    size_t have = 0;
    while (have < len) {
        long n = sk_recv_some(s, p + have, len - have);
        if (n <= 0) {
            if (got != NULL)
                *got = have;
            return n == 0 ? SK_EEOF : n;
        }
        have += (size_t)n;
    }
    if (got != NULL)
        *got = have;
    return (long)have;
}

int sk_shutdown_write(sk_socket_t s)
{
    int rc = shutdown(s, SK_SHUT_WR) != 0 ? sk__socket_error() : 0;
    if (SK_TRACING())
        sk__trace_call(s, "shutdown", "SHUT_WR", rc,
                       "half-close: our FIN goes out; we can still receive", rc == 0);
    return rc;
}

int sk_local_addr(sk_socket_t s, struct sk_addr *out)
{
    memset(out, 0, sizeof *out);
    out->len = sizeof out->ss;
    if (getsockname(s, (struct sockaddr *)&out->ss, &out->len) != 0)
        return sk__socket_error();
    return 0;
}

int sk_peer_addr(sk_socket_t s, struct sk_addr *out)
{
    memset(out, 0, sizeof *out); /* an unnamed Unix peer fills no path */
    out->len = sizeof out->ss;
    if (getpeername(s, (struct sockaddr *)&out->ss, &out->len) != 0)
        return sk__socket_error();
    return 0;
}
