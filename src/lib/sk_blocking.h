/*
 * sk_blocking.h - one connection served with blocking calls.
 *
 * The tutorials' loop, made complete: recv() what has arrived, hand it to
 * the service, send() what it queued, until either side is done.  The
 * iterative, fork and thread models all run their connections through
 * this one function; they differ only in who calls it (the accept loop,
 * a child process, a thread).
 */
#ifndef SK_BLOCKING_H
#define SK_BLOCKING_H

#include "sk_server.h"

struct sk_blocking_conn;

/* Serve fd to the end and close it.  With threaded set, other threads may
 * post to this session (chat), so writes take a lock; *registered, if
 * not NULL, is called with the live connection so the model can abort it
 * on stop, and again with NULL when it ends. */
struct sk_blocking_hooks {
    int threaded;
    void (*on_start)(void *ctx, struct sk_blocking_conn *conn);
    void (*on_end)(void *ctx, struct sk_blocking_conn *conn);
    void *ctx;
};

int sk_blocking_serve(struct sk_server *srv, sk_socket_t fd, const struct sk_addr *peer,
                      const struct sk_blocking_hooks *hooks);

/* Wake a connection blocked in recv() and make it end (any thread). */
void sk_blocking_abort(struct sk_blocking_conn *conn);

#endif
