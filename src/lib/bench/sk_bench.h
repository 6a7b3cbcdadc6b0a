/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_bench.h - the library's view of sockit/bench.h (the load
 * generator), which is public; its internals are sk_bench_internal.h.
 */
#ifndef SK_BENCH_H
#define SK_BENCH_H

#include <sockit/bench.h>

#include "sk_compat.h"
#include "sk_hist.h"

#endif
