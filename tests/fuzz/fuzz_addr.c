/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_addr.c - the address text parsers of sk_addr.c.
 *
 * Feeds: one control byte, then text (cut at its first NUL, in a heap
 * buffer of exactly its size so ASan sees any overread) given to
 * sk_addr_split (with roomy buffers and with tiny fuzzer-chosen ones),
 * sk_port_parse (TCP and UDP), sk_addr_numeric and sk_family_name; and the
 * same bytes as a raw sockaddr_in or sockaddr_in6 given to sk_addr_format,
 * sk_addr_format_host and sk_addr_port.
 *
 * Asserts:
 *   - split returns 0 or SK_EADDRSYNTAX; a success gives back parts that
 *     put together again are the text ("[H]:P", "H:P", "H", "P", a bare
 *     IPv6 literal), never an empty host with a non-numeric port, and
 *     parts that split again the same way once bracketed; small buffers
 *     fail exactly when a part does not fit, and never change a result.
 *   - port parsing returns 0-65535 or SK_EPORT; digits give their value
 *     (at most 5 of them); anything but letters, digits, '-', '_', '.'
 *     is refused without a lookup.
 *   - every address sk_addr_numeric accepts, and every raw AF_INET or
 *     AF_INET6 address, formats in fewer than SK_ADDRSTRLEN bytes, and
 *     the text parses back (split, port, numeric) to the same address and
 *     port; a short buffer gives an error or a NUL-terminated string that
 *     fits, never an overflow; other families give SK_EFAMILY and port -1.
 *
 * Why: these functions take what users type on the command line and the
 * addresses the kernel hands back, and their results go straight into
 * sockaddr structures and log lines.
 *
 * Not fuzzed: sk_addr_resolve, because for an arbitrary host it calls
 * getaddrinfo() on the name, which may query DNS over the network.
 * sk_port_parse does call getaddrinfo(), but with a NULL host: that is a
 * service-name lookup in the local services database, no network.
 */
#include "fuzz.h"
#include "sk_addr.h"
#include "sk_error.h"

#include <ctype.h>
#include <string.h>

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* sk_addr_split into heap buffers of exactly hostcap and portcap bytes. */
static int split(const char *text, size_t hostcap, size_t portcap, char **host, char **port)
{
    *host = malloc(hostcap ? hostcap : 1);
    *port = malloc(portcap ? portcap : 1);
    FUZZ_CHECK(*host != NULL && *port != NULL, "out of memory");
    int rc = sk_addr_split(text, *host, hostcap, *port, portcap);
    FUZZ_CHECK(rc == 0 || rc == SK_EADDRSYNTAX, "split(\"%s\") returned %d", text, rc);
    if (rc == 0) {
        FUZZ_CHECK(memchr(*host, '\0', hostcap) != NULL, "host not terminated");
        FUZZ_CHECK(memchr(*port, '\0', portcap) != NULL, "port not terminated");
    }
    return rc;
}

/* What a successful split must say about the text it came from. */
static void check_split_shape(const char *text, const char *h, const char *p)
{
    size_t tl = strlen(text), hl = strlen(h), pl = strlen(p);
    if (text[0] == '[') {
        FUZZ_CHECK(hl > 0 && !strchr(h, '[') && !strchr(h, ']'), "\"%s\": host \"%s\"", text, h);
        FUZZ_CHECK(text[hl + 1] == ']' && memcmp(text + 1, h, hl) == 0, "\"%s\": host \"%s\"",
                   text, h);
        if (pl == 0)
            FUZZ_CHECK(tl == hl + 2, "\"%s\": trailing text", text);
        else
            FUZZ_CHECK(tl == hl + 3 + pl && text[hl + 2] == ':' &&
                           strcmp(text + hl + 3, p) == 0,
                       "\"%s\" is not [%s]:%s", text, h, p);
        return;
    }
    FUZZ_CHECK(strchr(text, ']') == NULL, "\"%s\" accepted with a ']'", text);
    if (hl == 0) {
        FUZZ_CHECK(all_digits(text) && strcmp(text, p) == 0,
                   "\"%s\": no host, port \"%s\" (only digits are a port alone)", text, p);
    } else if (pl == 0) {
        const char *colon = strchr(text, ':');
        FUZZ_CHECK(strcmp(text, h) == 0, "\"%s\": host \"%s\"", text, h);
        FUZZ_CHECK(!all_digits(text), "\"%s\" taken as a host", text);
        FUZZ_CHECK(colon == NULL || strchr(colon + 1, ':') != NULL,
                   "\"%s\": one colon but no port", text);
    } else {
        FUZZ_CHECK(tl == hl + 1 + pl && text[hl] == ':' && memcmp(text, h, hl) == 0 &&
                       strcmp(text + hl + 1, p) == 0 && !strchr(h, ':') && !strchr(p, ':'),
                   "\"%s\" is not %s:%s", text, h, p);
    }
}

