/*
 * sk_compat.h - the small platform interface under libsockit.
 *
 * Everything that differs between POSIX and Winsock lives behind these
 * names: the socket handle type, closing a socket, the last error,
 * non-blocking mode, waiting on one socket, half-close, threads, locks,
 * clocks and signals.  compat_posix.c implements them for Unix; a Windows
 * port adds compat_win.c with the same functions and nothing else in the
 * tree changes.  The BSD socket calls that both platforms share (socket,
 * bind, send, recv, getaddrinfo, setsockopt) are used directly elsewhere.
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
typedef SOCKET sk_socket_t;
#define SK_INVALID_SOCKET INVALID_SOCKET
#define SK_SHUT_WR SD_SEND
#define SK_SHUT_RDWR SD_BOTH
#define SK_MSG_NOSIGNAL 0
/* Winsock has no per-call non-blocking flag; the sockets that use this
 * (the event-loop models') are non-blocking already. */
#define SK_MSG_DONTWAIT 0
typedef int sk_socklen_t;
#else
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
typedef int sk_socket_t;
#define SK_INVALID_SOCKET (-1)
#define SK_SHUT_WR SHUT_WR
#define SK_SHUT_RDWR SHUT_RDWR
#ifdef MSG_NOSIGNAL
#define SK_MSG_NOSIGNAL MSG_NOSIGNAL
#else
#define SK_MSG_NOSIGNAL 0
#endif
#define SK_MSG_DONTWAIT MSG_DONTWAIT
typedef socklen_t sk_socklen_t;
#endif

/* printf-style argument checking where the compiler has it.  mingw-w64's
 * "printf" means Microsoft's old runtime, which lacks %zu and %jd; the
 * Windows build uses the C99 one (__USE_MINGW_ANSI_STDIO). */
#if defined(__MINGW32__)
#define SK_PRINTF(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#elif defined(__GNUC__)
#define SK_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SK_PRINTF(fmt, args)
#endif

/* Once per process: Winsock start-up; on POSIX, SIGPIPE is ignored so
 * that writing to a closed peer is an EPIPE error, never a dead process. */
int sk_compat_init(void);

/* Close a socket; the error (if any) as an sk code. */
int sk_socket_close(sk_socket_t s);
int sk_socket_set_nonblocking(sk_socket_t s, int on);
/* The last socket error as an sk code (errno or WSAGetLastError). */
int sk_socket_error(void);
/* 1 if code means "would block" (EAGAIN/EWOULDBLOCK/WSAEWOULDBLOCK). */
int sk_error_would_block(int code);
/* A socket error number as the OS reports it (errno, a WSA code from
 * SO_ERROR) as an sk code. */
int sk_socket_error_from(int oserr);
/* send() what the socket takes now, without blocking even when the socket
 * is in blocking mode (MSG_DONTWAIT; Windows: only once it is writable).
 * A byte count or a code (would-block when nothing fits). */
long sk_send_nowait(sk_socket_t s, const void *buf, size_t len);
/* A spare descriptor for the EMFILE trick (sk_server_accept): POSIX opens
 * /dev/null, Windows a socket.  Close it with sk_socket_close. */
sk_socket_t sk_spare_open(void);
/* How many descriptors a process may hold; the default --max-conns and
 * the size of an event loop's table derive from it.  Windows sockets are
 * handles whose values grow with the number of handles open. */
long sk_descriptor_limit(void);

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
long sk_send_vec(sk_socket_t s, const struct iovec *iov, int count);

/* Datagrams in batches: recvmmsg()/sendmmsg() on Linux, one call for many
 * datagrams; a loop of recvfrom()/sendto() elsewhere.  data/cap is the
 * buffer; a receive sets len, addr, addrlen and truncated (the datagram
 * was longer than cap; on Linux len is then the whole length). */
struct sk_dgram {
    uint8_t *data;
    size_t cap, len;
    int truncated;
    struct sockaddr_storage addr;
    sk_socklen_t addrlen;
};
/* Receive up to n waiting datagrams without blocking: how many (>= 1), or
 * a code (would-block when none waits). */
int sk_recv_batch(sk_socket_t s, struct sk_dgram *d, int n);
/* Send d[0..n) (len bytes each, to addr) without blocking: how many went,
 * or a code when the first could not. */
int sk_send_batch(sk_socket_t s, const struct sk_dgram *d, int n);

/* Send n messages on a connected datagram socket, each made of per_msg
 * pieces of iov (message i is iov[i * per_msg ...]), without blocking:
 * sendmmsg() on Linux, a loop of sk_send_vec() elsewhere.  How many went,
 * or a code when the first could not. */
int sk_send_vec_batch(sk_socket_t s, const struct iovec *iov, int per_msg, int n);

/* Send up to len bytes of the regular file fd, from offset, straight from
 * the page cache to the socket (Linux sendfile()): no copy through user
 * memory.  The bytes sent (fewer is normal: a blocking socket sends what
 * fits, then returns), a would-block code on a full non-blocking socket,
 * SK_ESHORT when the file ends before offset + 1, SK_EUNSUPPORTED where
 * the system has no such call (the caller then reads and sends), or
 * another code. */
long sk_send_file(sk_socket_t s, int fd, int64_t offset, size_t len);

/* Wait until s is readable (SK_WAIT_READ) or writable (SK_WAIT_WRITE).
 * Returns 1 when ready, 0 on timeout, or a negative code.  timeout_ms < 0
 * waits forever.  EINTR is returned, not retried, so callers can check a
 * stop flag. */
