/* SPDX-License-Identifier: BSD-2-Clause */
/* echo fed one byte at a time, and under a full output buffer. */
#include "fake_session.h"
#include "unit.h"

extern const struct sk_service sk__service_echo;

TEST(echo_returns_every_byte_fed_one_at_a_time)
{
    struct fake_session f;
    static const char msg[] = "hello, echo\r\n\0binary\xff";
    fake_open(&f, &sk__service_echo, NULL, 64);
    CHECK_INT(fake_feed_bytewise(&f, msg, sizeof msg), sizeof msg);
    CHECK_MEM(f.all, f.all_len, msg, sizeof msg);
    fake_close(&f);
}

TEST(echo_consumes_only_what_output_takes)
{
    struct fake_session f;
    fake_open(&f, &sk__service_echo, NULL, 4);
    CHECK_INT(fake_feed(&f, "abcdefgh", 8), 4);
    CHECK_INT(fake_feed(&f, "efgh", 4), 0); /* full: the model must wait */
    fake_take(&f);
    CHECK_INT(fake_feed(&f, "efgh", 4), 4);
    CHECK_MEM(f.all, f.all_len, "abcdefgh", 8);
    fake_close(&f);
}

TEST(echo_udp_reply_equals_request)
{
    unsigned char out[16];
    struct sk_instance inst = { &sk__service_echo, NULL, NULL, NULL };
    CHECK_INT(sk__service_echo.on_datagram(&inst, (const uint8_t *)"ping", 4, out, 4), 4);
    CHECK_MEM(out, 4, "ping", 4);
}
