/*
 * svc_chat.c - a line-based chat room: every line a member sends goes to
 * all the other members, prefixed with who sent it.
 *
 *     newcomer gets   "* welcome 127.0.0.1:5555; 2 others here\n"
 *     others get      "* 127.0.0.1:5555 joined\n"
 *     a line "hi"     "[127.0.0.1:5555] hi\n"   (to everyone but the sender)
 *     on leaving      "* 127.0.0.1:5555 left\n"
 *
 * Lines end in "\n" or "\r\n" (the "\r" is stripped; a "\r" elsewhere is
 * kept as text).  A line is bounded: each member has a 4,096-byte line
 * buffer, and a longer line is delivered in 4,096-byte pieces, each
 * ending with "\n", so no member can make the server hold more than that
 * for it.  When a member's input ends (it half-closed or hung up), a
 * partial last line is delivered, the member leaves the room at once and
 * its session closes: nobody posts to a socket whose peer is going away.
 *
 * The member list is the instance's state, shared by sessions that the
 * thread model runs on many threads, so it sits behind one mutex (the
 * "hub lock").  Delivery uses sk_session_post, which is thread-safe and
 * all-or-nothing: a member gets whole lines or is dropped, never half a
 * line.  When a post fails with SK_EBUFFULL the member cannot keep up
 * (its output is past the cap, or on the blocking models its socket took
 * nothing for 2 s); it is logged once at WARN, "dropping slow member
 * <peer>: output full", and aborted, and everybody else carries on.  It
 * stays on the list, skipped, until its own session ends and leaves.
 *
 * Lock order: the hub lock, then whatever the post takes (the target's
 * write lock).  Posting under the hub lock is what makes on_close safe:
 * a member leaves the list under the same lock before its session memory
 * is freed, so no post can reach a dead session.  The price on the
 * blocking models is that a stuck member can hold up the room for the
 * post timeout (2 s) once, before it is dropped.
 */
#include "sk_service.h"
#include "sk_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define CHAT_LINE_MAX 4096
/* "[" + peer + "] " */
#define CHAT_PREFIX_MAX (sizeof ((struct sk_session *)0)->peer + 3)
/* Notices: "* welcome <peer>; <count> others here\n" and shorter. */
#define CHAT_NOTICE_MAX (sizeof ((struct sk_session *)0)->peer + 64)

struct chat_member {
    /* Owned by the hub lock. */
    struct chat_member *prev, *next;
    struct sk_session *session;
    int joined;  /* on the hub's list */
    int dropped; /* a post failed; the session is being aborted */

    /* Owned by the member's own session (its thread). */
    int pending_cr;    /* a "\r" that ends the line if "\n" follows */
    size_t prefix_len; /* "[peer] " at the start of message */
    size_t line_len;   /* bytes of the line after the prefix */
    char message[CHAT_PREFIX_MAX + CHAT_LINE_MAX + 1];
};

struct chat_hub {
    sk_mutex_t *lock;
    struct chat_member *head;
};

static int chat_instance_open(struct sk_instance *inst)
{
    struct chat_hub *hub = calloc(1, sizeof *hub);
    if (hub == NULL)
        return -ENOMEM;
    if ((hub->lock = sk_mutex_new()) == NULL) {
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
    sk_mutex_free(hub->lock);
    free(hub);
    inst->state = NULL;
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

/* Hub lock held.  Post to every live member except from (may be NULL). */
static void broadcast_locked(struct sk_instance *inst, const struct chat_member *from,
                             const char *text, size_t len)
{
    struct chat_hub *hub = inst->state;
    for (struct chat_member *m = hub->head; m != NULL; m = m->next) {
        if (m == from || m->dropped)
            continue;
        int rc = sk_session_post(m->session, text, len);
        if (rc < 0)
            drop_locked(inst, m, rc);
    }
}

/* snprintf that returns the length actually stored (truncated, never
 * negative), so the result can be posted as is. */
static size_t format_text(char *buf, size_t cap, const char *fmt, ...) SK_PRINTF(3, 4);
static size_t format_text(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

static void chat_open(struct sk_session *s)
{
    struct chat_member *me = sk_session_state(s);
    struct sk_instance *inst = sk_session_instance(s);
    struct chat_hub *hub = inst->state;
    char notice[CHAT_NOTICE_MAX];
    size_t len;

    me->session = s;
    me->prefix_len = format_text(me->message, CHAT_PREFIX_MAX, "[%s] ", s->peer);

    sk_mutex_lock(hub->lock);
    unsigned long others = 0;
    for (struct chat_member *m = hub->head; m != NULL; m = m->next)
        others += !m->dropped;
    len = format_text(notice, sizeof notice, "* welcome %s; %lu others here\n",
                      s->peer, others);
    int rc = sk_session_post(s, notice, len);
    if (rc < 0)
        drop_locked(inst, me, rc);
    len = format_text(notice, sizeof notice, "* %s joined\n", s->peer);
    broadcast_locked(inst, me, notice, len);
    me->next = hub->head;
    if (hub->head != NULL)
        hub->head->prev = me;
    hub->head = me;
    me->joined = 1;
    sk_mutex_unlock(hub->lock);
}

/* Send the line collected so far (possibly empty) to the others. */
static void deliver_line(struct sk_session *s, struct chat_member *me)
{
    struct sk_instance *inst = sk_session_instance(s);
    struct chat_hub *hub = inst->state;
    size_t len = me->prefix_len + me->line_len;
    me->message[len++] = '\n';
    sk_mutex_lock(hub->lock);
    if (!me->dropped)
        broadcast_locked(inst, me, me->message, len);
    sk_mutex_unlock(hub->lock);
    me->line_len = 0;
}

static void append_byte(struct sk_session *s, struct chat_member *me, char c)
{
    if (me->line_len == CHAT_LINE_MAX)
        deliver_line(s, me); /* a long line goes out in full-buffer pieces */
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
            deliver_line(s, me);
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

    sk_mutex_lock(hub->lock);
    if (me->joined) {
        if (me->prev != NULL)
            me->prev->next = me->next;
        else
            hub->head = me->next;
        if (me->next != NULL)
            me->next->prev = me->prev;
        me->prev = me->next = NULL;
        me->joined = 0;
        size_t len = format_text(notice, sizeof notice, "* %s left\n", s->peer);
        broadcast_locked(inst, me, notice, len);
    }
    sk_mutex_unlock(hub->lock);
}

/* The member is done talking.  Nothing more is sent to it either: it
 * leaves now rather than at close, so nobody posts to a socket whose
 * peer may already be gone. */
static void chat_eof(struct sk_session *s)
{
    struct chat_member *me = sk_session_state(s);
    if (me->line_len > 0)
        deliver_line(s, me); /* the last line had no "\n" */
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

const struct sk_service sk_service_chat = {
    .name = "chat",
    .summary = "line chat room: each line goes to every other member",
    .flags = SK_SERVICE_TCP | SK_SERVICE_SHARED,
    .session_size = sizeof(struct chat_member),
    .instance_open = chat_instance_open,
    .instance_close = chat_instance_close,
    .on_open = chat_open,
    .on_data = chat_data,
    .on_eof = chat_eof,
    .on_close = chat_close,
};
