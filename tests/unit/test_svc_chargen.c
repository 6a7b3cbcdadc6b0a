/* SPDX-License-Identifier: BSD-2-Clause */
/* chargen (RFC 864): the rotating 72-character lines, under any output size. */
#include "fake_session.h"
#include "unit.h"

extern const struct sk_service sk__service_chargen;

#define LINE_BYTES 74
#define CYCLE_BYTES (95 * LINE_BYTES)

/* The byte at position pos of the classic stream, from first principles. */
static char expected_byte(size_t pos)
{
    size_t line = pos / LINE_BYTES % 95, col = pos % LINE_BYTES;
    if (col == 72)
        return '\r';
    if (col == 73)
        return '\n';
    return (char)(' ' + (line + col) % 95);
}

/* Index of the first wrong byte, or len if all are right. */
static size_t first_mismatch(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((char)p[i] != expected_byte(i))
            return i;
    return len;
}

TEST(chargen_first_lines_are_the_classic_ones)
{
    struct fake_session f;
    fake_open(&f, &sk__service_chargen, NULL, 1 << 16);
    CHECK(f.session.flags & SK_SESSION_WANT_WRITABLE);
    fake_pump(&f, 2 * LINE_BYTES);
    static const char line0[] =
        " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n";
    static const char line1[] =
        "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n";
    CHECK(f.all_len >= 2 * LINE_BYTES);
    CHECK_MEM(f.all, LINE_BYTES, line0, sizeof line0 - 1);
    CHECK_MEM(f.all + LINE_BYTES, LINE_BYTES, line1, sizeof line1 - 1);
    fake_close(&f);
}

TEST(chargen_pattern_holds_across_lines_and_cycles)
{
    struct fake_session f;
    fake_open(&f, &sk__service_chargen, NULL, 1 << 16);
    fake_pump(&f, 5 * CYCLE_BYTES + 1234);
    CHECK(f.all_len >= 5 * CYCLE_BYTES + 1234);
    CHECK_INT(first_mismatch(f.all, f.all_len), f.all_len);
    fake_close(&f);
}

TEST(chargen_writes_at_most_16k_per_call)
{
    struct fake_session f;
    fake_open(&f, &sk__service_chargen, NULL, 1 << 20);
    sk__service_chargen.on_writable(&f.session);
    CHECK_INT(f.out_len, 16384);
    sk__service_chargen.on_writable(&f.session); /* room is smaller now */
    CHECK_INT(f.out_len, 32768);
    CHECK_INT(first_mismatch(f.all, f.all_len), f.all_len);
    fake_close(&f);
}

TEST(chargen_pattern_holds_through_a_tiny_output)
{
    struct fake_session f;
    fake_open(&f, &sk__service_chargen, NULL, 7);
    /* Each call may only take what the 7-byte output has room for. */
    for (int i = 0; i < 7000; i++) {
        size_t before = f.all_len;
        sk__service_chargen.on_writable(&f.session);
        CHECK(f.all_len - before <= 7);
        if (i % 2 == 0)
            fake_take(&f); /* every other call finds the output full */
    }
    CHECK(f.all_len > 2 * CYCLE_BYTES);
    CHECK_INT(first_mismatch(f.all, f.all_len), f.all_len);
    fake_close(&f);
}

TEST(chargen_full_output_writes_nothing)
{
    struct fake_session f;
    fake_open(&f, &sk__service_chargen, NULL, 10);
    sk__service_chargen.on_writable(&f.session);
    CHECK_INT(f.all_len, 10);
    sk__service_chargen.on_writable(&f.session);
    CHECK_INT(f.all_len, 10);
    fake_take(&f);
    sk__service_chargen.on_writable(&f.session);
    CHECK_INT(f.all_len, 20);
    CHECK_INT(first_mismatch(f.all, f.all_len), f.all_len);
    fake_close(&f);
}

TEST(chargen_ignores_input_and_closes_on_eof)
{
    struct fake_session f;
    static const char noise[] = "stop!\r\n";
    fake_open(&f, &sk__service_chargen, NULL, 100);
    for (size_t i = 0; i < sizeof noise - 1; i++)
        CHECK_INT(fake_feed(&f, noise + i, 1), 1);
    CHECK_INT(f.all_len, 0); /* input alone produces nothing */
    fake_pump(&f, 300);
    size_t sent = f.all_len;
    CHECK(sent >= 300);
    fake_eof(&f);
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    CHECK(!(f.session.flags & SK_SESSION_WANT_WRITABLE));
    fake_pump(&f, 300);
    CHECK_INT(f.all_len, sent);
    CHECK_INT(first_mismatch(f.all, f.all_len), f.all_len);
    fake_close(&f);
}

TEST(chargen_udp_reply_is_never_longer_than_the_request)
{
    static unsigned char in[2000], out[2000];
    struct sk_instance inst;
    CHECK_INT(sk__instance_open(&inst, &sk__service_chargen, NULL, NULL), 0);
    for (size_t len = 0; len <= sizeof in; len += (len < 600 ? 1 : 97)) {
        size_t want = len < 512 ? len : 512;
        size_t n = sk__service_chargen.on_datagram(&inst, in, len, out, sizeof out);
        CHECK_INT(n, want);
        CHECK(n <= len);
        CHECK_INT(first_mismatch(out, n), n);
    }
    /* The server's buffer bounds it too. */
    CHECK_INT(sk__service_chargen.on_datagram(&inst, in, 300, out, 100), 100);
    CHECK_INT(sk__service_chargen.on_datagram(&inst, in, 0, out, sizeof out), 0);
    sk__instance_close(&inst);
}
