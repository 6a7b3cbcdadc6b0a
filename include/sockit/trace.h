/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockit/trace.h - watch the socket calls and TCP's state (--trace).
 *
 * With tracing on, every socket-level event the library makes (socket,
 * setsockopt, bind, listen, accept, connect, recv, send, shutdown, close,
 * getaddrinfo, the datagram calls) and the models' own machinery
 * (epoll_wait/poll/select returning N ready, io_uring submissions and
 * completions, SIGIO per descriptor, IOCP completions, fork and waitpid)
 * is written as one line, in order, to a descriptor: the time since
 * sk_trace_open() in milliseconds, a connection id, the call with its
 * meaningful arguments and result, an errno by name with one line of
 * meaning, and a short escaped preview of the bytes.  TCP's own state
 * (TCP_INFO on Linux, SIO_TCP_INFO on Windows) is sampled after connect
 * and accept, on half-close, before close, and with SK_TRACE_TCP every
 * second per connection.
 *
 * Off (the default) it costs one predictable branch at each point: no
 * formatting, no allocation, no system call.  It never changes what the
 * program does: a sample is read with getsockopt() beside the call it
 * describes.  Turn it on once, before any socket is made or thread
 * started; it stays on for the process (and its forked children, whose
 * lines carry their pid).
 *
 * The text form, one event a line (a TCP sample is a second, indented
 * line of the same event):
 *
 *   trace <ms since start> #<conn or -> [<via>] <call>(<args>) = <result>[, peer A]
 *         [: <meaning>] ["<preview>"]
 *
 * The JSON form (SK_TRACE_JSON) is one object a line with these fields,
 * the ones that do not apply left out:
 *
 *   t_ms      number   milliseconds since sk_trace_open (3 decimals)
 *   pid       number   the process (a fork model's child has its own)
 *   conn      number   connection id, from 1 (absent: no connection)
 *   via       string   "io_uring completion", "IOCP completion"...
 *   call      string   "accept", "recv", "epoll_wait", "fork"...
 *   fd        number   the descriptor the call was made on
 *   size      number   the size asked for (recv's buffer, send's length)
 *   args      string   other arguments, as text ("SOL_SOCKET, SO_REUSEADDR, 1")
 *   result    number   what the call returned (-1 when it failed)
 *   errno     string   the error's name ("ECONNRESET") when it failed
 *   meaning   string   one line of what the result means
 *   addr      string   the address a call was given or got (bind, connect)
 *   peer      string   the peer (accept, recvfrom)
 *   ready     [number] pollers: the descriptors reported ready
 *   data      string   preview of the bytes, C-escaped (\n, \xNN), at most
 *                      SK_TRACE_PREVIEW bytes
 *   len       number   how many bytes the preview stands for
 *   tcp       object   a TCP_INFO sample: state (ESTABLISHED, CLOSE_WAIT,
 *                      FIN_WAIT2...), rtt_us, rttvar_us, cwnd (segments),
 *                      retrans, bytes_acked, bytes_received, unacked
 *                      (segments), sendq and recvq (bytes in the kernel's
 *                      buffers), about (what the state means, for the
 *                      states of the handshake and the close); or
 *                      {"unavailable": "why"}
 */
#ifndef SOCKIT_TRACE_H
#define SOCKIT_TRACE_H

#include <sockit/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SK_TRACE_TEXT 0
#define SK_TRACE_JSON 1

#define SK_TRACE_TCP 0x1u /* a TCP_INFO sample every second per connection */

#define SK_TRACE_PREVIEW 40 /* bytes of data shown per event */

struct sk_trace_options {
    int format;     /* SK_TRACE_TEXT or SK_TRACE_JSON */
    unsigned flags; /* SK_TRACE_TCP */
};

/* --trace's argument: NULL or "" (text), "text", "json", "tcp" or a
 * comma-separated mix ("json,tcp").  0, or SK_EOPTVALUE. */
int sk_trace_parse(const char *spec, struct sk_trace_options *out);

/* Start tracing to descriptor fd (2: stderr).  Once per process, before
 * sockets are made and threads started.  0 or a code. */
int sk_trace_open(int fd, const struct sk_trace_options *options);
/* 1 while tracing. */
int sk_trace_enabled(void);

/* For a program's own socket calls (the library's are traced already).
 * Each does nothing while tracing is off.  result is what the call
 * returned: >= 0, or a negative sk code when it failed. */

/* A call on fd: call(fd, args) = result.  args may be NULL. */
void sk_trace_call(sk_socket_t fd, const char *call, const char *args, long long result);
/* A send or receive of size bytes on a stream: the preview comes from
 * data (result bytes of it).  recv = 0 is told as the peer's FIN. */
void sk_trace_io(sk_socket_t fd, const char *call, size_t size, long long result,
                 const void *data);
/* A datagram to or from peer (sendto, recvfrom; peer may be NULL for a
 * connected socket's send/recv). */
void sk_trace_datagram(sk_socket_t fd, const char *call, size_t size, long long result,
                       const struct sockaddr *peer, const void *data);
/* A wait on descriptors (poll, select): n of them ready (or a code). */
void sk_trace_wait(const char *call, const char *args, long long n);
/* sk_socket_close() with a TCP sample before and the close after. */
int sk_close(sk_socket_t s);

#ifdef __cplusplus
}
#endif

#endif
