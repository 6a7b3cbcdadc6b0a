/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compare.h - what the files of `sockit compare` share.
 *
 * The command is seven files, one job each:
 *   cmd_compare.c     the options and the loop over the matrix
 *   compare_servers.c the models and peers, and how each is started
 *   compare_process.c starting servers and load generators, reading their
 *                     ready line, stopping and reaping them, their CPU time
 *   compare_run.c     one measured run: one server, one point, its figures
 *   compare_stats.c   the runs of a point and the points of a server summed up
 *   compare_report.c  the text and Markdown tables
 *   compare_json.c    the JSON
 * Linux only (fork, exec, /proc, sched_setaffinity); cmd_compare_win.c
 * says so on Windows.
 */
#ifndef SOCKIT_COMPARE_H
#define SOCKIT_COMPARE_H

#include "sk_compat.h"

#include <stdio.h>
#include <sys/types.h>

#define COMPARE_MAX_LIST 16
#define COMPARE_MAX_SERVERS 32
#define COMPARE_MAX_ARGS 24
#define COMPARE_NOTE_LEN 200
/* bench's --timeout: how long a connect or a reply may take. */
#define COMPARE_BENCH_TIMEOUT_S 2
/* A bench run gets its duration, its connect and drain timeouts and this
 * much more (connecting 500 clients to a server that forks a process per
 * connection takes a while) before it is killed. */
#define COMPARE_BENCH_GRACE_MS 30000
#define COMPARE_HUNG_NOTE "bench overran its time by more than 30 s and was killed"

enum peer_where { IN_PEER_DIR, NODE_SCRIPT, IN_PATH };

struct peer_def {
    const char *name;
    int udp;
    enum peer_where where;
    const char *file; /* program or script */
    const char *summary;
};

struct server {
    char name[32];
    int is_model;
    const struct peer_def *peer;      /* NULL for a model */
    char program[512];                /* peer program, or node */
    char script[512];                 /* node_echo.js */
    char skip[COMPARE_NOTE_LEN];      /* non-empty: not run, and why */
    char start_note[COMPARE_NOTE_LEN]; /* last failure to start */
    int start_failures_in_row;
};

/* The load generator is taken to measure itself, not the server, where
 * it used more than this share of its CPU (generator_cpu_pct). */
#define COMPARE_GENERATOR_SATURATED_PCT 90.0

/* CPU seconds a process (or a server's process group) used.  total_s is
 * exact (the scheduler's run time, in ns); user_s and sys_s split it, to
 * the clock tick where they come from /proc/PID/stat. */
struct compare_cpu {
    double user_s, sys_s, total_s;
};

/* One measured run of one server at one point. */
struct run {
    int have;                    /* bench produced a final object */
    char note[COMPARE_NOTE_LEN]; /* why not, or what went wrong */
    double msgs_per_s, p50_us, p99_us, errors, duration_s;
    double msgs;                 /* echoed during the run (bench's count) */
    /* The server's CPU time from just before the generator started until
     * it and everything it forked had exited; wall_s ends as the
     * generator exits. */
    struct compare_cpu srv;
    double wall_s;
    /* The generator's CPU time (every thread) over its life, gen_wall_s. */
    double gen_cpu_s, gen_wall_s;
    /* Derived: the figures reported for the run. */
    double srv_us_per_msg, gen_us_per_msg, gen_cpu_pct;
};

struct point {
    int conns, depth;
    long size;
};

/* Per server and point: the runs and their summary. */
struct cell {
    struct run *runs; /* repeat of them */
    int nhave;
    double med_rate, min_rate, max_rate, med_p99;
    double med_srv_us, med_gen_us, med_gen_pct; /* medians over the runs */
    int gen_saturated;                               /* med_gen_pct above the limit */
    double errors, user_s, sys_s, cpu_s, wall_s; /* server, summed over the runs */
    int failed_runs; /* runs without a result */
};

/* Per server, over every point. */
struct summary {
    double geomean, worst_p99_ratio, user_s, sys_s;
    double srv_us, gen_us; /* geometric means over the points with figures */
    int clean_points, p99_worse, complete, gen_saturated_points;
};

