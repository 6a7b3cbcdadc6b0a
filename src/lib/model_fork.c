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
 * (sk_wait_readable_or_signal): a child that ends, or a SIGTERM, between
 * the look at the flags and the wait still wakes the wait, where a plain
 * blocking accept() would sleep until the next client.
 */
#include "sk_blocking.h"
#include "sk_error.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static sk_flag_t child_exited;

/* The children alive, each with the peer it serves: --max-per-ip counts
 * a connection until its child is reaped. */
struct child {
    int pid;
    struct sk_addr peer;
};

struct children {
    struct sk_server *srv;
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
            sk_server_leave(ch->srv, &ch->list[i].peer);
            ch->list[i] = ch->list[--ch->count];
            return;
        }
    }
}

static void reap(struct children *ch)
{
    int pid;
    child_exited = 0;
    while (sk_process_reap(&pid) == 1)
        children_remove(ch, pid);
}

static void serve_in_child(struct sk_server *srv, sk_socket_t fd, const struct sk_addr *peer)
{
    sk_signal_default(SIGCHLD);
    sk_signal_default(SIGTERM);
    sk_signal_default(SIGINT);
    sk_signals_release();
    sk_socket_close(srv->listener);
    /* Where accept() hands down the listener's O_NONBLOCK (BSD), undo it:
     * the blocking driver expects a blocking socket. */
    sk_socket_set_nonblocking(fd, 0);
    sk_blocking_serve(srv, fd, peer, NULL);
    sk_process_exit(0);
}

static int fork_run(struct sk_server *srv)
{
    struct children ch = { srv, NULL, 0, 0 };
    long max = srv->cfg->max_clients, served = 0;
    int rc = sk_signal_set_flag(SIGCHLD, &child_exited);
    if (rc < 0)
        return rc;
    if ((rc = sk_signals_hold()) < 0)
        return rc;
    /* Non-blocking, so that accept() never sleeps with the signals held:
     * only the wait below sleeps. */
    if ((rc = sk_socket_set_nonblocking(srv->listener, 1)) < 0) {
        sk_signals_release();
        return rc;
    }

    while (max <= 0 || served < max) {
        reap(&ch);
        if (sk_server_stopping(srv))
            break;
        rc = sk_wait_readable_or_signal(srv->listener);
        if (rc == -EINTR)
            continue; /* a flag was set: look at them again */
        sk_socket_t fd;
        struct sk_addr peer;
        rc = sk_server_accept(srv, &fd, &peer);
        if (sk_error_would_block(rc))
            continue;
        if (rc == -ECANCELED)
            break;
        if (rc == -EINTR)
            continue;
        if (rc < 0) {
            sk_log(&srv->cfg->logger, SK_LOG_ERROR, "accept failed: %s", sk_strerror(rc));
            sk_sleep_ms(100);
            continue;
        }
        if (child_exited)
            reap(&ch);
        if (!sk_server_admit(srv, fd, &peer, ch.count)) {
            srv->stats.refused++;
            continue;
        }
        int pid = sk_process_fork();
        if (pid == 0)
            serve_in_child(srv, fd, &peer);
        sk_socket_close(fd);
        if (pid < 0) {
            sk_server_leave(srv, &peer);
            sk_log(&srv->cfg->logger, SK_LOG_ERROR, "fork failed: %s", sk_strerror(pid));
            sk_sleep_ms(100);
            continue;
        }
        if (children_add(&ch, pid, &peer) < 0)
            sk_log(&srv->cfg->logger, SK_LOG_WARN, "out of memory tracking children");
        served++;
    }

    /* Stopping: children end now; after --max-clients, they finish. */
    if (sk_server_stopping(srv))
        for (long i = 0; i < ch.count; i++)
            sk_process_signal(ch.list[i].pid, SIGTERM);
    for (long i = 0; i < ch.count; i++)
        sk_process_wait(ch.list[i].pid);
    free(ch.list);
    sk_signal_default(SIGCHLD);
    sk_signals_release();
    return 0;
}

const struct sk_model sk_model_fork = {
    .name = "fork",
    .io_model = "blocking",
    .summary = "a process per connection; SIGCHLD reaps every child",
    .flags = SK_MODEL_TCP,
    .probe = NULL,
    .run = fork_run,
};
