/*
 * compat_posix.c - sk_compat.h for Linux and other POSIX systems.
 */
#include "sk_compat.h"
#include "sk_error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#ifdef __linux__
#include <sys/sendfile.h>
#endif
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sk_thread {
    pthread_t id;
};

struct sk_mutex {
    pthread_mutex_t mu;
};

struct sk_cond {
    pthread_cond_t cv;
};

int sk_compat_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return sk_error_last();
    return 0;
}

int sk_socket_close(sk_socket_t s)
{
    /* close() on Linux releases the descriptor even when it reports EINTR,
     * so it must never be retried. */
    if (close(s) != 0 && errno != EINTR)
        return sk_error_last();
    return 0;
}

int sk_socket_set_nonblocking(sk_socket_t s, int on)
{
    int flags = fcntl(s, F_GETFL);
    if (flags < 0)
        return sk_error_last();
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    if (fcntl(s, F_SETFL, flags) != 0)
        return sk_error_last();
    return 0;
}

int sk_socket_error(void)
{
    return sk_error_last();
}

int sk_error_would_block(int code)
{
    return code == -EAGAIN || code == -EWOULDBLOCK;
}

int sk_socket_error_from(int oserr)
{
    return sk_error_from_errno(oserr);
}

long sk_send_nowait(sk_socket_t s, const void *buf, size_t len)
{
    for (;;) {
        long n = (long)send(s, buf, len, SK_MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return sk_error_last();
    }
}

long sk_send_vec(sk_socket_t s, const struct iovec *iov, int count)
{
    ssize_t n = writev(s, iov, count);
    return n < 0 ? sk_error_last() : (long)n;
}

#define BATCH_MAX 64

#ifdef __linux__
/* One mmsghdr per datagram, over its buffer: all cap bytes to receive
 * into, or the len bytes to send. */
static void batch_headers(struct mmsghdr *msgs, struct iovec *iov, const struct sk_dgram *d,
                          int n, int receiving)
{
    memset(msgs, 0, sizeof msgs[0] * (size_t)n);
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = d[i].data;
        iov[i].iov_len = receiving ? d[i].cap : d[i].len;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = (void *)&d[i].addr;
        msgs[i].msg_hdr.msg_namelen = receiving ? sizeof d[i].addr : d[i].addrlen;
    }
}
#endif

int sk_recv_batch(sk_socket_t s, struct sk_dgram *d, int n)
{
#ifdef __linux__
    struct mmsghdr msgs[BATCH_MAX];
    struct iovec iov[BATCH_MAX];
    if (n > BATCH_MAX)
        n = BATCH_MAX;
    batch_headers(msgs, iov, d, n, 1);
    int got;
    do
        got = recvmmsg(s, msgs, (unsigned)n, MSG_DONTWAIT | MSG_TRUNC, NULL);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        return sk_error_last();
    for (int i = 0; i < got; i++) {
        d[i].len = msgs[i].msg_len;
        d[i].truncated = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || d[i].len > d[i].cap;
        if (d[i].len > d[i].cap)
            d[i].len = d[i].cap;
        d[i].addrlen = msgs[i].msg_hdr.msg_namelen;
    }
    return got;
#else
    int got = 0;
    while (got < n) {
        d[got].addrlen = sizeof d[got].addr;
        ssize_t len = recvfrom(s, d[got].data, d[got].cap, MSG_DONTWAIT | MSG_TRUNC,
                               (struct sockaddr *)&d[got].addr, &d[got].addrlen);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            return got > 0 ? got : sk_error_last();
        }
        d[got].truncated = (size_t)len > d[got].cap;
        d[got].len = d[got].truncated ? d[got].cap : (size_t)len;
        got++;
    }
    return got;
#endif
}

