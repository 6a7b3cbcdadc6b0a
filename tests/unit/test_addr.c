/* SPDX-License-Identifier: BSD-2-Clause */
/* Address splitting, port parsing and formatting: every form and every
 * malformed one. */
#include "sk_addr.h"
#include "sk_error.h"
#include "unit.h"

static void check_split(const char *text, const char *host, const char *port)
{
    char h[SK_HOSTLEN], p[SK_PORTLEN];
    int rc = sk_addr_split(text, h, sizeof h, p, sizeof p);
    if (rc != 0) {
        unit_fail(__FILE__, __LINE__, "split(\"%s\") failed: %s", text, sk_err_name(rc));
        return;
    }
    CHECK_STR(h, host);
    CHECK_STR(p, port);
}

TEST(addr_split_accepts_every_form)
{
    check_split("localhost", "localhost", "");
    check_split("8080", "", "8080");
    check_split("127.0.0.1:7", "127.0.0.1", "7");
    check_split("example.org:echo", "example.org", "echo");
    check_split("[::1]:7", "::1", "7");
    check_split("[fe80::1%eth0]", "fe80::1%eth0", "");
    check_split("::1", "::1", "");
    check_split("2001:db8::5", "2001:db8::5", "");
}

TEST(addr_split_rejects_malformed)
{
    static const char *const bad[] = {
        "", ":7", "host:", "[::1", "[]:7", "[::1]7", "[::1]:", "::1]", "[[::1]]:7",
    };
    char h[SK_HOSTLEN], p[SK_PORTLEN];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = sk_addr_split(bad[i], h, sizeof h, p, sizeof p);
        if (rc != SK_EADDRSYNTAX)
            unit_fail(__FILE__, __LINE__, "split(\"%s\") gave %d", bad[i], rc);
    }
    CHECK_INT(sk_addr_split(NULL, h, sizeof h, p, sizeof p), SK_EADDRSYNTAX);
}

TEST(addr_split_rejects_parts_too_long)
{
    char h[8], p[4];
    CHECK_INT(sk_addr_split("averylonghostname:7", h, sizeof h, p, sizeof p), SK_EADDRSYNTAX);
    CHECK_INT(sk_addr_split("host:123456", h, sizeof h, p, sizeof p), SK_EADDRSYNTAX);
}

TEST(port_parse_numbers_and_names)
{
    CHECK_INT(sk_port_parse("0", SOCK_STREAM), 0);
    CHECK_INT(sk_port_parse("7", SOCK_STREAM), 7);
    CHECK_INT(sk_port_parse("65535", SOCK_STREAM), 65535);
    CHECK_INT(sk_port_parse("00080", SOCK_STREAM), 80);
    CHECK_INT(sk_port_parse("echo", SOCK_STREAM), 7);
    CHECK_INT(sk_port_parse("echo", SOCK_DGRAM), 7);
    CHECK_INT(sk_port_parse("chargen", SOCK_STREAM), 19);
    CHECK_INT(sk_port_parse("time", SOCK_DGRAM), 37);
    CHECK_INT(sk_port_parse("65536", SOCK_STREAM), SK_EPORT);
    CHECK_INT(sk_port_parse("123456", SOCK_STREAM), SK_EPORT);
    CHECK_INT(sk_port_parse("-1", SOCK_STREAM), SK_EPORT);
    CHECK_INT(sk_port_parse("", SOCK_STREAM), SK_EPORT);
    CHECK_INT(sk_port_parse("7x", SOCK_STREAM), SK_EPORT);
    CHECK_INT(sk_port_parse("no-such-service", SOCK_STREAM), SK_EPORT);
    CHECK_INT(sk_port_parse(NULL, SOCK_STREAM), SK_EPORT);
}

