/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk__loop: the event loop's bookkeeping and dispatch.  A recording poller
 * (below) checks what sk_loop.c itself promises on every platform: masks
 * handed to the poller as old -> new, maxfd, descriptors beyond setsize
 * refused, callbacks run with what fired and skipped once unwatched.
 * On POSIX the poll and select pollers then run over a real socketpair:
 * readable and writable fire when they should, and not otherwise.
 */
#include "sk_compat.h"
#include "sk_loop.h"
#include "unit.h"

#include <errno.h>

/* ---- a poller that records updates and fires what the test scripts ---- */

struct rec_update {
    int fd, old_mask, new_mask;
};

static struct rec_update rec_updates[16];
static int rec_nupdates;
static struct sk__fired rec_script[8];
static int rec_nscript;

static int rec_create(struct sk__loop *loop)
{
    (void)loop;
    rec_nupdates = rec_nscript = 0;
    return 0;
}

static void rec_destroy(struct sk__loop *loop)
{
    (void)loop;
}

static int rec_update(struct sk__loop *loop, int fd, int old_mask, int new_mask)
{
    (void)loop;
    if (rec_nupdates < 16)
        rec_updates[rec_nupdates++] = (struct rec_update){fd, old_mask, new_mask};
    return 0;
}

static int rec_poll(struct sk__loop *loop, int timeout_ms)
{
    (void)timeout_ms;
    for (int i = 0; i < rec_nscript; i++)
        loop->fired[i] = rec_script[i];
    return rec_nscript;
}

static const struct sk__poller rec_poller = {
    .name = "recording", .max_fds = 8,
    .create = rec_create, .destroy = rec_destroy, .update = rec_update, .poll = rec_poll,
};

struct seen {
    int calls, fd, events;
    int unwatch_other; /* set: the callback unwatches descriptor `other` */
    int other;
};

static void on_event(struct sk__loop *loop, int fd, void *data, int events)
{
    struct seen *s = data;
    s->calls++;
    s->fd = fd;
    s->events = events;
    if (s->unwatch_other)
        CHECK_INT(sk__loop_watch(loop, s->other, SK_EV_NONE, NULL, NULL), 0);
}

TEST(loop_setsize_is_capped_by_the_poller_and_beyond_it_is_refused)
{
    struct sk__loop *loop;
    CHECK_INT(sk__loop_create(&rec_poller, 100, &loop), 0);
    CHECK_INT(loop->setsize, 8); /* the poller's max_fds */
    struct seen s = {0};
    CHECK_INT(sk__loop_watch(loop, 8, SK_EV_READ, on_event, &s), -ERANGE);
    CHECK_INT(sk__loop_watch(loop, -1, SK_EV_READ, on_event, &s), -ERANGE);
    CHECK_INT(rec_nupdates, 0);
    CHECK_INT(sk__loop_watch(loop, 7, SK_EV_READ, on_event, &s), 0);
    sk__loop_destroy(loop);
}

TEST(loop_hands_the_poller_each_mask_change_once)
{
    struct sk__loop *loop;
    CHECK_INT(sk__loop_create(&rec_poller, 8, &loop), 0);
    struct seen s = {0};
    CHECK_INT(sk__loop_watch(loop, 3, SK_EV_READ, on_event, &s), 0);
    CHECK_INT(sk__loop_watch(loop, 3, SK_EV_READ, on_event, &s), 0); /* no change */
    CHECK_INT(sk__loop_watch(loop, 3, SK_EV_READ | SK_EV_WRITE, on_event, &s), 0);
    CHECK_INT(sk__loop_watch(loop, 5, SK_EV_WRITE, on_event, &s), 0);
    CHECK_INT(loop->maxfd, 5);
    CHECK_INT(sk__loop_watch(loop, 5, SK_EV_NONE, NULL, NULL), 0);
    CHECK_INT(loop->maxfd, 3);
    CHECK_INT(sk__loop_watch(loop, 3, SK_EV_NONE, NULL, NULL), 0);
    CHECK_INT(loop->maxfd, -1);
    CHECK_INT(rec_nupdates, 5);
    CHECK_INT(rec_updates[0].fd, 3);
    CHECK_INT(rec_updates[0].old_mask, SK_EV_NONE);
    CHECK_INT(rec_updates[0].new_mask, SK_EV_READ);
    CHECK_INT(rec_updates[1].old_mask, SK_EV_READ);
    CHECK_INT(rec_updates[1].new_mask, SK_EV_READ | SK_EV_WRITE);
    CHECK_INT(rec_updates[2].fd, 5);
    CHECK_INT(rec_updates[3].fd, 5);
    CHECK_INT(rec_updates[3].new_mask, SK_EV_NONE);
    CHECK_INT(rec_updates[4].fd, 3);
    CHECK_INT(rec_updates[4].old_mask, SK_EV_READ | SK_EV_WRITE);
    sk__loop_destroy(loop);
}

