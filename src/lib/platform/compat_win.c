/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compat_win.c - sk_compat.h for Windows (Winsock 2.2, Windows 7 or later):
 * start-up, sockets, the clock and broken-down time, and the socket,
 * address and path differences the layers above would otherwise test
 * _WIN32 for.  compat_win_file.c holds the descriptors and files,
 * compat_win_proc.c the threads, locks and console events.
 *
 * What differs from POSIX, and how the Windows half answers it:
 *
 * - Sockets are SOCKET handles, closed with closesocket(); the last socket
 *   error comes from WSAGetLastError() and lands in sockit's Winsock range
 *   (-10000 - code, named "WSAECONNRESET").  C runtime and file errors are
 *   errno values, as on POSIX.
 * - There are no signals to interrupt a blocking call.  A console Ctrl-C,
 *   Ctrl-Break or close event runs the handler on a thread of its own; it
 *   sets the flags sk__signal_set_flag() registered for SIGINT and SIGTERM,
 *   and the models notice them within a fraction of a second because every
 *   wait they do is bounded.  (compat_win_proc.c)
 * - Threads are _beginthreadex() threads (the C runtime's own, so its
 *   per-thread state is set up); locks are SRW locks with condition
 *   variables, which need no destruction and never fail to initialise.
 *   (compat_win_proc.c)
 * - The clock is QueryPerformanceCounter, monotonic like CLOCK_MONOTONIC.
 * - Standard input and output are switched to binary mode, so file data
 *   and protocol lines pass through without CR/LF translation.
 * - Files are C runtime descriptors over Win32 handles (_open_osfhandle),
 *   so the file service and the get client keep one type on both systems.
 *   (compat_win_file.c)
 */
#include "sk_compat.h"
#include "sk_error.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <iphlpapi.h> /* if_nametoindex (link with iphlpapi) */
#include <stdlib.h>
#include <string.h>

static void cleanup_winsock(void)
{
    WSACleanup();
}

int sk_compat_init(void)
{
    static int started;
    if (started)
        return 0;
    WSADATA data;
    int rc = WSAStartup(MAKEWORD(2, 2), &data);
    if (rc != 0)
        return sk_error_from_wsa(rc);
    started = 1;
    atexit(cleanup_winsock);
    _setmode(0, _O_BINARY);
    _setmode(1, _O_BINARY);
    _setmode(2, _O_BINARY);
    return 0;
}

/* ---- sockets ---------------------------------------------------------- */

int sk_socket_close(sk_socket_t s)
{
    if (closesocket(s) != 0)
        return sk__socket_error();
    return 0;
}

int sk__socket_set_nonblocking(sk_socket_t s, int on)
{
    u_long mode = on ? 1 : 0;
    if (ioctlsocket(s, FIONBIO, &mode) != 0)
        return sk__socket_error();
    return 0;
}

int sk__socket_error(void)
{
    return sk_error_from_wsa(WSAGetLastError());
}

int sk__socket_error_from(int oserr)
{
    return sk_error_from_wsa(oserr);
}

int sk__error_would_block(int code)
{
    return code == SK_WSA_BASE - WSAEWOULDBLOCK || code == -EAGAIN || code == -EWOULDBLOCK;
}

int sk__socket_wait(sk_socket_t s, int what, int timeout_ms)
{
    WSAPOLLFD p;
    p.fd = s;
    p.events = 0;
    p.revents = 0;
    if (what & SK_WAIT_READ)
        p.events |= POLLRDNORM;
    if (what & SK_WAIT_WRITE)
        p.events |= POLLWRNORM;
    int n = WSAPoll(&p, 1, timeout_ms);
    if (n < 0)
        return sk__socket_error();
    return n;
}

/* A blocking socket cannot be asked not to block for one call (there is
 * no MSG_DONTWAIT, and FIONBIO would change it under a thread blocked in
 * recv()), so send only once it is writable.  Windows takes a whole send
 * into its buffers once there is any room, so this does not block. */
