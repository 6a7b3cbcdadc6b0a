/*
 * fuzz_bench_merge.c - the reader behind `sockit bench --merge`
 * (cmd_bench.c: read_final_line, json_number, merge_file), and the
 * printing of what it merged (print_final, text and --json).
 *
 * Feeds: one or two files' worth of arbitrary text (split at the first
 * 0x00 byte), each written to a memfd and read back through its
 * /proc/self/fd path, merged into one result as `--merge A B` does, then
 * printed both ways to /dev/null.
 *
 * How it reaches the reader: the functions are static in cmd_bench.c,
 * which has no main(), so this file #includes cmd_bench.c and links the
 * library; main.c and cli.c stay out.  cli_fail() and friends are
 * replaced here: instead of exiting they jump back to the harness (a
 * rejected file is a normal outcome), and the one string merge_file
 * still owns at that point is freed so LeakSanitizer stays quiet.
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

/* merge_file() owns the string read_final_line() strdup()ed when it
 * rejects a file; remember it so the harness can free it. */
static char *merge_owned;
static char *fuzz_strdup(const char *s)
{
    merge_owned = strdup(s);
    return merge_owned;
}
#define strdup fuzz_strdup
#include "../../src/cmd/cmd_bench.c"
#undef strdup

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

int cli_parse_seconds_ms(const char *text, const char *what)
{
    (void)text, (void)what;
    return 0;
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
static int tolerate_float_cast;
static char memfd_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    memfd = memfd_create("fuzz-bench-merge", MFD_CLOEXEC);
    FUZZ_CHECK(memfd >= 0, "memfd_create");
    snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
    FUZZ_CHECK(freopen("/dev/null", "w", stdout) != NULL, "stdout to /dev/null");
    tolerate_float_cast = fuzz_tolerates("merge-float-cast");
    return 0;
}

static void put_file(const uint8_t *data, size_t len)
{
    FUZZ_CHECK(ftruncate(memfd, 0) == 0, "ftruncate");
    FUZZ_CHECK(len == 0 || pwrite(memfd, data, len, 0) == (ssize_t)len, "pwrite");
}

/* merge-float-cast (see fuzz_tolerates): merge_file converts the numbers
 * it reads to uint64_t without a range check, undefined for a negative,
 * NaN or too large value ("msgs":-1).  When tolerated, inputs whose final
 * objects hold such a number are skipped, so the rest of the reader is
 * still fuzzed. */
static int in_uint64_range(double v)
{
    return v >= 0 && v < 18446744073709551616.0;
}

/* One line as merge_file sees it: a C string, so cut at a NUL. */
static int line_has_bad_count(const uint8_t *p, size_t len)
{
    static const char *const keys[] = { "msgs", "bytes", "connects", "mismatches", "resets",
                                        "short_replies", "connect_failures", "timeouts",
                                        "udp_lost", "udp_duplicates", "udp_reordered",
                                        "udp_late", "min", "max" };
    char *line = malloc(len + 1);
    FUZZ_CHECK(line != NULL, "out of memory");
    memcpy(line, p, len);
    line[len] = '\0';
    int bad = 0;
    if (strstr(line, "\"type\":\"final\"") != NULL) {
        for (size_t i = 0; i < sizeof keys / sizeof *keys && !bad; i++) {
            double v;
            bad = json_number(line, keys[i], &v) == 0 && !in_uint64_range(v);
        }
    }
    free(line);
    return bad;
}

/* Any final line of either file (they part at the first NUL). */
static int has_bad_count(const uint8_t *data, size_t len, size_t first_nul)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && data[i] != '\n' && i != first_nul)
            continue;
        if (line_has_bad_count(data + start, i - start))
            return 1;
        start = i + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *split = size > 0 ? memchr(data, 0, size) : NULL;
    size_t first = split ? (size_t)(split - data) : size;
    if (tolerate_float_cast && has_bad_count(data, size, first))
        return 0;

    struct result r;
    memset(&r, 0, sizeof r);
    r.hist = malloc(sizeof *r.hist);
    FUZZ_CHECK(r.hist != NULL, "out of memory");
    sk_hist_init(r.hist);

    /* volatile: read after longjmp */
    volatile int files = split ? 2 : 1;
    volatile int merged = 0;
    merge_owned = NULL;
    if (setjmp(rejected) == 0) {
        put_file(data, first);
        merge_file(memfd_path, &r);
        merged++;
        if (files == 2) {
            merge_owned = NULL;
            put_file(split + 1, size - first - 1);
            merge_file(memfd_path, &r);
            merged++;
        }
    } else {
        free(merge_owned); /* NULL when read_final_line refused the file */
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