TEST(addr_numeric_and_format_round_trip)
{
    struct sk_addr a;
    char buf[SK_ADDRSTRLEN];
    CHECK_INT(sk_addr_numeric("127.0.0.1", 7, &a), 0);
    CHECK(sk_addr_format((struct sockaddr *)&a.ss, buf, sizeof buf) > 0);
    CHECK_STR(buf, "127.0.0.1:7");
    CHECK_INT(sk_addr_port((struct sockaddr *)&a.ss), 7);
    CHECK_INT(sk_addr_numeric("::1", 65535, &a), 0);
    CHECK(sk_addr_format((struct sockaddr *)&a.ss, buf, sizeof buf) > 0);
    CHECK_STR(buf, "[::1]:65535");
    CHECK(sk_addr_format_host((struct sockaddr *)&a.ss, buf, sizeof buf) > 0);
    CHECK_STR(buf, "::1");
    CHECK_INT(sk_addr_numeric("localhost", 7, &a), SK_EADDRSYNTAX);
    CHECK_INT(sk_addr_numeric("1.2.3.4", 70000, &a), SK_EPORT);
    CHECK_STR(sk_family_name(AF_INET6), "IPv6");
}

TEST(addr_resolve_numeric_and_errors)
{
    struct addrinfo *ai = NULL;
    CHECK_INT(sk_addr_resolve("127.0.0.1", "echo", AF_UNSPEC, SOCK_STREAM, 0, &ai), 0);
    if (ai != NULL) {
        CHECK_INT(sk_addr_port(ai->ai_addr), 7);
        freeaddrinfo(ai);
    }
    CHECK_INT(sk_addr_resolve("127.0.0.1", "99999", AF_UNSPEC, SOCK_STREAM, 0, &ai), SK_EPORT);
    CHECK_INT(sk_addr_resolve("[::1]", "7", AF_UNSPEC, SOCK_STREAM, 0, &ai), SK_EADDRSYNTAX);
    CHECK_INT(sk_addr_resolve("::1", "7", AF_INET, SOCK_STREAM, 0, &ai) < 0, 1);
}

TEST(addr_unix_paths)
{
    struct sk_addr a;
    char buf[SK_ADDRSTRLEN], longpath[200];
    CHECK_INT(sk_addr_is_unix("unix:/tmp/s"), 1);
    CHECK_INT(sk_addr_is_unix("unix"), 0);
    CHECK_INT(sk_addr_is_unix(NULL), 0);
    CHECK_INT(sk_addr_unix("unix:/tmp/s.sock", &a), 0);
    CHECK_INT(a.ss.ss_family, AF_UNIX);
    CHECK(sk_addr_format((struct sockaddr *)&a.ss, buf, sizeof buf) > 0);
    CHECK_STR(buf, "unix:/tmp/s.sock");
    CHECK(sk_addr_format_host((struct sockaddr *)&a.ss, buf, sizeof buf) > 0);
    CHECK_STR(buf, "unix:/tmp/s.sock");
    CHECK_INT(sk_addr_port((struct sockaddr *)&a.ss), -1);
    CHECK_STR(sk_family_name(AF_UNIX), "Unix");
    /* Empty, too long for sun_path, or not unix: at all. */
    CHECK_INT(sk_addr_unix("unix:", &a), SK_EADDRSYNTAX);
    memset(longpath, 'x', sizeof longpath - 1);
    memcpy(longpath, "unix:/", 6);
    longpath[sizeof longpath - 1] = '\0';
    CHECK_INT(sk_addr_unix(longpath, &a), SK_EADDRSYNTAX);
    CHECK_INT(sk_addr_unix("/tmp/s", &a), SK_EADDRSYNTAX);
    /* A client's unbound end: a bare family, shown as unnamed. */
    memset(&a, 0, sizeof a);
    a.ss.ss_family = AF_UNIX;
    CHECK(sk_addr_format((struct sockaddr *)&a.ss, buf, sizeof buf) > 0);
    CHECK_STR(buf, "unix:(unnamed)");
}
