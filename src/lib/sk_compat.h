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
#include <stdint.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
typedef SOCKET sk_socket_t;
#define SK_INVALID_SOCKET INVALID_SOCKET
#define SK_SHUT_WR SD_SEND
#define SK_SHUT_RDWR SD_BOTH
#define SK_MSG_NOSIGNAL 0
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
typedef socklen_t sk_socklen_t;
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

/* Signals: a handler that only sets *flag (async-signal-safe).  Without
 * SA_RESTART, so a blocking accept() or recv() returns EINTR. */
int sk_signal_set_flag(int signum, volatile int *flag);
/* Back to the default action (a forked child dies on SIGTERM). */
int sk_signal_default(int signum);

#ifndef _WIN32
/* Processes and pipes: POSIX only.  The models and features that need
 * them (fork, --log's writer process) are not built on Windows. */
int sk_process_fork(void);          /* child pid, 0 in the child, or a code */
int sk_process_reap(int *pid);      /* 1 = reaped *pid, 0 = none ready */
int sk_process_wait(int pid);       /* wait for one child; its exit status */
int sk_process_signal(int pid, int signum);
void sk_process_exit(int status);   /* _exit: no atexit handlers, no flush */
int sk_pipe(int fds[2]);            /* close-on-exec pipe */
#endif

#endif
