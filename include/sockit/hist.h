/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockit/hist.h - a latency histogram that merges exactly.
 *
 * Values (nanoseconds) are counted in log-linear buckets: every value
 * below 128 has its own bucket, and each power of two above that is cut
 * into 64 equal buckets, so a reported percentile is never more than
 * 1/64 (1.6 %) above the true value.  Buckets only ever add, which makes
 * merging two histograms, from two threads or two machines, exact: the
 * merged percentiles are those of the combined samples.  This is the
 * HdrHistogram idea in ~150 lines.
 */
#ifndef SOCKIT_HIST_H
#define SOCKIT_HIST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SK_HIST_LINEAR 128
#define SK_HIST_SUB_BITS 6
#define SK_HIST_OCTAVES 41 /* up to 2^48 ns, about 78 hours */
#define SK_HIST_BUCKETS (SK_HIST_LINEAR + SK_HIST_OCTAVES * (1 << SK_HIST_SUB_BITS))

struct sk_hist {
    uint64_t count;
    uint64_t min, max; /* exact, in ns; min is UINT64_MAX when empty */
    uint64_t buckets[SK_HIST_BUCKETS];
};

void sk_hist_init(struct sk_hist *h);
void sk_hist_record(struct sk_hist *h, uint64_t value);
void sk_hist_merge(struct sk_hist *into, const struct sk_hist *from);
/* The value at quantile q (0..1): the upper edge of the bucket that holds
 * the ceil(q * count)-th smallest sample, capped at the exact max. 0 when
 * empty. */
uint64_t sk_hist_quantile(const struct sk_hist *h, double q);

/* Bucket index and edges, for serialising and tests. */
size_t sk_hist_index(uint64_t value);
uint64_t sk_hist_bucket_high(size_t index);

#ifdef __cplusplus
}
#endif

#endif
