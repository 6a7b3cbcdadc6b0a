/* SPDX-License-Identifier: BSD-2-Clause */
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

extern const struct sk_service sk__service_chat;

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
    if (sk__instance_open(&r->inst, &sk__service_chat, &r->config, &r->logger) != 0)
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
    sk__instance_close(&r.inst);
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
    sk__instance_close(&r->inst);
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
    sk__instance_close(&r.inst);
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
    sk__instance_close(&r.inst);
    CHECK_INT(r.log.dropping, 1);
}

/* ---- names and commands ------------------------------------------------ */

/* Feed a line (a C string) to f one byte at a time. */
static void say(struct fake_session *f, const char *text)
{
    CHECK_INT(fake_feed_bytewise(f, text, strlen(text)), strlen(text));
}

/* Marks of what each of three members has received so far. */
struct marks {
    size_t a, b, c;
};

static struct marks mark(struct fake_session *a, struct fake_session *b,
                         struct fake_session *c)
{
    struct marks m = { a->all_len, b->all_len, c->all_len };
    return m;
}

TEST(chat_nick_names_a_member_for_everyone)
{
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    struct marks m = mark(&a, &b, &c);
    say(&a, "/nick alice\n");
    /* The whole room hears it, a too (its name took). */
    expect_text(&a, m.a, "* %s is now alice\n", a.session.peer);
    expect_text(&b, m.b, "* %s is now alice\n", a.session.peer);
    expect_text(&c, m.c, "* %s is now alice\n", a.session.peer);

    m = mark(&a, &b, &c);
    say(&a, "hi\r\n");
    CHECK_STR(since(&b, m.b), "[alice] hi\n");
    CHECK_STR(since(&c, m.c), "[alice] hi\n");
    CHECK_INT(a.all_len, m.a);

    /* A member without a name is still shown by its address. */
    m = mark(&a, &b, &c);
    say(&b, "hello alice\n");
    expect_text(&a, m.a, "[%s] hello alice\n", b.session.peer);

    /* Spaces around the name do not count. */
    m = mark(&a, &b, &c);
    say(&b, "/nick   bob  \r\n"); /* "\r\n" ends a command line too */
    expect_text(&c, m.c, "* %s is now bob\n", b.session.peer);
    close_three(&r, &a, &b, &c);
}

TEST(chat_rename_frees_the_old_name)
{
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    say(&a, "/nick alice\n");
    struct marks m = mark(&a, &b, &c);
    say(&a, "/nick bob\n");
    CHECK_STR(since(&a, m.a), "* alice is now bob\n");
    CHECK_STR(since(&b, m.b), "* alice is now bob\n");
    CHECK_STR(since(&c, m.c), "* alice is now bob\n");
    m = mark(&a, &b, &c);
    say(&a, "x\n");
    CHECK_STR(since(&b, m.b), "[bob] x\n");

    /* "alice" is free again; a change of case is a rename too. */
    m = mark(&a, &b, &c);
    say(&c, "/nick alice\n");
    expect_text(&a, m.a, "* %s is now alice\n", c.session.peer);
    m = mark(&a, &b, &c);
    say(&a, "/nick Bob\n");
    CHECK_STR(since(&b, m.b), "* bob is now Bob\n");

    /* The same name again changes nothing and tells only the asker. */
    m = mark(&a, &b, &c);
    say(&a, "/nick Bob\n");
    CHECK_STR(since(&a, m.a), "[server] you are already Bob\n");
    CHECK_INT(b.all_len, m.b);
    CHECK_INT(c.all_len, m.c);
    close_three(&r, &a, &b, &c);
}

TEST(chat_a_taken_name_is_refused_to_the_asker_only)
{
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    say(&a, "/nick alice\n");
    struct marks m = mark(&a, &b, &c);
    say(&b, "/nick alice\n");
    CHECK_STR(since(&b, m.b), "[server] name 'alice' is taken\n");
    say(&b, "/nick ALICE\n"); /* names are unique ignoring ASCII case */
    CHECK_STR(since(&b, m.b),
              "[server] name 'alice' is taken\n[server] name 'ALICE' is taken\n");
    CHECK_INT(a.all_len, m.a);
    CHECK_INT(c.all_len, m.c);
    /* b keeps its address. */
    say(&b, "still me\n");
    expect_text(&a, m.a, "[%s] still me\n", b.session.peer);
    close_three(&r, &a, &b, &c);
}

