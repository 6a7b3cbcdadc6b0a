/* SPDX-License-Identifier: BSD-2-Clause */
/* discard: everything is consumed, nothing ever comes back. */
#include "fake_session.h"
#include "unit.h"

extern const struct sk_service sk__service_discard;

TEST(discard_consumes_every_byte_and_writes_nothing)
{
    struct fake_session f;
    static const char msg[] = "hello\r\n\0binary\xff and more";
    fake_open(&f, &sk__service_discard, NULL, 64);
    CHECK_INT(fake_feed_bytewise(&f, msg, sizeof msg), sizeof msg);
    CHECK_INT(f.all_len, 0);
    CHECK(!(f.session.flags & SK_SESSION_CLOSE));
    fake_eof(&f);
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    CHECK_INT(f.all_len, 0);
    fake_close(&f);
}

TEST(discard_consumes_even_with_no_output_room)
{
    struct fake_session f;
    fake_open(&f, &sk__service_discard, NULL, 0);
    CHECK_INT(fake_feed(&f, "abcdefgh", 8), 8);
    CHECK_INT(f.all_len, 0);
    fake_close(&f);
}

TEST(discard_udp_never_replies)
{
    unsigned char out[64];
    struct sk_instance inst;
    CHECK_INT(sk__instance_open(&inst, &sk__service_discard, NULL, NULL), 0);
    CHECK_INT(sk__service_discard.on_datagram(&inst, (const uint8_t *)"", 0, out, sizeof out), 0);
    CHECK_INT(sk__service_discard.on_datagram(&inst, (const uint8_t *)"ping", 4, out, sizeof out),
              0);
    sk__instance_close(&inst);
}
