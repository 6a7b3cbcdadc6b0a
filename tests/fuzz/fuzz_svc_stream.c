/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_svc_stream.c - the stream services that read what peers send:
 * echo, discard, chargen, daytime, time, hello and chat.
 *
 * Feeds: arbitrary bytes in arbitrary pieces through the fake session,
 * driven the way a model drives a service: offer a piece to on_data; if
 * the service takes less (its output is full) drain the output, let it
 * write (on_writable), offer the rest again.  Control bytes pick the
 * service, the output capacity (1 byte to 64 KiB), and per piece its
 * length, whether output drains after it, whether chargen may write, and
 * whether the peer half-closes.  Chat runs two or three members of one
 * room (fake_open_shared), each piece going to the member it names.
 *
 * Asserts:
 *   - on_data never reports more bytes than it was offered, and only echo
 *     writes from on_data (chat posts, and what it posts is checked
 *     against the model below): what a peer sends cannot make these
 *     services talk.
 *   - echo: the output equals the input exactly, byte for byte, however
 *     it was cut and however small the output.
 *   - discard: writes nothing, ever.
 *   - hello: exactly "Hello World!\n", then close; daytime: exactly one
 *     well-formed line of at most 64 bytes ("Saturday, November 21, 2026
 *     14:09:00-UTC\r\n"), then close; time: exactly 4 bytes, within a few
 *     seconds of now, then close.  Whatever the input.
 *   - chargen: the output is the RFC 864 pattern from its start, and at
 *     most pumps x (PUMP_LIMIT + min(capacity, 16 KiB)) bytes: fake_pump
 *     stops once PUMP_LIMIT bytes are out and one on_writable call writes
 *     at most one 16 KiB chunk that fits the output; nothing after the
 *     peer's half-close.
 *   - chat: every member receives exactly the byte stream a reference
 *     model of the room predicts (welcome, joined, "[label] line" for the
 *     others' lines cut at 4,096 bytes with "\r\n" stripped, left; the
 *     commands /nick, /who, /help and their replies, "//" text), or a
 *     prefix of it ending where it was dropped for a full output.  So a
 *     member never receives its own lines, and only the server's bounded
 *     replies to its own commands.
 *
 * Why: these state machines run on every model and take bytes straight
 * from the network; the bounds are what keeps a peer from making the
 * server amplify or buffer without limit.
 */
#include "fake_session.h"
#include "fuzz.h"

#include <string.h>
#include <strings.h>
#include <time.h>

extern const struct sk_service sk__service_echo, sk__service_discard, sk__service_chargen,
    sk__service_daytime, sk__service_time, sk__service_hello, sk__service_chat;

enum { ECHO, DISCARD, CHARGEN, DAYTIME, TIME, HELLO, CHAT, NSERVICES };
static const struct sk_service *const services[NSERVICES] = {
    &sk__service_echo, &sk__service_discard, &sk__service_chargen, &sk__service_daytime,
    &sk__service_time, &sk__service_hello, &sk__service_chat,
};

#define MAX_MEMBERS 3
#define PUMP_LIMIT 256  /* bytes per fake_pump of chargen */
#define MAX_PUMPS 64    /* chargen pumps per input, to keep runs fast */
#define CHARGEN_CHUNK 16384
#define CHAT_LINE_MAX 4096

/* ---- growable byte strings --------------------------------------------- */

struct bytes {
    uint8_t *p;
    size_t len, cap;
};

static void bytes_add(struct bytes *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len)
            cap *= 2;
        b->p = realloc(b->p, cap);
        FUZZ_CHECK(b->p != NULL, "out of memory");
        b->cap = cap;
    }
    if (len > 0)
        memcpy(b->p + b->len, data, len);
    b->len += len;
}

static void bytes_str(struct bytes *b, const char *s)
{
    bytes_add(b, s, strlen(s));
}

/* ---- one member (or the one session) ---------------------------------- */

struct member {
    struct fake_session f;
    int open, eof;
    struct bytes input;    /* every byte on_data took */
    size_t pumps;          /* chargen: fake_pump calls */
    /* chat reference model */
    int joined;
    int pending_cr;
    int kind;              /* L_* */
    char name[129];        /* "" until /nick */
    size_t line_len;
    uint8_t line[CHAT_LINE_MAX];
    struct bytes expect;   /* what this member should have received */
    size_t checked;        /* f.all bytes already compared with expect */
};

