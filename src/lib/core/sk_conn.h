/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_conn.h - the connection core under every event-driven model.
 *
 * select, poll, epoll, nonblock, sigio, io_uring and IOCP all run the same
 * connections: the same buffers, session ops, post backlog and slow-reader
 * policy, ready and idle lists, close/shutdown/EOF decision, message log,
 * per-address limit, workers on SO_REUSEPORT, spare descriptor for EMFILE,
 * --max-clients, and the rule that a shared service runs on one worker.
 * That is written once: connections in sk_conn.c, workers in sk_worker.c.  What differs between the
 * kernels' mechanisms is only how bytes are moved and how a worker waits,
 * and that is a backend: a small table of operations in a file of its own
 * (conn_readiness.c over the sk__loop pollers, conn_uring.c, conn_iocp.c),
 * the shape of nginx's ngx_event_actions_t and redis's ConnectionType.
 *
 * Two kinds of backend fit the one core:
 *   readiness   the kernel says a socket is ready; the backend's read()
 *               calls recv() at once and hands the bytes to
 *               sk__conn_received(), and its flush() calls send() until the
 *               socket is full.  send_now() lets a write skip the buffer.
 *               For a mirroring service (echo) its mirror() moves the
 *               bytes back out of the socket without user memory instead.
 *   completion  the backend arms a receive or a send and learns later that
 *               it finished: it calls sk__conn_received() / sk__conn_sent()
 *               from its completion handler and sk__conn_schedule() so the
 *               core looks at the connection again.  The output buffer is
 *               circular, so bytes a send in flight points at never move
 *               while later writes are appended.  For a mirroring service
 *               it may instead send the bytes back from the buffer they
 *               arrived in, and tell sk__conn_mirror_held() and
 *               sk__conn_mirror_sent(): nothing is copied in user space.
 *
 * Every worker is one thread that owns its connections: nothing on the
 * data path is shared between workers but a few counters.  A stream filter
 * (TLS is the likely first) would sit in sk__conn_received() and in the
 * core's write path, between the buffers and the service: the backends
 * only ever move the bytes the core hands them.
 */
#ifndef SK_CONN_H
#define SK_CONN_H

#include <stdatomic.h>

#include "sk_postq.h"
#include "sk_server.h"

struct sk__conn_buf {
    struct sk__conn_buf *next_free;
    size_t head, len; /* len bytes from head (circular for output) */
    uint8_t data[];
};

struct sk__worker;

struct sk__conn {
    struct sk_session session; /* first: a session is its connection */
    struct sk__worker *w;
    sk_socket_t fd;
    unsigned closed : 1, aborted : 1, eof : 1, eof_told : 1, shut : 1, in_ready : 1;
    unsigned freeable : 1;     /* the backend is done with it: free after this round */
    unsigned file_blocked : 1; /* send_file found the socket full: wait for writability */
    unsigned paused : 1;       /* not read while another connection's posts wait */
    unsigned backlogged : 1;   /* counted in w->backlogged */
    unsigned mirror : 1;       /* a mirroring service (echo): the backend may splice */
    size_t sending;            /* completion backends: output bytes a send has in flight */
    size_t held;               /* ... and echoed bytes it sends from its own receive buffers */
    size_t queued;             /* bytes ever accepted by write and post */
    struct sk__conn_buf *in, *out;
    struct sk__postq backlog;   /* posts waiting for room in out */
    struct sk_addr peer;       /* for --max-per-ip's count */
    uint64_t last_active_ms;   /* last byte received: the idle-timeout order */
    uint64_t last_sent_ms;     /* last byte sent, or when posts began to wait */
    struct sk__conn *older, *newer, *ready_next, *paused_next;
    struct sk__conn *all_prev, *all_next; /* every connection not yet freed */
    unsigned long long bytes_in, bytes_out;
};

struct sk__conn_backend {
    const char *name;
    size_t worker_size; /* the backend's worker, struct sk__worker first */
    size_t conn_size;   /* the backend's connection, struct sk__conn first */
    /* Bytes the session's on_writable may refill while output is still
     * queued: 0 for readiness (refill once the socket took everything),
     * bufsize/2 for completion (keep a send queued behind the current one). */
    int refill_early;
    /* Workers past the first bind no listener of their own: worker 0
     * accepts for all and hands connections over (IOCP, where a socket
     * belongs to one completion port and SO_REUSEPORT does not exist). */
    int one_acceptor;
    /* Workers when --workers is not given (NULL: one). */
    int (*default_workers)(void);

