/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockit/service.h - services: the protocols sockit speaks, without sockets.
 *
 * A service (echo, chat, file, ...) is a small state machine.  A model
 * hands it the bytes a peer sent and it queues bytes to send through its
 * session; it never sees a socket, a poller or a thread.  That is what
 * lets one service run on every model, and lets a unit test feed it one
 * byte at a time through a session that is just a buffer.
 *
 * The contract, for stream (TCP) sessions:
 *   on_open      the connection is up; greet, or queue a whole reply.
 *   on_data      bytes arrived.  Return how many were consumed.  Consume
 *                less only when the output has no room (the model keeps
 *                the rest, stops reading and calls again once output
 *                drains: the peer's TCP window pushes back).
 *   on_writable  output has room again and the service asked for it with
 *                sk_session_want_writable() (chargen, file streaming).
 *   on_eof       the peer half-closed.  NULL means "close once output
 *                has drained".
 *   on_close     the session is going away; release what it holds.
 *
 * For datagrams (UDP) a service answers one request with at most one
 * reply in on_datagram.  The loop guard (sk_datagram_guard) runs before
 * it, so a service never answers a port that could answer back.
 */
#ifndef SOCKIT_SERVICE_H
#define SOCKIT_SERVICE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <sockit/platform.h>
#include <sockit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sk_session;
struct sk_instance;

/* What a service can do; models check these before they run it. */
#define SK_SERVICE_TCP 0x1    /* has a stream protocol */
#define SK_SERVICE_UDP 0x2    /* has a datagram protocol */
#define SK_SERVICE_SHARED 0x4 /* sessions talk to each other (chat) */
/* Stream: every byte received goes back unchanged and in order (echo).
 * A model may then move them socket to socket without calling on_data
 * (splice(2)), unless something must see them (--log). */
#define SK_SERVICE_MIRROR 0x8

enum sk_log_level { SK_LOG_ERROR, SK_LOG_WARN, SK_LOG_INFO, SK_LOG_DEBUG };

/* Where the library's servers report what happens; the program decides
 * how to print it.  The library itself never prints. */
struct sk_logger {
    void (*write)(void *ctx, enum sk_log_level level, const char *message);
    void *ctx;
};

void sk_log(const struct sk_logger *logger, enum sk_log_level level,
            const char *fmt, ...)
    SK_PRINTF(3, 4);

/* What a service is told about the server it runs in. */
struct sk_service_config {
    const char *root;        /* file: directory to serve from */
    const char *single_file; /* file: serve this one file for any name */
    int sendfile;            /* file: sendfile() where the model can */
    size_t chat_output_cap;  /* chat: pending output that drops a member */
    int port;                /* the port the server listens on */
    int idle_timeout_ms;     /* the server's --idle-timeout; 0 = none */
};

struct sk_service {
    const char *name;
    const char *summary;
    unsigned flags;
    size_t session_size; /* bytes of per-session state, zeroed */

    /* Per-server state (shared by all sessions); both optional. */
    int (*instance_open)(struct sk_instance *inst);
    void (*instance_close)(struct sk_instance *inst);

    void (*on_open)(struct sk_session *s);
    size_t (*on_data)(struct sk_session *s, const uint8_t *data, size_t len);
    void (*on_writable)(struct sk_session *s);
    void (*on_eof)(struct sk_session *s);
    void (*on_close)(struct sk_session *s);

    /* UDP: write a reply of at most cap bytes to out; return its length,
     * 0 for no reply.  Services must not amplify: a reply is no longer
     * than its request, except for the RFC's small fixed answers (time's
     * 4 bytes, daytime's one line) to requests that may be empty. */
    size_t (*on_datagram)(struct sk_instance *inst, const uint8_t *in,
                          size_t len, uint8_t *out, size_t cap);
};

/* One running copy of a service in a server. */
struct sk_instance {
    const struct sk_service *service;
    const struct sk_service_config *config;
    const struct sk_logger *logger;
    void *state; /* the service's own, from instance_open */
};

/*
 * Sessions.  A model embeds struct sk_session in its connection and
 * supplies the ops; services only call the sk_session_* functions.
 */
struct sk_session_ops {
    /* Queue up to len bytes; return how many were taken (0 = no room, or
     * the session failed). */
    size_t (*write)(struct sk_session *s, const void *data, size_t len);
    /* Queue all len bytes or none; may be called from another session's
     * thread.  0; SK_EBUFFULL when the peer is not reading fast enough
     * (its output is full); another negative code when the session is
     * already failing or closing. */
    int (*post)(struct sk_session *s, const void *data, size_t len);
    /* Bytes that write() would take now. */
    size_t (*room)(struct sk_session *s);
    /* End the session as soon as possible, from any thread. */
    void (*abort)(struct sk_session *s);
    /* Optional: send up to len bytes of file fd from offset without
     * copying them through memory (sendfile).  NULL where the model
     * cannot; see sk_session_send_file. */
    long (*send_file)(struct sk_session *s, int fd, int64_t offset, size_t len);
};

#define SK_SESSION_WANT_WRITABLE 0x1 /* call on_writable while there is room */
#define SK_SESSION_SHUTDOWN 0x2      /* half-close once output drains */
#define SK_SESSION_CLOSE 0x4         /* close once output drains */
#define SK_SESSION_FAILED 0x8        /* the connection broke; stop */

struct sk_session {
    const struct sk_session_ops *ops;
    struct sk_instance *instance;
    void *state;                   /* session_size bytes for the service */
    unsigned flags;
    char peer[80];                 /* "127.0.0.1:5555", for logs and chat */
    /* The slow-reader policy, the service's to set (chat does in on_open):
     * a session whose posted output waits beyond post_limit bytes, or
     * that takes no byte for post_stall_ms while posts wait, is too slow;
     * posts to it fail with SK_EBUFFULL or it is dropped.  0: the
     * model's own output buffer is the limit, and there is no stall rule. */
    size_t post_limit;
    int post_stall_ms;
    uint64_t deadline_ms;          /* sk_now_ms() by which to close; 0 = none */
};

static inline size_t sk_session_write(struct sk_session *s, const void *data, size_t len)
{
    return s->ops->write(s, data, len);
}
static inline int sk_session_post(struct sk_session *s, const void *data, size_t len)
{
    return s->ops->post(s, data, len);
}
static inline size_t sk_session_room(struct sk_session *s)
{
    return s->ops->room(s);
}
/* Send up to len bytes of the regular file fd, from offset, after what
 * was already written.  Returns the bytes taken; 0 when the peer can take
 * none now (on_writable runs again when it can); SK_ESHORT when the file
 * ended early; SK_EUNSUPPORTED when this model or system cannot, and the
 * service should read the file and write() it; another negative code when
 * the session has failed. */
static inline long sk_session_send_file(struct sk_session *s, int fd, int64_t offset, size_t len)
{
    if (s->ops->send_file == NULL)
        return SK_EUNSUPPORTED;
    return s->ops->send_file(s, fd, offset, len);
}
static inline void sk_session_abort(struct sk_session *s)
{
    s->ops->abort(s);
}
static inline void *sk_session_state(struct sk_session *s)
{
    return s->state;
}
static inline struct sk_instance *sk_session_instance(struct sk_session *s)
{
    return s->instance;
}
static inline void sk_session_want_writable(struct sk_session *s, int on)
{
    if (on)
        s->flags |= SK_SESSION_WANT_WRITABLE;
    else
        s->flags &= ~(unsigned)SK_SESSION_WANT_WRITABLE;
}
static inline void sk_session_shutdown(struct sk_session *s)
{
    s->flags |= SK_SESSION_SHUTDOWN;
}
static inline void sk_session_close(struct sk_session *s)
{
    s->flags |= SK_SESSION_CLOSE;
}
/* What "too slow" means for posts to this session (see post_limit). */
static inline void sk_session_set_slow_reader(struct sk_session *s, size_t max_waiting,
                                              int max_stall_ms)
{
    s->post_limit = max_waiting;
    s->post_stall_ms = max_stall_ms;
}
/* Close the session if it is still open ms milliseconds from now, however
 * many bytes trickle in meanwhile (the idle timeout only catches silence);
 * ms <= 0 removes the deadline.  The file service bounds its request line
 * with one: a slow-loris client sending a byte a second never goes idle.
 * The model looks at deadline_ms whenever it waits; the session starts
 * with none. */
static inline void sk_session_set_deadline(struct sk_session *s, int ms)
{
    s->deadline_ms = ms > 0 ? sk_now_ms() + (uint64_t)ms : 0;
}
/* An on_eof for services whose answer does not depend on the request
 * (hello, daytime, time): the peer's half-close changes nothing, the
 * answer still goes out in full (on_writable) and the session closes once
 * all of it is queued.  The default (close once output drains) would drop
 * what had not yet found room. */
void sk_session_eof_finish_answer(struct sk_session *s);
void sk_session_log(struct sk_session *s, enum sk_log_level level,
                    const char *fmt, ...)
    SK_PRINTF(3, 4);

/* Services compiled in. */
const struct sk_service *sk_service_find(const char *name);
const struct sk_service *const *sk_service_list(void);

#ifdef __cplusplus
}
#endif

#endif
