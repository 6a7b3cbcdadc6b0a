/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_compat.h - the small platform interface under libsockit.
 *
 * Everything that differs between POSIX and Winsock lives behind these
 * names: the socket handle type, closing a socket, the last error,
 * non-blocking mode, waiting on one socket, half-close, threads, locks,
 * clocks and signals.  compat_posix.c implements them for Unix; a Windows
 * port adds compat_win.c with the same functions and nothing else in the
 * tree changes.  Each half keeps its descriptors and files in a _file.c
 * and its threads, signals and processes in a _proc.c beside it
 * (compat_posix_file.c, compat_win_proc.c, ...).  The BSD socket calls
 * that both platforms share (socket, bind, send, recv, getaddrinfo,
 * setsockopt) are used directly elsewhere.
 */
#ifndef SK_COMPAT_H
#define SK_COMPAT_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#ifdef _WIN32
/* Winsock's FD_SETSIZE is how many sockets an fd_set holds (a count, not
 * a bound on descriptor values) and defaults to 64; it must be set before
 * winsock2.h is first seen.  The Makefile passes the same value. */
#ifndef FD_SETSIZE
#define FD_SETSIZE 1024
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#define SK_SHUT_WR SD_SEND
#define SK_SHUT_RDWR SD_BOTH
#define SK_MSG_NOSIGNAL 0
/* Winsock has no per-call non-blocking flag; the sockets that use this
 * (the event-loop models') are non-blocking already. */
#define SK_MSG_DONTWAIT 0
/* AF_UNIX stream sockets exist on Windows 10 (1803) and later; mingw-w64
 * declares struct sockaddr_un in afunix.h.  Without the header there is
 * no SK_HAVE_AF_UNIX and "unix:" addresses fail with SK_ENOTAVAIL. */
#if defined(__has_include)
#if __has_include(<afunix.h>)
#include <afunix.h>
#define SK_HAVE_AF_UNIX 1
#endif
#endif
#else
#include <arpa/inet.h>
#include <sys/un.h>
#define SK_HAVE_AF_UNIX 1
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#define SK_SHUT_WR SHUT_WR
#define SK_SHUT_RDWR SHUT_RDWR
#ifdef MSG_NOSIGNAL
#define SK_MSG_NOSIGNAL MSG_NOSIGNAL
#else
#define SK_MSG_NOSIGNAL 0
#endif
#define SK_MSG_DONTWAIT MSG_DONTWAIT
#endif

/* The socket handle and length types, SK_PRINTF, sk_compat_init(),
 * sk_socket_close(), sk_now_ms() and the stop request are public. */
#include <sockit/platform.h>

int sk__socket_set_nonblocking(sk_socket_t s, int on);
/* The last socket error as an sk code (errno or WSAGetLastError). */
int sk__socket_error(void);
/* 1 if code means "would block" (EAGAIN/EWOULDBLOCK/WSAEWOULDBLOCK). */
int sk__error_would_block(int code);
/* A socket error number as the OS reports it (errno, a WSA code from
 * SO_ERROR) as an sk code. */
int sk__socket_error_from(int oserr);
/* send() what the socket takes now, without blocking even when the socket
 * is in blocking mode (MSG_DONTWAIT; Windows: only once it is writable).
 * A byte count or a code (would-block when nothing fits). */
long sk__send_nowait(sk_socket_t s, const void *buf, size_t len);
/* A spare descriptor for the EMFILE trick (sk__server_accept): POSIX opens
 * /dev/null, Windows a socket.  Close it with sk_socket_close. */
sk_socket_t sk__spare_open(void);
/* How many descriptors a process may hold; the default --max-conns and
 * the size of an event loop's table derive from it.  Windows sockets are
 * handles whose values grow with the number of handles open. */
long sk__descriptor_limit(void);

/* writev() on a socket: a byte count or a code.  Windows sends the same
 * pieces with WSASend() over WSABUFs, whose fields are those of struct
 * iovec in the other order (so at most 64 pieces a call there). */
#ifdef _WIN32
struct iovec {
    void *iov_base;
    size_t iov_len;
};
#else
#include <sys/uio.h>
#endif
long sk__send_vec(sk_socket_t s, const struct iovec *iov, int count);

