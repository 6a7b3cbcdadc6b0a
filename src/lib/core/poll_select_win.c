/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * poll_select_win.c - the select() poller on Winsock (UNP: I/O multiplexing).
 *
 * Winsock's fd_set is not a bitmap indexed by descriptor but an array of
 * up to FD_SETSIZE sockets with a count (FD_SETSIZE is 1024 here, set
 * before winsock2.h; the default is 64), so the limit is how many sockets
 * a set holds, not how large their handle values are.  An update that
 * would put more than FD_SETSIZE sockets in a set fails with -ERANGE and
 * the server closes that connection with a log line.  select() ignores
 * its first argument and, unlike POSIX, fails when every set is empty, so
 * an empty round is a plain sleep.
 */
#include "sk_loop.h"
#include "sk_compat.h"
#include "sk_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct select_state {
    fd_set read_set, write_set;
    fd_set read_ready, write_ready;
    int *fired_slot; /* fd -> 1 + its index in loop->fired this round, or 0 */
};

static int select_create(struct sk__loop *loop)
{
    struct select_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return -ENOMEM;
    st->fired_slot = calloc((size_t)loop->setsize, sizeof *st->fired_slot);
    if (st->fired_slot == NULL) {
        free(st);
        return -ENOMEM;
    }
    FD_ZERO(&st->read_set);
    FD_ZERO(&st->write_set);
    loop->poller_state = st;
    return 0;
}

static void select_destroy(struct sk__loop *loop)
{
    struct select_state *st = loop->poller_state;
    free(st->fired_slot);
    free(st);
}

static int set_has(const fd_set *set, SOCKET s)
{
    for (u_int i = 0; i < set->fd_count; i++)
        if (set->fd_array[i] == s)
            return 1;
    return 0;
}

/* Add or remove s; -ERANGE when the set already holds FD_SETSIZE. */
static int set_put(fd_set *set, SOCKET s, int on)
{
    if (!on) {
        FD_CLR(s, set);
        return 0;
    }
    if (set_has(set, s))
        return 0;
    if (set->fd_count >= FD_SETSIZE)
        return -ERANGE;
    set->fd_array[set->fd_count++] = s;
    return 0;
}

static int select_update(struct sk__loop *loop, int fd, int old_mask, int new_mask)
{
    struct select_state *st = loop->poller_state;
    SOCKET s = (SOCKET)fd;
    (void)old_mask;
    int rc = set_put(&st->read_set, s, new_mask & SK_EV_READ);
    if (rc == 0)
        rc = set_put(&st->write_set, s, new_mask & SK_EV_WRITE);
    if (rc < 0) { /* all or nothing */
        FD_CLR(s, &st->read_set);
        FD_CLR(s, &st->write_set);
        if (old_mask & SK_EV_READ)
            set_put(&st->read_set, s, 1);
        if (old_mask & SK_EV_WRITE)
            set_put(&st->write_set, s, 1);
    }
    return rc;
}

static void add_fired(struct sk__loop *loop, struct select_state *st, int *fired, int fd,
                      int events)
{
    if (fd < 0 || fd >= loop->setsize)
        return;
    int slot = st->fired_slot[fd];
    if (slot > 0) { /* readable and writable: one entry */
        loop->fired[slot - 1].events |= events;
        return;
    }
    loop->fired[*fired].fd = fd;
    loop->fired[*fired].events = events;
    st->fired_slot[fd] = ++*fired;
}

static int select_poll(struct sk__loop *loop, int timeout_ms)
{
    struct select_state *st = loop->poller_state;
    if (st->read_set.fd_count == 0 && st->write_set.fd_count == 0) {
        sk__sleep_ms(timeout_ms < 0 ? 1000 : timeout_ms);
        return 0;
    }
    struct timeval tv, *tvp = NULL;
    if (timeout_ms >= 0) {
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
        tvp = &tv;
    }
    /* Copy the used part only: a full fd_set is 8 KiB. */
    st->read_ready.fd_count = st->read_set.fd_count;
    memcpy(st->read_ready.fd_array, st->read_set.fd_array,
           st->read_set.fd_count * sizeof(SOCKET));
    st->write_ready.fd_count = st->write_set.fd_count;
    memcpy(st->write_ready.fd_array, st->write_set.fd_array,
           st->write_set.fd_count * sizeof(SOCKET));
    int n = select(0, &st->read_ready, &st->write_ready, NULL, tvp);
    if (n < 0)
        return sk__socket_error();
    int fired = 0;
    for (u_int i = 0; i < st->read_ready.fd_count; i++)
        add_fired(loop, st, &fired, (int)st->read_ready.fd_array[i], SK_EV_READ);
    for (u_int i = 0; i < st->write_ready.fd_count; i++)
        add_fired(loop, st, &fired, (int)st->write_ready.fd_array[i], SK_EV_WRITE);
    for (int i = 0; i < fired; i++)
        st->fired_slot[loop->fired[i].fd] = 0;
    return fired;
}

const struct sk__poller sk__poller_select = {
    .name = "select",
    .call = "select",
    .flags = 0,
    .max_fds = 0, /* handle values are not bounded; the count is (above) */
    .create = select_create,
    .destroy = select_destroy,
    .update = select_update,
    .poll = select_poll,
};
