/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * conn_iocp.c - the connection core's I/O completion port backend
 * (Windows; UNP's asynchronous I/O model).
 *
 * Where a readiness backend asks "which socket can I read now?", a
 * completion port is told "receive into this buffer" and later says
 * "done, N bytes".  Everything else (buffers, limits, posts, closing) is
 * sk_conn.c's and sk_worker.c's; this file only arms operations and
 * hands their results to the core.
 *
 *   ports    each worker is one thread with a completion port of its own
 *            and owns the connections associated with it, so nothing on
 *            the data path is locked.  It waits in
 *            GetQueuedCompletionStatusEx(), which returns a batch of
 *            completions per call, for at most the core's timeout (the
 *            core looks at the stop flag between waits: a console Ctrl-C
 *            wakes no blocking call on Windows).
 *   accept   a socket can be associated with one port only, so worker 0
 *            owns the listener: PREPOSTED_ACCEPTS AcceptEx() calls wait
 *            on it, on sockets created beforehand.  Each accepted socket
 *            goes round-robin to a worker: worker 0 keeps its own, and
 *            posts the others to their worker's port as a small handoff
 *            record (PostQueuedCompletionStatus, KEY_HANDOFF); that worker
 *            associates it with its own port, on its own thread.
 *   receive  one overlapped WSARecv() at a time, into the connection's
 *            receive buffer, armed only while the core can take input and
 *            never for more than its output room (sk__conn_can_read).
 *   send     one overlapped WSASend() at a time of the contiguous head of
 *            the core's circular output (sk__conn_out_span), which stays
 *            put while the kernel reads it.
 *   close    closesocket() makes the outstanding operations complete with
 *            an error; the core frees the connection only once the last
 *            of them came back (sk__conn_release), never while the kernel
 *            may still write into its OVERLAPPEDs or its buffer.
 *
 * UDP is not served here: one socket gains nothing from a completion
 * port, so sk__iocp_serve runs the textbook recvfrom()/sendto() loop
 * (sk__serve_datagrams), as the iterative model does.  No TransmitFile:
 * the file service reads and sends.
 *
 * Needs: Windows Vista or later (GetQueuedCompletionStatusEx, CancelIoEx);
 * AcceptEx from mswsock.
 */
#include "sk_conn.h"
#include "sk_trace.h"
#include "sk_error.h"
#include "sk_sock.h"

#ifdef _WIN32

#include <errno.h>
#include <mswsock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREPOSTED_ACCEPTS 16
#define COMPLETION_BATCH 64     /* completions taken per wait */
#define RECV_MAX 65536          /* a connection's receive buffer, at most */
#define COMPLETION "IOCP completion" /* how the trace names what finished */
#define ADDR_ROOM (sizeof(struct sockaddr_storage) + 16) /* what AcceptEx wants */

/* Completion keys: an operation on a socket, or a connection handed over. */
#define KEY_IO ((ULONG_PTR)0)
#define KEY_HANDOFF ((ULONG_PTR)1)

enum op_kind { OP_ACCEPT, OP_RECV, OP_SEND };

struct iocp_conn;

struct iocp_op {
    OVERLAPPED ov;
    enum op_kind kind;
    struct iocp_conn *conn; /* NULL for accepts */
};

struct accept_op {
    struct iocp_op op;
    SOCKET s;               /* INVALID_SOCKET while no accept is posted */
    char addresses[2 * ADDR_ROOM];
};

/* A connection worker 0 accepted for another worker. */
struct handoff {
    OVERLAPPED ov;
    SOCKET s;
    struct sk_addr peer;
};

struct iocp_conn {
    struct sk__conn base;
    struct iocp_op recv_op, send_op;
    unsigned recv_armed : 1, send_armed : 1;
    int inflight;           /* operations whose completion is still due */
    size_t recv_size;
    uint8_t recv_buf[];     /* recv_size bytes (the backend's conn_size says so) */
};

struct iocp_worker {
    struct sk__worker base;
    HANDLE port;
    long closing;           /* closed connections with operations due */
    atomic_long handoffs_due; /* posted to this worker's port, not yet taken */
    /* Worker 0 only: the listener's accepts. */
    LPFN_ACCEPTEX accept_ex;
    LPFN_GETACCEPTEXSOCKADDRS accept_addrs;
    struct accept_op accepts[PREPOSTED_ACCEPTS];
    int accepts_posted;
    int next_worker;        /* round-robin for the next connection */
};

