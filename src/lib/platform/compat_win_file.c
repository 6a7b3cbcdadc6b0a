/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compat_win_file.c - sk_compat.h's descriptors and files for Windows: C
 * runtime descriptors in binary mode, files opened with CreateFileW from
 * UTF-8 names and handed out as descriptors (_open_osfhandle), Win32
 * errors as errno codes, and the file service's confined open (the final
 * path of what was opened must lie inside the root's).
 *
 * What the Windows half differs in, and the rest of it: compat_win.c;
 * threads, locks and console events: compat_win_proc.c.
 */
#include "sk_compat.h"
#include "sk_error.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---- C runtime descriptors -------------------------------------------- */

long sk__fd_read(int fd, void *buf, size_t len)
{
    unsigned chunk = len > 1u << 30 ? 1u << 30 : (unsigned)len;
    int n = _read(fd, buf, chunk);
    return n < 0 ? sk_error_last() : (long)n;
}

long sk__fd_write(int fd, const void *buf, size_t len)
{
    unsigned chunk = len > 1u << 30 ? 1u << 30 : (unsigned)len;
    int n = _write(fd, buf, chunk);
    return n < 0 ? sk_error_last() : (long)n;
}

int sk__fd_close(int fd)
{
    return _close(fd) == 0 ? 0 : sk_error_last();
}

int sk__fd_isatty(int fd)
{
    return _isatty(fd);
}

long sk__getline(char **line, size_t *cap, FILE *f)
{
    size_t len = 0;
    int c;
    if (*line == NULL || *cap < 2) {
        char *p = realloc(*line, 128);
        if (p == NULL)
            return -1;
        *line = p;
        *cap = 128;
    }
    while ((c = getc(f)) != EOF) {
        if (len + 2 > *cap) {
            char *p = realloc(*line, *cap * 2);
            if (p == NULL)
                return -1;
            *line = p;
            *cap *= 2;
        }
        (*line)[len++] = (char)c;
        if (c == '\n')
            break;
    }
    (*line)[len] = '\0';
    return len == 0 ? -1 : (long)len;
}

/* ---- files ------------------------------------------------------------ */

/* A Win32 error as an errno code (file errors are not Winsock's). */
static int error_from_win32(DWORD err)
{
    switch (err) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_PATHNAME:
    case ERROR_INVALID_DRIVE:
        return -ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
        return -EACCES;
    case ERROR_FILENAME_EXCED_RANGE:
        return -ENAMETOOLONG;
    case ERROR_CANT_RESOLVE_FILENAME:
        return -ELOOP;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return -EEXIST;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return -ENOMEM;
    case ERROR_DIRECTORY:
        return -ENOTDIR;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return -ENOSPC;
    default:
        return -EIO;
    }
}

/* UTF-8 to a freshly allocated wide string, or NULL. */
static wchar_t *widen(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0)
        return NULL;
    wchar_t *w = malloc((size_t)n * sizeof *w);
    if (w != NULL && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
        free(w);
        return NULL;
    }
    return w;
}

static HANDLE open_wide(const wchar_t *path, DWORD access, DWORD share, DWORD disposition,
                        DWORD flags)
{
    SECURITY_ATTRIBUTES sa = { sizeof sa, NULL, FALSE }; /* never inherited */
    return CreateFileW(path, access, share, &sa, disposition, flags, NULL);
}

/* A C runtime descriptor owning h, or a code (h is closed on failure). */
static int descriptor_for(HANDLE h, int flags)
{
    int fd = _open_osfhandle((intptr_t)h, flags | _O_BINARY | _O_NOINHERIT);
    if (fd < 0) {
        CloseHandle(h);
        return -EMFILE;
    }
    return fd;
}

/* Open for reading, then refuse what is not a file on a disk (consoles,
 * "NUL", pipes) before anything reads it. */
static int open_read_checked(const wchar_t *path)
{
    HANDLE h = open_wide(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                         OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        /* Directories open only with FILE_FLAG_BACKUP_SEMANTICS. */
        DWORD attrs = GetFileAttributesW(path);
        if (err == ERROR_ACCESS_DENIED && attrs != INVALID_FILE_ATTRIBUTES &&
            (attrs & FILE_ATTRIBUTE_DIRECTORY))
            return -EISDIR;
        return error_from_win32(err);
    }
    if (GetFileType(h) != FILE_TYPE_DISK) {
        CloseHandle(h);
        return -ENXIO;
    }
    return descriptor_for(h, _O_RDONLY);
}

int sk__file_open_read(const char *path)
{
    wchar_t *w = widen(path);
    if (w == NULL)
        return -ENOENT;
    int rc = open_read_checked(w);
    free(w);
    return rc;
}

