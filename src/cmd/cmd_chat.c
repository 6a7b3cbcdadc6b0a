/*
 * cmd_chat.c - `sockit chat HOST PORT`: join a chat server from a terminal
 * or a script.
 *
 * One poll() over stdin and the socket, OpenBSD nc's way: what stdin gives
 * goes to the server, what the server sends is written to stdout as soon
 * as it arrives.  The stdin side has one fixed buffer; while it holds bytes
 * the socket is not yet ready to take, stdin is not polled, so a server
 * that stops reading pushes back on us instead of growing our memory.
 *
 * How it ends:
 *   stdin ends        everything read is sent, then shutdown(SHUT_WR) tells
 *                     the server we are done; its last words are printed
 *                     until it closes, for at most DRAIN_MS; exit 0.
 *   server closes     "server closed the connection" on stderr; exit 0.
 *   connection fails  one line with the reason; exit 1.
 *
 * On Windows poll (WSAPoll) waits on sockets only, so a thread reads stdin
 * and sends each piece with blocking writes (the socket's buffers are the
 * backpressure) while the main thread prints what the server sends.
 */
#include "cli.h"
#include "cli_getopt.h"
#include "sk_addr.h"
#include "sk_error.h"
#include "sk_sock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef _WIN32
#include <stdatomic.h>
#else
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#endif

#define BUFFER_BYTES 16384
#define DRAIN_MS 2000             /* after our half-close, wait this long */
#define DEFAULT_CONNECT_MS 10000

static const char help_text[] =
    "usage: sockit chat HOST PORT [options]\n"
    "\n"
    "Join the chat server at HOST PORT (see 'sockit serve chat').  Each line\n"
    "typed or piped on stdin is sent; every line from the server (the other\n"
    "members' lines, joins and leaves) is printed as it arrives.  At the end\n"
    "of stdin the connection is half-closed and the server's last lines are\n"
    "printed for up to 2 seconds.\n"
    "\n"
    "examples:\n"
    "  sockit serve chat -m thread -p 7777 &\n"
    "  sockit chat 127.0.0.1 7777\n"
    "  printf 'hello\\nbye\\n' | sockit chat ::1 7777\n"
    "\n"
    "options:\n"
    "  -t, --timeout SEC   give up connecting after SEC seconds (default 10)\n"
    "  -h, --help          this text\n";

/* Data read from stdin and not yet taken by the socket. */
struct outbound {
    char bytes[BUFFER_BYTES];
    size_t len;
};

/* Write all of buf to stdout, or exit: a reader that went away (EPIPE)
 * is as final as a full disk. */
