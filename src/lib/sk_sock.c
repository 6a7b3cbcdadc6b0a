/*
 * sk_sock.c - listen, connect, accept and exact-length transfers.
 */
#include "sk_sock.h"
#include "sk_error.h"
#include "sk_sockopt.h"

#include <errno.h>
#include <string.h>

#if defined(_WIN32) && !defined(SIO_UDP_CONNRESET)
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12) /* mswsock.h */
#endif

static int open_socket(int family, int socktype, sk_socket_t *out)
{
#ifdef SOCK_CLOEXEC
    sk_socket_t s = socket(family, socktype | SOCK_CLOEXEC, 0);
#else
    sk_socket_t s = socket(family, socktype, 0);
#endif
    if (s == SK_INVALID_SOCKET)
        return sk_socket_error();
    *out = s;
    return 0;
}

static int setsockopt_int(sk_socket_t s, int level, int name, int value)
{
    if (setsockopt(s, level, name, (const void *)&value, sizeof value) != 0)
        return sk_socket_error();
    return 0;
}

static int bind_one(const struct sk_listen_config *cfg, const struct addrinfo *ai,
                    sk_socket_t *out)
{
    sk_socket_t s = SK_INVALID_SOCKET;
    int rc = open_socket(ai->ai_family, cfg->socktype, &s);
    if (rc < 0)
        return rc;
#ifdef _WIN32
    /* Windows' SO_REUSEADDR lets another socket take over a port in use;
     * a server wants the opposite, and TIME_WAIT never blocks its bind. */
    if (!cfg->no_reuseaddr && cfg->socktype == SOCK_STREAM)
        (void)setsockopt_int(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1);
#else
    if (!cfg->no_reuseaddr)
        rc = setsockopt_int(s, SOL_SOCKET, SO_REUSEADDR, 1);
#endif
    /* An IPv6 wildcard also takes IPv4 (dual-stack); a specific IPv6
     * address stays IPv6-only so it never collides with an IPv4 bind. */
    if (rc == 0 && ai->ai_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ai->ai_addr;
        int any = IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr);
        rc = setsockopt_int(s, IPPROTO_IPV6, IPV6_V6ONLY, any ? 0 : 1);
    }
#ifdef _WIN32
    /* A reply to a peer that has gone makes Windows fail the next
     * recvfrom() with WSAECONNRESET; a server wants to ignore that. */
    if (rc == 0 && cfg->socktype == SOCK_DGRAM) {
        BOOL off = FALSE;
        DWORD got = 0;
        (void)WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof off, NULL, 0, &got, NULL, NULL);
    }
#endif
    for (int i = 0; rc == 0 && i < cfg->nsockopts; i++)
        rc = sk_sockopt_apply(s, cfg->sockopts[i]);
    if (rc == 0 && bind(s, ai->ai_addr, (sk_socklen_t)ai->ai_addrlen) != 0)
        rc = sk_socket_error();
    if (rc == 0 && cfg->socktype == SOCK_STREAM &&
        listen(s, cfg->backlog > 0 ? cfg->backlog : SK_DEFAULT_BACKLOG) != 0)
        rc = sk_socket_error();
    if (rc < 0) {
        sk_socket_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int sk_listen(const struct sk_listen_config *cfg, sk_socket_t *out,
              struct sk_addr *bound)
{
    struct addrinfo *list = NULL;
    const char *host = cfg->host;
    int rc;

    if (host == NULL || *host == '\0') {
        /* Prefer the dual-stack IPv6 wildcard; fall back to IPv4 on a
         * kernel built without IPv6. */
        rc = sk_addr_resolve("::", cfg->port, AF_INET6, cfg->socktype, 1, &list);
        if (rc == 0) {
            rc = bind_one(cfg, list, out);
            freeaddrinfo(list);
            list = NULL;
            if (rc == 0)
                goto bound;
            if (!sk_error_is(rc, EAFNOSUPPORT) && !sk_error_is(rc, EADDRNOTAVAIL))
                return rc;
        }
        host = "0.0.0.0";
    }
    rc = sk_addr_resolve(host, cfg->port, AF_UNSPEC, cfg->socktype, 1, &list);
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
    int rc = open_socket(sa->sa_family, socktype, &s);
    if (rc < 0)
        return rc;
    if (timeout_ms < 0 || socktype != SOCK_STREAM) {
        while ((rc = connect(s, sa, len)) != 0 && sk_socket_error() == -EINTR)
            ;
        if (rc != 0) {
            rc = sk_socket_error();
            sk_socket_close(s);
            return rc;
        }
        *out = s;
        return 0;
    }
    /* Non-blocking connect, wait for writability, then read SO_ERROR:
     * the one portable way to bound how long a connect may take. */
    if ((rc = sk_socket_set_nonblocking(s, 1)) < 0)
        goto fail;
    if (connect(s, sa, len) != 0) {
        rc = sk_socket_error();
        if (rc != -EINPROGRESS && !sk_error_would_block(rc))
            goto fail;
        uint64_t deadline = sk_now_ms() + (uint64_t)timeout_ms;
        for (;;) {
            uint64_t now = sk_now_ms();
            if (now >= deadline) {
                rc = -ETIMEDOUT;
                goto fail;
            }
            rc = sk_socket_wait(s, SK_WAIT_WRITE, (int)(deadline - now));
            if (rc == 1)
                break;
            if (rc < 0 && !sk_error_is(rc, EINTR))
                goto fail;
        }
        int err = 0;
        sk_socklen_t errlen = sizeof err;
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, (void *)&err, &errlen) != 0) {
            rc = sk_socket_error();
            goto fail;
        }
        if (err != 0) {
            rc = sk_socket_error_from(err);
            goto fail;
        }
    }
    if ((rc = sk_socket_set_nonblocking(s, 0)) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    sk_socket_close(s);
    return rc;
}