struct options {
    int udp, repeat, quick;
    double duration_s;
    int conns[COMPARE_MAX_LIST], nconns;
    long sizes[COMPARE_MAX_LIST];
    int nsizes;
    int depths[COMPARE_MAX_LIST], ndepths;
    const char *models, *peers, *json_path, *md_path, *peer_dir;
    int server_cpu, client_cpu, pin;
};

struct report {
    const struct options *o;
    struct server *servers;
    int nservers;
    struct point *points;
    int npoints;
    struct cell *cells; /* [point * nservers + server] */
    struct summary *sums;
    int best_peer, best_model;
    char machine[256];
    char date[64];
    int interrupted;
};

/* Set by SIGINT, SIGTERM and SIGHUP: finish the current run and report. */
extern sk__flag_t compare_stop_requested;
/* This program (/proc/self/exe): the models and bench run through it. */
extern char compare_self_path[512];

/* snprintf for notes, where cutting a long message short is intended. */
void compare_note(char *dst, size_t cap, const char *fmt, ...) SK_PRINTF(3, 4);

/* ---- compare_servers.c: what we run ---- */

/* Every name in the comma-separated list (what: "model" or "peer") must be
 * one that serves TCP (UDP with udp), or this is a usage error. */
void compare_check_names(const char *list, const char *what, int udp);
/* The servers --models and --peers select, with a skip note on those
 * that cannot run here; their number. */
int compare_add_servers(const struct options *o, struct server *servers);
/* The command line that starts s; port_text for the peers that cannot
 * choose their own port, bufs for the strings it needs. */
void compare_server_argv(const struct server *s, int udp, const char *port_text, char *bufs,
                         size_t bufcap, char **argv);
/* 1 if s prints "listening on ... port N" once ready. */
int compare_prints_ready_line(const struct server *s);

/* ---- compare_process.c: the children ---- */

/* Make the scratch directory for logs, become the subreaper of whatever
 * our servers fork, and make every exit path stop and reap the children. */
void compare_children_init(void);
/* Start server s on 127.0.0.1, pinned to the server CPU; its port, or -1
 * with the reason in note. */
int compare_server_start(struct server *s, const struct options *o, char *note, size_t cap);
/* Note the CPU time the running server's process group has used so far:
 * what compare_server_died and compare_server_stop then subtract. */
void compare_server_cpu_mark(void);
/* 1 and its wait status if the server has exited on its own; the rest of
 * its group is then killed and reaped, and used holds the group's CPU
 * time since the mark. */
int compare_server_died(int *status, struct compare_cpu *used);
/* Stop the server's process group, reap every process in it, and give
 * the group's CPU time since the mark. */
void compare_server_stop(struct compare_cpu *used);
/* The last line the server wrote, for failure notes. */
void compare_server_last_line(char *out, size_t cap);
/* Start the load generator: argv, pinned to cpu (if >= 0), stdout to
 * out_fd and stderr to a log; its pid or -1. */
pid_t compare_generator_start(char *const argv[], int cpu, int out_fd);
/* Signal the generator's process group. */
void compare_generator_signal(int sig);
/* Wait for the generator to exit; its wait status and the CPU seconds it
 * used (all its threads). */
int compare_generator_reap(double *cpu_s);
/* The last line the generator wrote on stderr. */
void compare_generator_last_line(char *out, size_t cap);

/* ---- compare_run.c: one measured run ---- */

void compare_run_one(struct server *s, const struct options *o, const struct point *pt,
                     struct run *r);

/* ---- compare_stats.c: the figures summed up ---- */

struct cell *compare_cell(const struct report *rp, int p, int s);
void compare_summarise_cell(struct cell *c, int repeat);
void compare_summarise_servers(struct report *rp);
/* A cell counts toward a server's summary only when every run worked. */
int compare_cell_clean(const struct cell *c);
/* 100 * part / whole, or 0 when whole is 0. */
double compare_share(double part, double whole);

/* ---- compare_report.c and compare_json.c: the output ---- */

const char *compare_point_label(const struct point *p, int udp, char *buf, size_t cap);
void compare_describe_machine(char *out, size_t cap);
/* The tables, as text (md = 0) or Markdown (md = 1). */
void compare_print_tables(FILE *f, const struct report *rp, int md);
void compare_write_json(FILE *f, const struct report *rp);

#endif
