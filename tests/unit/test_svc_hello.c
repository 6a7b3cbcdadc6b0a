/* SPDX-License-Identifier: BSD-2-Clause */
/* hello: the greeting, whole, then the close flag; input changes nothing. */
#include "fake_session.h"
#include "unit.h"

extern const struct sk_service sk__service_hello;

#define GREETING "Hello World!\n"

TEST(hello_greets_then_closes)
{
    struct fake_session f;
    fake_open(&f, &sk__service_hello, NULL, 64);
    CHECK_MEM(f.all, f.all_len, GREETING, sizeof GREETING - 1);
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    CHECK(!(f.session.flags & SK_SESSION_WANT_WRITABLE));
    fake_close(&f);
}

TEST(hello_finishes_the_greeting_through_a_one_byte_output)
{
    struct fake_session f;
    fake_open(&f, &sk__service_hello, NULL, 1);
    CHECK_INT(f.all_len, 1);
    CHECK(!(f.session.flags & SK_SESSION_CLOSE)); /* not all queued yet */
    CHECK(f.session.flags & SK_SESSION_WANT_WRITABLE);
    fake_take(&f);
    fake_pump(&f, 100);
    CHECK_MEM(f.all, f.all_len, GREETING, sizeof GREETING - 1);
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    fake_close(&f);
}

TEST(hello_ignores_input_fed_one_byte_at_a_time)
{
    struct fake_session f;
    static const char question[] = "who are you?\r\n";
    fake_open(&f, &sk__service_hello, NULL, 1);
    /* The peer talks while the greeting is still going out. */
    for (size_t i = 0; i < sizeof question - 1; i++)
        CHECK_INT(fake_feed(&f, question + i, 1), 1);
    CHECK_INT(f.all_len, 1);
    fake_take(&f);
    fake_pump(&f, 100);
    CHECK_MEM(f.all, f.all_len, GREETING, sizeof GREETING - 1);
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    fake_close(&f);
}

TEST(hello_is_tcp_only)
{
    CHECK(sk__service_hello.flags & SK_SERVICE_TCP);
    CHECK(!(sk__service_hello.flags & SK_SERVICE_UDP));
    CHECK(sk__service_hello.on_datagram == NULL);
}
