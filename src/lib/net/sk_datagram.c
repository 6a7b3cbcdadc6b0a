/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_datagram.c - what every UDP model shares below the server: the loop
 * guard, the reply guard (loops and amplification), and a batch of
 * datagrams' buffers and system calls.  sk_server_udp.c puts them to work
 * for a server's service.
 *
 * Two services that answer anything (echo, chargen, daytime, time) can be
 * made to answer each other forever by one forged datagram.  The BSD
 * inetds refuse datagrams from the well-known ports of such services and
 * from their own port (sk_datagram_guard).  That cannot help when both
 * servers run on arbitrary ports, so the reply guard (sk_reflect_*) looks
 * at what a source sends and when, and keeps per-source accounting in
 * fixed tables under one lock.
 *
 * What tells a loop from a fast client.  Timing alone cannot: a benchmark
 * client sends its next request the moment an answer comes back, exactly
 * like a server caught in a loop, and just as fast.  What differs is whose
 * bytes the datagram carries.  A client's requests are its own (sockit
 * bench numbers every datagram); a loop peer is a server, and every
 * datagram it sends is its reply to ours, so it is one of two kinds:
 *
 *   - our own recent reply coming back (the peer is an echo service, or
 *     chargen answering chargen, or the same time of day twice).  Every
 *     reply we send is remembered for a second in a table keyed by
 *     (source, digest of the reply), so a reply comes back recognised
 *     even when many datagrams are in flight at once and arrive
 *     interleaved (twenty forged datagrams make twenty loops);
 *   - bytes the peer made up itself (daytime's line, time's 4 bytes,
 *     chargen's pattern), which we, if we are such a service too, answer
 *     with bytes we made up: our reply is not the request coming back.
 *     Such a reply to a datagram arriving within a second of our previous
 *     reply to the same source is what services that ignore their request
 *     do in a loop; an echo reply never is.
 *
 * Either kind is "an answer to us", and answers are limited per source by
 * a token bucket: LOOP_BURST of them, then one every LOOP_INTERVAL_MS,
 * which is slower than the one-second window that makes a datagram an
 * answer.  So any loop the window sees drains the bucket and loses a
 * datagram, and a loop that loses its datagram is over: an exchange
 * started by forged datagrams dies after about LOOP_BURST round trips
 * whichever two services (echo, chargen, daytime, time; discard never
 * answers) and ports are involved.  A loop slower than one round trip a
 * second is not seen; it costs nothing.
 *
 * What legitimate clients see.  An echo client is limited only when it
 * sends a datagram identical to one we answered it in the last second,
 * more than LOOP_BURST times (sockit bench and sockit echo -u never do).
 * A client asking daytime, time or chargen again within a second of its
 * last answer gets LOOP_BURST answers, then one every two seconds: those
 * services have nothing new to say faster than that.
 *
 * Amplification.  daytime answers an empty datagram with a line and time
 * with 4 bytes, as RFCs 867 and 868 say; from a forged source that makes
 * the server an amplifier aimed at the victim.  As DNS servers do (BIND's
 * response-rate limiting), a reply longer than its request is limited per
 * source: AMPLIFY_BURST of them, then one every AMPLIFY_INTERVAL_MS (5 a
 * second).
 *
 * Drops are counted (the stop line's "dropped"); a limited source is
 * logged once when limiting starts, and again only after it has been
 * quiet long enough for its bucket to fill, not once per datagram.
 *
 * Memory is fixed: SOURCE_SLOTS sources and REPLY_SLOTS remembered
 * replies, each a hash-indexed slot that a newcomer takes over.  A source
 * evicted by a colliding one starts again with full buckets, so an
 * attacker who forges datagrams to evict a loop's slot buys it a few more
 * round trips per datagram forged: a loop never outlives the forging.
 * The cost per answered datagram is one uncontended lock and three
 * sampled hashes; no system call.
 */
#include "sk_datagram.h"
#include "sk_addr.h"
#include "sk_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE_SLOTS 1024
#define REPLY_SLOTS 4096
#define ANSWER_WINDOW_MS 1000 /* a datagram this soon after our reply may answer it */
#define LOOP_BURST 8
#define LOOP_INTERVAL_MS 2000 /* > ANSWER_WINDOW_MS: every loop seen drains */
#define AMPLIFY_BURST 5
#define AMPLIFY_INTERVAL_MS 200 /* 5 a second */

/* A token bucket kept as one time (GCRA): tat is when the bucket will be
 * full again.  An event is allowed unless that is more than burst - 1
 * intervals away; each allowed event pushes it one interval later. */
struct bucket {
    uint64_t tat;
    int limited; /* dropping since the bucket was last full: logged once */
};

struct source_slot {
    uint64_t key;           /* hash of the address; 0 = free */
    uint64_t last_reply_ms; /* our last reply to it, or the last one withheld */
    struct bucket loop, amplify;
};

struct reply_slot {
    uint64_t key; /* hash of (source, reply digest); 0 = free */
    uint64_t sent_ms;
};

struct sk__reflect {
    sk__mutex_t *lock; /* event-loop workers share one server */
    struct source_slot sources[SOURCE_SLOTS];
    struct reply_slot replies[REPLY_SLOTS];
};

static size_t peer_len(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                     : sizeof(struct sockaddr_in);
}

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t len)
{
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix64(h ^ w);
    }
    uint64_t w = 0;
    memcpy(&w, p, len);
    return mix64(h ^ w ^ (uint64_t)len << 56);
}

/* A digest of the length and the first and last 64 bytes: enough to
 * recognise a datagram coming back verbatim, cheap for large ones (a
 * 64 KiB datagram is not read whole once more per round trip). */
