/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_addr.c - `sockit addr ADDRESS[:PORT]`: one address in every form a
 * socket programmer meets.
 *
 * The tutorial's inet_addr() and htonl() lessons are about one question:
 * which way round are the bytes?  An IPv4 address sits in struct in_addr
 * in network byte order (most significant byte first); read as an
 * integer on a little-endian machine it looks reversed, and ntohl() turns
 * it into the host-order integer arithmetic expects.  This command shows
 * both integers, the bytes, and this machine's byte order, so the
 * difference can be seen rather than memorised.
 *
 * IPv4 text is parsed with inet_aton(), which also takes the historic
 * short forms ("127.1", "2130706433", "0x7f.1"); inet_pton() takes only
 * the dotted quad, which is why new code should prefer it.
 */
#include "cli.h"
#include "cli_getopt.h"
#include "sk_addr.h"
#include "sk_error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char help_text[] =
    "usage: sockit addr ADDRESS[:PORT]\n"
    "\n"
    "Show an address the ways a socket program sees it: dotted text, the\n"
    "bytes in memory, the network-order and host-order integers (IPv4), and\n"
    "this machine's byte order.  With a port, also the port before and after\n"
    "htons().\n"
    "\n"
    "ADDRESS is IPv4 as inet_aton() reads it (127.0.0.1, 127.1, 2130706433,\n"
    "0x7f000001) or IPv6 (::1; with a port, [::1]:7).\n"
    "\n"
    "examples:\n"
    "  sockit addr 127.0.0.1\n"
    "  sockit addr 192.168.0.1:80\n"
    "  sockit addr [::1]:7\n"
    "\n"
    "options:\n"
    "  -V, --version  print sockit's version\n"
    "  -h, --help   this text\n";

#define LABEL "%-19s "

struct parsed_address {
    int family;
    struct in_addr v4;
    struct in6_addr v6;
    int port; /* -1 when none was given */
};

static int has_space(const char *s)
{
    for (; *s; s++)
        if (isspace((unsigned char)*s))
            return 1;
    return 0;
}

/* An address alone: inet_aton's IPv4 forms, then IPv6. */
static int parse_host(const char *text, struct parsed_address *out)
{
    if (sk__inet_aton(text, &out->v4)) {
        out->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, &out->v6) == 1) {
        out->family = AF_INET6;
        return 0;
    }
    return SK_EADDRSYNTAX;
}

static void parse_argument(const char *text, struct parsed_address *out)
{
    memset(out, 0, sizeof *out);
    out->port = -1;
    /* glibc's inet_aton stops at white space and accepts what came
     * before it ("1.2.3.4 junk"); sockit does not. */
    if (*text == '\0' || has_space(text))
        cli_usage_error("'%s' is not an IPv4 or IPv6 address", text);
    /* Whole text first: "2130706433" is an address to inet_aton, while
     * sk_addr_split would take all digits for a port. */
    if (parse_host(text, out) == 0)
        return;

    char host[SK_HOSTLEN], port[SK_PORTLEN];
    if (sk_addr_split(text, host, sizeof host, port, sizeof port) < 0 || host[0] == '\0' ||
        parse_host(host, out) < 0)
        cli_usage_error("'%s' is not an IPv4 or IPv6 address", text);
    if (port[0] != '\0') {
        out->port = sk_port_parse(port, SOCK_STREAM);
        if (out->port < 0)
            cli_usage_error("invalid port '%s' (expected 0-65535 or a service name)", port);
    }
}

static int little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static void print_bytes(const unsigned char *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%02x", i ? " " : "", bytes[i]);
}