TEST(chat_invalid_names_are_refused)
{
    static const char refused[] = "[server] invalid name: use 1-32 printable characters, "
                                  "no spaces, [ ] or :, and not 'server'\n";
    static const char *const bad[] = {
        "a b",                                  /* a space inside */
        "[x]", "a[b", "b]", "127.0.0.1:4000",   /* brackets, an address */
        "server", "SERVER",                     /* the server's own */
        "abcdefghijklmnopqrstuvwxyz0123456",    /* 33 characters */
        "tab\there", "esc\x1b[31m", "del\x7f",  /* controls */
        "caf\xc3", "\xc3\xa9\xff", "\xc0\xaf",  /* not UTF-8; overlong "/" */
        "\xed\xa0\x80",                         /* a surrogate */
        "a\xc2\x9b", "nb\xc2\xa0sp",            /* C1 CSI, no-break space */
        "zero\xe2\x80\x8bwidth", "\xe2\x80\xae" "evil", /* ZWSP, bidi override */
        "\xe3\x85\xa4",                         /* a Hangul filler */
    };
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct marks m = mark(&a, &b, &c);
        char line[128];
        snprintf(line, sizeof line, "/nick %s\n", bad[i]);
        say(&a, line);
        if (strcmp(since(&a, m.a), refused) != 0)
            unit_fail(__FILE__, __LINE__, "name #%zu was not refused: %s", i, since(&a, m.a));
        CHECK_INT(b.all_len, m.b);
    }
    struct marks m = mark(&a, &b, &c);
    say(&a, "/nick\n");
    say(&a, "/nick   \n");
    CHECK_STR(since(&a, m.a), "[server] usage: /nick NAME\n[server] usage: /nick NAME\n");

    /* At the limits: 32 characters, 32 two-byte ones, CJK, one byte. */
    static const char *const good[] = {
        "abcdefghijklmnopqrstuvwxyz012345",
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
        "\xe5\xb0\x8f\xe6\x98\x8e", "x", "servers", "a.b@c-d_e!",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        m = mark(&a, &b, &c);
        char line[160], want[256];
        snprintf(line, sizeof line, "/nick %s\n", good[i]);
        say(&b, line);
        snprintf(want, sizeof want, " is now %s\n", good[i]);
        const char *got = since(&a, m.a);
        if (strlen(got) < strlen(want) || strcmp(got + strlen(got) - strlen(want), want) != 0)
            unit_fail(__FILE__, __LINE__, "name #%zu was refused: %s", i, got);
    }
    close_three(&r, &a, &b, &c);
}

TEST(chat_who_lists_the_members_to_the_asker)
{
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    say(&b, "/nick bob\n");
    struct marks m = mark(&a, &b, &c);
    say(&c, "/who\n");
    char want[512];
    snprintf(want, sizeof want,
             "[server] 3 here:\n[server]   %s\n[server]   bob at %s\n[server]   %s (you)\n",
             a.session.peer, b.session.peer, c.session.peer);
    CHECK_STR(since(&c, m.c), want);
    CHECK_INT(a.all_len, m.a);
    CHECK_INT(b.all_len, m.b);
    close_three(&r, &a, &b, &c);
}

TEST(chat_help_and_unknown_commands_answer_the_asker_only)
{
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    struct marks m = mark(&a, &b, &c);
    say(&a, "/help\n");
    const char *help = since(&a, m.a);
    CHECK(strncmp(help, "[server] commands", 17) == 0);
    CHECK(strstr(help, "\n[server]   /nick NAME ") != NULL);
    CHECK(strstr(help, "\n[server]   /who ") != NULL);
    CHECK(strstr(help, "\n[server]   //text ") != NULL);
    CHECK_INT(b.all_len, m.b);
    CHECK_INT(c.all_len, m.c);

    static const char unknown[] =
        "[server] unknown command; try /nick NAME, /who or /help (// starts a line with /)\n";
    static const char *const lines[] = { "/foo\n", "/\n", "/nickname x\n", "/NICK x\n",
                                         "/who?\n", "/\r\n" };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        m = mark(&a, &b, &c);
        say(&a, lines[i]);
        CHECK_STR(since(&a, m.a), unknown);
        CHECK_INT(b.all_len, m.b);
        CHECK_INT(c.all_len, m.c);
    }
    close_three(&r, &a, &b, &c);
}