static void check_split(const char *text, uint8_t ctrl)
{
    size_t tl = strlen(text);
    char *h, *p, *h2, *p2;

    /* Buffers that always fit: the reference result. */
    int rc = split(text, tl + 1, tl + 1, &h, &p);
    if (rc == 0)
        check_split_shape(text, h, p);

    /* sockit's own sizes, then tiny ones the fuzzer picks. */
    size_t caps[2][2] = { { SK_HOSTLEN, SK_PORTLEN },
                          { (size_t)(ctrl & 7), (size_t)(ctrl >> 3 & 7) } };
    for (int i = 0; i < 2; i++) {
        int rc2 = split(text, caps[i][0], caps[i][1], &h2, &p2);
        int fits = rc == 0 && strlen(h) < caps[i][0] && strlen(p) < caps[i][1];
        FUZZ_CHECK((rc2 == 0) == fits, "\"%s\" with caps %zu/%zu: %d (reference %d)", text,
                   caps[i][0], caps[i][1], rc2, rc);
        if (rc2 == 0)
            FUZZ_CHECK(strcmp(h, h2) == 0 && strcmp(p, p2) == 0, "\"%s\": caps change parts",
                       text);
        free(h2);
        free(p2);
    }

    /* Bracketed, the parts split back to themselves. */
    if (rc == 0 && h[0] != '\0' && !strchr(h, '[')) {
        size_t n = strlen(h) + strlen(p) + 4;
        char *joined = malloc(n);
        FUZZ_CHECK(joined != NULL, "out of memory");
        snprintf(joined, n, p[0] ? "[%s]:%s" : "[%s]", h, p);
        FUZZ_CHECK(split(joined, n, n, &h2, &p2) == 0, "\"%s\" (from \"%s\") refused", joined,
                   text);
        FUZZ_CHECK(strcmp(h, h2) == 0 && strcmp(p, p2) == 0, "\"%s\" splits differently",
                   joined);
        free(h2);
        free(p2);
        free(joined);
    }
    free(h);
    free(p);
}

