/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_svc_file.c - the file service fed one byte at a time.
 *
 * Each test builds a small root in a fresh mkdtemp() directory: regular
 * files, a subdirectory, a FIFO and symlinks that stay inside or leave.
 * The output capacity is kept small (1000 bytes) so every transfer is
 * cut into many on_writable calls, as an event loop with a small buffer
 * would.  A captured logger checks the warnings name the peer.  The last
 * test runs the openat2-less fallback in a child process where a seccomp
 * filter makes openat2 fail with ENOSYS, as on Linux < 5.6.
 *
 * On Windows (the mingw-w64 build, run under Wine) the same tests run on a
 * root without the FIFO and the symbolic links: Windows has no FIFOs in
 * the file system, and a symbolic link needs a privilege there (Wine's
 * CreateSymbolicLinkW reports success and creates nothing), so the cases
 * that need them are POSIX only; test_windows.py checks a link that
 * leaves the root, made on the Linux side.  Windows adds its own refusals
 * (drive and stream names).
 */
#include "fake_session.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#ifdef _WIN32
#include <direct.h>
#include <io.h>
#else
#include <sys/wait.h>
#include <unistd.h>
#endif

#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#endif

extern const struct sk_service sk__service_file;

#define OUTPUT_CAP 1000

/* ---- a logger that keeps every line -------------------------------------- */

struct captured_log {
    char text[65536];
    size_t len;
};

static void capture_write(void *ctx, enum sk_log_level level, const char *message)
{
    static const char *const names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
    struct captured_log *log = ctx;
    int n = snprintf(log->text + log->len, sizeof log->text - log->len, "%s %s\n",
                     names[level], message);
    if (n > 0)
        log->len += (size_t)n < sizeof log->text - log->len ? (size_t)n
                                                             : sizeof log->text - log->len - 1;
}

/* ---- a throw-away root ----------------------------------------------------- */

struct root {
    char dir[300];     /* the served root */
    char outside[320]; /* a file beside it, outside the root */
};

/* The few file-system calls that are spelt differently on Windows. */
#ifdef _WIN32
static int make_dir(const char *path)
{
    return _mkdir(path);
}

static int remove_dir(const char *path)
{
    return _rmdir(path);
}

static int remove_file(const char *path)
{
    return _unlink(path);
}

/* A fresh directory "TEMP\sockit-file-NNNN" (Windows has no mkdtemp). */
static char *make_temp_dir(char *dir, size_t cap)
{
    char tmp[MAX_PATH + 1];
    DWORD n = GetTempPathA(sizeof tmp, tmp);
    if (n == 0 || n > sizeof tmp)
        return NULL;
    for (unsigned attempt = 0; attempt < 1000; attempt++) {
        snprintf(dir, cap, "%ssockit-file-%lu-%u", tmp, (unsigned long)GetCurrentProcessId(),
                 attempt);
        if (CreateDirectoryA(dir, NULL))
            return dir;
        if (GetLastError() != ERROR_ALREADY_EXISTS)
            return NULL;
    }
    return NULL;
}

static int shrink_file(const char *path, long len)
{
    int fd = _open(path, _O_RDWR | _O_BINARY);
    if (fd < 0)
        return -1;
    int rc = _chsize_s(fd, len) == 0 ? 0 : -1;
    _close(fd);
    return rc;
}
#else
static int make_dir(const char *path)
{
    return mkdir(path, 0755);
}

static int remove_dir(const char *path)
{
    return rmdir(path);
}

static int remove_file(const char *path)
{
    return unlink(path);
}

static char *make_temp_dir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/sockit-file-XXXXXX");
    return mkdtemp(dir);
}

static int shrink_file(const char *path, long len)
{
    return truncate(path, len);
}
#endif

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        abort();
}

static void in_root(const struct root *r, const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", r->dir, name);
}