#define IC(c) ((struct iocp_conn *)(c))
#define IW(w) ((struct iocp_worker *)(w))

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* What a completion on socket s carries: 0, or the code it failed with. */
static int op_result(SOCKET s, OVERLAPPED *ov)
{
    if (ov->Internal == 0)
        return 0;
    DWORD n = 0, flags = 0;
    if (s == INVALID_SOCKET || WSAGetOverlappedResult(s, ov, &n, FALSE, &flags))
        return -ECANCELED;
    int err = WSAGetLastError();
    return err == WSA_OPERATION_ABORTED ? -ECANCELED : sk__socket_error_from(err);
}

/* ---- receiving and sending -------------------------------------------- */

static void arm_recv(struct iocp_conn *ic)
{
    struct sk__conn *c = &ic->base;
    /* Never more than the output can take (the OpenBSD nc rule), so the
     * core's input buffer always holds what the service leaves. */
    WSABUF buf = { (ULONG)min_size(sk__conn_out_room(c), ic->recv_size), (char *)ic->recv_buf };
    DWORD flags = 0;
    memset(&ic->recv_op.ov, 0, sizeof ic->recv_op.ov);
    if (WSARecv(c->fd, &buf, 1, NULL, &flags, &ic->recv_op.ov, NULL) != 0 &&
        WSAGetLastError() != WSA_IO_PENDING) {
        sk__conn_fail(c, sk__socket_error(), "receive");
        return;
    }
    ic->recv_armed = 1; /* a completion comes even when it finished at once */
    ic->inflight++;
}

static void arm_send(struct iocp_conn *ic)
{
    struct sk__conn *c = &ic->base;
    size_t len;
    const uint8_t *p = sk__conn_out_span(c, &len);
    WSABUF buf = { (ULONG)len, (char *)p };
    memset(&ic->send_op.ov, 0, sizeof ic->send_op.ov);
    if (WSASend(c->fd, &buf, 1, NULL, 0, &ic->send_op.ov, NULL) != 0 &&
        WSAGetLastError() != WSA_IO_PENDING) {
        sk__conn_fail(c, sk__socket_error(), "send");
        return;
    }
    c->sending = len;
    ic->send_armed = 1;
    ic->inflight++;
}

static void iocp_update(struct sk__conn *c)
{
    struct iocp_conn *ic = IC(c);
    if (sk__conn_out_len(c) > 0 && !ic->send_armed)
        arm_send(ic);
    if (!ic->recv_armed && sk__conn_can_read(c))
        arm_recv(ic);
}

static int iocp_conn_start(struct sk__conn *c)
{
    struct iocp_conn *ic = IC(c);
    ic->recv_size = min_size(c->w->bufsize, RECV_MAX);
    ic->recv_op.kind = OP_RECV;
    ic->send_op.kind = OP_SEND;
    ic->recv_op.conn = ic->send_op.conn = ic;
    if (CreateIoCompletionPort((HANDLE)c->fd, IW(c->w)->port, KEY_IO, 0) == NULL)
        return sk__socket_error_from((int)GetLastError());
    return 0;
}

/* The last operation of a closed connection came back. */
static void finish(struct iocp_conn *ic)
{
    IW(ic->base.w)->closing--;
    sk__conn_release(&ic->base);
}

/* closesocket() cancels what is outstanding; each cancelled operation
 * still completes on the port, and the last one releases the connection. */
static int iocp_conn_stop(struct sk__conn *c)
{
    struct iocp_conn *ic = IC(c);
    if (c->fd != INVALID_SOCKET)
        sk__close_traced(c->fd);
    c->fd = INVALID_SOCKET;
    if (ic->inflight > 0) {
        IW(c->w)->closing++;
        return 0;
    }
    return 1;
}

static void on_recv(struct iocp_conn *ic, DWORD n, int rc)
{
    struct sk__conn *c = &ic->base;
    ic->recv_armed = 0;
    ic->inflight--;
    if (SK_TRACING() && !c->closed)
        sk__trace_completion(COMPLETION, c->fd, "WSARecv", ic->recv_size, rc < 0 ? rc : (long long)n,
                             ic->recv_buf);
    if (c->closed) {
        if (ic->inflight == 0)
            finish(ic);
        return;
    }
    if (rc < 0)
        sk__conn_fail(c, rc, "receive");
    else if (n == 0)
        sk__conn_eof(c);
    else
        sk__conn_received(c, ic->recv_buf, n);
    sk__conn_schedule(c);
}

