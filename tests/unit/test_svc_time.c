/* SPDX-License-Identifier: BSD-2-Clause */
/* time (RFC 868): 4 big-endian bytes of seconds since 1900, then close. */
#include "fake_session.h"
#include "unit.h"

#include <time.h>

extern const struct sk_service sk__service_time;

#define SECONDS_1900_TO_1970 2208988800u

static uint32_t decode(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* v is "now" within the seconds the test took, in 32-bit RFC 868 time. */
static int is_now(uint32_t v, time_t before, time_t after)
{
    uint32_t lo = (uint32_t)((uint64_t)before + SECONDS_1900_TO_1970);
    uint32_t hi = (uint32_t)((uint64_t)after + SECONDS_1900_TO_1970);
    return v - lo <= hi - lo; /* modular: right across the 2036 wrap too */
}

TEST(time_sends_four_bytes_then_closes)
{
    struct fake_session f;
    time_t before = time(NULL);
    fake_open(&f, &sk__service_time, NULL, 64);
    time_t after = time(NULL);
    CHECK_INT(f.all_len, 4);
    CHECK(is_now(decode(f.all), before, after));
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    fake_close(&f);
}

TEST(time_finishes_through_a_one_byte_output)
{
    struct fake_session f;
    time_t before = time(NULL);
    fake_open(&f, &sk__service_time, NULL, 1);
    time_t after = time(NULL);
    CHECK_INT(f.all_len, 1);
    CHECK(!(f.session.flags & SK_SESSION_CLOSE));
    /* Input while the reply trickles out is ignored. */
    for (int i = 0; i < 3; i++)
        CHECK_INT(fake_feed(&f, &"xyz"[i], 1), 1);
    CHECK_INT(f.all_len, 1);
    fake_take(&f);
    fake_pump(&f, 100);
    CHECK_INT(f.all_len, 4);
    CHECK(is_now(decode(f.all), before, after));
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    fake_close(&f);
}

TEST(time_udp_answers_any_datagram_with_four_bytes)
{
    unsigned char out[16];
    struct sk_instance inst;
    CHECK_INT(sk__instance_open(&inst, &sk__service_time, NULL, NULL), 0);
    time_t before = time(NULL);
    CHECK_INT(sk__service_time.on_datagram(&inst, (const uint8_t *)"", 0, out, sizeof out), 4);
    time_t after = time(NULL);
    CHECK(is_now(decode(out), before, after));
    CHECK_INT(sk__service_time.on_datagram(&inst, (const uint8_t *)"anything", 8, out,
                                          sizeof out), 4);
    CHECK_INT(sk__service_time.on_datagram(&inst, (const uint8_t *)"", 0, out, 3), 0);
    sk__instance_close(&inst);
}
