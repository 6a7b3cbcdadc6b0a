/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_error.c - names and messages for every sk error code.
 *
 * errno names come from one X-macro list of the values POSIX defines,
 * so "ECONNRESET" reads the same on every libc; messages for errno come
 * from strerror(), which every platform localises properly.
 */
#include "sk_error.h"

#include "sk_compat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *errno_name(int err)
{
    switch (err) {
#define SK_ERRNO_CASE(e) case e: return #e;
        /* EWOULDBLOCK and ENOTSUP may alias other values: list them apart */
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK: return "EWOULDBLOCK";
#endif
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
        SK_ERRNO_CASE(ENOTSUP)
#endif
        SK_ERRNO_CASE(EPERM) SK_ERRNO_CASE(ENOENT) SK_ERRNO_CASE(ESRCH)
        SK_ERRNO_CASE(EINTR) SK_ERRNO_CASE(EIO) SK_ERRNO_CASE(ENXIO)
        SK_ERRNO_CASE(E2BIG) SK_ERRNO_CASE(ENOEXEC) SK_ERRNO_CASE(EBADF)
        SK_ERRNO_CASE(ECHILD) SK_ERRNO_CASE(EAGAIN) SK_ERRNO_CASE(ENOMEM)
        SK_ERRNO_CASE(EACCES) SK_ERRNO_CASE(EFAULT) SK_ERRNO_CASE(EBUSY)
        SK_ERRNO_CASE(EEXIST) SK_ERRNO_CASE(EXDEV) SK_ERRNO_CASE(ENODEV)
        SK_ERRNO_CASE(ENOTDIR) SK_ERRNO_CASE(EISDIR) SK_ERRNO_CASE(EINVAL)
        SK_ERRNO_CASE(ENFILE) SK_ERRNO_CASE(EMFILE) SK_ERRNO_CASE(ENOTTY)
        SK_ERRNO_CASE(EFBIG) SK_ERRNO_CASE(ENOSPC) SK_ERRNO_CASE(ESPIPE)
        SK_ERRNO_CASE(EROFS) SK_ERRNO_CASE(EMLINK) SK_ERRNO_CASE(EPIPE)
        SK_ERRNO_CASE(EDOM) SK_ERRNO_CASE(ERANGE) SK_ERRNO_CASE(EDEADLK)
        SK_ERRNO_CASE(ENAMETOOLONG) SK_ERRNO_CASE(ENOLCK) SK_ERRNO_CASE(ENOSYS)
        SK_ERRNO_CASE(ENOTEMPTY) SK_ERRNO_CASE(ELOOP) SK_ERRNO_CASE(ENOMSG)
        SK_ERRNO_CASE(ENOTSOCK) SK_ERRNO_CASE(EDESTADDRREQ)
        SK_ERRNO_CASE(EMSGSIZE) SK_ERRNO_CASE(EPROTOTYPE)
        SK_ERRNO_CASE(ENOPROTOOPT) SK_ERRNO_CASE(EPROTONOSUPPORT)
        SK_ERRNO_CASE(EOPNOTSUPP) SK_ERRNO_CASE(EAFNOSUPPORT)
        SK_ERRNO_CASE(EADDRINUSE) SK_ERRNO_CASE(EADDRNOTAVAIL)
        SK_ERRNO_CASE(ENETDOWN) SK_ERRNO_CASE(ENETUNREACH)
        SK_ERRNO_CASE(ENETRESET) SK_ERRNO_CASE(ECONNABORTED)
        SK_ERRNO_CASE(ECONNRESET) SK_ERRNO_CASE(ENOBUFS) SK_ERRNO_CASE(EISCONN)
        SK_ERRNO_CASE(ENOTCONN) SK_ERRNO_CASE(ETIMEDOUT)
        SK_ERRNO_CASE(ECONNREFUSED) SK_ERRNO_CASE(EHOSTUNREACH)
        SK_ERRNO_CASE(EALREADY) SK_ERRNO_CASE(EINPROGRESS)
        SK_ERRNO_CASE(ECANCELED) SK_ERRNO_CASE(EOVERFLOW) SK_ERRNO_CASE(EILSEQ)
        SK_ERRNO_CASE(EPROTO)
#undef SK_ERRNO_CASE
    default:
        return NULL;
    }
}

/* The Winsock error that means errno value err, or 0. */
static int wsa_equivalent(int err)
{
    switch (err) {
    case EINTR: return 10004;
    case EBADF: return 10009;
    case EACCES: return 10013;
    case EFAULT: return 10014;
    case EINVAL: return 10022;
    case EMFILE: return 10024;
    case EAGAIN: return 10035;
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK: return 10035;
#endif
    case EINPROGRESS: return 10036;
    case EALREADY: return 10037;
    case ENOTSOCK: return 10038;
    case EDESTADDRREQ: return 10039;
    case EMSGSIZE: return 10040;
    case EPROTOTYPE: return 10041;
    case ENOPROTOOPT: return 10042;
    case EPROTONOSUPPORT: return 10043;
    case EOPNOTSUPP: return 10045;
    case EAFNOSUPPORT: return 10047;
    case EADDRINUSE: return 10048;
    case EADDRNOTAVAIL: return 10049;
    case ENETDOWN: return 10050;
    case ENETUNREACH: return 10051;
    case ENETRESET: return 10052;
    case ECONNABORTED: return 10053;
    case ECONNRESET: return 10054;
    case ENOBUFS: return 10055;
    case EISCONN: return 10056;
    case ENOTCONN: return 10057;
    case EPIPE: return 10058;
    case ETIMEDOUT: return 10060;
    case ECONNREFUSED: return 10061;
    case EHOSTUNREACH: return 10065;
    case ECANCELED: return 995;
    default: return 0;
    }
}

