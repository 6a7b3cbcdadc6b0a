/*
 * chat: three fake sessions share one instance.  Lines fed one byte at a
 * time arrive whole at the other two and never at the sender; long lines
 * are split; "\r\n" is stripped; a member whose output is too small is
 * dropped once, with one log line, while the others keep receiving.
 */
#include "fake_session.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

extern const struct sk_service sk_service_chat;

#define BIG_CAP (1 << 20)

struct log_capture {
    int lines;
    int dropping;        /* lines that start "dropping slow member" */
    char last[512];
};

static void capture_write(void *ctx, enum sk_log_level level, const char *message)
{
    struct log_capture *c = ctx;
    (void)level;
    c->lines++;
    if (strncmp(message, "dropping slow member ", 21) == 0)
        c->dropping++;
    snprintf(c->last, sizeof c->last, "%s", message);
}

struct room {
    struct sk_service_config config;
    struct log_capture log;
    struct sk_logger logger;
    struct sk_instance inst;
};

static void room_open(struct room *r)
{
    memset(r, 0, sizeof *r);
    r->logger.write = capture_write;
    r->logger.ctx = &r->log;
    if (sk_instance_open(&r->inst, &sk_service_chat, &r->config, &r->logger) != 0)
        abort();
}

/* Everything f received since mark, as a C string (for CHECK_STR). */
static const char *since(struct fake_session *f, size_t mark)
{
    static char buf[3][16384];
    static int which;
    char *b = buf[which++ % 3];
    size_t n = f->all_len - mark;
    if (n >= sizeof buf[0])
        n = sizeof buf[0] - 1;
    memcpy(b, f->all + mark, n);
    b[n] = '\0';
    return b;
}

static void expect_text(struct fake_session *f, size_t mark, const char *fmt, const char *peer)
{
    char want[512];
    snprintf(want, sizeof want, fmt, peer, peer);
    CHECK_STR(since(f, mark), want);
}

TEST(chat_welcomes_and_announces_joins)
{
    struct room r;
    struct fake_session a, b, c;
    room_open(&r);
    fake_open_shared(&a, &r.inst, BIG_CAP);
    expect_text(&a, 0, "* welcome %s; 0 others here\n", a.session.peer);
    fake_open_shared(&b, &r.inst, BIG_CAP);
    expect_text(&b, 0, "* welcome %s; 1 others here\n", b.session.peer);
    char want[256];
    snprintf(want, sizeof want, "* welcome %s; 0 others here\n* %s joined\n",
             a.session.peer, b.session.peer);
    CHECK_STR(since(&a, 0), want);
    size_t mark_a = a.all_len, mark_b = b.all_len;
    fake_open_shared(&c, &r.inst, BIG_CAP);
    expect_text(&c, 0, "* welcome %s; 2 others here\n", c.session.peer);
    expect_text(&a, mark_a, "* %s joined\n", c.session.peer);
    expect_text(&b, mark_b, "* %s joined\n", c.session.peer);
    fake_close(&a);
    fake_close(&b);
    fake_close(&c);
    sk_instance_close(&r.inst);
    CHECK_INT(r.log.dropping, 0);
}

/* Three members with their greetings already received. */
static void open_three(struct room *r, struct fake_session *a, struct fake_session *b,
                       struct fake_session *c, size_t cap_c)
{
    room_open(r);
    fake_open_shared(a, &r->inst, BIG_CAP);
    fake_open_shared(b, &r->inst, BIG_CAP);
    fake_open_shared(c, &r->inst, cap_c);
    fake_take(a);
    fake_take(b);
    fake_take(c);
}

static void close_three(struct room *r, struct fake_session *a, struct fake_session *b,
                        struct fake_session *c)
{
    fake_close(a);
    fake_close(b);
    fake_close(c);
    sk_instance_close(&r->inst);
}

TEST(chat_lines_fed_bytewise_reach_the_others_whole)
{
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    size_t ma = a.all_len, mb = b.all_len, mc = c.all_len;

    static const char partial[] = "hel";
    CHECK_INT(fake_feed_bytewise(&a, partial, 3), 3);
    CHECK_INT(b.all_len, mb); /* nothing until the line ends */
    CHECK_INT(c.all_len, mc);

    static const char rest[] = "lo\r\nsecond line\n";
    CHECK_INT(fake_feed_bytewise(&a, rest, sizeof rest - 1), sizeof rest - 1);
    expect_text(&b, mb, "[%s] hello\n[%s] second line\n", a.session.peer);
    expect_text(&c, mc, "[%s] hello\n[%s] second line\n", a.session.peer);
    CHECK_INT(a.all_len, ma); /* the sender hears nothing back */

    /* b answers; a and c hear it. */
    mb = b.all_len;
    ma = a.all_len;
    mc = c.all_len;
    CHECK_INT(fake_feed_bytewise(&b, "hi a\n", 5), 5);
    expect_text(&a, ma, "[%s] hi a\n", b.session.peer);
    expect_text(&c, mc, "[%s] hi a\n", b.session.peer);
    CHECK_INT(b.all_len, mb);
    close_three(&r, &a, &b, &c);
}

TEST(chat_strips_only_the_cr_before_lf)
{
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    size_t mb = b.all_len;
    static const char msg[] = "a\rb\r\r\n\r\n";
    CHECK_INT(fake_feed_bytewise(&a, msg, sizeof msg - 1), sizeof msg - 1);
    /* "a\rb\r" + "\r\n": only the last "\r" goes; then an empty line. */
    char want[256];
    snprintf(want, sizeof want, "[%s] a\rb\r\n[%s] \n", a.session.peer, a.session.peer);
    CHECK_STR(since(&b, mb), want);
    close_three(&r, &a, &b, &c);
}

