/* SPDX-License-Identifier: BSD-2-Clause */
/* The error table: every range has names and messages. */
#include "sk_compat.h" /* getaddrinfo's EAI_* (netdb.h, or ws2tcpip.h on Windows) */
#include "sk_error.h"
#include "unit.h"

#include <errno.h>

TEST(error_errno_range)
{
    CHECK_INT(sk_error_from_errno(ECONNREFUSED), -ECONNREFUSED);
    CHECK_STR(sk_err_name(-ECONNREFUSED), "ECONNREFUSED");
    CHECK_STR(sk_err_name(-EMFILE), "EMFILE");
    CHECK(strlen(sk_strerror(-ECONNRESET)) > 0);
    CHECK_INT(sk_error_from_errno(0), -EIO);
}

/* Every errno value the library returns or passes on has a name and a
 * sentence on every system: Microsoft's C runtime says "Unknown error"
 * for the POSIX values its strerror() predates (ETIMEDOUT, ECONNREFUSED,
 * ELOOP, ...), which mingw-w64 and MSVC define all the same. */
TEST(error_errno_range_names_and_messages_everywhere)
{
    static const struct { int err; const char *name; } table[] = {
#define E(x) { x, #x },
        E(EPERM) E(ENOENT) E(EINTR) E(EIO) E(ENXIO) E(EBADF) E(EAGAIN) E(ENOMEM)
        E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV) E(ENOTDIR) E(EISDIR) E(EINVAL)
        E(ENFILE) E(EMFILE) E(ENOSPC) E(EPIPE) E(ERANGE) E(ENAMETOOLONG) E(ENOSYS)
        E(ELOOP) E(ENOTSOCK) E(EDESTADDRREQ) E(EMSGSIZE) E(EPROTOTYPE) E(ENOPROTOOPT)
        E(EPROTONOSUPPORT) E(EOPNOTSUPP) E(EAFNOSUPPORT) E(EADDRINUSE) E(EADDRNOTAVAIL)
        E(ENETDOWN) E(ENETUNREACH) E(ENETRESET) E(ECONNABORTED) E(ECONNRESET) E(ENOBUFS)
        E(EISCONN) E(ENOTCONN) E(ETIMEDOUT) E(ECONNREFUSED) E(EHOSTUNREACH) E(EALREADY)
        E(EINPROGRESS) E(ECANCELED) E(EOVERFLOW) E(EILSEQ) E(EPROTO)
#undef E
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        int code = sk_error_from_errno(table[i].err);
        const char *msg = sk_strerror(code);
        CHECK_STR(sk_err_name(code), table[i].name);
        if (msg == NULL || msg[0] == '\0' || strncmp(msg, "Unknown error", 13) == 0 ||
            strcmp(msg, "unknown error") == 0)
            unit_fail(__FILE__, __LINE__, "%s (%d): message \"%s\"", table[i].name,
                      table[i].err, msg ? msg : "(null)");
    }
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
    CHECK_STR(sk_err_name(-EWOULDBLOCK), "EWOULDBLOCK");
    CHECK(strncmp(sk_strerror(-EWOULDBLOCK), "Unknown error", 13) != 0);
#endif
    /* the same sentence as the Winsock code that means the same */
#ifdef _WIN32
    CHECK_STR(sk_strerror(-ETIMEDOUT), sk_strerror(sk_error_from_wsa(WSAETIMEDOUT)));
    CHECK_STR(sk_strerror(-ECONNREFUSED), "connection refused");
#endif
}

TEST(error_getaddrinfo_range)
{
    /* On Windows the EAI_* values are Winsock numbers (EAI_NONAME is
     * WSAHOST_NOT_FOUND); they must land in the same range all the same. */
    CHECK_INT(sk_error_from_gai(EAI_NONAME), SK_EAI_NONAME);
    CHECK_STR(sk_err_name(SK_EAI_NONAME), "EAI_NONAME");
    CHECK_STR(sk_strerror(SK_EAI_NONAME), "unknown host or service name");
    CHECK(SK_EAI_NONAME <= SK_EAI_BASE && SK_EAI_NONAME > SK_OWN_BASE);
    CHECK_INT(sk_error_from_gai(0), 0);
    CHECK_INT(sk_error_from_gai(EAI_AGAIN), SK_EAI_AGAIN);
    CHECK_INT(sk_error_from_gai(EAI_SERVICE), SK_EAI_SERVICE);
    CHECK_INT(sk_error_from_gai(EAI_FAMILY), SK_EAI_FAMILY);
}

