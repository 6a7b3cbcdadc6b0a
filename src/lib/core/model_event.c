/* SPDX-License-Identifier: BSD-2-Clause */
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
 *
 * sigio and epoll are Linux's and live in model_event_linux.c; on Windows
 * model_unavailable_win.c says why not.
 */
#include "sk_event.h"

static int run_nonblock(struct sk_server *srv)
{
    return sk__event_serve(srv, &sk__poller_nonblock);
}

static int run_select(struct sk_server *srv)
{
    return sk__event_serve(srv, &sk__poller_select);
}

static int run_poll(struct sk_server *srv)
{
    return sk__event_serve(srv, &sk__poller_poll);
}

const struct sk_model sk__model_nonblock = {
    .name = "nonblock",
    .io_model = "non-blocking",
    .summary = "non-blocking sockets tried in turn; naps when nothing moves",
    .flags = SK_EVENT_MODEL_FLAGS,
    .run = run_nonblock,
};

const struct sk_model sk__model_select = {
    .name = "select",
    .io_model = "multiplexing",
    .summary = "one select() loop; " SK_SELECT_LIMIT,
    .flags = SK_EVENT_MODEL_FLAGS,
    .run = run_select,
};

const struct sk_model sk__model_poll = {
    .name = "poll",
    .io_model = "multiplexing",
    .summary = "one " SK_POLL_CALL " loop over a dense pollfd array",
    .flags = SK_EVENT_MODEL_FLAGS,
    .run = run_poll,
};
