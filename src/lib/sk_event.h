/*
 * sk_event.h - serving on a readiness event loop, whatever the poller.
 *
 * The select, poll, epoll, nonblock and sigio models are all this one
 * engine with a different sk_poller underneath: non-blocking sockets,
 * one loop per worker thread, bounded buffers per connection.  See
 * sk_event.c for how backpressure, limits and idle timeouts work.
 */
#ifndef SK_EVENT_H
#define SK_EVENT_H

#include "sk_loop.h"
#include "sk_server.h"

/* Run srv on `workers` loops over poller (srv->cfg->workers, 1 if 0). */
int sk_event_serve(struct sk_server *srv, const struct sk_poller *poller);

#endif
