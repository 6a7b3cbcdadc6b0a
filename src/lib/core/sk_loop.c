/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_loop.c - the event loop: interest bookkeeping and dispatch.
 */
#include "sk_loop.h"
#include "sk_error.h"
#include "sk_trace.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int sk__loop_create(const struct sk__poller *poller, int setsize, struct sk__loop **out)
{
    if (poller->max_fds > 0 && setsize > poller->max_fds)
        setsize = poller->max_fds;
    struct sk__loop *loop = calloc(1, sizeof *loop);
    if (loop == NULL)
        return -ENOMEM;
    loop->poller = poller;
    loop->setsize = setsize;
    /* No scan traced yet: the first that finds anything is shown, even
     * one whose callbacks then do all the work there is (an accept whose
     * first read brings the whole exchange). */
    loop->traced_progress = ULONG_MAX;
    loop->maxfd = -1;
    loop->files = calloc((size_t)setsize, sizeof *loop->files);
    loop->fired = calloc((size_t)setsize, sizeof *loop->fired);
    int rc = (loop->files && loop->fired) ? poller->create(loop) : -ENOMEM;
    if (rc < 0) {
        free(loop->files);
        free(loop->fired);
        free(loop);
        return rc;
    }
    *out = loop;
    return 0;
}

void sk__loop_destroy(struct sk__loop *loop)
{
    if (loop == NULL)
        return;
    loop->poller->destroy(loop);
    free(loop->traced_fds);
    free(loop->files);
    free(loop->fired);
    free(loop);
}

int sk__loop_watch(struct sk__loop *loop, int fd, int mask, sk__event_fn *fn, void *data)
{
    if (fd < 0 || fd >= loop->setsize)
        return -ERANGE;
    struct sk__loop_file *f = &loop->files[fd];
    if (f->mask != mask) {
        int rc = loop->poller->update(loop, fd, f->mask, mask);
        if (rc < 0)
            return rc;
        f->mask = mask;
    }
    f->on_event = fn;
    f->data = data;
    if (mask != SK_EV_NONE && fd > loop->maxfd) {
        loop->maxfd = fd;
    } else if (mask == SK_EV_NONE && fd == loop->maxfd) {
        while (loop->maxfd >= 0 && loop->files[loop->maxfd].mask == SK_EV_NONE)
            loop->maxfd--;
    }
    return 0;
}

/* "epoll_wait(timeout 250) = 2 ready: fd 5,7".  A wait that timed out
 * says nothing; a busy poller's scan is shown only after progress, or
 * it would be thousands of lines a second saying the same. */
static void trace_wait(struct sk__loop *loop, int timeout_ms, int n)
{
    const char *call = loop->poller->call;
    if (n == 0 || n == -EINTR)
        return;
    if (call == NULL) {
        if (loop->progress == loop->traced_progress)
            return;
        loop->traced_progress = loop->progress;
        call = "nonblock scan";
    }
    if (loop->traced_fds == NULL && n > 0 &&
        (loop->traced_fds = calloc((size_t)loop->setsize, sizeof(int))) == NULL)
        return;
    for (int i = 0; i < n; i++)
        loop->traced_fds[i] = loop->fired[i].fd;
    char args[96];
    const char *more = loop->poller->call_args;
    snprintf(args, sizeof args, "%s%stimeout %d ms", more ? more : "", more ? ", " : "",
             timeout_ms);
    sk__trace_ready(call, args, n, n > 0 ? loop->traced_fds : NULL);
}

/* Once, with a constant `traced` (sk_trace.h says why). */
static SK_ALWAYS_INLINE int run_once_body(struct sk__loop *loop, int timeout_ms, int traced)
{
    int n = loop->poller->poll(loop, timeout_ms);
    if (traced)
        trace_wait(loop, timeout_ms, n);
    if (n <= 0)
        return n;
    for (int i = 0; i < n; i++) {
        int fd = loop->fired[i].fd;
        struct sk__loop_file *f = &loop->files[fd];
        /* An earlier callback in this round may have closed fd. */
        int events = loop->fired[i].events & (f->mask | SK_EV_READ | SK_EV_WRITE);
        if (f->mask == SK_EV_NONE || f->on_event == NULL || events == 0)
            continue;
        f->on_event(loop, fd, f->data, events);
    }
    return n;
}

static SK_TRACED_COPY int run_once_traced(struct sk__loop *loop, int timeout_ms)
{
    return run_once_body(loop, timeout_ms, 1);
}

int sk__loop_run_once(struct sk__loop *loop, int timeout_ms)
{
    if (SK_TRACING())
        return run_once_traced(loop, timeout_ms);
    return run_once_body(loop, timeout_ms, 0);
}
