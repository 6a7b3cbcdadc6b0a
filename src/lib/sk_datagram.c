/*
 * sk_datagram.c - what every UDP model shares: the loop guard, the
 * reflection guard, and the textbook recvfrom/sendto loop.
 *
 * Two services that answer anything (echo, chargen, daytime, time) can be
 * made to answer each other forever by one forged datagram.  The BSD
 * inetds refuse datagrams from the well-known ports of such services and
 * from their own port (sk_datagram_guard).  That cannot help when both
 * servers run on arbitrary ports, and nothing in a datagram tells an
 * echo service's reflection from a client that repeats itself, so the
 * reflection guard counts instead: a peer that sends back, again and
 * again, exactly the reply we last sent it, within a second each time, is
 * answered REFLECT_LIMIT times and then ignored until it stops.  A loop
 * dies after a few round trips; a client has to repeat the same datagram
 * more than REFLECT_LIMIT times in a row, each within a second of our
 * answer, to be affected.
 */
#include "sk_server.h"
#include "sk_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define REFLECT_SLOTS 1024
#define REFLECT_LIMIT 8
#define REFLECT_WINDOW_MS 1000

struct reflect_slot {
    struct sockaddr_storage peer;
    sk_socklen_t peer_len;
    uint64_t reply_digest;
    size_t reply_len;
    uint64_t reply_ms;
    unsigned reflections;
};

struct sk_reflect {
    sk_mutex_t *lock; /* event-loop workers share one server */
    struct reflect_slot slots[REFLECT_SLOTS];
};

static size_t peer_len(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                     : sizeof(struct sockaddr_in);
}

/* FNV-1a over a sample: length, the first and the last 64 bytes.  Enough
 * to recognise a datagram coming back verbatim, cheap for large ones. */
