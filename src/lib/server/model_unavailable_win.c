/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * model_unavailable_win.c - the models Windows cannot have.
 *
 * They stay in `sockit serve --model list`, marked unavailable with the
 * reason, so the table reads the same on every system and a script that
 * asks for one gets a clear refusal instead of "unknown model".  Their
 * Linux implementations (model_fork.c, poll_sigio.c, poll_epoll.c,
 * model_uring.c) are not built here.
 */
#include "sk_server.h"
#include "sk_error.h"

#define UNAVAILABLE(fn, reason)                                              \
    static int fn(const char **why)                                          \
    {                                                                        \
        *why = reason;                                                       \
        return SK_ENOTAVAIL;                                                 \
    }

UNAVAILABLE(probe_fork, "Windows has no fork(); use -m thread or pool")
UNAVAILABLE(probe_sigio, "Windows has no SIGIO or real-time signals; use -m select or iocp")
UNAVAILABLE(probe_epoll, "epoll is Linux only; use -m iocp")
UNAVAILABLE(probe_uring, "io_uring is Linux only; use -m iocp")

static int not_run(struct sk_server *srv)
{
    (void)srv;
    return SK_ENOTAVAIL;
}

#define EVENT_FLAGS \
    (SK_MODEL_TCP | SK_MODEL_UDP | SK_MODEL_SHARED | SK_MODEL_WORKERS | SK_MODEL_REUSEPORT)

const struct sk_model sk__model_fork = {
    .name = "fork",
    .io_model = "blocking",
    .summary = "a process per connection; SIGCHLD reaps every child",
    .flags = SK_MODEL_TCP,
    .probe = probe_fork,
    .run = not_run,
};

const struct sk_model sk__model_sigio = {
    .name = "sigio",
    .io_model = "signal-driven",
    .summary = "O_ASYNC + F_SETSIG: a queued real-time signal per ready socket",
    .flags = EVENT_FLAGS,
    .probe = probe_sigio,
    .run = not_run,
};

const struct sk_model sk__model_epoll = {
    .name = "epoll",
    .io_model = "multiplexing",
    .summary = "one epoll loop per worker; level-triggered, or --edge",
    .flags = EVENT_FLAGS | SK_MODEL_EDGE,
    .probe = probe_epoll,
    .run = not_run,
};

const struct sk_model sk__model_uring = {
    .name = "uring",
    .io_model = "asynchronous",
    .summary = "io_uring: multishot accept and recv, provided buffers, batched submits",
    .flags = SK_MODEL_TCP | SK_MODEL_UDP | SK_MODEL_SHARED | SK_MODEL_WORKERS | SK_MODEL_REUSEPORT,
    .probe = probe_uring,
    .run = not_run,
};