TEST(chat_double_slash_sends_a_line_that_starts_with_slash)
{
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    struct marks m = mark(&a, &b, &c);
    say(&a, "//nick is a command\n///\n//\n x /nick y\n");
    char want[512];
    snprintf(want, sizeof want, "[%s] /nick is a command\n[%s] //\n[%s] /\n[%s]  x /nick y\n",
             a.session.peer, a.session.peer, a.session.peer, a.session.peer);
    CHECK_STR(since(&b, m.b), want);
    CHECK_INT(a.all_len, m.a);
    close_three(&r, &a, &b, &c);
}

TEST(chat_a_command_longer_than_a_line_is_dropped)
{
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    static char line[6002];
    memcpy(line, "/nick ", 6);
    memset(line + 6, 'x', 5995);
    line[6001] = '\n';
    struct marks m = mark(&a, &b, &c);
    CHECK_INT(fake_feed_bytewise(&a, line, sizeof line), sizeof line);
    CHECK_STR(since(&a, m.a), "[server] unknown command (longer than 4096 bytes)\n");
    CHECK_INT(b.all_len, m.b);
    /* The next line is a line again. */
    say(&a, "after\n");
    expect_text(&b, m.b, "[%s] after\n", a.session.peer);

    /* A long "//" line is text, cut in 4,096-byte pieces like any. */
    line[0] = line[1] = '/';
    m = mark(&a, &b, &c);
    CHECK_INT(fake_feed_bytewise(&a, line, sizeof line), sizeof line);
    CHECK_INT(b.all_len - m.b, 2 * (strlen(a.session.peer) + 3) + 6000 + 2);
    close_three(&r, &a, &b, &c);
}

TEST(chat_leaving_is_announced_with_the_name)
{
    struct room r;
    struct fake_session a, b, c;
    open_three(&r, &a, &b, &c, BIG_CAP);
    say(&a, "/nick alice\n");
    say(&c, "/nick carol\n");
    struct marks m = mark(&a, &b, &c);
    fake_close(&c); /* hung up */
    CHECK_STR(since(&a, m.a), "* carol left\n");
    CHECK_STR(since(&b, m.b), "* carol left\n");

    /* A command without "\n" at the end of input still runs. */
    m = mark(&a, &b, &c);
    say(&a, "/nick zed");
    fake_eof(&a);
    CHECK_STR(since(&b, m.b), "* alice is now zed\n* zed left\n");
    CHECK_STR(since(&a, m.a), "* alice is now zed\n");

    /* The names of members who left are free. */
    struct fake_session d;
    fake_open_shared(&d, &r.inst, BIG_CAP);
    size_t md = d.all_len;
    say(&d, "/nick carol\n");
    expect_text(&d, md, "* %s is now carol\n", d.session.peer);
    fake_close(&d);
    fake_close(&a);
    fake_close(&b);
    sk__instance_close(&r.inst);
}

TEST(chat_replies_respect_the_slow_reader_rule)
{
    struct room r;
    struct fake_session a, b, c;
    /* c's output holds its welcome and little more: a /help it cannot
     * take drops it, once, and the room goes on. */
    room_open(&r);
    fake_open_shared(&a, &r.inst, BIG_CAP);
    fake_open_shared(&b, &r.inst, BIG_CAP);
    fake_open_shared(&c, &r.inst, 80);
    size_t mc = c.all_len;
    CHECK_INT(fake_feed(&c, "/help\n", 6), 6);
    CHECK(c.aborted);
    CHECK_INT(c.all_len, mc);
    CHECK_INT(r.log.dropping, 1);
    size_t mb = b.all_len;
    CHECK_INT(fake_feed(&c, "/nick carl\n", 11), 11); /* ignored: c is leaving */
    CHECK_INT(b.all_len, mb);
    fake_close(&c);
    expect_text(&b, mb, "* %s left\n", c.session.peer);
    fake_close(&a);
    fake_close(&b);
    sk__instance_close(&r.inst);
    CHECK_INT(r.log.dropping, 1);
}
