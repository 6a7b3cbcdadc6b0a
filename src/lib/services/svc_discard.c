/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * svc_discard.c - discard (RFC 863): take every byte, never answer.
 *
 * The simplest sink there is, and useful for exactly that: measuring how
 * fast a model can receive.  Over TCP on_data consumes everything it is
 * handed (there is no output that could fill up, so there is no reason to
 * push back); over UDP a datagram is accepted and no reply is sent.
 */
#include "sk_service.h"

static size_t discard_data(struct sk_session *s, const uint8_t *data, size_t len)
{
    (void)s;
    (void)data;
    return len;
}

static size_t discard_datagram(struct sk_instance *inst, const uint8_t *in, size_t len,
                               uint8_t *out, size_t cap)
{
    (void)inst;
    (void)in;
    (void)len;
    (void)out;
    (void)cap;
    return 0; /* RFC 863: "Any received datagram is thrown away." */
}

const struct sk_service sk__service_discard = {
    .name = "discard",
    .summary = "RFC 863: reads everything and never answers",
    .flags = SK_SERVICE_TCP | SK_SERVICE_UDP,
    .on_data = discard_data,
    .on_datagram = discard_datagram,
};
