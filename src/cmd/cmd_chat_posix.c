/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_chat_posix.c - `sockit chat`'s loop on POSIX (cmd_chat_win.c on
 * Windows): one poll() over stdin and the socket, OpenBSD nc's way.  The
 * stdin side has one fixed buffer; while it holds bytes the socket is not
 * yet ready to take, stdin is not polled, so a server that stops reading
 * pushes back on us instead of growing our memory.  On a terminal the
 * keys go through the line editor (cmd_chat_tty.c) and only finished
 * lines reach that buffer.
 */
#include "cli.h"
#include "cmd_chat.h"
#include "sk_error.h"
#include "sk_sock.h"
#include "sk_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

/* Data read from stdin and not yet taken by the socket. */
struct outbound {
    char bytes[CHAT_BUFFER_BYTES];
    size_t len;
};

/* Send what the socket takes now without blocking; keep the rest. */
static void relay_to_server(sk_socket_t fd, struct outbound *out)
{
    long n = (long)send(fd, out->bytes, out->len, SK_MSG_NOSIGNAL | MSG_DONTWAIT);
    int err = n < 0 ? sk__socket_error() : 0;
    sk_trace_io(fd, "send", out->len, n >= 0 ? n : err, out->bytes);
    if (n < 0) {
        int rc = err;
        if (rc == -EINTR || sk__error_would_block(rc))
            return;
        chat_prompt_hide();
        cli_fail("cannot send: %s", sk_strerror(rc));
    }
    out->len -= (size_t)n;
    memmove(out->bytes, out->bytes + n, out->len);
}

/* Read stdin into the free part of out.  Returns 0 at end of input. */
static int read_stdin(struct outbound *out)
{
    long n;
    do
        n = sk__fd_read(STDIN_FILENO, out->bytes + out->len, sizeof out->bytes - out->len);
    while (n == -EINTR);
    if (n < 0)
        cli_fail("cannot read stdin: %s", sk_strerror((int)n));
    out->len += (size_t)n;
    return n > 0;
}

/* Read keys from the terminal and queue the lines they finish.  Returns
 * 0 at the end of input (Ctrl-D on an empty line, or the terminal hung
 * up). */
static int read_keys(struct outbound *out)
{
    /* Every key read can finish at most its own bytes of line, plus the
     * line typed before it: leave room for both. */
    char keys[sizeof out->bytes - CHAT_INPUT_MAX - 1];
    long n;
    do
        n = sk__fd_read(STDIN_FILENO, keys, sizeof keys);
    while (n == -EINTR);
    if (n < 0) {
        chat_prompt_hide();
        cli_fail("cannot read stdin: %s", sk_strerror((int)n));
    }
    if (n == 0)
        return 0;
    int eof;
    out->len += chat_tty_keys(keys, (size_t)n, out->bytes + out->len,
                              sizeof out->bytes - out->len, &eof);
    return !eof;
}

/* A process started with stdin or stdout closed would get the socket as
 * descriptor 0 or 1, then read its own connection as "stdin" or echo the
 * room back into it.  Park /dev/null there first. */
void chat_keep_standard_fds_open(void)
{
    for (int fd = STDIN_FILENO; fd <= STDOUT_FILENO; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int null_fd = open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY);
        if (null_fd < 0)
            cli_fail("cannot open /dev/null: %s", strerror(errno));
        if (null_fd != fd)
            cli_fail("descriptor %d is closed and cannot be reopened", fd);
    }
}

int chat_loop(sk_socket_t fd)
{
    static struct outbound out;
    int stdin_open = 1, half_closed = 0;
    uint64_t drain_deadline = 0;
    int tty = chat_tty_start();

    for (;;) {
        chat_tty_redraw_if_resumed();
        if (tty && !stdin_open) {
            chat_tty_stop(); /* Ctrl-D: the terminal is the user's again */
            tty = 0;
        }
        if (!stdin_open && out.len == 0 && !half_closed) {
            int rc = sk_shutdown_write(fd);
            if (rc < 0)
                cli_fail("cannot half-close the connection: %s", sk_strerror(rc));
            half_closed = 1;
            drain_deadline = sk_now_ms() + CHAT_DRAIN_MS;
        }
        int timeout_ms = -1;
        if (half_closed) {
            uint64_t now = sk_now_ms();
            if (now >= drain_deadline) {
                chat_tty_stop();
                return 0; /* the server kept the connection open; we are done */
            }
            timeout_ms = (int)(drain_deadline - now);
        }

        struct pollfd fds[2];
        /* Only read stdin when the last piece has gone out (backpressure). */
        fds[0].fd = stdin_open && out.len == 0 ? STDIN_FILENO : -1;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        fds[1].fd = fd;
        fds[1].events = (short)(POLLIN | (out.len > 0 ? POLLOUT : 0));
        fds[1].revents = 0;
        int ready = poll(fds, 2, timeout_ms);
        if (ready != 0 && sk_trace_enabled()) {
            int saved = errno;
            sk_trace_wait("poll", "stdin and the socket", ready >= 0 ? ready : -saved);
            errno = saved;
        }
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            chat_prompt_hide();
            cli_fail("poll failed: %s", strerror(errno));
        }
        if (ready == 0)
            continue; /* the drain deadline is checked at the top */

        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (!chat_relay_from_server(fd)) {
                chat_tty_stop();
                if (!half_closed)
                    cli_warn("server closed the connection");
                return 0;
            }
        }
        if ((fds[1].revents & POLLOUT) && out.len > 0)
            relay_to_server(fd, &out);
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
            stdin_open = tty ? read_keys(&out) : read_stdin(&out);
        if (fds[0].revents & POLLNVAL)
            stdin_open = 0; /* stdin was closed before we started */
    }
}
