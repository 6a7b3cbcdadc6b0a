/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_trace.h - the library's side of sockit/trace.h: one structured
 * event, one emitter, and the few helpers the call sites use.
 *
 * Free when off: every call site reads as
 *
 *     if (SK_TRACING())
 *         sk__trace_io(fd, "recv", want, n, buf);
 *
 * so that with tracing off the cost is one load and one branch the
 * processor predicts, and nothing is formatted, allocated or called.
 * The helpers themselves assume tracing is on.
 *
 * A connection id belongs to a descriptor from accept() or connect()
 * (or socket(), for a client) until close(): a table indexed by the
 * descriptor keeps it, so any layer can trace knowing only the fd.
 */
#ifndef SK_TRACE_H
#define SK_TRACE_H

#include <sockit/trace.h>

#include "sk_compat.h"

extern int sk__trace_on;
extern unsigned sk__trace_flags;

#if defined(__GNUC__)
#define SK_TRACING() __builtin_expect(sk__trace_on != 0, 0)
#else
#define SK_TRACING() (sk__trace_on != 0)
#endif

/* The helpers are cold: the compiler moves the calls out of the hot path
 * and keeps the path with tracing off free of their register spills. */
#if defined(__GNUC__)
#define SK_TRACE_COLD __attribute__((cold))
#else
#define SK_TRACE_COLD
#endif

/* A hot function whose trace needs its arguments after the system call
 * would keep them in saved registers even with tracing off.  Such a
 * function is written once as an always-inline body with a constant
 * `traced` argument, and entered through
 *
 *     if (SK_TRACING())
 *         return fn_traced(...);     SK_TRACED_COPY: cold, never inlined
 *     return fn_body(..., 0);        the trace compiled out
 *
 * so that the path with tracing off is the untraced code plus one test. */
#if defined(__GNUC__)
#define SK_ALWAYS_INLINE inline __attribute__((always_inline))
#define SK_TRACED_COPY __attribute__((cold, noinline))
#else
#define SK_ALWAYS_INLINE inline
#define SK_TRACED_COPY
#endif

/* What turning Nagle off means, for the servers that do. */
#define SK_NODELAY_MEANING \
    "Nagle off: a small reply leaves at once, not after the last segment's ACK"
/* And leaving it on (--sockopt nodelay=off). */
#define SK_NAGLE_MEANING \
    "Nagle on: a small segment waits while an earlier one is unacknowledged"

/* Sample TCP_INFO every this often with SK_TRACE_TCP. */
#define SK_TRACE_TCP_PERIOD_MS 1000

/* What the trace attaches to an event. */
#define SK__TRACE_NO_TCP 0
#define SK__TRACE_WITH_TCP 1

struct sk__trace_event {
    const char *via;          /* "io_uring completion", NULL */
    const char *call;
    long conn;                /* 0: the fd's, or none */
    long long fd;             /* -1: none */
    long long size;           /* -1: none */
    const char *args;         /* other arguments as text, NULL */
    int has_result;
    long long result;         /* >= 0, or an sk code */
    const char *meaning;      /* NULL: the result's own (errno, EOF) */
    const char *addr;         /* bind, connect: the address */
    const char *peer;         /* accept, recvfrom */
    const int *ready;         /* pollers: descriptors ready */
    int nready;
    const void *data;         /* the bytes moved */
    size_t data_len;
    int stream;               /* recv = 0 means FIN */
    int with_tcp;             /* sample fd's TCP_INFO into the event */
    const struct sk__tcp_info *tcp; /* or a sample taken already */
    int tcp_rc;               /* ... and its result */
};

SK_TRACE_COLD void sk__trace_emit(const struct sk__trace_event *ev);
/* Tracing off again (the unit tests, which share one process). */
SK_TRACE_COLD void sk__trace_stop(void);

/* call(fd, args) = rc.  meaning may be NULL. */
SK_TRACE_COLD void sk__trace_call(sk_socket_t fd, const char *call, const char *args, long long rc,
                    const char *meaning, int with_tcp);
/* A stream send or receive (recv = 0: the peer's FIN, with a sample). */
SK_TRACE_COLD void sk__trace_io(sk_socket_t fd, const char *call, size_t size, long long rc,
                  const void *data);
/* The same, for a completion that the kernel finished (io_uring, IOCP). */
SK_TRACE_COLD void sk__trace_completion(const char *via, sk_socket_t fd, const char *call, size_t size,
                          long long rc, const void *data);
/* accept() on listener gave rc (the new descriptor, or a code); a new
 * connection id for it, its peer and a TCP sample. */
SK_TRACE_COLD void sk__trace_accept(const char *via, sk_socket_t listener, long long rc,
                      const struct sockaddr *peer);
/* A descriptor starts being a connection (a client's socket()). */
SK_TRACE_COLD long sk__trace_conn_new(sk_socket_t fd);
/* fd is no connection after all (a listener): its events carry none. */
SK_TRACE_COLD void sk__trace_conn_forget(sk_socket_t fd);
/* A datagram to or from peer. */
SK_TRACE_COLD void sk__trace_datagram(sk_socket_t fd, const char *call, size_t size, long long rc,
                        const struct sockaddr *peer, const void *data);
/* A poller's wait: n ready (fds[0..n) of them when not NULL), or a code. */
SK_TRACE_COLD void sk__trace_ready(const char *call, const char *args, int n, const int *fds);
/* Close fd, tracing it: the TCP sample taken just before, close(fd) = rc;
 * the connection id ends. */
SK_TRACE_COLD int sk__trace_close_socket(sk_socket_t fd);
/* A sample of fd's TCP state on its own line (why: "every second"). */
SK_TRACE_COLD void sk__trace_tcp(sk_socket_t fd, const char *why);
/* getaddrinfo(host, port) = rc, with the addresses it gave. */
SK_TRACE_COLD void sk__trace_getaddrinfo(const char *host, const char *port, int rc,
                           const struct addrinfo *list);
/* A model's own event with no descriptor (fork() = pid, waitpid). */
SK_TRACE_COLD void sk__trace_model(const char *call, const char *args, long long rc, const char *meaning);

/* sk_socket_close with its trace: the one close of a connection. */
static inline int sk__close_traced(sk_socket_t fd)
{
    if (SK_TRACING())
        return sk__trace_close_socket(fd);
    return sk_socket_close(fd);
}

#endif
