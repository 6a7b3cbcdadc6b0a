/*
 * compat_win.c - sk_compat.h for Windows (Winsock 2.2, Windows 7 or later).
 *
 * What differs from POSIX, and how this file answers it:
 *
 * - Sockets are SOCKET handles, closed with closesocket(); the last socket
 *   error comes from WSAGetLastError() and lands in sockit's Winsock range
 *   (-10000 - code, named "WSAECONNRESET").  C runtime and file errors are
 *   errno values, as on POSIX.
 * - There are no signals to interrupt a blocking call.  A console Ctrl-C,
 *   Ctrl-Break or close event runs the handler on a thread of its own; it
 *   sets the flags sk_signal_set_flag() registered for SIGINT and SIGTERM,
 *   and the models notice them within a fraction of a second because every
 *   wait they do is bounded.
 * - Threads are _beginthreadex() threads (the C runtime's own, so its
 *   per-thread state is set up); locks are SRW locks with condition
 *   variables, which need no destruction and never fail to initialise.
 * - The clock is QueryPerformanceCounter, monotonic like CLOCK_MONOTONIC.
 * - Standard input and output are switched to binary mode, so file data
 *   and protocol lines pass through without CR/LF translation.
 * - Files are C runtime descriptors over Win32 handles (_open_osfhandle),
 *   so the file service and the get client keep one type on both systems.
 */
#include "sk_compat.h"
#include "sk_error.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <process.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

struct sk_thread {
    HANDLE handle;
};

struct sk_mutex {
    SRWLOCK lock;
};

struct sk_cond {
    CONDITION_VARIABLE cv;
};

static void cleanup_winsock(void)
{
    WSACleanup();
}

int sk_compat_init(void)
{
    static int started;
    if (started)
        return 0;
    WSADATA data;
    int rc = WSAStartup(MAKEWORD(2, 2), &data);
    if (rc != 0)
        return sk_error_from_wsa(rc);
    started = 1;
    atexit(cleanup_winsock);
    _setmode(0, _O_BINARY);
    _setmode(1, _O_BINARY);
    _setmode(2, _O_BINARY);
    return 0;
}

/* ---- sockets ---------------------------------------------------------- */

int sk_socket_close(sk_socket_t s)
{
    if (closesocket(s) != 0)
        return sk_socket_error();
    return 0;
}

int sk_socket_set_nonblocking(sk_socket_t s, int on)
{
    u_long mode = on ? 1 : 0;
    if (ioctlsocket(s, FIONBIO, &mode) != 0)
        return sk_socket_error();
    return 0;
}

int sk_socket_error(void)
{
    return sk_error_from_wsa(WSAGetLastError());
}

int sk_socket_error_from(int oserr)
{
    return sk_error_from_wsa(oserr);
}

int sk_error_would_block(int code)
{
    return code == SK_WSA_BASE - WSAEWOULDBLOCK || code == -EAGAIN || code == -EWOULDBLOCK;
}

int sk_socket_wait(sk_socket_t s, int what, int timeout_ms)
{
    WSAPOLLFD p;
    p.fd = s;
    p.events = 0;
    p.revents = 0;
    if (what & SK_WAIT_READ)
        p.events |= POLLRDNORM;
    if (what & SK_WAIT_WRITE)
        p.events |= POLLWRNORM;
    int n = WSAPoll(&p, 1, timeout_ms);
    if (n < 0)
        return sk_socket_error();
    return n;
}

/* A blocking socket cannot be asked not to block for one call (there is
 * no MSG_DONTWAIT, and FIONBIO would change it under a thread blocked in
 * recv()), so send only once it is writable.  Windows takes a whole send
 * into its buffers once there is any room, so this does not block. */
long sk_send_nowait(sk_socket_t s, const void *buf, size_t len)
{
    int rc = sk_socket_wait(s, SK_WAIT_WRITE, 0);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return SK_WSA_BASE - WSAEWOULDBLOCK;
    int chunk = len > (size_t)INT_MAX ? INT_MAX : (int)len;
    int n = send(s, (const char *)buf, chunk, 0);
    return n < 0 ? sk_socket_error() : (long)n;
}

int sk_recv_batch(sk_socket_t s, struct sk_dgram *d, int n)
{
    int got = 0;
    while (got < n) {
        u_long waiting = 0;
        if (got > 0 && (ioctlsocket(s, FIONREAD, &waiting) != 0 || waiting == 0))
            break; /* Winsock sockets here may block: only take what is there */
        d[got].addrlen = (int)sizeof d[got].addr;
        int len = recvfrom(s, (char *)d[got].data, (int)d[got].cap, 0,
                           (struct sockaddr *)&d[got].addr, &d[got].addrlen);
        if (len < 0) {
            int rc = sk_socket_error();
            /* Winsock fails a datagram longer than the buffer instead of
             * cutting it: it was truncated. */
            if (sk_error_is(rc, EMSGSIZE)) {
                d[got].truncated = 1;
                d[got].len = d[got].cap;
                got++;
                continue;
            }
            return got > 0 ? got : rc;
        }
        d[got].truncated = 0;
        d[got].len = (size_t)len;
        got++;
    }
    return got;
}