/* Datagrams in batches: recvmmsg()/sendmmsg() on Linux, one call for many
 * datagrams; a loop of recvfrom()/sendto() elsewhere.  data/cap is the
 * buffer; a receive sets len, addr, addrlen and truncated (the datagram
 * was longer than cap; on Linux len is then the whole length). */
struct sk__dgram {
    uint8_t *data;
    size_t cap, len;
    int truncated;
    struct sockaddr_storage addr;
    sk_socklen_t addrlen;
};
/* Receive up to n waiting datagrams without blocking: how many (>= 1), or
 * a code (would-block when none waits). */
int sk__recv_batch(sk_socket_t s, struct sk__dgram *d, int n);
/* Send d[0..n) (len bytes each, to addr) without blocking: how many went,
 * or a code when the first could not. */
int sk__send_batch(sk_socket_t s, const struct sk__dgram *d, int n);
/* How the trace names those batch calls (NULL: one recvfrom/sendto each). */
#ifdef _WIN32
#define SK_RECV_BATCH_CALL NULL
#define SK_SEND_BATCH_CALL NULL
#else
#define SK_RECV_BATCH_CALL "recvmmsg batch"
#define SK_SEND_BATCH_CALL "sendmmsg batch"
#endif

/* Send n messages on a connected datagram socket, each made of per_msg
 * pieces of iov (message i is iov[i * per_msg ...]), without blocking:
 * sendmmsg() on Linux, a loop of sk__send_vec() elsewhere.  How many went,
 * or a code when the first could not. */
int sk__send_vec_batch(sk_socket_t s, const struct iovec *iov, int per_msg, int n);

/* Send up to len bytes of the regular file fd, from offset, straight from
 * the page cache to the socket (Linux sendfile()): no copy through user
 * memory.  The bytes sent (fewer is normal: a blocking socket sends what
 * fits, then returns), a would-block code on a full non-blocking socket,
 * SK_ESHORT when the file ends before offset + 1, SK_EUNSUPPORTED where
 * the system has no such call (the caller then reads and sends), or
 * another code. */
long sk__send_file(sk_socket_t s, int fd, int64_t offset, size_t len);

/* A stream's bytes moved from one socket to another, or back out of the
 * same one, without passing through user memory: Linux splice() through
 * a pipe, whose pages are the socket buffer's own (an echo that copies
 * nothing).  A pipe carries one connection's bytes at a time, so whoever
 * fills it empties it before it serves another.  Elsewhere every call is
 * SK_EUNSUPPORTED and the caller copies. */
struct sk__splice_pipe {
    int rd, wr;
    size_t size; /* what it holds at most; 0: closed (zeroed is closed) */
};
/* Open a non-blocking pipe holding about size bytes (the system may give
 * less; p->size says).  0, SK_EUNSUPPORTED, or a code. */
int sk__splice_pipe_open(struct sk__splice_pipe *p, size_t size);
void sk__splice_pipe_close(struct sk__splice_pipe *p);
/* Move up to len bytes from socket s into the pipe: the count, 0 at the
 * peer's end of stream, a would-block code when nothing waits,
 * SK_EUNSUPPORTED when splice cannot move what waits (the socket's kind,
 * or TCP urgent data next: the caller then receives), or a code. */
long sk__splice_in(struct sk__splice_pipe *p, sk_socket_t s, size_t len);
/* Move up to len bytes from the pipe to socket s: the count, a
 * would-block code when the socket is full, or a code. */
long sk__splice_out(struct sk__splice_pipe *p, sk_socket_t s, size_t len);
/* Read exactly len bytes the pipe holds into buf (what the socket would
 * not take): 0, or a code (the pipe is then in an unknown state). */
int sk__splice_take(struct sk__splice_pipe *p, void *buf, size_t len);

/* TCP's own view of a connection, for --trace: TCP_INFO (Linux) or
 * SIO_TCP_INFO (Windows 10 1703+), with the kernel's queue lengths.
 * Fields the system does not report are UINT32_MAX / UINT64_MAX / -1. */
struct sk__tcp_info {
    const char *state;        /* "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT2"... */
    uint32_t rtt_us, rttvar_us;
    uint32_t cwnd;            /* congestion window, in segments */
    uint32_t retrans;         /* segments retransmitted, in all */
    uint32_t unacked;         /* segments sent and not yet acknowledged */
    uint64_t bytes_acked, bytes_received;
    long sendq, recvq;        /* bytes in the send / receive buffer */
};
/* 0, SK_ENOTAVAIL where the system has no such call, or a code. */
int sk__tcp_info(sk_socket_t s, struct sk__tcp_info *out);
/* This process's id (getpid, GetCurrentProcessId). */
int sk__process_id(void);