long sk__send_nowait(sk_socket_t s, const void *buf, size_t len)
{
    int rc = sk__socket_wait(s, SK_WAIT_WRITE, 0);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return SK_WSA_BASE - WSAEWOULDBLOCK;
    int chunk = len > (size_t)INT_MAX ? INT_MAX : (int)len;
    int n = send(s, (const char *)buf, chunk, 0);
    return n < 0 ? sk__socket_error() : (long)n;
}

int sk__recv_batch(sk_socket_t s, struct sk__dgram *d, int n)
{
    int got = 0;
    while (got < n) {
        u_long waiting = 0;
        if (got > 0 && (ioctlsocket(s, FIONREAD, &waiting) != 0 || waiting == 0))
            break; /* Winsock sockets here may block: only take what is there */
        d[got].addrlen = (int)sizeof d[got].addr;
        int len = recvfrom(s, (char *)d[got].data, (int)d[got].cap, 0,
                           (struct sockaddr *)&d[got].addr, &d[got].addrlen);
        if (len < 0) {
            int rc = sk__socket_error();
            /* Winsock fails a datagram longer than the buffer instead of
             * cutting it: it was truncated. */
            if (sk_error_is(rc, EMSGSIZE)) {
                d[got].truncated = 1;
                d[got].len = d[got].cap;
                got++;
                continue;
            }
            return got > 0 ? got : rc;
        }
        d[got].truncated = 0;
        d[got].len = (size_t)len;
        got++;
    }
    return got;
}

int sk__send_batch(sk_socket_t s, const struct sk__dgram *d, int n)
{
    for (int i = 0; i < n; i++) {
        if (sendto(s, (const char *)d[i].data, (int)d[i].len, 0,
                   (const struct sockaddr *)&d[i].addr, d[i].addrlen) < 0)
            return i > 0 ? i : sk__socket_error();
    }
    return n;
}

int sk__send_vec_batch(sk_socket_t s, const struct iovec *iov, int per_msg, int n)
{
    for (int i = 0; i < n; i++) {
        long r = sk__send_vec(s, &iov[i * per_msg], per_msg);
        if (r < 0)
            return i > 0 ? i : (int)r;
    }
    return n;
}

/* TransmitFile() would do this on Windows but wants the socket to itself
 * and a file HANDLE; the file service reads and sends instead. */
long sk__send_file(sk_socket_t s, int fd, int64_t offset, size_t len)
{
    (void)s, (void)fd, (void)offset, (void)len;
    return SK_EUNSUPPORTED;
}

/* Windows has no splice(): the echo copies through user memory. */
int sk__splice_pipe_open(struct sk__splice_pipe *p, size_t size)
{
    (void)size;
    p->rd = p->wr = -1;
    p->size = 0;
    return SK_EUNSUPPORTED;
}

void sk__splice_pipe_close(struct sk__splice_pipe *p)
{
    p->rd = p->wr = -1;
}

long sk__splice_in(struct sk__splice_pipe *p, sk_socket_t s, size_t len)
{
    (void)p, (void)s, (void)len;
    return SK_EUNSUPPORTED;
}

long sk__splice_out(struct sk__splice_pipe *p, sk_socket_t s, size_t len)
{
    (void)p, (void)s, (void)len;
    return SK_EUNSUPPORTED;
}

int sk__splice_take(struct sk__splice_pipe *p, void *buf, size_t len)
{
    (void)p, (void)buf, (void)len;
    return SK_EUNSUPPORTED;
}

long sk__send_vec(sk_socket_t s, const struct iovec *iov, int count)
{
    WSABUF bufs[64];
    DWORD sent = 0;
    if (count > 64)
        count = 64;
    for (int i = 0; i < count; i++) {
        bufs[i].buf = (char *)iov[i].iov_base;
        bufs[i].len = (ULONG)iov[i].iov_len;
    }
    if (WSASend(s, bufs, (DWORD)count, &sent, 0, NULL, NULL) != 0)
        return sk__socket_error();
    return (long)sent;
}

