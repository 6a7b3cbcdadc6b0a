/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_server_udp.c - a server's datagrams: each one through the loop
 * guard, the service and the reply guard (sk_datagram.c), counted in the
 * server's stats and logged with its logger; the batch an event loop
 * serves, and the textbook recvfrom/sendto loop of the blocking models.
 *
 * The guards themselves are plain data below the server; what is here is
 * only what needs one: its service, stats, limits and --log file.
 */
#include "sk_server.h"
#include "sk_error.h"
#include "sk_trace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void count_drop(struct sk_server *srv, const struct sockaddr *from, const char *why,
                       enum sk_log_level level)
{
    srv->stats.dropped++;
    char who[SK_ADDRSTRLEN] = "?";
    sk_addr_format(from, who, sizeof who);
    sk_log(&srv->cfg->logger, level, "%s: dropped: %s (%lu dropped)", who, why,
           srv->stats.dropped);
}

void sk__datagram_handle(struct sk_server *srv, const uint8_t *in, size_t len,
                        int truncated, const struct sockaddr *from,
                        uint8_t *reply, size_t *reply_len)
{
    *reply_len = 0;
    srv->stats.datagrams++;
    const char *why = truncated ? "datagram truncated" : sk_datagram_guard(from, srv->port);
    if (why != NULL) {
        count_drop(srv, from, why, SK_LOG_DEBUG);
        return;
    }
    /* The service answers first and the reply guard judges the answer:
     * services are pure functions of the request, and whether a reply
     * amplifies or is the request's own bytes is only known then. */
    size_t n = srv->service->on_datagram(&srv->instance, in, len, reply, srv->buffer_size);
    int first = 0;
    if (n > 0 && (why = sk__reflect_judge(srv->reflect, from, in, len, reply, n, &first)) != NULL) {
        /* Once per episode, not per datagram: a flood must not become a
         * flood of log lines.  The rest are counted in the stop line. */
        if (first) {
            count_drop(srv, from, why, SK_LOG_INFO);
        } else {
            srv->stats.dropped++;
        }
        return;
    }
    if (srv->msglog != NULL)
        sk__msglog_write(srv->msglog, in, len);
    *reply_len = n;
}

/* One line per datagram of a batch, as the textbook's recvfrom/sendto
 * would show it, marked with the one system call that moved them all.
 * Replies are traced before they go: a batch send reports only a count. */
static void trace_batch(sk_socket_t fd, const char *call, const char *via,
                        const struct sk__dgram *d, int n, int received)
{
    for (int i = 0; i < n; i++) {
        struct sk__trace_event ev;
        char who[SK_ADDRSTRLEN];
        memset(&ev, 0, sizeof ev);
        sk_addr_format((const struct sockaddr *)&d[i].addr, who, sizeof who);
        ev.via = via;
        ev.call = call;
        ev.fd = (long long)fd;
        ev.size = (long long)(received ? d[i].cap : d[i].len);
        ev.has_result = 1;
        ev.result = (long long)d[i].len;
        ev.peer = who;
        ev.data = d[i].data;
        ev.data_len = d[i].len;
        sk__trace_emit(&ev);
    }
}

int sk__datagram_serve_batch(struct sk_server *srv, sk_socket_t fd, struct sk__datagram_batch *b)
{
    int got = sk__datagram_batch_recv(fd, b);
    if (got <= 0)
        return got;
    if (SK_TRACING())
        trace_batch(fd, "recvfrom", SK_RECV_BATCH_CALL, b->rx, got, 1);
    size_t size = srv->buffer_size;
    long max = srv->cfg->max_clients;
    int replies = 0;
    for (int i = 0; i < got; i++) {
        if (max > 0 && (long)srv->stats.datagrams >= max)
            break;
        struct sk__dgram *in = &b->rx[i], *out = &b->tx[replies];
        sk__datagram_handle(srv, in->data, in->len, in->truncated || in->len > size,
                           (const struct sockaddr *)&in->addr, out->data, &out->len);
        if (out->len > 0) {
            memcpy(&out->addr, &in->addr, (size_t)in->addrlen);
            out->addrlen = in->addrlen;
            replies++;
        }
    }
    if (SK_TRACING())
        trace_batch(fd, "sendto", SK_SEND_BATCH_CALL, b->tx, replies, 0);
    sk__datagram_batch_send(fd, b, replies);
    return got;
}

int sk__serve_datagrams(struct sk_server *srv)
{
    size_t size = srv->buffer_size;
    /* One byte more than the largest datagram accepted: a datagram that
     * fills it was cut short by the kernel and must not be half-answered. */
    uint8_t *in = malloc(size + 1), *out = malloc(size);
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        return -ENOMEM;
    }
    long max = srv->cfg->max_clients;
    while (!sk__server_stopping(srv) && (max <= 0 || (long)srv->stats.datagrams < max)) {
        struct sk_addr from;
        from.len = sizeof from.ss;
        /* Where nothing interrupts a blocking recvfrom() (Windows), wait
         * in slices and look at the stop flag between them. */
        if (SK_WAIT_SLICE_MS > 0 &&
            sk__socket_wait(srv->listener, SK_WAIT_READ, SK_WAIT_SLICE_MS) == 0)
            continue;
        long n = (long)recvfrom(srv->listener, (char *)in, size + 1, 0,
                                (struct sockaddr *)&from.ss, &from.len);
        int err = n < 0 ? sk__socket_error() : 0;
        if (SK_TRACING())
            sk__trace_datagram(srv->listener, "recvfrom", size + 1, n >= 0 ? n : err,
                               (const struct sockaddr *)&from.ss, in);
        if (n < 0) {
            int rc = err;
            if (rc == -EINTR || sk__error_would_block(rc))
                continue;
            /* A previous reply's ICMP port unreachable shows up here on
             * some stacks (Windows: as a reset): it concerns that peer,
             * not the server. */
            if (sk_error_is(rc, ECONNREFUSED) || sk_error_is(rc, ECONNRESET))
                continue;
            /* Winsock fails a datagram longer than the buffer instead of
             * cutting it: it was truncated. */
            if (sk_error_is(rc, EMSGSIZE)) {
                n = (long)size + 1;
            } else {
                free(in);
                free(out);
                return rc;
            }
        }
        size_t reply_len;
        sk__datagram_handle(srv, in, (size_t)n, (size_t)n > size,
                           (const struct sockaddr *)&from.ss, out, &reply_len);
        if (reply_len > 0) {
            long sent = (long)sendto(srv->listener, (const char *)out, reply_len, 0,
                                     (const struct sockaddr *)&from.ss, from.len);
            if (SK_TRACING())
                sk__trace_datagram(srv->listener, "sendto", reply_len,
                                   sent >= 0 ? sent : sk__socket_error(),
                                   (const struct sockaddr *)&from.ss, out);
        }
    }
    free(in);
    free(out);
    return 0;
}