static uint64_t digest(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ULL ^ len;
    size_t head = len < 64 ? len : 64;
    for (size_t i = 0; i < head; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    for (size_t i = len > 128 ? len - 64 : head; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static struct reflect_slot *slot_for(struct sk_reflect *r, const struct sockaddr *from)
{
    uint64_t h = digest(from, peer_len(from));
    return &r->slots[h % REFLECT_SLOTS];
}

static int same_peer(const struct reflect_slot *slot, const struct sockaddr *from)
{
    size_t len = peer_len(from);
    return (size_t)slot->peer_len == len && memcmp(&slot->peer, from, len) == 0;
}

int sk_reflect_open(struct sk_reflect **out)
{
    struct sk_reflect *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    if ((r->lock = sk_mutex_new()) == NULL) {
        free(r);
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

void sk_reflect_close(struct sk_reflect *r)
{
    if (r == NULL)
        return;
    sk_mutex_free(r->lock);
    free(r);
}

int sk_reflect_check(struct sk_reflect *r, const struct sockaddr *from, const void *data,
                     size_t len)
{
    if (r == NULL)
        return 0;
    uint64_t now = sk_now_ms();
    sk_mutex_lock(r->lock);
    struct reflect_slot *slot = slot_for(r, from);
    int reflected = same_peer(slot, from) && slot->reply_len == len &&
                    now - slot->reply_ms <= REFLECT_WINDOW_MS &&
                    slot->reply_digest == digest(data, len);
    if (!reflected) {
        slot->reflections = 0;
    } else if (slot->reflections < REFLECT_LIMIT) {
        slot->reflections++;
        reflected = 0; /* still within what a repeating client may do */
    } else {
        slot->reply_ms = now; /* keep ignoring while it keeps coming */
    }
    sk_mutex_unlock(r->lock);
    return reflected;
}

void sk_reflect_remember(struct sk_reflect *r, const struct sockaddr *to, const void *reply,
                         size_t len)
{
    if (r == NULL)
        return;
    uint64_t now = sk_now_ms();
    sk_mutex_lock(r->lock);
    struct reflect_slot *slot = slot_for(r, to);
    if (!same_peer(slot, to)) {
        memcpy(&slot->peer, to, peer_len(to));
        slot->peer_len = (sk_socklen_t)peer_len(to);
        slot->reflections = 0;
    }
    slot->reply_digest = digest(reply, len);
    slot->reply_len = len;
    slot->reply_ms = now;
    sk_mutex_unlock(r->lock);
}

static int ipv4_multicast_or_broadcast(uint32_t a)
{
    return (a >> 28) == 0xe || a == 0xffffffffu || a == 0;
}

/* A dual-stack socket sees IPv4 senders as ::ffff:a.b.c.d: those get the
 * IPv4 checks too. */
static int is_multicast_or_broadcast(const struct sockaddr *from)
{
    if (from->sa_family == AF_INET)
        return ipv4_multicast_or_broadcast(
            ntohl(((const struct sockaddr_in *)from)->sin_addr.s_addr));
    if (from->sa_family == AF_INET6) {
        const uint8_t *b = ((const struct sockaddr_in6 *)from)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(b, mapped, sizeof mapped) == 0)
            return ipv4_multicast_or_broadcast((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
                                               (uint32_t)b[14] << 8 | b[15]);
        return b[0] == 0xff; /* IN6_IS_ADDR_MULTICAST */
    }
    return 1;
}

const char *sk_datagram_guard(const struct sockaddr *from, int own_port)
{
    /* inetd's rule: these ports belong to services that answer anything,
     * so answering them could start a loop that never ends. */
    static const int loop_ports[] = { 0, 7, 9, 13, 19, 37 };
    int port = sk_addr_port(from);
    for (size_t i = 0; i < sizeof loop_ports / sizeof *loop_ports; i++)
        if (port == loop_ports[i])
            return "source port of a service that answers back";
    if (port == own_port)
        return "source port is this server's own port";
    if (is_multicast_or_broadcast(from))
        return "multicast or broadcast source";
    return NULL;
}

void sk_datagram_handle(struct sk_server *srv, const uint8_t *in, size_t len,
                        int truncated, const struct sockaddr *from,
                        uint8_t *reply, size_t *reply_len)
{
    *reply_len = 0;
    srv->stats.datagrams++;
    const char *why = truncated ? "datagram truncated" : sk_datagram_guard(from, srv->port);
    if (why == NULL && sk_reflect_check(srv->reflect, from, in, len))
        why = "our own reply came back again and again (another echo service?)";
    if (why != NULL) {
        srv->stats.dropped++;
        char who[SK_ADDRSTRLEN] = "?";
        sk_addr_format(from, who, sizeof who);
        sk_log(&srv->cfg->logger, SK_LOG_DEBUG, "%s: dropped: %s (%lu dropped)",
               who, why, srv->stats.dropped);
        return;
    }
    if (srv->msglog != NULL)
        sk_msglog_write(srv->msglog, in, len);
    *reply_len = srv->service->on_datagram(&srv->instance, in, len, reply,
                                           srv->buffer_size);
    if (*reply_len > 0)
        sk_reflect_remember(srv->reflect, from, reply, *reply_len);
}

struct sk_datagram_batch {
    struct sk_dgram rx[SK_DATAGRAM_BATCH], tx[SK_DATAGRAM_BATCH];
    uint8_t data[];
};

int sk_datagram_batch_new(size_t size, struct sk_datagram_batch **out)
{
    /* One byte more than the largest datagram answered in each receive
     * buffer: a datagram that fills it was cut (where MSG_TRUNC is not). */
    struct sk_datagram_batch *b = malloc(sizeof *b + SK_DATAGRAM_BATCH * (2 * size + 1));
    if (b == NULL)
        return -ENOMEM;
    uint8_t *p = b->data;
    for (int i = 0; i < SK_DATAGRAM_BATCH; i++) {
        b->rx[i].data = p;
        b->rx[i].cap = size + 1;
        p += size + 1;
        b->tx[i].data = p;
        b->tx[i].cap = size;
        p += size;
    }
    *out = b;
    return 0;
}

void sk_datagram_batch_free(struct sk_datagram_batch *b)
{
    free(b);
}

int sk_datagram_serve_batch(struct sk_server *srv, sk_socket_t fd, struct sk_datagram_batch *b)
{
    int got = sk_recv_batch(fd, b->rx, SK_DATAGRAM_BATCH);
    if (got < 0) {
        /* Nothing waiting, or a previous reply's ICMP port unreachable
         * (a reset on Windows): it concerns that peer, not the server. */
        if (sk_error_would_block(got) || got == -EINTR || sk_error_is(got, ECONNREFUSED) ||
            sk_error_is(got, ECONNRESET))
            return 0;
        return got;
    }
    size_t size = srv->buffer_size;
    long max = srv->cfg->max_clients;
    int replies = 0;
    for (int i = 0; i < got; i++) {
        if (max > 0 && (long)srv->stats.datagrams >= max)
            break;
        struct sk_dgram *in = &b->rx[i], *out = &b->tx[replies];
        sk_datagram_handle(srv, in->data, in->len, in->truncated || in->len > size,
                           (const struct sockaddr *)&in->addr, out->data, &out->len);
        if (out->len > 0) {
            memcpy(&out->addr, &in->addr, (size_t)in->addrlen);
            out->addrlen = in->addrlen;
            replies++;
        }
    }
    /* UDP promises nothing: a reply the socket will not take now is lost,
     * as it would be on the wire. */
    for (int sent = 0; sent < replies;) {
        int n = sk_send_batch(fd, b->tx + sent, replies - sent);
        if (n <= 0)
            break;
        sent += n;
    }
    return got;
}

int sk_serve_datagrams(struct sk_server *srv)
{
    size_t size = srv->buffer_size;
    /* One byte more than the largest datagram accepted: a datagram that
     * fills it was cut short by the kernel and must not be half-answered. */
    uint8_t *in = malloc(size + 1), *out = malloc(size);
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        return -ENOMEM;
    }
    long max = srv->cfg->max_clients;
    while (!sk_server_stopping(srv) && (max <= 0 || (long)srv->stats.datagrams < max)) {
        struct sk_addr from;
        from.len = sizeof from.ss;
#ifdef _WIN32
        /* Nothing interrupts a blocking recvfrom() on Windows: wait in
         * slices and look at the stop flag between them. */
        if (sk_socket_wait(srv->listener, SK_WAIT_READ, 200) == 0)
            continue;
#endif
        long n = (long)recvfrom(srv->listener, (char *)in, size + 1, 0,
                                (struct sockaddr *)&from.ss, &from.len);
        if (n < 0) {
            int rc = sk_socket_error();
            if (rc == -EINTR || sk_error_would_block(rc))
                continue;
            /* A previous reply's ICMP port unreachable shows up here on
             * some stacks (Windows: as a reset): it concerns that peer,
             * not the server. */
            if (sk_error_is(rc, ECONNREFUSED) || sk_error_is(rc, ECONNRESET))
                continue;
            /* Winsock fails a datagram longer than the buffer instead of
             * cutting it: it was truncated. */
            if (sk_error_is(rc, EMSGSIZE)) {
                n = (long)size + 1;
            } else {
                free(in);
                free(out);
                return rc;
            }
        }
        size_t reply_len;
        sk_datagram_handle(srv, in, (size_t)n, (size_t)n > size,
                           (const struct sockaddr *)&from.ss, out, &reply_len);
        if (reply_len > 0)
            (void)!sendto(srv->listener, (const char *)out, reply_len, 0,
                          (const struct sockaddr *)&from.ss, from.len);
    }
    free(in);
    free(out);
    return 0;
}

