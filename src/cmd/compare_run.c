/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compare_run.c - one measured run of `sockit compare`: start one server,
 * drive it at one point of the matrix with `sockit bench --json` (this
 * binary again), collect bench's figures and the server's CPU time, and
 * stop the server.
 *
 * Its figures: bench's rate, latency and errors; the server's CPU time per
 * message echoed (compare_process.c says how the CPU time of a server and
 * of everything it forks is counted), and the load generator's CPU: its
 * share of one CPU over its life and per message.  The generator is pinned
 * to a CPU of its own, so where it used more than 90% of it, it - not the
 * server - set the rate.
 *
 * bench's last line of output is its final JSON object; the few numbers
 * we need are read from it by key (cli_json.h).  A run that produced no final object,
 * was cut short by Ctrl-C or got no reply at all counts as failed, never
 * as a rate of zero.
 */
#include "compare.h"

#include "cli.h"
#include "cli_json.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int json_number(const struct cli_json *obj, const char *key, double *out)
{
    return cli_json_double(cli_json_get(obj, key), out);
}

/* bench's last final object in its output (JSON lines), or NULL; free it
 * with cli_json_free. */
static struct cli_json *last_final_object(const char *out)
{
    struct cli_json *final = NULL;
    size_t len = strlen(out), at = 0;
    while (at < len) {
        size_t used, error_at;
        char why[128];
        struct cli_json *v = cli_json_parse(out + at, len - at, &used, &error_at, why,
                                            sizeof why);
        if (used == 0)
            break; /* not bench's output (a crash message): what came before counts */
        at += used;
        const char *type = cli_json_text(cli_json_get(v, "type"));
        if (type != NULL && strcmp(type, "final") == 0) {
            cli_json_free(final);
            final = v;
        } else {
            cli_json_free(v);
        }
    }
    return final;
}

/* bench's command line for one point against one port, with the strings
 * its arguments point to. */
struct bench_args {
    char port[16], conns[16], size[24], depth[16], duration[32], timeout[16];
    char *argv[COMPARE_MAX_ARGS];
};

static void bench_argv(struct bench_args *b, const struct options *o, const struct point *pt,
                       int port)
{
    snprintf(b->port, sizeof b->port, "%d", port);
    snprintf(b->conns, sizeof b->conns, "%d", pt->conns);
    snprintf(b->size, sizeof b->size, "%ld", pt->size);
    snprintf(b->depth, sizeof b->depth, "%d", pt->depth);
    snprintf(b->duration, sizeof b->duration, "%.3f", o->duration_s);
    snprintf(b->timeout, sizeof b->timeout, "%d", COMPARE_BENCH_TIMEOUT_S);
    int n = 0;
    char **argv = b->argv;
    argv[n++] = compare_self_path;
    argv[n++] = "bench";
    argv[n++] = "127.0.0.1";
    argv[n++] = b->port;
    argv[n++] = "-c";
    argv[n++] = b->conns;
    argv[n++] = "-s";
    argv[n++] = b->size;
    argv[n++] = "-d";
    argv[n++] = b->depth;
    argv[n++] = "--duration";
    argv[n++] = b->duration;
    argv[n++] = "--timeout";
    argv[n++] = b->timeout;
    argv[n++] = "--json";
    if (o->udp)
        argv[n++] = "-u";
    argv[n] = NULL;
}

/* Read fd to its end into a malloc'd string.  A generator that outlives
 * its duration, the connect and drain timeouts and a margin is killed
 * (*hung); Ctrl-C asks it to stop early (*interrupted), and it still
 * reports what it measured. */
