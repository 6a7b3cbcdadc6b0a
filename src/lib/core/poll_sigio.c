/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * poll_sigio.c - signal-driven I/O (UNP: the fourth I/O model), Linux.
 *
 * Each socket gets O_ASYNC, an owner (this thread, F_SETOWN_EX with
 * F_OWNER_TID) and, with F_SETSIG, a real-time signal instead of plain
 * SIGIO.  Real-time signals queue, one per readiness change, and carry the
 * descriptor (si_fd) and the kind of event (si_band), so the kernel tells
 * us exactly which socket changed.  The signals stay blocked and are
 * collected synchronously with sigtimedwait(): no handler, nothing
 * async-signal-unsafe.  If the real-time queue overflows the kernel sends
 * plain SIGIO instead, and the loop then tries every socket.
 *
 * Signals mark changes, not states, so this poller is edge-triggered.
 */
#include "sk_loop.h"
#include "sk_error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SIGIO_RT_OFFSET 3 /* SIGRTMIN+3: clear of what libc reserves */

struct sigio_state {
    sigset_t wait_set;
    int signo;
    pid_t tid;
    unsigned *seen_round; /* fd -> round in which it was last fired */
    int *fired_slot;      /* fd -> its index in loop->fired that round */
    unsigned round;
    int *fresh;           /* descriptors just given O_ASYNC, not yet tried */
    int nfresh;
};

static int sigio_create(struct sk__loop *loop)
{
    struct sigio_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return -ENOMEM;
    st->seen_round = calloc((size_t)loop->setsize, sizeof *st->seen_round);
    st->fired_slot = calloc((size_t)loop->setsize, sizeof *st->fired_slot);
    st->fresh = calloc((size_t)loop->setsize, sizeof *st->fresh);
    if (st->seen_round == NULL || st->fired_slot == NULL || st->fresh == NULL) {
        free(st->seen_round);
        free(st->fired_slot);
        free(st->fresh);
        free(st);
        return -ENOMEM;
    }
    st->signo = SIGRTMIN + SIGIO_RT_OFFSET;
    st->tid = (pid_t)syscall(SYS_gettid);
    sigemptyset(&st->wait_set);
    sigaddset(&st->wait_set, st->signo);
    sigaddset(&st->wait_set, SIGIO);
    /* Blocked, so they wait for sigtimedwait instead of killing us. */
    pthread_sigmask(SIG_BLOCK, &st->wait_set, NULL);
    loop->poller_state = st;
    return 0;
}

static void sigio_destroy(struct sk__loop *loop)
{
    struct sigio_state *st = loop->poller_state;
    /* Throw away what is still queued for descriptors now closed. */
    struct timespec zero = { 0, 0 };
    while (sigtimedwait(&st->wait_set, NULL, &zero) > 0)
        ;
    free(st->seen_round);
    free(st->fired_slot);
    free(st->fresh);
    free(st);
}

static int sigio_update(struct sk__loop *loop, int fd, int old_mask, int new_mask)
{
    struct sigio_state *st = loop->poller_state;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return new_mask == SK_EV_NONE ? 0 : sk_error_last();
    if (new_mask == SK_EV_NONE) {
        if (fcntl(fd, F_SETFL, flags & ~O_ASYNC) != 0)
            return sk_error_last();
        return 0;
    }
    if (old_mask != SK_EV_NONE)
        return 0; /* signals come for every event; nothing to change */
    struct f_owner_ex owner = { F_OWNER_TID, st->tid };
    if (fcntl(fd, F_SETOWN_EX, &owner) != 0 || fcntl(fd, F_SETSIG, st->signo) != 0 ||
        fcntl(fd, F_SETFL, flags | O_ASYNC | O_NONBLOCK) != 0)
        return sk_error_last();
    /* Whatever became ready before O_ASYNC was set (a connection already
     * in the listen queue, data that came with the handshake) raised no
     * signal and never will: try the descriptor once on the next poll. */
    if (st->nfresh < loop->setsize)
        st->fresh[st->nfresh++] = fd;
    return 0;
}

