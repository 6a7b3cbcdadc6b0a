/*
 * model_iocp.c - I/O completion ports (UNP: asynchronous I/O), Windows only.
 *
 * Where the readiness models ask "which socket can I read now?", a
 * completion port is told "read into this buffer" and later says "done,
 * N bytes".  Every socket is associated with one port; worker threads
 * (--workers, default one per processor) sleep in
 * GetQueuedCompletionStatus() and each takes whichever completion comes
 * next, so the port spreads the work without a poller or a lock on the
 * data path.
 *
 *   accept   AcceptEx() calls are posted in advance (PREPOSTED_ACCEPTS) on
 *            sockets created beforehand; each completion hands over a
 *            connected socket, and another accept is posted at once.
 *   read     one overlapped WSARecv() at a time per connection, into the
 *            connection's input buffer, posted only while its output has
 *            room and the service has taken all earlier input.  A service
 *            whose on_data takes less than it was given stops further
 *            receives until a send completes and frees room, so a peer that
 *            does not read is pushed back by TCP's window, as on Linux.
 *   write    a service's writes are copied into the output buffer (at
 *            most --buffer bytes: the buffer must stay put until the
 *            kernel is done with it) and one overlapped WSASend() at a time
 *            sends what is queued.
 *   close    closesocket() makes the outstanding operations complete with
 *            an error; the connection is freed only when the last of them
 *            has come back (a reference count), never while the kernel may
 *            still write into its OVERLAPPED structures or buffers.
 *
 * A connection's completions may reach two workers at once (a receive and
 * a send), so each connection has a lock, held while its completion is
 * handled.  Services whose sessions reach each other (chat) run on one
 * worker, so a broadcast never needs another connection's lock.
 *
 * The thread that called the model watches the stop flag, --idle-timeout
 * and --max-clients every STOP_CHECK_MS; it wakes the workers with
 * PostQueuedCompletionStatus() to stop them, then closes what is left and
 * drains the port.  UDP services run on the textbook recvfrom()/sendto()
 * loop (sk_serve_datagrams), as on the iterative model: one socket gains
 * nothing from a completion port.
 *
 * Needs: Windows Vista or later (CancelIoEx); AcceptEx from mswsock.
 */
#include "sk_server.h"
#include "sk_error.h"

#ifdef _WIN32

#include "sk_postq.h"
#include "sk_sock.h"

#include <errno.h>
#include <mswsock.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define PREPOSTED_ACCEPTS 16
#define STOP_CHECK_MS 100
#define DRAIN_MS 3000
#define ADDR_ROOM (sizeof(struct sockaddr_storage) + 16) /* what AcceptEx wants */
#define KEY_STOP ((ULONG_PTR)1)

enum op_kind { OP_ACCEPT, OP_RECV, OP_SEND, OP_KICK };

struct iocp_op {
    OVERLAPPED ov;
    enum op_kind kind;
    struct iocp_conn *conn; /* NULL for accepts */
};

struct accept_op {
    struct iocp_op op;
    SOCKET s;
    char addresses[2 * ADDR_ROOM];
};

struct iocp_model;

struct iocp_conn {
    struct sk_session session;
    struct iocp_model *m;
    SOCKET s;
    sk_mutex_t *lock;
    struct iocp_op recv_op, send_op, kick_op;
    atomic_int refs;          /* operations the kernel or the port still owe us */
    atomic_int kick_posted;
    atomic_int idle;          /* set by the watcher: close as idle */
    atomic_ullong last_input_ms;
    int recv_posted, closed, eof, shut, aborted;
    size_t sending;           /* bytes of out[] in the outstanding WSASend */
    size_t in_len, out_len;
    size_t queued;            /* bytes ever accepted by write */
    unsigned long long bytes_in, bytes_out;
    struct iocp_conn *prev, *next; /* the live list, under m->list_lock */
    uint8_t *in, *out;        /* --buffer bytes each */
    struct sk_postq backlog;  /* chat posts waiting for room (sk_postq.h) */
    struct sk_addr peer;      /* for --max-per-ip's count */
};

