/*
 * sk_addr.h - addresses as people type them and as sockets want them.
 *
 * Accepted forms: HOST, PORT, HOST:PORT, [V6]:PORT, [V6], and a bare IPv6
 * address (more than one colon, no brackets).  HOST is a numeric IPv4 or
 * IPv6 address or a name for getaddrinfo(); PORT is 0-65535 or a service
 * name such as "echo".  Every malformed form is an error code, never a
 * guess.
 */
#ifndef SK_ADDR_H
#define SK_ADDR_H

#include "sk_compat.h"

/* Longest formatted "[v6%scope]:port" plus NUL. */
#define SK_ADDRSTRLEN 80
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

/* Numeric host and port into an address; no name lookup. */
int sk_addr_numeric(const char *host, int port, struct sk_addr *out);

/* "127.0.0.1:7" or "[::1]:7".  Returns the length or a negative code. */
int sk_addr_format(const struct sockaddr *sa, char *buf, size_t cap);
/* Host part only: "127.0.0.1", "::1". */
int sk_addr_format_host(const struct sockaddr *sa, char *buf, size_t cap);
/* Port of an AF_INET/AF_INET6 address, or -1. */
int sk_addr_port(const struct sockaddr *sa);
/* The family's name: "IPv4", "IPv6" or "unknown". */
const char *sk_family_name(int family);

#endif
