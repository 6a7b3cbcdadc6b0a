/*
 * poll_nonblock.c - no poller at all (UNP: non-blocking I/O).
 *
 * The tutorial's "polling" model: every socket is non-blocking and every
 * round simply tries each of them; EAGAIN means "nothing yet".  It needs
 * no kernel help to know what is ready, and pays for that with a system
 * call per socket per round.  To keep it from burning a core while
 * nothing happens, a round in which no I/O made progress (the users of
 * the loop bump loop->progress) is followed by a yield, and after a few
 * of those by a 1 ms sleep.
 */
#include "sk_loop.h"
#include "sk_compat.h"

#include <errno.h>
#include <stdlib.h>

struct nonblock_state {
    unsigned long last_progress;
    int idle_rounds;
};

static int nonblock_create(struct sk_loop *loop)
{
    struct nonblock_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return -ENOMEM;
    loop->poller_state = st;
    return 0;
}

static void nonblock_destroy(struct sk_loop *loop)
{
    free(loop->poller_state);
}

static int nonblock_update(struct sk_loop *loop, int fd, int old_mask, int new_mask)
{
    (void)loop, (void)fd, (void)old_mask, (void)new_mask;
    return 0;
}

static int nonblock_poll(struct sk_loop *loop, int timeout_ms)
{
    struct nonblock_state *st = loop->poller_state;
    if (loop->progress == st->last_progress) {
        if (++st->idle_rounds < 8) {
            sk_thread_yield();
        } else {
            int nap = 1;
            if (timeout_ms >= 0 && timeout_ms < nap)
                nap = timeout_ms;
            if (nap > 0)
                sk_sleep_ms(nap);
        }
    } else {
        st->idle_rounds = 0;
    }
    st->last_progress = loop->progress;
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

const struct sk_poller sk_poller_nonblock = {
    .name = "nonblock",
    .flags = SK_POLLER_EDGE,
    .max_fds = 0,
    .create = nonblock_create,
    .destroy = nonblock_destroy,
    .update = nonblock_update,
    .poll = nonblock_poll,
};
