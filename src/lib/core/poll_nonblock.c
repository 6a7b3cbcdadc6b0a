/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * poll_nonblock.c - no poller at all (UNP: non-blocking I/O).
 *
 * The tutorial's "polling" model: every socket is non-blocking and every
 * round simply tries each of them; EAGAIN means "nothing yet".  It needs
 * no kernel help to know what is ready, and pays for that with a system
 * call per socket per round.  To keep it from burning a core while
 * nothing happens, a round in which no I/O made progress (the users of
 * the loop bump loop->progress) is followed by a yield for SPIN_NS after
 * the last progress (a request-reply peer usually answers within that),
 * then by naps that double from NAP_MIN_US to NAP_MAX_US: an idle server
 * wakes about a thousand times a second and uses next to no CPU, and a
 * busy one answers in microseconds rather than after a millisecond nap.
 */
#include "sk_loop.h"
#include "sk_compat.h"

#include <errno.h>
#include <stdlib.h>

#define SPIN_NS 20000      /* yield, not sleep, this long after progress */
#define NAP_MIN_US 50
#define NAP_MAX_US 1000

struct nonblock_state {
    unsigned long last_progress;
    uint64_t last_progress_ns;
    int nap_us;             /* the next nap; 0 while spinning */
};

static int nonblock_create(struct sk__loop *loop)
{
    struct nonblock_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return -ENOMEM;
    loop->poller_state = st;
    return 0;
}

static void nonblock_destroy(struct sk__loop *loop)
{
    free(loop->poller_state);
}

static int nonblock_update(struct sk__loop *loop, int fd, int old_mask, int new_mask)
{
    (void)loop, (void)fd, (void)old_mask, (void)new_mask;
    return 0;
}

static int nonblock_poll(struct sk__loop *loop, int timeout_ms)
{
    struct nonblock_state *st = loop->poller_state;
    uint64_t now = sk__now_ns();
    if (loop->progress != st->last_progress) {
        st->last_progress = loop->progress;
        st->last_progress_ns = now;
        st->nap_us = 0;
    } else if (now - st->last_progress_ns < SPIN_NS) {
        sk__thread_yield();
    } else {
        int nap = st->nap_us ? st->nap_us : NAP_MIN_US;
        if (timeout_ms >= 0 && (int64_t)timeout_ms * 1000 < nap)
            nap = timeout_ms * 1000;
        if (nap > 0)
            sk__sleep_us(nap);
        st->nap_us = nap * 2 < NAP_MAX_US ? nap * 2 : NAP_MAX_US;
    }
    int fired = 0;
    for (int fd = 0; fd <= loop->maxfd; fd++) {
        int mask = loop->files[fd].mask;
        if (mask != SK_EV_NONE) {
            loop->fired[fired].fd = fd;
            loop->fired[fired].events = mask;
            fired++;
        }
    }
    return fired;
}

const struct sk__poller sk__poller_nonblock = {
    .name = "nonblock",
    .call = NULL,
    .flags = SK_POLLER_EDGE,
    .max_fds = 0,
    .create = nonblock_create,
    .destroy = nonblock_destroy,
    .update = nonblock_update,
    .poll = nonblock_poll,
};
