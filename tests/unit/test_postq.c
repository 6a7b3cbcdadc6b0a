/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk__postq: the posts a completion model holds while a connection's output
 * is full.  What matters to the chat service is that bytes leave in the
 * order they were posted, whole, however the model takes them (a chunk at
 * a time, or a few bytes of one), and that clear forgets everything.
 */
#include "sk_postq.h"
#include "unit.h"

#include <string.h>

/* Take everything from q, at most step bytes per consume. */
static size_t drain(struct sk__postq *q, char *out, size_t cap, size_t step)
{
    size_t got = 0, len;
    const uint8_t *p;
    while ((p = sk__postq_peek(q, &len)) != NULL) {
        size_t n = len < step ? len : step;
        if (got + n > cap)
            break;
        memcpy(out + got, p, n);
        got += n;
        size_t before = q->len;
        sk__postq_consume(q, n);
        CHECK_INT(q->len, before - n);
    }
    return got;
}

TEST(postq_empty_peeks_null_and_consume_is_harmless)
{
    struct sk__postq q = {0};
    size_t len = 99;
    CHECK(sk__postq_peek(&q, &len) == NULL);
    CHECK_INT(len, 0);
    sk__postq_consume(&q, 10);
    CHECK_INT(q.len, 0);
    sk__postq_clear(&q);
    CHECK(q.head == NULL && q.tail == NULL);
}

TEST(postq_peek_shows_the_first_chunk_only)
{
    struct sk__postq q = {0};
    CHECK_INT(sk__postq_push(&q, "abc", 3), 0);
    CHECK_INT(sk__postq_push(&q, "defgh", 5), 0);
    CHECK_INT(q.len, 8);
    size_t len;
    const uint8_t *p = sk__postq_peek(&q, &len);
    CHECK_MEM(p, len, "abc", 3);
    /* A consume larger than the first chunk stops at its end. */
    sk__postq_consume(&q, 100);
    CHECK_INT(q.len, 5);
    p = sk__postq_peek(&q, &len);
    CHECK_MEM(p, len, "defgh", 5);
    sk__postq_clear(&q);
}

TEST(postq_partial_consume_keeps_the_rest_in_place)
{
    struct sk__postq q = {0};
    CHECK_INT(sk__postq_push(&q, "0123456789", 10), 0);
    sk__postq_consume(&q, 3);
    size_t len;
    const uint8_t *p = sk__postq_peek(&q, &len);
    CHECK_MEM(p, len, "3456789", 7);
    sk__postq_consume(&q, 0);
    CHECK_INT(q.len, 7);
    sk__postq_consume(&q, 7);
    CHECK(sk__postq_peek(&q, &len) == NULL && len == 0);
    CHECK(q.head == NULL && q.tail == NULL);
    /* Empty again: a push starts a fresh queue. */
    CHECK_INT(sk__postq_push(&q, "z", 1), 0);
    p = sk__postq_peek(&q, &len);
    CHECK_MEM(p, len, "z", 1);
    sk__postq_clear(&q);
}

TEST(postq_bytes_leave_in_posting_order_whatever_the_step)
{
    static const size_t steps[] = {1, 2, 3, 7, 64, 1000};
    char want[600], got[600];
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        struct sk__postq q = {0};
        size_t total = 0;
        /* Chunks of 1..30 bytes, each byte telling its position. */
        for (size_t i = 1; total + i <= sizeof want && i <= 30; i++) {
            char chunk[30];
            for (size_t j = 0; j < i; j++)
                chunk[j] = want[total + j] = (char)('A' + (total + j) % 53);
            CHECK_INT(sk__postq_push(&q, chunk, i), 0);
            total += i;
        }
        CHECK_INT(q.len, total);
        size_t n = drain(&q, got, sizeof got, steps[s]);
        CHECK_MEM(got, n, want, total);
        CHECK_INT(q.len, 0);
    }
}

TEST(postq_clear_forgets_everything)
{
    struct sk__postq q = {0};
    for (int i = 0; i < 100; i++)
        CHECK_INT(sk__postq_push(&q, "post", 4), 0);
    sk__postq_consume(&q, 2);
    sk__postq_clear(&q);
    size_t len;
    CHECK(sk__postq_peek(&q, &len) == NULL);
    CHECK_INT(q.len, 0);
    CHECK(q.head == NULL && q.tail == NULL);
}

/* An empty post peeks as 0 bytes (not NULL: the queue has a chunk) and
 * the consume of those 0 bytes drops it, so a draining loop moves on. */
TEST(postq_empty_post_takes_no_bytes)
{
    struct sk__postq q = {0};
    CHECK_INT(sk__postq_push(&q, "", 0), 0);
    CHECK_INT(sk__postq_push(&q, "x", 1), 0);
    CHECK_INT(q.len, 1);
    size_t len = 99;
    CHECK(sk__postq_peek(&q, &len) != NULL);
    CHECK_INT(len, 0);
    char got[4];
    CHECK_MEM(got, drain(&q, got, sizeof got, 4), "x", 1);
    sk__postq_clear(&q);
}
