/* SPDX-License-Identifier: BSD-2-Clause */
/* Socket options by name: set, read back, and every bad form. */
#include "sk_error.h"
#include "sk_sockopt.h"
#include "unit.h"


TEST(sockopt_set_and_read_back_tcp)
{
    sk_socket_t s = socket(AF_INET, SOCK_STREAM, 0);
    char v[64];
    CHECK(s != SK_INVALID_SOCKET);
    CHECK_INT(sk_sockopt_set(s, "nodelay", "on"), 0);
    CHECK_INT(sk_sockopt_get(s, "nodelay", v, sizeof v), 0);
    CHECK_STR(v, "on");
    CHECK_INT(sk_sockopt_apply(s, "keepalive=yes"), 0);
    CHECK_INT(sk_sockopt_get(s, "keepalive", v, sizeof v), 0);
    CHECK_STR(v, "on");
    CHECK_INT(sk_sockopt_set(s, "linger", "5"), 0);
    CHECK_INT(sk_sockopt_get(s, "linger", v, sizeof v), 0);
    CHECK_STR(v, "5");
    CHECK_INT(sk_sockopt_set(s, "linger", "off"), 0);
    CHECK_INT(sk_sockopt_get(s, "linger", v, sizeof v), 0);
    CHECK_STR(v, "off");
    CHECK_INT(sk_sockopt_set(s, "ttl", "17"), 0);
    CHECK_INT(sk_sockopt_get(s, "ttl", v, sizeof v), 0);
    CHECK_STR(v, "17");
    CHECK_INT(sk_sockopt_set(s, "sndbuf", "64K"), 0);
    CHECK_INT(sk_sockopt_get(s, "type", v, sizeof v), 0);
    CHECK_STR(v, "SOCK_STREAM");
    sk_socket_close(s);
}

TEST(sockopt_ipv6_picks_ipv6_options)
{
    sk_socket_t s = socket(AF_INET6, SOCK_DGRAM, 0);
    char v[64];
    if (s == SK_INVALID_SOCKET)
        return; /* no IPv6 on this kernel */
    CHECK_INT(sk_sockopt_set(s, "multicast-ttl", "3"), 0);
    CHECK_INT(sk_sockopt_get(s, "multicast-ttl", v, sizeof v), 0);
    CHECK_STR(v, "3");
    CHECK_INT(sk_sockopt_set(s, "multicast-loop", "off"), 0);
    CHECK_INT(sk_sockopt_get(s, "multicast-loop", v, sizeof v), 0);
    CHECK_STR(v, "off");
    sk_socket_close(s);
}

TEST(sockopt_rejects_bad_names_and_values)
{
    CHECK_INT(sk_sockopt_check("nodelay=on"), 0);
    CHECK_INT(sk_sockopt_check("rcvbuf=1M"), 0);
    CHECK_INT(sk_sockopt_check("bogus=1"), SK_EOPTION);
    CHECK_INT(sk_sockopt_check("nodelay"), SK_EOPTION);
    CHECK_INT(sk_sockopt_check("=1"), SK_EOPTION);
    CHECK_INT(sk_sockopt_check("nodelay=maybe"), SK_EOPTVALUE);
    CHECK_INT(sk_sockopt_check("rcvbuf=-5"), SK_EOPTVALUE);
    CHECK_INT(sk_sockopt_check("rcvbuf=99999999999"), SK_EOPTVALUE);
    CHECK_INT(sk_sockopt_check("rcvbuf=12Q"), SK_EOPTVALUE);
    CHECK_INT(sk_sockopt_check("linger=70000"), SK_EOPTVALUE);
    CHECK_INT(sk_sockopt_check("type=1"), SK_EREADONLY);
    sk_socket_t s = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(sk_sockopt_set(s, "nodelay", "on") < 0, 1); /* TCP option on UDP */
    sk_socket_close(s);
}
