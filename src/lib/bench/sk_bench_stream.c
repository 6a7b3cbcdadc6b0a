/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_bench_stream.c - the load generator's throughput mode: one-way TCP
 * streams, as iperf3 measures them, to a sink (discard, `nc -l >
 * /dev/null`) or from a source (chargen, `sockit listen < file`).
 *
 * Send (SK_BENCH_STREAM_SEND): each connection writes --size bytes at a
 * time, straight from the random block (no copy), for as long as the
 * socket takes them.  At the deadline it half-closes (shutdown SHUT_WR)
 * and reads until the sink closes: a sink closes after our FIN only once
 * it has read every byte before it, so that close is the receipt for the
 * bytes counted.  A sink that has not closed --timeout after our FIN is a
 * timeout, since nothing then says it got them.
 *
 * Receive (SK_BENCH_STREAM_RECV): each connection reads as fast as the
 * source writes, and closes at the deadline.  A source that closes
 * first (a file has an end) ends its stream early; that is not an error,
 * and the bytes it sent count.
 *
 * Either way the counts are bytes, in sk_bench_counts.bytes; a reset is
 * an error.  No latency is measured: a stream has no replies to time.
 */
#include "sk_bench_internal.h"
#include "sk_compat.h"
#include "sk_error.h"

#include <errno.h>

static int stream_over(const struct worker *w, uint64_t now)
{
    return sk_stop_requested(w->cfg->stop) || (w->deadline_ns != 0 && now >= w->deadline_ns);
}

/* Write while the socket takes it.  0, or a code. */
static int stream_send(struct worker *w, struct bconn *c)
{
    size_t size = w->cfg->size;
    for (int rounds = 0; rounds < 64; rounds++) {
        struct iovec iov = {
            .iov_base = (void *)sk__bench_stream_bytes(c->id, c->stream_offset),
            .iov_len = size,
        };
        long n = sk__send_vec(c->fd, &iov, 1);
        if (n < 0) {
            if (n == -EINTR)
                continue;
            return sk__error_would_block((int)n) ? 0 : (int)n;
        }
        c->stream_offset += (uint64_t)n;
        w->total.bytes += (uint64_t)n;
        if ((size_t)n < size)
            return 0; /* the socket is full */
    }
    return 0; /* the others' turn */
}

/* Read what is there.  1 = the peer closed, 0 = drained, or a code.
 * counted: whether the bytes are the measurement (receive mode) or
 * something a sink should not send (ignored, as a sink's banner). */
static int stream_receive(struct worker *w, struct bconn *c, int counted)
{
    for (int rounds = 0; rounds < 64; rounds++) {
        long n = (long)recv(c->fd, (char *)w->rbuf, RECV_BUFFER, 0);
        if (n == 0)
            return 1;
        if (n < 0) {
            int rc = sk__socket_error();
            if (rc == -EINTR)
                continue;
            return sk__error_would_block(rc) ? 0 : rc;
        }
        if (counted)
            w->total.bytes += (uint64_t)n;
        if ((size_t)n < RECV_BUFFER)
            return 0;
    }
    return 0;
}

void sk__bench_stream_step(struct worker *w, struct bconn *c)
{
    int send_mode = w->cfg->mode == SK_BENCH_STREAM_SEND;
    int over = stream_over(w, sk__now_ns());
    int rc = 0;

    if (!send_mode) {
        rc = over ? 1 : stream_receive(w, c, 1);
        if (rc != 0) {
            if (rc < 0)
                w->total.resets++;
            sk__bench_conn_done(w, c); /* at the deadline, or the source ended */
            return;
        }
    } else {
        if (!c->stream_shut && over) {
            if (shutdown(c->fd, SK_SHUT_WR) != 0) {
                w->total.resets++;
                sk__bench_conn_done(w, c);
                return;
            }
            c->stream_shut = 1;
        }
        if (!c->stream_shut)
            rc = stream_send(w, c);
        if (rc == 0)
            rc = stream_receive(w, c, 0);
        if (rc != 0) {
            /* The sink closed: after our FIN that is its receipt; before
             * it, the stream ended early. */
            if (rc < 0 || !c->stream_shut)
                w->total.resets++;
            sk__bench_conn_done(w, c);
            return;
        }
    }
    int mask = SK_EV_READ | (send_mode && !c->stream_shut ? SK_EV_WRITE : 0);
    if (sk__loop_watch(w->loop, c->fd, mask, sk__bench_on_stream, c) < 0) {
        w->total.resets++;
        sk__bench_conn_done(w, c);
    }
}

void sk__bench_on_stream(struct sk__loop *loop, int fd, void *data, int events)
{
    (void)loop, (void)fd, (void)events;
    struct bconn *c = data;
    sk__bench_stream_step(c->w, c);
}
