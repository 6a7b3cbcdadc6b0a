/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_trace.c - --trace: socket calls and TCP's state as events, rendered
 * as a text line or a JSON line (sockit/trace.h says what each holds).
 *
 * Every event goes through sk__trace_emit(), which samples TCP_INFO when
 * asked and hands the event to exactly one of two renderers, so the text
 * and the JSON forms cannot drift apart.  A line is formatted on the
 * caller's stack and written with one write(): threads and forked
 * children never interleave inside a line, and no lock is taken.
 *
 * Repeated would-block results on one descriptor (a non-blocking recv()
 * or accept() that finds nothing, over and over under the nonblock
 * model's busy polling) are shown once, until something else happens on
 * that descriptor: the first EAGAIN teaches, the next thousand drown it.
 */
#include "sk_trace.h"
#include "sk_error.h"

#include <sockit/addr.h>

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 2048
#define CONN_SLOTS (1u << 20) /* descriptors past this share slots */

int sk__trace_on;
unsigned sk__trace_flags;

static int trace_fd = -1;
static int trace_format;
static uint64_t start_ns;
static int opener_pid;
static atomic_long next_conn;
static atomic_long *conn_of;    /* fd -> connection id (0: none) */
static atomic_uchar *quiet;     /* fd -> a would-block was shown last */

/* ---- options ---------------------------------------------------------- */

int sk_trace_parse(const char *spec, struct sk_trace_options *out)
{
    out->format = SK_TRACE_TEXT;
    out->flags = 0;
    if (spec == NULL || *spec == '\0')
        return 0;
    const char *p = spec;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        if (n == 4 && strncmp(p, "text", 4) == 0)
            out->format = SK_TRACE_TEXT;
        else if (n == 4 && strncmp(p, "json", 4) == 0)
            out->format = SK_TRACE_JSON;
        else if (n == 3 && strncmp(p, "tcp", 3) == 0)
            out->flags |= SK_TRACE_TCP;
        else
            return SK_EOPTVALUE;
        p += n;
        if (*p == ',' && *++p == '\0')
            return SK_EOPTVALUE; /* a trailing comma */
    }
    return 0;
}

int sk_trace_open(int fd, const struct sk_trace_options *options)
{
    if (fd < 0 || options == NULL ||
        (options->format != SK_TRACE_TEXT && options->format != SK_TRACE_JSON))
        return -EINVAL;
    if (conn_of == NULL) {
        /* Untouched pages of a large calloc cost nothing until used. */
        conn_of = calloc(CONN_SLOTS, sizeof *conn_of);
        quiet = calloc(CONN_SLOTS, sizeof *quiet);
        if (conn_of == NULL || quiet == NULL) {
            free(conn_of);
            free(quiet);
            conn_of = NULL;
            quiet = NULL;
            return -ENOMEM;
        }
    }
    trace_fd = fd;
    trace_format = options->format;
    sk__trace_flags = options->flags;
    start_ns = sk__now_ns();
    opener_pid = sk__process_id();
    sk__trace_on = 1;
    return 0;
}

void sk__trace_stop(void)
{
    sk__trace_on = 0;
}

int sk_trace_enabled(void)
{
    return sk__trace_on != 0;
}

/* ---- connection ids --------------------------------------------------- */

static size_t slot_of(long long fd)
{
    return (size_t)((unsigned long long)fd % CONN_SLOTS);
}

static long conn_lookup(long long fd)
{
    return fd < 0 ? 0 : atomic_load(&conn_of[slot_of(fd)]);
}

long sk__trace_conn_new(sk_socket_t fd)
{
    long id = atomic_fetch_add(&next_conn, 1) + 1;
    atomic_store(&conn_of[slot_of((long long)fd)], id);
    return id;
}

static void conn_end(long long fd)
{
    if (fd >= 0)
        atomic_store(&conn_of[slot_of(fd)], 0);
}

void sk__trace_conn_forget(sk_socket_t fd)
{
    conn_end((long long)fd);
}

/* ---- meanings, in the tutorials' terms --------------------------------- */

static int is_call(const char *call, const char *name)
{
    return call != NULL && strcmp(call, name) == 0;
}

/* IOCP's calls are WSARecv/WSASend, echo's splice() moves bytes from
 * the socket into a pipe and from the pipe back out, and io_uring's echo
 * sends its ring buffers back with one sendmsg: what they mean is recv's
 * and send's. */
