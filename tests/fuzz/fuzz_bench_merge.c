/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_bench_merge.c - the reader behind `sockit bench --merge`
 * (cmd_bench.c: read_final_object, merge_file, over cli_json.h's json-c
 * half), and the printing of what it merged (print_final, text and
 * --json).
 *
 * Feeds: one or two files' worth of arbitrary text (split at the first
 * 0x00 byte), each written to a memfd and read back through its
 * /proc/self/fd path, merged into one result as `--merge A B` does, then
 * printed both ways to /dev/null.
 *
 * How it reaches the reader: the functions are static in cmd_bench.c,
 * which has no main(), so this file #includes cmd_bench.c and links the
 * library and cli_json_jsonc.c; main.c and cli.c stay out.  cli_fail()
 * and friends are replaced here: instead of exiting they jump back to
 * the harness (a rejected file is a normal outcome), and what merge_file
 * still holds at that point (merge_held) is freed so LeakSanitizer stays
 * quiet.
 *
 * Asserts: no memory error, no undefined behaviour (UBSan, including
 * float-to-integer conversions that overflow), no exit, and after a
 * successful merge the histogram's count is the sum of its buckets.
 *
 * Why: the files come from earlier runs, possibly edited by hand or cut
 * short; a malformed one must be rejected with a message, not crash the
 * merge or make it print garbage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/cmd/cmd_bench.c"

#include "fuzz.h"

/* ---- cli.c, for a harness ------------------------------------------------ */

static jmp_buf rejected;

const char *cli_prog = "sockit bench";

void cli_fail(const char *fmt, ...)
{
    (void)fmt;
    longjmp(rejected, 1);
}

void cli_usage_error(const char *fmt, ...)
{
    (void)fmt;
    FUZZ_CHECK(0, "usage error from the merge reader");
    abort();
}

void cli_warn(const char *fmt, ...)
{
    (void)fmt;
}

long cli_parse_long(const char *text, long min, long max, const char *what)
{
    (void)text, (void)max, (void)what;
    return min;
}

double cli_parse_decimal(const char *text, double min, double max, const char *what,
                         const char *expected)
{
    (void)text, (void)max, (void)what, (void)expected;
    return min;
}

int cli_parse_duration_ms(const char *text, const char *what)
{
    (void)text, (void)what;
    return 0;
}

unsigned long long cli_parse_size(const char *text, unsigned long long min,
                                  unsigned long long max, const char *what)
{
    (void)text, (void)max, (void)what;
    return min;
}

void cli_set_family(int *family, int option)
{
    (void)family, (void)option;
    abort();
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    (void)argc, (void)argv, (void)shortopts, (void)longopts;
    abort();
}

void cli_json_stamp(struct cli_json *object)
{
    cli_json_add(object, "sockit_version", cli_json_string(SOCKIT_VERSION));
    cli_json_add(object, "timestamp", cli_json_string("2026-01-31T12:00:00Z"));
}

void cli_bad_option(int argc, char **argv)
{
    (void)argc, (void)argv;
    abort();
}

void cli_help(const char *text)
{
    (void)text;
    abort();
}

/* ---- the harness ------------------------------------------------------------ */

static int memfd = -1;
static char memfd_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    memfd = memfd_create("fuzz-bench-merge", MFD_CLOEXEC);
    FUZZ_CHECK(memfd >= 0, "memfd_create");
    snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
    FUZZ_CHECK(freopen("/dev/null", "w", stdout) != NULL, "stdout to /dev/null");
    return 0;
}

static void put_file(const uint8_t *data, size_t len)
{
    FUZZ_CHECK(ftruncate(memfd, 0) == 0, "ftruncate");
    FUZZ_CHECK(len == 0 || pwrite(memfd, data, len, 0) == (ssize_t)len, "pwrite");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *split = size > 0 ? memchr(data, 0, size) : NULL;
    size_t first = split ? (size_t)(split - data) : size;

    struct result r;
    memset(&r, 0, sizeof r);
    r.hist = malloc(sizeof *r.hist);
    FUZZ_CHECK(r.hist != NULL, "out of memory");
    sk_hist_init(r.hist);

    /* volatile: read after longjmp */
    volatile int files = split ? 2 : 1;
    volatile int merged = 0;
    if (setjmp(rejected) == 0) {
        put_file(data, first);
        merge_file(memfd_path, &r);
        merged++;
        if (files == 2) {
            put_file(split + 1, size - first - 1);
            merge_file(memfd_path, &r);
            merged++;
        }
    } else {
        merge_release(); /* what the rejected file's reading still held */
    }

    if (merged == files) {
        uint64_t sum = 0;
        for (size_t i = 0; i < SK_HIST_BUCKETS; i++)
            sum += r.hist->buckets[i];
        FUZZ_CHECK(sum == r.hist->count, "count %llu, buckets hold %llu",
                   (unsigned long long)r.hist->count, (unsigned long long)sum);
        print_final(&r, NULL, 0);
        print_final(&r, NULL, 1);
    }
    free(r.hist);
    return 0;
}