sk_socket_t sk__spare_open(void)
{
    return socket(AF_INET, SOCK_DGRAM, 0);
}

/* Socket handles are numbered in steps of 4 from the lowest free slot of
 * the process's handle table; 2^18 covers 65536 open handles. */
long sk__descriptor_limit(void)
{
    return 1L << 18;
}

/* ---- time ------------------------------------------------------------- */

static uint64_t counter_frequency(void)
{
    static uint64_t freq;
    if (freq == 0) {
        LARGE_INTEGER f;
        QueryPerformanceFrequency(&f);
        freq = (uint64_t)f.QuadPart;
    }
    return freq;
}

uint64_t sk__now_ns(void)
{
    LARGE_INTEGER c;
    QueryPerformanceCounter(&c);
    uint64_t ticks = (uint64_t)c.QuadPart, freq = counter_frequency();
    return ticks / freq * 1000000000u + ticks % freq * 1000000000u / freq;
}

uint64_t sk_now_ms(void)
{
    return sk__now_ns() / 1000000u;
}

void sk__sleep_ms(int ms)
{
    Sleep(ms > 0 ? (DWORD)ms : 0);
}

void sk__sleep_us(int us)
{
    Sleep(us > 0 ? (DWORD)((us + 999) / 1000) : 0);
}

int sk__gmtime(time_t t, struct tm *out)
{
    return gmtime_s(out, &t) == 0 ? 0 : -EOVERFLOW;
}

int sk__localtime(time_t t, struct tm *out)
{
    return localtime_s(out, &t) == 0 ? 0 : -EOVERFLOW;
}

static double filetime_seconds(const FILETIME *ft)
{
    uint64_t t = ((uint64_t)ft->dwHighDateTime << 32) | ft->dwLowDateTime;
    return (double)t / 1e7; /* 100 ns units */
}

int sk__cpu_times(double *user_s, double *system_s)
{
    FILETIME created, exited, kernel, user;
    if (!GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user))
        return -EIO;
    *user_s = filetime_seconds(&user);
    *system_s = filetime_seconds(&kernel);
    return 0;
}

/* The platform differences of sockets, addresses and paths that the
 * layers above would otherwise test _WIN32 for (sk_compat.h). */

#ifndef SIO_UDP_CONNRESET
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12) /* mswsock.h */
#endif

/* SIO_TCP_INFO (Windows 10 1703): the headers declare it only for builds
 * that target that version, and this one targets Windows 7, so the code
 * and the version 0 layout are spelled out here; an older system fails
 * the call and the trace says the sample is not available. */
struct tcp_info_v0 {
    int State;
    ULONG Mss;
    ULONG64 ConnectionTimeMs;
    BOOLEAN TimestampsEnabled;
    ULONG RttUs, MinRttUs, BytesInFlight, Cwnd, SndWnd, RcvWnd, RcvBuf;
    ULONG64 BytesOut, BytesIn;
    ULONG BytesReordered, BytesRetrans, FastRetrans, DupAcksIn, TimeoutEpisodes;
    UCHAR SynRetrans;
};
#define SK_SIO_TCP_INFO _WSAIORW(IOC_VENDOR, 39)