int sk__file_open_write_existing(const char *path)
{
    wchar_t *w = widen(path);
    if (w == NULL)
        return -ENOENT;
    HANDLE h = open_wide(w, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, OPEN_EXISTING,
                         FILE_ATTRIBUTE_NORMAL);
    DWORD err = GetLastError();
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return error_from_win32(err);
    return descriptor_for(h, _O_WRONLY);
}

int sk__path_kind(const char *path)
{
    wchar_t *w = widen(path);
    if (w == NULL)
        return -ENOENT;
    DWORD attrs = GetFileAttributesW(w);
    DWORD err = GetLastError();
    if (attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY)) {
        free(w);
        return SK_FILE_DIRECTORY;
    }
    /* The attributes do not tell a device: "NUL", "CON" or a named pipe
     * may read as a plain file, or as no file at all.  What the open
     * handle is does (GetFileType); opening asks for no access. */
    HANDLE h = open_wide(w, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                         OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS);
    if (h == INVALID_HANDLE_VALUE && attrs == INVALID_FILE_ATTRIBUTES) {
        free(w);
        return error_from_win32(err);
    }
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return (attrs & FILE_ATTRIBUTE_DEVICE) ? SK_FILE_OTHER : SK_FILE_REGULAR;
    DWORD type = GetFileType(h);
    CloseHandle(h);
    return type == FILE_TYPE_DISK ? SK_FILE_REGULAR : SK_FILE_OTHER;
}

int sk__path_socket_state(const char *path)
{
    wchar_t *w = widen(path);
    if (w == NULL)
        return -ENOENT;
    DWORD attrs = GetFileAttributesW(w);
    DWORD err = GetLastError();
    free(w);
    if (attrs == INVALID_FILE_ATTRIBUTES)
        return err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND
                   ? SK_PATH_ABSENT
                   : error_from_win32(err);
    /* An AF_UNIX socket's file is a reparse point (IO_REPARSE_TAG_AF_UNIX). */
    return (attrs & FILE_ATTRIBUTE_REPARSE_POINT) && !(attrs & FILE_ATTRIBUTE_DIRECTORY)
               ? SK_PATH_SOCKET
               : SK_PATH_OTHER;
}

int sk__path_remove(const char *path)
{
    wchar_t *w = widen(path);
    if (w == NULL)
        return -ENOENT;
    BOOL ok = DeleteFileW(w);
    DWORD err = GetLastError();
    free(w);
    return ok ? 0 : error_from_win32(err);
}

int sk__file_kind(int fd, int64_t *size)
{
    HANDLE h = (HANDLE)_get_osfhandle(fd);
    BY_HANDLE_FILE_INFORMATION info;
    if (h == INVALID_HANDLE_VALUE)
        return -EBADF;
    if (GetFileType(h) != FILE_TYPE_DISK)
        return SK_FILE_OTHER;
    if (!GetFileInformationByHandle(h, &info))
        return error_from_win32(GetLastError());
    if (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
        return SK_FILE_DIRECTORY;
    if (size != NULL)
        *size = (int64_t)(((uint64_t)info.nFileSizeHigh << 32) | info.nFileSizeLow);
    return SK_FILE_REGULAR;
}

long sk__file_read_at(int fd, void *buf, size_t len, int64_t offset)
{
    HANDLE h = (HANDLE)_get_osfhandle(fd);
    OVERLAPPED ov;
    DWORD got = 0;
    if (h == INVALID_HANDLE_VALUE)
        return -EBADF;
    memset(&ov, 0, sizeof ov);
    ov.Offset = (DWORD)((uint64_t)offset & 0xffffffffu);
    ov.OffsetHigh = (DWORD)((uint64_t)offset >> 32);
    DWORD want = len > 1u << 30 ? 1u << 30 : (DWORD)len;
    if (!ReadFile(h, buf, want, &got, &ov)) {
        DWORD err = GetLastError();
        if (err == ERROR_HANDLE_EOF)
            return 0;
        return error_from_win32(err);
    }
    return (long)got;
}

int sk__file_create_temp(char *template_path)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t len = strlen(template_path);
    if (len < 6 || strcmp(template_path + len - 6, "XXXXXX") != 0)
        return -EINVAL;
    uint64_t seed = sk__now_ns() ^ ((uint64_t)GetCurrentProcessId() << 32);
    for (int attempt = 0; attempt < 100; attempt++) {
        for (size_t i = len - 6; i < len; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            template_path[i] = letters[(seed >> 33) % (sizeof letters - 1)];
        }
        wchar_t *w = widen(template_path);
        if (w == NULL)
            return -ENOENT;
        HANDLE h = open_wide(w, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE,
                             CREATE_NEW, FILE_ATTRIBUTE_NORMAL);
        DWORD err = GetLastError();
        free(w);
        if (h != INVALID_HANDLE_VALUE)
            return descriptor_for(h, _O_RDWR);
        if (err != ERROR_FILE_EXISTS && err != ERROR_ALREADY_EXISTS)
            return error_from_win32(err);
    }
    return -EEXIST;
}

