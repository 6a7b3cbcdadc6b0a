/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compat_posix.c - sk_compat.h for Linux and other POSIX systems: start-up,
 * sockets (non-blocking mode, errors, sends that never block, datagrams in
 * batches, sendfile, splice), waiting on one socket, the clocks and broken-down
 * time, and the socket, address and path differences the layers above
 * would otherwise test _WIN32 for.
 *
 * The rest of the POSIX half, with the same interface:
 *   compat_posix_file.c  C runtime descriptors, files and paths, and the
 *                        file service's confined open
 *   compat_posix_proc.c  threads, locks, condition variables, signals,
 *                        processes and pipes
 */
#include "sk_compat.h"
#include "sk_error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#ifdef __linux__
#include <linux/sockios.h>
#include <sys/sendfile.h>
#endif
#include <time.h>
#include <unistd.h>

int sk_compat_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return sk_error_last();
    return 0;
}

int sk_socket_close(sk_socket_t s)
{
    /* close() on Linux releases the descriptor even when it reports EINTR,
     * so it must never be retried. */
    if (close(s) != 0 && errno != EINTR)
        return sk_error_last();
    return 0;
}

int sk__socket_set_nonblocking(sk_socket_t s, int on)
{
    int flags = fcntl(s, F_GETFL);
    if (flags < 0)
        return sk_error_last();
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    if (fcntl(s, F_SETFL, flags) != 0)
        return sk_error_last();
    return 0;
}

int sk__socket_error(void)
{
    return sk_error_last();
}

int sk__error_would_block(int code)
{
    return code == -EAGAIN || code == -EWOULDBLOCK;
}

int sk__socket_error_from(int oserr)
{
    return sk_error_from_errno(oserr);
}

long sk__send_nowait(sk_socket_t s, const void *buf, size_t len)
{
    for (;;) {
        long n = (long)send(s, buf, len, SK_MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return sk_error_last();
    }
}

long sk__send_vec(sk_socket_t s, const struct iovec *iov, int count)
{
    ssize_t n = writev(s, iov, count);
    return n < 0 ? sk_error_last() : (long)n;
}

#define BATCH_MAX 64

#ifdef __linux__
/* One mmsghdr per datagram, over its buffer: all cap bytes to receive
 * into, or the len bytes to send. */
static void batch_headers(struct mmsghdr *msgs, struct iovec *iov, const struct sk__dgram *d,
                          int n, int receiving)
{
    memset(msgs, 0, sizeof msgs[0] * (size_t)n);
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = d[i].data;
        iov[i].iov_len = receiving ? d[i].cap : d[i].len;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = (void *)&d[i].addr;
        msgs[i].msg_hdr.msg_namelen = receiving ? sizeof d[i].addr : d[i].addrlen;
    }
}
#endif

int sk__recv_batch(sk_socket_t s, struct sk__dgram *d, int n)
{
#ifdef __linux__
    struct mmsghdr msgs[BATCH_MAX];
    struct iovec iov[BATCH_MAX];
    if (n > BATCH_MAX)
        n = BATCH_MAX;
    batch_headers(msgs, iov, d, n, 1);
    int got;
    do
        got = recvmmsg(s, msgs, (unsigned)n, MSG_DONTWAIT | MSG_TRUNC, NULL);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        return sk_error_last();
    for (int i = 0; i < got; i++) {
        d[i].len = msgs[i].msg_len;
        d[i].truncated = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || d[i].len > d[i].cap;
        if (d[i].len > d[i].cap)
            d[i].len = d[i].cap;
        d[i].addrlen = msgs[i].msg_hdr.msg_namelen;
    }
    return got;
#else
    int got = 0;
    while (got < n) {
        d[got].addrlen = sizeof d[got].addr;
        ssize_t len = recvfrom(s, d[got].data, d[got].cap, MSG_DONTWAIT | MSG_TRUNC,
                               (struct sockaddr *)&d[got].addr, &d[got].addrlen);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            return got > 0 ? got : sk_error_last();
        }
        d[got].truncated = (size_t)len > d[got].cap;
        d[got].len = d[got].truncated ? d[got].cap : (size_t)len;
        got++;
    }
    return got;
#endif
}

