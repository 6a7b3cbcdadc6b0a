/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * model_iterative.c - one client at a time (UNP: blocking I/O).
 *
 * The tutorial's first server: accept, serve that client to the end,
 * accept the next.  Clients that arrive meanwhile wait in the listen
 * queue.  For UDP this is the textbook recvfrom/sendto loop.
 *
 * What it promises under slow clients: nothing beyond one at a time.  A
 * client that stalls (stops sending, or stops reading what it asked for)
 * holds everybody else up until it is cut at --idle-timeout, which here
 * defaults to 30 s (SK_SERIAL_IDLE_MS) because without one a single
 * stalled client would stop the server for good.  A slow but steady
 * client keeps its turn as long as it keeps moving bytes.
 */
#include "sk_accept_loop.h"
#include "sk_blocking.h"

/* Serve the connection to its end before the loop accepts the next. */
static int serve_now(void *ctx, sk_socket_t fd, const struct sk_addr *peer)
{
    struct sk_server *srv = ctx;
    sk__blocking_serve(srv, fd, peer, NULL);
    sk__server_leave(srv, peer);
    return SK_ACCEPT_TAKEN;
}

static int iterative_run(struct sk_server *srv)
{
    if (srv->cfg->udp)
        return sk__serve_datagrams(srv);
    struct sk__accept_ops ops = { .take = serve_now, .ctx = srv };
    return sk__accept_loop(srv, &ops);
}

const struct sk_model sk__model_iterative = {
    .name = "iterative",
    .io_model = "blocking",
    .summary = "one client at a time; a stalled one is cut at --idle-timeout (default 30 s)",
    .flags = SK_MODEL_TCP | SK_MODEL_UDP | SK_MODEL_SHARED | SK_MODEL_SERIAL,
    .probe = NULL,
    .run = iterative_run,
};
