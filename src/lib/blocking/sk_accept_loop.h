/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_accept_loop.h - the accept loop the blocking models share.
 *
 * Iterative, fork, thread and pool differ only in what they do with a
 * connection once it is accepted: serve it here, in a child, in a thread,
 * or queue it for a worker.  Everything before that is one loop:
 * waiting for the listener without missing a stop signal, accepting
 * (with the EMFILE drop of sk__server_accept), --max-conns and
 * --max-per-ip admission, --max-clients, and pausing after failures.
 */
#ifndef SK_ACCEPT_LOOP_H
#define SK_ACCEPT_LOOP_H

#include "sk_server.h"

/* What take() says about the connection it was given. */
#define SK_ACCEPT_TAKEN 0   /* the model owns fd; it calls sk__server_leave(peer) when done */
#define SK_ACCEPT_REFUSED 1 /* the model answered the peer (busy) and closed fd */

struct sk__accept_ops {
    /* Connections being served now, for --max-conns.  NULL: none (a model
     * that serves one at a time, in take()). */
    long (*live)(void *ctx);
    /* Serve or hand over an admitted connection, in blocking mode.
     * SK_ACCEPT_TAKEN, SK_ACCEPT_REFUSED (the loop calls sk__server_leave
     * and counts the refusal), or a negative code: not taken, fd still
     * open; the loop logs "<take_failed>: <error>", closes fd, calls
     * sk__server_leave and pauses 100 ms (a fork or thread that failed
     * now fails again at once). */
    int (*take)(void *ctx, sk_socket_t fd, const struct sk_addr *peer);
    const char *take_failed;  /* "cannot start a thread" */
    /* Sleep until the listener is readable or a signal came: 1, 0 or
     * -EINTR as sk__wait_readable_or_stop(), which NULL means.  fork gives
     * its own, since it keeps the signals held for the whole loop. */
    int (*wait)(void *ctx, sk_socket_t listener);
    /* Called before each look at the stop flag and before each admission
     * (fork reaps its children there, so that --max-conns counts only
     * the living).  NULL: nothing. */
    void (*tend)(void *ctx);
    void *ctx;
};

/* Accept and hand over connections until the server stops or has taken
 * cfg->max_clients of them.  Makes the listener non-blocking (accept never
 * sleeps; only the wait does) and hands take() blocking sockets.  0, or a
 * code if the listener cannot be set up. */
int sk__accept_loop(struct sk_server *srv, const struct sk__accept_ops *ops);

#endif