static void on_send(struct iocp_conn *ic, DWORD n, int rc)
{
    struct sk__conn *c = &ic->base;
    if (SK_TRACING() && !c->closed) {
        size_t len;
        const uint8_t *p = sk__conn_out_span(c, &len);
        sk__trace_completion(COMPLETION, c->fd, "WSASend", c->sending, rc < 0 ? rc : (long long)n,
                             p);
    }
    ic->send_armed = 0;
    ic->inflight--;
    c->sending = 0;
    if (c->closed) {
        if (ic->inflight == 0)
            finish(ic);
        return;
    }
    if (rc < 0 || n == 0)
        sk__conn_fail(c, rc < 0 ? rc : -EPIPE, "send");
    else
        sk__conn_sent(c, n);
    sk__conn_schedule(c);
}

/* ---- accepting (worker 0) and handing over ---------------------------- */

static void post_accept(struct iocp_worker *iw, struct accept_op *a)
{
    struct sk__worker *w = &iw->base;
    a->s = WSASocketW(w->srv->bound.ss.ss_family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                      WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    int rc = a->s == INVALID_SOCKET ? sk__socket_error() : 0;
    if (rc == 0) {
        DWORD got = 0;
        memset(&a->op.ov, 0, sizeof a->op.ov);
        if (iw->accept_ex(w->listener, a->s, a->addresses, 0, ADDR_ROOM, ADDR_ROOM, &got,
                          &a->op.ov) ||
            WSAGetLastError() == ERROR_IO_PENDING) {
            iw->accepts_posted++;
            return;
        }
        rc = sk__socket_error();
        closesocket(a->s);
        a->s = INVALID_SOCKET;
    }
    /* Out of sockets, most likely: the core's answer, then a rest (an
     * accept that cannot even be posted would fail again at once). */
    sk__worker_accept_failed(w, rc);
    sk__worker_pause_accepting(w);
}

static void post_accepts(struct iocp_worker *iw)
{
    for (int i = 0; i < PREPOSTED_ACCEPTS; i++) {
        if (!iw->base.listening || iw->base.accept_resume_ms != 0)
            return;
        if (iw->accepts[i].s == INVALID_SOCKET)
            post_accept(iw, &iw->accepts[i]);
    }
}

/* Cancelled accepts complete with an error and are posted again only
 * once the core listens again. */
static void iocp_listen(struct sk__worker *w, int on)
{
    struct iocp_worker *iw = IW(w);
    if (w->index != 0)
        return; /* the others are handed their connections */
    if (on)
        post_accepts(iw);
    else if (iw->accepts_posted > 0)
        CancelIoEx((HANDLE)w->listener, NULL);
}

/* Keep the connection (worker 0's turn), or post it to its worker. */
static void hand_over(struct iocp_worker *iw, SOCKET s, const struct sk_addr *peer)
{
    struct sk__workers *sh = iw->base.shared;
    int target = iw->next_worker;
    iw->next_worker = (iw->next_worker + 1) % sh->count;
    if (target == 0 || !iw->base.listening) {
        sk__worker_accepted(&iw->base, s, peer);
        return;
    }
    struct iocp_worker *to = IW(sh->all[target]);
    struct handoff *h = calloc(1, sizeof *h);
    if (h != NULL) {
        h->s = s;
        h->peer = *peer;
        atomic_fetch_add(&to->handoffs_due, 1);
        if (PostQueuedCompletionStatus(to->port, 0, KEY_HANDOFF, &h->ov))
            return;
        atomic_fetch_sub(&to->handoffs_due, 1);
        free(h);
    }
    sk_log(&iw->base.srv->cfg->logger, SK_LOG_WARN,
           "cannot hand a connection to worker %d; dropping it", target);
    closesocket(s);
}

static void on_accept(struct iocp_worker *iw, struct accept_op *a, int rc)
{
    struct sk__worker *w = &iw->base;
    SOCKET s = a->s;
    a->s = INVALID_SOCKET;
    iw->accepts_posted--;
    if (rc == 0) {
        SOCKET listener = w->listener;
        setsockopt(s, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&listener,
                   sizeof listener);
        struct sockaddr *local = NULL, *remote = NULL;
        int local_len = 0, remote_len = 0;
        iw->accept_addrs(a->addresses, 0, ADDR_ROOM, ADDR_ROOM, &local, &local_len, &remote,
                         &remote_len);
        struct sk_addr peer;
        memset(&peer, 0, sizeof peer);
        if (remote != NULL && remote_len > 0 && (size_t)remote_len <= sizeof peer.ss) {
            memcpy(&peer.ss, remote, (size_t)remote_len);
            peer.len = remote_len;
        }
        if (SK_TRACING())
            sk__trace_accept(COMPLETION, listener, (long long)s,
                             peer.len > 0 ? (const struct sockaddr *)&peer.ss : NULL);
        hand_over(iw, s, &peer);
    } else {
        if (SK_TRACING())
            sk__trace_accept(COMPLETION, w->listener, rc, NULL);
        closesocket(s);
        /* A client that reset before its accept completed concerns only
         * that client. */
        if (!sk_error_is(rc, ECONNRESET))
            sk__worker_accept_failed(w, rc);
    }
    if (w->listening && w->accept_resume_ms == 0)
        post_accept(iw, a);
}

static void on_handoff(struct iocp_worker *iw, struct handoff *h)
{
    atomic_fetch_sub(&iw->handoffs_due, 1);
    sk__worker_accepted(&iw->base, h->s, &h->peer); /* closes it when stopping */
    free(h);
}

/* ---- the worker ------------------------------------------------------- */

static void dispatch(struct iocp_worker *iw, const OVERLAPPED_ENTRY *e)
{
    if (e->lpCompletionKey == KEY_HANDOFF) {
        on_handoff(iw, CONTAINING_RECORD(e->lpOverlapped, struct handoff, ov));
        return;
    }
    struct iocp_op *op = CONTAINING_RECORD(e->lpOverlapped, struct iocp_op, ov);
    DWORD n = e->dwNumberOfBytesTransferred;
    switch (op->kind) {
    case OP_ACCEPT:
        on_accept(iw, (struct accept_op *)op, op_result(iw->base.listener, &op->ov));
        break;
    case OP_RECV:
        on_recv(op->conn, n, op_result(op->conn->base.fd, &op->ov));
        break;
    case OP_SEND:
        on_send(op->conn, n, op_result(op->conn->base.fd, &op->ov));
        break;
    }
}

/* Wait up to timeout_ms for completions and handle every one taken. */
static int reap(struct iocp_worker *iw, int timeout_ms)
{
    OVERLAPPED_ENTRY entries[COMPLETION_BATCH];
    ULONG got = 0;
    if (!GetQueuedCompletionStatusEx(iw->port, entries, COMPLETION_BATCH, &got,
                                     (DWORD)timeout_ms, FALSE)) {
        DWORD err = GetLastError();
        return err == WAIT_TIMEOUT ? 0 : sk__socket_error_from((int)err);
    }
    if (SK_TRACING()) {
        char args[40];
        snprintf(args, sizeof args, "timeout %d ms", timeout_ms);
        sk__trace_model("GetQueuedCompletionStatusEx", args, (long long)got,
                        "completions taken from the port");
    }
    for (ULONG i = 0; i < got; i++)
        if (entries[i].lpOverlapped != NULL)
            dispatch(iw, &entries[i]);
    return 0;
}

static int iocp_wait(struct sk__worker *w, int timeout_ms)
{
    struct iocp_worker *iw = IW(w);
    if (w->index == 0)
        post_accepts(iw); /* what could not be posted before, or was cancelled */
    return reap(iw, w->ready != NULL ? 0 : timeout_ms);
}

static int load_extensions(struct iocp_worker *iw)
{
    GUID accept_guid = WSAID_ACCEPTEX, addrs_guid = WSAID_GETACCEPTEXSOCKADDRS;
    SOCKET l = iw->base.listener;
    DWORD got = 0;
    if (WSAIoctl(l, SIO_GET_EXTENSION_FUNCTION_POINTER, &accept_guid, sizeof accept_guid,
                 &iw->accept_ex, sizeof iw->accept_ex, &got, NULL, NULL) != 0 ||
        WSAIoctl(l, SIO_GET_EXTENSION_FUNCTION_POINTER, &addrs_guid, sizeof addrs_guid,
                 &iw->accept_addrs, sizeof iw->accept_addrs, &got, NULL, NULL) != 0)
        return sk__socket_error();
    return 0;
}

static int iocp_worker_init(struct sk__worker *w)
{
    struct iocp_worker *iw = IW(w);
    for (int i = 0; i < PREPOSTED_ACCEPTS; i++) {
        iw->accepts[i].s = INVALID_SOCKET;
        iw->accepts[i].op.kind = OP_ACCEPT;
    }
    /* Each worker is one thread: a port with one concurrent thread. */
    if ((iw->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1)) == NULL)
        return sk__socket_error_from((int)GetLastError());
    if (w->index != 0)
        return 0;
    int rc = sk__socket_set_nonblocking(w->listener, 0);
    if (rc < 0)
        return rc;
    if (CreateIoCompletionPort((HANDLE)w->listener, iw->port, KEY_IO, 0) == NULL)
        return sk__socket_error_from((int)GetLastError());
    return load_extensions(iw);
}

