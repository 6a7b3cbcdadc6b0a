/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockit/lookup.h - name to addresses and address to name, as a resolver
 * answers them.
 *
 * The tutorial teaches gethostbyname() and gethostbyaddr(): IPv4 only,
 * not thread-safe, and with their own error variable (h_errno).  sockit
 * answers from getaddrinfo() and getnameinfo() instead, which know IPv6
 * and report through sk codes, and asks gethostbyname_r() only for the
 * one thing it alone returns: the host's aliases.
 */
#ifndef SOCKIT_LOOKUP_H
#define SOCKIT_LOOKUP_H

#include <sockit/addr.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sk_lookup_address {
    int family;                  /* AF_INET or AF_INET6 */
    char text[INET6_ADDRSTRLEN]; /* "127.0.0.1", "::1" */
};

struct sk_lookup_result {
    char canonical[SK_HOSTLEN];  /* AI_CANONNAME; the name itself if none */
    char **aliases;              /* h_aliases, without the canonical name */
    size_t naliases;
    struct sk_lookup_address *addresses; /* resolver order, no duplicates */
    size_t naddresses;
};

/* 1 if text is a numeric IPv4 or IPv6 address (so a lookup is reverse). */
int sk_lookup_is_numeric(const char *text);

/* Forward lookup of name.  Returns 0 with *out filled (release it with
 * sk_lookup_free) or a code: SK_EAI_NONAME for an unknown name. */
int sk_lookup_forward(const char *name, struct sk_lookup_result *out);
void sk_lookup_free(struct sk_lookup_result *result);

/* Reverse lookup of a numeric address into name (NI_NAMEREQD: an
 * address without a name is SK_EAI_NONAME, never the address echoed
 * back).  Returns 0, SK_EADDRSYNTAX for text that is not an address, or
 * a code. */
int sk_lookup_reverse(const char *address, char *name, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