int sk_send_batch(sk_socket_t s, const struct sk_dgram *d, int n)
{
    for (int i = 0; i < n; i++) {
        if (sendto(s, (const char *)d[i].data, (int)d[i].len, 0,
                   (const struct sockaddr *)&d[i].addr, d[i].addrlen) < 0)
            return i > 0 ? i : sk_socket_error();
    }
    return n;
}

int sk_send_vec_batch(sk_socket_t s, const struct iovec *iov, int per_msg, int n)
{
    for (int i = 0; i < n; i++) {
        long r = sk_send_vec(s, &iov[i * per_msg], per_msg);
        if (r < 0)
            return i > 0 ? i : (int)r;
    }
    return n;
}

/* TransmitFile() would do this on Windows but wants the socket to itself
 * and a file HANDLE; the file service reads and sends instead. */
long sk_send_file(sk_socket_t s, int fd, int64_t offset, size_t len)
{
    (void)s, (void)fd, (void)offset, (void)len;
    return SK_EUNSUPPORTED;
}

long sk_send_vec(sk_socket_t s, const struct iovec *iov, int count)
{
    WSABUF bufs[64];
    DWORD sent = 0;
    if (count > 64)
        count = 64;
    for (int i = 0; i < count; i++) {
        bufs[i].buf = (char *)iov[i].iov_base;
        bufs[i].len = (ULONG)iov[i].iov_len;
    }
    if (WSASend(s, bufs, (DWORD)count, &sent, 0, NULL, NULL) != 0)
        return sk_socket_error();
    return (long)sent;
}

sk_socket_t sk_spare_open(void)
{
    return socket(AF_INET, SOCK_DGRAM, 0);
}

/* Socket handles are numbered in steps of 4 from the lowest free slot of
 * the process's handle table; 2^18 covers 65536 open handles. */
long sk_descriptor_limit(void)
{
    return 1L << 18;
}

/* ---- time ------------------------------------------------------------- */

static uint64_t counter_frequency(void)
{
    static uint64_t freq;
    if (freq == 0) {
        LARGE_INTEGER f;
        QueryPerformanceFrequency(&f);
        freq = (uint64_t)f.QuadPart;
    }
    return freq;
}

uint64_t sk_now_ns(void)
{
    LARGE_INTEGER c;
    QueryPerformanceCounter(&c);
    uint64_t ticks = (uint64_t)c.QuadPart, freq = counter_frequency();
    return ticks / freq * 1000000000u + ticks % freq * 1000000000u / freq;
}

uint64_t sk_now_ms(void)
{
    return sk_now_ns() / 1000000u;
}

void sk_sleep_ms(int ms)
{
    Sleep(ms > 0 ? (DWORD)ms : 0);
}

void sk_sleep_us(int us)
{
    Sleep(us > 0 ? (DWORD)((us + 999) / 1000) : 0);
}

void sk_thread_yield(void)
{
    SwitchToThread();
}

int sk_gmtime(time_t t, struct tm *out)
{
    return gmtime_s(out, &t) == 0 ? 0 : -EOVERFLOW;
}

int sk_localtime(time_t t, struct tm *out)
{
    return localtime_s(out, &t) == 0 ? 0 : -EOVERFLOW;
}

static double filetime_seconds(const FILETIME *ft)
{
    uint64_t t = ((uint64_t)ft->dwHighDateTime << 32) | ft->dwLowDateTime;
    return (double)t / 1e7; /* 100 ns units */
}

int sk_cpu_times(double *user_s, double *system_s)
{
    FILETIME created, exited, kernel, user;
    if (!GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user))
        return -EIO;
    *user_s = filetime_seconds(&user);
    *system_s = filetime_seconds(&kernel);
    return 0;
}

/* ---- C runtime descriptors -------------------------------------------- */

long sk_fd_read(int fd, void *buf, size_t len)
{
    unsigned chunk = len > 1u << 30 ? 1u << 30 : (unsigned)len;
    int n = _read(fd, buf, chunk);
    return n < 0 ? sk_error_last() : (long)n;
}

long sk_fd_write(int fd, const void *buf, size_t len)
{
    unsigned chunk = len > 1u << 30 ? 1u << 30 : (unsigned)len;
    int n = _write(fd, buf, chunk);
    return n < 0 ? sk_error_last() : (long)n;
}

int sk_fd_close(int fd)
{
    return _close(fd) == 0 ? 0 : sk_error_last();
}

int sk_fd_isatty(int fd)
{
    return _isatty(fd);
}

long sk_getline(char **line, size_t *cap, FILE *f)
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

int sk_file_open_read(const char *path)
{
    wchar_t *w = widen(path);
    if (w == NULL)
        return -ENOENT;
    int rc = open_read_checked(w);
    free(w);
    return rc;
}

