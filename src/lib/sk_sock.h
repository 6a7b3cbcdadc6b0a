/*
 * sk_sock.h - the socket calls every sockit program needs, done right.
 *
 * Listening sockets bind IPv4 and IPv6 (an empty host means every
 * address, dual-stack where the kernel allows), with SO_REUSEADDR on so a
 * restarted server binds at once despite TIME_WAIT.  Connecting tries
 * each resolved address in turn with a timeout.  The exact-length helpers
 * survive EINTR and partial transfers: TCP keeps no message boundaries,
 * so a reader must loop until it has every byte it expects.
 */
#ifndef SK_SOCK_H
#define SK_SOCK_H

#include "sk_addr.h"
#include "sk_compat.h"

#define SK_DEFAULT_BACKLOG 511

struct sk_listen_config {
    const char *host;      /* NULL or "" = every address */
    const char *port;      /* digits or a service name; "0" = any free port */
    int socktype;          /* SOCK_STREAM or SOCK_DGRAM */
    int backlog;           /* 0 = SK_DEFAULT_BACKLOG */
    int no_reuseaddr;      /* 1 to leave SO_REUSEADDR off */
    const char *const *sockopts; /* "name=value" applied before bind */
    int nsockopts;
};

/* Create, configure, bind and (for TCP) listen.  On success *out is the
 * socket and *bound (if not NULL) the address it really got, so port 0
 * becomes the port the kernel chose. */
int sk_listen(const struct sk_listen_config *cfg, sk_socket_t *out,
              struct sk_addr *bound);

/* Connect to host:port, trying each address; timeout_ms < 0 waits as long
 * as the kernel does.  For SOCK_DGRAM this makes a connected UDP socket. */
int sk_connect(const char *host, const char *port, int socktype,
               int timeout_ms, sk_socket_t *out);
int sk_connect_addr(const struct sockaddr *sa, sk_socklen_t len, int socktype,
                    int timeout_ms, sk_socket_t *out);

/* A UDP socket of the family that fits host (for unconnected sendto),
 * with *dest filled in. */
int sk_udp_open(const char *host, const char *port, sk_socket_t *out,
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

#endif