int sk_send_batch(sk_socket_t s, const struct sk_dgram *d, int n)
{
#ifdef __linux__
    struct mmsghdr msgs[BATCH_MAX];
    struct iovec iov[BATCH_MAX];
    if (n > BATCH_MAX)
        n = BATCH_MAX;
    batch_headers(msgs, iov, d, n, 0);
    int sent;
    do
        sent = sendmmsg(s, msgs, (unsigned)n, MSG_DONTWAIT | SK_MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    return sent < 0 ? sk_error_last() : sent;
#else
    for (int i = 0; i < n; i++) {
        if (sendto(s, d[i].data, d[i].len, MSG_DONTWAIT | SK_MSG_NOSIGNAL,
                   (const struct sockaddr *)&d[i].addr, d[i].addrlen) < 0) {
            if (errno == EINTR) {
                i--;
                continue;
            }
            return i > 0 ? i : sk_error_last();
        }
    }
    return n;
#endif
}

int sk_send_vec_batch(sk_socket_t s, const struct iovec *iov, int per_msg, int n)
{
#ifdef __linux__
    struct mmsghdr msgs[BATCH_MAX];
    if (n > BATCH_MAX)
        n = BATCH_MAX;
    memset(msgs, 0, sizeof msgs[0] * (size_t)n);
    for (int i = 0; i < n; i++) {
        msgs[i].msg_hdr.msg_iov = (struct iovec *)&iov[i * per_msg];
        msgs[i].msg_hdr.msg_iovlen = (size_t)per_msg;
    }
    int sent;
    do
        sent = sendmmsg(s, msgs, (unsigned)n, MSG_DONTWAIT | SK_MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    return sent < 0 ? sk_error_last() : sent;
#else
    for (int i = 0; i < n; i++) {
        long r = sk_send_vec(s, &iov[i * per_msg], per_msg);
        if (r < 0)
            return i > 0 ? i : (int)r;
    }
    return n;
#endif
}

long sk_send_file(sk_socket_t s, int fd, int64_t offset, size_t len)
{
#ifdef __linux__
    /* -EINTR goes back to the caller, which may be stopping. */
    off_t off = (off_t)offset;
    ssize_t n = sendfile(s, fd, &off, len);
    if (n > 0)
        return (long)n;
    if (n == 0)
        return len == 0 ? 0 : SK_ESHORT; /* the file ended */
    if (errno == EINVAL || errno == ENOSYS)
        return SK_EUNSUPPORTED; /* not a file sendfile can read */
    return sk_error_last();
#else
    (void)s, (void)fd, (void)offset, (void)len;
    return SK_EUNSUPPORTED;
#endif
}

sk_socket_t sk_spare_open(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

long sk_descriptor_limit(void)
{
    return sysconf(_SC_OPEN_MAX);
}

void sk_thread_yield(void)
{
    sched_yield();
}

int sk_gmtime(time_t t, struct tm *out)
{
    return gmtime_r(&t, out) ? 0 : -EOVERFLOW;
}

int sk_localtime(time_t t, struct tm *out)
{
    return localtime_r(&t, out) ? 0 : -EOVERFLOW;
}

int sk_cpu_times(double *user_s, double *system_s)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return sk_error_last();
    *user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *system_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return 0;
}

long sk_fd_read(int fd, void *buf, size_t len)
{
    ssize_t n = read(fd, buf, len);
    return n < 0 ? sk_error_last() : (long)n;
}

long sk_fd_write(int fd, const void *buf, size_t len)
{
    ssize_t n = write(fd, buf, len);
    return n < 0 ? sk_error_last() : (long)n;
}

int sk_fd_close(int fd)
{
    if (close(fd) != 0 && errno != EINTR)
        return sk_error_last();
    return 0;
}

int sk_fd_isatty(int fd)
{
    return isatty(fd);
}

long sk_getline(char **line, size_t *cap, FILE *f)
{
    return (long)getline(line, cap, f);
}

int sk_file_open_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    return fd < 0 ? sk_error_last() : fd;
}

static int kind_of(mode_t mode)
{
    if (S_ISREG(mode))
        return SK_FILE_REGULAR;
    return S_ISDIR(mode) ? SK_FILE_DIRECTORY : SK_FILE_OTHER;
}

int sk_path_kind(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return sk_error_last();
    return kind_of(st.st_mode);
}

int sk_file_kind(int fd, int64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return sk_error_last();
    if (size != NULL)
        *size = (int64_t)st.st_size;
    return kind_of(st.st_mode);
}

long sk_file_read_at(int fd, void *buf, size_t len, int64_t offset)
{
    for (;;) {
        ssize_t n = pread(fd, buf, len, (off_t)offset);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR)
            return sk_error_last();
    }
}

int sk_file_create_temp(char *template_path)
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

int sk_file_rename(const char *from, const char *to)
{
    return rename(from, to) == 0 ? 0 : sk_error_last();
}

int sk_socket_wait(sk_socket_t s, int what, int timeout_ms)
{
    struct pollfd p = { .fd = s, .events = 0, .revents = 0 };
    if (what & SK_WAIT_READ)
        p.events |= POLLIN;
    if (what & SK_WAIT_WRITE)
        p.events |= POLLOUT;
    int n = poll(&p, 1, timeout_ms);
    if (n < 0)
        return sk_error_last();
    return n;
}

uint64_t sk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sk_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

void sk_sleep_us(int us)
{
    struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000L };
    nanosleep(&ts, NULL);
}

