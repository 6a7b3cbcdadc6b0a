/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * unit_main.c - runs every registered unit test, each isolated only by
 * discipline (no test may depend on another's state).
 */
#include "unit.h"

#include "sk_compat.h"

#include <stdarg.h>
#include <stdlib.h>

static struct unit_test *head, **tail = &head;
static int current_failed;

void unit_register(struct unit_test *t)
{
    *tail = t;
    tail = &t->next;
}

void unit_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    current_failed = 1;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const char *only = argc > 1 ? argv[1] : NULL;
    /* Winsock must be started before any socket call (WSAStartup), and
     * Windows' stdout must not turn "\n" into "\r\n"; on POSIX this
     * ignores SIGPIPE, as the programs do. */
    if (sk_compat_init() != 0) {
        fprintf(stderr, "unit: sk_compat_init failed\n");
        return 1;
    }
    for (struct unit_test *t = head; t != NULL; t = t->next) {
        if (only != NULL && strstr(t->name, only) == NULL)
            continue;
        current_failed = 0;
        t->fn();
        if (current_failed) {
            fprintf(stderr, "FAIL %s\n", t->name);
            failed++;
        } else {
            passed++;
        }
    }
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