static uint64_t digest(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = mix64(len + 0x9e3779b97f4a7c15ULL);
    if (len <= 128)
        return hash_bytes(h, p, len);
    return hash_bytes(hash_bytes(h, p, 64), p + len - 64, 64);
}

/* Never 0, which marks a free slot. */
static uint64_t address_key(const struct sockaddr *from)
{
    return digest(from, peer_len(from)) | 1;
}

static int bucket_take(struct bucket *b, uint64_t now, uint64_t interval, uint64_t burst)
{
    uint64_t tat = b->tat > now ? b->tat : now;
    if (tat - now > (burst - 1) * interval)
        return 0;
    if (b->tat <= now)
        b->limited = 0; /* it was full: a new episode gets a new log line */
    b->tat = tat + interval;
    return 1;
}

static struct source_slot *source_for(struct sk__reflect *r, uint64_t key)
{
    struct source_slot *s = &r->sources[key % SOURCE_SLOTS];
    if (s->key != key) {
        memset(s, 0, sizeof *s);
        s->key = key;
    }
    return s;
}

/* Where the reply with this digest to this source is remembered. */
static struct reply_slot *reply_slot_for(struct sk__reflect *r, uint64_t key)
{
    return &r->replies[key % REPLY_SLOTS];
}

static uint64_t reply_key(uint64_t source, uint64_t reply_digest)
{
    return mix64(source ^ reply_digest) | 1;
}

int sk__reflect_open(struct sk__reflect **out)
{
    struct sk__reflect *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    if ((r->lock = sk__mutex_new()) == NULL) {
        free(r);
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

void sk__reflect_close(struct sk__reflect *r)
{
    if (r == NULL)
        return;
    sk__mutex_free(r->lock);
    free(r);
}

static const char why_loop[] =
    "it keeps answering our replies (a loop with another UDP service?)";
static const char why_amplify[] =
    "replies longer than the request are limited to 5 a second per source";

/* Under the lock: the verdict on one reply, and its bookkeeping. */
static const char *judge(struct sk__reflect *r, uint64_t now, uint64_t source, uint64_t in_digest,
                         size_t len, uint64_t reply_digest, size_t reply_len, int *first)
{
    struct source_slot *s = source_for(r, source);
    uint64_t in_key = reply_key(source, in_digest);
    const struct reply_slot *came_back = reply_slot_for(r, in_key);
    int reflected = came_back->key == in_key && now - came_back->sent_ms <= ANSWER_WINDOW_MS;
    int own_bytes = reply_len == len && reply_digest == in_digest;
    int soon = s->last_reply_ms != 0 && now - s->last_reply_ms <= ANSWER_WINDOW_MS;
    int answer = reflected || (soon && !own_bytes);

    struct bucket *denied = NULL;
    if (reply_len > len && !bucket_take(&s->amplify, now, AMPLIFY_INTERVAL_MS, AMPLIFY_BURST))
        denied = &s->amplify;
    else if (answer && !bucket_take(&s->loop, now, LOOP_INTERVAL_MS, LOOP_BURST))
        denied = &s->loop;
    if (denied != NULL) {
        /* A source that keeps sending stays one that answers us. */
        s->last_reply_ms = now;
        *first = !denied->limited;
        denied->limited = 1;
        return denied == &s->loop ? why_loop : why_amplify;
    }
    uint64_t out_key = reply_key(source, reply_digest);
    struct reply_slot *sent = reply_slot_for(r, out_key);
    sent->key = out_key;
    sent->sent_ms = now;
    s->last_reply_ms = now;
    return NULL;
}

const char *sk__reflect_judge(struct sk__reflect *r, const struct sockaddr *from, const void *in,
                             size_t len, const void *reply, size_t reply_len, int *first)
{
    *first = 0;
    if (r == NULL)
        return NULL;
    /* The hashes outside the lock: workers contend only for the tables. */
    uint64_t source = address_key(from);
    uint64_t in_digest = digest(in, len), reply_digest = digest(reply, reply_len);
    uint64_t now = sk_now_ms();
    sk__mutex_lock(r->lock);
    const char *why = judge(r, now, source, in_digest, len, reply_digest, reply_len, first);
    sk__mutex_unlock(r->lock);
    return why;
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

int sk__datagram_batch_new(size_t size, struct sk__datagram_batch **out)
{
    /* One byte more than the largest datagram answered in each receive
     * buffer: a datagram that fills it was cut (where MSG_TRUNC is not). */
    struct sk__datagram_batch *b = malloc(sizeof *b + SK_DATAGRAM_BATCH * (2 * size + 1));
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

void sk__datagram_batch_free(struct sk__datagram_batch *b)
{
    free(b);
}


int sk__datagram_batch_recv(sk_socket_t fd, struct sk__datagram_batch *b)
{
    int got = sk__recv_batch(fd, b->rx, SK_DATAGRAM_BATCH);
    if (got < 0) {
        /* Nothing waiting, or a previous reply's ICMP port unreachable
         * (a reset on Windows): it concerns that peer, not the server. */
        if (sk__error_would_block(got) || got == -EINTR || sk_error_is(got, ECONNREFUSED) ||
            sk_error_is(got, ECONNRESET))
            return 0;
    }
    return got;
}

void sk__datagram_batch_send(sk_socket_t fd, const struct sk__datagram_batch *b, int n)
{
    /* UDP promises nothing: a reply the socket will not take now is lost,
     * as it would be on the wire. */
    for (int sent = 0; sent < n;) {
        int rc = sk__send_batch(fd, b->tx + sent, n - sent);
        if (rc <= 0)
            break;
        sent += rc;
    }
}
