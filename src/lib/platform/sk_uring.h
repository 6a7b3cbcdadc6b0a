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
#endif

#endif