/* New threads start with the stop signals blocked, so SIGINT, SIGTERM
 * and SIGCHLD always land on the main thread, whose blocking accept()
 * they interrupt. */
static int create_thread(pthread_t *id, const pthread_attr_t *attr,
                         void *(*fn)(void *), void *arg)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = pthread_create(id, attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int sk_thread_start(sk_thread_t *out, void *(*fn)(void *), void *arg)
{
    struct sk_thread *t = malloc(sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    int rc = create_thread(&t->id, NULL, fn, arg);
    if (rc != 0) {
        free(t);
        return sk_error_from_errno(rc);
    }
    *out = t;
    return 0;
}

int sk_thread_start_detached(void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_t id;
    int rc = pthread_attr_init(&attr);
    if (rc != 0)
        return sk_error_from_errno(rc);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = create_thread(&id, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : sk_error_from_errno(rc);
}

int sk_thread_join(sk_thread_t t)
{
    int rc = pthread_join(t->id, NULL);
    free(t);
    return rc == 0 ? 0 : sk_error_from_errno(rc);
}

sk_mutex_t *sk_mutex_new(void)
{
    sk_mutex_t *m = malloc(sizeof *m);
    if (m != NULL && pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void sk_mutex_free(sk_mutex_t *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void sk_mutex_lock(sk_mutex_t *m)
{
    pthread_mutex_lock(&m->mu);
}

void sk_mutex_unlock(sk_mutex_t *m)
{
    pthread_mutex_unlock(&m->mu);
}

sk_cond_t *sk_cond_new(void)
{
    sk_cond_t *c = malloc(sizeof *c);
    if (c != NULL && pthread_cond_init(&c->cv, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void sk_cond_free(sk_cond_t *c)
{
    if (c == NULL)
        return;
    pthread_cond_destroy(&c->cv);
    free(c);
}

void sk_cond_wait(sk_cond_t *c, sk_mutex_t *m)
{
    pthread_cond_wait(&c->cv, &m->mu);
}

void sk_cond_signal(sk_cond_t *c)
{
    pthread_cond_signal(&c->cv);
}

void sk_cond_broadcast(sk_cond_t *c)
{
    pthread_cond_broadcast(&c->cv);
}

/* One flag per signal number: the handler must not look anything up. */
static sk_flag_t *signal_flags[65];

static void set_flag_handler(int signum)
{
    if (signum > 0 && signum < 65 && signal_flags[signum] != NULL)
        *signal_flags[signum] = 1;
}

int sk_signal_set_flag(int signum, sk_flag_t *flag)
{
    if (signum <= 0 || signum >= 65)
        return -EINVAL;
    signal_flags[signum] = flag;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = set_flag_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR */
    if (sigaction(signum, &sa, NULL) != 0)
        return sk_error_last();
    return 0;
}

int sk_signal_default(int signum)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    if (sigaction(signum, &sa, NULL) != 0)
        return sk_error_last();
    return 0;
}

int sk_process_fork(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return sk_error_last();
    return (int)pid;
}

int sk_process_reap(int *pid)
{
    int status;
    for (;;) {
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p > 0) {
            *pid = (int)p;
            return 1;
        }
        if (p == 0 || errno == ECHILD)
            return 0;
        if (errno != EINTR)
            return sk_error_last();
    }
}

int sk_process_wait(int pid)
{
    int status;
    while (waitpid((pid_t)pid, &status, 0) < 0) {
        if (errno != EINTR)
            return sk_error_last();
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int sk_process_signal(int pid, int signum)
{
    if (kill((pid_t)pid, signum) != 0)
        return sk_error_last();
    return 0;
}

void sk_process_exit(int status)
{
    _exit(status);
}

static sigset_t unheld_mask; /* the mask before sk_signals_hold() */

int sk_signals_hold(void)
{
    sigset_t held;
    sigemptyset(&held);
    sigaddset(&held, SIGCHLD);
    sigaddset(&held, SIGINT);
    sigaddset(&held, SIGTERM);
    return sigprocmask(SIG_BLOCK, &held, &unheld_mask) == 0 ? 0 : sk_error_last();
}

void sk_signals_release(void)
{
    sigprocmask(SIG_SETMASK, &unheld_mask, NULL);
}

int sk_wait_readable_or_signal(sk_socket_t s)
{
    struct pollfd p = { .fd = s, .events = POLLIN };
    int rc = ppoll(&p, 1, NULL, &unheld_mask);
    return rc > 0 ? 1 : rc == 0 ? 0 : sk_error_last();
}

int sk_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        return sk_error_last();
    return 0;
}
