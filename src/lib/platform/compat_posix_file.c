/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compat_posix_file.c - sk_compat.h's descriptors and files for Linux and
 * other POSIX systems: read(), write() and close() on C runtime
 * descriptors, opening, inspecting, creating and renaming files and paths,
 * and the file service's confined open (openat2 where Linux has it, else
 * a walk that refuses every symbolic link).
 *
 * Sockets, clocks and the rest are in compat_posix.c; threads, signals and
 * processes in compat_posix_proc.c.
 */
#include "sk_compat.h"
#include "sk_error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(SYS_openat2)
#include <linux/openat2.h>
#endif

long sk__fd_read(int fd, void *buf, size_t len)
{
    ssize_t n = read(fd, buf, len);
    return n < 0 ? sk_error_last() : (long)n;
}

long sk__fd_write(int fd, const void *buf, size_t len)
{
    ssize_t n = write(fd, buf, len);
    return n < 0 ? sk_error_last() : (long)n;
}

int sk__fd_close(int fd)
{
    if (close(fd) != 0 && errno != EINTR)
        return sk_error_last();
    return 0;
}

int sk__fd_isatty(int fd)
{
    return isatty(fd);
}

long sk__getline(char **line, size_t *cap, FILE *f)
{
    return (long)getline(line, cap, f);
}

int sk__file_open_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    return fd < 0 ? sk_error_last() : fd;
}

int sk__file_open_write_existing(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    return fd < 0 ? sk_error_last() : fd;
}

static int kind_of(mode_t mode)
{
    if (S_ISREG(mode))
        return SK_FILE_REGULAR;
    return S_ISDIR(mode) ? SK_FILE_DIRECTORY : SK_FILE_OTHER;
}

int sk__path_kind(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return sk_error_last();
    return kind_of(st.st_mode);
}

int sk__path_socket_state(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? SK_PATH_ABSENT : sk_error_last();
    return S_ISSOCK(st.st_mode) ? SK_PATH_SOCKET : SK_PATH_OTHER;
}

int sk__path_remove(const char *path)
{
    return unlink(path) == 0 ? 0 : sk_error_last();
}

int sk__file_kind(int fd, int64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return sk_error_last();
    if (size != NULL)
        *size = (int64_t)st.st_size;
    return kind_of(st.st_mode);
}

long sk__file_read_at(int fd, void *buf, size_t len, int64_t offset)
{
    for (;;) {
        ssize_t n = pread(fd, buf, len, (off_t)offset);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR)
            return sk_error_last();
    }
}

int sk__file_create_temp(char *template_path)
{
    int fd = mkostemp(template_path, O_CLOEXEC);
    if (fd < 0)
        return sk_error_last();
    /* mkstemp makes the file 0600; give it the mode a new file would get. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        int rc = sk_error_last();
        close(fd);
        unlink(template_path);
        return rc;
    }
    return fd;
}

int sk__file_rename(const char *from, const char *to)
{
    return rename(from, to) == 0 ? 0 : sk_error_last();
}

/* The file service's confined open (sk_compat.h): openat2 where Linux has
 * it, else a walk that refuses every symbolic link. */

#ifndef O_PATH /* not Linux: a read-only descriptor of the directory does */
#define O_PATH 0
#endif
/* Flags for the served file: never our controlling tty, never inherited by
 * a child (fork model, or anything the program runs), and never blocking
 * in open() on a FIFO. */
#define FILE_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
/* The longest name component the walk takes (the file service's names are
 * at most 1024 bytes whole). */
#define BENEATH_COMPONENT_MAX 1024

#if defined(SYS_openat2)
static int open_beneath_openat2(int root_fd, const char *name)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = FILE_OPEN_FLAGS;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd;
    do
        fd = syscall(SYS_openat2, root_fd, name, &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : (int)fd;
}
#endif

/* Without openat2: walk NAME one component at a time beneath the root,
 * refusing every symbolic link (O_NOFOLLOW).  ".." never reaches here
 * (lexical_refusal), so the walk can only go down.  Returns an fd or
 * -errno; ELOOP means "a symlink was met". */
static int open_beneath_walk(int root_fd, const char *name)
{
    char component[BENEATH_COMPONENT_MAX + 1];
    int dir = root_fd;
    const char *p = name;
    int rc;

    for (;;) {
        while (*p == '/')
            p++;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *rest = p + len;
        while (*rest == '/')
            rest++;
        if (len > BENEATH_COMPONENT_MAX) {
            rc = -ENAMETOOLONG;
            break;
        }
        memcpy(component, p, len);
        component[len] = '\0';
        int last = *rest == '\0';
        if (len == 0 || (len == 1 && component[0] == '.')) {
            if (last) { /* "dir/" or "dir/.": the directory itself */
                rc = openat(dir, ".", FILE_OPEN_FLAGS);
                rc = rc < 0 ? -errno : rc;
                break;
            }
            p = rest;
            continue;
        }
        if (last && p[len] == '/') {
            /* "file/": a name with a trailing slash means a directory,
             * as openat2 and POSIX resolve it; a file is not one. */
            rc = openat(dir, component, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (rc >= 0) {
                close(rc);
                rc = openat(dir, component, FILE_OPEN_FLAGS | O_NOFOLLOW);
            }
            rc = rc < 0 ? -errno : rc;
            break;
        }
        if (last) {
            rc = openat(dir, component, FILE_OPEN_FLAGS | O_NOFOLLOW);
            rc = rc < 0 ? -errno : rc;
            break;
        }
        int next = openat(dir, component, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            rc = -errno;
            /* A symlink to a directory fails as "not a directory";
             * report it as the symlink it is. */
            struct stat st;
            if (rc == -ENOTDIR && fstatat(dir, component, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(st.st_mode))
                rc = -ELOOP;
            break;
        }
        if (dir != root_fd)
            close(dir);
        dir = next;
        p = rest;
    }
    if (dir != root_fd)
        close(dir);
    return rc;
}

int sk__file_root_open(const char *path, struct sk__file_root *out)
{
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sk_error_last();
    out->fd = fd;
    out->follows_links = 0;
#if defined(SYS_openat2)
    /* Probe once, so sessions never race to learn it. */
    int probe = open_beneath_openat2(fd, ".");
    out->follows_links = probe != -ENOSYS;
    if (probe >= 0)
        close(probe);
#endif
    return 0;
}

void sk__file_root_close(struct sk__file_root *root)
{
    if (root->fd >= 0)
        close(root->fd);
    root->fd = -1;
}

int sk__file_open_beneath(const struct sk__file_root *root, const char *relative_name)
{
#if defined(SYS_openat2)
    if (root->follows_links)
        return open_beneath_openat2(root->fd, relative_name);
#endif
    return open_beneath_walk(root->fd, relative_name);
}
