/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_uring.h - what the two io_uring users (the server's backend and
 * bench's engine) need beyond liburing 2.3, written once.
 */
#ifndef SK_URING_H
#define SK_URING_H

#ifdef SK_HAVE_URING
#include <liburing.h>
#include <stddef.h>

/* A provided-buffer ring of `entries` slots registered as group bgid:
 * liburing 2.3 has no io_uring_setup_buf_ring, so the ring is mapped
 * here and registered.  *br and *bytes are set as soon as the memory is
 * mapped, so the caller's munmap(*br, *bytes) frees it whatever failed
 * after.  0 or a code. */
int sk__uring_buf_ring_map(struct io_uring *ring, unsigned entries, int bgid,
                           struct io_uring_buf_ring **br, size_t *bytes);

/* The io_uring techniques the server uses where the kernel has them, each
 * of which can be turned off on its own to measure what it brings:
 * SOCKIT_URING=no-defer,no-ringfd (BENCHMARKS.md, scripts/bench_uring.py).
 * "bundle" is off unless named: it measured no gain here, and with the
 * multishot length cap the kernel cuts the last receive short at the cap,
 * which splits a client's write across two --log chunks.  "zc-send" is
 * off unless named too: on loopback the kernel must copy the pinned pages
 * for the local receiver anyway, so it only adds the pinning and a
 * notification per send (1.11 to 1.28x the CPU per message at 4 KiB x 16
 * here; BENCHMARKS.md); through a network card it saves the copy into
 * the socket.  The kernel still decides: a technique it lacks is left
 * out anyway. */
enum sk__uring_feature {
    SK_URING_DEFER = 1u << 0,            /* "defer": SINGLE_ISSUER | DEFER_TASKRUN */
    SK_URING_RINGFD = 1u << 1,           /* "ringfd": io_uring_register_ring_fd */
    SK_URING_MULTISHOT_RECV = 1u << 2,   /* "multishot-recv" */
    SK_URING_MULTISHOT_ACCEPT = 1u << 3, /* "multishot-accept" */
    SK_URING_BUNDLE = 1u << 4,           /* "bundle": a receive fills several buffers */
    SK_URING_ECHO_IN_PLACE = 1u << 5,    /* "echo-in-place": echo sends from the ring buffer */
    SK_URING_ZC_SEND = 1u << 6,          /* "zc-send": ... large ones with zero-copy sendmsg */
    SK_URING_DEFAULT = SK_URING_DEFER | SK_URING_RINGFD | SK_URING_MULTISHOT_RECV |
                       SK_URING_MULTISHOT_ACCEPT | SK_URING_ECHO_IN_PLACE
};

/* The features SOCKIT_URING leaves on (SK_URING_DEFAULT when it is unset
 * or empty).
 * A word that names no feature: -EINVAL, with *bad pointing at it in the
 * environment string and *badlen its length. */
int sk__uring_features(unsigned *features, const char **bad, size_t *badlen);

/* "defer, ringfd, multishot-recv, multishot-accept, bundle, echo-in-place,
 * zc-send" into buf (cut
 * to size): the names, for messages. */
void sk__uring_feature_names(char *buf, size_t size);
#endif

#endif
