/*
 * model_event.c - the event-loop models: one engine (sk_event.c), five
 * ways of learning which sockets are ready.
 *
 *   nonblock  UNP non-blocking I/O: try every socket, every round
 *   sigio     UNP signal-driven I/O: the kernel queues a signal per change
 *   select    UNP I/O multiplexing, descriptors below FD_SETSIZE only
 *   poll      UNP I/O multiplexing, no descriptor limit
 *   epoll     UNP I/O multiplexing, cost proportional to what is ready;
 *             level-triggered, or edge-triggered with --edge
 */
#include "sk_event.h"

static int run_nonblock(struct sk_server *srv)
{
    return sk_event_serve(srv, &sk_poller_nonblock);
}

#ifndef _WIN32 /* model_unavailable_win.c says why not */
static int run_sigio(struct sk_server *srv)
{
    return sk_event_serve(srv, &sk_poller_sigio);
}
#endif

static int run_select(struct sk_server *srv)
{
    return sk_event_serve(srv, &sk_poller_select);
}

static int run_poll(struct sk_server *srv)
{
    return sk_event_serve(srv, &sk_poller_poll);
}

#ifndef _WIN32
static int run_epoll(struct sk_server *srv)
{
    return sk_event_serve(srv, srv->cfg->edge ? &sk_poller_epoll_edge : &sk_poller_epoll);
}
#endif

#define EVENT_FLAGS \
    (SK_MODEL_TCP | SK_MODEL_UDP | SK_MODEL_SHARED | SK_MODEL_WORKERS | SK_MODEL_REUSEPORT)

const struct sk_model sk_model_nonblock = {
    .name = "nonblock",
    .io_model = "non-blocking",
    .summary = "non-blocking sockets tried in turn; naps when nothing moves",
    .flags = EVENT_FLAGS,
    .run = run_nonblock,
};

#ifndef _WIN32
const struct sk_model sk_model_sigio = {
    .name = "sigio",
    .io_model = "signal-driven",
    .summary = "O_ASYNC + F_SETSIG: a queued real-time signal per ready socket",
    .flags = EVENT_FLAGS,
    .run = run_sigio,
};
#endif

const struct sk_model sk_model_select = {
    .name = "select",
    .io_model = "multiplexing",
#ifdef _WIN32
    .summary = "one select() loop; at most FD_SETSIZE (1024) sockets per set",
#else
    .summary = "one select() loop; descriptors below FD_SETSIZE only",
#endif
    .flags = EVENT_FLAGS,
    .run = run_select,
};

const struct sk_model sk_model_poll = {
    .name = "poll",
    .io_model = "multiplexing",
#ifdef _WIN32
    .summary = "one WSAPoll() loop over a dense pollfd array",
#else
    .summary = "one poll() loop over a dense pollfd array",
#endif
    .flags = EVENT_FLAGS,
    .run = run_poll,
};

#ifndef _WIN32
const struct sk_model sk_model_epoll = {
    .name = "epoll",
    .io_model = "multiplexing",
    .summary = "one epoll loop per worker; level-triggered, or --edge",
    .flags = EVENT_FLAGS | SK_MODEL_EDGE,
    .run = run_epoll,
};
#endif
