/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compat_posix_proc.c - sk_compat.h's threads and processes for Linux and
 * other POSIX systems: pthreads with the stop signals blocked, mutexes and
 * condition variables (timed on CLOCK_MONOTONIC where it can be), signal
 * handlers that only set a flag, the waits that cannot miss one (ppoll),
 * and fork, wait, kill and pipes for the fork model and --log's writer.
 *
 * Sockets, clocks and the rest are in compat_posix.c; descriptors and files
 * in compat_posix_file.c.
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
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sk__thread {
    pthread_t id;
};

struct sk__mutex {
    pthread_mutex_t mu;
};

struct sk__cond {
    pthread_cond_t cv;
};

void sk__thread_yield(void)
{
    sched_yield();
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

int sk__thread_start(sk__thread_t *out, void *(*fn)(void *), void *arg)
{
    struct sk__thread *t = malloc(sizeof *t);
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

int sk__thread_start_detached(void *(*fn)(void *), void *arg)
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

int sk__thread_join(sk__thread_t t)
{
    int rc = pthread_join(t->id, NULL);
    free(t);
    return rc == 0 ? 0 : sk_error_from_errno(rc);
}

sk__mutex_t *sk__mutex_new(void)
{
    sk__mutex_t *m = malloc(sizeof *m);
    if (m != NULL && pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void sk__mutex_free(sk__mutex_t *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void sk__mutex_lock(sk__mutex_t *m)
{
    pthread_mutex_lock(&m->mu);
}

void sk__mutex_unlock(sk__mutex_t *m)
{
    pthread_mutex_unlock(&m->mu);
}

/* Timed waits count on CLOCK_MONOTONIC where the system lets a condition
 * variable use it, so that setting the wall clock neither cuts a wait
 * short nor stretches it. */
#if defined(__linux__)
#define COND_CLOCK CLOCK_MONOTONIC
#else
#define COND_CLOCK CLOCK_REALTIME
#endif

sk__cond_t *sk__cond_new(void)
{
    sk__cond_t *c = malloc(sizeof *c);
    if (c == NULL)
        return NULL;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        free(c);
        return NULL;
    }
    int rc = 0;
#if defined(__linux__)
    rc = pthread_condattr_setclock(&attr, COND_CLOCK);
#endif
    if (rc == 0)
        rc = pthread_cond_init(&c->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void sk__cond_free(sk__cond_t *c)
{
    if (c == NULL)
        return;
    pthread_cond_destroy(&c->cv);
    free(c);
}

void sk__cond_wait(sk__cond_t *c, sk__mutex_t *m)
{
    pthread_cond_wait(&c->cv, &m->mu);
}

void sk__cond_wait_ms(sk__cond_t *c, sk__mutex_t *m, int ms)
{
    struct timespec ts;
    clock_gettime(COND_CLOCK, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->cv, &m->mu, &ts);
}

void sk__cond_signal(sk__cond_t *c)
{
    pthread_cond_signal(&c->cv);
}

void sk__cond_broadcast(sk__cond_t *c)
{
    pthread_cond_broadcast(&c->cv);
}

/* One flag per signal number: the handler must not look anything up. */
static sk__flag_t *signal_flags[65];

static void set_flag_handler(int signum)
{
    if (signum > 0 && signum < 65 && signal_flags[signum] != NULL)
        *signal_flags[signum] = 1;
}

int sk__signal_set_flag(int signum, sk__flag_t *flag)
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

int sk__signal_default(int signum)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    if (sigaction(signum, &sa, NULL) != 0)
        return sk_error_last();
    return 0;
}

int sk__process_fork(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return sk_error_last();
    return (int)pid;
}

int sk__process_reap(int *pid, int *how)
{
    int status;
    for (;;) {
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p > 0) {
            *pid = (int)p;
            if (how != NULL)
                *how = WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
            return 1;
        }
        if (p == 0 || errno == ECHILD)
            return 0;
        if (errno != EINTR)
            return sk_error_last();
    }
}

int sk__process_wait(int pid)
{
    int status;
    while (waitpid((pid_t)pid, &status, 0) < 0) {
        if (errno != EINTR)
            return sk_error_last();
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int sk__process_signal(int pid, int signum)
{
    if (kill((pid_t)pid, signum) != 0)
        return sk_error_last();
    return 0;
}

void sk__process_exit(int status)
{
    _exit(status);
}

static sigset_t unheld_mask; /* the mask before sk__signals_hold() */

/* The signals whose handlers set flags a wait must not miss. */
static void flag_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

int sk__signals_hold(void)
{
    sigset_t held;
    flag_signals(&held);
    return sigprocmask(SIG_BLOCK, &held, &unheld_mask) == 0 ? 0 : sk_error_last();
}

void sk__signals_release(void)
{
    sigprocmask(SIG_SETMASK, &unheld_mask, NULL);
}

int sk__wait_readable_or_signal(sk_socket_t s)
{
    struct pollfd p = { .fd = s, .events = POLLIN };
    int rc = ppoll(&p, 1, NULL, &unheld_mask);
    return rc > 0 ? 1 : rc == 0 ? 0 : sk_error_last();
}

/* Block the flag signals, look at *stop, and only then sleep in ppoll()
 * with them unblocked: a signal that comes after the look is pending and
 * ends the ppoll at once, so no stop is missed.  The caller's mask is
 * restored before returning, so what it runs next can be interrupted. */
int sk__wait_readable_or_stop(sk_socket_t s, const sk__flag_t *stop)
{
    sigset_t held, unheld;
    flag_signals(&held);
    if (pthread_sigmask(SIG_BLOCK, &held, &unheld) != 0)
        return -EINVAL;
    int rc = 0;
    if (stop == NULL || !*stop) {
        struct pollfd p = { .fd = s, .events = POLLIN, .revents = 0 };
        int n = ppoll(&p, 1, NULL, &unheld);
        rc = n > 0 ? 1 : n == 0 ? 0 : sk_error_last();
    }
    pthread_sigmask(SIG_SETMASK, &unheld, NULL);
    return rc;
}

void sk__process_end_with_parent(int signum, int parent_pid)
{
#ifdef __linux__
    /* The parent may have died before prctl(): then getppid() is no
     * longer it, and the signal will never come. */
    if (prctl(PR_SET_PDEATHSIG, signum) == 0 && getppid() != (pid_t)parent_pid)
        _exit(0);
#else
    (void)signum, (void)parent_pid;
#endif
}

int sk__process_self(void)
{
    return (int)getpid();
}

int sk__pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        return sk_error_last();
    return 0;
}

int sk__process_id(void)
{
    return (int)getpid();
}
