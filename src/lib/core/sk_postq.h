/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_postq.h - posts waiting for room in a connection's output.
 *
 * The completion models (uring, iocp) copy output into a fixed buffer and
 * send it later: uring with the batch's submit, iocp when the outstanding
 * WSASend completes.  A chat paste received in one piece is posted to
 * every other member at once, before any of those sends can go; what does
 * not fit waits here, in order, and the model moves it into the output as
 * sends free room.  The model bounds the queue (the chat output cap), so
 * memory stays bounded; a chunk is allocated only when the output is full.
 */
#ifndef SK_POSTQ_H
#define SK_POSTQ_H

#include <stddef.h>
#include <stdint.h>

struct sk__postq_chunk;

struct sk__postq {
    struct sk__postq_chunk *head, *tail;
    size_t len; /* bytes waiting */
};

/* Append a copy of data: 0, or -ENOMEM. */
int sk__postq_push(struct sk__postq *q, const void *data, size_t len);
/* The first waiting bytes (*len of them), or NULL when empty. */
const uint8_t *sk__postq_peek(const struct sk__postq *q, size_t *len);
/* Forget the first n bytes (at most what peek returned). */
void sk__postq_consume(struct sk__postq *q, size_t n);
void sk__postq_clear(struct sk__postq *q);

#endif