struct iocp_model {
    struct sk_server *srv;
    HANDLE port;
    LPFN_ACCEPTEX accept_ex;
    LPFN_GETACCEPTEXSOCKADDRS accept_addrs;
    size_t bufsize;
    sk_mutex_t *list_lock;
    struct iocp_conn *head;
    atomic_long live;
    atomic_long accepted;     /* connections taken, for --max-clients */
    atomic_ulong refused;
    atomic_long pending;      /* operations outstanding on the port */
    atomic_int accepts_posted;
    atomic_int stopping;
};

#define CONN(s) ((struct iocp_conn *)(s))

static void process(struct iocp_conn *c);

/* ---- the output side -------------------------------------------------- */

static size_t out_room(const struct iocp_conn *c)
{
    if (c->closed || c->aborted || (c->session.flags & SK_SESSION_FAILED) ||
        c->backlog.len > 0)
        return 0; /* posts wait: bytes leave in the order they were given */
    return c->m->bufsize - c->out_len;
}

/* Move waiting posts into the output as far as it has room. */
static void backlog_drain(struct iocp_conn *c)
{
    size_t len;
    const uint8_t *p;
    while ((p = sk_postq_peek(&c->backlog, &len)) != NULL && c->out_len < c->m->bufsize) {
        size_t n = c->m->bufsize - c->out_len;
        if (n > len)
            n = len;
        memcpy(c->out + c->out_len, p, n);
        c->out_len += n;
        sk_postq_consume(&c->backlog, n);
    }
}

static void start_send(struct iocp_conn *c)
{
    if (c->sending || c->out_len == 0 || c->closed || c->aborted)
        return;
    WSABUF buf = { (ULONG)c->out_len, (char *)c->out };
    memset(&c->send_op.ov, 0, sizeof c->send_op.ov);
    c->sending = c->out_len;
    atomic_fetch_add(&c->refs, 1);
    atomic_fetch_add(&c->m->pending, 1);
    if (WSASend(c->s, &buf, 1, NULL, 0, &c->send_op.ov, NULL) != 0 &&
        WSAGetLastError() != WSA_IO_PENDING) {
        c->sending = 0;
        atomic_fetch_sub(&c->refs, 1);
        atomic_fetch_sub(&c->m->pending, 1);
        c->session.flags |= SK_SESSION_FAILED;
    }
}

/* Have the connection processed by a worker soon (abort, idle). */
static void kick(struct iocp_conn *c)
{
    if (atomic_exchange(&c->kick_posted, 1))
        return;
    memset(&c->kick_op.ov, 0, sizeof c->kick_op.ov);
    atomic_fetch_add(&c->refs, 1);
    atomic_fetch_add(&c->m->pending, 1);
    if (!PostQueuedCompletionStatus(c->m->port, 0, 0, &c->kick_op.ov)) {
        atomic_fetch_sub(&c->refs, 1);
        atomic_fetch_sub(&c->m->pending, 1);
        atomic_store(&c->kick_posted, 0);
    }
}

static size_t iocp_write(struct sk_session *s, const void *data, size_t len)
{
    struct iocp_conn *c = CONN(s);
    size_t room = out_room(c);
    size_t copy = len < room ? len : room;
    if (copy == 0)
        return 0;
    memcpy(c->out + c->out_len, data, copy);
    c->out_len += copy;
    c->queued += copy;
    start_send(c);
    return copy;
}

static int iocp_post(struct sk_session *s, const void *data, size_t len)
{
    struct iocp_conn *c = CONN(s);
    if (c->closed || c->aborted || (s->flags & SK_SESSION_FAILED))
        return -EPIPE; /* already going away: not a slow reader */
    if (out_room(c) >= len) {
        iocp_write(s, data, len);
        return 0;
    }
    /* The output fills while its WSASend is out: one receive of a paste
     * posted to every member.  That is not a slow reader; a member is
     * dropped only when output and backlog together pass the chat cap. */
    size_t cap = c->m->srv->service_config.chat_output_cap;
    if (cap < c->m->bufsize)
        cap = c->m->bufsize;
    if (c->out_len + c->backlog.len + len > cap)
        return SK_EBUFFULL;
    int rc = sk_postq_push(&c->backlog, data, len);
    if (rc < 0)
        return rc;
    c->queued += len;
    if (!c->sending) { /* a post longer than the whole output */
        backlog_drain(c);
        start_send(c);
    }
    return 0;
}