/* Wait until s is readable (SK_WAIT_READ) or writable (SK_WAIT_WRITE).
 * Returns 1 when ready, 0 on timeout, or a negative code.  timeout_ms < 0
 * waits forever.  EINTR is returned, not retried, so callers can check a
 * stop flag. */
#define SK_WAIT_READ 1
#define SK_WAIT_WRITE 2
int sk__socket_wait(sk_socket_t s, int what, int timeout_ms);

/* Monotonic nanoseconds (sk_now_ms is public), and a sleep that may end
 * early on a signal. */
uint64_t sk__now_ns(void);
void sk__sleep_ms(int ms);
/* Sleep about us microseconds (Windows: whole milliseconds, at least 1). */
void sk__sleep_us(int us);

/* Give the processor to another thread (sched_yield, SwitchToThread). */
void sk__thread_yield(void);

/* Broken-down time (gmtime_r/localtime_r); 0 or a code. */
int sk__gmtime(time_t t, struct tm *out);
int sk__localtime(time_t t, struct tm *out);
/* CPU time this process has used, in seconds. */
int sk__cpu_times(double *user_s, double *system_s);

/* C runtime descriptors (0, 1, 2 and files): read(), write(), close(),
 * isatty(), in binary mode on Windows.  Counts or codes. */
long sk__fd_read(int fd, void *buf, size_t len);
long sk__fd_write(int fd, const void *buf, size_t len);
int sk__fd_close(int fd);
int sk__fd_isatty(int fd);
/* getline(): the line's length with its newline, -1 at end of input. */
long sk__getline(char **line, size_t *cap, FILE *f);

/* Files, for the file service and the get client.  A file is a C runtime
 * descriptor on both systems. */
#define SK_FILE_REGULAR 1
#define SK_FILE_DIRECTORY 2
#define SK_FILE_OTHER 3
/* What is at path, for a Unix socket's file: SK_PATH_ABSENT, SK_PATH_SOCKET
 * (a socket file; on Windows any reparse point, which is how AF_UNIX
 * files appear), SK_PATH_OTHER, or a code.  Symbolic links are not
 * followed. */
#define SK_PATH_ABSENT 0
#define SK_PATH_SOCKET 1
#define SK_PATH_OTHER 2
int sk__path_socket_state(const char *path);
/* unlink(); 0 or a code. */
int sk__path_remove(const char *path);
/* Open path read-only; never blocks on a FIFO, never inherited. */
int sk__file_open_read(const char *path);
/* Open an existing path that is not a regular file (a device such as
 * /dev/null or NUL, a FIFO) for writing, creating and truncating
 * nothing; never inherited. */
int sk__file_open_write_existing(const char *path);
/* What path is (SK_FILE_*), or a code (-ENOENT). */
int sk__path_kind(const char *path);
/* What an open file is (SK_FILE_*) and, for a regular file, its size. */
int sk__file_kind(int fd, int64_t *size);
/* pread(): a byte count, 0 at the end, or a code. */
long sk__file_read_at(int fd, void *buf, size_t len, int64_t offset);
/* A new file beside the others (mkstemp's template ending in XXXXXX),
 * readable and writable with the permissions a new file gets. */
int sk__file_create_temp(char *template_path);
/* rename() that replaces an existing destination on every system. */
int sk__file_rename(const char *from, const char *to);

/* Threads and locks.  New threads never receive the stop signals. */
typedef struct sk__thread *sk__thread_t;
typedef struct sk__mutex sk__mutex_t;
int sk__thread_start(sk__thread_t *out, void *(*fn)(void *), void *arg);
int sk__thread_start_detached(void *(*fn)(void *), void *arg);
int sk__thread_join(sk__thread_t t);
sk__mutex_t *sk__mutex_new(void);
void sk__mutex_free(sk__mutex_t *m);
void sk__mutex_lock(sk__mutex_t *m);
void sk__mutex_unlock(sk__mutex_t *m);
typedef struct sk__cond sk__cond_t;
sk__cond_t *sk__cond_new(void);
void sk__cond_free(sk__cond_t *c);
void sk__cond_wait(sk__cond_t *c, sk__mutex_t *m);
/* sk__cond_wait for at most ms milliseconds (it may also wake early:
 * callers look at their condition again, and at the clock). */
