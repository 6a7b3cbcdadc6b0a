/*
 * sk_loop.c - the event loop: interest bookkeeping and dispatch.
 */
#include "sk_loop.h"
#include "sk_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sk_loop_create(const struct sk_poller *poller, int setsize, struct sk_loop **out)
{
    if (poller->max_fds > 0 && setsize > poller->max_fds)
        setsize = poller->max_fds;
    struct sk_loop *loop = calloc(1, sizeof *loop);
    if (loop == NULL)
        return -ENOMEM;
    loop->poller = poller;
    loop->setsize = setsize;
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

void sk_loop_destroy(struct sk_loop *loop)
{
    if (loop == NULL)
        return;
    loop->poller->destroy(loop);
    free(loop->files);
    free(loop->fired);
    free(loop);
}

int sk_loop_watch(struct sk_loop *loop, int fd, int mask, sk_event_fn *fn, void *data)
{
    if (fd < 0 || fd >= loop->setsize)
        return -ERANGE;
    struct sk_loop_file *f = &loop->files[fd];
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

int sk_loop_run_once(struct sk_loop *loop, int timeout_ms)
{
    int n = loop->poller->poll(loop, timeout_ms);
    if (n <= 0)
        return n;
    for (int i = 0; i < n; i++) {
        int fd = loop->fired[i].fd;
        struct sk_loop_file *f = &loop->files[fd];
        /* An earlier callback in this round may have closed fd. */
        int events = loop->fired[i].events & (f->mask | SK_EV_READ | SK_EV_WRITE);
        if (f->mask == SK_EV_NONE || f->on_event == NULL || events == 0)
            continue;
        f->on_event(loop, fd, f->data, events);
    }
    return n;
}
