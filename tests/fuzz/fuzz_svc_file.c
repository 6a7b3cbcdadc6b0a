/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_svc_file.c - the file service (svc_file.c) against a hostile client.
 *
 * Feeds: arbitrary request bytes (a name line, then a "closing message")
 * through the fake session, cut into pieces at points the fuzzer picks,
 * to one of three instances over one root made once in /tmp:
 *   - the root served with openat2 (the kernel guards it),
 *   - the same root with openat2 "missing", so the service walks the path
 *     itself (this harness wraps syscall() to fail SYS_openat2 with ENOSYS
 *     while that instance probes for it, as on Linux < 5.6),
 *   - single-file mode.
 * Control bytes also pick the output capacity (1 byte to 64 KiB), whether
 * output drains after every piece or only at the end, whether the client
 * half-closes, and the --sendfile setting (the fake session has no
 * sendfile, so that is the fall-back-to-copy path).
 *
 *     /tmp/sockit-fuzz-file-PID-XXXXXX/
 *       secret              a file beside the root: must never be sent
 *       root/               served
 *         small, empty, big, sub/inner     regular files
 *         alias -> small, linkdir -> sub, sub/up -> ../small   (stay inside)
 *         escape -> ../secret, abs -> /tmp/.../secret, parent -> ..,
 *         sub/out -> ../../secret, evil -> /etc/passwd,
 *         absinside -> /tmp/.../root/small, loop -> loop, dangling -> nowhere
 *         fifo                             a FIFO
 *
 * Asserts, for every input:
 *   - nothing written ever contains the secret (or its first 12 bytes);
 *   - what was written is nothing (while no name line is complete), or
 *     exactly "ERR <one of the service's messages>\n", or exactly
 *     "OK <n>\n" and n bytes that are the content of a regular file inside
 *     the root, the very file the name leads to (same inode when the
 *     harness opens root/NAME itself);
 *   - a name served is lexically clean (not empty, no NUL, no leading
 *     '/', no backslash, no ".." component, at most 1024 bytes); the walk
 *     serves no name that passes through a symlink; single-file mode only
 *     ever sends its one file;
 *   - once a line is complete the reply is complete and the session
 *     half-closed, and closed too if the client half-closed;
 *   - log lines hold no control characters (names are escaped) and no
 *     descriptor is left open after the session closes.
 *
 * Why: the name comes from the network and is used to open a file; this
 * is the one place sockit turns peer bytes into a path.
 */
#include "fake_session.h"
#include "fuzz.h"
#include "sk_error.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#error "this harness needs SYS_openat2 (Linux headers >= 5.6)"
#endif

extern const struct sk_service sk__service_file;

static const char SECRET[] = "SECRET-beside-the-root-2f9c41\n";
#define SECRET_PROBE 12 /* a leak of even the first bytes is caught */
#define NAME_MAX_BYTES 1024
#define BIG_SIZE 5000

static char base[64];      /* /tmp/sockit-fuzz-file-PID-XXXXXX */
static char root_dir[128]; /* base/root */
static char big_content[BIG_SIZE];

struct served_file {
    const char *name;
    const char *content;
    size_t len;
    ino_t ino;
};
static struct served_file files[] = {
    { "small", "hi\n", 3, 0 },
    { "empty", "", 0, 0 },
    { "sub/inner", "inner\n", 6, 0 },
    { "big", big_content, BIG_SIZE, 0 },
};
#define NFILES (sizeof files / sizeof *files)

/* ---- openat2 "missing" for one instance ------------------------------- */

static int hide_openat2;

/* Every syscall() in the program comes here; in this harness only
 * svc_file.c's openat2 calls it.  A variadic function cannot forward
 * arguments it does not know the number of, so any other call stops the
 * run with a message rather than guess. */
long syscall(long number, ...)
{
    static long (*real)(long, ...);
    FUZZ_CHECK(number == SYS_openat2,
               "syscall(%ld): teach fuzz_svc_file.c's wrapper its arguments", number);
    va_list ap;
    va_start(ap, number);
    long dirfd = va_arg(ap, long);
    const char *path = va_arg(ap, const char *);
    void *how = va_arg(ap, void *);
    size_t size = va_arg(ap, size_t);
    va_end(ap);
    if (hide_openat2) {
        errno = ENOSYS;
        return -1;
    }
    if (real == NULL)
        real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    return real(number, dirfd, path, how, size);
}

/* ---- the tree --------------------------------------------------------- */

static void put_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL && fwrite(data, 1, len, f) == len && fclose(f) == 0, "%s", path);
}

static void put_link(const char *target, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root_dir, name);
    FUZZ_CHECK(symlink(target, path) == 0, "symlink %s", path);
}

