/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_peerlimit.c - connections per client address, for --max-per-ip.
 *
 * A chained hash table of the addresses that hold a connection now; an
 * entry is made when an address connects and freed when its last
 * connection ends, so the table never holds more entries than there are
 * connections (which --max-conns bounds).
 */
#include "sk_peerlimit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096 /* a power of two */

struct entry {
    struct entry *next;
    struct sk__peer_key key;
    long count;
};

struct sk__peerlimit {
    long limit;
    sk__mutex_t *lock;
    struct entry *buckets[BUCKETS];
};

int sk__peerlimit_open(long limit, struct sk__peerlimit **out)
{
    struct sk__peerlimit *pl = calloc(1, sizeof *pl);
    if (pl == NULL)
        return -ENOMEM;
    if ((pl->lock = sk__mutex_new()) == NULL) {
        free(pl);
        return -ENOMEM;
    }
    pl->limit = limit;
    *out = pl;
    return 0;
}

void sk__peerlimit_close(struct sk__peerlimit *pl)
{
    if (pl == NULL)
        return;
    for (size_t i = 0; i < BUCKETS; i++) {
        while (pl->buckets[i] != NULL) {
            struct entry *e = pl->buckets[i];
            pl->buckets[i] = e->next;
            free(e);
        }
    }
    sk__mutex_free(pl->lock);
    free(pl);
}

void sk__peer_key_of(const struct sockaddr *sa, struct sk__peer_key *key)
{
    memset(key, 0, sizeof *key);
    if (sa->sa_family == AF_INET6) {
        memcpy(key->bytes, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else if (sa->sa_family == AF_INET) {
        key->bytes[10] = key->bytes[11] = 0xff; /* ::ffff:a.b.c.d */
        memcpy(key->bytes + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    }
}

static size_t bucket_of(const struct sk__peer_key *key)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (int i = 0; i < 16; i++) {
        h ^= key->bytes[i];
        h *= 1099511628211ULL;
    }
    return (size_t)(h & (BUCKETS - 1));
}

int sk__peerlimit_enter(struct sk__peerlimit *pl, const struct sk__peer_key *key)
{
    size_t b = bucket_of(key);
    int rc = 1;
    sk__mutex_lock(pl->lock);
    struct entry *e = pl->buckets[b];
    while (e != NULL && memcmp(&e->key, key, sizeof *key) != 0)
        e = e->next;
    if (e == NULL) {
        if ((e = calloc(1, sizeof *e)) == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        e->key = *key;
        e->next = pl->buckets[b];
        pl->buckets[b] = e;
    }
    if (e->count >= pl->limit)
        rc = 0;
    else
        e->count++;
out:
    sk__mutex_unlock(pl->lock);
    return rc;
}

void sk__peerlimit_leave(struct sk__peerlimit *pl, const struct sk__peer_key *key)
{
    size_t b = bucket_of(key);
    sk__mutex_lock(pl->lock);
    struct entry **p = &pl->buckets[b];
    while (*p != NULL && memcmp(&(*p)->key, key, sizeof *key) != 0)
        p = &(*p)->next;
    struct entry *e = *p;
    if (e != NULL && --e->count <= 0) {
        *p = e->next;
        free(e);
    }
    sk__mutex_unlock(pl->lock);
}