/* root/
 *   small        "hi\n"
 *   sub/         a directory, holding inner ("inner\n") and up -> ../small
 *   fifo         a FIFO (opening it must not block)
 *   alias        -> small (relative, stays inside)
 *   absalias     -> ROOT/small (absolute: refused even though inside)
 *   evil         -> /etc/passwd
 *   escape       -> ../outside (relative, leaves)
 *   linkdir      -> sub
 * ../outside     "secret\n"
 * On Windows only small, sub/, sub/inner and ../outside. */
static void make_root(struct root *r)
{
    char path[512];
    if (make_temp_dir(r->dir, sizeof r->dir) == NULL)
        abort();
    snprintf(r->outside, sizeof r->outside, "%s-outside", r->dir);
    FILE *f = fopen(r->outside, "wb");
    if (f == NULL || fputs("secret\n", f) < 0 || fclose(f) != 0)
        abort();
    write_file(r->dir, "small", "hi\n", 3);
    in_root(r, "sub", path, sizeof path);
    if (make_dir(path) != 0)
        abort();
    write_file(r->dir, "sub/inner", "inner\n", 6);
#ifndef _WIN32
    char target[512];
    in_root(r, "fifo", path, sizeof path);
    if (mkfifo(path, 0644) != 0)
        abort();
    struct { const char *name, *target; } links[] = {
        { "alias", "small" },     { "evil", "/etc/passwd" }, { "escape", NULL },
        { "linkdir", "sub" },     { "sub/up", "../small" },  { "absalias", NULL },
    };
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        const char *t = links[i].target;
        if (strcmp(links[i].name, "escape") == 0) {
            snprintf(target, sizeof target, "../%s", strrchr(r->outside, '/') + 1);
            t = target;
        } else if (strcmp(links[i].name, "absalias") == 0) {
            snprintf(target, sizeof target, "%s/small", r->dir);
            t = target;
        }
        in_root(r, links[i].name, path, sizeof path);
        if (symlink(t, path) != 0)
            abort();
    }
#endif
}

static void remove_root(struct root *r)
{
    static const char *const names[] = { "sub/inner", "sub/up", "small", "fifo", "alias",
                                         "evil", "escape", "linkdir", "absalias", "big",
                                         "empty", "one", "shrinks", "locked" };
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        in_root(r, names[i], path, sizeof path);
        remove_file(path);
    }
    in_root(r, "sub", path, sizeof path);
    remove_dir(path);
    remove_dir(r->dir);
    remove_file(r->outside);
}

/* ---- driving the service --------------------------------------------------- */

static void open_root_session(struct fake_session *f, const struct root *r,
                              struct captured_log *log)
{
    struct sk_service_config cfg = { .root = r->dir };
    fake_open(f, &sk__service_file, &cfg, OUTPUT_CAP);
    log->len = 0;
    log->text[0] = '\0';
    static struct sk_logger logger;
    logger.write = capture_write;
    logger.ctx = log;
    f->instance.logger = &logger;
}

/* Send request (a name line) byte by byte; the whole reply is in f->all. */
static void ask(struct fake_session *f, const void *request, size_t len)
{
    CHECK_INT(fake_feed_bytewise(f, request, len), len);
}

/* The reply so far as a C string (replies here are short text). */
static const char *reply_text(const struct fake_session *f)
{
    static char text[256];
    size_t n = f->all_len < sizeof text - 1 ? f->all_len : sizeof text - 1;
    memcpy(text, f->all, n);
    text[n] = '\0';
    return text;
}

/* ---- tests ------------------------------------------------------------------ */

static void check_transfer(size_t size)
{
    struct root r;
    struct captured_log log;
    struct fake_session f;
    make_root(&r);
    uint8_t *data = malloc(size ? size : 1);
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)(i * 131 + (i >> 8));
    write_file(r.dir, "big", data, size);

    open_root_session(&f, &r, &log);
    ask(&f, "big\n", 4);
    char header[64];
    int hlen = snprintf(header, sizeof header, "OK %zu\n", size);
    CHECK_INT(f.all_len, (size_t)hlen + size);
    CHECK(f.all_len >= (size_t)hlen && memcmp(f.all, header, (size_t)hlen) == 0);
    CHECK(f.all_len == (size_t)hlen + size && memcmp(f.all + hlen, data, size) == 0);
    CHECK(f.session.flags & SK_SESSION_SHUTDOWN);
    CHECK(!(f.session.flags & SK_SESSION_WANT_WRITABLE));
    CHECK(!(f.session.flags & SK_SESSION_CLOSE));
    char expect[160];
    snprintf(expect, sizeof expect, "INFO %s: sent \"big\" (%zu bytes)", f.session.peer, size);
    CHECK(strstr(log.text, expect) != NULL);

    ask(&f, "Thank you\n", 10);
    CHECK(!(f.session.flags & SK_SESSION_CLOSE));
    fake_eof(&f);
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    CHECK(strstr(log.text, "closing message: \"Thank you\"") != NULL);
    fake_close(&f);
    free(data);
    remove_root(&r);
}