int sk_path_kind(const char *path)
{
    wchar_t *w = widen(path);
    if (w == NULL)
        return -ENOENT;
    DWORD attrs = GetFileAttributesW(w);
    DWORD err = GetLastError();
    free(w);
    if (attrs == INVALID_FILE_ATTRIBUTES)
        return error_from_win32(err);
    if (attrs & FILE_ATTRIBUTE_DIRECTORY)
        return SK_FILE_DIRECTORY;
    return (attrs & FILE_ATTRIBUTE_DEVICE) ? SK_FILE_OTHER : SK_FILE_REGULAR;
}

int sk_file_kind(int fd, int64_t *size)
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

long sk_file_read_at(int fd, void *buf, size_t len, int64_t offset)
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

int sk_file_create_temp(char *template_path)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t len = strlen(template_path);
    if (len < 6 || strcmp(template_path + len - 6, "XXXXXX") != 0)
        return -EINVAL;
    uint64_t seed = sk_now_ns() ^ ((uint64_t)GetCurrentProcessId() << 32);
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

int sk_file_rename(const char *from, const char *to)
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

int sk_win_dir_open(const char *path)
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
int sk_win_open_beneath(int root_fd, const char *name)
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

/* ---- threads and locks ------------------------------------------------ */

struct start {
    void *(*fn)(void *);
    void *arg;
};

static unsigned __stdcall thread_main(void *p)
{
    struct start s = *(struct start *)p;
    free(p);
    s.fn(s.arg);
    return 0;
}

static int create_thread(HANDLE *out, void *(*fn)(void *), void *arg)
{
    struct start *s = malloc(sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->fn = fn;
    s->arg = arg;
    uintptr_t h = _beginthreadex(NULL, 0, thread_main, s, 0, NULL);
    if (h == 0) {
        int rc = sk_error_last();
        free(s);
        return rc;
    }
    *out = (HANDLE)h;
    return 0;
}

int sk_thread_start(sk_thread_t *out, void *(*fn)(void *), void *arg)
{
    struct sk_thread *t = malloc(sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    int rc = create_thread(&t->handle, fn, arg);
    if (rc < 0) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int sk_thread_start_detached(void *(*fn)(void *), void *arg)
{
    HANDLE h;
    int rc = create_thread(&h, fn, arg);
    if (rc == 0)
        CloseHandle(h);
    return rc;
}

int sk_thread_join(sk_thread_t t)
{
    DWORD rc = WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
    free(t);
    return rc == WAIT_OBJECT_0 ? 0 : -EINVAL;
}

sk_mutex_t *sk_mutex_new(void)
{
    sk_mutex_t *m = malloc(sizeof *m);
    if (m != NULL)
        InitializeSRWLock(&m->lock);
    return m;
}

void sk_mutex_free(sk_mutex_t *m)
{
    free(m);
}

void sk_mutex_lock(sk_mutex_t *m)
{
    AcquireSRWLockExclusive(&m->lock);
}

void sk_mutex_unlock(sk_mutex_t *m)
{
    ReleaseSRWLockExclusive(&m->lock);
}

sk_cond_t *sk_cond_new(void)
{
    sk_cond_t *c = malloc(sizeof *c);
    if (c != NULL)
        InitializeConditionVariable(&c->cv);
    return c;
}

void sk_cond_free(sk_cond_t *c)
{
    free(c);
}

void sk_cond_wait(sk_cond_t *c, sk_mutex_t *m)
{
    SleepConditionVariableSRW(&c->cv, &m->lock, INFINITE, 0);
}

void sk_cond_signal(sk_cond_t *c)
{
    WakeConditionVariable(&c->cv);
}

void sk_cond_broadcast(sk_cond_t *c)
{
    WakeAllConditionVariable(&c->cv);
}

/* ---- console events as signals ---------------------------------------- */

static sk_flag_t *interrupt_flag; /* SIGINT: Ctrl-C, Ctrl-Break */
static sk_flag_t *terminate_flag; /* SIGTERM: close, logoff, shutdown */

static BOOL WINAPI console_handler(DWORD event)
{
    sk_flag_t *flag;
    switch (event) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
        flag = interrupt_flag ? interrupt_flag : terminate_flag;
        break;
    default:
        flag = terminate_flag ? terminate_flag : interrupt_flag;
        break;
    }
    if (flag == NULL)
        return FALSE; /* the default: end the process */
    *flag = 1;
    if (event == CTRL_CLOSE_EVENT || event == CTRL_LOGOFF_EVENT ||
        event == CTRL_SHUTDOWN_EVENT)
        Sleep(2000); /* the process ends when this returns: let it stop */
    return TRUE;
}

int sk_signal_set_flag(int signum, sk_flag_t *flag)
{
    static int installed;
    if (signum == SIGINT)
        interrupt_flag = flag;
    else if (signum == SIGTERM)
        terminate_flag = flag;
    else
        return -EINVAL;
    if (!installed) {
        if (!SetConsoleCtrlHandler(console_handler, TRUE))
            return -EINVAL;
        installed = 1;
    }
    return 0;
}

int sk_signal_default(int signum)
{
    if (signum == SIGINT)
        interrupt_flag = NULL;
    else if (signum == SIGTERM)
        terminate_flag = NULL;
    return 0;
}
