/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_datagram.c - the UDP path: the loop guard, the reflection guard and
 * every service's on_datagram.
 *
 * Feeds: a source address (fuzzed bytes, exactly sizeof(struct
 * sockaddr_in) or sizeof(struct sockaddr_in6) of them, or another family),
 * the server's own port, a buffer size, a datagram, and a number of rounds
 * in which the source sends the datagram, the reply it got, or a fresh
 * one.  They go to sk_datagram_guard alone, to each UDP service's
 * on_datagram with a reply buffer of exactly the fuzzed capacity (ASan
 * sees a write past it), and through sk__datagram_handle on a server put
 * together here (no socket): guard, reflection guard, service.
 *
 * Asserts (the rule is sk_service.h's comment on on_datagram):
 *   - the guard drops exactly the sources it documents: ports 0, 7, 9, 13,
 *     19, 37 and the server's own, IPv4 multicast, 255.255.255.255 and
 *     0.0.0.0, IPv6 multicast; and anything that is not IPv4 or IPv6.
 *   - no reply is longer than the buffer it goes into, and none is longer
 *     than its request, except time's 4 bytes and daytime's one line
 *     ("...-UTC\r\n", at most 64 bytes), which answer even an empty
 *     datagram.  Echo answers with the request itself (cut to the buffer),
 *     chargen with min(request, 512, buffer) bytes of its pattern, discard
 *     never; TCP-only services have no on_datagram.
 *   - sk__datagram_handle answers nothing that the guard drops or that was
 *     truncated, counts every datagram, and answers only what the service
 *     itself answers.  One source sending again and again within the
 *     reply guard's one-second window is answering us: whatever it sends
 *     (our reply back, or the same request again, which for echo is the
 *     same thing), it gets the first answer and at most LOOP_BURST (8)
 *     more in the first LOOP_INTERVAL_MS, and no more than AMPLIFY_BURST
 *     replies longer than their request.
 *
 * Why: a UDP server answers forged sources; a reply longer than its
 * request makes it an amplifier, and a guard that misses a case lets two
 * services bounce datagrams between them for ever.
 */
#include "fuzz.h"
#include "sk_error.h"
#include "sk_server.h"

#include <string.h>
#include <time.h>

#define LOOP_BURST 8
#define LOOP_INTERVAL_MS 2000
#define AMPLIFY_BURST 5
#define CHARGEN_UDP_MAX 512
#define DAYTIME_MAX 64

static const struct sk_service *const *services;
static struct sk_instance instances[16];
static size_t nservices;
static const struct sk_service_config no_config;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    services = sk_service_list();
    for (nservices = 0; services[nservices] != NULL; nservices++) {
        const struct sk_service *svc = services[nservices];
        FUZZ_CHECK(nservices < sizeof instances / sizeof *instances, "too many services");
        FUZZ_CHECK(!(svc->flags & SK_SERVICE_UDP) == !svc->on_datagram,
                   "%s: UDP flag and on_datagram disagree", svc->name);
        /* The file service needs a root; it has no datagrams anyway. */
        if (svc->on_datagram != NULL)
            FUZZ_CHECK(sk__instance_open(&instances[nservices], svc, &no_config, NULL) == 0,
                       "%s: instance", svc->name);
    }
    return 0;
}

/* ---- the guard ----------------------------------------------------------- */

static int expect_drop(const struct sockaddr *sa, int own_port)
{
    static const int loop_ports[] = { 0, 7, 9, 13, 19, 37 };
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const void *)sa;
        int port = ntohs(v4->sin_port);
        uint32_t a = ntohl(v4->sin_addr.s_addr);
        for (size_t i = 0; i < sizeof loop_ports / sizeof *loop_ports; i++)
            if (port == loop_ports[i])
                return 1;
        return port == own_port || (a >> 28) == 0xe || a == 0xffffffffu || a == 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const void *)sa;
        int port = ntohs(v6->sin6_port);
        for (size_t i = 0; i < sizeof loop_ports / sizeof *loop_ports; i++)
            if (port == loop_ports[i])
                return 1;
        const uint8_t *b = v6->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(b, mapped, sizeof mapped) == 0) { /* ::ffff:a.b.c.d, as IPv4 */
            uint32_t a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
            return port == own_port || (a >> 28) == 0xe || a == 0xffffffffu || a == 0;
        }
        return port == own_port || b[0] == 0xff;
    }
    return 1; /* not an address a reply could go to */
}