TEST(loop_runs_callbacks_of_what_fired_and_skips_the_unwatched)
{
    struct sk__loop *loop;
    CHECK_INT(sk__loop_create(&rec_poller, 8, &loop), 0);
    struct seen a = {0}, b = {0};
    CHECK_INT(sk__loop_watch(loop, 2, SK_EV_READ, on_event, &a), 0);
    CHECK_INT(sk__loop_watch(loop, 4, SK_EV_WRITE, on_event, &b), 0);
    rec_script[0] = (struct sk__fired){2, SK_EV_READ};
    rec_script[1] = (struct sk__fired){4, SK_EV_WRITE};
    rec_nscript = 2;
    CHECK_INT(sk__loop_run_once(loop, 0), 2);
    CHECK_INT(a.calls, 1);
    CHECK_INT(a.fd, 2);
    CHECK_INT(a.events, SK_EV_READ);
    CHECK_INT(b.calls, 1);
    CHECK_INT(b.events, SK_EV_WRITE);

    /* a's callback unwatches 4 (as a close would): b is not called for
     * the event that fired in the same round. */
    a.unwatch_other = 1;
    a.other = 4;
    CHECK_INT(sk__loop_run_once(loop, 0), 2);
    CHECK_INT(a.calls, 2);
    CHECK_INT(b.calls, 1);

    /* Nothing fired: no callback. */
    rec_nscript = 0;
    CHECK_INT(sk__loop_run_once(loop, 0), 0);
    CHECK_INT(a.calls, 2);
    sk__loop_destroy(loop);
}

/* ---- the real pollers over a socketpair (POSIX) ------------------------ */

#ifndef _WIN32
#include <sys/socket.h>
#include <unistd.h>

static void readable_and_writable_fire(const struct sk__poller *poller)
{
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct sk__loop *loop;
    CHECK_INT(sk__loop_create(poller, 1024, &loop), 0);
    struct seen r = {0}, w = {0};

    /* Nothing to read yet: a read watch does not fire. */
    CHECK_INT(sk__loop_watch(loop, sv[0], SK_EV_READ, on_event, &r), 0);
    CHECK_INT(sk__loop_run_once(loop, 0), 0);
    CHECK_INT(r.calls, 0);

    /* A byte from the other end: readable. */
    CHECK_INT(write(sv[1], "x", 1), 1);
    CHECK_INT(sk__loop_run_once(loop, 1000), 1);
    CHECK_INT(r.calls, 1);
    CHECK_INT(r.fd, sv[0]);
    CHECK(r.events & SK_EV_READ);

    /* The other end is writable at once. */
    CHECK_INT(sk__loop_watch(loop, sv[1], SK_EV_WRITE, on_event, &w), 0);
    int n = sk__loop_run_once(loop, 1000);
    CHECK_INT(n, 2);
    CHECK_INT(w.calls, 1);
    CHECK_INT(w.fd, sv[1]);
    CHECK(w.events & SK_EV_WRITE);

    /* Masks update: once the byte is read and writes are unwatched,
     * nothing fires. */
    char c;
    CHECK_INT(read(sv[0], &c, 1), 1);
    CHECK_INT(sk__loop_watch(loop, sv[1], SK_EV_NONE, NULL, NULL), 0);
    CHECK_INT(sk__loop_run_once(loop, 0), 0);
    CHECK_INT(r.calls, 2);
    CHECK_INT(w.calls, 1);

    /* Read and write on one descriptor: writable only, until data comes. */
    CHECK_INT(sk__loop_watch(loop, sv[0], SK_EV_READ | SK_EV_WRITE, on_event, &r), 0);
    CHECK_INT(sk__loop_run_once(loop, 1000), 1);
    CHECK_INT(r.events, SK_EV_WRITE);
    CHECK_INT(sk__loop_watch(loop, sv[0], SK_EV_NONE, NULL, NULL), 0);
    CHECK_INT(loop->maxfd, -1);

    sk__loop_destroy(loop);
    close(sv[0]);
    close(sv[1]);
}

TEST(loop_poll_fires_readable_and_writable)
{
    readable_and_writable_fire(&sk__poller_poll);
}

TEST(loop_select_fires_readable_and_writable)
{
    readable_and_writable_fire(&sk__poller_select);
}

TEST(loop_select_refuses_a_descriptor_at_fd_setsize)
{
    struct sk__loop *loop;
    CHECK_INT(sk__loop_create(&sk__poller_select, FD_SETSIZE * 2, &loop), 0);
    CHECK_INT(loop->setsize, FD_SETSIZE);
    struct seen s = {0};
    CHECK_INT(sk__loop_watch(loop, FD_SETSIZE, SK_EV_READ, on_event, &s), -ERANGE);
    sk__loop_destroy(loop);
}
#endif
