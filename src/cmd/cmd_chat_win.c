/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_chat_win.c - `sockit chat`'s loop on Windows (cmd_chat_posix.c on
 * POSIX).
 *
 * WSAPoll waits on sockets only, so a thread reads stdin and sends each
 * piece with blocking writes (the socket's buffers are the backpressure)
 * while the main thread prints what the server sends.  The console's
 * own line editing is used as before: a line from the room printed while
 * the user types still lands in the middle of the typed line (the POSIX
 * client's line editor, cmd_chat_tty.c, is not ported).
 */
#include "cli.h"
#include "cmd_chat.h"
#include "sk_error.h"
#include "sk_sock.h"

#include <stdatomic.h>

/* The console edits the line itself, as it always did (cmd_chat.h):
 * there is no prompt of ours to move out of the way. */
void chat_prompt_hide(void)
{
}

void chat_prompt_show(void)
{
}

void chat_keep_standard_fds_open(void)
{
    /* A Windows socket is never a C runtime descriptor: nothing to park. */
}

struct stdin_pump {
    sk_socket_t fd;
    atomic_int done; /* stdin ended and the connection is half-closed */
};

static void *pump_main(void *arg)
{
    struct stdin_pump *p = arg;
    static char buf[CHAT_BUFFER_BYTES];
    for (;;) {
        long n = sk__fd_read(0, buf, sizeof buf);
        if (n < 0)
            cli_fail("cannot read stdin: %s", sk_strerror((int)n));
        if (n == 0)
            break;
        int rc = sk_send_all(p->fd, buf, (size_t)n);
        if (rc < 0)
            cli_fail("cannot send: %s", sk_strerror(rc));
    }
    int rc = sk_shutdown_write(p->fd);
    if (rc < 0)
        cli_fail("cannot half-close the connection: %s", sk_strerror(rc));
    atomic_store(&p->done, 1);
    return NULL;
}

int chat_loop(sk_socket_t fd)
{
    static struct stdin_pump pump;
    uint64_t drain_deadline = 0;
    pump.fd = fd;
    int rc = sk__thread_start_detached(pump_main, &pump);
    if (rc < 0)
        cli_fail("cannot start the stdin reader: %s", sk_strerror(rc));
    for (;;) {
        int done = atomic_load(&pump.done);
        if (done && drain_deadline == 0)
            drain_deadline = sk_now_ms() + CHAT_DRAIN_MS;
        if (done && sk_now_ms() >= drain_deadline)
            return 0; /* the server kept the connection open; we are done */
        rc = sk__socket_wait(fd, SK_WAIT_READ, 100);
        if (rc < 0)
            cli_fail("poll failed: %s", sk_strerror(rc));
        if (rc > 0 && !chat_relay_from_server(fd)) {
            if (!atomic_load(&pump.done))
                cli_warn("server closed the connection");
            return 0;
        }
    }
}