/* Remove a tree this harness made under base (abort() and crashes skip
 * atexit, so a later run removes what a dead one left). */
static void remove_tree_at(const char *dir)
{
    static const char *const names[] = { "small", "empty", "big", "sub/inner", "sub/up",
                                         "sub/out", "alias", "linkdir", "escape", "abs",
                                         "parent", "evil", "absinside", "loop", "dangling",
                                         "fifo", "sub" };
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/root/%s", dir, names[i]);
        if (unlink(path) != 0)
            rmdir(path);
    }
    snprintf(path, sizeof path, "%s/root", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/secret", dir);
    unlink(path);
    rmdir(dir);
}

static void remove_tree(void)
{
    remove_tree_at(base);
}

/* Trees named /tmp/sockit-fuzz-file-PID-XXXXXX whose process is gone. */
static void remove_stale_trees(void)
{
    DIR *d = opendir("/tmp");
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int pid = 0;
        char path[512];
        if (sscanf(e->d_name, "sockit-fuzz-file-%d-", &pid) != 1 || pid <= 0)
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(path, sizeof path, "/tmp/%s", e->d_name);
        remove_tree_at(path);
    }
    closedir(d);
}

static void make_tree(void)
{
    char path[256];
    remove_stale_trees();
    snprintf(base, sizeof base, "/tmp/sockit-fuzz-file-%d-XXXXXX", (int)getpid());
    FUZZ_CHECK(mkdtemp(base) != NULL, "mkdtemp");
    snprintf(root_dir, sizeof root_dir, "%s/root", base);
    FUZZ_CHECK(mkdir(root_dir, 0755) == 0, "mkdir root");
    put_file(base, "secret", SECRET, sizeof SECRET - 1);
    snprintf(path, sizeof path, "%s/sub", root_dir);
    FUZZ_CHECK(mkdir(path, 0755) == 0, "mkdir sub");
    for (size_t i = 0; i < BIG_SIZE; i++)
        big_content[i] = (char)('a' + (i * 7 + i / 26) % 26);
    for (size_t i = 0; i < NFILES; i++) {
        put_file(root_dir, files[i].name, files[i].content, files[i].len);
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", root_dir, files[i].name);
        FUZZ_CHECK(stat(path, &st) == 0, "stat %s", path);
        files[i].ino = st.st_ino;
    }
    put_link("small", "alias");
    put_link("sub", "linkdir");
    put_link("../small", "sub/up");
    put_link("../secret", "escape");
    snprintf(path, sizeof path, "%s/secret", base);
    put_link(path, "abs");
    put_link("..", "parent");
    put_link("../../secret", "sub/out");
    put_link("/etc/passwd", "evil");
    snprintf(path, sizeof path, "%s/small", root_dir);
    put_link(path, "absinside");
    put_link("loop", "loop");
    put_link("nowhere", "dangling");
    snprintf(path, sizeof path, "%s/fifo", root_dir);
    FUZZ_CHECK(mkfifo(path, 0644) == 0, "mkfifo");
}

/* ---- known bugs (see fuzz_tolerates) -------------------------------- */

/* walk-trailing-slash: the openat2-less walk serves "small/" (and
 * "sub/inner//") as the file, where openat2 and POSIX say ENOTDIR. */
static int tolerate_walk_trailing_slash;

/* ---- instances and the log -------------------------------------------- */

enum { MODE_OPENAT2, MODE_WALK, MODE_SINGLE, MODES };

static struct sk_service_config configs[MODES];
static struct sk_instance instances[MODES];
static char single_path[256];

static void check_log(void *ctx, enum sk_log_level level, const char *message)
{
    (void)ctx;
    (void)level;
    size_t len = strlen(message);
    FUZZ_CHECK(len < 1024, "log line of %zu bytes", len);
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK((unsigned char)message[i] >= 0x20 && (unsigned char)message[i] < 0x7f,
                   "raw byte 0x%02x in log line \"%s\"", (unsigned char)message[i], message);
}
static const struct sk_logger logger = { check_log, NULL };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    tolerate_walk_trailing_slash = fuzz_tolerates("walk-trailing-slash");
    make_tree();
    atexit(remove_tree);
    configs[MODE_OPENAT2].root = root_dir;
    configs[MODE_WALK].root = root_dir;
    snprintf(single_path, sizeof single_path, "%s/small", root_dir);
    configs[MODE_SINGLE].single_file = single_path;
    for (int m = 0; m < MODES; m++) {
        hide_openat2 = m == MODE_WALK;
        FUZZ_CHECK(sk__instance_open(&instances[m], &sk__service_file, &configs[m], &logger) == 0,
                   "instance %d", m);
    }
    hide_openat2 = 0;
    return 0;
}