static int all_watched(struct sk__loop *loop)
{
    int fired = 0;
    for (int fd = 0; fd <= loop->maxfd; fd++) {
        if (loop->files[fd].mask != SK_EV_NONE) {
            loop->fired[fired].fd = fd;
            loop->fired[fired].events = loop->files[fd].mask;
            fired++;
        }
    }
    return fired;
}

/* The loop is created on one thread (the server's main thread, for every
 * worker) and may then be polled on another.  Signals go to the thread
 * named by F_SETOWN_EX, so on the first poll from a new thread every
 * watched socket is pointed at it; what was signalled to the old thread
 * meanwhile is lost, so every watched socket is tried once (which also
 * covers the fresh ones). */
static int sigio_adopt_thread(struct sk__loop *loop, struct sigio_state *st, pid_t tid)
{
    st->tid = tid;
    st->nfresh = 0;
    pthread_sigmask(SIG_BLOCK, &st->wait_set, NULL);
    struct f_owner_ex owner = { F_OWNER_TID, tid };
    for (int fd = 0; fd <= loop->maxfd; fd++)
        if (loop->files[fd].mask != SK_EV_NONE && fcntl(fd, F_SETOWN_EX, &owner) != 0)
            return sk_error_last();
    return all_watched(loop);
}

static int sigio_poll(struct sk__loop *loop, int timeout_ms)
{
    struct sigio_state *st = loop->poller_state;
    struct timespec ts, zero = { 0, 0 };
    siginfo_t info;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    if (tid != st->tid)
        return sigio_adopt_thread(loop, st, tid);
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
    }
    struct timespec zero_wait = { 0, 0 };
    int sig = sigtimedwait(&st->wait_set, &info,
                           st->nfresh > 0 ? &zero_wait : timeout_ms >= 0 ? &ts : NULL);
    if (sig < 0 && (errno != EAGAIN || st->nfresh == 0))
        return errno == EAGAIN ? 0 : sk_error_last();
    int fired = 0;
    if (++st->round == 0) { /* wrapped: old stamps could look current */
        memset(st->seen_round, 0, (size_t)loop->setsize * sizeof *st->seen_round);
        st->round = 1;
    }
    for (int i = 0; i < st->nfresh; i++) {
        int fd = st->fresh[i];
        if (loop->files[fd].mask == SK_EV_NONE || st->seen_round[fd] == st->round)
            continue;
        st->seen_round[fd] = st->round;
        st->fired_slot[fd] = fired;
        loop->fired[fired].fd = fd;
        loop->fired[fired].events = loop->files[fd].mask;
        fired++;
    }
    st->nfresh = 0;
    while (sig > 0) {
        if (sig == SIGIO) /* the queue overflowed: trust nothing, try all */
            return all_watched(loop);
        int fd = info.si_fd;
        if (fd >= 0 && fd < loop->setsize && loop->files[fd].mask != SK_EV_NONE) {
            int events = 0;
            if (info.si_band & (POLLIN | POLLERR | POLLHUP | POLLRDHUP))
                events |= SK_EV_READ;
            if (info.si_band & (POLLOUT | POLLERR | POLLHUP))
                events |= SK_EV_WRITE;
            /* One descriptor may have queued several signals: merge them. */
            if (st->seen_round[fd] != st->round) {
                st->seen_round[fd] = st->round;
                st->fired_slot[fd] = fired;
                loop->fired[fired].fd = fd;
                loop->fired[fired].events = 0;
                fired++;
            }
            loop->fired[st->fired_slot[fd]].events |= events;
        }
        if (fired == loop->setsize)
            break;
        sig = sigtimedwait(&st->wait_set, &info, &zero);
    }
    return fired;
}

const struct sk__poller sk__poller_sigio = {
    .name = "sigio",
    .call = "sigtimedwait",
    .call_args = "F_SETSIG: a signal per ready descriptor",
    .flags = SK_POLLER_EDGE,
    .max_fds = 0,
    .create = sigio_create,
    .destroy = sigio_destroy,
    .update = sigio_update,
    .poll = sigio_poll,
};
