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

struct sk_loop;

typedef void sk_event_fn(struct sk_loop *loop, int fd, void *data, int events);

struct sk_poller {
    const char *name;
    unsigned flags;
    int max_fds; /* descriptors must stay below this; 0 = no limit */
    int (*create)(struct sk_loop *loop);
    void (*destroy)(struct sk_loop *loop);
    /* Interest in fd goes from old_mask to new_mask (either may be 0). */
    int (*update)(struct sk_loop *loop, int fd, int old_mask, int new_mask);
    /* Wait up to timeout_ms (-1 = forever) and fill loop->fired; return
     * how many fired or a negative code (-EINTR included). */
    int (*poll)(struct sk_loop *loop, int timeout_ms);
};

struct sk_loop_file {
    int mask;
    sk_event_fn *on_event;
    void *data;
};

struct sk_fired {
    int fd;
    int events;
};

struct sk_loop {
    const struct sk_poller *poller;
    void *poller_state;
    int setsize;             /* files[] and fired[] hold this many */
    int maxfd;               /* highest fd with a mask, or -1 */
    struct sk_loop_file *files;
    struct sk_fired *fired;
    unsigned long progress;  /* bumped by users on real I/O (for busy pollers) */
};

/* setsize bounds the descriptors the loop can watch (fd < setsize). */
int sk_loop_create(const struct sk_poller *poller, int setsize, struct sk_loop **out);
void sk_loop_destroy(struct sk_loop *loop);
/* Set the events wanted for fd (SK_EV_NONE removes it). */
int sk_loop_watch(struct sk_loop *loop, int fd, int mask, sk_event_fn *fn, void *data);
/* Poll once and run the callbacks of what fired.  Returns the number of
 * descriptors that fired, 0 on timeout, or a code. */
int sk_loop_run_once(struct sk_loop *loop, int timeout_ms);

extern const struct sk_poller sk_poller_select;
extern const struct sk_poller sk_poller_poll;
extern const struct sk_poller sk_poller_epoll;
extern const struct sk_poller sk_poller_epoll_edge;
extern const struct sk_poller sk_poller_nonblock;
extern const struct sk_poller sk_poller_sigio;

#endif