/* At stop, after the core closed every connection: the cancelled
 * operations and the handoffs in flight are given a moment to come back. */
static void iocp_drain(struct sk__worker *w, int ms)
{
    struct iocp_worker *iw = IW(w);
    if (w->index == 0 && iw->accepts_posted > 0)
        CancelIoEx((HANDLE)w->listener, NULL);
    uint64_t deadline = sk_now_ms() + (uint64_t)ms;
    while ((iw->closing > 0 || iw->accepts_posted > 0 || atomic_load(&iw->handoffs_due) > 0) &&
           sk_now_ms() < deadline)
        if (reap(iw, 50) < 0)
            break;
}

/* Every worker has stopped: a connection handed over after its worker's
 * drain never opened, so it is closed here; then the port goes. */
static void iocp_worker_cleanup(struct sk__worker *w)
{
    struct iocp_worker *iw = IW(w);
    if (iw->port == NULL)
        return;
    OVERLAPPED_ENTRY entries[COMPLETION_BATCH];
    ULONG got = 0;
    while (GetQueuedCompletionStatusEx(iw->port, entries, COMPLETION_BATCH, &got, 0, FALSE)) {
        for (ULONG i = 0; i < got; i++) {
            if (entries[i].lpCompletionKey != KEY_HANDOFF || entries[i].lpOverlapped == NULL)
                continue;
            struct handoff *h = CONTAINING_RECORD(entries[i].lpOverlapped, struct handoff, ov);
            closesocket(h->s);
            free(h);
        }
    }
    for (int i = 0; i < PREPOSTED_ACCEPTS; i++)
        if (iw->accepts[i].s != INVALID_SOCKET)
            closesocket(iw->accepts[i].s);
    CloseHandle(iw->port);
}

