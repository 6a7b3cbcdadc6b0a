/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_hist.c - log-linear latency histogram.
 */
#include "sk_hist.h"

#include <string.h>

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h> /* _BitScanReverse64: cl has no __builtin_clzll */
#endif

#define SUB (1u << SK_HIST_SUB_BITS)

void sk_hist_init(struct sk_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

/* The index of v's highest set bit; v > 0. */
static unsigned msb(uint64_t v)
{
#if defined(_MSC_VER) && !defined(__clang__)
    unsigned long i;
    _BitScanReverse64(&i, v);
    return (unsigned)i;
#else
    return 63u - (unsigned)__builtin_clzll(v);
#endif
}

size_t sk_hist_index(uint64_t v)
{
    if (v < SK_HIST_LINEAR)
        return (size_t)v;
    unsigned m = msb(v); /* >= 7 */
    if (m >= 7 + SK_HIST_OCTAVES)
        return SK_HIST_BUCKETS - 1;
    uint64_t sub = (v >> (m - SK_HIST_SUB_BITS)) & (SUB - 1);
    return SK_HIST_LINEAR + (size_t)(m - 7) * SUB + (size_t)sub;
}

uint64_t sk_hist_bucket_high(size_t i)
{
    if (i < SK_HIST_LINEAR)
        return (uint64_t)i;
    size_t k = i - SK_HIST_LINEAR;
    unsigned m = 7 + (unsigned)(k / SUB);
    uint64_t sub = k % SUB;
    uint64_t low = (SUB + sub) << (m - SK_HIST_SUB_BITS);
    return low + ((uint64_t)1 << (m - SK_HIST_SUB_BITS)) - 1;
}

void sk_hist_record(struct sk_hist *h, uint64_t v)
{
    h->buckets[sk_hist_index(v)]++;
    h->count++;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void sk_hist_merge(struct sk_hist *into, const struct sk_hist *from)
{
    if (from->count == 0)
        return;
    for (size_t i = 0; i < SK_HIST_BUCKETS; i++)
        into->buckets[i] += from->buckets[i];
    into->count += from->count;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t sk_hist_quantile(const struct sk_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q <= 0)
        return h->min;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.9999999);
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (size_t i = 0; i < SK_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = sk_hist_bucket_high(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}
