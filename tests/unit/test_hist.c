/* SPDX-License-Identifier: BSD-2-Clause */
/* The latency histogram: bucket edges, percentiles, exact merging. */
#include "sk_hist.h"
#include "unit.h"

#include <stdlib.h>

TEST(hist_small_values_are_exact)
{
    static struct sk_hist h;
    sk_hist_init(&h);
    for (uint64_t v = 1; v <= 100; v++)
        sk_hist_record(&h, v);
    CHECK_INT(h.count, 100);
    CHECK_INT(sk_hist_quantile(&h, 0.5), 50);
    CHECK_INT(sk_hist_quantile(&h, 0.99), 99);
    CHECK_INT(sk_hist_quantile(&h, 1.0), 100);
    CHECK_INT(sk_hist_quantile(&h, 0.0), 1);
}

TEST(hist_relative_error_is_bounded)
{
    for (uint64_t v = 128; v < ((uint64_t)1 << 40); v = v * 3 / 2 + 7) {
        size_t i = sk_hist_index(v);
        uint64_t high = sk_hist_bucket_high(i);
        if (high < v || (double)(high - v) > (double)v / 64.0)
            unit_fail(__FILE__, __LINE__, "value %llu -> bucket high %llu",
                      (unsigned long long)v, (unsigned long long)high);
        if (i > 0 && sk_hist_bucket_high(i - 1) >= v)
            unit_fail(__FILE__, __LINE__, "value %llu fits an earlier bucket",
                      (unsigned long long)v);
    }
}

TEST(hist_merge_equals_recording_everything)
{
    static struct sk_hist a, b, all;
    sk_hist_init(&a);
    sk_hist_init(&b);
    sk_hist_init(&all);
    srand(7);
    for (int i = 0; i < 100000; i++) {
        uint64_t v = (uint64_t)rand() % 5000000 + 1000;
        sk_hist_record(i % 3 ? &a : &b, v);
        sk_hist_record(&all, v);
    }
    sk_hist_merge(&a, &b);
    CHECK_INT(a.count, all.count);
    CHECK_INT(a.min, all.min);
    CHECK_INT(a.max, all.max);
    static const double qs[] = { 0.5, 0.9, 0.99, 0.999, 1.0 };
    for (size_t i = 0; i < 5; i++)
        CHECK_INT(sk_hist_quantile(&a, qs[i]), sk_hist_quantile(&all, qs[i]));
}

TEST(hist_empty_and_huge)
{
    static struct sk_hist h;
    sk_hist_init(&h);
    CHECK_INT(sk_hist_quantile(&h, 0.99), 0);
    sk_hist_record(&h, UINT64_MAX);
    CHECK_INT(sk_hist_quantile(&h, 0.5), UINT64_MAX);
}
