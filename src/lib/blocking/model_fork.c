/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * model_fork.c - a process per connection (UNP: blocking I/O).
 *
 * The tutorial's multi-process server, without its zombies: the SIGCHLD
 * handler only sets a flag, and the accept loop reaps with
 * waitpid(-1, WNOHANG) until no finished child is left, because one
 * SIGCHLD may stand for several children.  --max-conns bounds the number
 * of children; the connection beyond it gets one line and is closed.
 *
 * The signals stay blocked except inside one ppoll() on the listener
 * (sk__wait_readable_or_signal): a child that ends, or a SIGTERM, between
 * the look at the flags and the wait still wakes the wait, where a plain
 * blocking accept() would sleep until the next client.  The loop itself
 * is the one every blocking model shares (sk_accept_loop.c); this file
 * gives it the wait, the reaping, and the fork.
 *
 * --no-reap (for teaching only) leaves the ended children unreaped: they
 * show as zombies, <defunct> in ps, until the server stops and reaps them.
 *
 * When the server stops (SIGTERM, SIGINT, SIGHUP) every child is ended
 * and reaped before run() returns, within STOP_GRACE_MS; a child also
 * asks the kernel to end it should the server die without doing so.
 */
#include "sk_accept_loop.h"
#include "sk_blocking.h"
#include "sk_error.h"
#include "sk_trace.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sk__flag_t child_exited;

/* The children alive, each with the peer it serves: --max-per-ip counts
 * a connection until its child is reaped. */
struct child {
    int pid;
    struct sk_addr peer;
};

struct children {
    struct sk_server *srv;
    int parent;       /* our pid, for the children's PR_SET_PDEATHSIG */
    struct child *list;
    long count, cap;
};

