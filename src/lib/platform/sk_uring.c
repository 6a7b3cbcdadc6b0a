/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_uring.c - the io_uring helpers of sk_uring.h (Linux, liburing).
 */
#include "sk_uring.h"

#ifdef SK_HAVE_URING
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

int sk__uring_buf_ring_map(struct io_uring *ring, unsigned entries, int bgid,
                           struct io_uring_buf_ring **br, size_t *bytes)
{
    size_t len = entries * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return -errno;
    *br = mem;
    *bytes = len;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)(uintptr_t)mem;
    reg.ring_entries = entries;
    reg.bgid = (unsigned short)bgid;
    return io_uring_register_buf_ring(ring, &reg, 0);
}
#endif