static void check_port(const char *text)
{
    static const int types[] = { SOCK_STREAM, SOCK_DGRAM };
    for (int t = 0; t < 2; t++) {
        int rc = sk_port_parse(text, types[t]);
        FUZZ_CHECK(rc == SK_EPORT || (rc >= 0 && rc <= 65535), "port(\"%s\") = %d", text, rc);
        if (all_digits(text)) {
            long v = strlen(text) <= 5 ? strtol(text, NULL, 10) : 99999;
            FUZZ_CHECK(rc == (v <= 65535 ? (int)v : SK_EPORT), "port(\"%s\") = %d", text, rc);
            continue;
        }
        for (const char *c = text; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
                FUZZ_CHECK(rc == SK_EPORT, "port(\"%s\") = %d", text, rc);
    }
}

/* Format sa, parse the text back, and compare what a datagram's reply
 * would be sent to: the family, the address and the port. */
static void check_format_round_trip(const struct sockaddr *sa, size_t small_cap)
{
    char buf[SK_ADDRSTRLEN], hostbuf[SK_ADDRSTRLEN];
    int n = sk_addr_format(sa, buf, sizeof buf);
    int port = sk_addr_port(sa);
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
        FUZZ_CHECK(n == SK_EFAMILY && port == -1, "family %d: format %d, port %d",
                   sa->sa_family, n, port);
        FUZZ_CHECK(sk_addr_format_host(sa, hostbuf, sizeof hostbuf) == SK_EFAMILY,
                   "family %d formatted", sa->sa_family);
        return;
    }
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof buf && strlen(buf) == (size_t)n,
               "format gave %d", n);
    FUZZ_CHECK(port >= 0 && port <= 65535, "port %d", port);
    int hn = sk_addr_format_host(sa, hostbuf, sizeof hostbuf);
    FUZZ_CHECK(hn > 0 && strlen(hostbuf) == (size_t)hn, "format_host gave %d", hn);

    char *h, *p;
    FUZZ_CHECK(split(buf, SK_HOSTLEN, SK_PORTLEN, &h, &p) == 0, "\"%s\" does not split", buf);
    FUZZ_CHECK(strcmp(h, hostbuf) == 0, "\"%s\": host \"%s\", format_host \"%s\"", buf, h,
               hostbuf);
    int port2 = sk_port_parse(p, SOCK_DGRAM);
    FUZZ_CHECK(port2 == port, "\"%s\": port %d, expected %d", buf, port2, port);
    struct sk_addr back;
    FUZZ_CHECK(sk_addr_numeric(h, port2, &back) == 0, "\"%s\" is not numeric", buf);
    const struct sockaddr *b = (const struct sockaddr *)&back.ss;
    FUZZ_CHECK(b->sa_family == sa->sa_family, "\"%s\": family changed", buf);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)sa, *y = (const void *)b;
        FUZZ_CHECK(back.len == sizeof *y && x->sin_addr.s_addr == y->sin_addr.s_addr &&
                       x->sin_port == y->sin_port,
                   "\"%s\" does not parse back to the address", buf);
    } else {
        const struct sockaddr_in6 *x = (const void *)sa, *y = (const void *)b;
        FUZZ_CHECK(back.len == sizeof *y &&
                       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0 &&
                       x->sin6_port == y->sin6_port,
                   "\"%s\" does not parse back to the address", buf);
    }
    free(h);
    free(p);

    /* A short buffer: an error, or the same text if it fits. */
    char *tight = malloc(small_cap ? small_cap : 1);
    FUZZ_CHECK(tight != NULL, "out of memory");
    int tn = sk_addr_format(sa, tight, small_cap);
    if ((size_t)n < small_cap)
        FUZZ_CHECK(tn == n && strcmp(tight, buf) == 0, "cap %zu: %d", small_cap, tn);
    else
        FUZZ_CHECK(tn < 0, "cap %zu: %d for \"%s\"", small_cap, tn, buf);
    tn = sk_addr_format_host(sa, tight, small_cap);
    if ((size_t)hn < small_cap)
        FUZZ_CHECK(tn == hn && strcmp(tight, hostbuf) == 0, "host cap %zu: %d", small_cap, tn);
    else
        FUZZ_CHECK(tn < 0, "host cap %zu: %d for \"%s\"", small_cap, tn, hostbuf);
    free(tight);
}

static void check_numeric(const char *text, uint8_t ctrl, unsigned port_bits)
{
    /* Out-of-range ports must be refused before the host is looked at. */
    int port = (int)port_bits - (ctrl & 0x40 ? 100 : 0); /* -100 .. 65535 */
    if (ctrl & 0x80)
        port += 65536 - 100; /* up to 131071 */
    struct sk_addr a;
    int rc = sk_addr_numeric(text, port, &a);
    if (port < 0 || port > 65535) {
        FUZZ_CHECK(rc == SK_EPORT, "numeric(\"%s\", %d) = %d", text, port, rc);
        return;
    }
    FUZZ_CHECK(rc == 0 || rc == SK_EADDRSYNTAX, "numeric(\"%s\") = %d", text, rc);
    if (rc != 0)
        return;
    FUZZ_CHECK(sk_addr_port((const struct sockaddr *)&a.ss) == port, "port lost");
    check_format_round_trip((const struct sockaddr *)&a.ss, (size_t)(ctrl & 63));
}

static void check_raw(const uint8_t *bytes, size_t len, uint8_t ctrl)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    static const int families[] = { AF_INET, AF_INET6, AF_INET6, AF_UNIX };
    int family = families[ctrl >> 6];
    size_t want = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    memcpy(&ss, bytes, len < want ? len : want);
    ss.ss_family = (sa_family_t)family;
    check_format_round_trip((const struct sockaddr *)&ss, (size_t)(ctrl & 63));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = { data, size };
    uint8_t ctrl = fuzz_byte(&in);
    unsigned port_bits = fuzz_u16(&in);
    const uint8_t *rest;
    size_t n = fuzz_take(&in, in.len, &rest);

    const uint8_t *nul = memchr(rest, '\0', n);
    size_t tl = nul ? (size_t)(nul - rest) : n;
    char *text = malloc(tl + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, rest, tl);
    text[tl] = '\0';

    check_split(text, ctrl);
    check_port(text);
    check_numeric(text, ctrl, port_bits);
    check_raw(rest, n, ctrl);
    FUZZ_CHECK(sk_family_name((int)(port_bits | (unsigned)ctrl << 16)) != NULL, "family");
    free(text);
    return 0;
}