static int children_add(struct children *ch, int pid, const struct sk_addr *peer)
{
    if (ch->count == ch->cap) {
        long cap = ch->cap ? ch->cap * 2 : 64;
        struct child *p = realloc(ch->list, (size_t)cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        ch->list = p;
        ch->cap = cap;
    }
    ch->list[ch->count].pid = pid;
    ch->list[ch->count].peer = *peer;
    ch->count++;
    return 0;
}

static void children_remove(struct children *ch, int pid)
{
    for (long i = 0; i < ch->count; i++) {
        if (ch->list[i].pid == pid) {
            sk__server_leave(ch->srv, &ch->list[i].peer);
            ch->list[i] = ch->list[--ch->count];
            return;
        }
    }
}

/* waitpid(-1, WNOHANG) = pid, and how the child ended: the reaping
 * that keeps it from staying a zombie. */
static void trace_reaped(int pid, int how)
{
    char args[32], meaning[96];
    snprintf(args, sizeof args, "-1, WNOHANG");
    if (how >= 0)
        snprintf(meaning, sizeof meaning, "child %d exited with status %d; reaped, so no "
                 "zombie stays", pid, how);
    else
        snprintf(meaning, sizeof meaning, "child %d was ended by signal %d; reaped, so no "
                 "zombie stays", pid, -how);
    sk__trace_model("waitpid", args, pid, meaning);
}

static void reap(struct children *ch)
{
    int pid, how;
    child_exited = 0;
    while (sk__process_reap(&pid, &how) == 1) {
        if (SK_TRACING())
            trace_reaped(pid, how);
        children_remove(ch, pid);
    }
}

static void serve_in_child(struct sk_server *srv, int parent, sk_socket_t fd,
                           const struct sk_addr *peer)
{
    sk__signal_default(SIGCHLD);
    sk__signal_default(SIGTERM);
    sk__signal_default(SIGINT);
    sk__signal_default(SIGHUP);
    /* The backstop for a parent that dies without ending us (SIGKILL):
     * a child must never serve on as an orphan. */
    sk__process_end_with_parent(SIGTERM, parent);
    sk__signals_release();
    sk__close_traced(srv->listener); /* the child only serves: the parent accepts */
    sk__blocking_serve(srv, fd, peer, NULL);
    sk__process_exit(0);
}

/* The accept loop's hooks (sk_accept_loop.h). */
static void tend_children(void *ctx)
{
    struct children *ch = ctx;
    if (!child_exited)
        return;
    if (!ch->srv->cfg->no_reap) {
        reap(ch);
        return;
    }
    /* --no-reap, for teaching: the SIGCHLD is seen and nothing calls
     * waitpid(), so the kernel keeps each ended child's exit status, and
     * its process-table entry, for a wait that never comes. */
    child_exited = 0;
    if (SK_TRACING())
        sk__trace_model("SIGCHLD", NULL, 0,
                        "a child ended; no waitpid() (--no-reap), so it stays a zombie");
    sk_log(&ch->srv->cfg->logger, SK_LOG_INFO,
           "SIGCHLD: a child ended and is not reaped (--no-reap): it stays a zombie "
           "(<defunct> in ps) until the server exits");
}

static long live_children(void *ctx)
{
    struct children *ch = ctx;
    return ch->count;
}

/* The signals stay held for the whole loop (so that the look at the
 * flags cannot miss one); this wait is the only place they are let in. */
static int wait_with_signals_held(void *ctx, sk_socket_t listener)
{
    (void)ctx;
    return sk__wait_readable_or_signal(listener);
}

static int fork_child(void *ctx, sk_socket_t fd, const struct sk_addr *peer)
{
    struct children *ch = ctx;
    int pid = sk__process_fork();
    if (pid == 0)
        serve_in_child(ch->srv, ch->parent, fd, peer);
    if (SK_TRACING())
        sk__trace_model("fork", NULL, pid,
                        pid > 0 ? "a child process serves the connection; the parent "
                                  "closes its copy and accepts the next" : NULL);
    if (pid < 0)
        return pid; /* the loop logs it and closes fd */
    sk__close_traced(fd);
    if (children_add(ch, pid, peer) < 0)
        sk_log(&ch->srv->cfg->logger, SK_LOG_WARN, "out of memory tracking children");
    return SK_ACCEPT_TAKEN;
}

/* Stopping: every child ends now.  SIGTERM first (its default action
 * ends a child at once, whatever it is blocked in); whoever is left after
 * STOP_GRACE_MS gets SIGKILL, so that a stop always ends, and no child
 * outlives the server. */
#define STOP_GRACE_MS 2000

static void end_children(struct children *ch)
{
    for (long i = 0; i < ch->count; i++)
        sk__process_signal(ch->list[i].pid, SIGTERM);
    uint64_t deadline = sk_now_ms() + STOP_GRACE_MS;
    while (ch->count > 0 && sk_now_ms() < deadline) {
        reap(ch);
        if (ch->count > 0)
            sk__sleep_ms(5);
    }
    for (long i = 0; i < ch->count; i++)
        sk__process_signal(ch->list[i].pid, SIGKILL);
}

static int fork_run(struct sk_server *srv)
{
    struct children ch = { srv, sk__process_self(), NULL, 0, 0 };
    int rc = sk__signal_set_flag(SIGCHLD, &child_exited);
    if (rc < 0)
        return rc;
    if ((rc = sk__signals_hold()) < 0)
        return rc;
    struct sk__accept_ops ops = {
        .live = live_children,
        .take = fork_child,
        .take_failed = "fork failed",
        .wait = wait_with_signals_held,
        .tend = tend_children,
        .ctx = &ch,
    };
    rc = sk__accept_loop(srv, &ops);

    /* After --max-clients the children finish their sessions. */
    if (sk__server_stopping(srv))
        end_children(&ch);
    for (long i = 0; i < ch.count; i++)
        sk__process_wait(ch.list[i].pid);
    free(ch.list);
    sk__signal_default(SIGCHLD);
    sk__signals_release();
    return rc;
}

const struct sk_model sk__model_fork = {
    .name = "fork",
    .io_model = "blocking",
    .summary = "a process per connection; SIGCHLD reaps every child",
    .flags = SK_MODEL_TCP,
    .probe = NULL,
    .run = fork_run,
};