TEST(error_own_range_names_every_code)
{
    CHECK_STR(sk_err_name(SK_EPORT), "SK_EPORT");
    CHECK_STR(sk_strerror(SK_EEOF), "connection closed before all bytes arrived");
    for (int code = SK_OWN_BASE - 1; code > SK_OWN_BASE - 20; code--) {
        CHECK(strcmp(sk_err_name(code), "EUNKNOWN") != 0);
        CHECK(strcmp(sk_strerror(code), "unknown error") != 0);
    }
    CHECK_STR(sk_err_name(SK_OWN_BASE - 99), "EUNKNOWN");
    CHECK_STR(sk_strerror(0), "success");
}

/* ---- the Winsock range ------------------------------------------------------
 *
 * The table is in numbers, so these run on every system; what only Windows
 * can show (real WSAGetLastError values, sk_error_is matching a WSA code)
 * is under _WIN32 below. */

#define WSA_CONNRESET 10054
#define WSA_WOULDBLOCK 10035

TEST(error_wsa_range_names_and_messages)
{
    int reset = sk_error_from_wsa(WSA_CONNRESET);
    CHECK_INT(reset, SK_WSA_BASE - WSA_CONNRESET);
    CHECK_INT(reset, -20054);
    CHECK_STR(sk_err_name(reset), "WSAECONNRESET");
    CHECK_STR(sk_strerror(reset), "connection reset by peer");

    int wouldblock = sk_error_from_wsa(WSA_WOULDBLOCK);
    CHECK_INT(wouldblock, -20035);
    CHECK_STR(sk_err_name(wouldblock), "WSAEWOULDBLOCK");
    CHECK_STR(sk_strerror(wouldblock), "resource temporarily unavailable");

    CHECK_STR(sk_err_name(sk_error_from_wsa(10061)), "WSAECONNREFUSED");
    CHECK_STR(sk_strerror(sk_error_from_wsa(10061)), "connection refused");
    CHECK_STR(sk_err_name(sk_error_from_wsa(10048)), "WSAEADDRINUSE");
    CHECK_STR(sk_err_name(sk_error_from_wsa(10093)), "WSANOTINITIALISED");
    CHECK_STR(sk_err_name(sk_error_from_wsa(11001)), "WSAHOST_NOT_FOUND");
    /* The overlapped-I/O codes below 10000 are in the range too. */
    CHECK_INT(sk_error_from_wsa(995), -10995);
    CHECK_STR(sk_err_name(-10995), "WSA_OPERATION_ABORTED");
    CHECK_STR(sk_strerror(-10997), "overlapped I/O will complete later");
}

TEST(error_wsa_range_every_entry_round_trips)
{
    static const struct { int num; const char *name, *msg; } table[] = {
#define SK_WSA_ROW(num, name, msg) { num, #name, msg },
        SK_WSA_MAP(SK_WSA_ROW)
#undef SK_WSA_ROW
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        int code = sk_error_from_wsa(table[i].num);
        if (code != SK_WSA_BASE - table[i].num || code > SK_WSA_BASE || code <= SK_WSA_END)
            unit_fail(__FILE__, __LINE__, "%s: code %d", table[i].name, code);
        CHECK_STR(sk_err_name(code), table[i].name);
        CHECK_STR(sk_strerror(code), table[i].msg);
        CHECK(strncmp(sk_err_name(code), "WSA", 3) == 0);
        /* never mistaken for an errno, getaddrinfo or own code */
        CHECK(code < SK_OWN_BASE - 100);
    }
}