TEST(chat_long_lines_go_out_in_4096_byte_pieces)
{
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    static char line[5001];
    for (size_t i = 0; i < 5000; i++)
        line[i] = (char)('a' + i % 26);
    line[5000] = '\n';
    size_t mb = b.all_len, mc = c.all_len;
    CHECK_INT(fake_feed_bytewise(&a, line, sizeof line), sizeof line);

    static char want[6000];
    size_t n = 0;
    n += (size_t)sprintf(want + n, "[%s] ", a.session.peer);
    memcpy(want + n, line, 4096);
    n += 4096;
    n += (size_t)sprintf(want + n, "\n[%s] ", a.session.peer);
    memcpy(want + n, line + 4096, 904);
    n += 904;
    want[n++] = '\n';
    CHECK_MEM(b.all + mb, b.all_len - mb, want, n);
    CHECK_MEM(c.all + mc, c.all_len - mc, want, n);

    /* Exactly 4096 bytes and "\r\n": one message, no empty tail. */
    mb = b.all_len;
    memset(line, 'z', 4096);
    line[4096] = '\r';
    line[4097] = '\n';
    CHECK_INT(fake_feed_bytewise(&a, line, 4098), 4098);
    n = (size_t)sprintf(want, "[%s] ", a.session.peer);
    memset(want + n, 'z', 4096);
    n += 4096;
    want[n++] = '\n';
    CHECK_MEM(b.all + mb, b.all_len - mb, want, n);
    close_three(&r, &a, &b, &c);
}

TEST(chat_delivers_a_partial_line_at_eof_then_closes)
{
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    size_t mb = b.all_len;
    CHECK_INT(fake_feed_bytewise(&a, "tail", 4), 4);
    CHECK_INT(b.all_len, mb);
    fake_eof(&a);
    CHECK(a.session.flags & SK_SESSION_CLOSE);
    /* The member leaves at its end of input, after its last words. */
    expect_text(&b, mb, "[%s] tail\n* %s left\n", a.session.peer);
    size_t ma = a.all_len, mc = c.all_len;
    CHECK_INT(fake_feed_bytewise(&b, "bye\n", 4), 4);
    CHECK_INT(a.all_len, ma); /* a has left: nothing more is posted to it */
    CHECK(c.all_len > mc);
    close_three(&r, &a, &b, &c);
}

TEST(chat_announces_leaving)
{
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    size_t ma = a.all_len, mb = b.all_len;
    char peer[sizeof c.session.peer];
    memcpy(peer, c.session.peer, sizeof peer);
    fake_close(&c);
    expect_text(&a, ma, "* %s left\n", peer);
    expect_text(&b, mb, "* %s left\n", peer);
    /* The room goes on without c. */
    ma = a.all_len;
    CHECK_INT(fake_feed_bytewise(&b, "still here?\n", 12), 12);
    expect_text(&a, ma, "[%s] still here?\n", b.session.peer);
    fake_close(&a);
    fake_close(&b);
    sk_instance_close(&r.inst);
}

TEST(chat_drops_a_member_whose_output_is_full_once)
{
    struct room r;
    struct fake_session a, b, c;
    /* c's output holds its welcome and little more, and it never drains. */
    room_open(&r);
    fake_open_shared(&a, &r.inst, BIG_CAP);
    fake_open_shared(&b, &r.inst, BIG_CAP);
    fake_open_shared(&c, &r.inst, 80);
    CHECK(!c.aborted);
    size_t ma = a.all_len, mb = b.all_len, mc = c.all_len;

    static const char line[] = "a line long enough not to fit in what c has left\n";
    CHECK_INT(fake_feed_bytewise(&a, line, sizeof line - 1), sizeof line - 1);
    CHECK(c.aborted);
    CHECK_INT(c.all_len, mc); /* all or nothing: not half a line */
    CHECK_INT(r.log.dropping, 1);
    char want[256];
    snprintf(want, sizeof want, "dropping slow member %s: output full", c.session.peer);
    CHECK_STR(r.log.last, want);
    expect_text(&b, mb, "[%s] a line long enough not to fit in what c has left\n",
                a.session.peer);

    /* More traffic: c is skipped, not logged again; a and b still talk. */
    mb = b.all_len;
    for (int i = 0; i < 10; i++)
        CHECK_INT(fake_feed_bytewise(&a, "more\n", 5), 5);
    CHECK_INT(fake_feed_bytewise(&b, "ok\n", 3), 3);
    CHECK_INT(r.log.dropping, 1);
    CHECK_INT(b.all_len - mb, 10 * (strlen(a.session.peer) + 3 + 5));
    expect_text(&a, ma, "[%s] ok\n", b.session.peer);

    /* The dropped member's session ends; the others hear it left. */
    ma = a.all_len;
    mb = b.all_len;
    char peer[sizeof c.session.peer];
    memcpy(peer, c.session.peer, sizeof peer);
    fake_close(&c);
    expect_text(&a, ma, "* %s left\n", peer);
    expect_text(&b, mb, "* %s left\n", peer);
    fake_close(&a);
    fake_close(&b);
    sk_instance_close(&r.inst);
    CHECK_INT(r.log.dropping, 1);
}
