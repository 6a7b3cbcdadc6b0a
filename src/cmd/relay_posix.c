/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * relay_posix.c - the copy loop of `sockit connect`/`listen` on POSIX
 * (relay_win.c on Windows), and --exec's process.
 *
 * The shape is OpenBSD nc's readwrite(): one poll() over standard input,
 * standard output and the socket, one buffer each way.  A side is polled
 * only while its buffer can take more (input) or holds something (output),
 * so a stalled peer or a stalled reader of our output pushes back instead
 * of growing memory, and nothing ever blocks: the socket is non-blocking,
 * standard input is read only after poll() says it is readable (a read
 * then returns what is there), and standard output, which we must not
 * make non-blocking (its open file may be shared with the shell), is
 * written in pieces of at most PIPE_BUF bytes when it is a pipe or a
 * socket - a piece that size always fits once poll() says "writable".
 */
#include "relay.h"
#include "cli.h"
#include "sk_error.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RELAY_BUFFER (64 * 1024)
/* The largest UDP payload (IPv4's 65,535 less its headers). */
#define DATAGRAM_MAX 65507

/* Bytes at data[off, off + len); room is made at the end by moving them
 * to the front only when the tail is too short, so a buffer drained in
 * small pieces (PIPE_BUF writes) costs no copying per piece. */
struct buffer {
    char data[2 * RELAY_BUFFER];
    size_t off, len;
};

static size_t room(struct buffer *b, size_t want)
{
    size_t tail = sizeof b->data - b->off - b->len;
    if (tail < want && b->off > 0) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
        tail = sizeof b->data - b->len;
    }
    return tail;
}

static void consume(struct buffer *b, size_t n)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0)
        b->off = 0;
}

/* End of standard input is for the whole process: `listen -k` hands a
 * second connection an input that has already ended. */
static int input_ended;

static int stopped(const struct relay_options *opt)
{
    return opt->stop != NULL && *opt->stop;
}

/* Whether writes to fd must be cut to PIPE_BUF to never block. */
static int writes_may_block(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return 1;
    return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode);
}

static int finish(struct relay_result *out, enum relay_end end, int code)
{
    out->end = end;
    out->code = code;
    return 1;
}

static void relay_loop(sk_socket_t s, const struct relay_options *opt, struct relay_result *out,
                       const sigset_t *unheld_mask);

void relay_run(sk_socket_t s, const struct relay_options *opt, struct relay_result *out)
{
    memset(out, 0, sizeof *out);
    int rc = sk__socket_set_nonblocking(s, 1);
    if (rc < 0) {
        finish(out, RELAY_NET_ERROR, rc);
        return;
    }
    sigset_t held, unheld;
    sigemptyset(&held);
    sigaddset(&held, SIGINT);
    sigaddset(&held, SIGTERM);
    sigprocmask(SIG_BLOCK, &held, &unheld);
    relay_loop(s, opt, out, &unheld);
    sigprocmask(SIG_SETMASK, &unheld, NULL);
}