static void check_guard(const struct sockaddr *sa, int own_port)
{
    const char *why = sk_datagram_guard(sa, own_port);
    int drop = expect_drop(sa, own_port);
    FUZZ_CHECK((why != NULL) == drop, "family %d, own port %d: guard says %s", sa->sa_family,
               own_port, why ? why : "answer");
    if (why != NULL)
        FUZZ_CHECK(why[0] != '\0' && strlen(why) < 100, "reason \"%s\"", why);
}

/* ---- one service, one datagram -------------------------------------------- */

static int chargen_byte(size_t i)
{
    size_t line = i / 74, col = i % 74;
    return col == 72 ? '\r' : col == 73 ? '\n' : ' ' + (int)((line + col) % 95);
}

/* The reply rule for svc answering in (len bytes) with reply (n bytes)
 * into a buffer of cap bytes. */
static void check_reply(const struct sk_service *svc, const uint8_t *in, size_t len,
                        const uint8_t *reply, size_t n, size_t cap)
{
    const char *name = svc->name;
    FUZZ_CHECK(n <= cap, "%s: %zu-byte reply in a %zu-byte buffer", name, n, cap);
    if (strcmp(name, "time") == 0) {
        FUZZ_CHECK(n == (cap >= 4 ? 4u : 0u), "time: %zu bytes", n);
        return;
    }
    if (strcmp(name, "daytime") == 0) {
        if (n == 0)
            return; /* a buffer too small for the line: no half line */
        FUZZ_CHECK(n <= DAYTIME_MAX && n >= 2 && reply[n - 2] == '\r' && reply[n - 1] == '\n' &&
                       memchr(reply, '\n', n - 1) == NULL && memcmp(reply + n - 6, "-UTC", 4) == 0,
                   "daytime: \"%.*s\"", (int)n, (const char *)reply);
        for (size_t i = 0; i + 2 < n; i++)
            FUZZ_CHECK(reply[i] >= 0x20 && reply[i] < 0x7f, "daytime: byte 0x%02x", reply[i]);
        return;
    }
    FUZZ_CHECK(n <= len, "%s: %zu-byte reply to a %zu-byte datagram", name, n, len);
    if (strcmp(name, "echo") == 0) {
        FUZZ_CHECK(n == (len < cap ? len : cap) && (n == 0 || memcmp(reply, in, n) == 0),
                   "echo: %zu bytes back for %zu", n, len);
    } else if (strcmp(name, "discard") == 0) {
        FUZZ_CHECK(n == 0, "discard answered");
    } else if (strcmp(name, "chargen") == 0) {
        size_t want = len < CHARGEN_UDP_MAX ? len : CHARGEN_UDP_MAX;
        FUZZ_CHECK(n == (want < cap ? want : cap), "chargen: %zu bytes for %zu", n, len);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(reply[i] == chargen_byte(i), "chargen byte %zu", i);
    }
}

static void check_services(const uint8_t *in, size_t len, size_t cap)
{
    for (size_t i = 0; i < nservices; i++) {
        const struct sk_service *svc = services[i];
        if (svc->on_datagram == NULL)
            continue;
        uint8_t *reply = malloc(cap ? cap : 1);
        FUZZ_CHECK(reply != NULL, "out of memory");
        size_t n = svc->on_datagram(&instances[i], in, len, reply, cap);
        check_reply(svc, in, len, reply, n, cap);
        free(reply);
    }
}

/* ---- the server's path ------------------------------------------------------ */