int sk__tcp_info(sk_socket_t s, struct sk__tcp_info *out)
{
    static const char *const names[] = {
        "CLOSED", "LISTEN", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1",
        "FIN_WAIT2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
    };
    DWORD version = 0, got = 0;
    struct tcp_info_v0 ti;
    memset(&ti, 0, sizeof ti);
    if (WSAIoctl(s, SK_SIO_TCP_INFO, &version, sizeof version, &ti, sizeof ti, &got, NULL,
                 NULL) != 0) {
        int err = WSAGetLastError();
        return err == WSAEOPNOTSUPP || err == WSAEINVAL ? SK_ENOTAVAIL : sk_error_from_wsa(err);
    }
    ULONG mss = ti.Mss > 0 ? ti.Mss : 1;
    out->state = ti.State >= 0 && ti.State < (int)(sizeof names / sizeof names[0])
               ? names[ti.State] : "?";
    out->rtt_us = ti.RttUs;
    out->rttvar_us = UINT32_MAX;
    out->cwnd = ti.Cwnd / mss;
    out->retrans = ti.FastRetrans + ti.TimeoutEpisodes;
    out->unacked = (ti.BytesInFlight + mss - 1) / mss;
    out->bytes_acked = ti.BytesOut >= ti.BytesInFlight ? ti.BytesOut - ti.BytesInFlight : 0;
    out->bytes_received = ti.BytesIn;
    u_long waiting = 0;
    out->recvq = ioctlsocket(s, FIONREAD, &waiting) == 0 ? (long)waiting : -1;
    out->sendq = ti.BytesInFlight; /* unacknowledged bytes; unsent ones are not told */
    return 0;
}

int sk__socket_reuse_addr(sk_socket_t s, int socktype)
{
    /* Windows' SO_REUSEADDR lets another socket take over a port in use;
     * a server wants the opposite, and TIME_WAIT never blocks its bind.
     * Where the option is refused the bind is only less strict.  Streams
     * and datagrams alike: no other socket may share a server's port. */
    int on = 1;
    (void)socktype;
    (void)setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&on, sizeof on);
    return 0;
}

void sk__socket_udp_ignore_resets(sk_socket_t s)
{
    /* A reply to a peer that has gone makes Windows fail the next
     * recvfrom() with WSAECONNRESET; a server wants to ignore that. */
    BOOL off = FALSE;
    DWORD got = 0;
    (void)WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof off, NULL, 0, &got, NULL, NULL);
}

int sk_set_timeouts(sk_socket_t s, int recv_ms, int send_ms)
{
    /* Winsock takes these as a DWORD of milliseconds, not a timeval. */
    DWORD ms;
    if (recv_ms >= 0) {
        ms = (DWORD)recv_ms;
        if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&ms, sizeof ms) != 0)
            return sk__socket_error();
    }
    if (send_ms >= 0) {
        ms = (DWORD)send_ms;
        if (setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, (const char *)&ms, sizeof ms) != 0)
            return sk__socket_error();
    }
    return 0;
}

int sk__poll(struct pollfd *fds, unsigned n, int timeout_ms)
{
    if (n == 0) { /* WSAPoll() refuses an empty array */
        sk__sleep_ms(timeout_ms);
        return 0;
    }
    int ready = WSAPoll(fds, (ULONG)n, timeout_ms);
    return ready < 0 ? sk__socket_error() : ready;
}

unsigned sk__if_nametoindex(const char *name)
{
    return if_nametoindex(name);
}

int sk__inet_aton(const char *text, struct in_addr *out)
{
    /* Windows has no inet_aton(); inet_addr() reads the same forms but
     * answers INADDR_NONE both for garbage and for the broadcast address,
     * so that one is spelled out. */
    static const char *const broadcast[] = { "255.255.255.255", "4294967295", "0xffffffff",
                                             "0xFFFFFFFF", "0377.0377.0377.0377" };
    unsigned long a = inet_addr(text);
    if (a == INADDR_NONE) {
        for (size_t i = 0; i < sizeof broadcast / sizeof *broadcast; i++)
            if (strcmp(text, broadcast[i]) == 0) {
                out->s_addr = INADDR_NONE;
                return 1;
            }
        return 0;
    }
    out->s_addr = a;
    return 1;
}

const char *sk__path_last_separator(const char *path)
{
    const char *slash = strrchr(path, '/'), *backslash = strrchr(path, '\\');
    if (backslash != NULL && (slash == NULL || backslash > slash))
        return backslash;
    return slash;
}