static void show_ipv4(const char *input, const struct in_addr *a)
{
    char dotted[INET_ADDRSTRLEN];
    unsigned char bytes[4];
    uint32_t in_memory; /* s_addr: network order, read as a host integer */

    if (inet_ntop(AF_INET, a, dotted, sizeof dotted) == NULL)
        cli_fail("cannot format the address: %s", sk_strerror(sk_error_last()));
    memcpy(bytes, &a->s_addr, sizeof bytes);
    memcpy(&in_memory, &a->s_addr, sizeof in_memory);
    uint32_t host_order = ntohl(a->s_addr);

    printf(LABEL "%s (IPv4)\n", "address:", dotted);
    if (strcmp(input, dotted) != 0)
        printf(LABEL "inet_aton() reads '%s' as %s; inet_pton() takes only the dotted form\n",
               "note:", input, dotted);
    printf(LABEL, "bytes in memory:");
    print_bytes(bytes, sizeof bytes);
    printf("  (network byte order: most significant byte first)\n");
    printf(LABEL "0x%08x = %lu  (s_addr: those bytes read as a host integer)\n",
           "network-order int:", (unsigned)in_memory, (unsigned long)in_memory);
    printf(LABEL "0x%08x = %lu  (ntohl(s_addr): the number the address means)\n",
           "host-order int:", (unsigned)host_order, (unsigned long)host_order);
    if (host_order == 0xffffffffu)
        printf(LABEL "inet_addr() returns this same value (INADDR_NONE) for bad input,\n"
               LABEL "so it cannot parse 255.255.255.255; use inet_pton()\n", "note:", "");
}

static void show_ipv6(const char *input, const struct in6_addr *a)
{
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, a, text, sizeof text) == NULL)
        cli_fail("cannot format the address: %s", sk_strerror(sk_error_last()));

    printf(LABEL "%s (IPv6)\n", "address:", text);
    if (strcmp(input, text) != 0)
        printf(LABEL "'%s' written canonically (RFC 5952) is %s\n", "note:", input, text);
    printf(LABEL, "bytes in memory:");
    print_bytes(a->s6_addr, 8);
    printf("\n" LABEL, "");
    print_bytes(a->s6_addr + 8, 8);
    printf("  (network byte order)\n");
    printf(LABEL "do not apply: 128 bits is wider than any C integer, so an IPv6\n"
           LABEL "address stays 16 bytes (struct in6_addr) and is never byte-swapped\n",
           "integers:", "");
    if (IN6_IS_ADDR_V4MAPPED(a))
        printf(LABEL "an IPv4-mapped address: IPv4 %u.%u.%u.%u seen by an IPv6 socket\n",
               "note:", a->s6_addr[12], a->s6_addr[13], a->s6_addr[14], a->s6_addr[15]);
}

static void show_port(int port)
{
    uint16_t host_order = (uint16_t)port;
    uint16_t network = htons(host_order);
    uint16_t in_memory;
    memcpy(&in_memory, &network, sizeof in_memory);
    printf(LABEL "0x%04x = %u\n", "port (host order):", (unsigned)host_order,
           (unsigned)host_order);
    printf(LABEL "0x%04x = %u  (htons(%u): sin_port as it sits in memory)\n",
           "port (network):", (unsigned)in_memory, (unsigned)in_memory, (unsigned)host_order);
}

int cmd_addr(int argc, char **argv)
{
    static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    opterr = 0;
    while ((c = cli_getopt(argc, argv, "h", options)) != -1) {
        switch (c) {
        case 'h': cli_help(help_text);
        default: cli_bad_option(argc, argv);
        }
    }
    if (optind >= argc)
        cli_usage_error("missing ADDRESS");
    const char *text = argv[optind++];
    if (optind < argc)
        cli_usage_error("unexpected argument '%s' (one ADDRESS at a time)", argv[optind]);

    struct parsed_address a;
    parse_argument(text, &a);

    /* The address part as typed, for the "reads as" notes. */
    char host[SK_HOSTLEN], port[SK_PORTLEN];
    const char *input = text;
    if (a.port >= 0 && sk_addr_split(text, host, sizeof host, port, sizeof port) == 0)
        input = host;

    if (a.family == AF_INET)
        show_ipv4(input, &a.v4);
    else
        show_ipv6(input, &a.v6);
    if (a.port >= 0)
        show_port(a.port);
    printf(LABEL "%s (this machine)\n", "byte order:",
           little_endian() ? "little-endian: least significant byte first"
                           : "big-endian: the same as network byte order");
    return 0;
}