TEST(error_wsa_range_unknown_and_out_of_range)
{
    /* A Winsock number the table lacks is still a Winsock error. */
    CHECK_STR(sk_err_name(sk_error_from_wsa(10999)), "WSAEUNKNOWN");
    CHECK_STR(sk_strerror(sk_error_from_wsa(10999)), "unknown Winsock error");
    CHECK_INT(sk_error_from_wsa(11999), -21999);
    CHECK_STR(sk_err_name(-21999), "WSAEUNKNOWN");
    /* 0, negative and too large never become "success" or leave the range */
    CHECK_INT(sk_error_from_wsa(0), SK_WSA_BASE - 10022);
    CHECK_INT(sk_error_from_wsa(-5), SK_WSA_BASE - 10022);
    CHECK_INT(sk_error_from_wsa(12000), SK_WSA_BASE - 10022);
    CHECK_INT(sk_error_from_wsa(1 << 30), SK_WSA_BASE - 10022);
    CHECK_STR(sk_err_name(sk_error_from_wsa(0)), "WSAEINVAL");
    /* just outside the range: not a Winsock code */
    CHECK_STR(sk_err_name(SK_WSA_END), "EUNKNOWN");
    CHECK_STR(sk_strerror(SK_WSA_END), "unknown error");
    CHECK_STR(sk_err_name(SK_WSA_BASE + 1), "EUNKNOWN");
}

TEST(error_is_matches_errno_and_winsock_alike)
{
    CHECK(sk_error_is(-ECONNRESET, ECONNRESET));
    CHECK(!sk_error_is(-ECONNREFUSED, ECONNRESET));
#ifdef _WIN32
    CHECK(sk_error_is(sk_error_from_wsa(WSAECONNRESET), ECONNRESET));
    CHECK(sk_error_is(sk_error_from_wsa(WSAEWOULDBLOCK), EAGAIN));
    CHECK(sk_error_is(sk_error_from_wsa(WSAEWOULDBLOCK), EWOULDBLOCK));
    CHECK(sk_error_is(sk_error_from_wsa(WSAEMSGSIZE), EMSGSIZE));
    CHECK(sk_error_is(sk_error_from_wsa(WSAECONNREFUSED), ECONNREFUSED));
    CHECK(sk_error_is(sk_error_from_wsa(WSAETIMEDOUT), ETIMEDOUT));
    CHECK(sk_error_is(sk_error_from_wsa(WSAESHUTDOWN), EPIPE));
    CHECK(sk_error_is(sk_error_from_wsa(WSA_OPERATION_ABORTED), ECANCELED));
    CHECK(!sk_error_is(sk_error_from_wsa(WSAECONNRESET), ECONNREFUSED));
    CHECK(!sk_error_is(sk_error_from_wsa(WSAECONNABORTED), ECONNRESET));
#else
    /* On POSIX a Winsock code never comes from the system: no match. */
    CHECK(!sk_error_is(sk_error_from_wsa(WSA_CONNRESET), ECONNRESET));
#endif
}

TEST(error_socket_error_from_and_would_block)
{
#ifdef _WIN32
    /* SO_ERROR and WSAGetLastError give Winsock numbers */
    CHECK_INT(sk__socket_error_from(WSAECONNRESET), SK_WSA_BASE - WSAECONNRESET);
    CHECK_STR(sk_err_name(sk__socket_error_from(WSAECONNRESET)), "WSAECONNRESET");
    CHECK_STR(sk_err_name(sk__socket_error_from(WSAEWOULDBLOCK)), "WSAEWOULDBLOCK");
    CHECK(sk__error_would_block(sk__socket_error_from(WSAEWOULDBLOCK)));
    CHECK(!sk__error_would_block(sk__socket_error_from(WSAECONNRESET)));
    CHECK(!sk__error_would_block(sk__socket_error_from(WSAEINPROGRESS)));
    WSASetLastError(WSAECONNREFUSED);
    CHECK_STR(sk_err_name(sk__socket_error()), "WSAECONNREFUSED");
#else
    CHECK_INT(sk__socket_error_from(ECONNRESET), -ECONNRESET);
    errno = ECONNREFUSED;
    CHECK_INT(sk__socket_error(), -ECONNREFUSED);
#endif
    CHECK(sk__error_would_block(-EAGAIN));
    CHECK(sk__error_would_block(-EWOULDBLOCK));
    CHECK(!sk__error_would_block(-ECONNRESET));
    CHECK(!sk__error_would_block(0));
}

/* ---- real socket failures, named by the range they come from ---------------- */

static const char *expected_name(const char *posix, const char *windows)
{
#ifdef _WIN32
    (void)posix;
    return windows;
#else
    (void)windows;
    return posix;
#endif
}