static struct member members[MAX_MEMBERS];
static int nmembers, service;
static struct sk_instance chat_room;
static size_t output_cap;

static int member_live(const struct member *m)
{
    return m->open && !m->f.aborted &&
           !(m->f.session.flags & (SK_SESSION_CLOSE | SK_SESSION_FAILED));
}

/* ---- chat: the reference model ----------------------------------------- */

/* The line being collected, as the service classes it by its first two
 * bytes ("/" a command, "//" text that starts with "/"). */
enum { L_EMPTY, L_SLASH, L_TEXT, L_COMMAND, L_SKIP };

static const char *label(const struct member *m)
{
    return m->name[0] ? m->name : m->f.session.peer;
}

static void chat_broadcast(const struct member *from, const struct bytes *text)
{
    for (int i = 0; i < nmembers; i++)
        if (&members[i] != from && members[i].joined)
            bytes_add(&members[i].expect, text->p, text->len);
}

static void chat_tell(struct member *m, const char *text)
{
    bytes_str(&m->expect, text);
}

static void chat_relay(struct member *m)
{
    struct bytes text = { 0 };
    bytes_str(&text, "[");
    bytes_str(&text, label(m));
    bytes_str(&text, "] ");
    bytes_add(&text, m->line, m->line_len);
    bytes_str(&text, "\n");
    chat_broadcast(m, &text);
    free(text.p);
    m->line_len = 0;
}

/* The name rule, from the spec: 1-32 characters of well-formed UTF-8,
 * none a control, space, "[", "]", ":" or an invisible character, not
 * "server"; unique ignoring ASCII case. */
