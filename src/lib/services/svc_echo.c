/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * svc_echo.c - echo (RFC 862): every byte comes back, over TCP and UDP.
 *
 * on_data returns only what the output took, so when a peer stops
 * reading, the model stops reading from it too: the echo can never pile
 * up in memory.
 *
 * SK_SERVICE_MIRROR says that this is all echo does with a byte, so a
 * model that can move bytes socket to socket without copying them
 * through user memory (splice on Linux) may skip on_data altogether.
 */
#include "sk_service.h"

#include <string.h>

static size_t echo_data(struct sk_session *s, const uint8_t *data, size_t len)
{
    return sk_session_write(s, data, len);
}

static size_t echo_datagram(struct sk_instance *inst, const uint8_t *in, size_t len,
                            uint8_t *out, size_t cap)
{
    (void)inst;
    size_t n = len < cap ? len : cap;
    memcpy(out, in, n);
    return n;
}

const struct sk_service sk__service_echo = {
    .name = "echo",
    .summary = "RFC 862: sends back every byte it receives",
    .flags = SK_SERVICE_TCP | SK_SERVICE_UDP | SK_SERVICE_MIRROR,
    .on_data = echo_data,
    .on_datagram = echo_datagram,
};
