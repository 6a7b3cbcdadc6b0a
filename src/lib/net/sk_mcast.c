/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_mcast.c - multicast membership, TTL, loopback, interface, broadcast.
 *
 * IPv4 uses struct ip_mreqn where it exists (Linux): it names the
 * interface by index as well as by address, so an interface name works
 * for IPv4 too.  Elsewhere struct ip_mreq takes the interface's address
 * only.
 */
#include "sk_mcast.h"
#include "sk_trace.h"
#include "sk_error.h"

#include <errno.h>
#include <string.h>

int sk_mcast_is_group(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
        return (a >> 28) == 0xe; /* 1110: 224.0.0.0/4 */
    }
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_MULTICAST(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

/* What the trace calls an option this file sets. */
static const char *option_name(int level, int name)
{
    if (level == SOL_SOCKET && name == SO_BROADCAST)
        return "SOL_SOCKET, SO_BROADCAST";
    if (level == IPPROTO_IP) {
        switch (name) {
        case IP_ADD_MEMBERSHIP: return "IPPROTO_IP, IP_ADD_MEMBERSHIP";
        case IP_DROP_MEMBERSHIP: return "IPPROTO_IP, IP_DROP_MEMBERSHIP";
        case IP_MULTICAST_TTL: return "IPPROTO_IP, IP_MULTICAST_TTL";
        case IP_MULTICAST_LOOP: return "IPPROTO_IP, IP_MULTICAST_LOOP";
        case IP_MULTICAST_IF: return "IPPROTO_IP, IP_MULTICAST_IF";
#ifdef IP_MULTICAST_ALL
        case IP_MULTICAST_ALL: return "IPPROTO_IP, IP_MULTICAST_ALL";
#endif
        default: return "IPPROTO_IP, ?";
        }
    }
    if (level == IPPROTO_IPV6) {
        switch (name) {
        case IPV6_JOIN_GROUP: return "IPPROTO_IPV6, IPV6_JOIN_GROUP";
        case IPV6_LEAVE_GROUP: return "IPPROTO_IPV6, IPV6_LEAVE_GROUP";
        case IPV6_MULTICAST_HOPS: return "IPPROTO_IPV6, IPV6_MULTICAST_HOPS";
        case IPV6_MULTICAST_LOOP: return "IPPROTO_IPV6, IPV6_MULTICAST_LOOP";
        case IPV6_MULTICAST_IF: return "IPPROTO_IPV6, IPV6_MULTICAST_IF";
        default: return "IPPROTO_IPV6, ?";
        }
    }
    return "?";
}

static int set_option(sk_socket_t s, int level, int name, const void *value, size_t len)
{
    int rc = setsockopt(s, level, name, value, (sk_socklen_t)len) != 0 ? sk__socket_error() : 0;
    if (SK_TRACING())
        sk__trace_call(s, "setsockopt", option_name(level, name), rc, NULL, SK__TRACE_NO_TCP);
    return rc;
}

static int socket_family(sk_socket_t s)
{
    struct sockaddr_storage ss;
    sk_socklen_t len = sizeof ss;
    if (getsockname(s, (struct sockaddr *)&ss, &len) != 0)
        return sk__socket_error();
    return ss.ss_family;
}

/* An interface as an IPv4 address or an index; both zero = "any". */
static int parse_interface(const char *iface, struct in_addr *addr, unsigned *index)
{
    addr->s_addr = htonl(INADDR_ANY);
    *index = 0;
    if (iface == NULL || *iface == '\0')
        return 0;
    if (inet_pton(AF_INET, iface, addr) == 1)
        return 0;
    *index = sk__if_nametoindex(iface);
    return *index != 0 ? 0 : SK_EADDRSYNTAX;
}

static int membership(sk_socket_t s, const struct sockaddr *group, const char *iface,
                      int join)
{
    int family = socket_family(s);
    if (family < 0)
        return family;
    if (family != group->sa_family)
        return SK_EFAMILY;
    struct in_addr local;
    unsigned index;
    int rc = parse_interface(iface, &local, &index);
    if (rc < 0)
        return rc;

    if (group->sa_family == AF_INET) {
#ifdef __linux__
        struct ip_mreqn req;
        memset(&req, 0, sizeof req);
        req.imr_multiaddr = ((const struct sockaddr_in *)group)->sin_addr;
        req.imr_address = local;
        req.imr_ifindex = (int)index;
#else
        if (index != 0)
            return SK_ENOTAVAIL; /* ip_mreq names interfaces by address */
        struct ip_mreq req;
        memset(&req, 0, sizeof req);
        req.imr_multiaddr = ((const struct sockaddr_in *)group)->sin_addr;
        req.imr_interface = local;
#endif
        return set_option(s, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP,
                          &req, sizeof req);
    }
    if (group->sa_family == AF_INET6) {
        if (local.s_addr != htonl(INADDR_ANY))
            return SK_EFAMILY; /* IPv6 names the interface, not an address */
        struct ipv6_mreq req;
        memset(&req, 0, sizeof req);
        req.ipv6mr_multiaddr = ((const struct sockaddr_in6 *)group)->sin6_addr;
        req.ipv6mr_interface = index;
        return set_option(s, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP,
                          &req, sizeof req);
    }
    return SK_EFAMILY;
}

int sk_mcast_join(sk_socket_t s, const struct sockaddr *group, const char *iface)
{
#if defined(__linux__) && defined(IP_MULTICAST_ALL)
    /* Linux delivers to a socket bound to INADDR_ANY the datagrams of
     * every group any socket on the host joined, for that port.  Asking
     * for only this socket's groups is what the other stacks do. */
    if (group->sa_family == AF_INET) {
        int off = 0;
        int rc = set_option(s, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off);
        if (rc < 0 && rc != -ENOPROTOOPT)
            return rc;
    }
#endif
    return membership(s, group, iface, 1);
}

int sk_mcast_leave(sk_socket_t s, const struct sockaddr *group, const char *iface)
{
    return membership(s, group, iface, 0);
}

int sk_mcast_set_ttl(sk_socket_t s, int family, int ttl)
{
    if (ttl < 0 || ttl > 255)
        return SK_EOPTVALUE;
    if (family == AF_INET) {
        /* Linux takes an int or a byte; BSDs want a byte (u_char). */
#ifdef __linux__
        int value = ttl;
#else
        unsigned char value = (unsigned char)ttl;
#endif
        return set_option(s, IPPROTO_IP, IP_MULTICAST_TTL, &value, sizeof value);
    }
    if (family == AF_INET6)
        return set_option(s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl);
    return SK_EFAMILY;
}

int sk_mcast_set_loop(sk_socket_t s, int family, int on)
{
    if (family == AF_INET) {
#ifdef __linux__
        int value = on ? 1 : 0;
#else
        unsigned char value = on ? 1 : 0;
#endif
        return set_option(s, IPPROTO_IP, IP_MULTICAST_LOOP, &value, sizeof value);
    }
    if (family == AF_INET6) {
        unsigned value = on ? 1u : 0u;
        return set_option(s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &value, sizeof value);
    }
    return SK_EFAMILY;
}

int sk_mcast_set_interface(sk_socket_t s, int family, const char *iface)
{
    struct in_addr local;
    unsigned index;
    int rc = parse_interface(iface, &local, &index);
    if (rc < 0)
        return rc;
    if (family == AF_INET) {
#ifdef __linux__
        struct ip_mreqn req;
        memset(&req, 0, sizeof req);
        req.imr_address = local;
        req.imr_ifindex = (int)index;
        return set_option(s, IPPROTO_IP, IP_MULTICAST_IF, &req, sizeof req);
#else
        if (index != 0)
            return SK_ENOTAVAIL;
        return set_option(s, IPPROTO_IP, IP_MULTICAST_IF, &local, sizeof local);
#endif
    }
    if (family == AF_INET6) {
        if (local.s_addr != htonl(INADDR_ANY))
            return SK_EFAMILY;
        return set_option(s, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof index);
    }
    return SK_EFAMILY;
}

int sk_broadcast_enable(sk_socket_t s)
{
    int on = 1;
    return set_option(s, SOL_SOCKET, SO_BROADCAST, &on, sizeof on);
}