/* ---- driving a session like a model ----------------------------------- */

static void pump(struct fake_session *f)
{
    fake_take(f); /* the socket took what was queued */
    fake_pump(f, (size_t)1 << 24);
    fake_take(f);
}

/* Hand one piece to on_data; when the service takes less (no room), drain
 * the output, let it write, and offer the rest again. */
static size_t feed(struct fake_session *f, const uint8_t *p, size_t n, int drain)
{
    size_t off = 0;
    while (off < n) {
        if (f->aborted || (f->session.flags & (SK_SESSION_CLOSE | SK_SESSION_FAILED)))
            break;
        size_t used = fake_feed(f, p + off, n - off);
        FUZZ_CHECK(used <= n - off, "on_data used %zu of %zu", used, n - off);
        if (used == 0) {
            size_t before = f->all_len;
            pump(f);
            if (f->all_len == before)
                break; /* stuck: the checks below will say so */
        }
        off += used;
    }
    if (drain)
        pump(f);
    return off;
}

static int lowest_free_fd(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    FUZZ_CHECK(fd >= 0, "cannot open /dev/null");
    close(fd);
    return fd;
}

/* ---- what the reply may be -------------------------------------------- */

static int known_error(const char *msg, size_t len)
{
    static const char *const messages[] = {
        "path refused: empty name", "path refused: NUL byte in name",
        "path refused: absolute path", "path refused: backslash in name",
        "path refused: '..' component", "path refused: leaves the root",
        "path refused: symbolic link", "no such file", "permission denied",
        "name too long", "not a regular file", "cannot open file",
    };
    for (size_t i = 0; i < sizeof messages / sizeof *messages; i++)
        if (strlen(messages[i]) == len && memcmp(messages[i], msg, len) == 0)
            return 1;
    return 0;
}

static int lexically_clean(const char *name, size_t len)
{
    if (len == 0 || len > NAME_MAX_BYTES || memchr(name, '\0', len) || name[0] == '/' ||
        memchr(name, '\\', len))
        return 0;
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && name[end] != '/')
            end++;
        if (end - i == 2 && name[i] == '.' && name[i + 1] == '.')
            return 0;
        i = end + 1;
    }
    return 1;
}

/* 1 if some component of name (below the root) is a symlink. */
static int passes_a_symlink(const char *name)
{
    char path[2048];
    int n = snprintf(path, sizeof path, "%s/", root_dir);
    for (const char *p = name;; p++) {
        if (*p == '/' || *p == '\0') {
            struct stat st;
            path[n] = '\0';
            if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
                return 1;
        }
        if (*p == '\0')
            return 0;
        if ((size_t)n + 1 < sizeof path)
            path[n++] = *p;
    }
}

/* The reply in f->all to the name line (name, name_len), which is
 * complete when line_done. */
static void check_reply(const struct fake_session *f, int mode, const char *name,
                        size_t name_len, int line_done)
{
    const char *out = (const char *)f->all;
    size_t len = f->all_len;

    FUZZ_CHECK(len == 0 || line_done, "wrote %zu bytes before the name line ended", len);
    if (!line_done)
        return;
    FUZZ_CHECK(len > 0, "no reply to a complete name line");
    const char *nl = memchr(out, '\n', len);
    FUZZ_CHECK(nl != NULL, "reply without a header line");
    size_t hlen = (size_t)(nl - out) + 1;

    if (len >= 4 && memcmp(out, "ERR ", 4) == 0) {
        FUZZ_CHECK(hlen == len, "%zu bytes after \"%.*s\"", len - hlen, (int)hlen - 1, out);
        FUZZ_CHECK(known_error(out + 4, hlen - 5), "unknown error \"%.*s\"", (int)hlen - 1,
                   out);
        if (mode == MODE_SINGLE)
            FUZZ_CHECK(len == 18 && memcmp(out, "ERR name too long\n", 18) == 0,
                       "single-file mode refused \"%.*s\"", (int)hlen - 1, out);
        return;
    }

    FUZZ_CHECK(len >= 5 && memcmp(out, "OK ", 3) == 0, "reply \"%.*s\"", (int)hlen - 1, out);
    size_t size = 0, i = 3;
    for (; out[i] >= '0' && out[i] <= '9'; i++)
        size = size * 10 + (size_t)(out[i] - '0');
    FUZZ_CHECK(i > 3 && out + i == nl && (out[3] != '0' || i == 4), "header \"%.*s\"",
               (int)hlen - 1, out);
    FUZZ_CHECK(len - hlen == size, "promised %zu bytes, sent %zu", size, len - hlen);

    const struct served_file *sf = NULL;
    for (size_t k = 0; k < NFILES; k++)
        if (files[k].len == size && memcmp(files[k].content, nl + 1, size) == 0)
            sf = &files[k];
    FUZZ_CHECK(sf != NULL, "sent %zu bytes that are no file in the root", size);
    if (mode == MODE_SINGLE) {
        FUZZ_CHECK(strcmp(sf->name, "small") == 0, "single-file mode sent %s", sf->name);
        return;
    }
    FUZZ_CHECK(lexically_clean(name, name_len), "served a name that should be refused");
    char path[2048];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s/%s", root_dir, name);
    if (mode == MODE_WALK && tolerate_walk_trailing_slash)
        while (n > 0 && path[n - 1] == '/')
            path[--n] = '\0';
    FUZZ_CHECK(stat(path, &st) == 0 && st.st_ino == sf->ino,
               "name \"%s\" got the content of %s", name, sf->name);
    if (mode == MODE_WALK)
        FUZZ_CHECK(!passes_a_symlink(name), "the walk followed a symlink in \"%s\"", name);
}

