/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_sockopt.c - the socket option table and its text conversions.
 */
#include "sk_sockopt.h"
#include "sk_error.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_id {
    OPT_RCVBUF, OPT_SNDBUF, OPT_REUSEADDR, OPT_REUSEPORT, OPT_LINGER,
    OPT_NODELAY, OPT_KEEPALIVE, OPT_TTL, OPT_BROADCAST, OPT_MCAST_TTL,
    OPT_MCAST_LOOP, OPT_TYPE
};

static const struct sk_sockopt_info table[] = {
    [OPT_RCVBUF] = { "rcvbuf", SK_OPT_INT, 0, "receive buffer size in bytes (SO_RCVBUF)" },
    [OPT_SNDBUF] = { "sndbuf", SK_OPT_INT, 0, "send buffer size in bytes (SO_SNDBUF)" },
    [OPT_REUSEADDR] = { "reuseaddr", SK_OPT_BOOL, 0, "bind despite TIME_WAIT (SO_REUSEADDR)" },
    [OPT_REUSEPORT] = { "reuseport", SK_OPT_BOOL, 0, "several sockets share a port (SO_REUSEPORT)" },
    [OPT_LINGER] = { "linger", SK_OPT_LINGER, 0, "off, or seconds close() waits for unsent data (SO_LINGER)" },
    [OPT_NODELAY] = { "nodelay", SK_OPT_BOOL, 0, "send small segments at once, no Nagle (TCP_NODELAY)" },
    [OPT_KEEPALIVE] = { "keepalive", SK_OPT_BOOL, 0, "probe idle connections (SO_KEEPALIVE)" },
    [OPT_TTL] = { "ttl", SK_OPT_INT, 0, "hop limit of unicast packets (IP_TTL / IPV6_UNICAST_HOPS)" },
    [OPT_BROADCAST] = { "broadcast", SK_OPT_BOOL, 0, "allow sending to broadcast addresses (SO_BROADCAST)" },
    [OPT_MCAST_TTL] = { "multicast-ttl", SK_OPT_INT, 0, "hop limit of multicast packets (IP_MULTICAST_TTL)" },
    [OPT_MCAST_LOOP] = { "multicast-loop", SK_OPT_BOOL, 0, "deliver own multicast to this host (IP_MULTICAST_LOOP)" },
    [OPT_TYPE] = { "type", SK_OPT_TYPE, 1, "socket type (SO_TYPE), read-only" },
};

#define TABLE_LEN (sizeof table / sizeof *table)

const struct sk_sockopt_info *sk_sockopt_table(size_t *count)
{
    *count = TABLE_LEN;
    return table;
}

const struct sk_sockopt_info *sk_sockopt_find(const char *name)
{
    for (size_t i = 0; i < TABLE_LEN; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

static int socket_family(sk_socket_t s)
{
    struct sockaddr_storage ss;
    sk_socklen_t len = sizeof ss;
    if (getsockname(s, (struct sockaddr *)&ss, &len) != 0)
        return AF_INET;
    return ss.ss_family;
}

/* Level and option number for an id on this socket; -1 if the platform
 * lacks it. */
static int resolve(enum opt_id id, sk_socket_t s, int *level, int *name)
{
    int v6 = socket_family(s) == AF_INET6;
    *level = SOL_SOCKET;
    switch (id) {
    case OPT_RCVBUF: *name = SO_RCVBUF; return 0;
    case OPT_SNDBUF: *name = SO_SNDBUF; return 0;
    case OPT_REUSEADDR: *name = SO_REUSEADDR; return 0;
    case OPT_REUSEPORT:
#ifdef SO_REUSEPORT
        *name = SO_REUSEPORT; return 0;
#else
        return -1;
#endif
    case OPT_LINGER: *name = SO_LINGER; return 0;
    case OPT_NODELAY: *level = IPPROTO_TCP; *name = TCP_NODELAY; return 0;
    case OPT_KEEPALIVE: *name = SO_KEEPALIVE; return 0;
    case OPT_BROADCAST: *name = SO_BROADCAST; return 0;
    case OPT_TYPE: *name = SO_TYPE; return 0;
    case OPT_TTL:
        *level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
        *name = v6 ? IPV6_UNICAST_HOPS : IP_TTL;
        return 0;
    case OPT_MCAST_TTL:
        *level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
        *name = v6 ? IPV6_MULTICAST_HOPS : IP_MULTICAST_TTL;
        return 0;
    case OPT_MCAST_LOOP:
        *level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
        *name = v6 ? IPV6_MULTICAST_LOOP : IP_MULTICAST_LOOP;
        return 0;
    }
    return -1;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = { "1", "on", "yes", "true" };
    static const char *const no[] = { "0", "off", "no", "false" };
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0) { *out = 1; return 0; }
        if (strcmp(v, no[i]) == 0) { *out = 0; return 0; }
    }
    return SK_EOPTVALUE;
}

int sk__parse_size(const char *text, uint64_t max, uint64_t *out)
{
    const char *p = text;
    uint64_t n = 0;
    if (*p < '0' || *p > '9')
        return SK_EOPTVALUE;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return SK_EOPTVALUE;
        n = n * 10 + d;
    }
    unsigned shift = 0;
    switch (*p) {
    case 'k': case 'K': shift = 10; p++; break;
    case 'm': case 'M': shift = 20; p++; break;
    case 'g': case 'G': shift = 30; p++; break;
    default: break;
    }
    if (*p != '\0' || n > (max >> shift))
        return SK_EOPTVALUE;
    *out = n << shift;
    return 0;
}

