/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockit/mcast.h - multicast group membership and the options a multicast
 * or broadcast sender needs.
 *
 * IPv4 and IPv6 spell every one of these differently (IP_ADD_MEMBERSHIP
 * with struct ip_mreqn, IPV6_JOIN_GROUP with struct ipv6_mreq;
 * IP_MULTICAST_TTL vs IPV6_MULTICAST_HOPS), so each function takes the
 * group or family and picks the right call.  An interface is named by a
 * local IPv4 address ("10.9.0.1") or an interface name ("veth0"); NULL
 * or "" lets the routing table choose, which is what the tutorial's
 * INADDR_ANY means.
 */
#ifndef SOCKIT_MCAST_H
#define SOCKIT_MCAST_H

#include <sockit/addr.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if sa is a multicast group: 224.0.0.0/4 or ff00::/8. */
int sk_mcast_is_group(const struct sockaddr *sa);

/* Join or leave group on s (bound to the group's port).  Returns 0, a
 * code from the kernel (-EADDRNOTAVAIL, -ENODEV, ...) or SK_EFAMILY when
 * the socket and group families differ, SK_EADDRSYNTAX for a bad
 * interface. */
int sk_mcast_join(sk_socket_t s, const struct sockaddr *group, const char *iface);
int sk_mcast_leave(sk_socket_t s, const struct sockaddr *group, const char *iface);

/* How many routers a multicast datagram may cross: 0 = this host only,
 * 1 = this link (the default the kernel uses), up to 255. */
int sk_mcast_set_ttl(sk_socket_t s, int family, int ttl);
/* Whether this host's own members get a copy of what s sends. */
int sk_mcast_set_loop(sk_socket_t s, int family, int on);
/* The interface multicast from s leaves by (IP_MULTICAST_IF /
 * IPV6_MULTICAST_IF).  IPv6 takes an interface name only. */
int sk_mcast_set_interface(sk_socket_t s, int family, const char *iface);

/* Allow s to send to a broadcast address (SO_BROADCAST); without it the
 * kernel refuses with EACCES. */
int sk_broadcast_enable(sk_socket_t s);

#ifdef __cplusplus
}
#endif

#endif