static size_t iocp_room(struct sk_session *s)
{
    return out_room(CONN(s));
}

static void iocp_abort(struct sk_session *s)
{
    struct iocp_conn *c = CONN(s);
    c->aborted = 1;
    kick(c);
}

static const struct sk_session_ops iocp_ops = {
    .write = iocp_write,
    .post = iocp_post,
    .room = iocp_room,
    .abort = iocp_abort,
    /* No send_file: TransmitFile is not wired in; the file service reads
     * and sends. */
};

/* ---- connections ------------------------------------------------------ */

static void conn_close(struct iocp_conn *c)
{
    struct iocp_model *m = c->m;
    if (c->closed)
        return;
    c->closed = 1;
    sk_server_leave(m->srv, &c->peer);
    if (m->srv->service->on_close)
        m->srv->service->on_close(&c->session);
    sk_session_log(&c->session, SK_LOG_INFO, "closed (%llu bytes in, %llu out)", c->bytes_in,
                   c->bytes_out);
    /* Outstanding operations now complete with an error; the last one to
     * come back frees the connection. */
    closesocket(c->s);
    c->s = INVALID_SOCKET;
    sk_mutex_lock(m->list_lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        m->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    sk_mutex_unlock(m->list_lock);
    atomic_fetch_sub(&m->live, 1);
}

static void conn_free(struct iocp_conn *c)
{
    sk_postq_clear(&c->backlog);
    sk_mutex_free(c->lock);
    free(c->session.state);
    free(c);
}

static int can_read(const struct iocp_conn *c)
{
    return !c->eof && c->in_len == 0 && !c->aborted && !c->closed &&
           !(c->session.flags & (SK_SESSION_FAILED | SK_SESSION_CLOSE)) && out_room(c) > 0;
}

static void start_recv(struct iocp_conn *c)
{
    if (c->recv_posted || !can_read(c))
        return;
    size_t want = out_room(c);
    if (want > c->m->bufsize)
        want = c->m->bufsize;
    WSABUF buf = { (ULONG)want, (char *)c->in };
    DWORD flags = 0;
    memset(&c->recv_op.ov, 0, sizeof c->recv_op.ov);
    c->recv_posted = 1;
    atomic_fetch_add(&c->refs, 1);
    atomic_fetch_add(&c->m->pending, 1);
    if (WSARecv(c->s, &buf, 1, NULL, &flags, &c->recv_op.ov, NULL) != 0 &&
        WSAGetLastError() != WSA_IO_PENDING) {
        c->recv_posted = 0;
        atomic_fetch_sub(&c->refs, 1);
        atomic_fetch_sub(&c->m->pending, 1);
        c->session.flags |= SK_SESSION_FAILED;
    }
}

/* Hand waiting input to the service; what it leaves moves to the front.
 * Returns 1 if it took some. */
static int feed_pending(struct iocp_conn *c)
{
    struct sk_session *s = &c->session;
    const struct sk_service *svc = c->m->srv->service;
    size_t off = 0;
    while (off < c->in_len && !(s->flags & (SK_SESSION_FAILED | SK_SESSION_CLOSE)) &&
           !c->aborted && out_room(c) > 0) {
        size_t used = svc->on_data(s, c->in + off, c->in_len - off);
        if (used == 0)
            break;
        off += used;
    }
    if ((s->flags & (SK_SESSION_FAILED | SK_SESSION_CLOSE)) || c->aborted)
        c->in_len = 0; /* the rest will never be read */
    else if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return off > 0;
}

/* Move the connection as far as it goes, then make sure some operation
 * is outstanding that will bring it back (or close it). */
static void process(struct iocp_conn *c)
{
    struct sk_session *s = &c->session;
    const struct sk_service *svc = c->m->srv->service;
    for (int round = 0; round < 16 && !c->closed; round++) {
        int progress = 0;
        if (c->aborted || (s->flags & SK_SESSION_FAILED))
            break;
        while ((s->flags & SK_SESSION_WANT_WRITABLE) && out_room(c) > 0 && !c->aborted &&
               !(s->flags & (SK_SESSION_CLOSE | SK_SESSION_FAILED))) {
            size_t before = c->queued;
            svc->on_writable(s);
            if (c->queued == before)
                break;
            progress = 1;
        }
        if (c->in_len > 0 && out_room(c) > 0)
            progress |= feed_pending(c);
        if (!progress)
            break;
    }
    if (c->closed)
        return;
    if (atomic_load(&c->idle)) {
        sk_session_log(s, SK_LOG_INFO, "idle for %d ms; closing", c->m->srv->cfg->idle_timeout_ms);
        conn_close(c);
        return;
    }
    start_send(c);
    if (c->aborted || (s->flags & SK_SESSION_FAILED)) {
        conn_close(c);
        return;
    }
    if (!c->sending && c->out_len == 0) {
        if (s->flags & SK_SESSION_CLOSE) {
            conn_close(c);
            return;
        }
        if ((s->flags & SK_SESSION_SHUTDOWN) && !c->shut) {
            if (shutdown(c->s, SD_SEND) != 0) {
                conn_close(c);
                return;
            }
            c->shut = 1;
        }
        /* Peer gone and nothing left to do: nothing can happen now. */
        if (c->eof && c->in_len == 0 && !(s->flags & SK_SESSION_WANT_WRITABLE)) {
            conn_close(c);
            return;
        }
    }
    start_recv(c);
    if (!c->recv_posted && !c->sending && !atomic_load(&c->kick_posted)) {
        /* Nothing outstanding would ever bring this connection back. */
        if (!c->eof)
            sk_session_log(s, SK_LOG_WARN, "service took no input; closing");
        conn_close(c);
    }
}

static void conn_open(struct iocp_model *m, SOCKET fd, const struct sk_addr *peer)
{
    struct sk_server *srv = m->srv;
    const struct sk_service *svc = srv->service;
    struct iocp_conn *c = calloc(1, sizeof *c + 2 * m->bufsize);
    void *state = svc->session_size ? calloc(1, svc->session_size) : NULL;
    sk_mutex_t *lock = sk_mutex_new();
    if (c == NULL || lock == NULL || (svc->session_size && state == NULL) ||
        CreateIoCompletionPort((HANDLE)fd, m->port, 0, 0) == NULL) {
        free(c);
        free(state);
        sk_mutex_free(lock);
        sk_log(&srv->cfg->logger, SK_LOG_WARN, "cannot take a connection: out of resources");
        sk_server_leave(srv, peer);
        closesocket(fd);
        return;
    }
    c->m = m;
    c->s = fd;
    c->peer = *peer;
    c->lock = lock;
    c->in = (uint8_t *)(c + 1);
    c->out = c->in + m->bufsize;
    c->recv_op.kind = OP_RECV;
    c->send_op.kind = OP_SEND;
    c->kick_op.kind = OP_KICK;
    c->recv_op.conn = c->send_op.conn = c->kick_op.conn = c;
    c->session.ops = &iocp_ops;
    c->session.instance = &srv->instance;
    c->session.state = state;
    atomic_store(&c->last_input_ms, sk_now_ms());
    sk_addr_format((const struct sockaddr *)&peer->ss, c->session.peer,
                   sizeof c->session.peer);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
    atomic_fetch_add(&m->live, 1);
    sk_mutex_lock(m->list_lock);
    c->next = m->head;
    if (m->head)
        m->head->prev = c;
    m->head = c;
    sk_mutex_unlock(m->list_lock);

    sk_mutex_lock(c->lock);
    sk_session_log(&c->session, SK_LOG_INFO, "connected");
    if (svc->on_open)
        svc->on_open(&c->session);
    process(c);
    int free_now = c->closed && atomic_load(&c->refs) == 0;
    sk_mutex_unlock(c->lock);
    if (free_now)
        conn_free(c);
}

/* ---- accepting -------------------------------------------------------- */

static int post_accept(struct iocp_model *m, struct accept_op *a)
{
    int family = m->srv->bound.ss.ss_family;
    a->s = WSASocketW(family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                      WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (a->s == INVALID_SOCKET)
        return sk_socket_error();
    memset(&a->op.ov, 0, sizeof a->op.ov);
    DWORD got = 0;
    atomic_fetch_add(&m->pending, 1);
    atomic_fetch_add(&m->accepts_posted, 1);
    if (!m->accept_ex(m->srv->listener, a->s, a->addresses, 0, ADDR_ROOM, ADDR_ROOM, &got,
                      &a->op.ov) &&
        WSAGetLastError() != ERROR_IO_PENDING) {
        int rc = sk_socket_error();
        atomic_fetch_sub(&m->pending, 1);
        atomic_fetch_sub(&m->accepts_posted, 1);
        closesocket(a->s);
        a->s = INVALID_SOCKET;
        return rc;
    }
    return 0;
}

static int accepting(struct iocp_model *m)
{
    long max = m->srv->cfg->max_clients;
    return !atomic_load(&m->stopping) && (max <= 0 || atomic_load(&m->accepted) < max);
}

static void on_accepted(struct iocp_model *m, struct accept_op *a, int ok)
{
    struct sk_server *srv = m->srv;
    SOCKET fd = a->s;
    a->s = INVALID_SOCKET;
    long max = srv->cfg->max_clients;
    if (!ok || atomic_load(&m->stopping)) {
        if (fd != INVALID_SOCKET)
            closesocket(fd);
    } else if (max > 0 && atomic_fetch_add(&m->accepted, 1) >= max) {
        closesocket(fd); /* another worker took the last one */
    } else {
        if (max <= 0)
            atomic_fetch_add(&m->accepted, 1);
        SOCKET listener = srv->listener;
        setsockopt(fd, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&listener,
                   sizeof listener);
        struct sockaddr *local = NULL, *remote = NULL;
        int local_len = 0, remote_len = 0;
        m->accept_addrs(a->addresses, 0, ADDR_ROOM, ADDR_ROOM, &local, &local_len, &remote,
                        &remote_len);
        struct sk_addr peer;
        memset(&peer, 0, sizeof peer);
        if (remote != NULL && remote_len > 0 && (size_t)remote_len <= sizeof peer.ss) {
            memcpy(&peer.ss, remote, (size_t)remote_len);
            peer.len = remote_len;
        }
        if (!sk_server_admit(srv, fd, &peer, atomic_load(&m->live))) {
            atomic_fetch_add(&m->refused, 1);
        } else {
            conn_open(m, fd, &peer);
        }
    }
    if (accepting(m)) {
        int rc = post_accept(m, a);
        if (rc < 0)
            sk_log(&srv->cfg->logger, SK_LOG_WARN, "cannot post an accept: %s", sk_strerror(rc));
        else
            return;
    }
    free(a);
}

/* ---- completions ------------------------------------------------------ */

static void complete(struct iocp_model *m, OVERLAPPED *ov, DWORD bytes, BOOL ok)
{
    struct iocp_op *op = CONTAINING_RECORD(ov, struct iocp_op, ov);
    atomic_fetch_sub(&m->pending, 1);
    if (op->kind == OP_ACCEPT) {
        atomic_fetch_sub(&m->accepts_posted, 1);
        on_accepted(m, (struct accept_op *)op, ok);
        return;
    }
    struct iocp_conn *c = op->conn;
    struct sk_session *s = &c->session;
    const struct sk_service *svc = m->srv->service;
    sk_mutex_lock(c->lock);
    atomic_fetch_sub(&c->refs, 1);
    int rc = 0;
    if (!ok && !c->closed) {
        DWORD n = 0, flags = 0;
        WSAGetOverlappedResult(c->s, ov, &n, FALSE, &flags);
        rc = sk_socket_error();
    }
    switch (op->kind) {
    case OP_RECV:
        c->recv_posted = 0;
        if (c->closed)
            break;
        if (!ok) {
            if (!sk_error_is(rc, ECONNRESET) && !sk_error_is(rc, ECONNABORTED))
                sk_session_log(s, SK_LOG_WARN, "receive failed: %s", sk_strerror(rc));
            conn_close(c);
        } else if (bytes == 0) {
            c->eof = 1;
            if (svc->on_eof)
                svc->on_eof(s);
            else
                sk_session_close(s);
        } else {
            c->in_len = bytes;
            c->bytes_in += bytes;
            atomic_store(&c->last_input_ms, sk_now_ms());
            if (m->srv->msglog != NULL)
                sk_msglog_write(m->srv->msglog, c->in, bytes);
        }
        break;
    case OP_SEND:
        c->sending = 0;
        if (c->closed)
            break;
        if (!ok) {
            if (!sk_error_is(rc, ECONNRESET) && !sk_error_is(rc, ECONNABORTED))
                sk_session_log(s, SK_LOG_WARN, "send failed: %s", sk_strerror(rc));
            conn_close(c);
        } else {
            size_t n = bytes < c->out_len ? bytes : c->out_len;
            memmove(c->out, c->out + n, c->out_len - n);
            c->out_len -= n;
            c->bytes_out += n;
            backlog_drain(c);
            start_send(c);
        }
        break;
    default: /* OP_KICK */
        atomic_store(&c->kick_posted, 0);
        break;
    }
    if (!c->closed)
        process(c);
    int free_now = c->closed && atomic_load(&c->refs) == 0;
    sk_mutex_unlock(c->lock);
    if (free_now)
        conn_free(c);
}

static void *worker_main(void *arg)
{
    struct iocp_model *m = arg;
    for (;;) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *ov = NULL;
        BOOL ok = GetQueuedCompletionStatus(m->port, &bytes, &key, &ov, INFINITE);
        if (ov == NULL) {
            if (key == KEY_STOP || !ok)
                break;
            continue;
        }
        complete(m, ov, bytes, ok);
    }
    return NULL;
}

/* ---- the model -------------------------------------------------------- */

static int load_extensions(struct iocp_model *m)
{
    GUID accept_guid = WSAID_ACCEPTEX, addrs_guid = WSAID_GETACCEPTEXSOCKADDRS;
    DWORD got = 0;
    if (WSAIoctl(m->srv->listener, SIO_GET_EXTENSION_FUNCTION_POINTER, &accept_guid,
                 sizeof accept_guid, &m->accept_ex, sizeof m->accept_ex, &got, NULL, NULL) != 0)
        return sk_socket_error();
    if (WSAIoctl(m->srv->listener, SIO_GET_EXTENSION_FUNCTION_POINTER, &addrs_guid,
                 sizeof addrs_guid, &m->accept_addrs, sizeof m->accept_addrs, &got, NULL,
                 NULL) != 0)
        return sk_socket_error();
    return 0;
}

static void expire_idle(struct iocp_model *m)
{
    int idle_ms = m->srv->cfg->idle_timeout_ms;
    if (idle_ms <= 0)
        return;
    uint64_t now = sk_now_ms();
    sk_mutex_lock(m->list_lock);
    for (struct iocp_conn *c = m->head; c != NULL; c = c->next) {
        if (now - atomic_load(&c->last_input_ms) >= (uint64_t)idle_ms &&
            !atomic_exchange(&c->idle, 1))
            kick(c); /* under the list lock: c cannot be freed meanwhile */
    }
    sk_mutex_unlock(m->list_lock);
}

static int worker_count(struct sk_server *srv)
{
    if (srv->service->flags & SK_SERVICE_SHARED) {
        if (srv->cfg->workers > 1)
            sk_log(&srv->cfg->logger, SK_LOG_INFO,
                   "%s runs on one worker so that every session can reach every other",
                   srv->service->name);
        return 1;
    }
    if (srv->cfg->workers > 0)
        return srv->cfg->workers;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwNumberOfProcessors > 0 ? (int)si.dwNumberOfProcessors : 1;
}

static int iocp_run(struct sk_server *srv)
{
    if (srv->cfg->udp) {
        sk_server_ready(srv); /* a model with --workers says it itself */
        return sk_serve_datagrams(srv);
    }

    struct iocp_model m;
    memset(&m, 0, sizeof m);
    m.srv = srv;
    m.bufsize = srv->buffer_size;
    int nworkers = worker_count(srv), started = 0, rc = 0;
    sk_thread_t *threads = calloc((size_t)nworkers, sizeof *threads);
    m.list_lock = sk_mutex_new();
    m.port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, (DWORD)nworkers);
    if (threads == NULL || m.list_lock == NULL || m.port == NULL)
        rc = -ENOMEM;
    if (rc == 0 && (rc = sk_socket_set_nonblocking(srv->listener, 0)) == 0 &&
        CreateIoCompletionPort((HANDLE)srv->listener, m.port, 0, 0) == NULL)
        rc = -EINVAL;
    if (rc == 0)
        rc = load_extensions(&m);
    for (int i = 0; rc == 0 && i < PREPOSTED_ACCEPTS; i++) {
        struct accept_op *a = calloc(1, sizeof *a);
        if (a == NULL) {
            rc = -ENOMEM;
            break;
        }
        a->op.kind = OP_ACCEPT;
        if ((rc = post_accept(&m, a)) < 0)
            free(a);
    }
    for (int i = 0; rc == 0 && i < nworkers; i++, started++)
        rc = sk_thread_start(&threads[i], worker_main, &m);
    if (rc < 0)
        srv->why = "cannot start the completion port";
    else
        sk_server_ready(srv);

    /* Watch: the stop flag, idle connections, --max-clients served. */
    long max = srv->cfg->max_clients;
    while (rc == 0 && !sk_server_stopping(srv)) {
        if (max > 0 && atomic_load(&m.accepted) >= max && atomic_load(&m.live) == 0)
            break;
        expire_idle(&m);
        sk_sleep_ms(STOP_CHECK_MS);
    }

    /* Stop the workers, then end what is left on this thread. */
    atomic_store(&m.stopping, 1);
    for (int i = 0; i < started; i++)
        PostQueuedCompletionStatus(m.port, 0, KEY_STOP, NULL);
    for (int i = 0; i < started; i++)
        sk_thread_join(threads[i]);
    for (;;) {
        sk_mutex_lock(m.list_lock);
        struct iocp_conn *c = m.head;
        sk_mutex_unlock(m.list_lock);
        if (c == NULL)
            break;
        sk_mutex_lock(c->lock);
        conn_close(c);
        int free_now = atomic_load(&c->refs) == 0;
        sk_mutex_unlock(c->lock);
        if (free_now)
            conn_free(c);
    }
    CancelIoEx((HANDLE)srv->listener, NULL);
    /* The kernel still owns the OVERLAPPEDs of whatever was outstanding:
     * collect every completion before anything is freed. */
    uint64_t deadline = sk_now_ms() + DRAIN_MS;
    while (m.port != NULL && atomic_load(&m.pending) > 0 && sk_now_ms() < deadline) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *ov = NULL;
        BOOL ok = GetQueuedCompletionStatus(m.port, &bytes, &key, &ov, 100);
        if (ov != NULL)
            complete(&m, ov, bytes, ok);
    }
    if (m.port != NULL)
        CloseHandle(m.port);
    sk_mutex_free(m.list_lock);
    free(threads);
    srv->stats.accepted = (unsigned long)atomic_load(&m.accepted);
    srv->stats.refused += atomic_load(&m.refused);
    return rc;
}

static int iocp_probe(const char **why)
{
    (void)why;
    return 0;
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

const struct sk_model sk_model_iocp = {
    .name = "iocp",
    .io_model = "asynchronous",
    .summary = "I/O completion port: AcceptEx, overlapped WSARecv/WSASend, a worker per core",
    .flags = SK_MODEL_TCP | SK_MODEL_UDP | SK_MODEL_SHARED | SK_MODEL_WORKERS,
    .probe = iocp_probe,
    .run = iocp_run,
};