int sk__send_batch(sk_socket_t s, const struct sk__dgram *d, int n)
{
#ifdef __linux__
    struct mmsghdr msgs[BATCH_MAX];
    struct iovec iov[BATCH_MAX];
    if (n > BATCH_MAX)
        n = BATCH_MAX;
    batch_headers(msgs, iov, d, n, 0);
    int sent;
    do
        sent = sendmmsg(s, msgs, (unsigned)n, MSG_DONTWAIT | SK_MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    return sent < 0 ? sk_error_last() : sent;
#else
    for (int i = 0; i < n; i++) {
        if (sendto(s, d[i].data, d[i].len, MSG_DONTWAIT | SK_MSG_NOSIGNAL,
                   (const struct sockaddr *)&d[i].addr, d[i].addrlen) < 0) {
            if (errno == EINTR) {
                i--;
                continue;
            }
            return i > 0 ? i : sk_error_last();
        }
    }
    return n;
#endif
}

int sk__send_vec_batch(sk_socket_t s, const struct iovec *iov, int per_msg, int n)
{
#ifdef __linux__
    struct mmsghdr msgs[BATCH_MAX];
    if (n > BATCH_MAX)
        n = BATCH_MAX;
    memset(msgs, 0, sizeof msgs[0] * (size_t)n);
    for (int i = 0; i < n; i++) {
        msgs[i].msg_hdr.msg_iov = (struct iovec *)&iov[i * per_msg];
        msgs[i].msg_hdr.msg_iovlen = (size_t)per_msg;
    }
    int sent;
    do
        sent = sendmmsg(s, msgs, (unsigned)n, MSG_DONTWAIT | SK_MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    return sent < 0 ? sk_error_last() : sent;
#else
    for (int i = 0; i < n; i++) {
        long r = sk__send_vec(s, &iov[i * per_msg], per_msg);
        if (r < 0)
            return i > 0 ? i : (int)r;
    }
    return n;
#endif
}

long sk__send_file(sk_socket_t s, int fd, int64_t offset, size_t len)
{
#ifdef __linux__
    /* -EINTR goes back to the caller, which may be stopping. */
    off_t off = (off_t)offset;
    ssize_t n = sendfile(s, fd, &off, len);
    if (n > 0)
        return (long)n;
    if (n == 0)
        return len == 0 ? 0 : SK_ESHORT; /* the file ended */
    if (errno == EINVAL || errno == ENOSYS)
        return SK_EUNSUPPORTED; /* not a file sendfile can read */
    return sk_error_last();
#else
    (void)s, (void)fd, (void)offset, (void)len;
    return SK_EUNSUPPORTED;
#endif
}

#ifdef __linux__ /* splice() is Linux's; this file is built for Linux only (sources.txt) */
int sk__splice_pipe_open(struct sk__splice_pipe *p, size_t size)
{
    int fds[2];
    p->rd = p->wr = -1;
    p->size = 0;
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return sk_error_last();
    /* Past /proc/sys/fs/pipe-max-size an unprivileged process is refused:
     * the default (16 pages) then serves, in smaller moves. */
    int got = size <= (size_t)INT_MAX ? fcntl(fds[1], F_SETPIPE_SZ, (int)size) : -1;
    if (got < 0)
        got = fcntl(fds[1], F_GETPIPE_SZ);
    if (got <= 0) {
        int rc = sk_error_last();
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    p->rd = fds[0];
    p->wr = fds[1];
    p->size = (size_t)got;
    return 0;
}

void sk__splice_pipe_close(struct sk__splice_pipe *p)
{
    if (p->size > 0) { /* open: a zeroed one never was */
        close(p->rd);
        close(p->wr);
    }
    p->rd = p->wr = -1;
    p->size = 0;
}

long sk__splice_in(struct sk__splice_pipe *p, sk_socket_t s, size_t len)
{
    ssize_t n = splice(s, NULL, p->wr, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n >= 0)
        return (long)n;
    int rc = sk_error_last();
    if (rc == -EINVAL)
        return SK_EUNSUPPORTED; /* a socket splice cannot read */
    /* TCP's splice stops at the urgent mark (MSG_OOB) and never steps
     * over it: would-block for ever, while poll says readable.  recv()
     * steps over it. */
    int at_mark = 0;
    if (sk__error_would_block(rc) && ioctl(s, SIOCATMARK, &at_mark) == 0 && at_mark)
        return SK_EUNSUPPORTED;
    return rc;
}

long sk__splice_out(struct sk__splice_pipe *p, sk_socket_t s, size_t len)
{
    ssize_t n = splice(p->rd, NULL, s, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    return n >= 0 ? (long)n : sk_error_last();
}

int sk__splice_take(struct sk__splice_pipe *p, void *buf, size_t len)
{
    uint8_t *at = buf;
    while (len > 0) {
        ssize_t n = read(p->rd, at, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? sk_error_last() : SK_ESHORT;
        at += n;
        len -= (size_t)n;
    }
    return 0;
}
#endif

sk_socket_t sk__spare_open(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

long sk__descriptor_limit(void)
{
    return sysconf(_SC_OPEN_MAX);
}

int sk__gmtime(time_t t, struct tm *out)
{
    return gmtime_r(&t, out) ? 0 : -EOVERFLOW;
}

int sk__localtime(time_t t, struct tm *out)
{
    return localtime_r(&t, out) ? 0 : -EOVERFLOW;
}

int sk__cpu_times(double *user_s, double *system_s)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return sk_error_last();
    *user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *system_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return 0;
}

int sk__socket_wait(sk_socket_t s, int what, int timeout_ms)
{
    struct pollfd p = { .fd = s, .events = 0, .revents = 0 };
    if (what & SK_WAIT_READ)
        p.events |= POLLIN;
    if (what & SK_WAIT_WRITE)
        p.events |= POLLOUT;
    int n = poll(&p, 1, timeout_ms);
    if (n < 0)
        return sk_error_last();
    return n;
}

uint64_t sk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sk__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sk__sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

void sk__sleep_us(int us)
{
    struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000L };
    nanosleep(&ts, NULL);
}

/* The platform differences of sockets, addresses and paths that the
 * layers above would otherwise test _WIN32 for (sk_compat.h). */

static int set_int_option(sk_socket_t s, int level, int name, int value)
{
    if (setsockopt(s, level, name, &value, sizeof value) != 0)
        return sk__socket_error();
    return 0;
}

#if defined(__linux__) && defined(TCP_INFO)
/* glibc's struct tcp_info stops at tcpi_total_retrans; the kernel's goes
 * on (its layout only ever grows), and bytes_acked and bytes_received
 * (Linux 4.1) come right after the two pacing rates. */
struct kernel_tcp_info {
    struct tcp_info base;
    uint64_t pacing_rate, max_pacing_rate;
    uint64_t bytes_acked, bytes_received;
};

static const char *tcp_state_name(int state)
{
    static const char *const names[] = {
        "?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
        "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV",
    };
    return state > 0 && state < (int)(sizeof names / sizeof names[0]) ? names[state] : "?";
}

int sk__tcp_info(sk_socket_t s, struct sk__tcp_info *out)
{
    struct kernel_tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return sk_error_last();
    out->state = tcp_state_name(ti.base.tcpi_state);
    out->rtt_us = ti.base.tcpi_rtt;
    out->rttvar_us = ti.base.tcpi_rttvar;
    out->cwnd = ti.base.tcpi_snd_cwnd;
    out->retrans = ti.base.tcpi_total_retrans;
    out->unacked = ti.base.tcpi_unacked;
    int full = len >= offsetof(struct kernel_tcp_info, bytes_received) + sizeof(uint64_t);
    out->bytes_acked = full ? ti.bytes_acked : UINT64_MAX;
    out->bytes_received = full ? ti.bytes_received : UINT64_MAX;
    int queued = 0;
    out->sendq = ioctl(s, SIOCOUTQ, &queued) == 0 ? queued : -1;
    out->recvq = ioctl(s, SIOCINQ, &queued) == 0 ? queued : -1;
    return 0;
}
#else
int sk__tcp_info(sk_socket_t s, struct sk__tcp_info *out)
{
    (void)s, (void)out;
    return SK_ENOTAVAIL;
}
#endif

int sk__socket_reuse_addr(sk_socket_t s, int socktype)
{
    /* Only streams have TIME_WAIT.  On a datagram socket Linux reads
     * SO_REUSEADDR as "share this port": a second server bound to it,
     * even one given port 0, would silently take the first one's
     * datagrams. */
    if (socktype != SOCK_STREAM)
        return 0;
    return set_int_option(s, SOL_SOCKET, SO_REUSEADDR, 1);
}

void sk__socket_udp_ignore_resets(sk_socket_t s)
{
    (void)s; /* a POSIX recvfrom() reports no earlier reply's ICMP error */
}

static int set_timeout(sk_socket_t s, int name, int ms)
{
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    if (setsockopt(s, SOL_SOCKET, name, &tv, sizeof tv) != 0)
        return sk__socket_error();
    return 0;
}

int sk_set_timeouts(sk_socket_t s, int recv_ms, int send_ms)
{
    int rc = 0;
    if (recv_ms >= 0)
        rc = set_timeout(s, SO_RCVTIMEO, recv_ms);
    if (rc == 0 && send_ms >= 0)
        rc = set_timeout(s, SO_SNDTIMEO, send_ms);
    return rc;
}

int sk__poll(struct pollfd *fds, unsigned n, int timeout_ms)
{
    int ready = poll(fds, (nfds_t)n, timeout_ms);
    return ready < 0 ? sk__socket_error() : ready;
}

unsigned sk__if_nametoindex(const char *name)
{
    return if_nametoindex(name);
}

int sk__inet_aton(const char *text, struct in_addr *out)
{
    return inet_aton(text, out) != 0;
}

const char *sk__path_last_separator(const char *path)
{
    return strrchr(path, '/');
}