TEST(file_sends_empty_file)
{
    check_transfer(0);
}

TEST(file_sends_one_byte)
{
    check_transfer(1);
}

TEST(file_sends_300_kib_through_a_1000_byte_output)
{
    check_transfer(300 * 1024 + 7);
}

TEST(file_never_writes_without_room)
{
    struct root r;
    struct captured_log log;
    struct fake_session f;
    make_root(&r);
    static uint8_t data[10000];
    memset(data, 'x', sizeof data);
    write_file(r.dir, "big", data, sizeof data);
    open_root_session(&f, &r, &log);
    CHECK_INT(fake_feed(&f, "big\n", 4), 4);
    CHECK(f.session.flags & SK_SESSION_WANT_WRITABLE);
    sk__service_file.on_writable(&f.session); /* fills the 1000 bytes */
    CHECK_INT(f.out_len, OUTPUT_CAP);
    size_t before = f.all_len;
    sk__service_file.on_writable(&f.session); /* no room: must return */
    CHECK_INT(f.all_len, before);
    CHECK(f.session.flags & SK_SESSION_WANT_WRITABLE);
    fake_take(&f);
    fake_pump(&f, (size_t)1 << 20);
    CHECK_INT(f.all_len, strlen("OK 10000\n") + sizeof data);
    CHECK(f.session.flags & SK_SESSION_SHUTDOWN);
    fake_close(&f);
    remove_root(&r);
}

struct refusal {
    const char *request; /* name line; length taken from request_len */
    size_t request_len;
    const char *reply;
    int warns;
};

#define REQ(s) s, sizeof s - 1

TEST(file_refuses_every_escape_and_non_file)
{
    static const struct refusal cases[] = {
        { REQ("\n"), "ERR path refused: empty name\n", 1 },
        { REQ("\r\n"), "ERR path refused: empty name\n", 1 },
        { REQ("..\n"), "ERR path refused: '..' component\n", 1 },
        { REQ("../x\n"), "ERR path refused: '..' component\n", 1 },
        { REQ("a/../../x\n"), "ERR path refused: '..' component\n", 1 },
        { REQ("sub/..\n"), "ERR path refused: '..' component\n", 1 },
        { REQ("/etc/passwd\n"), "ERR path refused: absolute path\n", 1 },
        { REQ("a\\b\n"), "ERR path refused: backslash in name\n", 1 },
        { REQ("..\\x\n"), "ERR path refused: backslash in name\n", 1 },
        { REQ("sm\0all\n"), "ERR path refused: NUL byte in name\n", 1 },
        { REQ("sub\n"), "ERR not a regular file\n", 1 },
        { REQ("sub/\n"), "ERR not a regular file\n", 1 },
        { REQ(".\n"), "ERR not a regular file\n", 1 },
        { REQ("nope\n"), "ERR no such file\n", 0 },
        { REQ("small/x\n"), "ERR no such file\n", 0 },
#ifdef _WIN32
        /* drives, streams and device names: never outside the root */
        { REQ("C:x\n"), "ERR path refused: drive or stream name\n", 1 },
        { REQ("C:/Windows/win.ini\n"), "ERR path refused: drive or stream name\n", 1 },
        { REQ("small:stream\n"), "ERR path refused: drive or stream name\n", 1 },
        { REQ("small::$DATA\n"), "ERR path refused: drive or stream name\n", 1 },
        { REQ("//server/share/x\n"), "ERR path refused: absolute path\n", 1 },
        { REQ("NUL\n"), "ERR no such file\n", 0 },
        { REQ("CON\n"), "ERR no such file\n", 0 },
#else
        /* symbolic links and a FIFO: see the top of the file */
        { REQ("evil\n"), "ERR path refused: leaves the root\n", 1 },
        { REQ("escape\n"), "ERR path refused: leaves the root\n", 1 },
        { REQ("absalias\n"), "ERR path refused: leaves the root\n", 1 },
        { REQ("fifo\n"), "ERR not a regular file\n", 1 },
#endif
    };
    struct root r;
    make_root(&r);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct captured_log log;
        struct fake_session f;
        open_root_session(&f, &r, &log);
        ask(&f, cases[i].request, cases[i].request_len);
        if (strcmp(reply_text(&f), cases[i].reply) != 0)
            unit_fail(__FILE__, __LINE__, "case %zu: reply \"%s\", expected \"%s\"", i,
                      reply_text(&f), cases[i].reply);
        CHECK(f.session.flags & SK_SESSION_SHUTDOWN);
        char warn[160];
        snprintf(warn, sizeof warn, "WARN %s: refused", f.session.peer);
        if ((strstr(log.text, warn) != NULL) != cases[i].warns)
            unit_fail(__FILE__, __LINE__, "case %zu: log \"%s\" (expected %s)", i, log.text,
                      cases[i].warns ? "a warning naming the peer" : "no warning");
        fake_eof(&f);
        CHECK(f.session.flags & SK_SESSION_CLOSE);
        fake_close(&f);
    }
    remove_root(&r);
}

