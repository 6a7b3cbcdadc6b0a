/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_addr.c - parsing and formatting of host/port text.
 */
#include "sk_addr.h"
#include "sk_error.h"
#include "sk_trace.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The RFC services sockit serves, so that "echo" works on a machine whose
 * /etc/services is missing (minimal containers lack netbase). */
static const struct {
    const char *name;
    int port;
} builtin_services[] = {
    { "echo", 7 }, { "discard", 9 }, { "daytime", 13 }, { "chargen", 19 },
    { "time", 37 },
};

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static int copy_part(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        return SK_EADDRSYNTAX;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

int sk_addr_split(const char *text, char *host, size_t hostcap, char *port,
                  size_t portcap)
{
    if (hostcap == 0 || portcap == 0)
        return SK_EADDRSYNTAX;
    host[0] = port[0] = '\0';
    if (text == NULL || *text == '\0')
        return SK_EADDRSYNTAX;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close == text + 1)
            return SK_EADDRSYNTAX;
        if (copy_part(host, hostcap, text + 1, (size_t)(close - text - 1)))
            return SK_EADDRSYNTAX;
        if (strchr(host, '[') || strchr(host, ']'))
            return SK_EADDRSYNTAX;
        if (close[1] == '\0')
            return 0;
        if (close[1] != ':' || close[2] == '\0')
            return SK_EADDRSYNTAX;
        return copy_part(port, portcap, close + 2, strlen(close + 2));
    }
    if (strchr(text, ']'))
        return SK_EADDRSYNTAX;

    const char *colon = strchr(text, ':');
    if (colon == NULL) {
        if (all_digits(text))
            return copy_part(port, portcap, text, strlen(text));
        return copy_part(host, hostcap, text, strlen(text));
    }
    if (strchr(colon + 1, ':') != NULL) /* bare IPv6 literal */
        return copy_part(host, hostcap, text, strlen(text));
    if (colon == text || colon[1] == '\0')
        return SK_EADDRSYNTAX;
    if (copy_part(host, hostcap, text, (size_t)(colon - text)))
        return SK_EADDRSYNTAX;
    return copy_part(port, portcap, colon + 1, strlen(colon + 1));
}

int sk_port_parse(const char *text, int socktype)
{
    if (text == NULL || *text == '\0')
        return SK_EPORT;
    if (all_digits(text)) {
        if (strlen(text) > 5)
            return SK_EPORT;
        long v = strtol(text, NULL, 10);
        return v <= 65535 ? (int)v : SK_EPORT;
    }
    for (size_t i = 0; i < sizeof builtin_services / sizeof *builtin_services; i++)
        if (strcmp(text, builtin_services[i].name) == 0)
            return builtin_services[i].port;
    /* Service names are words; getaddrinfo would also take " 0" or "+7". */
    for (const char *p = text; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return SK_EPORT;

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = socktype ? socktype : SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(NULL, text, &hints, &res) != 0 || res == NULL)
        return SK_EPORT;
    int port = sk_addr_port(res->ai_addr);
    freeaddrinfo(res);
    return port >= 0 ? port : SK_EPORT;
}

int sk_addr_resolve(const char *host, const char *port, int family,
                    int socktype, int passive, struct addrinfo **out)
{
    char portbuf[16];
    int p = sk_port_parse(port ? port : "0", socktype);
    if (p < 0)
        return p;
    snprintf(portbuf, sizeof portbuf, "%d", p);

    if (host != NULL && (strlen(host) >= SK_HOSTLEN || strchr(host, '[') ||
                         strchr(host, ']') || strchr(host, '/')))
        return SK_EADDRSYNTAX;

    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    if (host != NULL && *host == '\0')
        host = NULL;
    if (host == NULL && !passive)
        host = "localhost";
    int rc = getaddrinfo(host, portbuf, &hints, out);
    rc = rc == 0 ? 0 : sk_error_from_gai(rc);
    if (SK_TRACING())
        sk__trace_getaddrinfo(host, portbuf, rc, rc == 0 ? *out : NULL);
    return rc;
}

int sk_addr_is_unix(const char *text)
{
    return text != NULL && strncmp(text, SK_UNIX_PREFIX, sizeof SK_UNIX_PREFIX - 1) == 0;
}

int sk_addr_unix(const char *text, struct sk_addr *out)
{
    memset(out, 0, sizeof *out);
    if (!sk_addr_is_unix(text))
        return SK_EADDRSYNTAX;
#ifdef SK_HAVE_AF_UNIX
    const char *path = text + sizeof SK_UNIX_PREFIX - 1;
    struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
    size_t len = strlen(path);
    /* Linux's abstract names (a leading NUL) cannot be typed; a path must
     * fit sun_path with its NUL, or the kernel would bind a cut name. */
    if (len == 0 || len >= sizeof un->sun_path)
        return SK_EADDRSYNTAX;
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, len + 1);
    out->len = (sk_socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    return 0;
#else
    return SK_ENOTAVAIL;
#endif
}

/* "unix:PATH" of an AF_UNIX address; the path need not end in a NUL
 * within sun_path (the kernel may fill it to the last byte). */
static int format_unix(const struct sockaddr *sa, char *buf, size_t cap)
{
#ifdef SK_HAVE_AF_UNIX
    const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
    size_t n = strnlen(un->sun_path, sizeof un->sun_path);
    int w = n == 0 ? snprintf(buf, cap, "%s(unnamed)", SK_UNIX_PREFIX)
                   : snprintf(buf, cap, "%s%.*s", SK_UNIX_PREFIX, (int)n, un->sun_path);
    if (w < 0 || (size_t)w >= cap)
        return SK_EADDRSYNTAX;
    return w;
#else
    (void)sa, (void)buf, (void)cap;
    return SK_EFAMILY;
#endif
}

int sk_addr_numeric(const char *host, int port, struct sk_addr *out)
{
    memset(out, 0, sizeof *out);
    if (port < 0 || port > 65535)
        return SK_EPORT;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        out->len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        out->len = sizeof *v6;
        return 0;
    }
    return SK_EADDRSYNTAX;
}

int sk_addr_format_host(const struct sockaddr *sa, char *buf, size_t cap)
{
    const void *raw;
    if (sa->sa_family == AF_UNIX)
        return format_unix(sa, buf, cap);
    if (sa->sa_family == AF_INET)
        raw = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        raw = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    else
        return SK_EFAMILY;
    if (inet_ntop(sa->sa_family, raw, buf, (sk_socklen_t)cap) == NULL)
        return sk_error_last();
    return (int)strlen(buf);
}

int sk_addr_format(const struct sockaddr *sa, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_UNIX)
        return format_unix(sa, buf, cap);
    int rc = sk_addr_format_host(sa, host, sizeof host);
    if (rc < 0)
        return rc;
    int n = snprintf(buf, cap, sa->sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d",
                     host, sk_addr_port(sa));
    if (n < 0 || (size_t)n >= cap)
        return SK_EADDRSYNTAX;
    return n;
}

int sk_addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return -1;
}

const char *sk_family_name(int family)
{
    return family == AF_INET    ? "IPv4"
           : family == AF_INET6 ? "IPv6"
           : family == AF_UNIX  ? "Unix"
                                : "unknown";
}