static int model_invisible(unsigned long c)
{
    static const unsigned long ranges[][2] = {
        { 0x80, 0xa0 }, { 0xad, 0xad }, { 0x34f, 0x34f }, { 0x115f, 0x1160 },
        { 0x1680, 0x1680 }, { 0x180e, 0x180e }, { 0x2000, 0x200f }, { 0x2028, 0x202f },
        { 0x205f, 0x206f }, { 0x3000, 0x3000 }, { 0x3164, 0x3164 }, { 0xfe00, 0xfe0f },
        { 0xfeff, 0xfeff }, { 0xffa0, 0xffa0 }, { 0xfff0, 0xffff }, { 0xe0000, 0xe0fff },
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (c >= ranges[i][0] && c <= ranges[i][1])
            return 1;
    return 0;
}

static int model_name_valid(const uint8_t *p, size_t len)
{
    static const unsigned long min_of[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    size_t chars = 0;
    for (size_t i = 0; i < len; chars++) {
        size_t n = p[i] < 0x80 ? 1 : (p[i] & 0xe0) == 0xc0 ? 2 : (p[i] & 0xf0) == 0xe0 ? 3
                 : (p[i] & 0xf8) == 0xf0 ? 4 : 0;
        if (n == 0 || i + n > len)
            return 0;
        unsigned long c = n == 1 ? p[i] : p[i] & (0x7fu >> n);
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            c = c << 6 | (p[i + k] & 0x3fu);
        }
        if (c < min_of[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0; /* overlong, too large, a surrogate */
        if (c <= ' ' || c == 0x7f || c == '[' || c == ']' || c == ':' || model_invisible(c))
            return 0;
        i += n;
    }
    return chars >= 1 && chars <= 32 && !(len == 6 && strncasecmp((const char *)p, "server", 6) == 0);
}

static void chat_nick(struct member *m, const uint8_t *name, size_t len)
{
    char text[512];
    if (len == 0) {
        chat_tell(m, "[server] usage: /nick NAME\n");
        return;
    }
    if (!model_name_valid(name, len)) {
        chat_tell(m, "[server] invalid name: use 1-32 printable characters, no spaces, "
                     "[ ] or :, and not 'server'\n");
        return;
    }
    if (strlen(m->name) == len && memcmp(m->name, name, len) == 0) {
        snprintf(text, sizeof text, "[server] you are already %s\n", m->name);
        chat_tell(m, text);
        return;
    }
    for (int i = 0; i < nmembers; i++) {
        if (&members[i] != m && members[i].joined && strlen(members[i].name) == len &&
            strncasecmp(members[i].name, (const char *)name, len) == 0) {
            snprintf(text, sizeof text, "[server] name '%.*s' is taken\n", (int)len, name);
            chat_tell(m, text);
            return;
        }
    }
    snprintf(text, sizeof text, "* %s is now %.*s\n", label(m), (int)len, name);
    memcpy(m->name, name, len);
    m->name[len] = '\0';
    struct bytes notice = { (uint8_t *)text, strlen(text), 0 };
    chat_broadcast(NULL, &notice);
}

static void chat_command(struct member *m)
{
    const uint8_t *line = m->line;
    size_t len = m->line_len, word = 0, arg, end = len;
    while (word < len && line[word] != ' ')
        word++;
    for (arg = word; arg < len && line[arg] == ' '; arg++)
        ;
    while (end > arg && line[end - 1] == ' ')
        end--;
#define IS(cmd) (word == strlen(cmd) && memcmp(line, cmd, word) == 0)
    if (IS("/nick")) {
        chat_nick(m, line + arg, end - arg);
    } else if (IS("/who")) {
        char text[512];
        int here = 0;
        /* m was live when its byte came; its replies may drop it since. */
        for (int i = 0; i < nmembers; i++)
            here += members[i].joined && (&members[i] == m || !members[i].f.aborted);
        snprintf(text, sizeof text, "[server] %d here:\n", here);
        chat_tell(m, text);
        for (int i = 0; i < nmembers; i++) { /* the oldest first */
            const struct member *o = &members[i];
            if (!o->joined || (o != m && o->f.aborted))
                continue;
            if (o->name[0])
                snprintf(text, sizeof text, "[server]   %s at %s%s\n", o->name,
                         o->f.session.peer, o == m ? " (you)" : "");
            else
                snprintf(text, sizeof text, "[server]   %s%s\n", o->f.session.peer,
                         o == m ? " (you)" : "");
            chat_tell(m, text);
        }
    } else if (IS("/help")) {
        chat_tell(m,
            "[server] commands (a line that starts with / is for the server, not the room):\n"
            "[server]   /nick NAME  be shown as NAME: 1-32 printable characters, no spaces, [ ] or :\n"
            "[server]   /who        who is here\n"
            "[server]   /help       this list\n"
            "[server]   //text      send the line /text to the room\n");
    } else {
        chat_tell(m, "[server] unknown command; try /nick NAME, /who or /help "
                     "(// starts a line with /)\n");
    }
#undef IS
}

static void chat_end_line(struct member *m)
{
    if (m->kind == L_SLASH || m->kind == L_COMMAND)
        chat_command(m);
    else if (m->kind != L_SKIP)
        chat_relay(m);
    m->line_len = 0;
    m->kind = L_EMPTY;
}

static void chat_append(struct member *m, uint8_t c)
{
    if (m->kind == L_EMPTY) {
        m->kind = c == '/' ? L_SLASH : L_TEXT;
    } else if (m->kind == L_SLASH) {
        m->kind = c == '/' ? L_TEXT : L_COMMAND;
        if (c == '/')
            return; /* "//": one "/" goes */
    } else if (m->kind == L_SKIP) {
        return;
    }
    if (m->line_len == CHAT_LINE_MAX) {
        if (m->kind == L_COMMAND) {
            chat_tell(m, "[server] unknown command (longer than 4096 bytes)\n");
            m->kind = L_SKIP;
            m->line_len = 0;
            return;
        }
        chat_relay(m);
    }
    m->line[m->line_len++] = c;
}

/* One byte from m, which was live before it (the harness feeds chat a
 * byte at a time: a reply to m can drop m in the middle of a piece). */
static void chat_model_byte(struct member *m, uint8_t c)
{
    if (c == '\n') {
        m->pending_cr = 0;
        chat_end_line(m);
        return;
    }
    if (m->pending_cr) {
        m->pending_cr = 0;
        chat_append(m, '\r');
    }
    if (c == '\r')
        m->pending_cr = 1;
    else
        chat_append(m, c);
}

static void chat_model_leave(struct member *m)
{
    if (!m->joined)
        return;
    m->joined = 0;
    struct bytes text = { 0 };
    bytes_str(&text, "* ");
    bytes_str(&text, label(m));
    bytes_str(&text, " left\n");
    chat_broadcast(m, &text);
    free(text.p);
}

/* Open member i as the service does: welcome it, tell the others. */
static void chat_open_member(int i)
{
    struct member *m = &members[i];
    unsigned long others = 0;
    for (int k = 0; k < i; k++)
        others += members[k].joined && !members[k].f.aborted;
    fake_open_shared(&m->f, &chat_room, output_cap);
    m->open = 1;
    for (int k = 0; k < i; k++)
        FUZZ_CHECK(strcmp(members[k].f.session.peer, m->f.session.peer) != 0,
                   "harness: two members named %s", m->f.session.peer);
    char text[160];
    snprintf(text, sizeof text, "* welcome %s; %lu others here\n", m->f.session.peer, others);
    bytes_str(&m->expect, text);
    snprintf(text, sizeof text, "* %s joined\n", m->f.session.peer);
    struct bytes joined = { (uint8_t *)text, strlen(text), 0 };
    chat_broadcast(m, &joined);
    m->joined = 1;
}

/* Each member's new output must continue the predicted stream. */
static void chat_check(void)
{
    for (int i = 0; i < nmembers; i++) {
        struct member *m = &members[i];
        if (!m->open)
            continue;
        size_t got = m->f.all_len;
        if (got > m->checked && (got > m->expect.len ||
                                 memcmp(m->f.all + m->checked, m->expect.p + m->checked,
                                        got - m->checked) != 0)) /* show what differs */
            fprintf(stderr, "received:\n%.*s\npredicted:\n%.*s\n", (int)(got - m->checked),
                    (const char *)m->f.all + m->checked, (int)(m->expect.len - m->checked),
                    (const char *)m->expect.p + m->checked);
        FUZZ_CHECK(got <= m->expect.len, "%s received %zu bytes, %zu predicted",
                   m->f.session.peer, got, m->expect.len);
        FUZZ_CHECK(got == m->checked ||
                       memcmp(m->f.all + m->checked, m->expect.p + m->checked,
                              got - m->checked) == 0,
                   "%s received other bytes than predicted after byte %zu", m->f.session.peer,
                   m->checked);
        FUZZ_CHECK(got == m->expect.len || m->f.aborted,
                   "%s missed %zu bytes without being dropped", m->f.session.peer,
                   m->expect.len - got);
        m->checked = got;
    }
}

/* ---- single-session checks ---------------------------------------------- */

static int chargen_byte(size_t i)
{
    size_t line = i / 74, col = i % 74;
    if (col == 72)
        return '\r';
    if (col == 73)
        return '\n';
    return ' ' + (int)((line + col) % 95);
}

static int one_of(const char *s, size_t len, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
            return 1;
    return 0;
}

/* "Saturday, November 21, 2026 14:09:00-UTC\r\n" */
static void check_daytime_line(const uint8_t *p, size_t len)
{
    static const char *const days[] = { "Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday" };
    static const char *const months[] = { "January", "February", "March",     "April",
                                          "May",     "June",     "July",      "August",
                                          "September", "October", "November", "December" };
    char line[65];
    FUZZ_CHECK(len >= 30 && len <= 64, "daytime line of %zu bytes", len);
    FUZZ_CHECK(p[len - 2] == '\r' && p[len - 1] == '\n' && memchr(p, '\n', len - 1) == NULL,
               "daytime sent more or less than one line");
    memcpy(line, p, len);
    line[len] = '\0';
    char *comma = strchr(line, ',');
    FUZZ_CHECK(comma && one_of(line, (size_t)(comma - line), days, 7), "day in \"%s\"", line);
    char *month = comma + 2, *space = strchr(month, ' ');
    FUZZ_CHECK(comma[1] == ' ' && space && one_of(month, (size_t)(space - month), months, 12),
               "month in \"%s\"", line);
    int day, year, hh, mm, ss, used = 0;
    FUZZ_CHECK(sscanf(space, " %d, %d %2d:%2d:%2d-UTC\r\n%n", &day, &year, &hh, &mm, &ss,
                      &used) == 5 && (size_t)(space - line + used) == len,
               "daytime line \"%s\"", line);
    FUZZ_CHECK(day >= 1 && day <= 31 && year >= 2020 && hh < 24 && mm < 60 && ss < 61,
               "daytime values in \"%s\"", line);
}

/* greeting-cut-by-eof (see fuzz_tolerates): hello, daytime and time have
 * no on_eof, so a half-close while part of their answer waits for room
 * closes the session and the rest is never sent.  When tolerated, such a
 * session may have sent a prefix of up to max bytes. */
static int cut_by_eof(const struct member *m, size_t len, size_t max)
{
    return m->eof && len < max && fuzz_tolerates("greeting-cut-by-eof");
}

static void check_single(struct member *m)
{
    const uint8_t *out = m->f.all;
    size_t len = m->f.all_len;
    switch (service) {
    case ECHO:
        FUZZ_CHECK(len == m->input.len && (len == 0 || memcmp(out, m->input.p, len) == 0),
                   "echo sent %zu bytes for %zu", len, m->input.len);
        break;
    case DISCARD:
        FUZZ_CHECK(len == 0, "discard wrote %zu bytes", len);
        break;
    case CHARGEN: {
        size_t per_pump = PUMP_LIMIT + (output_cap < CHARGEN_CHUNK ? output_cap : CHARGEN_CHUNK);
        FUZZ_CHECK(len <= m->pumps * per_pump, "chargen wrote %zu bytes in %zu pumps", len,
                   m->pumps);
        for (size_t i = 0; i < len; i++)
            FUZZ_CHECK(out[i] == chargen_byte(i), "chargen byte %zu is 0x%02x", i, out[i]);
        break;
    }
    case DAYTIME:
        FUZZ_CHECK(m->f.session.flags & SK_SESSION_CLOSE, "daytime did not close");
        if ((len == 0 || out[len - 1] != '\n') && cut_by_eof(m, len, 64)) {
            FUZZ_CHECK(len == 0 || memchr(out, '\n', len - 1) == NULL, "daytime: two lines");
            break;
        }
        check_daytime_line(out, len);
        break;
    case TIME: {
        if (cut_by_eof(m, len, 4))
            break;
        FUZZ_CHECK(len == 4 && (m->f.session.flags & SK_SESSION_CLOSE), "time sent %zu bytes",
                   len);
        uint32_t t = (uint32_t)out[0] << 24 | (uint32_t)out[1] << 16 | (uint32_t)out[2] << 8 |
                     out[3];
        uint32_t now = (uint32_t)((uint64_t)time(NULL) + 2208988800u);
        FUZZ_CHECK((uint32_t)(now - t) <= 5 || (uint32_t)(t - now) <= 5,
                   "time %u, now %u", (unsigned)t, (unsigned)now);
        break;
    }
    case HELLO:
        if (cut_by_eof(m, len, 13)) {
            FUZZ_CHECK(len == 0 || memcmp(out, "Hello World!\n", len) == 0,
                       "hello: not the greeting");
            break;
        }
        FUZZ_CHECK(len == 13 && memcmp(out, "Hello World!\n", 13) == 0 &&
                       (m->f.session.flags & SK_SESSION_CLOSE),
                   "hello sent %zu bytes", len);
        break;
    }
}

/* ---- driving ------------------------------------------------------------- */

/* Let the service write what it wants to, and take it off the output.
 * Chargen writes for ever: it gets PUMP_LIMIT bytes per pump, and only
 * when the input asks (allow_chargen). */
static void pump(struct member *m, int allow_chargen)
{
    if (!m->open)
        return;
    fake_take(&m->f); /* the socket took what was queued */
    if (service == CHARGEN) {
        if (!allow_chargen || m->pumps >= MAX_PUMPS)
            return;
        m->pumps++;
        fake_pump(&m->f, PUMP_LIMIT);
    } else {
        fake_pump(&m->f, (size_t)1 << 20);
    }
    fake_take(&m->f);
}

/* Chat takes every byte at once; one at a time, so that the model knows
 * each byte's sender was live when it came. */
static void feed_chat(struct member *m, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && member_live(m); i++) {
        size_t used = fake_feed(&m->f, p + i, 1);
        FUZZ_CHECK(used == 1, "chat took %zu of 1 byte", used);
        bytes_add(&m->input, p + i, 1);
        chat_model_byte(m, p[i]);
        chat_check();
    }
}

static void feed(struct member *m, const uint8_t *p, size_t n)
{
    size_t off = 0;
    if (service == CHAT) {
        feed_chat(m, p, n);
        return;
    }
    int stalled = 0;
    while (off < n && member_live(m)) {
        size_t before = m->f.all_len;
        size_t used = fake_feed(&m->f, p + off, n - off);
        FUZZ_CHECK(used <= n - off, "on_data took %zu of %zu", used, n - off);
        size_t wrote = m->f.all_len - before;
        if (service == ECHO)
            FUZZ_CHECK(wrote == used, "echo took %zu and wrote %zu", used, wrote);
        else
            FUZZ_CHECK(wrote == 0, "%s wrote %zu bytes from on_data", services[service]->name,
                       wrote);
        bytes_add(&m->input, p + off, used);
        off += used;
        if (used > 0) {
            stalled = 0;
        } else {
            /* Output full: a model waits for it to drain, then reads again. */
            if (stalled++)
                break;
            fake_take(&m->f);
            pump(m, 1);
        }
    }
}

static void half_close(struct member *m)
{
    if (!member_live(m) || m->eof)
        return;
    m->eof = 1;
    if (service == CHAT) {
        if (m->line_len > 0)
            chat_end_line(m);
        m->pending_cr = 0;
        chat_model_leave(m);
    }
    fake_eof(&m->f);
    if (service == CHAT)
        chat_check();
}

/*
 * Input: ctrl, caps, then pieces of [h, n, n bytes]: h bits 0-1 the
 * member, 2 half-close it after the piece, 3 keep output queued (else
 * drain), 4 length x 16, 5 let chargen write.  ctrl: service (mod 7), bit
 * 3 a third chat member.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[] = { 1, 2, 5, 16, 100, 1000, 8192, 65536 };
    struct fuzz_input in = { data, size };
    uint8_t ctrl = fuzz_byte(&in);
    service = ctrl % NSERVICES;
    output_cap = caps[fuzz_byte(&in) & 7];
    nmembers = service == CHAT ? 2 + (ctrl >> 3 & 1) : 1;
    memset(members, 0, sizeof members);

    /* The fake names sessions 127.0.0.1:<rand()>: the same names for
     * every input keeps runs reproducible. */
    srand(1);
    if (service == CHAT) {
        FUZZ_CHECK(sk__instance_open(&chat_room, &sk__service_chat, NULL, NULL) == 0, "chat");
        for (int i = 0; i < nmembers; i++)
            chat_open_member(i);
        chat_check();
    } else {
        fake_open(&members[0].f, services[service], NULL, output_cap);
        members[0].open = 1;
    }

    while (in.len > 0) {
        uint8_t h = fuzz_byte(&in);
        size_t want = (size_t)fuzz_byte(&in) * (h & 16 ? 16 : 1);
        const uint8_t *piece;
        size_t n = fuzz_take(&in, want, &piece);
        struct member *m = &members[(h & 3) % nmembers];
        feed(m, piece, n);
        if (h & 4)
            half_close(m);
        if (!(h & 8))
            for (int i = 0; i < nmembers; i++)
                pump(&members[i], h & 32);
        if (service == CHAT)
            chat_check();
    }

    for (int i = 0; i < nmembers; i++)
        pump(&members[i], 1);
    if (service == CHAT) {
        chat_check();
        /* Members leave one by one; the rest hear about it. */
        for (int i = 0; i < nmembers; i++) {
            chat_model_leave(&members[i]);
            fake_close(&members[i].f);
            members[i].open = 0;
            chat_check();
        }
        sk__instance_close(&chat_room);
    } else {
        check_single(&members[0]);
        if (members[0].eof && service == CHARGEN) {
            size_t before = members[0].f.all_len;
            fake_pump(&members[0].f, PUMP_LIMIT);
            FUZZ_CHECK(members[0].f.all_len == before, "chargen wrote after the half-close");
        }
        fake_close(&members[0].f);
    }
    for (int i = 0; i < nmembers; i++) {
        free(members[i].input.p);
        free(members[i].expect.p);
    }
    return 0;
}