TEST(file_serves_names_with_dot_and_empty_components)
{
    static const char *const names[] = { "./small\n", "sub//inner\n", "sub/./inner\n",
                                         "./sub/inner\n" };
    static const char *const replies[] = { "OK 3\nhi\n", "OK 6\ninner\n", "OK 6\ninner\n",
                                           "OK 6\ninner\n" };
    struct root r;
    make_root(&r);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct captured_log log;
        struct fake_session f;
        open_root_session(&f, &r, &log);
        ask(&f, names[i], strlen(names[i]));
        CHECK_STR(reply_text(&f), replies[i]);
        fake_close(&f);
    }
    remove_root(&r);
}

#ifndef _WIN32 /* symbolic links: see the top of the file */
TEST(file_serves_symlinks_that_stay_inside_the_root)
{
    static const char *const names[] = { "alias\n", "sub/up\n", "linkdir/inner\n" };
    static const char *const replies[] = { "OK 3\nhi\n", "OK 3\nhi\n", "OK 6\ninner\n" };
    struct root r;
    make_root(&r);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct captured_log log;
        struct fake_session f;
        open_root_session(&f, &r, &log);
        ask(&f, names[i], strlen(names[i]));
        CHECK_STR(reply_text(&f), replies[i]);
        fake_close(&f);
    }
    remove_root(&r);
}
#endif

/* Windows has no mode bits that forbid reading (chmod(0) only sets the
 * read-only attribute; denying takes an ACL), and root reads anything. */
#ifndef _WIN32
TEST(file_permission_denied)
{
    if (geteuid() == 0)
        return; /* root reads anything: nothing to test */
    struct root r;
    struct captured_log log;
    struct fake_session f;
    make_root(&r);
    write_file(r.dir, "locked", "x", 1);
    char path[512];
    in_root(&r, "locked", path, sizeof path);
    chmod(path, 0);
    open_root_session(&f, &r, &log);
    ask(&f, "locked\n", 7);
    CHECK_STR(reply_text(&f), "ERR permission denied\n");
    fake_close(&f);
    remove_root(&r);
}
#endif

