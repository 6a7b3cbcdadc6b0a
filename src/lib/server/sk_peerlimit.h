/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_peerlimit.h - --max-per-ip: how many connections one address holds.
 *
 * One client address must not take every slot of --max-conns.  Each
 * model asks before serving a connection and tells when it ends; the
 * table counts connections per address (IPv4 and IPv6, an IPv4-mapped
 * IPv6 address counting as its IPv4 one) behind one mutex, since the
 * thread and pool models end connections on their own threads.  With no
 * limit set nothing is counted and nothing is locked.
 */
#ifndef SK_PEERLIMIT_H
#define SK_PEERLIMIT_H

#include "sk_compat.h"

#include <stdint.h>

/* An address as the table keys it: 16 bytes, IPv4 as IPv4-mapped IPv6. */
struct sk__peer_key {
    uint8_t bytes[16];
};

struct sk__peerlimit;

/* A table for at most limit connections per address; 0 or a code. */
int sk__peerlimit_open(long limit, struct sk__peerlimit **out);
void sk__peerlimit_close(struct sk__peerlimit *pl);
/* The key of a peer address (AF_INET or AF_INET6; others all share one). */
void sk__peer_key_of(const struct sockaddr *sa, struct sk__peer_key *key);
/* Count one more connection from key: 1 if it is within the limit, 0 if
 * it is one too many (nothing counted), or a code (-ENOMEM). */
int sk__peerlimit_enter(struct sk__peerlimit *pl, const struct sk__peer_key *key);
/* That connection ended. */
void sk__peerlimit_leave(struct sk__peerlimit *pl, const struct sk__peer_key *key);

#endif