int sk__sockopt_bool_in(const char *const *assignments, int n, const char *name,
                        int fallback)
{
    size_t len = strlen(name);
    int value = fallback;
    for (int i = 0; i < n; i++) {
        const char *a = assignments[i];
        int on;
        if (strncmp(a, name, len) == 0 && a[len] == '=' && parse_bool(a + len + 1, &on) == 0)
            value = on;
    }
    return value;
}

static int parse_size(const char *v, int *out)
{
    uint64_t n;
    if (sk__parse_size(v, 0x7fffffff, &n) < 0)
        return SK_EOPTVALUE;
    *out = (int)n;
    return 0;
}

static int parse_value(const struct sk_sockopt_info *info, const char *v,
                       struct linger *lg, int *num)
{
    switch (info->kind) {
    case SK_OPT_BOOL:
        return parse_bool(v, num);
    case SK_OPT_INT:
        return parse_size(v, num);
    case SK_OPT_LINGER: {
        int on = 0;
        memset(lg, 0, sizeof *lg);
        if (parse_bool(v, &on) == 0 && !on)
            return 0;
        int secs;
        if (parse_size(v, &secs) != 0 || secs > 65535)
            return SK_EOPTVALUE;
        lg->l_onoff = 1;
        lg->l_linger = secs;
        return 0;
    }
    case SK_OPT_TYPE:
        return SK_EREADONLY;
    }
    return SK_EOPTVALUE;
}

int sk_sockopt_set(sk_socket_t s, const char *name, const char *value)
{
    const struct sk_sockopt_info *info = sk_sockopt_find(name);
    if (info == NULL)
        return SK_EOPTION;
    if (info->readonly)
        return SK_EREADONLY;
    struct linger lg;
    int num = 0, level, opt;
    int rc = parse_value(info, value, &lg, &num);
    if (rc < 0)
        return rc;
    if (resolve((enum opt_id)(info - table), s, &level, &opt) != 0)
        return SK_ENOTAVAIL;
    const void *p = info->kind == SK_OPT_LINGER ? (const void *)&lg : (const void *)&num;
    sk_socklen_t len = info->kind == SK_OPT_LINGER ? sizeof lg : sizeof num;
    if (setsockopt(s, level, opt, p, len) != 0)
        return sk__socket_error();
    return 0;
}

int sk_sockopt_get(sk_socket_t s, const char *name, char *out, size_t cap)
{
    const struct sk_sockopt_info *info = sk_sockopt_find(name);
    if (info == NULL)
        return SK_EOPTION;
    int level, opt;
    if (resolve((enum opt_id)(info - table), s, &level, &opt) != 0)
        return SK_ENOTAVAIL;
    union {
        int num;
        unsigned char byte;
        struct linger lg;
    } v;
    memset(&v, 0, sizeof v);
    sk_socklen_t len = info->kind == SK_OPT_LINGER ? sizeof v.lg : sizeof v.num;
    if (getsockopt(s, level, opt, (void *)&v, &len) != 0)
        return sk__socket_error();
    /* Some stacks return multicast ttl/loop as one byte. */
    int num = len == 1 ? v.byte : v.num;
    switch (info->kind) {
    case SK_OPT_BOOL:
        snprintf(out, cap, "%s", num ? "on" : "off");
        break;
    case SK_OPT_INT:
        snprintf(out, cap, "%d", num);
        break;
    case SK_OPT_LINGER:
        if (v.lg.l_onoff)
            snprintf(out, cap, "%d", (int)v.lg.l_linger);
        else
            snprintf(out, cap, "off");
        break;
    case SK_OPT_TYPE:
        snprintf(out, cap, "%s", num == SOCK_STREAM ? "SOCK_STREAM"
                                 : num == SOCK_DGRAM ? "SOCK_DGRAM" : "other");
        break;
    }
    return 0;
}

static int split_assignment(const char *assignment, char *name, size_t cap,
                            const char **value)
{
    const char *eq = strchr(assignment, '=');
    if (eq == NULL || eq == assignment || (size_t)(eq - assignment) >= cap)
        return SK_EOPTION;
    memcpy(name, assignment, (size_t)(eq - assignment));
    name[eq - assignment] = '\0';
    *value = eq + 1;
    return 0;
}

int sk_sockopt_apply(sk_socket_t s, const char *assignment)
{
    char name[32];
    const char *value;
    int rc = split_assignment(assignment, name, sizeof name, &value);
    return rc < 0 ? rc : sk_sockopt_set(s, name, value);
}

int sk_sockopt_check(const char *assignment)
{
    char name[32];
    const char *value;
    int rc = split_assignment(assignment, name, sizeof name, &value);
    if (rc < 0)
        return rc;
    const struct sk_sockopt_info *info = sk_sockopt_find(name);
    if (info == NULL)
        return SK_EOPTION;
    if (info->readonly)
        return SK_EREADONLY;
    struct linger lg;
    int num;
    return parse_value(info, value, &lg, &num);
}
