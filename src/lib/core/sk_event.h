/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_event.h - serving on a readiness event loop, whatever the poller.
 *
 * The select, poll, epoll, nonblock and sigio models are all the
 * connection core (sk_conn.c) on its readiness backend (conn_readiness.c)
 * with a different sk__poller underneath.
 */
#ifndef SK_EVENT_H
#define SK_EVENT_H

#include "sk_loop.h"
#include "sk_server.h"

/* What every event-loop model serves and takes. */
#define SK_EVENT_MODEL_FLAGS \
    (SK_MODEL_TCP | SK_MODEL_UDP | SK_MODEL_SHARED | SK_MODEL_WORKERS | SK_MODEL_REUSEPORT)

/* Run srv on `workers` loops over poller (srv->cfg->workers, 1 if 0). */
int sk__event_serve(struct sk_server *srv, const struct sk__poller *poller);

#endif