void sk__cond_wait_ms(sk__cond_t *c, sk__mutex_t *m, int ms);
void sk__cond_signal(sk__cond_t *c);
void sk__cond_broadcast(sk__cond_t *c);

/* A flag that a signal handler sets and any thread reads: a lock-free
 * atomic int, which C11 lets a handler store to (7.14.1.1) and which
 * every thread sees without a data race (volatile promises neither). */
typedef atomic_int sk__flag_t;

/* The public, opaque stop request (sockit/platform.h) is one flag, so
 * the program can hand &stop->flag to sk__signal_set_flag and keep the
 * request in static storage. */
struct sk_stop {
    sk__flag_t flag;
};

/* Signals: a handler that only sets *flag (async-signal-safe).  Without
 * SA_RESTART, so a blocking accept() or recv() returns EINTR.  Windows has
 * SIGINT and SIGTERM only as names: a console Ctrl-C, Ctrl-Break or close
 * event sets the flags registered for them, from a thread of its own, so
 * nothing blocking is interrupted and models look at the flag in slices. */
int sk__signal_set_flag(int signum, sk__flag_t *flag);
/* Back to the default action (a forked child dies on SIGTERM). */
int sk__signal_default(int signum);

/* Wait until s is readable, unless *stop is set (by a signal handler)
 * before or while waiting.  1: readable; 0: look at the flags and call
 * again; -EINTR: a signal came; or another code.  On POSIX the look at
 * *stop and the sleep cannot be split by a signal (ppoll with the flag
 * signals held until then); Windows, where nothing is interrupted, waits
 * at most 200 ms. */
int sk__wait_readable_or_stop(sk_socket_t s, const sk__flag_t *stop);

/* The file service's confined open: a root directory held open, and
 * files opened beneath it that cannot leave it.
 *
 *   Linux    openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): symbolic
 *            links are followed while they stay beneath the root.  Without
 *            openat2 (ENOSYS, Linux < 5.6; other POSIX systems) the name
 *            is walked one component at a time with O_NOFOLLOW and every
 *            symbolic link is refused (-ELOOP).
 *   Windows  the root is held open without FILE_SHARE_DELETE (it cannot be
 *            renamed away); the name is opened following junctions and
 *            links as Windows does, then its final path
 *            (GetFinalPathNameByHandle) must lie inside the root's, else
 *            -EXDEV ("leaves the root").
 *
 * The caller has already refused what is lexically outside (absolute
 * names, "..", backslashes, and where SK_PATH_COLON_SPECIAL a ':').  The
 * file is opened read-only, close-on-exec, never blocking on a FIFO. */
struct sk__file_root {
    int fd;              /* a descriptor of the directory */
    int follows_links;   /* 0: every symbolic link beneath it is refused */
};
/* Open the root; 0 or a code (-ENOENT, -ENOTDIR). */
int sk__file_root_open(const char *path, struct sk__file_root *out);
void sk__file_root_close(struct sk__file_root *root);
/* A descriptor of relative_name beneath the root, or a code (-ENOENT,
 * -ELOOP: a refused link, -EXDEV: leaves the root). */
int sk__file_open_beneath(const struct sk__file_root *root, const char *relative_name);

#ifndef _WIN32
/* Processes and pipes: POSIX only.  The models and features that need
 * them (fork, --log's writer process) are not built on Windows. */
int sk__process_fork(void);          /* child pid, 0 in the child, or a code */
/* 1 = reaped *pid, 0 = none ready; *how (if not NULL) is its exit
 * status, or -signum when a signal ended it. */
int sk__process_reap(int *pid, int *how);
int sk__process_wait(int pid);       /* wait for one child; its exit status */
int sk__process_signal(int pid, int signum);
void sk__process_exit(int status);   /* _exit: no atexit handlers, no flush */
int sk__pipe(int fds[2]);            /* close-on-exec pipe */
int sk__process_self(void);          /* getpid() */
/* In a forked child: have signum sent to this process when parent_pid (the
 * process that forked it) dies, so that a server killed with SIGKILL leaves
 * no orphan serving on (Linux's PR_SET_PDEATHSIG; elsewhere nothing). */
