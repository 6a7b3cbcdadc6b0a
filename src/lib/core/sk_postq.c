/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_postq.c - posts waiting for room in a connection's output.
 */
#include "sk_postq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sk__postq_chunk {
    struct sk__postq_chunk *next;
    size_t len, off; /* data[off, len) still waits */
    uint8_t data[];
};

int sk__postq_push(struct sk__postq *q, const void *data, size_t len)
{
    struct sk__postq_chunk *c = malloc(sizeof *c + len);
    if (c == NULL)
        return -ENOMEM;
    memcpy(c->data, data, len);
    c->len = len;
    c->off = 0;
    c->next = NULL;
    if (q->tail != NULL)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->len += len;
    return 0;
}

const uint8_t *sk__postq_peek(const struct sk__postq *q, size_t *len)
{
    if (q->head == NULL) {
        *len = 0;
        return NULL;
    }
    *len = q->head->len - q->head->off;
    return q->head->data + q->head->off;
}

void sk__postq_consume(struct sk__postq *q, size_t n)
{
    struct sk__postq_chunk *c = q->head;
    if (c == NULL)
        return;
    if (n > c->len - c->off)
        n = c->len - c->off;
    c->off += n;
    q->len -= n;
    if (c->off == c->len) {
        q->head = c->next;
        if (q->head == NULL)
            q->tail = NULL;
        free(c);
    }
}

void sk__postq_clear(struct sk__postq *q)
{
    while (q->head != NULL) {
        struct sk__postq_chunk *c = q->head;
        q->head = c->next;
        free(c);
    }
    q->tail = NULL;
    q->len = 0;
}