TEST(file_single_file_mode_ignores_the_name)
{
    struct root r;
    make_root(&r);
    char path[512];
    in_root(&r, "small", path, sizeof path);
    static const char *const names[] = { "anything\n", "../etc/passwd\n", "\n" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct sk_service_config cfg = { .single_file = path };
        struct fake_session f;
        fake_open(&f, &sk__service_file, &cfg, OUTPUT_CAP);
        ask(&f, names[i], strlen(names[i]));
        CHECK_STR(reply_text(&f), "OK 3\nhi\n");
        CHECK(f.session.flags & SK_SESSION_SHUTDOWN);
        fake_close(&f);
    }
    remove_root(&r);
}

TEST(file_name_length_limit)
{
    static char line[1100];
    struct root r;
    make_root(&r);

    /* 1024 bytes is allowed (and not found), with or without '\r'; a
     * '/' every 100 bytes keeps each component under the kernel's 255. */
    for (int cr = 0; cr <= 1; cr++) {
        struct captured_log log;
        struct fake_session f;
        for (size_t i = 0; i < 1024; i++)
            line[i] = i % 100 == 99 ? '/' : 'a';
        size_t len = 1024;
        if (cr)
            line[len++] = '\r';
        line[len++] = '\n';
        open_root_session(&f, &r, &log);
        ask(&f, line, len);
        CHECK_STR(reply_text(&f), "ERR no such file\n");
        fake_close(&f);
    }
    /* 1025 bytes is too long, whether it ends there or runs on; what
     * follows the over-long line is the closing message. */
    static const size_t lengths[] = { 1025, 1026, 1099 };
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
        struct captured_log log;
        struct fake_session f;
        memset(line, 'a', lengths[i]);
        line[lengths[i]] = '\n';
        open_root_session(&f, &r, &log);
        ask(&f, line, lengths[i] + 1);
        CHECK_STR(reply_text(&f), "ERR name too long\n");
        CHECK(f.session.flags & SK_SESSION_SHUTDOWN);
        ask(&f, "bye\n", 4);
        fake_eof(&f);
        CHECK(strstr(log.text, "closing message: \"bye\"") != NULL);
        CHECK(f.session.flags & SK_SESSION_CLOSE);
        fake_close(&f);
    }
    remove_root(&r);
}

TEST(file_closing_message_is_bounded_and_escaped)
{
    struct root r;
    struct captured_log log;
    struct fake_session f;
    make_root(&r);
    open_root_session(&f, &r, &log);
    ask(&f, "small\n", 6);
    CHECK(f.session.flags & SK_SESSION_SHUTDOWN);
    static const char odd[] = "Thank\tyou \"very\"\x01\xff";
    ask(&f, odd, sizeof odd - 1);
    static char filler[100000];
    memset(filler, 'z', sizeof filler);
    CHECK_INT(fake_feed(&f, filler, sizeof filler), sizeof filler);
    fake_eof(&f);
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    CHECK(strstr(log.text, "closing message: \"Thank\\tyou \\\"very\\\"\\x01\\xffzzz") != NULL);
    char total[64];
    snprintf(total, sizeof total, "...\" (%zu bytes)", sizeof odd - 1 + sizeof filler);
    CHECK(strstr(log.text, total) != NULL);
    fake_close(&f);
    remove_root(&r);
}

TEST(file_closing_message_absent_or_cut_by_eof)
{
    struct root r;
    struct captured_log log;
    struct fake_session f;
    make_root(&r);

    open_root_session(&f, &r, &log);
    ask(&f, "small\n", 6);
    fake_eof(&f);
    CHECK(strstr(log.text, "no closing message") != NULL);
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    fake_close(&f);

    /* The peer closes half-way through the name: no reply, a warning. */
    open_root_session(&f, &r, &log);
    ask(&f, "sma", 3);
    fake_eof(&f);
    CHECK_INT(f.all_len, 0);
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    CHECK(strstr(log.text, "WARN") != NULL);
    fake_close(&f);
    remove_root(&r);
}