void sk__process_end_with_parent(int signum, int parent_pid);
/* The race in "check the flag, then block in accept()": a signal that
 * comes between the two is seen only at the next connection.  Hold the
 * flag-setting signals (SIGCHLD, SIGINT, SIGTERM, SIGHUP) blocked, and wait with
 * sk__wait_readable_or_signal(), which unblocks them only while it waits
 * (ppoll): 1 when s is readable, -EINTR when a signal came.  A forked
 * child calls sk__signals_release() first. */
int sk__signals_hold(void);
void sk__signals_release(void);
int sk__wait_readable_or_signal(sk_socket_t s);
#endif

/* Platform differences that are only a value, for code above compat that
 * must word or pace something differently. */
#ifdef _WIN32
/* A console Ctrl-C interrupts no blocking wait on Windows: a blocking
 * model cuts its waits into slices this long and looks at the stop flag
 * between them. */
#define SK_WAIT_SLICE_MS 250
/* Socket calls fail with Winsock codes, which sk_error_is() also matches. */
#define SK_WSA_ERRORS 1
/* The C runtime's strerror() knows only the classic errno values and says
 * "Unknown error" for ETIMEDOUT, ECONNREFUSED and the other POSIX ones. */
#define SK_STRERROR_CLASSIC_ONLY 1
/* What the poll and select models' summaries call the system call. */
#define SK_POLL_CALL "WSAPoll()"
#define SK_SELECT_LIMIT "at most FD_SETSIZE (1024) sockets per set"
/* "C:x" is relative to a drive's current directory and "x:y" names an
 * alternate data stream: a ':' in a name never means a plain file. */
#define SK_PATH_COLON_SPECIAL 1
#else
#define SK_PATH_COLON_SPECIAL 0
#define SK_WAIT_SLICE_MS 0 /* a signal ends a blocking wait with EINTR */
#define SK_WSA_ERRORS 0
#define SK_STRERROR_CLASSIC_ONLY 0
#define SK_POLL_CALL "poll()"
#define SK_SELECT_LIMIT "descriptors below FD_SETSIZE only"
#endif

/* A server socket's address reuse: on POSIX SO_REUSEADDR for streams, so
 * that a restarted server binds a port its old connections hold in
 * TIME_WAIT (never for datagrams, where Linux would let two servers share
 * a port); on Windows SO_EXCLUSIVEADDRUSE, since Windows' SO_REUSEADDR
 * would let another socket take over a port in use (and TIME_WAIT never
 * blocks a bind there).  socktype is SOCK_STREAM or SOCK_DGRAM. */
int sk__socket_reuse_addr(sk_socket_t s, int socktype);
/* What sk__socket_reuse_addr sets, as the trace names it. */
#ifdef _WIN32
#define SK_REUSE_ADDR_OPTION "SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1"
#else
#define SK_REUSE_ADDR_OPTION "SOL_SOCKET, SO_REUSEADDR, 1"
#endif
/* A UDP server socket ignores a previous reply's port unreachable: on
 * Windows it would fail the next recvfrom() with WSAECONNRESET
 * (SIO_UDP_CONNRESET off); on POSIX nothing to do. */
void sk__socket_udp_ignore_resets(sk_socket_t s);
/* Receive and send timeouts (SO_RCVTIMEO/SO_SNDTIMEO, a timeval on POSIX,
 * a DWORD of milliseconds on Windows); a negative value leaves one be. */
int sk_set_timeouts(sk_socket_t s, int recv_ms, int send_ms);
/* poll() over n pollfds (WSAPoll() on Windows, which refuses an empty
 * array: there it sleeps instead).  How many are ready, or a code. */
int sk__poll(struct pollfd *fds, unsigned n, int timeout_ms);
/* The interface index of a name ("lo", "eth0"), 0 if there is none. */
unsigned sk__if_nametoindex(const char *name);
/* inet_aton(): the IPv4 forms a, a.b, a.b.c, a.b.c.d with octal and hex
 * parts.  1 if text is one, else 0. */
int sk__inet_aton(const char *text, struct in_addr *out);
/* The last directory separator in path ('/', and '\\' on Windows), or
 * NULL. */
const char *sk__path_last_separator(const char *path);

#endif
