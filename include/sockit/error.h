/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockit/error.h - the one error convention of libsockit.
 *
 * Every library function returns a value >= 0 on success or a negative
 * sk error code.  The codes live in three ranges so that a caller can
 * always tell where a failure came from:
 *
 *   -1 .. -2999      the operating system's errno, negated (-ECONNREFUSED)
 *   -3000 .. -3099   getaddrinfo() failures (SK_EAI_*)
 *   -4000 .. -4099   sockit's own conditions (SK_E*)
 *   -10000 .. -21999 Winsock's codes on Windows (-10000 - WSAGetLastError())
 *
 * sk_strerror() and sk_err_name() turn any code into a sentence and a
 * name.  The library never prints, exits or keeps a global error: the
 * program decides what to say.
 */
#ifndef SOCKIT_ERROR_H
#define SOCKIT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* getaddrinfo range: name, message */
#define SK_EAI_MAP(X)                                                        \
    X(EAI_ADDRFAMILY, 1, "host has no address in the requested family")      \
    X(EAI_AGAIN, 2, "temporary failure in name resolution")                  \
    X(EAI_BADFLAGS, 3, "bad flags for name resolution")                      \
    X(EAI_FAIL, 4, "non-recoverable failure in name resolution")             \
    X(EAI_FAMILY, 5, "address family not supported")                         \
    X(EAI_MEMORY, 6, "out of memory in name resolution")                     \
    X(EAI_NODATA, 7, "host name has no address")                             \
    X(EAI_NONAME, 8, "unknown host or service name")                         \
    X(EAI_SERVICE, 9, "service not available for this socket type")          \
    X(EAI_SOCKTYPE, 10, "socket type not supported")                         \
    X(EAI_OVERFLOW, 11, "name resolution buffer overflow")                   \
    X(EAI_OTHER, 12, "name resolution failed")

/* sockit's own range: name, offset, message */
#define SK_OWN_MAP(X)                                                        \
    X(EADDRSYNTAX, 1, "malformed address")                                   \
    X(EPORT, 2, "invalid port (expected 0-65535 or a service name)")         \
    X(ESERVICE, 3, "unknown service")                                        \
    X(EMODEL, 4, "unknown model")                                            \
    X(EUNSUPPORTED, 5, "not supported by this model")                        \
    X(EOPTION, 6, "unknown socket option")                                   \
    X(EOPTVALUE, 7, "invalid value for socket option")                       \
    X(EREADONLY, 8, "socket option is read-only")                            \
    X(EEOF, 9, "connection closed before all bytes arrived")                 \
    X(EPROTOCOL, 10, "peer broke the protocol")                              \
    X(ETOOLONG, 11, "line too long")                                         \
    X(EPATH, 12, "path refused")                                             \
    X(ENOREPLY, 13, "no reply")                                              \
    X(ETRUNCATED, 14, "datagram truncated")                                  \
    X(ENOTREGULAR, 15, "not a regular file")                                 \
    X(EBUFFULL, 16, "output buffer full")                                    \
    X(ESHORT, 17, "transfer ended early")                                    \
    X(EFAMILY, 18, "address family does not match")                          \
    X(ENOTAVAIL, 19, "not available on this system")

/* Winsock range: the WSA error number, name, message.  Numbers rather
 * than WSAE* names, so the table (and its tests) build everywhere. */