static void check_log(void *ctx, enum sk_log_level level, const char *message)
{
    (void)ctx;
    (void)level;
    FUZZ_CHECK(strlen(message) < 1024, "log line");
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* rounds datagrams from one source to service i: round 0 sends in, a
 * later round sends back the last reply (a reflecting peer) when its bit
 * in reflect_mask is set, else in again. */
static void check_server(size_t i, const struct sockaddr *from, int own_port, size_t bufsize,
                         const uint8_t *in, size_t len, unsigned rounds, unsigned reflect_mask)
{
    const struct sk_service *svc = services[i];
    struct sk_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.logger.write = check_log;
    struct sk_server srv;
    memset(&srv, 0, sizeof srv);
    srv.cfg = &cfg;
    srv.service = svc;
    srv.instance = instances[i];
    srv.port = own_port;
    srv.buffer_size = bufsize;
    FUZZ_CHECK(sk__reflect_open(&srv.reflect) == 0, "reflect");

    uint8_t *reply = malloc(bufsize), *last = malloc(bufsize), *direct = malloc(bufsize);
    FUZZ_CHECK(reply != NULL && last != NULL && direct != NULL, "out of memory");
    size_t last_len = 0;
    int guarded = sk_datagram_guard(from, own_port) != NULL;
    int timed = strcmp(svc->name, "time") == 0 || strcmp(svc->name, "daytime") == 0;
    unsigned answered = 0, amplified = 0;
    int exact = 1; /* the model below knows the guard's count */
    uint64_t start = now_ms();

    for (unsigned r = 0; r < rounds; r++) {
        const uint8_t *d = in;
        size_t dlen = len;
        if (r > 0 && (reflect_mask >> (r % 16) & 1) && last_len > 0) {
            d = last;
            dlen = last_len;
        }
        int truncated = dlen > bufsize;
        size_t n = 12345;
        sk__datagram_handle(&srv, d, dlen, truncated, from, reply, &n);
        FUZZ_CHECK(srv.stats.datagrams == r + 1, "datagram count");
        FUZZ_CHECK(n <= bufsize, "%zu-byte reply in a %zu-byte buffer", n, bufsize);
        if (guarded || truncated) {
            FUZZ_CHECK(n == 0, "answered a datagram it should drop (%s)",
                       guarded ? "guard" : "truncated");
            continue;
        }
        /* Past the first refill of the guard's bucket the count changes;
         * the model only checks replies from then on. */
        exact = exact && now_ms() - start < LOOP_INTERVAL_MS / 2;
        if (n > 0) {
            answered++;
            amplified += n > dlen;
        }
        if (exact) {
            FUZZ_CHECK(answered <= 1 + LOOP_BURST, "%s answered %u datagrams in a row",
                       svc->name, answered);
            FUZZ_CHECK(amplified <= AMPLIFY_BURST, "%s amplified %u replies", svc->name,
                       amplified);
        }
        size_t want = svc->on_datagram(&instances[i], d, dlen, direct, bufsize);
        if (n > 0)
            check_reply(svc, d, dlen, reply, n, bufsize);
        if (n > 0 && !timed)
            FUZZ_CHECK(n == want, "%s: %zu bytes through the server, %zu direct", svc->name, n,
                       want);
        /* A withheld reply needs a reason the guard has: the loop bucket
         * is empty, or the reply would be longer than its request. */
        if (exact && n == 0 && want > 0)
            FUZZ_CHECK(answered >= 1 + LOOP_BURST || want > dlen,
                       "%s withheld reply %u to a %zu-byte datagram", svc->name, r, dlen);
        if (n > 0) {
            memcpy(last, reply, n);
            last_len = n;
        }
    }
    sk__reflect_close(srv.reflect);
    free(reply);
    free(last);
    free(direct);
}

/*
 * Input: family (bits 0-1: IPv4, IPv6, IPv6, raw family from the address
 * bytes), own port (2 bytes), buffer size (2 bytes), rounds, reflect mask
 * (2 bytes), 28 address bytes, then the datagram.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = { data, size };
    uint8_t family = fuzz_byte(&in);
    int own_port = (int)fuzz_u16(&in);
    size_t bufsize = fuzz_u16(&in) + 1; /* 1 to 65536 */
    unsigned rounds = fuzz_byte(&in) % 20 + 1;
    unsigned reflect_mask = fuzz_u16(&in);
    const uint8_t *addr_bytes, *datagram;
    size_t addr_len = fuzz_take(&in, sizeof(struct sockaddr_in6), &addr_bytes);
    size_t len = fuzz_take(&in, in.len, &datagram);

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    size_t want = (family & 3) == 0 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    memcpy(&ss, addr_bytes, addr_len < want ? addr_len : want);
    if ((family & 3) == 0)
        ss.ss_family = AF_INET;
    else if ((family & 3) != 3)
        ss.ss_family = AF_INET6;
    const struct sockaddr *from = (const struct sockaddr *)&ss;

    check_guard(from, own_port);
    /* The datagram in a buffer of its own size: ASan sees overreads. */
    uint8_t *dg = malloc(len ? len : 1);
    FUZZ_CHECK(dg != NULL, "out of memory");
    if (len > 0)
        memcpy(dg, datagram, len);
    check_services(dg, len, bufsize);
    /* The kernel only hands the server IPv4 and IPv6 sources. */
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        size_t i = (size_t)(family >> 2) % nservices;
        if (services[i]->on_datagram != NULL)
            check_server(i, from, own_port, bufsize, dg, len, rounds, reflect_mask);
    }
    free(dg);
    return 0;
}
