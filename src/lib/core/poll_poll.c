/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * poll_poll.c - the poll() poller (UNP: I/O multiplexing).
 *
 * One pollfd per watched descriptor in a dense array, with an index from
 * descriptor to slot so that updates and removals are O(1) (removal moves
 * the last slot into the hole).  No FD_SETSIZE limit.  On Windows the
 * same code runs on WSAPoll().
 */
#include "sk_loop.h"
#include "sk_compat.h"
#include "sk_error.h"

#include <errno.h>
#include <stdlib.h>


struct poll_state {
    struct pollfd *fds; /* dense, count entries */
    int *slot;          /* fd -> index in fds, or -1 */
    int count;
};

static int poll_create(struct sk__loop *loop)
{
    struct poll_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return -ENOMEM;
    st->fds = calloc((size_t)loop->setsize, sizeof *st->fds);
    st->slot = malloc((size_t)loop->setsize * sizeof *st->slot);
    if (st->fds == NULL || st->slot == NULL) {
        free(st->fds);
        free(st->slot);
        free(st);
        return -ENOMEM;
    }
    for (int i = 0; i < loop->setsize; i++)
        st->slot[i] = -1;
    loop->poller_state = st;
    return 0;
}

static void poll_destroy(struct sk__loop *loop)
{
    struct poll_state *st = loop->poller_state;
    free(st->fds);
    free(st->slot);
    free(st);
}

static int poll_update(struct sk__loop *loop, int fd, int old_mask, int new_mask)
{
    struct poll_state *st = loop->poller_state;
    (void)old_mask;
    int i = st->slot[fd];
    if (new_mask == SK_EV_NONE) {
        if (i >= 0) {
            st->fds[i] = st->fds[--st->count];
            st->slot[st->fds[i].fd] = i;
            st->slot[fd] = -1;
        }
        return 0;
    }
    if (i < 0) {
        i = st->count++;
        st->slot[fd] = i;
        st->fds[i].fd = fd;
    }
    st->fds[i].events = (short)(((new_mask & SK_EV_READ) ? POLLIN : 0) |
                                ((new_mask & SK_EV_WRITE) ? POLLOUT : 0));
    return 0;
}

static int poll_poll(struct sk__loop *loop, int timeout_ms)
{
    struct poll_state *st = loop->poller_state;
    int n = sk__poll(st->fds, (unsigned)st->count, timeout_ms);
    if (n < 0)
        return n;
    int fired = 0;
    for (int i = 0; i < st->count && fired < n; i++) {
        short re = st->fds[i].revents;
        if (re == 0)
            continue;
        int events = 0;
        /* Errors and hang-ups are reported as readable and writable: the
         * next read or write returns the error itself. */
        if (re & (POLLIN | POLLERR | POLLHUP))
            events |= SK_EV_READ;
        if (re & (POLLOUT | POLLERR | POLLHUP))
            events |= SK_EV_WRITE;
        loop->fired[fired].fd = st->fds[i].fd;
        loop->fired[fired].events = events;
        fired++;
    }
    return fired;
}

const struct sk__poller sk__poller_poll = {
    .name = "poll",
    .call = "poll",
    .flags = 0,
    .max_fds = 0,
    .create = poll_create,
    .destroy = poll_destroy,
    .update = poll_update,
    .poll = poll_poll,
};
