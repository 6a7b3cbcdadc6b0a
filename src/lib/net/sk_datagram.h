/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_datagram.h - what every UDP server shares that needs no server: the
 * loop guard, the reply guard (loops and amplification) and the buffers
 * and system calls of a batch of datagrams.
 *
 * This is plain data over sockets and addresses.  It sits below
 * sk_server.h, which puts it to work for a service (sk_server_udp.c):
 * nothing here knows what a server, a model or a service is.
 */
#ifndef SK_DATAGRAM_H
#define SK_DATAGRAM_H

#include "sk_compat.h"

/* The UDP loop guard: NULL to answer, or a static reason to drop a
 * datagram from this source (ports that answer back, the server's own
 * port own_port, multicast/broadcast sources). */
const char *sk_datagram_guard(const struct sockaddr *from, int own_port);

/* The reply guard: per-source accounting that ends UDP loops between
 * services and rate-limits replies longer than their request.  Fixed-size
 * tables behind one lock; safe from several threads. */
struct sk__reflect;
int sk__reflect_open(struct sk__reflect **out);
void sk__reflect_close(struct sk__reflect *r);
/* Judge the reply (reply_len > 0 bytes) a service made to the datagram in
 * (len bytes) from `from`: NULL to send it (and remember it), else a
 * static reason to drop it.  *first is 1 when this drop starts limiting
 * the source, so that the caller logs once rather than per datagram.
 * r NULL judges every reply fine. */
const char *sk__reflect_judge(struct sk__reflect *r, const struct sockaddr *from, const void *in,
                             size_t len, const void *reply, size_t reply_len, int *first);

/* Datagrams a batch holds: one recvmmsg() and one sendmmsg() each. */
#define SK_DATAGRAM_BATCH 16
/* rx[i] takes a received datagram (cap = size + 1, so that one that fills
 * it was cut short), tx[i] the reply to send (cap = size). */
struct sk__datagram_batch {
    struct sk__dgram rx[SK_DATAGRAM_BATCH], tx[SK_DATAGRAM_BATCH];
    uint8_t data[];
};
/* Buffers for a batch of datagrams up to size bytes: about 2 x 16 x size. */
int sk__datagram_batch_new(size_t size, struct sk__datagram_batch **out);
void sk__datagram_batch_free(struct sk__datagram_batch *b);
/* Receive the datagrams waiting on the non-blocking socket fd into b->rx
 * (at most one batch).  How many (0: none waited, or only a previous
 * reply's port-unreachable came back), or a code. */
int sk__datagram_batch_recv(sk_socket_t fd, struct sk__datagram_batch *b);
/* Send b->tx[0 .. n-1], as many as the socket takes now. */
void sk__datagram_batch_send(sk_socket_t fd, const struct sk__datagram_batch *b, int n);

#endif