int sk_connect(const char *host, const char *port, int socktype,
               int timeout_ms, sk_socket_t *out)
{
    struct addrinfo *list = NULL;
    int rc = sk_addr_resolve(host, port, AF_UNSPEC, socktype, 0, &list);
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
    struct addrinfo *list = NULL;
    int rc = sk_addr_resolve(host, port, AF_UNSPEC, SOCK_DGRAM, 0, &list);
    if (rc < 0)
        return rc;
    rc = open_socket(list->ai_family, SOCK_DGRAM, out);
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
    a->len = sizeof a->ss;
#ifdef SOCK_CLOEXEC
    sk_socket_t s = accept4(listener, (struct sockaddr *)&a->ss, &a->len, SOCK_CLOEXEC);
#else
    sk_socket_t s = accept(listener, (struct sockaddr *)&a->ss, &a->len);
#endif
    if (s == SK_INVALID_SOCKET)
        return sk_socket_error();
    *out = s;
    return 0;
}

long sk_send_some(sk_socket_t s, const void *buf, size_t len)
{
    for (;;) {
        long n = (long)send(s, buf, len, SK_MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        int rc = sk_socket_error();
        if (rc != -EINTR)
            return rc;
    }
}

long sk_recv_some(sk_socket_t s, void *buf, size_t len)
{
    for (;;) {
        long n = (long)recv(s, buf, len, 0);
        if (n >= 0)
            return n;
        int rc = sk_socket_error();
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
    if (shutdown(s, SK_SHUT_WR) != 0)
        return sk_socket_error();
    return 0;
}

int sk_set_timeouts(sk_socket_t s, int recv_ms, int send_ms)
{
#ifdef _WIN32
    /* Winsock takes these as a DWORD of milliseconds, not a timeval. */
    DWORD ms;
    if (recv_ms >= 0) {
        ms = (DWORD)recv_ms;
        if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&ms, sizeof ms) != 0)
            return sk_socket_error();
    }
    if (send_ms >= 0) {
        ms = (DWORD)send_ms;
        if (setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, (const char *)&ms, sizeof ms) != 0)
            return sk_socket_error();
    }
    return 0;
#else
    struct timeval tv;
    if (recv_ms >= 0) {
        tv.tv_sec = recv_ms / 1000;
        tv.tv_usec = (recv_ms % 1000) * 1000;
        if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const void *)&tv, sizeof tv) != 0)
            return sk_socket_error();
    }
    if (send_ms >= 0) {
        tv.tv_sec = send_ms / 1000;
        tv.tv_usec = (send_ms % 1000) * 1000;
        if (setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, (const void *)&tv, sizeof tv) != 0)
            return sk_socket_error();
    }
    return 0;
#endif
}

int sk_local_addr(sk_socket_t s, struct sk_addr *out)
{
    out->len = sizeof out->ss;
    if (getsockname(s, (struct sockaddr *)&out->ss, &out->len) != 0)
        return sk_socket_error();
    return 0;
}

int sk_peer_addr(sk_socket_t s, struct sk_addr *out)
{
    out->len = sizeof out->ss;
    if (getpeername(s, (struct sockaddr *)&out->ss, &out->len) != 0)
        return sk_socket_error();
    return 0;
}
