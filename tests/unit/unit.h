/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * unit.h - a small unit-test harness: TEST(name) registers a test, CHECK*
 * macros record failures with file and line, and the runner prints
 * "N passed, N failed" and exits non-zero on any failure.
 */
#ifndef SOCKIT_UNIT_H
#define SOCKIT_UNIT_H

#include <stdio.h>
#include <string.h>

struct unit_test {
    const char *name;
    void (*fn)(void);
    struct unit_test *next;
};

void unit_register(struct unit_test *t);
/* mingw-w64's "printf" format means Microsoft's old runtime, which lacks
 * %zu; the Windows build uses the C99 one (__USE_MINGW_ANSI_STDIO). */
#if defined(__MINGW32__)
#define UNIT_PRINTF(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#else
#define UNIT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#endif

void unit_fail(const char *file, int line, const char *fmt, ...) UNIT_PRINTF(3, 4);

#define TEST(name)                                                            \
    static void name(void);                                                   \
    static struct unit_test unit_##name = { #name, name, NULL };              \
    __attribute__((constructor)) static void unit_register_##name(void)       \
    {                                                                         \
        unit_register(&unit_##name);                                          \
    }                                                                         \
    static void name(void)

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond))                                                          \
            unit_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                \
    } while (0)

#define CHECK_INT(a, b)                                                       \
    do {                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                   \
        if (a_ != b_)                                                         \
            unit_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld",  \
                      #a, a_, #b, b_);                                        \
    } while (0)

#define CHECK_STR(a, b)                                                       \
    do {                                                                      \
        const char *a_ = (a), *b_ = (b);                                      \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                  \
            unit_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"",    \
                      #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");            \
    } while (0)

#define CHECK_MEM(a, alen, b, blen)                                           \
    do {                                                                      \
        size_t al_ = (alen), bl_ = (blen);                                    \
        if (al_ != bl_ || memcmp((a), (b), al_) != 0)                         \
            unit_fail(__FILE__, __LINE__, "%s (%zu bytes) differs from %s "   \
                      "(%zu bytes)", #a, al_, #b, bl_);                       \
    } while (0)

#endif
