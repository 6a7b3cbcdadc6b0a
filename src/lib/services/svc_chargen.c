/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * svc_chargen.c - character generator (RFC 864).
 *
 * The classic pattern: the 95 printable ASCII characters (' ' to '~')
 * form a ring; line k is the 72 characters starting at position k mod 95,
 * followed by "\r\n".  After 95 lines the text repeats, so the whole
 * stream is one 7,030-byte cycle.
 *
 * TCP streams the pattern from on_writable for as long as the client
 * stays; input is read and ignored, and the peer's half-close ends the
 * session.  Each call writes at most min(room, 16 KiB), so a bounded
 * output buffer is never asked for more than it has and a blocking model
 * goes back to its loop (and its stop flag) between sends.
 *
 * No call allocates or copies: the instance builds the cycle once, then
 * extends it with its own first 16 KiB, so the next chunk starting at
 * any offset in the cycle is one contiguous slice handed straight to
 * sk_session_write.  A session is just its offset into the cycle.
 *
 * UDP deviates from the RFC on purpose.  RFC 864 answers any datagram
 * with 0 to 512 random characters; a reply longer than its request is an
 * amplifier for spoofed-source floods.  sockit replies with the first
 * min(request length, 512) characters of the pattern, never more than the
 * request, and nothing to an empty datagram.
 */
#include "sk_service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RING_CHARS 95                       /* ' ' (32) to '~' (126) */
#define LINE_CHARS 72
#define LINE_BYTES (LINE_CHARS + 2)         /* with "\r\n" */
#define CYCLE_BYTES (RING_CHARS * LINE_BYTES)
#define CHUNK_MAX 16384                     /* most bytes per on_writable */
#define UDP_REPLY_MAX 512

struct chargen_session {
    size_t offset; /* where the next byte comes from, in [0, CYCLE_BYTES) */
};

/* The cycle followed by its first CHUNK_MAX bytes again. */
struct chargen_text {
    char bytes[CYCLE_BYTES + CHUNK_MAX];
};

static int chargen_instance_open(struct sk_instance *inst)
{
    struct chargen_text *text = malloc(sizeof *text);
    if (text == NULL)
        return -ENOMEM;
    size_t at = 0;
    for (int line = 0; line < RING_CHARS; line++) {
        for (int i = 0; i < LINE_CHARS; i++)
            text->bytes[at++] = (char)(' ' + (line + i) % RING_CHARS);
        text->bytes[at++] = '\r';
        text->bytes[at++] = '\n';
    }
    for (; at < sizeof text->bytes; at++)
        text->bytes[at] = text->bytes[at - CYCLE_BYTES];
    inst->state = text;
    return 0;
}

static void chargen_instance_close(struct sk_instance *inst)
{
    free(inst->state);
    inst->state = NULL;
}

static void chargen_open(struct sk_session *s)
{
    sk_session_want_writable(s, 1);
}

static void chargen_writable(struct sk_session *s)
{
    struct chargen_session *c = sk_session_state(s);
    const struct chargen_text *text = sk_session_instance(s)->state;
    size_t n = sk_session_room(s);
    if (n > CHUNK_MAX)
        n = CHUNK_MAX;
    if (n == 0)
        return;
    size_t taken = sk_session_write(s, text->bytes + c->offset, n);
    c->offset = (c->offset + taken) % CYCLE_BYTES;
}

static size_t chargen_data(struct sk_session *s, const uint8_t *data, size_t len)
{
    (void)s;
    (void)data;
    return len; /* RFC 864: "Data received is thrown away." */
}

static void chargen_eof(struct sk_session *s)
{
    sk_session_want_writable(s, 0);
    sk_session_close(s);
}

static size_t chargen_datagram(struct sk_instance *inst, const uint8_t *in, size_t len,
                               uint8_t *out, size_t cap)
{
    (void)in;
    const struct chargen_text *text = inst->state;
    size_t n = len;
    if (n > UDP_REPLY_MAX)
        n = UDP_REPLY_MAX;
    if (n > cap)
        n = cap;
    if (text == NULL || n == 0)
        return 0;
    memcpy(out, text->bytes, n);
    return n;
}

const struct sk_service sk__service_chargen = {
    .name = "chargen",
    .summary = "RFC 864: streams lines of printable characters until the client leaves",
    .flags = SK_SERVICE_TCP | SK_SERVICE_UDP,
    .session_size = sizeof(struct chargen_session),
    .instance_open = chargen_instance_open,
    .instance_close = chargen_instance_close,
    .on_open = chargen_open,
    .on_data = chargen_data,
    .on_writable = chargen_writable,
    .on_eof = chargen_eof,
    .on_datagram = chargen_datagram,
};