#define SK_WSA_MAP(X)                                                        \
    X(6, WSA_INVALID_HANDLE, "invalid handle")                               \
    X(8, WSA_NOT_ENOUGH_MEMORY, "not enough memory")                         \
    X(87, WSA_INVALID_PARAMETER, "invalid parameter")                        \
    X(995, WSA_OPERATION_ABORTED, "overlapped operation aborted")            \
    X(996, WSA_IO_INCOMPLETE, "overlapped I/O not yet complete")             \
    X(997, WSA_IO_PENDING, "overlapped I/O will complete later")             \
    X(10004, WSAEINTR, "interrupted function call")                          \
    X(10009, WSAEBADF, "bad file handle")                                    \
    X(10013, WSAEACCES, "permission denied")                                 \
    X(10014, WSAEFAULT, "bad address")                                       \
    X(10022, WSAEINVAL, "invalid argument")                                  \
    X(10024, WSAEMFILE, "too many open sockets")                             \
    X(10035, WSAEWOULDBLOCK, "resource temporarily unavailable")             \
    X(10036, WSAEINPROGRESS, "operation now in progress")                    \
    X(10037, WSAEALREADY, "operation already in progress")                   \
    X(10038, WSAENOTSOCK, "socket operation on non-socket")                  \
    X(10039, WSAEDESTADDRREQ, "destination address required")                \
    X(10040, WSAEMSGSIZE, "message too long")                                \
    X(10041, WSAEPROTOTYPE, "protocol wrong type for socket")                \
    X(10042, WSAENOPROTOOPT, "protocol not available")                       \
    X(10043, WSAEPROTONOSUPPORT, "protocol not supported")                   \
    X(10044, WSAESOCKTNOSUPPORT, "socket type not supported")                \
    X(10045, WSAEOPNOTSUPP, "operation not supported")                       \
    X(10046, WSAEPFNOSUPPORT, "protocol family not supported")               \
    X(10047, WSAEAFNOSUPPORT, "address family not supported by protocol")    \
    X(10048, WSAEADDRINUSE, "address already in use")                        \
    X(10049, WSAEADDRNOTAVAIL, "cannot assign requested address")            \
    X(10050, WSAENETDOWN, "network is down")                                 \
    X(10051, WSAENETUNREACH, "network is unreachable")                       \
    X(10052, WSAENETRESET, "network dropped connection on reset")            \
    X(10053, WSAECONNABORTED, "software caused connection abort")            \
    X(10054, WSAECONNRESET, "connection reset by peer")                      \
    X(10055, WSAENOBUFS, "no buffer space available")                        \
    X(10056, WSAEISCONN, "socket is already connected")                      \
    X(10057, WSAENOTCONN, "socket is not connected")                         \
    X(10058, WSAESHUTDOWN, "cannot send after socket shutdown")              \
    X(10059, WSAETOOMANYREFS, "too many references")                         \
    X(10060, WSAETIMEDOUT, "connection timed out")                           \
    X(10061, WSAECONNREFUSED, "connection refused")                          \
    X(10062, WSAELOOP, "cannot translate name")                              \
    X(10063, WSAENAMETOOLONG, "name too long")                               \
    X(10064, WSAEHOSTDOWN, "host is down")                                   \
    X(10065, WSAEHOSTUNREACH, "no route to host")                            \
    X(10066, WSAENOTEMPTY, "directory not empty")                            \
    X(10067, WSAEPROCLIM, "too many processes use Winsock")                  \
    X(10091, WSASYSNOTREADY, "network subsystem is unavailable")             \
    X(10092, WSAVERNOTSUPPORTED, "Winsock version not supported")            \
    X(10093, WSANOTINITIALISED, "Winsock not initialised (no WSAStartup)")   \
    X(10101, WSAEDISCON, "graceful shutdown in progress")                    \
    X(10109, WSATYPE_NOT_FOUND, "class type not found")                      \
    X(11001, WSAHOST_NOT_FOUND, "host not found")                            \
    X(11002, WSATRY_AGAIN, "temporary failure in name resolution")           \
    X(11003, WSANO_RECOVERY, "non-recoverable failure in name resolution")   \
    X(11004, WSANO_DATA, "name has no address of the requested type")

#define SK_EAI_BASE (-3000)
#define SK_OWN_BASE (-4000)
#define SK_WSA_BASE (-10000)
#define SK_WSA_END (-22000) /* codes in (SK_WSA_END, SK_WSA_BASE] are Winsock's */

enum sk_error_code {
#define SK_ENUM_EAI(name, off, msg) SK_##name = SK_EAI_BASE - (off),
    SK_EAI_MAP(SK_ENUM_EAI)
#undef SK_ENUM_EAI
#define SK_ENUM_OWN(name, off, msg) SK_##name = SK_OWN_BASE - (off),
    SK_OWN_MAP(SK_ENUM_OWN)
#undef SK_ENUM_OWN
    SK_ERROR_CODE_END_ = SK_OWN_BASE - 100
};

/* A readable sentence for code ("connection refused"). Never NULL. */
const char *sk_strerror(int code);
/* The code's symbolic name ("ECONNREFUSED", "EAI_NONAME"). Never NULL. */
const char *sk_err_name(int code);
/* Map the current OS error (errno, or WSAGetLastError on Windows) to a code. */
int sk_error_last(void);
/* Map an errno value to a code. */
int sk_error_from_errno(int err);
/* Map a getaddrinfo() return value to a code (EAI_SYSTEM reads errno). */
int sk_error_from_gai(int gai);
/* Map a Winsock error number (WSAGetLastError) to a code. */
int sk_error_from_wsa(int wsa);
/* 1 if code is the errno value err or, on Windows, the Winsock error that
 * means the same (-ECONNRESET or WSAECONNRESET): how portable code asks
 * "was it a reset?" whichever range the code came from. */
int sk_error_is(int code, int err);

#ifdef __cplusplus
}
#endif

#endif
