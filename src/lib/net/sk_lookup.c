/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_lookup.c - forward and reverse name lookups.
 *
 * getaddrinfo() is asked with socktype 0, so it answers once per socket
 * type (stream, datagram, raw) for every address: the list is
 * deduplicated here so each address shows once, in the resolver's
 * preference order (RFC 6724).
 */
#include "sk_lookup.h"
#include "sk_trace.h"
#include "sk_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sk_lookup_is_numeric(const char *text)
{
    unsigned char raw[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, text, raw) == 1 || inet_pton(AF_INET6, text, raw) == 1;
}

void sk_lookup_free(struct sk_lookup_result *result)
{
    for (size_t i = 0; i < result->naliases; i++)
        free(result->aliases[i]);
    free(result->aliases);
    free(result->addresses);
    memset(result, 0, sizeof *result);
}

static int has_address(const struct sk_lookup_result *r, int family, const char *text)
{
    for (size_t i = 0; i < r->naddresses; i++)
        if (r->addresses[i].family == family && strcmp(r->addresses[i].text, text) == 0)
            return 1;
    return 0;
}

static int collect_addresses(const struct addrinfo *list, struct sk_lookup_result *r)
{
    size_t count = 0;
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next)
        count++;
    r->addresses = calloc(count ? count : 1, sizeof *r->addresses);
    if (r->addresses == NULL)
        return -ENOMEM;
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN];
        if (sk_addr_format_host(ai->ai_addr, text, sizeof text) < 0)
            continue; /* a family sockit cannot show */
        if (has_address(r, ai->ai_family, text))
            continue;
        struct sk_lookup_address *a = &r->addresses[r->naddresses++];
        a->family = ai->ai_family;
        memcpy(a->text, text, sizeof a->text);
    }
    return 0;
}

static int has_alias(const struct sk_lookup_result *r, const char *alias)
{
    if (strcmp(r->canonical, alias) == 0)
        return 1;
    for (size_t i = 0; i < r->naliases; i++)
        if (strcmp(r->aliases[i], alias) == 0)
            return 1;
    return 0;
}

static int copy_aliases(char *const *aliases, struct sk_lookup_result *r)
{
    size_t count = 0;
    while (aliases != NULL && aliases[count] != NULL)
        count++;
    if (count == 0)
        return 0;
    r->aliases = calloc(count, sizeof *r->aliases);
    if (r->aliases == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        if (has_alias(r, aliases[i]))
            continue;
        char *copy = strdup(aliases[i]);
        if (copy == NULL)
            return -ENOMEM;
        r->aliases[r->naliases++] = copy;
    }
    return 0;
}

/* The aliases come only from the tutorial's gethostbyname().  A name it
 * cannot find (an IPv6-only host, say) simply has no aliases: that is
 * not an error, since getaddrinfo() already found the name. */
static int find_aliases(const char *name, struct sk_lookup_result *r)
{
#if defined(__GLIBC__) || defined(__linux__)
    /* The reentrant form: gethostbyname() returns static storage that
     * another thread's lookup may overwrite. */
    size_t cap = 1024;
    for (;;) {
        char *buf = malloc(cap);
        if (buf == NULL)
            return -ENOMEM;
        struct hostent he, *found = NULL;
        int herr = 0;
        int rc = gethostbyname_r(name, &he, buf, cap, &found, &herr);
        if (SK_TRACING() && rc != ERANGE)
            sk__trace_model("gethostbyname_r", name, found != NULL ? 0 : -1,
                            found != NULL ? "the tutorial's older call: it knows the aliases"
                                          : "no entry (getaddrinfo found the name already)");
        if (rc == ERANGE && cap < (1u << 20)) {
            free(buf);
            cap *= 4;
            continue;
        }
        rc = (rc == 0 && found != NULL) ? copy_aliases(found->h_aliases, r) : 0;
        free(buf);
        return rc;
    }
#else
    struct hostent *found = gethostbyname(name);
    return found != NULL ? copy_aliases(found->h_aliases, r) : 0;
#endif
}

int sk_lookup_forward(const char *name, struct sk_lookup_result *out)
{
    memset(out, 0, sizeof *out);
    if (name == NULL || *name == '\0' || strlen(name) >= SK_HOSTLEN)
        return SK_EADDRSYNTAX;

    struct addrinfo hints, *list = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = AI_CANONNAME;
    int rc = getaddrinfo(name, NULL, &hints, &list);
    if (SK_TRACING())
        sk__trace_getaddrinfo(name, NULL, rc == 0 ? 0 : sk_error_from_gai(rc),
                              rc == 0 ? list : NULL);
    if (rc != 0)
        return sk_error_from_gai(rc);

    const char *canon = list->ai_canonname ? list->ai_canonname : name;
    size_t len = strlen(canon);
    if (len >= sizeof out->canonical)
        len = sizeof out->canonical - 1;
    memcpy(out->canonical, canon, len);
    out->canonical[len] = '\0';

    rc = collect_addresses(list, out);
    freeaddrinfo(list);
    if (rc == 0)
        rc = find_aliases(name, out);
    if (rc < 0)
        sk_lookup_free(out);
    return rc;
}

int sk_lookup_reverse(const char *address, char *name, size_t cap)
{
    struct sk_addr addr;
    int rc = sk_addr_numeric(address, 0, &addr);
    if (rc < 0)
        return rc;
    rc = getnameinfo((const struct sockaddr *)&addr.ss, addr.len, name,
                     (sk_socklen_t)cap, NULL, 0, NI_NAMEREQD);
    rc = rc == 0 ? 0 : sk_error_from_gai(rc);
    if (SK_TRACING())
        sk__trace_model("getnameinfo", address, rc, rc == 0 ? name : NULL);
    return rc;
}
