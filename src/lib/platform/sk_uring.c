/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_uring.c - the io_uring helpers of sk_uring.h (Linux, liburing).
 */
#include "sk_uring.h"

#ifdef SK_HAVE_URING
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static const struct {
    const char *name;
    unsigned bit;
} features[] = {
    { "defer", SK_URING_DEFER },
    { "ringfd", SK_URING_RINGFD },
    { "multishot-recv", SK_URING_MULTISHOT_RECV },
    { "multishot-accept", SK_URING_MULTISHOT_ACCEPT },
    { "bundle", SK_URING_BUNDLE },
    { "echo-in-place", SK_URING_ECHO_IN_PLACE },
    { "zc-send", SK_URING_ZC_SEND },
};

void sk__uring_feature_names(char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof features / sizeof *features && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", features[i].name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* Words separated by commas or spaces, each "no-NAME" (off) or "NAME" (on). */
int sk__uring_features(unsigned *out, const char **bad, size_t *badlen)
{
    unsigned on = SK_URING_DEFAULT;
    const char *s = getenv("SOCKIT_URING");
    while (s != NULL && *s != '\0') {
        size_t len = strcspn(s, ", ");
        if (len > 0) {
            const char *word = s;
            size_t wlen = len;
            int off = wlen > 3 && strncmp(word, "no-", 3) == 0;
            if (off)
                word += 3, wlen -= 3;
            size_t i;
            for (i = 0; i < sizeof features / sizeof *features; i++)
                if (strlen(features[i].name) == wlen && memcmp(features[i].name, word, wlen) == 0)
                    break;
            if (i == sizeof features / sizeof *features) {
                *bad = s;
                *badlen = len;
                return -EINVAL;
            }
            if (off)
                on &= ~features[i].bit;
            else
                on |= features[i].bit;
        }
        s += len;
        s += strspn(s, ", ");
    }
    *out = on;
    return 0;
}

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
