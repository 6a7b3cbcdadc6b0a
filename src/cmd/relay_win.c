/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * relay_win.c - `sockit connect`/`listen`'s copy loop on Windows
 * (relay_posix.c on POSIX; relay.h has the rules both keep).
 *
 * WSAPoll() takes sockets only, so standard input (a console, a pipe or a
 * file) gets a reader thread: it reads one chunk, hands it over under a
 * lock, and sends one byte on a loopback UDP "wake" socket that the main
 * loop polls beside the connection.  Only the main thread touches the
 * connection, so it can close it whenever the conversation ends; the
 * reader lives as long as the process, and `listen -k` hands what is left
 * of standard input to the next connection.
 *
 * Standard output is written with blocking writes from the main loop: a
 * reader of our output that stops reading also stops standard input from
 * being sent (the POSIX loop avoids this; here it would take a writer
 * thread too).  --exec is not available: a Winsock socket is not a handle
 * that every program can take as its standard input.
 */
#include "relay.h"
#include "sk_error.h"

#include <errno.h>
#include <string.h>

#define RELAY_BUFFER (64 * 1024)
#define DATAGRAM_MAX 65507

static struct reader {
    sk__mutex_t *lock;
    sk__cond_t *cond;
    int started;
    char chunk[DATAGRAM_MAX]; /* read, not yet taken by the main loop */
    size_t len;
    int ended;                /* end of standard input (or its error) */
    int error;
    sk_socket_t wake_send, wake_recv;
} rd = { .wake_send = SK_INVALID_SOCKET, .wake_recv = SK_INVALID_SOCKET };

static void wake(void)
{
    char b = 1;
    (void)send(rd.wake_send, &b, 1, 0);
}

static void *reader_main(void *arg)
{
    (void)arg;
    static char buf[DATAGRAM_MAX];
    for (;;) {
        long n = sk__fd_read(0, buf, sizeof buf);
        sk__mutex_lock(rd.lock);
        while (rd.len > 0)
            sk__cond_wait(rd.cond, rd.lock);
        if (n <= 0) {
            rd.ended = 1;
            rd.error = n < 0 ? (int)n : 0;
        } else {
            memcpy(rd.chunk, buf, (size_t)n);
            rd.len = (size_t)n;
        }
        sk__mutex_unlock(rd.lock);
        wake();
        if (n <= 0)
            return NULL;
    }
}

/* A loopback UDP pair: the reader's one-byte datagrams wake WSAPoll(). */
static int start_reader(void)
{
    if (rd.started)
        return 0;
    struct sk_listen_config lc = { .host = "127.0.0.1", .port = "0", .socktype = SOCK_DGRAM,
                                   .no_reuseaddr = 1 };
    struct sk_addr bound;
    int rc = sk_listen(&lc, &rd.wake_recv, &bound);
    if (rc < 0)
        return rc;
    rc = sk_connect_addr((const struct sockaddr *)&bound.ss, bound.len, SOCK_DGRAM, -1,
                         &rd.wake_send);
    if (rc == 0)
        rc = sk__socket_set_nonblocking(rd.wake_recv, 1);
    if (rc == 0 && ((rd.lock = sk__mutex_new()) == NULL || (rd.cond = sk__cond_new()) == NULL))
        rc = -ENOMEM;
    if (rc == 0)
        rc = sk__thread_start_detached(reader_main, NULL);
    if (rc < 0)
        return rc;
    rd.started = 1;
    return 0;
}

static void finish(struct relay_result *out, enum relay_end end, int code)
{
    out->end = end;
    out->code = code;
}