static char *read_generator_output(int fd, const struct options *o, int *hung, int *interrupted)
{
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    if (out == NULL)
        cli_fail("out of memory");
    uint64_t deadline = sk_now_ms() + (uint64_t)(o->duration_s * 1000) +
                        (uint64_t)(3 * COMPARE_BENCH_TIMEOUT_S * 1000) + COMPARE_BENCH_GRACE_MS;
    *hung = *interrupted = 0;
    for (;;) {
        if (compare_stop_requested && !*interrupted) {
            *interrupted = 1;
            compare_generator_signal(SIGINT); /* bench stops early and still reports */
        }
        if (sk_now_ms() > deadline) {
            *hung = 1;
            compare_generator_signal(SIGKILL);
        }
        struct pollfd pfd = { fd, POLLIN, 0 };
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        if (len + 4096 > cap) {
            cap *= 2;
            char *bigger = realloc(out, cap);
            if (bigger == NULL)
                cli_fail("out of memory");
            out = bigger;
        }
        ssize_t got = read(fd, out + len, cap - len - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    out[len] = '\0';
    return out;
}

/* The figures of bench's final object into r; a note naming the kinds of
 * error, as bench's own summary does. */
static void read_final(const struct cli_json *final, struct run *r)
{
    r->have = 1;
    json_number(final, "msgs", &r->msgs);
    json_number(final, "p50_us", &r->p50_us);
    json_number(final, "p99_us", &r->p99_us);
    json_number(final, "errors", &r->errors);
    json_number(final, "duration_s", &r->duration_s);
    if (r->errors > 0) {
        static const char *const kinds[] = { "timeouts", "resets", "short_replies",
                                             "connect_failures", "mismatches",
                                             "udp_lost", "udp_duplicates" };
        size_t used = 0;
        for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
            double v;
            if (json_number(final, kinds[i], &v) == 0 && v > 0 && used < sizeof r->note)
                used += (size_t)snprintf(r->note + used, sizeof r->note - used, "%s%s %.0f",
                                         used ? ", " : "", kinds[i], v);
        }
    }
}

/* Run `sockit bench` against port; fills r from its final JSON object. */
static void run_bench(const struct options *o, const struct point *pt, int port, struct run *r)
{
    struct bench_args args;
    bench_argv(&args, o, pt, port);
    int pipe_fd[2];
    if (sk__pipe(pipe_fd) < 0)
        cli_fail("cannot set up a bench run: %s", strerror(errno));
    pid_t pid = compare_generator_start(args.argv, o->pin ? o->client_cpu : -1, pipe_fd[1]);
    close(pipe_fd[1]);
    if (pid < 0) {
        close(pipe_fd[0]);
        compare_note(r->note, sizeof r->note, "fork: %s", strerror(errno));
        return;
    }
    uint64_t started = sk__now_ns();
    int hung, interrupted;
    char *out = read_generator_output(pipe_fd[0], o, &hung, &interrupted);
    close(pipe_fd[0]);
    compare_generator_reap(&r->gen_cpu_s);
    r->gen_wall_s = (double)(sk__now_ns() - started) / 1e9;

    struct cli_json *final = last_final_object(out);
    if (final != NULL && json_number(final, "msgs_per_s", &r->msgs_per_s) == 0) {
        read_final(final, r);
    } else {
        char last[COMPARE_NOTE_LEN - 40];
        compare_generator_last_line(last, sizeof last);
        compare_note(r->note, sizeof r->note, "%s%s%s", hung ? COMPARE_HUNG_NOTE :
                     interrupted ? "interrupted" : "bench failed", last[0] ? ": " : "", last);
    }
    if (hung && r->have)
        compare_note(r->note, sizeof r->note, "bench overran its time and was killed");
    /* A run cut short by Ctrl-C, or one where nothing came back at all,
     * measured nothing: it counts as failed, not as a rate of zero. */
    if (r->have && interrupted) {
        r->have = 0;
        compare_note(r->note, sizeof r->note, "interrupted");
    } else if (r->have && r->msgs_per_s <= 0 && r->errors == 0) {
        r->have = 0;
        compare_note(r->note, sizeof r->note, "no reply arrived");
    }
    cli_json_free(final);
    free(out);
}

/* The figures reported for a run, from what was measured. */
static void derive_figures(struct run *r)
{
    if (r->msgs > 0) {
        r->srv_us_per_msg = r->srv.total_s * 1e6 / r->msgs;
        r->gen_us_per_msg = r->gen_cpu_s * 1e6 / r->msgs;
    }
    r->gen_cpu_pct = compare_share(r->gen_cpu_s, r->gen_wall_s);
}

void compare_run_one(struct server *s, const struct options *o, const struct point *pt,
                     struct run *r)
{
    memset(r, 0, sizeof *r);
    if (s->start_failures_in_row >= 3) {
        compare_note(r->note, sizeof r->note, "not started (failed 3 times: %s)",
                     s->start_note);
        return;
    }
    char note[COMPARE_NOTE_LEN];
    int port = compare_server_start(s, o, note, sizeof note);
    if (port < 0) {
        s->start_failures_in_row++;
        compare_note(s->start_note, sizeof s->start_note, "%s", note);
        compare_note(r->note, sizeof r->note, "failed to start: %s", note);
        return;
    }
    s->start_failures_in_row = 0;
    compare_server_cpu_mark();
    uint64_t t0 = sk__now_ns();
    run_bench(o, pt, port, r);
    /* The wall time of the load; the CPU count below also holds the
     * server's shutdown, well under a millisecond of CPU (but up to a
     * tenth of a second of waiting for select's and fork's children). */
    r->wall_s = (double)(sk__now_ns() - t0) / 1e9;
    int status;
    int died = compare_server_died(&status, &r->srv);
    if (!died)
        compare_server_stop(&r->srv);
    derive_figures(r);
    if (died) {
        char last[COMPARE_NOTE_LEN - 60];
        compare_server_last_line(last, sizeof last);
        compare_note(r->note, sizeof r->note, "server died during the run (status %d)%s%s",
                     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                     last[0] ? ": " : "", last);
        if (r->errors == 0 && r->have)
            r->errors = 1; /* a crash is an error even if bench saw none */
    }
}
