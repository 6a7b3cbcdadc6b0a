/* SPDX-License-Identifier: BSD-2-Clause */
/* --max-per-ip's table and the chat backlog's queue. */
#include "sk_peerlimit.h"
#include "sk_postq.h"
#include "unit.h"

#include <string.h>

static void v4(const char *text, struct sk__peer_key *key)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, text, &sa.sin_addr);
    sk__peer_key_of((const struct sockaddr *)&sa, key);
}

static void v6(const char *text, struct sk__peer_key *key)
{
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    inet_pton(AF_INET6, text, &sa.sin6_addr);
    sk__peer_key_of((const struct sockaddr *)&sa, key);
}

TEST(peerlimit_counts_each_address_up_to_the_limit)
{
    struct sk__peerlimit *pl;
    CHECK_INT(sk__peerlimit_open(2, &pl), 0);
    struct sk__peer_key a, b;
    v4("10.0.0.1", &a);
    v4("10.0.0.2", &b);
    CHECK_INT(sk__peerlimit_enter(pl, &a), 1);
    CHECK_INT(sk__peerlimit_enter(pl, &a), 1);
    CHECK_INT(sk__peerlimit_enter(pl, &a), 0); /* the third is refused */
    CHECK_INT(sk__peerlimit_enter(pl, &b), 1); /* another address is not */
    sk__peerlimit_leave(pl, &a);
    CHECK_INT(sk__peerlimit_enter(pl, &a), 1); /* room again after a leave */
    CHECK_INT(sk__peerlimit_enter(pl, &a), 0);
    sk__peerlimit_leave(pl, &a);
    sk__peerlimit_leave(pl, &a);
    sk__peerlimit_leave(pl, &a); /* one too many: ignored, never negative */
    CHECK_INT(sk__peerlimit_enter(pl, &a), 1);
    CHECK_INT(sk__peerlimit_enter(pl, &a), 1);
    CHECK_INT(sk__peerlimit_enter(pl, &a), 0);
    sk__peerlimit_close(pl);
}

TEST(peerlimit_v4_mapped_v6_is_the_v4_address)
{
    struct sk__peer_key a, mapped, other;
    v4("192.0.2.7", &a);
    v6("::ffff:192.0.2.7", &mapped);
    v6("2001:db8::7", &other);
    CHECK(memcmp(&a, &mapped, sizeof a) == 0);
    CHECK(memcmp(&a, &other, sizeof a) != 0);
}

TEST(postq_keeps_order_across_chunks_and_partial_takes)
{
    struct sk__postq q;
    memset(&q, 0, sizeof q);
    size_t len;
    CHECK(sk__postq_peek(&q, &len) == NULL && len == 0);
    CHECK_INT(sk__postq_push(&q, "hello ", 6), 0);
    CHECK_INT(sk__postq_push(&q, "world", 5), 0);
    CHECK_INT(q.len, 11);
    char out[16];
    size_t got = 0;
    const uint8_t *p;
    while ((p = sk__postq_peek(&q, &len)) != NULL) {
        size_t n = len < 4 ? len : 4; /* take at most 4 at a time */
        memcpy(out + got, p, n);
        got += n;
        sk__postq_consume(&q, n);
    }
    CHECK_INT(got, 11);
    CHECK(memcmp(out, "hello world", 11) == 0);
    CHECK_INT(q.len, 0);
    CHECK_INT(sk__postq_push(&q, "x", 1), 0);
    sk__postq_clear(&q);
    CHECK(sk__postq_peek(&q, &len) == NULL && q.len == 0);
}
