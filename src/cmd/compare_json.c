/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compare_json.c - `sockit compare --json FILE`: the machine, every
 * server, every run at every point, each point's summary and each
 * server's summary over the points, in one JSON object (cli_json.h),
 * indented.  README.md ("Comparing") names every field; change both
 * together.
 */
#include "compare.h"

#include "cli.h"
#include "cli_json.h"

#include "sk_server.h"

#define ADD(obj, key, value) cli_json_add((obj), (key), (value))

static struct cli_json *yes_no(int v)
{
    return cli_json_bool(v);
}

/* One server at one point: the medians over its runs, the server's CPU
 * use over all of them. */
static void add_cell_figures(struct cli_json *o, const struct cell *c)
{
    ADD(o, "median_msgs_per_s", cli_json_fixed(c->med_rate, 1));
    ADD(o, "min_msgs_per_s", cli_json_fixed(c->min_rate, 1));
    ADD(o, "max_msgs_per_s", cli_json_fixed(c->max_rate, 1));
    ADD(o, "median_p99_us", cli_json_fixed(c->med_p99, 1));
    ADD(o, "server_cpu_us_per_msg", cli_json_fixed(c->med_srv_us, 3));
    ADD(o, "errors", cli_json_fixed(c->errors, 0));
    ADD(o, "failed_runs", cli_json_int(c->failed_runs));
    ADD(o, "server_cpu_pct", cli_json_fixed(compare_share(c->cpu_s, c->wall_s), 1));
    ADD(o, "server_user_pct", cli_json_fixed(compare_share(c->user_s, c->user_s + c->sys_s), 2));
    ADD(o, "generator_cpu_pct", cli_json_fixed(c->med_gen_pct, 1));
    ADD(o, "generator_saturated", yes_no(c->gen_saturated));
    ADD(o, "generator_cpu_us_per_msg", cli_json_fixed(c->med_gen_us, 3));
}

/* One run's figures. */
static void add_run_figures(struct cli_json *o, const struct run *r)
{
    ADD(o, "msgs_per_s", cli_json_fixed(r->msgs_per_s, 1));
    ADD(o, "msgs", cli_json_fixed(r->msgs, 0));
    ADD(o, "p50_us", cli_json_fixed(r->p50_us, 1));
    ADD(o, "p99_us", cli_json_fixed(r->p99_us, 1));
    ADD(o, "errors", cli_json_fixed(r->errors, 0));
    ADD(o, "duration_s", cli_json_fixed(r->duration_s, 3));
    ADD(o, "server_cpu_s", cli_json_fixed(r->srv.total_s, 6));
    ADD(o, "server_user_s", cli_json_fixed(r->srv.user_s, 6));
    ADD(o, "server_sys_s", cli_json_fixed(r->srv.sys_s, 6));
    ADD(o, "server_cpu_us_per_msg", cli_json_fixed(r->srv_us_per_msg, 3));
    ADD(o, "wall_s", cli_json_fixed(r->wall_s, 3));
    ADD(o, "generator_cpu_s", cli_json_fixed(r->gen_cpu_s, 6));
    ADD(o, "generator_wall_s", cli_json_fixed(r->gen_wall_s, 3));
    ADD(o, "generator_cpu_pct", cli_json_fixed(r->gen_cpu_pct, 1));
    ADD(o, "generator_saturated", yes_no(r->gen_cpu_pct > COMPARE_GENERATOR_SATURATED_PCT));
    ADD(o, "generator_cpu_us_per_msg", cli_json_fixed(r->gen_us_per_msg, 3));
}

static struct cli_json *server_name(const struct report *rp, int s)
{
    return s >= 0 ? cli_json_string(rp->servers[s].name) : NULL;
}

static struct cli_json *servers_json(const struct report *rp)
{
    struct cli_json *list = cli_json_array();
    for (int s = 0; s < rp->nservers; s++) {
        const struct server *sv = &rp->servers[s];
        struct cli_json *o = cli_json_object();
        ADD(o, "name", cli_json_string(sv->name));
        ADD(o, "kind", cli_json_string(sv->is_model ? "model" : "peer"));
        ADD(o, "summary", cli_json_string(sv->is_model ? sk_model_find(sv->name)->summary
                                                       : sv->peer->summary));
        ADD(o, "skipped", sv->skip[0] ? cli_json_string(sv->skip) : NULL);
        ADD(list, NULL, o);
    }
    return list;
}

