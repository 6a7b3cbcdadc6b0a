/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_accept_loop.c - the accept loop the blocking models share.
 *
 * Each round: tend the model (fork reaps), look at the stop flag, sleep
 * until the listener is readable, accept, admit, hand over.  The listener
 * is non-blocking and only the wait sleeps, for two reasons.  A stop
 * signal that comes between the look at the flag and the sleep must still
 * end the sleep, which a blocking accept() cannot promise but ppoll()
 * with the signals held until then can (sk__wait_readable_or_stop).  And
 * the EMFILE drop in sk__server_accept must never wait: on a blocking
 * listener it slept until the next client arrived, after the flood, and
 * reset that client.
 */
#include "sk_accept_loop.h"
#include "sk_trace.h"
#include "sk_error.h"

#include <errno.h>

static int wait_for_listener(struct sk_server *srv, const struct sk__accept_ops *ops)
{
    if (ops->wait != NULL)
        return ops->wait(ops->ctx, srv->listener);
    const struct sk_stop *stop = srv->cfg->stop;
    return sk__wait_readable_or_stop(srv->listener, stop != NULL ? &stop->flag : NULL);
}

static void tend(const struct sk__accept_ops *ops)
{
    if (ops->tend != NULL)
        ops->tend(ops->ctx);
}

/* Admit and hand over one accepted connection; 1 if the model took it. */
static int hand_over(struct sk_server *srv, const struct sk__accept_ops *ops, sk_socket_t fd,
                     const struct sk_addr *peer)
{
    /* Where accept() passes the listener's O_NONBLOCK on (BSD, Windows),
     * undo it: the blocking driver expects a blocking socket. */
    sk__socket_set_nonblocking(fd, 0);
    tend(ops);
    long live = ops->live != NULL ? ops->live(ops->ctx) : 0;
    if (!sk__server_admit(srv, fd, peer, live)) {
        srv->stats.refused++;
        return 0;
    }
    int rc = ops->take(ops->ctx, fd, peer);
    if (rc == SK_ACCEPT_TAKEN)
        return 1;
    sk__server_leave(srv, peer);
    if (rc == SK_ACCEPT_REFUSED) {
        srv->stats.refused++;
        return 0;
    }
    sk_log(&srv->cfg->logger, SK_LOG_ERROR, "%s: %s",
           ops->take_failed ? ops->take_failed : "cannot serve a connection", sk_strerror(rc));
    sk__close_traced(fd);
    sk__sleep_ms(100);
    return 0;
}

int sk__accept_loop(struct sk_server *srv, const struct sk__accept_ops *ops)
{
    int rc = sk__socket_set_nonblocking(srv->listener, 1);
    if (rc < 0)
        return rc;
    long max = srv->cfg->max_clients;
    for (long taken = 0; max <= 0 || taken < max;) {
        tend(ops);
        if (sk__server_stopping(srv))
            break;
        rc = wait_for_listener(srv, ops);
        if (rc == -EINTR || rc == 0)
            continue; /* a flag was set, or a slice ended: look again */
        if (rc < 0) {
            sk_log(&srv->cfg->logger, SK_LOG_ERROR, "waiting for connections: %s",
                   sk_strerror(rc));
            sk__sleep_ms(100);
            continue;
        }
        sk_socket_t fd;
        struct sk_addr peer;
        rc = sk__server_accept(srv, &fd, &peer);
        if (rc == -ECANCELED)
            break;
        if (rc == -EINTR || sk__error_would_block(rc))
            continue;
        if (rc < 0) {
            sk_log(&srv->cfg->logger, SK_LOG_ERROR, "accept failed: %s", sk_strerror(rc));
            sk__sleep_ms(100);
            continue;
        }
        taken += hand_over(srv, ops, fd, &peer);
    }
    return 0;
}
