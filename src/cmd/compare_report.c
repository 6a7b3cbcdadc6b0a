/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compare_report.c - `sockit compare`'s tables, as text on stdout and as
 * Markdown for --markdown: a table per point of the matrix (a row per
 * server), then a summary over all points (a row per server).
 *
 * Rates are printed with thousands separated, so that a column reads at
 * a glance; a server that has no figure at a point shows why instead.
 * srv us/msg, the server's CPU time per message, sits beside msgs/s and
 * p99 because it stays true where msgs/s does not: a '*' on gen cpu, and
 * a footnote under the table, mark the rows where the load generator used
 * more than COMPARE_GENERATOR_SATURATED_PCT of its CPU and so set the rate.
 */
#include "compare.h"

#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static void fmt_rate(char *out, size_t cap, double v)
{
    /* Thousands separated by commas: easier to compare down a column. */
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t len = strlen(digits), o = 0;
    for (size_t i = 0; i < len && o + 2 < cap; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

const char *compare_point_label(const struct point *p, int udp, char *buf, size_t cap)
{
    snprintf(buf, cap, "%d %s x %ld B, depth %d", p->conns,
             udp ? (p->conns == 1 ? "socket" : "sockets")
                 : (p->conns == 1 ? "connection" : "connections"),
             p->size, p->depth);
    return buf;
}

/* What a cell shows in place of numbers when it has none, or NULL. */
static const char *cell_status(const struct report *rp, int p, int s, char *buf, size_t cap)
{
    const struct server *sv = &rp->servers[s];
    const struct cell *c = compare_cell(rp, p, s);
    if (sv->skip[0])
        return "skipped";
    if (c->nhave == 0) {
        snprintf(buf, cap, "%s", c->runs[0].note[0] ? c->runs[0].note : "no result");
        return buf;
    }
    return NULL;
}

/* What the columns mean, above the tables. */
static void print_legend(FILE *f, const struct report *rp, int md)
{
    const struct options *o = rp->o;
    const char *proto = o->udp ? "UDP" : "TCP";
    if (md) {
        fprintf(f, "%s echo, %d run%s of %.1f s per server and point, interleaved; "
                   "server on CPU %d, load generator on CPU %d.  msgs/s is the median "
                   "(min-max over the runs), p99 the median p99; srv us/msg is the "
                   "server's CPU time (user + system, every thread and forked child) per "
                   "message echoed, the median over the runs: what the server costs, "
                   "whoever set the pace; srv cpu is the server's CPU use, srv user its "
                   "user-space share; gen cpu is the load generator's use of its CPU and "
                   "gen us/msg its CPU time per message.  A * on gen cpu: the generator "
                   "used more than %.0f%% of its CPU, so msgs/s there measures the "
                   "generator, not the server.\n\n",
                proto, o->repeat, o->repeat == 1 ? "" : "s", o->duration_s, o->server_cpu,
                o->client_cpu, COMPARE_GENERATOR_SATURATED_PCT);
    } else {
        fprintf(f, "sockit compare: %s echo on 127.0.0.1, %d run%s of %.1f s per server and "
                   "point, interleaved\n", proto, o->repeat, o->repeat == 1 ? "" : "s",
                o->duration_s);
        if (o->pin)
            fprintf(f, "servers on CPU %d, load generator on CPU %d; %s\n", o->server_cpu,
                    o->client_cpu, rp->machine);
        else
            fprintf(f, "one CPU only: nothing pinned; %s\n", rp->machine);
        fprintf(f, "srv us/msg: the server's CPU time per message echoed (user + system, "
                   "every thread and child)\n");
    }
    if (rp->interrupted)
        fprintf(f, md ? "**Interrupted: partial results.**\n\n" : "INTERRUPTED: partial results\n");

    for (int s = 0; s < rp->nservers; s++)
        if (rp->servers[s].skip[0])
            fprintf(f, md ? "- %s %s: skipped, %s\n" : "note: %s %s skipped: %s\n",
                    rp->servers[s].is_model ? "model" : "peer", rp->servers[s].name,
                    rp->servers[s].skip);
    if (md)
        fprintf(f, "\n");
}

/* The footnote under a table where the generator ran out of CPU. */
static void print_saturated_note(FILE *f, int md)
{
    fprintf(f, md ? "\\* The load generator used more than %.0f%% of its CPU: msgs/s in "
                    "the rows marked \\* measures the generator, not the server; srv us/msg "
                    "still measures the server.\n\n"
                  : "  * the load generator used more than %.0f%% of its CPU: msgs/s in the "
                    "rows marked * measures the generator, not the server (srv us/msg still "
                    "measures the server)\n",
            COMPARE_GENERATOR_SATURATED_PCT);
}

/* One server's row at point p. */
static void print_cell_row(FILE *f, const struct report *rp, int p, int s, int md)
{
    const struct server *sv = &rp->servers[s];
    const struct cell *ce = compare_cell(rp, p, s);
    const char *kind = sv->is_model ? "model" : "peer";
    char buf[COMPARE_NOTE_LEN];
    const char *st = cell_status(rp, p, s, buf, sizeof buf);
    if (st != NULL) {
        if (md)
            fprintf(f, "| %s | %s | %s | | | | | | | | |\n", sv->name, kind, st);
        else
            fprintf(f, "  %-11s %-5s %s\n", sv->name, kind, st);
        return;
    }
    char a[32], b[32], c[32], range[64], errs[48], per_msg[16], srv[16], usr[16], gen[16];
    fmt_rate(a, sizeof a, ce->med_rate);
    fmt_rate(b, sizeof b, ce->min_rate);
    fmt_rate(c, sizeof c, ce->max_rate);
    snprintf(range, sizeof range, "%s-%s", b, c);
    if (ce->failed_runs)
        snprintf(errs, sizeof errs, "%.0f +%d failed", ce->errors, ce->failed_runs);
    else
        snprintf(errs, sizeof errs, "%.0f", ce->errors);
    /* The first note of the point's runs gives an error count its cause. */
    const char *why = NULL;
    for (int i = 0; i < rp->o->repeat && why == NULL && (ce->errors > 0 || ce->failed_runs); i++)
        if (ce->runs[i].note[0])
            why = ce->runs[i].note;
    if (ce->med_srv_us > 0)
        snprintf(per_msg, sizeof per_msg, "%.2f", ce->med_srv_us);
    else
        snprintf(per_msg, sizeof per_msg, "-");
    snprintf(srv, sizeof srv, "%.0f%%", compare_share(ce->cpu_s, ce->wall_s));
    snprintf(usr, sizeof usr, "%.1f%%", compare_share(ce->user_s, ce->user_s + ce->sys_s));
    snprintf(gen, sizeof gen, "%.0f%%%s", ce->med_gen_pct,
             ce->gen_saturated ? (md ? "\\*" : "*") : (md ? "" : " "));
    if (md)
        fprintf(f, "| %s | %s | %s | %s | %.1f | %s | %s%s%s%s | %s | %s | %s | %.2f |\n",
                sv->name, kind, a, range, ce->med_p99, per_msg, errs, why ? " (" : "",
                why ? why : "", why ? ")" : "", srv, usr, gen, ce->med_gen_us);
    else
        fprintf(f, "  %-11s %-5s %11s %23s %10.1f %10s %7s %7s %8s %8s %10.2f%s%s\n", sv->name,
                kind, a, range, ce->med_p99, per_msg, errs, srv, usr, gen, ce->med_gen_us,
                why ? "  " : "", why ? why : "");
}

static void print_point_table(FILE *f, const struct report *rp, int p, int md)
{
    char label[96];
    compare_point_label(&rp->points[p], rp->o->udp, label, sizeof label);
    if (md)
        fprintf(f, "#### %s\n\n| server | kind | msgs/s | min-max | p99 us | srv us/msg | "
                   "errors | srv cpu | srv user | gen cpu | gen us/msg |\n"
                   "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
                label);
    else
        fprintf(f, "\n%s\n  %-11s %-5s %11s %23s %10s %10s %7s %7s %8s %8s %10s\n", label,
                "server", "kind", "msgs/s", "min-max", "p99 us", "srv us/msg", "errors",
                "srv cpu", "srv user", "gen cpu", "gen us/msg");
    int saturated = 0;
    for (int s = 0; s < rp->nservers; s++) {
        print_cell_row(f, rp, p, s, md);
        saturated |= !rp->servers[s].skip[0] && compare_cell(rp, p, s)->gen_saturated;
    }
    if (md)
        fprintf(f, "\n");
    if (saturated)
        print_saturated_note(f, md);
}

static void print_summary(FILE *f, const struct report *rp, int md)
{
    const char *best = rp->best_peer >= 0 ? rp->servers[rp->best_peer].name : NULL;
    if (md)
        fprintf(f, "#### Summary over the %d points\n\n"
                   "geomean: geometric mean of the median msgs/s over every point (only "
                   "for servers with no error and no failure anywhere); x best peer: that "
                   "against the best peer's (%s); p99 worse: points where the median p99 is "
                   "above the best peer's, and the worst ratio; srv us/msg: geometric mean "
                   "of the server's CPU time per message over the points; user: the "
                   "server's user-space share of its CPU time over all its runs; gen "
                   ">%.0f%%: points where the load generator used more than %.0f%% of its "
                   "CPU.\n\n"
                   "| server | kind | geomean msgs/s | x best peer | p99 worse | worst p99 "
                   "ratio | srv us/msg | user | clean points | gen >%.0f%% | gen us/msg |\n"
                   "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
                rp->npoints, best ? best : "none", COMPARE_GENERATOR_SATURATED_PCT,
                COMPARE_GENERATOR_SATURATED_PCT, COMPARE_GENERATOR_SATURATED_PCT);
    else
    {
        char saturated[16];
        snprintf(saturated, sizeof saturated, "gen >%.0f%%", COMPARE_GENERATOR_SATURATED_PCT);
        fprintf(f, "\nsummary over the %d points (best peer: %s)\n  %-11s %-5s %14s %11s "
                   "%9s %9s %10s %7s %7s %8s %10s\n", rp->npoints, best ? best : "none",
                "server", "kind", "geomean msgs/s", "x best peer", "p99 worse", "worst p99",
                "srv us/msg", "user", "clean", saturated, "gen us/msg");
    }
    for (int s = 0; s < rp->nservers; s++) {
        const struct server *sv = &rp->servers[s];
        const struct summary *sm = &rp->sums[s];
        const char *kind = sv->is_model ? "model" : "peer";
        char geo[32], ratio[16], worse[16], worst[16], per_msg[16], usr[16], clean[16], sat[16];
        if (sv->skip[0]) {
            fprintf(f, md ? "| %s | %s | skipped | | | | | | | | |\n" : "  %-11s %-5s skipped\n",
                    sv->name, kind);
            continue;
        }
        if (sm->complete)
            fmt_rate(geo, sizeof geo, sm->geomean);
        else
            snprintf(geo, sizeof geo, "incomplete");
        if (sm->complete && rp->best_peer >= 0)
            snprintf(ratio, sizeof ratio, "%.2fx", sm->geomean / rp->sums[rp->best_peer].geomean);
        else
            snprintf(ratio, sizeof ratio, "-");
        snprintf(worse, sizeof worse, "%d", sm->p99_worse);
        snprintf(worst, sizeof worst, "%.2fx", sm->worst_p99_ratio);
        if (sm->srv_us > 0)
            snprintf(per_msg, sizeof per_msg, "%.2f", sm->srv_us);
        else
            snprintf(per_msg, sizeof per_msg, "-");
        snprintf(usr, sizeof usr, "%.1f%%", compare_share(sm->user_s, sm->user_s + sm->sys_s));
        snprintf(clean, sizeof clean, "%d/%d", sm->clean_points, rp->npoints);
        snprintf(sat, sizeof sat, "%d", sm->gen_saturated_points);
        if (md)
            fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f |\n", sv->name,
                    kind, geo, ratio, worse, worst, per_msg, usr, clean, sat, sm->gen_us);
        else
            fprintf(f, "  %-11s %-5s %14s %11s %9s %9s %10s %7s %7s %8s %10.2f\n", sv->name,
                    kind, geo, ratio, worse, worst, per_msg, usr, clean, sat, sm->gen_us);
    }
    if (md)
        fprintf(f, "\n");
}

void compare_print_tables(FILE *f, const struct report *rp, int md)
{
    print_legend(f, rp, md);
    for (int p = 0; p < rp->npoints; p++)
        print_point_table(f, rp, p, md);
    print_summary(f, rp, md);
}

void compare_describe_machine(char *out, size_t cap)
{
    char model[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof line, f) != NULL)
            if (strncmp(line, "model name", 10) == 0 && strchr(line, ':') != NULL) {
                char *v = strchr(line, ':') + 1;
                v += strspn(v, " \t");
                v[strcspn(v, "\n")] = '\0';
                snprintf(model, sizeof model, "%s", v);
                break;
            }
        fclose(f);
    }
    struct utsname u;
    if (uname(&u) != 0)
        snprintf(u.release, sizeof u.release, "?");
    snprintf(out, cap, "%s, %ld CPUs, Linux %s", model, sysconf(_SC_NPROCESSORS_ONLN),
             u.release);
}