static struct cli_json *points_json(const struct report *rp)
{
    const struct options *o = rp->o;
    struct cli_json *list = cli_json_array();
    for (int p = 0; p < rp->npoints; p++) {
        const struct point *pt = &rp->points[p];
        struct cli_json *point = cli_json_object(), *results = cli_json_array();
        ADD(point, "conns", cli_json_int(pt->conns));
        ADD(point, "size", cli_json_int(pt->size));
        ADD(point, "depth", cli_json_int(pt->depth));
        for (int s = 0; s < rp->nservers; s++) {
            const struct cell *c = compare_cell(rp, p, s);
            int skipped = rp->servers[s].skip[0] != '\0';
            struct cli_json *result = cli_json_object(), *runs = cli_json_array();
            ADD(result, "server", cli_json_string(rp->servers[s].name));
            ADD(result, "status", cli_json_string(skipped ? "skipped" : c->nhave == 0 ? "failed"
                                                  : compare_cell_clean(c) ? "ok" : "errors"));
            if (c->nhave > 0)
                add_cell_figures(result, c);
            for (int i = 0; i < (skipped ? 0 : o->repeat); i++) {
                struct cli_json *run = cli_json_object();
                if (c->runs[i].have)
                    add_run_figures(run, &c->runs[i]);
                ADD(run, "note", cli_json_string(c->runs[i].note));
                ADD(runs, NULL, run);
            }
            ADD(result, "runs", runs);
            ADD(results, NULL, result);
        }
        ADD(point, "results", results);
        ADD(list, NULL, point);
    }
    return list;
}

static struct cli_json *summary_json(const struct report *rp)
{
    struct cli_json *list = cli_json_array();
    for (int s = 0; s < rp->nservers; s++) {
        const struct summary *sm = &rp->sums[s];
        struct cli_json *o = cli_json_object();
        ADD(o, "server", cli_json_string(rp->servers[s].name));
        ADD(o, "kind", cli_json_string(rp->servers[s].is_model ? "model" : "peer"));
        ADD(o, "complete", yes_no(sm->complete));
        ADD(o, "geomean_msgs_per_s", cli_json_fixed(sm->geomean, 1));
        ADD(o, "vs_best_peer", cli_json_fixed(sm->complete && rp->best_peer >= 0
                                              ? sm->geomean / rp->sums[rp->best_peer].geomean
                                              : 0.0, 3));
        ADD(o, "p99_worse_points", cli_json_int(sm->p99_worse));
        ADD(o, "worst_p99_ratio", cli_json_fixed(sm->worst_p99_ratio, 3));
        ADD(o, "clean_points", cli_json_int(sm->clean_points));
        ADD(o, "server_user_s", cli_json_fixed(sm->user_s, 3));
        ADD(o, "server_sys_s", cli_json_fixed(sm->sys_s, 3));
        ADD(o, "server_user_pct", cli_json_fixed(compare_share(sm->user_s, sm->user_s + sm->sys_s), 2));
        ADD(o, "server_cpu_us_per_msg", cli_json_fixed(sm->srv_us, 3));
        ADD(o, "generator_cpu_us_per_msg", cli_json_fixed(sm->gen_us, 3));
        ADD(o, "generator_saturated_points", cli_json_int(sm->gen_saturated_points));
        ADD(list, NULL, o);
    }
    return list;
}

void compare_write_json(FILE *f, const struct report *rp)
{
    const struct options *o = rp->o;
    struct cli_json *j = cli_json_object();
    ADD(j, "tool", cli_json_string("sockit compare"));
    cli_json_stamp(j);
    ADD(j, "proto", cli_json_string(o->udp ? "udp" : "tcp"));
    ADD(j, "date", cli_json_string(rp->date));
    ADD(j, "machine", cli_json_string(rp->machine));
    ADD(j, "interrupted", yes_no(rp->interrupted));
    ADD(j, "repeat", cli_json_int(o->repeat));
    ADD(j, "duration_s", cli_json_fixed(o->duration_s, 3));
    ADD(j, "pinned", yes_no(o->pin));
    ADD(j, "server_cpu", cli_json_int(o->server_cpu));
    ADD(j, "client_cpu", cli_json_int(o->client_cpu));
    ADD(j, "generator_saturated_pct", cli_json_fixed(COMPARE_GENERATOR_SATURATED_PCT, 0));
    ADD(j, "best_peer", server_name(rp, rp->best_peer));
    ADD(j, "best_model", server_name(rp, rp->best_model));
    ADD(j, "servers", servers_json(rp));
    ADD(j, "points", points_json(rp));
    ADD(j, "summary", summary_json(rp));
    /* A failed write shows in ferror(f), which the caller checks. */
    (void)cli_json_write(f, j, CLI_JSON_PRETTY);
    cli_json_free(j);
}
