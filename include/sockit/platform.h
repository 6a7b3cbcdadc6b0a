/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockit/platform.h - what every public sockit header stands on: the
 * socket handle type, the length type of socket addresses, the stop
 * request, the clock the session deadlines use, and the two calls a
 * program makes around the library (start-up, closing a socket).
 *
 * Public headers compile as strict ISO C11 (-std=c11 -pedantic) and as
 * C++ without the program defining _GNU_SOURCE or any other feature
 * macro: they use only what <sys/socket.h>, <netinet/in.h> and
 * <netdb.h> declare in every mode, or Winsock's headers on Windows, and
 * never <stdatomic.h>, which C++ before C++23 cannot include.
 */
#ifndef SOCKIT_PLATFORM_H
#define SOCKIT_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifdef _WIN32
typedef SOCKET sk_socket_t;
#define SK_INVALID_SOCKET INVALID_SOCKET
typedef int sk_socklen_t;
#else
typedef int sk_socket_t;
#define SK_INVALID_SOCKET (-1)
typedef socklen_t sk_socklen_t;
#endif

/* getaddrinfo()'s result, which <netdb.h> defines only for POSIX
 * programs (not under -std=c11 alone); declared here so that a
 * prototype naming it refers to the one struct. */
struct addrinfo;

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

/* Once per process, before anything else: Winsock start-up; on POSIX,
 * SIGPIPE is ignored so that writing to a closed peer is an EPIPE error,
 * never a dead process.  0 or a code. */
int sk_compat_init(void);

/* Close a socket; the error (if any) as an sk code. */
int sk_socket_close(sk_socket_t s);

/* Monotonic milliseconds (the clock of sk_session_set_deadline). */
uint64_t sk_now_ms(void);

/*
 * A stop request: what a server (sk_server_config.stop) and the load
 * generator (sk_bench_config.stop) look at to end their run.  It is
 * opaque so that C and C++ programs share one definition: inside, it is
 * a lock-free C11 atomic, which a signal handler may store to and every
 * thread reads without a data race.
 *
 * sk_stop_request() is async-signal-safe: call it from a signal handler
 * (the usual way; a blocked accept() or poll() then returns EINTR and
 * the server looks at the request at once) or from another thread (the
 * server then notices it the next time it wakes: at the next connection,
 * datagram, timer or signal).
 */
struct sk_stop;
/* A new, unset request in *out (0), or a code. */
int sk_stop_new(struct sk_stop **out);
void sk_stop_free(struct sk_stop *stop);
void sk_stop_request(struct sk_stop *stop);
/* 1 once requested; 0 before, and for a NULL stop. */
int sk_stop_requested(const struct sk_stop *stop);

#ifdef __cplusplus
}
#endif

#endif