#define SK_WAIT_READ 1
#define SK_WAIT_WRITE 2
int sk_socket_wait(sk_socket_t s, int what, int timeout_ms);

/* Monotonic milliseconds, and a sleep that may end early on a signal. */
uint64_t sk_now_ms(void);
uint64_t sk_now_ns(void);
void sk_sleep_ms(int ms);
/* Sleep about us microseconds (Windows: whole milliseconds, at least 1). */
void sk_sleep_us(int us);

/* Give the processor to another thread (sched_yield, SwitchToThread). */
void sk_thread_yield(void);

/* Broken-down time (gmtime_r/localtime_r); 0 or a code. */
int sk_gmtime(time_t t, struct tm *out);
int sk_localtime(time_t t, struct tm *out);
/* CPU time this process has used, in seconds. */
int sk_cpu_times(double *user_s, double *system_s);

/* C runtime descriptors (0, 1, 2 and files): read(), write(), close(),
 * isatty(), in binary mode on Windows.  Counts or codes. */
long sk_fd_read(int fd, void *buf, size_t len);
long sk_fd_write(int fd, const void *buf, size_t len);
int sk_fd_close(int fd);
int sk_fd_isatty(int fd);
/* getline(): the line's length with its newline, -1 at end of input. */
long sk_getline(char **line, size_t *cap, FILE *f);

/* Files, for the file service and the get client.  A file is a C runtime
 * descriptor on both systems. */
#define SK_FILE_REGULAR 1
#define SK_FILE_DIRECTORY 2
#define SK_FILE_OTHER 3
/* Open path read-only; never blocks on a FIFO, never inherited. */
int sk_file_open_read(const char *path);
/* What path is (SK_FILE_*), or a code (-ENOENT). */
int sk_path_kind(const char *path);
/* What an open file is (SK_FILE_*) and, for a regular file, its size. */
int sk_file_kind(int fd, int64_t *size);
/* pread(): a byte count, 0 at the end, or a code. */
long sk_file_read_at(int fd, void *buf, size_t len, int64_t offset);
/* A new file beside the others (mkstemp's template ending in XXXXXX),
 * readable and writable with the permissions a new file gets. */
int sk_file_create_temp(char *template_path);
/* rename() that replaces an existing destination on every system. */
int sk_file_rename(const char *from, const char *to);

/* Threads and locks.  New threads never receive the stop signals. */
typedef struct sk_thread *sk_thread_t;
typedef struct sk_mutex sk_mutex_t;
int sk_thread_start(sk_thread_t *out, void *(*fn)(void *), void *arg);
int sk_thread_start_detached(void *(*fn)(void *), void *arg);
int sk_thread_join(sk_thread_t t);
sk_mutex_t *sk_mutex_new(void);
void sk_mutex_free(sk_mutex_t *m);
void sk_mutex_lock(sk_mutex_t *m);
void sk_mutex_unlock(sk_mutex_t *m);
typedef struct sk_cond sk_cond_t;
sk_cond_t *sk_cond_new(void);
void sk_cond_free(sk_cond_t *c);
void sk_cond_wait(sk_cond_t *c, sk_mutex_t *m);
void sk_cond_signal(sk_cond_t *c);
void sk_cond_broadcast(sk_cond_t *c);

/* A flag that a signal handler sets and any thread reads: a lock-free
 * atomic int, which C11 lets a handler store to (7.14.1.1) and which
 * every thread sees without a data race (volatile promises neither). */
typedef atomic_int sk_flag_t;

/* Signals: a handler that only sets *flag (async-signal-safe).  Without
 * SA_RESTART, so a blocking accept() or recv() returns EINTR.  Windows has
 * SIGINT and SIGTERM only as names: a console Ctrl-C, Ctrl-Break or close
 * event sets the flags registered for them, from a thread of its own, so
 * nothing blocking is interrupted and models look at the flag in slices. */
int sk_signal_set_flag(int signum, sk_flag_t *flag);
/* Back to the default action (a forked child dies on SIGTERM). */
int sk_signal_default(int signum);

#ifdef _WIN32
/* The file service's root on Windows: a descriptor of the directory
 * (held open so it cannot be renamed away), and files opened beneath it.
 * compat_win.c checks with GetFinalPathNameByHandle that what was opened
 * lies under the root, whatever junctions or symbolic links were
 * followed.  Descriptors or codes (-ENOENT, -EXDEV: leaves the root). */
int sk_win_dir_open(const char *path);
int sk_win_open_beneath(int root_fd, const char *name);
#endif

#ifndef _WIN32
/* Processes and pipes: POSIX only.  The models and features that need
 * them (fork, --log's writer process) are not built on Windows. */
int sk_process_fork(void);          /* child pid, 0 in the child, or a code */
int sk_process_reap(int *pid);      /* 1 = reaped *pid, 0 = none ready */
int sk_process_wait(int pid);       /* wait for one child; its exit status */
int sk_process_signal(int pid, int signum);
void sk_process_exit(int status);   /* _exit: no atexit handlers, no flush */
int sk_pipe(int fds[2]);            /* close-on-exec pipe */
/* The race in "check the flag, then block in accept()": a signal that
 * comes between the two is seen only at the next connection.  Hold the
 * flag-setting signals (SIGCHLD, SIGINT, SIGTERM) blocked, and wait with
 * sk_wait_readable_or_signal(), which unblocks them only while it waits
 * (ppoll): 1 when s is readable, -EINTR when a signal came.  A forked
 * child calls sk_signals_release() first. */
int sk_signals_hold(void);
void sk_signals_release(void);
int sk_wait_readable_or_signal(sk_socket_t s);
#endif

#endif
