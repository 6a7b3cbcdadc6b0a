/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_stop.c - the stop request (sockit/platform.h).
 *
 * One lock-free atomic int: C11 lets a signal handler store to it
 * (7.14.1.1) and every thread read it without a data race, which a
 * volatile sig_atomic_t would not promise across threads.  It is opaque
 * in the public headers so that C++ programs, which cannot include
 * <stdatomic.h> before C++23, use the same object through these calls.
 */
#include <errno.h>
#include <stdlib.h>

#include "sk_compat.h"

int sk_stop_new(struct sk_stop **out)
{
    struct sk_stop *stop = malloc(sizeof *stop);
    if (stop == NULL)
        return -ENOMEM;
    atomic_init(&stop->flag, 0);
    *out = stop;
    return 0;
}

void sk_stop_free(struct sk_stop *stop)
{
    free(stop);
}

void sk_stop_request(struct sk_stop *stop)
{
    atomic_store(&stop->flag, 1);
}

int sk_stop_requested(const struct sk_stop *stop)
{
    /* atomic_load takes a pointer to non-const in C11's wording (C17
     * relaxed it); the flag is only read here. */
    return stop != NULL && atomic_load((sk__flag_t *)&stop->flag) != 0;
}