    /* On the worker's own thread (io_uring's single issuer wants that):
     * set up, start listening.  cleanup undoes it after the last close. */
    int (*worker_init)(struct sk__worker *w);
    void (*worker_cleanup)(struct sk__worker *w);
    /* Wait up to timeout_ms and dispatch what happened; a negative code
     * other than -EINTR stops the worker. */
    int (*wait)(struct sk__worker *w, int timeout_ms);
    /* Start (on = 1) or stop watching the listener. */
    void (*listen)(struct sk__worker *w, int on);
    /* At stop, after every connection was closed: let what is in flight
     * come back (up to ms), so that memory can be freed.  Optional. */
    void (*drain)(struct sk__worker *w, int ms);

    /* A connection is open: register it.  < 0: close it. */
    int (*conn_start)(struct sk__conn *c);
    /* Send what c->out holds: readiness until the socket is full (1 if
     * bytes moved, 0 if not, < 0 failed); completion: arm a send if none
     * is in flight (returns 0).  May be NULL when update() does it. */
    int (*flush)(struct sk__conn *c);
    /* Readiness: send data now, before anything is queued.  Bytes taken,
     * 0 when the socket is full, < 0 failed.  NULL: always queue. */
    long (*send_now)(struct sk__conn *c, const void *data, size_t len);
    /* Readiness: receive one chunk now (sk__conn_received, or eof).
     * 1 when something happened, 0 when nothing waited (*drained set),
     * < 0 failed.  NULL for completion backends, which arm in update(). */
    int (*read)(struct sk__conn *c, int *drained);
    /* After processing: watch, arm or cancel what the connection needs
     * now (sk__conn_can_read says whether to receive). */
    void (*update)(struct sk__conn *c);
    /* The connection closed: stop watching it and cancel what is in
     * flight.  Returns 1 if it may be freed now; otherwise the backend
     * calls sk__conn_release() when the last operation came back. */
    int (*conn_stop)(struct sk__conn *c);
    /* sendfile(); NULL where the backend cannot. */
    long (*send_file)(struct sk__conn *c, int fd, int64_t offset, size_t len);
    /* Readiness, for a mirroring service (SK_SERVICE_MIRROR: echo) while
     * nothing is queued: move one chunk from the socket straight back into
     * it without user memory, and tell sk__conn_mirrored(); or read() as
     * usual where it cannot.  Returns as read() does.  NULL: never. */
    int (*mirror)(struct sk__conn *c, int *drained);
    /* Completion: a mirroring service's bytes may be echoed from the
     * backend's own receive buffers (sk__conn_may_hold). */
    int mirror_in_place;
};

/* What the workers of one server share. */
struct sk__workers {
    struct sk_server *srv;
    const struct sk__conn_backend *be;
    const void *arg;             /* the backend's own: e.g. the poller */
    int count;
    struct sk__worker **all;      /* every worker: for a backend that hands work over */
    atomic_long live;
    atomic_long accepted;
    atomic_ulong refused;
    atomic_int failed;           /* a worker could not start: all stop */
    atomic_ullong last_emfile_log_ms; /* one EMFILE warning a second */
    sk__mutex_t *lock;            /* with started: the ready barrier */
    sk__cond_t *cond;
    int started;
};

struct sk__worker {
    struct sk__workers *shared;
    struct sk_server *srv;
    int index;
    sk_socket_t listener;        /* non-blocking */
    int own_listener;
    int listening;               /* accepting or receiving datagrams */
    uint64_t accept_resume_ms;   /* nonzero: listener unwatched until then */
    sk_socket_t reserve_fd;      /* the EMFILE spare */
    size_t bufsize;
    int fd_limit;                /* descriptors must stay below this; 0 = none */
    uint64_t now_ms;             /* the clock, read once per round */
    uint64_t deadline_check_ms;  /* when to look at session deadlines next */
    uint64_t traced_tcp_ms;      /* --trace=tcp: the last round of samples */
    struct sk__datagram_batch *batch; /* UDP */
    struct sk__conn_buf *free_bufs;
    struct sk__conn *oldest, *newest; /* live connections by last input */
    struct sk__conn *ready;           /* to process or free after this round */
    struct sk__conn *paused;          /* held back while posts wait elsewhere */
    struct sk__conn *all;             /* every connection not yet freed */
    long backlogged;                 /* connections whose posts wait */
    long live;
    int stopping;
    sk__thread_t thread;
};

/* Run srv on its workers (cfg->workers, one for shared services). */
int sk__conn_serve(struct sk_server *srv, const struct sk__conn_backend *be, const void *arg);

/* The io_uring backend (conn_uring.c), when built with liburing. */
int sk__uring_serve(struct sk_server *srv);
/* The I/O completion port backend (conn_iocp.c), Windows only. */
int sk__iocp_serve(struct sk_server *srv);

