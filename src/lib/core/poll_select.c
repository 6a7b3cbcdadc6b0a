/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * poll_select.c - the select() poller (UNP: I/O multiplexing).
 *
 * select() takes fd_sets that hold descriptors below FD_SETSIZE (1024 on
 * Linux) and nothing else: FD_SET on a larger descriptor writes past the
 * set.  max_fds tells the loop, and the server refuses such connections
 * before they reach FD_SET.  Each call copies the sets because select()
 * overwrites them.
 */
#include "sk_loop.h"
#include "sk_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

struct select_state {
    fd_set read_set, write_set;
    fd_set read_ready, write_ready;
};

static int select_create(struct sk__loop *loop)
{
    struct select_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return -ENOMEM;
    FD_ZERO(&st->read_set);
    FD_ZERO(&st->write_set);
    loop->poller_state = st;
    return 0;
}

static void select_destroy(struct sk__loop *loop)
{
    free(loop->poller_state);
}

static int select_update(struct sk__loop *loop, int fd, int old_mask, int new_mask)
{
    struct select_state *st = loop->poller_state;
    (void)old_mask;
    if (fd >= FD_SETSIZE)
        return -ERANGE;
    if (new_mask & SK_EV_READ)
        FD_SET(fd, &st->read_set);
    else
        FD_CLR(fd, &st->read_set);
    if (new_mask & SK_EV_WRITE)
        FD_SET(fd, &st->write_set);
    else
        FD_CLR(fd, &st->write_set);
    return 0;
}

static int select_poll(struct sk__loop *loop, int timeout_ms)
{
    struct select_state *st = loop->poller_state;
    struct timeval tv, *tvp = NULL;
    if (timeout_ms >= 0) {
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
        tvp = &tv;
    }
    memcpy(&st->read_ready, &st->read_set, sizeof(fd_set));
    memcpy(&st->write_ready, &st->write_set, sizeof(fd_set));
    int n = select(loop->maxfd + 1, &st->read_ready, &st->write_ready, NULL, tvp);
    if (n < 0)
        return sk_error_last();
    int fired = 0;
    for (int fd = 0; fd <= loop->maxfd && fired < n * 2; fd++) {
        int events = 0;
        if (FD_ISSET(fd, &st->read_ready))
            events |= SK_EV_READ;
        if (FD_ISSET(fd, &st->write_ready))
            events |= SK_EV_WRITE;
        if (events) {
            loop->fired[fired].fd = fd;
            loop->fired[fired].events = events;
            fired++;
        }
    }
    return fired;
}

const struct sk__poller sk__poller_select = {
    .name = "select",
    .call = "select",
    .flags = 0,
    .max_fds = FD_SETSIZE,
    .create = select_create,
    .destroy = select_destroy,
    .update = select_update,
    .poll = select_poll,
};