/* A connected TCP pair on 127.0.0.1; 0 or -1. */
static int tcp_pair(sk_socket_t *client, sk_socket_t *server)
{
    struct sockaddr_in a;
    sk_socklen_t alen = (sk_socklen_t)sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sk_socket_t l = socket(AF_INET, SOCK_STREAM, 0);
    *client = *server = SK_INVALID_SOCKET;
    if (l == SK_INVALID_SOCKET)
        return -1;
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &alen) != 0) {
        sk_socket_close(l);
        return -1;
    }
    *client = socket(AF_INET, SOCK_STREAM, 0);
    if (*client == SK_INVALID_SOCKET ||
        connect(*client, (struct sockaddr *)&a, sizeof a) != 0 ||
        (*server = accept(l, NULL, NULL)) == SK_INVALID_SOCKET) {
        if (*client != SK_INVALID_SOCKET)
            sk_socket_close(*client);
        sk_socket_close(l);
        return -1;
    }
    sk_socket_close(l);
    return 0;
}

TEST(error_real_would_block_is_named_for_its_system)
{
    sk_socket_t c, s;
    char buf[16];
    if (tcp_pair(&c, &s) != 0) {
        unit_fail(__FILE__, __LINE__, "no TCP pair on 127.0.0.1: %s",
                  sk_err_name(sk__socket_error()));
        return;
    }
    CHECK_INT(sk__socket_set_nonblocking(s, 1), 0);
    CHECK(recv(s, buf, sizeof buf, 0) < 0);
    int rc = sk__socket_error();
    CHECK(sk__error_would_block(rc));
    CHECK(sk_error_is(rc, EAGAIN) || sk_error_is(rc, EWOULDBLOCK));
    CHECK_STR(sk_err_name(rc), expected_name(EAGAIN == EWOULDBLOCK ? "EAGAIN" : "EWOULDBLOCK",
                                             "WSAEWOULDBLOCK"));
#ifdef _WIN32
    CHECK(rc <= SK_WSA_BASE && rc > SK_WSA_END);
#endif
    sk_socket_close(c);
    sk_socket_close(s);
}

TEST(error_real_reset_is_named_for_its_system)
{
    sk_socket_t c, s;
    if (tcp_pair(&c, &s) != 0) {
        unit_fail(__FILE__, __LINE__, "no TCP pair on 127.0.0.1: %s",
                  sk_err_name(sk__socket_error()));
        return;
    }
    /* An abortive close (linger 0) sends a RST instead of a FIN. */
    struct linger lg;
    lg.l_onoff = 1;
    lg.l_linger = 0;
    CHECK_INT(setsockopt(c, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof lg), 0);
    sk_socket_close(c);
    CHECK_INT(sk__socket_wait(s, SK_WAIT_READ, 5000), 1);
    /* The first call after the RST reports it.  send(), not recv(): Wine
     * (8.0) answers recv() on a reset connection with 0, an orderly end,
     * where Windows and Linux fail with the reset; send() fails alike. */
    long n = send(s, "x", 1, SK_MSG_NOSIGNAL);
    CHECK(n < 0);
    int rc = sk__socket_error();
    CHECK(sk_error_is(rc, ECONNRESET));
    CHECK_STR(sk_err_name(rc), expected_name("ECONNRESET", "WSAECONNRESET"));
    CHECK_STR(sk_strerror(rc), expected_name(strerror(ECONNRESET), "connection reset by peer"));
    sk_socket_close(s);
}

TEST(error_real_refused_connect_is_named_for_its_system)
{
    /* A port just released on 127.0.0.1: nothing listens there. */
    struct sockaddr_in a;
    sk_socklen_t alen = (sk_socklen_t)sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sk_socket_t t = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(t != SK_INVALID_SOCKET);
    CHECK_INT(bind(t, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_INT(getsockname(t, (struct sockaddr *)&a, &alen), 0);
    sk_socket_close(t);
    sk_socket_t c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(c, (struct sockaddr *)&a, sizeof a) != 0);
    int rc = sk__socket_error();
    CHECK(sk_error_is(rc, ECONNREFUSED));
    CHECK_STR(sk_err_name(rc), expected_name("ECONNREFUSED", "WSAECONNREFUSED"));
    sk_socket_close(c);
}
