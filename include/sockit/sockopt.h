/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockit/sockopt.h - socket options by name.
 *
 * One table maps a friendly name (rcvbuf, nodelay, multicast-ttl, ...) to
 * its level, option and value kind, so the command line, the server's
 * --sockopt and `sockit sockopt` all speak the same names and values.
 * Options that differ between IPv4 and IPv6 (ttl, multicast-ttl,
 * multicast-loop) pick the right one from the socket's own family.
 */
#ifndef SOCKIT_SOCKOPT_H
#define SOCKIT_SOCKOPT_H

#include <sockit/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

enum sk_sockopt_kind {
    SK_OPT_BOOL,   /* on/off, yes/no, true/false, 1/0 */
    SK_OPT_INT,    /* non-negative integer; K, M suffixes for sizes */
    SK_OPT_LINGER, /* "off" or seconds */
    SK_OPT_TYPE    /* read-only socket type */
};

struct sk_sockopt_info {
    const char *name;
    enum sk_sockopt_kind kind;
    int readonly;
    const char *summary;
};

/* The table, for listing; *count gets its length. */
const struct sk_sockopt_info *sk_sockopt_table(size_t *count);
const struct sk_sockopt_info *sk_sockopt_find(const char *name);

/* Read an option as text ("on", "212992", "off", "SOCK_STREAM"). */
int sk_sockopt_get(sk_socket_t s, const char *name, char *out, size_t cap);
/* Set an option from text. */
int sk_sockopt_set(sk_socket_t s, const char *name, const char *value);
/* Set from "name=value". */
int sk_sockopt_apply(sk_socket_t s, const char *assignment);
/* Check "name=value" without a socket: SK_EOPTION, SK_EOPTVALUE,
 * SK_EREADONLY or 0. */
int sk_sockopt_check(const char *assignment);

#ifdef __cplusplus
}
#endif

#endif
