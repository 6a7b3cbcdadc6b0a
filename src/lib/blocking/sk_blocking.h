/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_blocking.h - one connection served with blocking calls.
 *
 * The tutorials' loop, made complete: recv() what has arrived, hand it to
 * the service, send() what it queued, until either side is done or a
 * deadline passes (--idle-timeout counted from the last byte moved either
 * way, and the session's own, sk_session_set_deadline).  The iterative,
 * fork, thread and pool models all run their connections through this one
 * function; they differ only in who calls it (the accept loop, a child
 * process, a thread, a worker).
 */
#ifndef SK_BLOCKING_H
#define SK_BLOCKING_H

#include "sk_server.h"

struct sk__blocking_conn;

/* The idle timeout of a serial model (iterative) when --idle-timeout is
 * not given: one stalled peer there stops every other client, so it is
 * cut after this long without a byte moving either way. */
#define SK_SERIAL_IDLE_MS 30000

/* Serve fd to the end and close it.  With threaded set, other threads may
 * post to this session (chat), so writes take a lock; *registered, if
 * not NULL, is called with the live connection so the model can abort it
 * on stop, and again with NULL when it ends. */
struct sk__blocking_hooks {
    int threaded;
    void (*on_start)(void *ctx, struct sk__blocking_conn *conn);
    void (*on_end)(void *ctx, struct sk__blocking_conn *conn);
    void *ctx;
};

int sk__blocking_serve(struct sk_server *srv, sk_socket_t fd, const struct sk_addr *peer,
                      const struct sk__blocking_hooks *hooks);

/* Wake a connection blocked in recv() and make it end (any thread). */
void sk__blocking_abort(struct sk__blocking_conn *conn);

#endif
