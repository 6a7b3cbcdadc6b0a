/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bench_stream.h - what `sockit bench --stream` prints: bits and bytes per
 * second, a line (or a JSON object) per interval and a final one.  The
 * measuring is sk_bench_run() in SK_BENCH_STREAM_SEND or _RECV mode.
 */
#ifndef SOCKIT_BENCH_STREAM_H
#define SOCKIT_BENCH_STREAM_H

#include "cli_json.h"
#include "sk_bench.h"

/* One interval: a progress line on stderr and/or a JSON object on stdout. */
void bench_stream_interval(const struct sk_bench_report *r, int json, int progress);
/* The whole run, as text on stdout or one JSON object (record gives the
 * object with its type and stamp; this adds the rest and writes it). */
void bench_stream_final(const struct sk_bench_config *cfg, const struct sk_bench_report *r,
                        double cpu_user_s, double cpu_sys_s, struct cli_json *record);

#endif