static int is_recv(const char *call)
{
    return is_call(call, "recv") || is_call(call, "WSARecv") || is_call(call, "splice in");
}

static int is_send(const char *call)
{
    return is_call(call, "send") || is_call(call, "sendmsg") || is_call(call, "sendmsg_zc") ||
           is_call(call, "WSASend") || is_call(call, "splice out");
}

static const char *error_meaning(const char *call, int code)
{
    if (sk__error_would_block(code)) {
        if (is_call(call, "accept"))
            return "no connection waits in the listen queue (a non-blocking socket returns "
                   "at once)";
        if (is_send(call) || is_call(call, "sendto"))
            return "the send buffer is full: the kernel takes more once the peer "
                   "acknowledges";
        return "nothing has arrived yet (a non-blocking socket returns instead of waiting)";
    }
    static const struct {
        int err;
        const char *meaning;
    } table[] = {
        { ECONNRESET, "the peer reset the connection (RST): it closed with unread data, or "
                      "its process died" },
        { EPIPE, "the connection is closed for sending: the peer has gone (RST), or we "
                 "shut down our side" },
        { ECONNREFUSED, "nobody listens there: the peer's kernel answered the SYN with RST" },
        { ETIMEDOUT, "no answer in time: what was sent was never acknowledged" },
        { EADDRINUSE, "the address is taken: another socket is bound to that port" },
        { EADDRNOTAVAIL, "that address is not one of this host's" },
        { EINPROGRESS, "the handshake has started: a non-blocking connect finishes later "
                       "(wait until writable, then read SO_ERROR)" },
        { EINTR, "a signal interrupted the call before anything moved" },
        { EMFILE, "this process has no descriptor left (ulimit -n)" },
        { ENFILE, "the system has no descriptor left" },
        { ENOTCONN, "the socket is not connected" },
        { ECONNABORTED, "the connection ended while it waited in the listen queue" },
        { ECANCELED, "cancelled: the connection is closing" },
        { ENETUNREACH, "no route to that network" },
        { EHOSTUNREACH, "no route to that host" },
        { EMSGSIZE, "the datagram does not fit" },
        { ENOBUFS, "the kernel is out of buffer space" },
        { EBADF, "not an open descriptor" },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (sk_error_is(code, table[i].err))
            return table[i].meaning;
    return sk_strerror(code);
}

static const char *result_meaning(const struct sk__trace_event *ev)
{
    if (ev->meaning != NULL || !ev->has_result)
        return ev->meaning;
    if (ev->result < 0)
        return error_meaning(ev->call, (int)ev->result);
    if (ev->stream && ev->result == 0 && is_recv(ev->call))
        return "the peer half-closed (FIN received): nothing more will arrive";
    if (ev->stream && ev->size > 0 && ev->result < ev->size && is_send(ev->call))
        return "the send buffer took part of it; the rest waits for room";
    return NULL;
}

/* What a state means, in the terms of the tutorials' close sequence. */
static const char *state_meaning(const char *state)
{
    static const struct {
        const char *state, *meaning;
    } table[] = {
        { "SYN_SENT", "our SYN is out; waiting for SYN+ACK" },
        { "SYN_RECV", "SYN+ACK sent; waiting for the last ACK of the handshake" },
        { "FIN_WAIT1", "our FIN is out, not yet acknowledged" },
        { "FIN_WAIT2", "our FIN was acknowledged; waiting for the peer's" },
        { "CLOSE_WAIT", "the peer's FIN arrived; we may still send, then close" },
        { "LAST_ACK", "our FIN answered theirs; waiting for its ACK" },
        { "CLOSING", "both FINs crossed; waiting for the ACK of ours" },
        { "TIME_WAIT", "both sides closed; held 2 MSL so late segments die" },
        { "CLOSE", "no connection now; after the four-way close Linux keeps TIME_WAIT in "
                   "a mini-socket of its own (ss -tan state time-wait)" },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(state, table[i].state) == 0)
            return table[i].meaning;
    return NULL;
}

/* ---- the line builder ------------------------------------------------- */

struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (n > sizeof l->buf - 1 - l->len)
        n = sizeof l->buf - 1 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void puts_(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

static void SK_PRINTF(2, 3) putf(struct line *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = sizeof l->buf - 1 - l->len;
    int n = vsnprintf(l->buf + l->len, room + 1, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n < room ? (size_t)n : room;
}

/* The preview: printable ASCII as is, the rest C-escaped. */
static void put_preview(struct line *l, const uint8_t *p, size_t len)
{
    size_t shown = len < SK_TRACE_PREVIEW ? len : SK_TRACE_PREVIEW;
    for (size_t i = 0; i < shown; i++) {
        uint8_t c = p[i];
        if (c == '\n')
            puts_(l, "\\n");
        else if (c == '\r')
            puts_(l, "\\r");
        else if (c == '\t')
            puts_(l, "\\t");
        else if (c == '\\' || c == '"') {
            char e[2] = { '\\', (char)c };
            put(l, e, 2);
        } else if (c >= 0x20 && c < 0x7f)
            put(l, (const char *)&c, 1);
        else
            putf(l, "\\x%02x", c);
    }
    if (shown < len)
        puts_(l, "...");
}

/* A JSON string of s (already free of raw bytes > 0x7e but for what a
 * caller passed in args, escaped as \u00XX). */
static void put_json_string(struct line *l, const char *s)
{
    put(l, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            put(l, e, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            putf(l, "\\u%04x", c);
        } else {
            put(l, (const char *)&c, 1);
        }
    }
    put(l, "\"", 1);
}

static double elapsed_ms(void)
{
    return (double)(sk__now_ns() - start_ns) / 1e6;
}

/* ---- the two renderers ------------------------------------------------ */

static void text_tcp(struct line *l, const struct sk__tcp_info *t, int rc)
{
    if (rc < 0) {
        putf(l, "tcp: %s", rc == SK_ENOTAVAIL ? "TCP_INFO is not available on this platform"
                                             : sk_strerror(rc));
        return;
    }
    putf(l, "tcp %s", t->state);
    if (t->rtt_us != UINT32_MAX)
        putf(l, "  rtt %.3f ms", t->rtt_us / 1000.0);
    if (t->rttvar_us != UINT32_MAX)
        putf(l, " (var %.3f)", t->rttvar_us / 1000.0);
    putf(l, "  cwnd %u  retrans %u", t->cwnd, t->retrans);
    if (t->bytes_acked != UINT64_MAX)
        putf(l, "  acked %llu  received %llu", (unsigned long long)t->bytes_acked,
             (unsigned long long)t->bytes_received);
    putf(l, "  unacked %u  sendq %ld  recvq %ld", t->unacked, t->sendq, t->recvq);
    const char *about = state_meaning(t->state);
    if (about != NULL)
        putf(l, "  (%s)", about);
}

static void render_text(struct line *l, const struct sk__trace_event *ev, double t, int pid,
                        const struct sk__tcp_info *tcp, int tcp_rc, int has_tcp)
{
    long conn = ev->conn;
    putf(l, "trace %10.3f ", t);
    size_t before_pid = l->len;
    if (pid != opener_pid)
        putf(l, "[%d] ", pid);
    size_t pid_width = l->len - before_pid;
    char id[24] = "-";
    if (conn > 0)
        snprintf(id, sizeof id, "#%ld", conn);
    putf(l, "%-4s ", id);
    /* A sample lines up under the call, whatever a child's pid is long. */
    size_t indent = l->len - pid_width;
    if (ev->via != NULL)
        putf(l, "[%s] ", ev->via);
    puts_(l, ev->call);
    const char *sep = "(";
    if (ev->fd >= 0) {
        putf(l, "%s%lld", sep, ev->fd);
        sep = ", ";
    }
    if (ev->addr != NULL) {
        putf(l, "%s%s", sep, ev->addr);
        sep = ", ";
    }
    if (ev->size >= 0) {
        putf(l, "%s%lld", sep, ev->size);
        sep = ", ";
    }
    if (ev->args != NULL) {
        putf(l, "%s%s", sep, ev->args);
        sep = ", ";
    }
    puts_(l, sep[0] == '(' ? "()" : ")");
    if (ev->has_result) {
        if (ev->result < 0)
            putf(l, " = -1 %s", sk_err_name((int)ev->result));
        else
            putf(l, " = %lld", ev->result);
    }
    if (ev->nready > 0 && ev->ready != NULL) {
        puts_(l, " ready: fd");
        for (int i = 0; i < ev->nready; i++)
            putf(l, "%s%d", i ? "," : " ", ev->ready[i]);
    }
    if (ev->peer != NULL)
        putf(l, ", peer %s", ev->peer);
    const char *meaning = result_meaning(ev);
    if (meaning != NULL)
        putf(l, ": %s", meaning);
    if (ev->data != NULL && ev->data_len > 0) {
        puts_(l, " \"");
        put_preview(l, ev->data, ev->data_len);
        puts_(l, "\"");
    }
    if (has_tcp) {
        puts_(l, "\n");
        putf(l, "%*s", (int)indent + 2, "");
        text_tcp(l, tcp, tcp_rc);
    }
}

static void json_tcp(struct line *l, const struct sk__tcp_info *t, int rc)
{
    if (rc < 0) {
        puts_(l, ",\"tcp\":{\"unavailable\":");
        put_json_string(l, rc == SK_ENOTAVAIL ? "TCP_INFO is not available on this platform"
                                              : sk_strerror(rc));
        puts_(l, "}");
        return;
    }
    puts_(l, ",\"tcp\":{\"state\":");
    put_json_string(l, t->state);
    if (t->rtt_us != UINT32_MAX)
        putf(l, ",\"rtt_us\":%u", t->rtt_us);
    if (t->rttvar_us != UINT32_MAX)
        putf(l, ",\"rttvar_us\":%u", t->rttvar_us);
    putf(l, ",\"cwnd\":%u,\"retrans\":%u", t->cwnd, t->retrans);
    if (t->bytes_acked != UINT64_MAX)
        putf(l, ",\"bytes_acked\":%llu,\"bytes_received\":%llu",
             (unsigned long long)t->bytes_acked, (unsigned long long)t->bytes_received);
    putf(l, ",\"unacked\":%u,\"sendq\":%ld,\"recvq\":%ld", t->unacked, t->sendq, t->recvq);
    const char *about = state_meaning(t->state);
    if (about != NULL) {
        puts_(l, ",\"about\":");
        put_json_string(l, about);
    }
    puts_(l, "}");
}

static void render_json(struct line *l, const struct sk__trace_event *ev, double t, int pid,
                        const struct sk__tcp_info *tcp, int tcp_rc, int has_tcp)
{
    putf(l, "{\"t_ms\":%.3f,\"pid\":%d", t, pid);
    if (ev->conn > 0)
        putf(l, ",\"conn\":%ld", ev->conn);
    if (ev->via != NULL) {
        puts_(l, ",\"via\":");
        put_json_string(l, ev->via);
    }
    puts_(l, ",\"call\":");
    put_json_string(l, ev->call);
    if (ev->fd >= 0)
        putf(l, ",\"fd\":%lld", ev->fd);
    if (ev->size >= 0)
        putf(l, ",\"size\":%lld", ev->size);
    if (ev->args != NULL) {
        puts_(l, ",\"args\":");
        put_json_string(l, ev->args);
    }
    if (ev->has_result) {
        putf(l, ",\"result\":%lld", ev->result < 0 ? -1LL : ev->result);
        if (ev->result < 0) {
            puts_(l, ",\"errno\":");
            put_json_string(l, sk_err_name((int)ev->result));
        }
    }
    const char *meaning = result_meaning(ev);
    if (meaning != NULL) {
        puts_(l, ",\"meaning\":");
        put_json_string(l, meaning);
    }
    if (ev->addr != NULL) {
        puts_(l, ",\"addr\":");
        put_json_string(l, ev->addr);
    }
    if (ev->peer != NULL) {
        puts_(l, ",\"peer\":");
        put_json_string(l, ev->peer);
    }
    if (ev->ready != NULL) {
        puts_(l, ",\"ready\":[");
        for (int i = 0; i < ev->nready; i++)
            putf(l, "%s%d", i ? "," : "", ev->ready[i]);
        puts_(l, "]");
    }
    if (ev->data != NULL && ev->data_len > 0) {
        struct line preview;
        preview.len = 0;
        put_preview(&preview, ev->data, ev->data_len);
        preview.buf[preview.len] = '\0';
        puts_(l, ",\"data\":");
        put_json_string(l, preview.buf);
        putf(l, ",\"len\":%zu", ev->data_len);
    }
    if (has_tcp)
        json_tcp(l, tcp, tcp_rc);
    puts_(l, "}");
}

/* ---- emitting --------------------------------------------------------- */

void sk__trace_emit(const struct sk__trace_event *in)
{
    struct sk__trace_event ev = *in;
    if (ev.conn == 0)
        ev.conn = conn_lookup(ev.fd);
    if (ev.fd >= 0) {
        size_t slot = slot_of(ev.fd);
        int blocked = ev.has_result && ev.result < 0 && sk__error_would_block((int)ev.result);
        if (blocked && atomic_exchange(&quiet[slot], 1))
            return; /* shown already, and nothing else happened since */
        if (!blocked)
            atomic_store(&quiet[slot], 0);
    }
    struct sk__tcp_info sample;
    const struct sk__tcp_info *tcp = ev.tcp;
    int tcp_rc = ev.tcp_rc, has_tcp = ev.tcp != NULL;
    if (tcp == NULL && ev.with_tcp && ev.fd >= 0) {
        memset(&sample, 0, sizeof sample);
        tcp_rc = sk__tcp_info((sk_socket_t)ev.fd, &sample);
        tcp = &sample;
        has_tcp = 1;
    }
    struct line l;
    l.len = 0;
    double t = elapsed_ms();
    int pid = sk__process_id();
    if (trace_format == SK_TRACE_JSON)
        render_json(&l, &ev, t, pid, tcp, tcp_rc, has_tcp);
    else
        render_text(&l, &ev, t, pid, tcp, tcp_rc, has_tcp);
    if (l.len == sizeof l.buf - 1)
        l.len--; /* cut short: keep room for the newline */
    l.buf[l.len++] = '\n';
    /* One write() per line; a short one (a full pipe) finishes the line. */
    size_t off = 0;
    while (off < l.len) {
        long n = sk__fd_write(trace_fd, l.buf + off, l.len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
}

static struct sk__trace_event event(const char *call, long long fd)
{
    struct sk__trace_event ev;
    memset(&ev, 0, sizeof ev);
    ev.call = call;
    ev.fd = fd;
    ev.size = -1;
    return ev;
}

void sk__trace_call(sk_socket_t fd, const char *call, const char *args, long long rc,
                    const char *meaning, int with_tcp)
{
    struct sk__trace_event ev = event(call, fd == SK_INVALID_SOCKET ? -1 : (long long)fd);
    ev.args = args;
    ev.has_result = 1;
    ev.result = rc;
    ev.meaning = meaning;
    ev.with_tcp = with_tcp && rc >= 0;
    sk__trace_emit(&ev);
}

void sk__trace_completion(const char *via, sk_socket_t fd, const char *call, size_t size,
                          long long rc, const void *data)
{
    struct sk__trace_event ev = event(call, (long long)fd);
    ev.via = via;
    ev.size = (long long)size;
    ev.has_result = 1;
    ev.result = rc;
    ev.stream = 1;
    if (rc > 0 && data != NULL) {
        ev.data = data;
        ev.data_len = (size_t)rc;
    }
    /* recv = 0: the peer's FIN; TCP is in CLOSE_WAIT now. */
    ev.with_tcp = rc == 0 && is_recv(call);
    sk__trace_emit(&ev);
}

void sk__trace_io(sk_socket_t fd, const char *call, size_t size, long long rc,
                  const void *data)
{
    sk__trace_completion(NULL, fd, call, size, rc, data);
}

void sk__trace_accept(const char *via, sk_socket_t listener, long long rc,
                      const struct sockaddr *peer)
{
    struct sk__trace_event ev = event("accept", (long long)listener);
    char who[SK_ADDRSTRLEN];
    ev.via = via;
    ev.has_result = 1;
    ev.result = rc;
    if (rc >= 0) {
        ev.conn = sk__trace_conn_new((sk_socket_t)rc);
        if (peer != NULL) {
            sk_addr_format(peer, who, sizeof who);
            ev.peer = who;
        }
        /* The sample is the new connection's, not the listener's. */
        struct sk__tcp_info sample;
        memset(&sample, 0, sizeof sample);
        ev.tcp_rc = sk__tcp_info((sk_socket_t)rc, &sample);
        ev.tcp = &sample;
        sk__trace_emit(&ev);
        return;
    }
    sk__trace_emit(&ev);
}

void sk__trace_datagram(sk_socket_t fd, const char *call, size_t size, long long rc,
                        const struct sockaddr *peer, const void *data)
{
    struct sk__trace_event ev = event(call, (long long)fd);
    char who[SK_ADDRSTRLEN];
    ev.size = (long long)size;
    ev.has_result = 1;
    ev.result = rc;
    if (peer != NULL && rc >= 0) {
        sk_addr_format(peer, who, sizeof who);
        ev.peer = who;
    }
    if (rc > 0 && data != NULL) {
        ev.data = data;
        ev.data_len = (size_t)rc;
    }
    sk__trace_emit(&ev);
}

void sk__trace_ready(const char *call, const char *args, int n, const int *fds)
{
    struct sk__trace_event ev = event(call, -1);
    ev.args = args;
    ev.has_result = 1;
    ev.result = n;
    if (n > 0 && fds != NULL) {
        ev.ready = fds;
        ev.nready = n;
    }
    sk__trace_emit(&ev);
}

int sk__trace_close_socket(sk_socket_t fd)
{
    struct sk__trace_event ev = event("close", (long long)fd);
    struct sk__tcp_info sample;
    memset(&sample, 0, sizeof sample);
    ev.conn = conn_lookup(ev.fd);
    /* Read TCP's state while the descriptor still exists: a connection's
     * (a listener's says nothing the tutorials ask about; a UDP socket or
     * a file has none). */
    if (ev.conn > 0) {
        ev.tcp_rc = sk__tcp_info(fd, &sample);
        if (!sk_error_is(ev.tcp_rc, ENOTSOCK) && !sk_error_is(ev.tcp_rc, ENOPROTOOPT) &&
            !sk_error_is(ev.tcp_rc, EOPNOTSUPP))
            ev.tcp = &sample;
    }
    int rc = sk_socket_close(fd);
    conn_end(ev.fd);
    ev.has_result = 1;
    ev.result = rc;
    sk__trace_emit(&ev);
    return rc;
}

void sk__trace_tcp(sk_socket_t fd, const char *why)
{
    struct sk__trace_event ev = event("tcp_info", (long long)fd);
    ev.args = why;
    ev.with_tcp = 1;
    sk__trace_emit(&ev);
}

void sk__trace_getaddrinfo(const char *host, const char *port, int rc,
                           const struct addrinfo *list)
{
    char args[SK_HOSTLEN + 32];
    if (port != NULL)
        snprintf(args, sizeof args, "\"%s\", \"%s\"", host != NULL ? host : "", port);
    else
        snprintf(args, sizeof args, "\"%s\", NULL", host != NULL ? host : "");
    struct line found;
    found.len = 0;
    int n = 0;
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        char one[SK_ADDRSTRLEN];
        if (port != NULL)
            sk_addr_format(ai->ai_addr, one, sizeof one);
        else
            sk_addr_format_host(ai->ai_addr, one, sizeof one);
        putf(&found, "%s%s", n++ ? ", " : "", one);
    }
    found.buf[found.len] = '\0';
    struct sk__trace_event ev = event("getaddrinfo", -1);
    ev.args = args;
    ev.has_result = 1;
    ev.result = rc < 0 ? rc : n;
    ev.meaning = n > 0 ? found.buf : NULL;
    sk__trace_emit(&ev);
}

void sk__trace_model(const char *call, const char *args, long long rc, const char *meaning)
{
    struct sk__trace_event ev = event(call, -1);
    ev.args = args;
    ev.has_result = 1;
    ev.result = rc;
    ev.meaning = meaning;
    sk__trace_emit(&ev);
}

/* ---- the public wrappers for a program's own calls --------------------- */

void sk_trace_call(sk_socket_t fd, const char *call, const char *args, long long result)
{
    if (SK_TRACING())
        sk__trace_call(fd, call, args, result, NULL, SK__TRACE_NO_TCP);
}

void sk_trace_io(sk_socket_t fd, const char *call, size_t size, long long result,
                 const void *data)
{
    if (SK_TRACING())
        sk__trace_io(fd, call, size, result, data);
}

void sk_trace_datagram(sk_socket_t fd, const char *call, size_t size, long long result,
                       const struct sockaddr *peer, const void *data)
{
    if (SK_TRACING())
        sk__trace_datagram(fd, call, size, result, peer, data);
}

void sk_trace_wait(const char *call, const char *args, long long n)
{
    if (SK_TRACING())
        sk__trace_ready(call, args, (int)n, NULL);
}

int sk_close(sk_socket_t s)
{
    return sk__close_traced(s);
}
