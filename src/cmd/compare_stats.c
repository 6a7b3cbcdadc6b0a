/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compare_stats.c - the runs of `sockit compare` summed up: per server and
 * point the median rate with its min-max and the median p99 over the
 * runs; per server the geometric mean of its medians over the points, and
 * how its p99 compares with the best peer's; the server's and the load
 * generator's CPU time per message, and the points where the generator
 * was busier than COMPARE_GENERATOR_SATURATED_PCT.
 *
 * Medians, not means: one run disturbed by a neighbour on the machine
 * moves a mean, not a median of three.  A server's summary counts only
 * when every run at every point worked: a geomean over the points it
 * survived would flatter the one that failed the hard ones.
 */
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct cell *compare_cell(const struct report *rp, int p, int s)
{
    return &rp->cells[p * rp->nservers + s];
}

double compare_share(double part, double whole)
{
    return whole > 0 ? 100.0 * part / whole : 0;
}

int compare_cell_clean(const struct cell *c)
{
    return c->nhave > 0 && c->failed_runs == 0 && c->errors == 0;
}

void compare_summarise_cell(struct cell *c, int repeat)
{
    double rates[64], p99s[64], srv_us[64], gen_us[64], gen_pct[64];
    int nper_msg = 0;
    c->nhave = 0;
    c->errors = c->user_s = c->sys_s = c->cpu_s = c->wall_s = 0;
    c->failed_runs = 0;
    for (int i = 0; i < repeat; i++) {
        const struct run *r = &c->runs[i];
        if (!r->have) {
            c->failed_runs++;
            continue;
        }
        rates[c->nhave] = r->msgs_per_s;
        p99s[c->nhave] = r->p99_us;
        gen_pct[c->nhave] = r->gen_cpu_pct;
        c->nhave++;
        /* Per message only where messages came back. */
        if (r->msgs > 0) {
            srv_us[nper_msg] = r->srv_us_per_msg;
            gen_us[nper_msg] = r->gen_us_per_msg;
            nper_msg++;
        }
        c->errors += r->errors;
        c->user_s += r->srv.user_s;
        c->sys_s += r->srv.sys_s;
        c->cpu_s += r->srv.total_s;
        c->wall_s += r->wall_s;
    }
    c->min_rate = c->max_rate = 0;
    for (int i = 0; i < c->nhave; i++) {
        if (i == 0 || rates[i] < c->min_rate)
            c->min_rate = rates[i];
        if (i == 0 || rates[i] > c->max_rate)
            c->max_rate = rates[i];
    }
    c->med_rate = median(rates, c->nhave);
    c->med_p99 = median(p99s, c->nhave);
    c->med_srv_us = median(srv_us, nper_msg);
    c->med_gen_us = median(gen_us, nper_msg);
    c->med_gen_pct = median(gen_pct, c->nhave);
    c->gen_saturated = c->nhave > 0 && c->med_gen_pct > COMPARE_GENERATOR_SATURATED_PCT;
}

void compare_summarise_servers(struct report *rp)
{
    rp->best_peer = rp->best_model = -1;
    for (int s = 0; s < rp->nservers; s++) {
        struct summary *sm = &rp->sums[s];
        memset(sm, 0, sizeof *sm);
        double logsum = 0, gen_sum = 0, srv_sum = 0;
        int gens = 0, srvs = 0;
        for (int p = 0; p < rp->npoints; p++) {
            const struct cell *c = compare_cell(rp, p, s);
            sm->user_s += c->user_s;
            sm->sys_s += c->sys_s;
            sm->gen_saturated_points += c->gen_saturated;
            if (c->nhave > 0 && c->med_gen_us > 0) {
                gen_sum += log(c->med_gen_us);
                gens++;
            }
            if (c->nhave > 0 && c->med_srv_us > 0) {
                srv_sum += log(c->med_srv_us);
                srvs++;
            }
            if (compare_cell_clean(c) && c->med_rate > 0) {
                sm->clean_points++;
                logsum += log(c->med_rate);
            }
        }
        sm->complete = sm->clean_points == rp->npoints && !rp->servers[s].skip[0];
        sm->geomean = sm->complete ? exp(logsum / rp->npoints) : 0;
        sm->gen_us = gens ? exp(gen_sum / gens) : 0;
        sm->srv_us = srvs ? exp(srv_sum / srvs) : 0;
        int *best = rp->servers[s].is_model ? &rp->best_model : &rp->best_peer;
        if (sm->complete && (*best < 0 || sm->geomean > rp->sums[*best].geomean))
            *best = s;
    }
    for (int s = 0; s < rp->nservers; s++) {
        struct summary *sm = &rp->sums[s];
        if (rp->best_peer < 0)
            continue;
        for (int p = 0; p < rp->npoints; p++) {
            const struct cell *c = compare_cell(rp, p, s);
            const struct cell *b = compare_cell(rp, p, rp->best_peer);
            if (!compare_cell_clean(c) || !compare_cell_clean(b) || b->med_p99 <= 0)
                continue;
            double ratio = c->med_p99 / b->med_p99;
            if (ratio > sm->worst_p99_ratio)
                sm->worst_p99_ratio = ratio;
            if (c->med_p99 > b->med_p99)
                sm->p99_worse++;
        }
    }
}