/* ---- for backends ---------------------------------------------------- */

/* Look at c again after this round (it has work, or it is to be freed). */
void sk__conn_schedule(struct sk__conn *c);
/* Bytes arrived (the msglog, the idle clock and the service see them).
 * The caller never brings more than the input buffer can hold: at most
 * sk__conn_out_room() bytes at a time while nothing is pending. */
void sk__conn_received(struct sk__conn *c, const uint8_t *data, size_t len);
/* A mirror moved `received` bytes from the socket and `sent` of them
 * back; the rest (rest_len bytes at rest) is queued as output.  Only
 * while c->out is empty, and never more than sk__conn_out_room(). */
void sk__conn_mirrored(struct sk__conn *c, size_t received, size_t sent, const uint8_t *rest,
                       size_t rest_len);
/* Whether a completion backend may echo n bytes just received straight
 * from its own buffer: a mirroring service, nothing queued in c->out
 * (those bytes must leave first), not ending, and room for n.  Then
 * sk__conn_mirror_held(c, n), and sk__conn_mirror_sent() as they leave;
 * the connection settles (closes, half-closes) only once all have. */
int sk__conn_may_hold(const struct sk__conn *c, size_t n);
void sk__conn_mirror_held(struct sk__conn *c, size_t n);
void sk__conn_mirror_sent(struct sk__conn *c, size_t n);
/* The peer half-closed; the service hears of it once pending input went. */
void sk__conn_eof(struct sk__conn *c);
/* The connection broke (a code for the log, or 0 for none). */
void sk__conn_fail(struct sk__conn *c, int rc, const char *what);
/* n bytes from the head of c->out were sent. */
void sk__conn_sent(struct sk__conn *c, size_t n);
/* The backend is done with a closed connection: free it. */
void sk__conn_release(struct sk__conn *c);
/* The contiguous bytes from the head of c->out (*len of them), or NULL. */
const uint8_t *sk__conn_out_span(const struct sk__conn *c, size_t *len);
static inline size_t sk__conn_out_len(const struct sk__conn *c)
{
    return c->out != NULL ? c->out->len : 0;
}
/* Bytes the session may still write: none while posts wait, so that
 * bytes leave in the order they were given; bytes a backend holds to
 * echo count as output.  (Inline: the data path asks several times per
 * message.) */
static inline size_t sk__conn_out_room(const struct sk__conn *c)
{
    if (c->closed || c->aborted || (c->session.flags & SK_SESSION_FAILED) || c->backlog.len > 0)
        return 0;
    size_t used = sk__conn_out_len(c) + c->held;
    return used < c->w->bufsize ? c->w->bufsize - used : 0;
}
/* Whether to receive now (output room, no input pending, not paused...). */
int sk__conn_can_read(struct sk__conn *c);
/* Close now (services see on_close). */
void sk__conn_close(struct sk__conn *c);
/* Run the connection: feed, flush, refill, decide close or half-close. */
void sk__conn_process(struct sk__conn *c);

/* For sk_worker.c: open an admitted connection; run what is scheduled;
 * drop stalled readers, close idle connections and those past their own
 * deadline (each returns when the next is due, UINT64_MAX for never); free everything at the end. */
void sk__conn_open(struct sk__worker *w, sk_socket_t fd, const struct sk_addr *peer);
void sk__conn_run_ready(struct sk__worker *w);
uint64_t sk__conn_drop_stalled(struct sk__worker *w);
uint64_t sk__conn_expire_idle(struct sk__worker *w, int idle_ms);
uint64_t sk__conn_expire_deadlines(struct sk__worker *w);
void sk__conn_free_all(struct sk__worker *w);

/* A connection was accepted on w (admission, limits, then open). */
void sk__worker_accepted(struct sk__worker *w, sk_socket_t fd, const struct sk_addr *peer);
/* accept() failed with rc: EMFILE's spare-descriptor answer, or a pause. */
void sk__worker_accept_failed(struct sk__worker *w, int rc);
/* Stop watching the listener for a moment (100 ms), then again. */
void sk__worker_pause_accepting(struct sk__worker *w);
/* Accept what waits on the listener (readiness; at most max, 0 = all). */
void sk__worker_accept_ready(struct sk__worker *w, int max);
/* Serve the datagrams waiting on the listener, up to `batches` batches.
 * 1 if more may wait. */
int sk__worker_datagrams(struct sk__worker *w, int batches);
/* Stop accepting for good (max-clients reached, or stopping). */
void sk__worker_stop_listening(struct sk__worker *w);

#endif
