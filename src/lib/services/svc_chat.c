/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * svc_chat.c - a line-based chat room: every line a member sends goes to
 * all the other members, prefixed with who sent it.
 *
 *     newcomer gets   "* welcome 127.0.0.1:5555; 2 others here\n"
 *     others get      "* 127.0.0.1:5555 joined\n"
 *     a line "hi"     "[127.0.0.1:5555] hi\n"   (to everyone but the sender)
 *     on leaving      "* 127.0.0.1:5555 left\n"
 *
 * Names.  A line that starts with "/" is a command to the server, never
 * relayed; "//" starts a line that is relayed with one "/" fewer.
 *
 *     /nick NAME   be shown as NAME: everyone, the member too, gets
 *                  "* 127.0.0.1:5555 is now alice\n" (or "* alice is now
 *                  bob\n"), and its lines then come as "[alice] hi\n"
 *     /who         the members, to the asker only
 *     /help        the commands, to the asker only
 *
 * Every other reply goes to the asker only and starts "[server] ": a name
 * that is taken ("[server] name 'bob' is taken"), a name that is not valid,
 * an unknown command (one line of help).  A name is 1 to 32 printable
 * characters (ASCII or UTF-8) without spaces, "[", "]" or ":", not
 * "server", and unique in the room ignoring ASCII case.  So no name can
 * pass for the server, for another member, or for an address (every
 * address has a ":"), and no member text can: the client shows a member's
 * "\r" as "\r", so its line always starts with its own "[label] ".  A
 * member without a name is shown by its address; joins are announced by
 * address (nobody has a name yet) and leaves by the name when it has one.
 *
 * Lines end in "\n" or "\r\n" (the "\r" is stripped; a "\r" elsewhere is
 * kept as text).  A line is bounded: each member has a 4,096-byte line
 * buffer, and a longer line is delivered in 4,096-byte pieces, each
 * ending with "\n", so no member can make the server hold more than that
 * for it.  (A command that long is no command: the member hears that it
 * is unknown and the rest of the line is dropped.)  When a member's input
 * ends (it half-closed or hung up), a partial last line is delivered, the
 * member leaves the room at once and its session closes: nobody posts to
 * a socket whose peer is going away.
 *
 * The member list and the names on it are the instance's state, shared by
 * sessions that the thread model runs on many threads, so they sit behind
 * one mutex (the "hub lock"); the event models run chat on one worker, so
 * there the lock is never contended.  A member's name is written only by
 * its own session, under the hub lock, and read by others under it.
 * Delivery uses sk_session_post, which is thread-safe and all-or-nothing:
 * a member gets whole lines or is dropped, never half a line.  What "too
 * slow" means is chat's, told to every session in chat_open
 * (sk_session_set_slow_reader): lines may wait for a member up to
 * chat_output_cap bytes, and a member that takes nothing for CHAT_STALL_MS
 * while lines wait is too slow.  Every model applies that one rule (the
 * event models through the connection core, which also stops reading the
 * room while lines wait; the blocking ones by waiting in the post).  A
 * server's replies to a member are posts too, under the same rule.  When
 * a post fails with SK_EBUFFULL the member is logged once at WARN,
 * "dropping slow member <peer>: output full", and aborted; the core says
 * the same when it drops a stalled member itself.  A member stays on the
 * list, skipped (its name still taken), until its own session ends and
 * leaves.
 *
 * Lock order: the hub lock, then whatever the post takes (the target's
 * write lock).  Posting under the hub lock is what makes on_close safe:
 * a member leaves the list under the same lock before its session memory
 * is freed, so no post can reach a dead session.  The price on the
 * blocking models is that a stuck member can hold up the room for the
 * stall time (2 s) once, before it is dropped, as it does on the others.
 */
#include "sk_service.h"
#include "sk_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_LINE_MAX 4096
#define CHAT_STALL_MS 2000 /* a member who takes nothing this long is dropped */
#define CHAT_OUTPUT_CAP (1 << 20) /* lines that may wait for one member, by default */
#define CHAT_NAME_CHARS 32
#define CHAT_NAME_BYTES (4 * CHAT_NAME_CHARS) /* a UTF-8 character is at most 4 */
#define CHAT_PEER_SIZE sizeof ((struct sk_session *)0)->peer
/* What a member is shown as, its name or its address, with the NUL. */
#define CHAT_LABEL_SIZE \
    (CHAT_NAME_BYTES + 1 > CHAT_PEER_SIZE ? CHAT_NAME_BYTES + 1 : CHAT_PEER_SIZE)
/* "[" + label + "] " */
#define CHAT_PREFIX_MAX (CHAT_LABEL_SIZE + 3)
/* Notices and replies: "* <label> is now <name>\n" and shorter. */
#define CHAT_NOTICE_MAX (2 * CHAT_LABEL_SIZE + 128)

/* What the line being collected is, told by its first two bytes. */
enum line_kind {
    LINE_EMPTY,   /* nothing yet */
    LINE_SLASH,   /* just "/": a command, or "//" text */
    LINE_TEXT,    /* relayed to the others */
    LINE_COMMAND, /* "/" and then anything but "/" */
    LINE_SKIP,    /* a command too long to be one: dropped up to its "\n" */
};

struct chat_member {
    /* Owned by the hub lock. */
    struct chat_member *prev, *next;
    struct sk_session *session;
    int joined;  /* on the hub's list */
    int dropped; /* a post failed; the session is being aborted */
    /* Written only by the member's own session, with the hub lock held
     * (so that session may read it without the lock). */
    char name[CHAT_NAME_BYTES + 1]; /* "" until /nick */

    /* Owned by the member's own session (its thread). */
    int pending_cr;      /* a "\r" that ends the line if "\n" follows */
    enum line_kind kind; /* of the line being collected */
    size_t prefix_len;   /* "[label] " at the start of message */
    size_t line_len;     /* bytes of the line after the prefix */
    char message[CHAT_PREFIX_MAX + CHAT_LINE_MAX + 1];
};

struct chat_hub {
    sk__mutex_t *lock;
    struct chat_member *head; /* the newest member first */
};

static int chat_instance_open(struct sk_instance *inst)
{
    struct chat_hub *hub = calloc(1, sizeof *hub);
    if (hub == NULL)
        return -ENOMEM;
    if ((hub->lock = sk__mutex_new()) == NULL) {
        free(hub);
        return -ENOMEM;
    }
    inst->state = hub;
    return 0;
}

static void chat_instance_close(struct sk_instance *inst)
{
    struct chat_hub *hub = inst->state;
    if (hub == NULL)
        return;
    sk__mutex_free(hub->lock);
    free(hub);
    inst->state = NULL;
}

/* What the room calls m: its name once it has one, else its address. */
static const char *label_of(const struct chat_member *m)
{
    return m->name[0] != '\0' ? m->name : m->session->peer;
}

/* Hub lock held.  Mark m dropped, say so once, and end its session. */
static void drop_locked(struct sk_instance *inst, struct chat_member *m, int rc)
{
    if (m->dropped)
        return;
    m->dropped = 1;
    if (rc == SK_EBUFFULL)
        sk_log(inst->logger, SK_LOG_WARN, "dropping slow member %s: output full",
               m->session->peer);
    else /* a model that says why: the member is already gone, not slow */
        sk_log(inst->logger, SK_LOG_INFO, "dropping member %s: %s",
               m->session->peer, sk_strerror(rc));
    sk_session_abort(m->session);
}

/* Hub lock held.  Post to m unless it is being dropped; drop it if the
 * post fails. */
static void post_locked(struct sk_instance *inst, struct chat_member *m, const char *text,
                        size_t len)
{
    if (m->dropped)
        return;
    int rc = sk_session_post(m->session, text, len);
    if (rc < 0)
        drop_locked(inst, m, rc);
}

/* Hub lock held.  Post to every live member except from (may be NULL). */
static void broadcast_locked(struct sk_instance *inst, const struct chat_member *from,
                             const char *text, size_t len)
{
    struct chat_hub *hub = inst->state;
    for (struct chat_member *m = hub->head; m != NULL; m = m->next)
        if (m != from)
            post_locked(inst, m, text, len);
}

/* snprintf that returns the length actually stored (truncated, never
 * negative), so the result can be posted as is. */
static size_t format_text(char *buf, size_t cap, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, cap, fmt, ap);
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

static size_t format_notice(char *buf, size_t cap, const char *fmt, ...) SK_PRINTF(3, 4);
static size_t format_notice(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = format_text(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* Hub lock held.  A line from the server to m alone. */
static void tell_locked(struct sk_instance *inst, struct chat_member *m, const char *fmt, ...)
    SK_PRINTF(3, 4);
static void tell_locked(struct sk_instance *inst, struct chat_member *m, const char *fmt, ...)
{
    char text[CHAT_NOTICE_MAX];
    va_list ap;
    va_start(ap, fmt);
    size_t len = format_text(text, sizeof text, fmt, ap);
    va_end(ap);
    post_locked(inst, m, text, len);
}

/* The member's own session, between lines: "[label] " starts message. */
static void set_prefix(struct chat_member *me)
{
    me->prefix_len = format_notice(me->message, CHAT_PREFIX_MAX, "[%s] ", label_of(me));
}

/* ---- names ------------------------------------------------------------- */

/* The length of the well-formed UTF-8 character at p (1 to 4 bytes, at
 * most len) and its code point in *cp; 0 for anything else (a stray or
 * overlong byte, a surrogate, beyond U+10FFFF, cut short). */
static size_t utf8_next(const unsigned char *p, size_t len, uint32_t *cp)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    uint32_t v;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2, v = p[0] & 0x1fu;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3, v = p[0] & 0x0fu;
        lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4, v = p[0] & 0x07u;
        lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
            return 0;
        v = v << 6 | (p[i] & 0x3fu);
    }
    *cp = v;
    return n;
}

/* Characters beyond ASCII that a terminal shows as nothing, as space, or
 * that move the text around them: C1 controls, Unicode spaces, zero-width
 * and bidirectional controls, fillers, variation selectors, specials and
 * tags.  A name with one could look blank, or like another name. */
static int invisible(uint32_t c)
{
    return (c >= 0x80 && c <= 0xa0) || c == 0xad || c == 0x34f || c == 0x115f ||
           c == 0x1160 || c == 0x1680 || c == 0x180e || (c >= 0x2000 && c <= 0x200f) ||
           (c >= 0x2028 && c <= 0x202f) || (c >= 0x205f && c <= 0x206f) || c == 0x3000 ||
           c == 0x3164 || (c >= 0xfe00 && c <= 0xfe0f) || c == 0xfeff || c == 0xffa0 ||
           (c >= 0xfff0 && c <= 0xffff) || (c >= 0xe0000 && c <= 0xe0fff);
}

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* The len bytes at a name the same name as b, ignoring ASCII case. */
static int same_name(const char *a, size_t len, const char *b)
{
    if (strlen(b) != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* 1 to CHAT_NAME_CHARS printable characters, none of them a space, "[",
 * "]" or ":" (so a name never passes for an address or breaks out of its
 * "[name]"), and not "server". */
static int name_valid(const char *name, size_t len)
{
    const unsigned char *p = (const unsigned char *)name;
    size_t chars = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n = utf8_next(p + i, len - i, &c);
        if (n == 0 || c <= ' ' || c == 0x7f || c == '[' || c == ']' || c == ':' ||
            invisible(c) || ++chars > CHAT_NAME_CHARS)
            return 0;
        i += n;
    }
    return chars > 0 && !same_name(name, len, "server");
}

/* ---- commands ------------------------------------------------------------ */

static const char help_lines[] =
    "[server] commands (a line that starts with / is for the server, not the room):\n"
    "[server]   /nick NAME  be shown as NAME: 1-32 printable characters, no spaces, [ ] or :\n"
    "[server]   /who        who is here\n"
    "[server]   /help       this list\n"
    "[server]   //text      send the line /text to the room\n";

/* Hub lock held.  /nick NAME from me. */
static void nick_locked(struct sk_instance *inst, struct chat_member *me, const char *name,
                        size_t len)
{
    struct chat_hub *hub = inst->state;
    if (len == 0) {
        tell_locked(inst, me, "[server] usage: /nick NAME\n");
        return;
    }
    if (!name_valid(name, len)) {
        tell_locked(inst, me, "[server] invalid name: use 1-32 printable characters, "
                              "no spaces, [ ] or :, and not 'server'\n");
        return;
    }
    if (strlen(me->name) == len && memcmp(me->name, name, len) == 0) {
        tell_locked(inst, me, "[server] you are already %s\n", me->name);
        return;
    }
    for (struct chat_member *m = hub->head; m != NULL; m = m->next) {
        if (m != me && same_name(name, len, m->name)) {
            tell_locked(inst, me, "[server] name '%.*s' is taken\n", (int)len, name);
            return;
        }
    }
    char notice[CHAT_NOTICE_MAX];
    size_t notice_len = format_notice(notice, sizeof notice, "* %s is now %.*s\n",
                                      label_of(me), (int)len, name);
    memcpy(me->name, name, len); /* name points into message: copy it first */
    me->name[len] = '\0';
    set_prefix(me);
    broadcast_locked(inst, NULL, notice, notice_len); /* me too: the name took */
}

/* Hub lock held.  /who: every member still here, the oldest first. */
static void who_locked(struct sk_instance *inst, struct chat_member *me)
{
    struct chat_hub *hub = inst->state;
    struct chat_member *oldest = NULL;
    unsigned long count = 0;
    for (struct chat_member *m = hub->head; m != NULL; m = m->next) {
        count += !m->dropped;
        oldest = m;
    }
    tell_locked(inst, me, "[server] %lu here:\n", count);
    for (struct chat_member *m = oldest; m != NULL; m = m->prev) {
        if (m->dropped)
            continue;
        const char *you = m == me ? " (you)" : "";
        if (m->name[0] != '\0')
            tell_locked(inst, me, "[server]   %s at %s%s\n", m->name, m->session->peer, you);
        else
            tell_locked(inst, me, "[server]   %s%s\n", m->session->peer, you);
    }
}

/* The command line collected in message: "/word" then its argument, with
 * the spaces around it ignored. */
static void run_command(struct sk_session *s, struct chat_member *me)
{
    struct sk_instance *inst = sk_session_instance(s);
    struct chat_hub *hub = inst->state;
    const char *line = me->message + me->prefix_len;
    size_t len = me->line_len, word = 0;
    while (word < len && line[word] != ' ')
        word++;
    size_t arg = word, end = len;
    while (arg < len && line[arg] == ' ')
        arg++;
    while (end > arg && line[end - 1] == ' ')
        end--;
#define IS(cmd) (word == sizeof cmd - 1 && memcmp(line, cmd, word) == 0)
    sk__mutex_lock(hub->lock);
    if (me->dropped)
        ; /* it is leaving: not renamed, not answered */
    else if (IS("/nick"))
        nick_locked(inst, me, line + arg, end - arg);
    else if (IS("/who"))
        who_locked(inst, me);
    else if (IS("/help"))
        post_locked(inst, me, help_lines, sizeof help_lines - 1);
    else
        tell_locked(inst, me, "[server] unknown command; try /nick NAME, /who or /help "
                              "(// starts a line with /)\n");
    sk__mutex_unlock(hub->lock);
#undef IS
}

/* ---- the room -------------------------------------------------------------- */

static void chat_open(struct sk_session *s)
{
    struct chat_member *me = sk_session_state(s);
    struct sk_instance *inst = sk_session_instance(s);
    struct chat_hub *hub = inst->state;
    char notice[CHAT_NOTICE_MAX];
    size_t len;

    me->session = s;
    /* Chat's idea of a slow reader, the same on every model: posts may
     * wait up to the output cap, but a member who takes nothing for
     * CHAT_STALL_MS while lines wait for it is dropped. */
    size_t cap = inst->config != NULL && inst->config->chat_output_cap > 0
                     ? inst->config->chat_output_cap : CHAT_OUTPUT_CAP;
    sk_session_set_slow_reader(s, cap, CHAT_STALL_MS);
    set_prefix(me);

    sk__mutex_lock(hub->lock);
    unsigned long others = 0;
    for (struct chat_member *m = hub->head; m != NULL; m = m->next)
        others += !m->dropped;
    tell_locked(inst, me, "* welcome %s; %lu others here\n", s->peer, others);
    len = format_notice(notice, sizeof notice, "* %s joined\n", s->peer);
    broadcast_locked(inst, me, notice, len);
    me->next = hub->head;
    if (hub->head != NULL)
        hub->head->prev = me;
    hub->head = me;
    me->joined = 1;
    sk__mutex_unlock(hub->lock);
}

/* Send the text collected so far (possibly empty) to the others. */
static void relay_line(struct sk_session *s, struct chat_member *me)
{
    struct sk_instance *inst = sk_session_instance(s);
    struct chat_hub *hub = inst->state;
    size_t len = me->prefix_len + me->line_len;
    me->message[len++] = '\n';
    sk__mutex_lock(hub->lock);
    if (!me->dropped)
        broadcast_locked(inst, me, me->message, len);
    sk__mutex_unlock(hub->lock);
    me->line_len = 0;
}

/* The line is complete: relay it or run it. */
static void end_line(struct sk_session *s, struct chat_member *me)
{
    if (me->kind == LINE_SLASH || me->kind == LINE_COMMAND)
        run_command(s, me);
    else if (me->kind != LINE_SKIP)
        relay_line(s, me);
    me->line_len = 0;
    me->kind = LINE_EMPTY;
}

static void append_byte(struct sk_session *s, struct chat_member *me, char c)
{
    switch (me->kind) {
    case LINE_EMPTY:
        me->kind = c == '/' ? LINE_SLASH : LINE_TEXT;
        break;
    case LINE_SLASH:
        if (c == '/') {
            me->kind = LINE_TEXT; /* "//": text, from the second "/" on */
            return;
        }
        me->kind = LINE_COMMAND;
        break;
    case LINE_SKIP:
        return;
    case LINE_TEXT:
    case LINE_COMMAND:
        break;
    }
    if (me->line_len == CHAT_LINE_MAX) {
        if (me->kind == LINE_COMMAND) {
            struct sk_instance *inst = sk_session_instance(s);
            struct chat_hub *hub = inst->state;
            sk__mutex_lock(hub->lock);
            tell_locked(inst, me, "[server] unknown command (longer than %d bytes)\n",
                        CHAT_LINE_MAX);
            sk__mutex_unlock(hub->lock);
            me->kind = LINE_SKIP;
            me->line_len = 0;
            return;
        }
        relay_line(s, me); /* a long line goes out in full-buffer pieces */
    }
    me->message[me->prefix_len + me->line_len++] = c;
}

/* Every byte is processed at once: a finished line is posted (or the
 * member it could not reach is dropped), so nothing is left to wait for. */
static size_t chat_data(struct sk_session *s, const uint8_t *data, size_t len)
{
    struct chat_member *me = sk_session_state(s);
    for (size_t i = 0; i < len; i++) {
        char c = (char)data[i];
        if (c == '\n') {
            me->pending_cr = 0;
            end_line(s, me);
            continue;
        }
        if (me->pending_cr) {
            me->pending_cr = 0;
            append_byte(s, me, '\r'); /* a "\r" not before "\n" is text */
        }
        if (c == '\r')
            me->pending_cr = 1;
        else
            append_byte(s, me, c);
    }
    return len;
}

/* Take me off the list and tell the others, once: at the member's
 * end of input, or when its session ends without one (reset, drop). */
static void leave_room(struct sk_session *s, struct chat_member *me)
{
    struct sk_instance *inst = sk_session_instance(s);
    struct chat_hub *hub = inst->state;
    char notice[CHAT_NOTICE_MAX];

    sk__mutex_lock(hub->lock);
    if (me->joined) {
        if (me->prev != NULL)
            me->prev->next = me->next;
        else
            hub->head = me->next;
        if (me->next != NULL)
            me->next->prev = me->prev;
        me->prev = me->next = NULL;
        me->joined = 0;
        size_t len = format_notice(notice, sizeof notice, "* %s left\n", label_of(me));
        broadcast_locked(inst, me, notice, len);
    }
    sk__mutex_unlock(hub->lock);
}

/* The member is done talking.  Nothing more is sent to it either: it
 * leaves now rather than at close, so nobody posts to a socket whose
 * peer may already be gone. */
static void chat_eof(struct sk_session *s)
{
    struct chat_member *me = sk_session_state(s);
    if (me->line_len > 0)
        end_line(s, me); /* the last line had no "\n" */
    me->pending_cr = 0;
    leave_room(s, me);
    sk_session_close(s);
}

/* Runs before the session memory is freed; after it no post can reach
 * this member. */
static void chat_close(struct sk_session *s)
{
    leave_room(s, sk_session_state(s));
}

const struct sk_service sk__service_chat = {
    .name = "chat",
    .summary = "line chat room: each line goes to every other member; /nick NAME names you",
    .flags = SK_SERVICE_TCP | SK_SERVICE_SHARED,
    .session_size = sizeof(struct chat_member),
    .instance_open = chat_instance_open,
    .instance_close = chat_instance_close,
    .on_open = chat_open,
    .on_data = chat_data,
    .on_eof = chat_eof,
    .on_close = chat_close,
};
