/*
 * model_iterative.c - one client at a time (UNP: blocking I/O).
 *
 * The tutorial's first server: accept, serve that client to the end,
 * accept the next.  Clients that arrive meanwhile wait in the listen
 * queue.  For UDP this is the textbook recvfrom/sendto loop.
 */
#include "sk_blocking.h"
#include "sk_error.h"

#include <errno.h>

static int iterative_run(struct sk_server *srv)
{
    if (srv->cfg->udp)
        return sk_serve_datagrams(srv);

    long max = srv->cfg->max_clients;
    for (long served = 0; max <= 0 || served < max;) {
        sk_socket_t fd;
        struct sk_addr peer;
        int rc = sk_server_accept(srv, &fd, &peer);
        if (rc == -ECANCELED)
            break;
        if (rc == -EINTR)
            continue;
        if (rc < 0) {
            sk_log(&srv->cfg->logger, SK_LOG_ERROR, "accept failed: %s", sk_strerror(rc));
            sk_sleep_ms(100);
            continue;
        }
        sk_blocking_serve(srv, fd, &peer, NULL);
        served++;
    }
    return 0;
}

const struct sk_model sk_model_iterative = {
    .name = "iterative",
    .io_model = "blocking",
    .summary = "one client at a time; the others wait in the listen queue",
    .flags = SK_MODEL_TCP | SK_MODEL_UDP | SK_MODEL_SHARED,
    .probe = NULL,
    .run = iterative_run,
};
