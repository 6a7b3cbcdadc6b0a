/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockit/sock.h - the socket calls every sockit program needs, done right.
 *
 * Listening sockets bind IPv4 and IPv6 (an empty host means every
 * address, dual-stack where the kernel allows), with SO_REUSEADDR on so a
 * restarted server binds at once despite TIME_WAIT.  Connecting tries
 * each resolved address in turn with a timeout.  The exact-length helpers
 * survive EINTR and partial transfers: TCP keeps no message boundaries,
 * so a reader must loop until it has every byte it expects.
 *
 * Unix domain sockets: a host "unix:PATH" (sockit/addr.h) listens on or
 * connects to that path instead, SOCK_STREAM only.  sk_listen removes a
 * file left at PATH only if it is a socket that nothing listens on (a
 * crashed server's), and refuses any other file; sk_listen_unlink
 * removes the file when the server stops.
 */
#ifndef SOCKIT_SOCK_H
#define SOCKIT_SOCK_H

#include <sockit/addr.h>
#include <sockit/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SK_DEFAULT_BACKLOG 511

struct sk_listen_config {
    const char *host;      /* NULL or "" = every address; "unix:PATH" */
    const char *port;      /* digits or a service name; "0" = any free port */
    int socktype;          /* SOCK_STREAM or SOCK_DGRAM */
    int backlog;           /* 0 = SK_DEFAULT_BACKLOG */
    int no_reuseaddr;      /* 1 to leave SO_REUSEADDR off */
    const char *const *sockopts; /* "name=value" applied before bind */
    int nsockopts;
    int family;            /* AF_INET or AF_INET6 only (an IPv6 wildcard then
                              takes no IPv4); 0 (AF_UNSPEC) = either */
};

/* Create, configure, bind and (for TCP) listen.  On success *out is the
 * socket and *bound (if not NULL) the address it really got, so port 0
 * becomes the port the kernel chose. */
int sk_listen(const struct sk_listen_config *cfg, sk_socket_t *out,
              struct sk_addr *bound);

/* The file of a Unix socket that sk_listen bound (bound as it returned
 * it): removed, so that no stale socket file stays behind.  Nothing for
 * other families.  0 or a code. */
int sk_listen_unlink(const struct sk_addr *bound);

/* Connect to host:port, trying each address; timeout_ms < 0 waits as long
 * as the kernel does.  For SOCK_DGRAM this makes a connected UDP socket.
 * A host "unix:PATH" connects to that Unix stream socket; port is
 * ignored (NULL is fine). */
int sk_connect(const char *host, const char *port, int socktype,
               int timeout_ms, sk_socket_t *out);
/* The same, to host's addresses of one family only (AF_INET, AF_INET6;
 * AF_UNSPEC = any): the -4 and -6 of the command's clients. */
int sk_connect_family(const char *host, const char *port, int family, int socktype,
                      int timeout_ms, sk_socket_t *out);
int sk_connect_addr(const struct sockaddr *sa, sk_socklen_t len, int socktype,
                    int timeout_ms, sk_socket_t *out);

/* A UDP socket of the family that fits host (for unconnected sendto),
 * with *dest filled in. */
int sk_udp_open(const char *host, const char *port, sk_socket_t *out,
                struct sk_addr *dest);
int sk_udp_open_family(const char *host, const char *port, int family, sk_socket_t *out,
                       struct sk_addr *dest);

/* accept() that retries EINTR-free races; the new socket is close-on-exec. */
int sk_accept(sk_socket_t listener, sk_socket_t *out, struct sk_addr *peer);

/* One send()/recv(): a byte count (0 = peer closed, for recv) or a code.
 * EINTR is retried.  send never raises SIGPIPE. */
long sk_send_some(sk_socket_t s, const void *buf, size_t len);
long sk_recv_some(sk_socket_t s, void *buf, size_t len);

/* Send every byte.  Returns 0 or a code. */
int sk_send_all(sk_socket_t s, const void *buf, size_t len);
/* Receive exactly len bytes.  Returns len, or SK_EEOF if the peer closed
 * first (*got, if not NULL, says how many arrived), or a code. */
long sk_recv_exact(sk_socket_t s, void *buf, size_t len, size_t *got);

int sk_shutdown_write(sk_socket_t s);
/* Receive and send timeouts (SO_RCVTIMEO/SO_SNDTIMEO); 0 = none. */
int sk_set_timeouts(sk_socket_t s, int recv_ms, int send_ms);
int sk_local_addr(sk_socket_t s, struct sk_addr *out);
int sk_peer_addr(sk_socket_t s, struct sk_addr *out);

#ifdef __cplusplus
}
#endif

#endif
