/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockit/addr.h - addresses as people type them and as sockets want them.
 *
 * Accepted forms: HOST, PORT, HOST:PORT, [V6]:PORT, [V6], and a bare IPv6
 * address (more than one colon, no brackets).  HOST is a numeric IPv4 or
 * IPv6 address or a name for getaddrinfo(); PORT is 0-65535 or a service
 * name such as "echo".  Every malformed form is an error code, never a
 * guess.
 *
 * A Unix domain socket is named "unix:PATH" wherever a host goes
 * (sk_listen's host, sk_connect's host, whose port is then ignored).
 */
#ifndef SOCKIT_ADDR_H
#define SOCKIT_ADDR_H

#include <sockit/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest formatted address plus NUL: "[v6%scope]:port" needs 80,
 * "unix:PATH" 5 + 107 (Linux's sun_path less its NUL) + 1. */
#define SK_ADDRSTRLEN 120
#define SK_HOSTLEN 256
#define SK_PORTLEN 32

struct sk_addr {
    struct sockaddr_storage ss;
    sk_socklen_t len;
};

/* Split text into host and port; a part that is absent comes back "".
 * All-digit text is a port alone.  Returns 0 or SK_EADDRSYNTAX. */
int sk_addr_split(const char *text, char *host, size_t hostcap, char *port,
                  size_t portcap);

/* A port number from digits or a service name (echo, discard, daytime,
 * chargen, time are known even without /etc/services).  socktype picks
 * the protocol for service names (SOCK_STREAM or SOCK_DGRAM).  Returns
 * 0-65535 or SK_EPORT. */
int sk_port_parse(const char *text, int socktype);

/* getaddrinfo() with sockit's port rules.  host NULL or "" with passive
 * set means "any address".  family is AF_UNSPEC, AF_INET or AF_INET6.
 * Free the result with freeaddrinfo(). */
int sk_addr_resolve(const char *host, const char *port, int family,
                    int socktype, int passive, struct addrinfo **out);

/* The prefix that makes a host a Unix domain socket's path. */
#define SK_UNIX_PREFIX "unix:"

/* 1 if text is "unix:..." (the rest may still be invalid), else 0. */
int sk_addr_is_unix(const char *text);
/* "unix:PATH" into an AF_UNIX address.  SK_EADDRSYNTAX for an empty PATH
 * or one longer than sun_path holds; SK_ENOTAVAIL where the system has
 * no Unix domain sockets. */
int sk_addr_unix(const char *text, struct sk_addr *out);

/* Numeric host and port into an address; no name lookup. */
int sk_addr_numeric(const char *host, int port, struct sk_addr *out);

/* "127.0.0.1:7" or "[::1]:7"; a Unix socket is "unix:PATH", an unbound
 * one (a client's end) "unix:(unnamed)".  Returns the length or a
 * negative code. */
int sk_addr_format(const struct sockaddr *sa, char *buf, size_t cap);
/* Host part only: "127.0.0.1", "::1" ("unix:PATH" for a Unix socket). */
int sk_addr_format_host(const struct sockaddr *sa, char *buf, size_t cap);
/* Port of an AF_INET/AF_INET6 address, or -1. */
int sk_addr_port(const struct sockaddr *sa);
/* The family's name: "IPv4", "IPv6", "Unix" or "unknown". */
const char *sk_family_name(int family);

#ifdef __cplusplus
}
#endif

#endif