static void print_all(const char *buf, size_t len)
{
    while (len > 0) {
        long n = sk_fd_write(1, buf, len);
        if (n < 0) {
            if (n == -EINTR)
                continue;
            cli_fail("cannot write to stdout: %s", sk_strerror((int)n));
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* Receive once and print it.  Returns 1 while the connection is open, 0
 * when the server has closed it. */
static int relay_from_server(sk_socket_t fd)
{
    char buf[BUFFER_BYTES];
    long n = sk_recv_some(fd, buf, sizeof buf);
    if (n < 0) {
        if (sk_error_would_block((int)n))
            return 1;
        cli_fail("connection lost: %s", sk_strerror((int)n));
    }
    if (n == 0)
        return 0;
    print_all(buf, (size_t)n);
    return 1;
}

#ifdef _WIN32
struct stdin_pump {
    sk_socket_t fd;
    atomic_int done; /* stdin ended and the connection is half-closed */
};

static void *pump_main(void *arg)
{
    struct stdin_pump *p = arg;
    static char buf[BUFFER_BYTES];
    for (;;) {
        long n = sk_fd_read(0, buf, sizeof buf);
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

static int chat_loop(sk_socket_t fd)
{
    static struct stdin_pump pump;
    uint64_t drain_deadline = 0;
    pump.fd = fd;
    int rc = sk_thread_start_detached(pump_main, &pump);
    if (rc < 0)
        cli_fail("cannot start the stdin reader: %s", sk_strerror(rc));
    for (;;) {
        int done = atomic_load(&pump.done);
        if (done && drain_deadline == 0)
            drain_deadline = sk_now_ms() + DRAIN_MS;
        if (done && sk_now_ms() >= drain_deadline)
            return 0; /* the server kept the connection open; we are done */
        rc = sk_socket_wait(fd, SK_WAIT_READ, 100);
        if (rc < 0)
            cli_fail("poll failed: %s", sk_strerror(rc));
        if (rc > 0 && !relay_from_server(fd)) {
            if (!atomic_load(&pump.done))
                cli_warn("server closed the connection");
            return 0;
        }
    }
}
#else
/* Send what the socket takes now without blocking; keep the rest. */
static void relay_to_server(sk_socket_t fd, struct outbound *out)
{
    long n = (long)send(fd, out->bytes, out->len, SK_MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
        int rc = sk_socket_error();
        if (rc == -EINTR || sk_error_would_block(rc))
            return;
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
        n = sk_fd_read(STDIN_FILENO, out->bytes + out->len, sizeof out->bytes - out->len);
    while (n == -EINTR);
    if (n < 0)
        cli_fail("cannot read stdin: %s", sk_strerror((int)n));
    out->len += (size_t)n;
    return n > 0;
}

/* A process started with stdin or stdout closed would get the socket as
 * descriptor 0 or 1, then read its own connection as "stdin" or echo the
 * room back into it.  Park /dev/null there first. */
static void keep_standard_fds_open(void)
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

static int chat_loop(sk_socket_t fd)
{
    static struct outbound out;
    int stdin_open = 1, half_closed = 0;
    uint64_t drain_deadline = 0;

    for (;;) {
        if (!stdin_open && out.len == 0 && !half_closed) {
            int rc = sk_shutdown_write(fd);
            if (rc < 0)
                cli_fail("cannot half-close the connection: %s", sk_strerror(rc));
            half_closed = 1;
            drain_deadline = sk_now_ms() + DRAIN_MS;
        }
        int timeout_ms = -1;
        if (half_closed) {
            uint64_t now = sk_now_ms();
            if (now >= drain_deadline)
                return 0; /* the server kept the connection open; we are done */
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
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            cli_fail("poll failed: %s", strerror(errno));
        }
        if (ready == 0)
            continue; /* the drain deadline is checked at the top */

        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (!relay_from_server(fd)) {
                if (!half_closed)
                    cli_warn("server closed the connection");
                return 0;
            }
        }
        if ((fds[1].revents & POLLOUT) && out.len > 0)
            relay_to_server(fd, &out);
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
            stdin_open = read_stdin(&out);
        if (fds[0].revents & POLLNVAL)
            stdin_open = 0; /* stdin was closed before we started */
    }
}

#endif

int cmd_chat(int argc, char **argv)
{
    static const struct option options[] = {
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int connect_ms = DEFAULT_CONNECT_MS;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "t:h", options, NULL)) != -1) {
        switch (c) {
        case 't':
            connect_ms = cli_parse_seconds_ms(optarg, "--timeout");
            if (connect_ms <= 0)
                cli_usage_error("--timeout must be more than 0 seconds");
            break;
        case 'h': cli_help(help_text);
        default: cli_bad_option(argc, argv);
        }
    }
    if (argc - optind < 2)
        cli_usage_error(argc - optind == 0 ? "missing HOST and PORT" : "missing PORT");
    const char *host = argv[optind], *port = argv[optind + 1];
    if (argc - optind > 2)
        cli_usage_error("unexpected argument '%s'", argv[optind + 2]);
    if (*host == '\0')
        cli_usage_error("empty HOST");
    if (sk_port_parse(port, SOCK_STREAM) <= 0)
        cli_usage_error("invalid port '%s' (expected 1-65535 or a service name)", port);

#ifndef _WIN32
    keep_standard_fds_open();
#endif
    sk_socket_t fd;
    int rc = sk_connect(host, port, SOCK_STREAM, connect_ms, &fd);
    if (rc < 0)
        cli_fail("cannot connect to %s port %s: %s", host, port, sk_strerror(rc));
    rc = chat_loop(fd);
    sk_socket_close(fd);
    return rc;
}
