/*
 * sk_error.h - the one error convention of libsockit.
 *
 * Every library function returns a value >= 0 on success or a negative
 * sk error code.  The codes live in three ranges so that a caller can
 * always tell where a failure came from:
 *
 *   -1 .. -2999      the operating system's errno, negated (-ECONNREFUSED)
 *   -3000 .. -3099   getaddrinfo() failures (SK_EAI_*)
 *   -4000 .. -4099   sockit's own conditions (SK_E*)
 *   -10000 ..        reserved for Winsock codes on Windows
 *
 * sk_strerror() and sk_err_name() turn any code into a sentence and a
 * name.  The library never prints, exits or keeps a global error: the
 * program decides what to say.
 */
#ifndef SK_ERROR_H
#define SK_ERROR_H

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

#define SK_EAI_BASE (-3000)
#define SK_OWN_BASE (-4000)

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

#endif