static int processor_count(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwNumberOfProcessors > 0 ? (int)si.dwNumberOfProcessors : 1;
}

static const struct sk__conn_backend iocp_backend = {
    .name = "completion port",
    .worker_size = sizeof(struct iocp_worker),
    .conn_size = sizeof(struct iocp_conn), /* plus the receive buffer: sk__iocp_serve */
    .refill_early = 1, /* refill before the output runs dry: a send stays queued */
    .one_acceptor = 1,
    .default_workers = processor_count,
    .worker_init = iocp_worker_init,
    .worker_cleanup = iocp_worker_cleanup,
    .wait = iocp_wait,
    .listen = iocp_listen,
    .drain = iocp_drain,
    .conn_start = iocp_conn_start,
    .update = iocp_update,
    .conn_stop = iocp_conn_stop,
    /* No flush, send_now, read: everything is armed in update. */
};

int sk__iocp_serve(struct sk_server *srv)
{
    if (srv->cfg->udp) {
        sk__server_ready(srv);
        return sk__serve_datagrams(srv);
    }
    /* The receive buffer lives at the end of each connection, so it is
     * freed with it and never before its last completion. */
    struct sk__conn_backend be = iocp_backend;
    be.conn_size += min_size(srv->buffer_size, RECV_MAX);
    return sk__conn_serve(srv, &be, NULL);
}

#endif /* _WIN32 */
