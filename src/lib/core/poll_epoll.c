/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * poll_epoll.c - the epoll poller (UNP: I/O multiplexing), Linux only.
 *
 * The kernel keeps the interest set, so a wait costs what is ready, not
 * what is watched.  Two flavours share this file: level-triggered (a
 * ready descriptor is reported on every wait, like poll) and
 * edge-triggered (--edge: reported once per change, with EPOLLET; the
 * owner must drain it to EAGAIN).
 */
#include "sk_loop.h"
#include "sk_error.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct epoll_state {
    int epfd;
    struct epoll_event *events;
};

static int epoll_create_state(struct sk__loop *loop)
{
    struct epoll_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return -ENOMEM;
    st->events = calloc((size_t)loop->setsize, sizeof *st->events);
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (st->events == NULL || st->epfd < 0) {
        int rc = st->events == NULL ? -ENOMEM : sk_error_last();
        if (st->epfd >= 0)
            close(st->epfd);
        free(st->events);
        free(st);
        return rc;
    }
    loop->poller_state = st;
    return 0;
}

static void epoll_destroy(struct sk__loop *loop)
{
    struct epoll_state *st = loop->poller_state;
    close(st->epfd);
    free(st->events);
    free(st);
}

static int update(struct sk__loop *loop, int fd, int old_mask, int new_mask, uint32_t extra)
{
    struct epoll_state *st = loop->poller_state;
    struct epoll_event ev = { 0 };
    ev.data.fd = fd;
    ev.events = extra | ((new_mask & SK_EV_READ) ? EPOLLIN | EPOLLRDHUP : 0) |
                ((new_mask & SK_EV_WRITE) ? EPOLLOUT : 0);
    int op = old_mask == SK_EV_NONE ? EPOLL_CTL_ADD
           : new_mask == SK_EV_NONE ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (epoll_ctl(st->epfd, op, fd, &ev) != 0) {
        /* A descriptor closed before its removal is already gone. */
        if (op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT))
            return 0;
        return sk_error_last();
    }
    return 0;
}

static int level_update(struct sk__loop *loop, int fd, int old_mask, int new_mask)
{
    return update(loop, fd, old_mask, new_mask, 0);
}

static int edge_update(struct sk__loop *loop, int fd, int old_mask, int new_mask)
{
    return update(loop, fd, old_mask, new_mask, EPOLLET);
}

static int epoll_poll(struct sk__loop *loop, int timeout_ms)
{
    struct epoll_state *st = loop->poller_state;
    int n = epoll_wait(st->epfd, st->events, loop->setsize, timeout_ms);
    if (n < 0)
        return sk_error_last();
    for (int i = 0; i < n; i++) {
        uint32_t e = st->events[i].events;
        int events = 0;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
            events |= SK_EV_READ;
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            events |= SK_EV_WRITE;
        loop->fired[i].fd = st->events[i].data.fd;
        loop->fired[i].events = events;
    }
    return n;
}

const struct sk__poller sk__poller_epoll = {
    .name = "epoll",
    .call = "epoll_wait",
    .flags = 0,
    .max_fds = 0,
    .create = epoll_create_state,
    .destroy = epoll_destroy,
    .update = level_update,
    .poll = epoll_poll,
};

const struct sk__poller sk__poller_epoll_edge = {
    .name = "epoll-edge",
    .call = "epoll_wait",
    .flags = SK_POLLER_EDGE,
    .max_fds = 0,
    .create = epoll_create_state,
    .destroy = epoll_destroy,
    .update = edge_update,
    .poll = epoll_poll,
};

int sk__loop_create_fastest(struct sk__loop **out)
{
    return sk__loop_create(&sk__poller_epoll, 1 << 20, out) == 0
         ? 0 : sk__loop_create(&sk__poller_poll, 1 << 20, out);
}
