/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_loop.h - a small readiness event loop over interchangeable pollers.
 *
 * The shape is redis's ae: the loop keeps, per descriptor, the events
 * wanted and the callbacks to run; a poller (select, poll, epoll, plain
 * non-blocking polling, signal-driven I/O) only says which descriptors are
 * ready, by filling loop->fired[].  Dispatch never knows which poller ran,
 * so each poller is one short file implementing the same few functions.
 *
 * Pollers that report changes rather than states (edge-triggered epoll,
 * SIGIO) set SK_POLLER_EDGE: the code that owns a descriptor must then read
 * and write until EAGAIN, because no new event comes for data that was
 * already there.
 */
#ifndef SK_LOOP_H
#define SK_LOOP_H

#include <stdint.h>

#define SK_EV_NONE 0
#define SK_EV_READ 1
#define SK_EV_WRITE 2

#define SK_POLLER_EDGE 0x1 /* events mean "changed", not "ready now" */

struct sk__loop;

typedef void sk__event_fn(struct sk__loop *loop, int fd, void *data, int events);

struct sk__poller {
    const char *name;
    /* The system call a wait is, as --trace shows it ("epoll_wait"); NULL
     * for a poller that makes none (nonblock tries every descriptor). */
    const char *call;
    const char *call_args; /* what else the trace says of it, or NULL */
    unsigned flags;
    int max_fds; /* descriptors must stay below this; 0 = no limit */
    int (*create)(struct sk__loop *loop);
    void (*destroy)(struct sk__loop *loop);
    /* Interest in fd goes from old_mask to new_mask (either may be 0). */
    int (*update)(struct sk__loop *loop, int fd, int old_mask, int new_mask);
    /* Wait up to timeout_ms (-1 = forever) and fill loop->fired; return
     * how many fired or a negative code (-EINTR included). */
    int (*poll)(struct sk__loop *loop, int timeout_ms);
};

struct sk__loop_file {
    int mask;
    sk__event_fn *on_event;
    void *data;
};

struct sk__fired {
    int fd;
    int events;
};

struct sk__loop {
    const struct sk__poller *poller;
    void *poller_state;
    int setsize;             /* files[] and fired[] hold this many */
    int maxfd;               /* highest fd with a mask, or -1 */
    struct sk__loop_file *files;
    struct sk__fired *fired;
    unsigned long progress;  /* bumped by users on real I/O (for busy pollers) */
    unsigned long traced_progress; /* --trace: progress at the last traced scan */
    int *traced_fds;         /* --trace: the ready descriptors, for the line */
};

/* setsize bounds the descriptors the loop can watch (fd < setsize). */
int sk__loop_create(const struct sk__poller *poller, int setsize, struct sk__loop **out);
void sk__loop_destroy(struct sk__loop *loop);
/* Set the events wanted for fd (SK_EV_NONE removes it). */
int sk__loop_watch(struct sk__loop *loop, int fd, int mask, sk__event_fn *fn, void *data);
/* Poll once and run the callbacks of what fired.  Returns the number of
 * descriptors that fired, 0 on timeout, or a code. */
int sk__loop_run_once(struct sk__loop *loop, int timeout_ms);

/* A loop on the fastest poller this platform has, for as many sockets as
 * it can take (the load generator's): epoll, or poll where epoll is
 * refused, on Linux (poll_epoll.c); WSAPoll on Windows
 * (poll_fastest_win.c), since select's sets hold only FD_SETSIZE. */
int sk__loop_create_fastest(struct sk__loop **out);

extern const struct sk__poller sk__poller_select;
extern const struct sk__poller sk__poller_poll;
extern const struct sk__poller sk__poller_epoll;
extern const struct sk__poller sk__poller_epoll_edge;
extern const struct sk__poller sk__poller_nonblock;
extern const struct sk__poller sk__poller_sigio;

#endif