/* Everything from s to standard output; a write that fails ends it. */
static int write_out(const char *p, size_t len)
{
    while (len > 0) {
        long w = sk__fd_write(1, p, len);
        if (w < 0)
            return (int)w;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

void relay_run(sk_socket_t s, const struct relay_options *opt, struct relay_result *out)
{
    static char to_net[RELAY_BUFFER + DATAGRAM_MAX], from_net[RELAY_BUFFER];
    size_t to_net_len = 0;
    memset(out, 0, sizeof *out);

    int rc = start_reader();
    if (rc == 0)
        rc = sk__socket_set_nonblocking(s, 1);
    if (rc < 0) {
        finish(out, RELAY_IO_ERROR, rc);
        return;
    }
    int in_open = 1, net_in_open = 1, shut = 0, quitting = 0, quit_armed = 0;
    int input_is_tty = sk__fd_isatty(0);
    uint64_t now = sk_now_ms(), last_data = now, quit_at = 0;

    for (;;) {
        /* Take the reader's chunk when it fits (a datagram: when the last
         * one has gone). */
        sk__mutex_lock(rd.lock);
        if (rd.len > 0 && (opt->udp ? to_net_len == 0 : to_net_len < RELAY_BUFFER)) {
            memcpy(to_net + to_net_len, rd.chunk, rd.len);
            to_net_len += rd.len;
            rd.len = 0;
            last_data = now;
            sk__cond_signal(rd.cond);
        }
        int input_error = rd.error;
        if (rd.ended && rd.len == 0)
            in_open = 0;
        sk__mutex_unlock(rd.lock);
        if (input_error < 0) {
            finish(out, RELAY_IO_ERROR, input_error);
            return;
        }

        if (!in_open && to_net_len == 0) {
            if (!opt->udp && !opt->no_shutdown && !shut) {
                shut = 1;
                rc = sk_shutdown_write(s);
                if (rc < 0 && !sk_error_is(rc, ENOTCONN)) {
                    finish(out, RELAY_NET_ERROR, rc);
                    return;
                }
            }
            if (opt->quit_ms >= 0 && !quit_armed) {
                quit_armed = 1;
                quit_at = now + (uint64_t)opt->quit_ms;
            }
        }
        if (quit_armed && now >= quit_at)
            quitting = 1, net_in_open = 0;
        if (!net_in_open) {
            if (quitting) {
                finish(out, RELAY_QUIT, 0);
                return;
            }
            if ((!in_open && to_net_len == 0) || input_is_tty) {
                finish(out, RELAY_CLOSED, 0);
                return;
            }
        }
        if (opt->stop != NULL && *opt->stop) {
            finish(out, RELAY_STOPPED, 0);
            return;
        }

        struct pollfd pfd[2];
        memset(pfd, 0, sizeof pfd);
        unsigned n = 0;
        pfd[n].fd = rd.wake_recv;
        pfd[n++].events = POLLIN;
        int net_slot = -1;
        if (net_in_open || to_net_len > 0) {
            net_slot = (int)n;
            pfd[n].fd = s;
            pfd[n++].events = (short)((net_in_open ? POLLIN : 0) | (to_net_len > 0 ? POLLOUT : 0));
        }
        /* Ctrl-C interrupts nothing on Windows: wait in slices. */
        int timeout = SK_WAIT_SLICE_MS > 0 ? SK_WAIT_SLICE_MS : 250;
        if (opt->idle_ms > 0) {
            uint64_t end = last_data + (uint64_t)opt->idle_ms;
            int left = end > now ? (int)(end - now) : 0;
            if (left < timeout)
                timeout = left;
        }
        if (quit_armed && !quitting) {
            int left = quit_at > now ? (int)(quit_at - now) : 0;
            if (left < timeout)
                timeout = left;
        }
        int ready = sk__poll(pfd, n, timeout);
        now = sk_now_ms();
        if (ready < 0 && !sk_error_is(ready, EINTR)) {
            finish(out, RELAY_IO_ERROR, ready);
            return;
        }
        if (ready > 0 && (pfd[0].revents & POLLIN)) {
            char drain[64];
            while (recv(rd.wake_recv, drain, sizeof drain, 0) > 0)
                ;
        }
        short ev = net_slot >= 0 && ready > 0 ? pfd[net_slot].revents : 0;

        if (to_net_len > 0 && (ev & (POLLOUT | POLLERR | POLLHUP))) {
            long w = sk__send_nowait(s, to_net, to_net_len);
            if (w >= 0) {
                size_t used = opt->udp ? to_net_len : (size_t)w;
                out->sent += (uint64_t)w;
                memmove(to_net, to_net + used, to_net_len - used);
                to_net_len -= used;
                last_data = now;
            } else if (!sk__error_would_block((int)w) && !sk_error_is((int)w, EINTR)) {
                finish(out, RELAY_NET_ERROR, (int)w);
                return;
            }
        }
        if (net_in_open && (ev & (POLLIN | POLLERR | POLLHUP))) {
            long r = (long)recv(s, from_net, sizeof from_net, 0);
            if (r > 0) {
                out->received += (uint64_t)r;
                last_data = now;
                rc = write_out(from_net, (size_t)r);
                if (rc < 0) {
                    int gone = sk_error_is(rc, EPIPE) || sk_error_is(rc, EINVAL);
                    finish(out, gone ? RELAY_OUTPUT_GONE : RELAY_IO_ERROR, rc);
                    return;
                }
            } else if (r == 0 && !opt->udp) {
                net_in_open = 0;
            } else if (r < 0) {
                rc = sk__socket_error();
                if (!sk__error_would_block(rc) && !sk_error_is(rc, EINTR)) {
                    /* A UDP port unreachable comes back as a reset. */
                    if (opt->udp && sk_error_is(rc, ECONNRESET))
                        rc = -ECONNREFUSED;
                    finish(out, RELAY_NET_ERROR, rc);
                    return;
                }
            }
        }
        if (opt->idle_ms > 0 && now - last_data >= (uint64_t)opt->idle_ms) {
            finish(out, RELAY_IDLE, 0);
            return;
        }
    }
}

int relay_exec(sk_socket_t s, char *const argv[], const sk__flag_t *stop)
{
    (void)argv, (void)stop;
    sk_socket_close(s);
    return SK_ENOTAVAIL;
}