int sk__file_rename(const char *from, const char *to)
{
    wchar_t *wf = widen(from), *wt = widen(to);
    int rc = 0;
    if (wf == NULL || wt == NULL)
        rc = -ENOENT;
    else if (!MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING))
        rc = error_from_win32(GetLastError());
    free(wf);
    free(wt);
    return rc;
}

/* The normalised path of what h refers to ("\\?\C:\srv\files"), or NULL. */
static wchar_t *final_path(HANDLE h)
{
    DWORD n = GetFinalPathNameByHandleW(h, NULL, 0, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    if (n == 0)
        return NULL;
    wchar_t *p = malloc(((size_t)n + 1) * sizeof *p);
    if (p == NULL)
        return NULL;
    DWORD got = GetFinalPathNameByHandleW(h, p, n + 1, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    if (got == 0 || got > n) {
        free(p);
        return NULL;
    }
    return p;
}

static int dir_open(const char *path)
{
    wchar_t *w = widen(path);
    if (w == NULL)
        return -ENOENT;
    /* No FILE_SHARE_DELETE: the root cannot be renamed or removed while it
     * is served, so the path checked below stays the path opened. */
    HANDLE h = open_wide(w, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE,
                         OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS);
    DWORD err = GetLastError();
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return error_from_win32(err);
    return descriptor_for(h, _O_RDONLY);
}

/* Open NAME (checked by the caller: relative, no "..", no backslash, no
 * drive or stream colon) beneath the root, following whatever junctions
 * and links the system follows, then ask the system where the file really
 * is: anything whose final path is not inside the root's is refused with
 * -EXDEV, which the file service reports as "leaves the root". */
static int open_beneath(int root_fd, const char *name)
{
    HANDLE root = (HANDLE)_get_osfhandle(root_fd);
    if (root == INVALID_HANDLE_VALUE)
        return -EBADF;
    wchar_t *root_path = final_path(root);
    wchar_t *rel = widen(name);
    wchar_t *full = NULL;
    int rc;
    if (root_path == NULL || rel == NULL) {
        rc = root_path == NULL ? error_from_win32(GetLastError()) : -ENOENT;
        goto out;
    }
    size_t root_len = wcslen(root_path);
    while (root_len > 0 && root_path[root_len - 1] == L'\\')
        root_path[--root_len] = L'\0';
    full = malloc((root_len + wcslen(rel) + 2) * sizeof *full);
    if (full == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    /* "\\?\" paths are taken literally: drop "." and empty components
     * here, and turn '/' into the separator. */
    wcscpy(full, root_path);
    size_t o = root_len;
    for (const wchar_t *p = rel; *p != L'\0';) {
        const wchar_t *end = p;
        while (*end != L'\0' && *end != L'/')
            end++;
        size_t n = (size_t)(end - p);
        if (n > 0 && !(n == 1 && p[0] == L'.')) {
            full[o++] = L'\\';
            memcpy(full + o, p, n * sizeof *full);
            o += n;
        }
        p = *end ? end + 1 : end;
    }
    full[o] = L'\0';
    if (o == root_len) {
        rc = -EISDIR; /* the root itself */
        goto out;
    }
    rc = open_read_checked(full);
    if (rc < 0)
        goto out;
    wchar_t *got = final_path((HANDLE)_get_osfhandle(rc));
    int inside = got != NULL && wcslen(got) > root_len + 1 &&
                 _wcsnicmp(got, root_path, root_len) == 0 && got[root_len] == L'\\';
    free(got);
    if (!inside) {
        _close(rc);
        rc = -EXDEV;
    }
out:
    free(root_path);
    free(rel);
    free(full);
    return rc;
}

int sk__file_root_open(const char *path, struct sk__file_root *out)
{
    int fd = dir_open(path);
    if (fd < 0)
        return fd;
    out->fd = fd;
    out->follows_links = 1; /* checked by the final path instead */
    return 0;
}

void sk__file_root_close(struct sk__file_root *root)
{
    if (root->fd >= 0)
        _close(root->fd);
    root->fd = -1;
}

int sk__file_open_beneath(const struct sk__file_root *root, const char *relative_name)
{
    return open_beneath(root->fd, relative_name);
}
