/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * svc_time.c - time (RFC 868): seconds since 1900 as 4 big-endian bytes.
 *
 * The value is time(NULL) plus the 2,208,988,800 seconds between
 * 1900-01-01 and the Unix epoch, cut to 32 bits as the RFC's format
 * requires; it wraps in February 2036, as every RFC 868 server does (a
 * client is expected to read a small value as the next era).  Over TCP
 * the 4 bytes are queued on connect and the session closes; over UDP
 * they answer any datagram, an empty one included (the RFC's request is
 * an empty datagram, so this fixed 4-byte reply may exceed it).
 */
#include "sk_service.h"

#include <time.h>

#define TIME_LEN 4
#define SECONDS_1900_TO_1970 2208988800u

struct time_session {
    uint8_t reply[TIME_LEN];
    size_t sent;
};

/* The current RFC 868 time into out[0..3], most significant byte first. */
static void time_encode(uint8_t out[TIME_LEN])
{
    uint32_t t = (uint32_t)((uint64_t)time(NULL) + SECONDS_1900_TO_1970);
    out[0] = (uint8_t)(t >> 24);
    out[1] = (uint8_t)(t >> 16);
    out[2] = (uint8_t)(t >> 8);
    out[3] = (uint8_t)t;
}

/* Queue what fits of the 4 bytes; close once all are queued. */
static void time_push(struct sk_session *s)
{
    struct time_session *t = sk_session_state(s);
    t->sent += sk_session_write(s, t->reply + t->sent, TIME_LEN - t->sent);
    if (t->sent == TIME_LEN) {
        sk_session_want_writable(s, 0);
        sk_session_close(s);
    } else {
        sk_session_want_writable(s, 1);
    }
}

static void time_open(struct sk_session *s)
{
    struct time_session *t = sk_session_state(s);
    time_encode(t->reply);
    time_push(s);
}

static size_t time_data(struct sk_session *s, const uint8_t *data, size_t len)
{
    (void)s;
    (void)data;
    return len;
}

static size_t time_datagram(struct sk_instance *inst, const uint8_t *in, size_t len,
                            uint8_t *out, size_t cap)
{
    (void)inst;
    (void)in;
    (void)len;
    if (cap < TIME_LEN)
        return 0;
    time_encode(out);
    return TIME_LEN;
}

const struct sk_service sk__service_time = {
    .name = "time",
    .summary = "RFC 868: sends the time as 32-bit seconds since 1900",
    .flags = SK_SERVICE_TCP | SK_SERVICE_UDP,
    .session_size = sizeof(struct time_session),
    .on_open = time_open,
    .on_data = time_data,
    .on_writable = time_push,
    .on_eof = sk_session_eof_finish_answer,
    .on_datagram = time_datagram,
};
