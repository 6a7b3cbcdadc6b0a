/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz.h - what the libFuzzer harnesses in tests/fuzz/ share: the entry
 * points' prototypes, a check that aborts with a message (libFuzzer saves
 * the input that made it fire), and a cursor for taking control bytes off
 * the front of an input.
 *
 * Built only by `make fuzz` (clang -fsanitize=fuzzer,address,undefined);
 * never part of `make test`.
 */
#ifndef SOCKIT_FUZZ_H
#define SOCKIT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property that must hold for every input.  abort() rather than
 * assert(): the check must not vanish under -DNDEBUG. */
#define FUZZ_CHECK(cond, ...)                                                 \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__,       \
                    __LINE__, #cond);                                         \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* A known library bug can be stepped over, so that a run goes on looking
 * for others while its fix is pending: SOCKIT_FUZZ_TOLERATE holds a list
 * of tags, each harness naming its own.  `make fuzz` sets none, so a known
 * bug fails it until it is fixed.  The bugs found so far are fixed; the
 * inputs that showed them are seeds, tests/fuzz/corpus/<harness>/regression-*. */
static inline int fuzz_tolerates(const char *tag)
{
    const char *list = getenv("SOCKIT_FUZZ_TOLERATE");
    return list != NULL && strstr(list, tag) != NULL;
}

/* The input, consumed from the front.  Taking past the end yields zeros
 * and empty slices, so a short input is still a valid one. */
struct fuzz_input {
    const uint8_t *data;
    size_t len;
};

static inline uint8_t fuzz_byte(struct fuzz_input *in)
{
    if (in->len == 0)
        return 0;
    in->len--;
    return *in->data++;
}

static inline unsigned fuzz_u16(struct fuzz_input *in)
{
    unsigned hi = fuzz_byte(in);
    return hi << 8 | fuzz_byte(in);
}

/* Up to n bytes; *out points at them (inside the input).  Returns how
 * many there were. */
static inline size_t fuzz_take(struct fuzz_input *in, size_t n, const uint8_t **out)
{
    static const uint8_t nothing[1];
    if (n > in->len)
        n = in->len;
    *out = in->data != NULL ? in->data : nothing; /* libFuzzer's empty input may be NULL */
    in->data += n;
    in->len -= n;
    return n;
}

#endif
