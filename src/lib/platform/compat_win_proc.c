/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compat_win_proc.c - sk_compat.h's threads and stop events for Windows:
 * _beginthreadex() threads, SRW locks with condition variables, and the
 * console's Ctrl-C, Ctrl-Break and close events setting the flags
 * registered for SIGINT and SIGTERM.
 *
 * What the Windows half differs in, and the rest of it: compat_win.c;
 * descriptors and files: compat_win_file.c.
 */
#include "sk_compat.h"
#include "sk_error.h"

#include <errno.h>
#include <process.h>
#include <signal.h>
#include <stdlib.h>

/* ---- threads and locks ------------------------------------------------ */

struct sk__thread {
    HANDLE handle;
};

struct sk__mutex {
    SRWLOCK lock;
};

struct sk__cond {
    CONDITION_VARIABLE cv;
};

void sk__thread_yield(void)
{
    SwitchToThread();
}

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

int sk__thread_start(sk__thread_t *out, void *(*fn)(void *), void *arg)
{
    struct sk__thread *t = malloc(sizeof *t);
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

int sk__thread_start_detached(void *(*fn)(void *), void *arg)
{
    HANDLE h;
    int rc = create_thread(&h, fn, arg);
    if (rc == 0)
        CloseHandle(h);
    return rc;
}

int sk__thread_join(sk__thread_t t)
{
    DWORD rc = WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
    free(t);
    return rc == WAIT_OBJECT_0 ? 0 : -EINVAL;
}

sk__mutex_t *sk__mutex_new(void)
{
    sk__mutex_t *m = malloc(sizeof *m);
    if (m != NULL)
        InitializeSRWLock(&m->lock);
    return m;
}

void sk__mutex_free(sk__mutex_t *m)
{
    free(m);
}

void sk__mutex_lock(sk__mutex_t *m)
{
    AcquireSRWLockExclusive(&m->lock);
}

void sk__mutex_unlock(sk__mutex_t *m)
{
    ReleaseSRWLockExclusive(&m->lock);
}

sk__cond_t *sk__cond_new(void)
{
    sk__cond_t *c = malloc(sizeof *c);
    if (c != NULL)
        InitializeConditionVariable(&c->cv);
    return c;
}

void sk__cond_free(sk__cond_t *c)
{
    free(c);
}

void sk__cond_wait(sk__cond_t *c, sk__mutex_t *m)
{
    SleepConditionVariableSRW(&c->cv, &m->lock, INFINITE, 0);
}

void sk__cond_wait_ms(sk__cond_t *c, sk__mutex_t *m, int ms)
{
    SleepConditionVariableSRW(&c->cv, &m->lock, ms < 0 ? 0 : (DWORD)ms, 0);
}

void sk__cond_signal(sk__cond_t *c)
{
    WakeConditionVariable(&c->cv);
}

void sk__cond_broadcast(sk__cond_t *c)
{
    WakeAllConditionVariable(&c->cv);
}

/* ---- console events as signals ---------------------------------------- */

static sk__flag_t *interrupt_flag; /* SIGINT: Ctrl-C, Ctrl-Break */
static sk__flag_t *terminate_flag; /* SIGTERM: close, logoff, shutdown */

static BOOL WINAPI console_handler(DWORD event)
{
    sk__flag_t *flag;
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

int sk__signal_set_flag(int signum, sk__flag_t *flag)
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

int sk__wait_readable_or_stop(sk_socket_t s, const sk__flag_t *stop)
{
    if (stop != NULL && *stop)
        return 0;
    return sk__socket_wait(s, SK_WAIT_READ, 200);
}

int sk__signal_default(int signum)
{
    if (signum == SIGINT)
        interrupt_flag = NULL;
    else if (signum == SIGTERM)
        terminate_flag = NULL;
    return 0;
}

int sk__process_id(void)
{
    return (int)GetCurrentProcessId();
}