/* ---- the entry point --------------------------------------------------- */

/*
 * Input: ctrl, caps, pieces, then `pieces & 15` piece lengths, then the
 * request.  ctrl: bits 0-1 the instance, 2 half-close at the end, 3 drain
 * only at the end, 4 --sendfile, 5 one byte at a time.  caps: the output
 * capacity (one of eight).  Each piece length byte b is a piece of b + 1
 * bytes (x 16 when pieces bit 4 is set); what is left is the last piece.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t output_caps[] = { 1, 2, 3, 7, 64, 1000, 4096, 65536 };
    struct fuzz_input in = { data, size };
    uint8_t ctrl = fuzz_byte(&in);
    uint8_t caps = fuzz_byte(&in);
    uint8_t pieces = fuzz_byte(&in);
    uint8_t lengths[16];
    size_t npieces = pieces & 15;
    for (size_t i = 0; i < npieces; i++)
        lengths[i] = fuzz_byte(&in);
    const uint8_t *req;
    size_t req_len = fuzz_take(&in, in.len, &req);

    int mode = (ctrl & 3) % MODES;
    int half_close = ctrl & 4, drain_each = !(ctrl & 8), bytewise = ctrl & 32;
    configs[mode].sendfile = (ctrl & 16) != 0;

    int fd_mark = lowest_free_fd();
    struct fake_session f;
    fake_open_shared(&f, &instances[mode], output_caps[caps & 7]);

    size_t fed = 0;
    for (size_t i = 0; fed < req_len; i++) {
        size_t n = req_len - fed;
        if (bytewise)
            n = 1;
        else if (i < npieces) {
            size_t want = ((size_t)lengths[i] + 1) * (pieces & 16 ? 16 : 1);
            n = want < n ? want : n;
        }
        size_t used = feed(&f, req + fed, n, drain_each);
        fed += used;
        if (used < n)
            break;
    }
    FUZZ_CHECK(fed == req_len || f.aborted, "fed %zu of %zu bytes", fed, req_len);
    if (half_close)
        fake_eof(&f);
    pump(&f);

    /* The name line as the service sees it. */
    const uint8_t *nl = memchr(req, '\n', req_len);
    size_t line = nl ? (size_t)(nl - req) : req_len;
    int line_done = nl != NULL || req_len > NAME_MAX_BYTES + 1;
    char *name = malloc(line + 1);
    FUZZ_CHECK(name != NULL, "out of memory");
    memcpy(name, req, line);
    if (nl != NULL && line > 0 && name[line - 1] == '\r')
        line--;
    name[line] = '\0';

    FUZZ_CHECK(f.all_len == 0 || memmem(f.all, f.all_len, SECRET, SECRET_PROBE) == NULL,
               "the secret beside the root was sent");
    FUZZ_CHECK(!f.aborted, "session aborted");
    check_reply(&f, mode, name, line, line_done);
    if (line_done)
        FUZZ_CHECK(f.session.flags & SK_SESSION_SHUTDOWN, "reply not followed by a half-close");
    if (half_close)
        FUZZ_CHECK(f.session.flags & SK_SESSION_CLOSE, "client half-closed, session still open");
    FUZZ_CHECK(!(f.session.flags & SK_SESSION_WANT_WRITABLE), "still wants to write");

    fake_close(&f);
    FUZZ_CHECK(lowest_free_fd() == fd_mark, "a descriptor was left open");
    free(name);
    return 0;
}