int sk_error_is(int code, int err)
{
    if (code == -err)
        return 1;
    if (!SK_WSA_ERRORS)
        return 0;
    int wsa = wsa_equivalent(err);
    return wsa != 0 && code == SK_WSA_BASE - wsa;
}

int sk_error_from_wsa(int wsa)
{
    if (wsa <= 0 || SK_WSA_BASE - wsa <= SK_WSA_END)
        return SK_WSA_BASE - 10022; /* WSAEINVAL: never "success" */
    return SK_WSA_BASE - wsa;
}

static const char *wsa_name(int wsa)
{
    switch (wsa) {
#define SK_WSA_NAME(num, name, msg) case num: return #name;
        SK_WSA_MAP(SK_WSA_NAME)
#undef SK_WSA_NAME
    default:
        return NULL;
    }
}

static const char *wsa_message(int wsa)
{
    switch (wsa) {
#define SK_WSA_MSG(num, name, msg) case num: return msg;
        SK_WSA_MAP(SK_WSA_MSG)
#undef SK_WSA_MSG
    default:
        return NULL;
    }
}

const char *sk_err_name(int code)
{
    static const char *const unknown = "EUNKNOWN";
    if (code >= 0)
        return "OK";
    switch (code) {
#define SK_NAME_EAI(name, off, msg) case SK_##name: return #name;
        SK_EAI_MAP(SK_NAME_EAI)
#undef SK_NAME_EAI
#define SK_NAME_OWN(name, off, msg) case SK_##name: return "SK_" #name;
        SK_OWN_MAP(SK_NAME_OWN)
#undef SK_NAME_OWN
    default:
        break;
    }
    if (code > SK_EAI_BASE) {
        const char *n = errno_name(-code);
        return n ? n : unknown;
    }
    if (code <= SK_WSA_BASE && code > SK_WSA_END) {
        const char *n = wsa_name(SK_WSA_BASE - code);
        return n ? n : "WSAEUNKNOWN";
    }
    return unknown;
}

/* A sentence for an errno value that the C runtime has none for.
 * Microsoft's strerror() knows the classic values only and says "Unknown
 * error" for ETIMEDOUT, ECONNREFUSED and the other POSIX values that
 * <errno.h> defines there too (and that the library returns: a connect
 * that timed out is -ETIMEDOUT on every system).  The Winsock sentence
 * where one means the same, else these; NULL when neither knows. */
static const char *errno_message_fallback(int err)
{
    switch (err) {
    case ECANCELED: return "operation canceled";
    case ELOOP: return "too many levels of symbolic links";
    case EOVERFLOW: return "value too large for its type";
    case EPROTO: return "protocol error";
    case EILSEQ: return "invalid or incomplete multibyte or wide character";
    default: break;
    }
    return wsa_message(wsa_equivalent(err));
}

const char *sk_strerror(int code)
{
    if (code >= 0)
        return "success";
    switch (code) {
#define SK_MSG(name, off, msg) case SK_##name: return msg;
        SK_EAI_MAP(SK_MSG)
        SK_OWN_MAP(SK_MSG)
#undef SK_MSG
    default:
        break;
    }
    if (code > SK_EAI_BASE) {
        const char *m = strerror(-code);
        if (SK_STRERROR_CLASSIC_ONLY && (m == NULL || strncmp(m, "Unknown error", 13) == 0)) {
            const char *fallback = errno_message_fallback(-code);
            if (fallback != NULL)
                return fallback;
        }
        return m != NULL ? m : "unknown error";
    }
    if (code <= SK_WSA_BASE && code > SK_WSA_END) {
        const char *m = wsa_message(SK_WSA_BASE - code);
        return m ? m : "unknown Winsock error";
    }
    return "unknown error";
}

int sk_error_from_errno(int err)
{
    if (err <= 0 || err >= -SK_EAI_BASE)
        return -EIO;
    return -err;
}

int sk_error_last(void)
{
    return sk_error_from_errno(errno);
}

int sk_error_from_gai(int gai)
{
    switch (gai) {
    case 0: return 0;
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY: return SK_EAI_ADDRFAMILY;
#endif
    case EAI_AGAIN: return SK_EAI_AGAIN;
    case EAI_BADFLAGS: return SK_EAI_BADFLAGS;
    case EAI_FAIL: return SK_EAI_FAIL;
    case EAI_FAMILY: return SK_EAI_FAMILY;
    case EAI_MEMORY: return SK_EAI_MEMORY;
#if defined(EAI_NODATA) && EAI_NODATA != EAI_NONAME
    case EAI_NODATA: return SK_EAI_NODATA;
#endif
    case EAI_NONAME: return SK_EAI_NONAME;
    case EAI_SERVICE: return SK_EAI_SERVICE;
    case EAI_SOCKTYPE: return SK_EAI_SOCKTYPE;
#ifdef EAI_OVERFLOW
    case EAI_OVERFLOW: return SK_EAI_OVERFLOW;
#endif
#ifdef EAI_SYSTEM
    case EAI_SYSTEM: return sk_error_last();
#endif
    default: return SK_EAI_OTHER;
    }
}