static void relay_loop(sk_socket_t s, const struct relay_options *opt, struct relay_result *out,
                       const sigset_t *unheld_mask)
{
    static struct buffer to_net, to_out;
    const sigset_t unheld = *unheld_mask;
    int rc;
    to_net.off = to_net.len = to_out.off = to_out.len = 0;

    int in_open = !input_ended, net_in_open = 1, shut = 0, quitting = 0;
    int input_is_tty = isatty(0);
    size_t out_piece = writes_may_block(1) ? PIPE_BUF : RELAY_BUFFER;
    uint64_t now = sk_now_ms(), last_data = now, quit_at = 0;
    int quit_armed = 0;

    for (;;) {
        /* Everything read from standard input has gone: half-close (a
         * stream) and start -q's clock. */
        if (!in_open && to_net.len == 0) {
            if (!opt->udp && !opt->no_shutdown && !shut) {
                shut = 1;
                rc = sk_shutdown_write(s);
                /* ENOTCONN: the peer has already gone; its reset, if any,
                 * is for the reads below to report. */
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
        if (quit_armed && now >= quit_at && !quitting) {
            quitting = 1; /* read no more; write out what came */
            net_in_open = 0;
        }
        if (!net_in_open && to_out.len == 0) {
            if (quitting) {
                finish(out, RELAY_QUIT, 0);
                return;
            }
            if ((!in_open && to_net.len == 0) || input_is_tty) {
                finish(out, RELAY_CLOSED, 0);
                return;
            }
        }
        /* ppoll() runs a held signal's handler only when it sleeps: while
         * data streams it returns at once and leaves the signal pending. */
        sigset_t pending;
        if (sigpending(&pending) == 0 &&
            (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1)) {
            finish(out, RELAY_STOPPED, 0);
            return;
        }
        if (stopped(opt)) {
            finish(out, RELAY_STOPPED, 0);
            return;
        }

        struct pollfd pfd[3];
        size_t in_want = opt->udp ? DATAGRAM_MAX : RELAY_BUFFER;
        size_t net_want = opt->udp ? DATAGRAM_MAX + 1 : RELAY_BUFFER;
        int want_stdin = in_open && (opt->udp ? to_net.len == 0 : to_net.len < RELAY_BUFFER);
        int want_net_in = net_in_open && sizeof to_out.data - to_out.len >= net_want;
        pfd[0].fd = want_stdin ? 0 : -1;
        pfd[0].events = POLLIN;
        pfd[1].fd = to_out.len > 0 ? 1 : -1;
        pfd[1].events = POLLOUT;
        pfd[2].fd = want_net_in || to_net.len > 0 ? s : -1;
        pfd[2].events = (short)((want_net_in ? POLLIN : 0) | (to_net.len > 0 ? POLLOUT : 0));

        int timeout = -1;
        if (opt->idle_ms > 0) {
            uint64_t end = last_data + (uint64_t)opt->idle_ms;
            timeout = end > now ? (int)(end - now) : 0;
        }
        if (quit_armed && !quitting) {
            int q = quit_at > now ? (int)(quit_at - now) : 0;
            if (timeout < 0 || q < timeout)
                timeout = q;
        }
        /* SIGINT and SIGTERM are let through only inside ppoll(): one that
         * comes between the look at opt->stop above and the wait would
         * otherwise be seen only when data next moves. */
        struct timespec ts, *tsp = NULL;
        if (timeout >= 0) {
            ts.tv_sec = timeout / 1000;
            ts.tv_nsec = (long)(timeout % 1000) * 1000000L;
            tsp = &ts;
        }
        int n = ppoll(pfd, 3, tsp, &unheld);
        now = sk_now_ms();
        if (n < 0) {
            if (errno == EINTR)
                continue;
            finish(out, RELAY_IO_ERROR, sk_error_last());
            return;
        }

        /* Standard input into to_net. */
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
            size_t cap = room(&to_net, in_want);
            if (cap > in_want)
                cap = in_want;
            ssize_t r = (pfd[0].revents & POLLNVAL) ? 0
                        : read(0, to_net.data + to_net.off + to_net.len, cap);
            if (r > 0) {
                to_net.len += (size_t)r;
                last_data = now;
            } else if (r == 0) {
                in_open = 0;
                input_ended = 1;
            } else if (errno != EINTR && errno != EAGAIN) {
                finish(out, RELAY_IO_ERROR, sk_error_last());
                return;
            }
        }

        /* to_net onto the socket: a stream takes what fits, a datagram
         * goes whole or not at all. */
        if (to_net.len > 0 && (pfd[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            long w = (long)send(s, to_net.data + to_net.off, to_net.len,
                                SK_MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w >= 0) {
                out->sent += (uint64_t)w;
                consume(&to_net, opt->udp ? to_net.len : (size_t)w);
                last_data = now;
            } else {
                rc = sk__socket_error();
                if (rc != -EINTR && !sk__error_would_block(rc)) {
                    finish(out, RELAY_NET_ERROR, rc);
                    return;
                }
            }
        }

        /* The socket into to_out; a stream's 0 is the peer's FIN, a
         * datagram's 0 is an empty datagram. */
        if (want_net_in && (pfd[2].revents & (POLLIN | POLLERR | POLLHUP))) {
            size_t cap = room(&to_out, net_want);
            long r = (long)recv(s, to_out.data + to_out.off + to_out.len, cap, MSG_DONTWAIT);
            if (r > 0) {
                to_out.len += (size_t)r;
                out->received += (uint64_t)r;
                last_data = now;
            } else if (r == 0 && !opt->udp) {
                net_in_open = 0;
            } else if (r < 0) {
                rc = sk__socket_error();
                if (rc != -EINTR && !sk__error_would_block(rc)) {
                    finish(out, RELAY_NET_ERROR, rc);
                    return;
                }
            }
        }

        /* to_out onto standard output. */
        if (to_out.len > 0 && (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))) {
            size_t len = to_out.len < out_piece ? to_out.len : out_piece;
            ssize_t w = write(1, to_out.data + to_out.off, len);
            if (w > 0) {
                consume(&to_out, (size_t)w);
                last_data = now;
            } else if (w < 0 && errno == EPIPE) {
                finish(out, RELAY_OUTPUT_GONE, 0);
                return;
            } else if (w < 0 && errno != EINTR && errno != EAGAIN) {
                finish(out, RELAY_IO_ERROR, sk_error_last());
                return;
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
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return sk_error_last();
    if (pid == 0) {
        /* The connection becomes standard input and output (dup2 clears
         * close-on-exec on the copies); the program gets the default
         * SIGPIPE back, which sockit ignores and exec would keep. */
        if (dup2(s, 0) < 0 || dup2(s, 1) < 0)
            _exit(126);
        if (s > 1)
            close(s);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execvp(argv[0], argv);
        fprintf(stderr, "%s: cannot run '%s': %s\n", cli_prog, argv[0], strerror(errno));
        _exit(127);
    }
    sk_socket_close(s);
    int status, signalled = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, 0);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return sk_error_last();
        if (stop != NULL && *stop && !signalled) {
            kill(pid, SIGTERM); /* a stop ends the program too */
            signalled = 1;
        }
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