TEST(file_peer_half_close_before_reply_still_gets_the_file)
{
    struct root r;
    struct captured_log log;
    struct fake_session f;
    make_root(&r);
    static uint8_t data[5000];
    memset(data, 'q', sizeof data);
    write_file(r.dir, "big", data, sizeof data);
    open_root_session(&f, &r, &log);
    CHECK_INT(fake_feed(&f, "big\nThank you\n", 14), 14);
    fake_eof(&f); /* an event loop may see the FIN before writing */
    CHECK(!(f.session.flags & SK_SESSION_CLOSE));
    fake_pump(&f, (size_t)1 << 20);
    CHECK_INT(f.all_len, strlen("OK 5000\n") + sizeof data);
    CHECK(f.session.flags & SK_SESSION_SHUTDOWN);
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    CHECK(strstr(log.text, "closing message: \"Thank you\"") != NULL);
    fake_close(&f);
    remove_root(&r);
}

TEST(file_that_shrinks_while_sent_aborts)
{
    struct root r;
    struct captured_log log;
    struct fake_session f;
    make_root(&r);
    static uint8_t data[200000];
    memset(data, 's', sizeof data);
    write_file(r.dir, "shrinks", data, sizeof data);
    open_root_session(&f, &r, &log);
    CHECK_INT(fake_feed(&f, "shrinks\n", 8), 8);
    fake_pump(&f, 10000);
    CHECK(!f.aborted);
    char path[512];
    in_root(&r, "shrinks", path, sizeof path);
    CHECK_INT(shrink_file(path, 20000), 0);
    fake_pump(&f, (size_t)1 << 20);
    CHECK(f.aborted);
    CHECK(!(f.session.flags & SK_SESSION_SHUTDOWN)); /* no clean end of file */
    CHECK(f.all_len < strlen("OK 200000\n") + sizeof data);
    CHECK(strstr(log.text, "WARN") != NULL && strstr(log.text, "shrank") != NULL);
    fake_close(&f);
    remove_root(&r);
}

/* ---- the fallback without openat2 ----------------------------------------- */

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#if defined(__linux__) && defined(TEST_AUDIT_ARCH) && defined(SYS_openat2)
/* Make openat2 fail with ENOSYS in this process, like an old kernel. */
static int hide_openat2(void)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { (unsigned short)(sizeof code / sizeof *code), code };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* In the child: ask each name and compare replies; exit with the number
 * of mismatches (77 when the filter cannot be installed). */
static void fallback_child(const struct root *r)
{
    static const char *const names[] = {
        "small\n", "sub/inner\n", "sub//inner\n", "./small\n", "alias\n", "sub/up\n",
        "linkdir/inner\n", "evil\n", "escape\n", "sub\n", "fifo\n", "nope\n", "../x\n",
    };
    static const char *const replies[] = {
        "OK 3\nhi\n", "OK 6\ninner\n", "OK 6\ninner\n", "OK 3\nhi\n",
        "ERR path refused: symbolic link\n", "ERR path refused: symbolic link\n",
        "ERR path refused: symbolic link\n", "ERR path refused: symbolic link\n",
        "ERR path refused: symbolic link\n", "ERR not a regular file\n",
        "ERR not a regular file\n", "ERR no such file\n",
        "ERR path refused: '..' component\n",
    };
    if (hide_openat2() != 0)
        _exit(77);
    if (syscall(SYS_openat2, AT_FDCWD, ".", NULL, 0) != -1 || errno != ENOSYS)
        _exit(77);
    int mismatches = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct captured_log log;
        struct fake_session f;
        open_root_session(&f, r, &log);
        fake_feed_bytewise(&f, names[i], strlen(names[i]));
        if (strcmp(reply_text(&f), replies[i]) != 0) {
            fprintf(stderr, "  fallback: '%.*s' got \"%s\", expected \"%s\"\n",
                    (int)strlen(names[i]) - 1, names[i], reply_text(&f), replies[i]);
            mismatches++;
        }
        fake_close(&f);
    }
    _exit(mismatches);
}

TEST(file_fallback_walk_refuses_every_symlink)
{
    struct root r;
    make_root(&r);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        fallback_child(&r);
    int status = 0;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        fprintf(stderr, "  (skipped: cannot install a seccomp filter here)\n");
    else
        CHECK_INT(WEXITSTATUS(status), 0);
    remove_root(&r);
}
#endif
