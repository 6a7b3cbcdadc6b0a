/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * model_iocp.c - the iocp model: the connection core on its I/O
 * completion port backend (conn_iocp.c), and the probe that says it
 * exists only on Windows.
 *
 * Workers: --workers, by default one per processor (a shared service
 * such as chat runs on one, the core's rule); worker 0 owns the listener
 * and its pre-posted AcceptEx calls and hands connections to the others.
 * UDP services run on the textbook recvfrom()/sendto() loop.
 */
#include "sk_conn.h"
#include "sk_error.h"

#ifdef _WIN32

static int iocp_probe(const char **why)
{
    (void)why;
    return 0;
}

static int iocp_run(struct sk_server *srv)
{
    return sk__iocp_serve(srv);
}

#else /* !_WIN32 */

static int iocp_probe(const char **why)
{
    *why = "Windows only (I/O completion ports)";
    return SK_ENOTAVAIL;
}

static int iocp_run(struct sk_server *srv)
{
    (void)srv;
    return SK_ENOTAVAIL;
}

#endif

const struct sk_model sk__model_iocp = {
    .name = "iocp",
    .io_model = "asynchronous",
    .summary = "I/O completion port: AcceptEx, overlapped WSARecv/WSASend, a worker per core",
    .flags = SK_MODEL_TCP | SK_MODEL_UDP | SK_MODEL_SHARED | SK_MODEL_WORKERS,
    .probe = iocp_probe,
    .run = iocp_run,
};
