/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * model_event_linux.c - the event-loop models that only Linux has
 * (model_event.c has the portable ones; on Windows
 * model_unavailable_win.c says why these are missing).
 *
 *   sigio     UNP signal-driven I/O: the kernel queues a signal per change
 *   epoll     UNP I/O multiplexing, cost proportional to what is ready;
 *             level-triggered, or edge-triggered with --edge
 */
#include "sk_event.h"

static int run_sigio(struct sk_server *srv)
{
    return sk__event_serve(srv, &sk__poller_sigio);
}

static int run_epoll(struct sk_server *srv)
{
    return sk__event_serve(srv, srv->cfg->edge ? &sk__poller_epoll_edge : &sk__poller_epoll);
}

const struct sk_model sk__model_sigio = {
    .name = "sigio",
    .io_model = "signal-driven",
    .summary = "O_ASYNC + F_SETSIG: a queued real-time signal per ready socket",
    .flags = SK_EVENT_MODEL_FLAGS,
    .run = run_sigio,
};

const struct sk_model sk__model_epoll = {
    .name = "epoll",
    .io_model = "multiplexing",
    .summary = "one epoll loop per worker; level-triggered, or --edge",
    .flags = SK_EVENT_MODEL_FLAGS | SK_MODEL_EDGE,
    .run = run_epoll,
};
