/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * msglog_win.c - `--log FILE` on Windows: a writer thread fed by a pipe.
 *
 * Linux forks a writer process (sk_msglog.c); Windows has no fork, so a
 * thread reads an anonymous pipe and appends what arrives to FILE.  The
 * pipe decouples the connections from the disk exactly as the process
 * does: a slow disk fills the pipe and then blocks the writers.  Windows
 * promises no atomic pipe writes (POSIX's PIPE_BUF), so each message is
 * written under one lock and chunks of concurrent clients never tear.  A
 * file that refuses writes ends the logging, never the serving.
 */
#include "sk_msglog.h"
#include "sk_compat.h"
#include "sk_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sk__msglog {
    HANDLE pipe_read, pipe_write, file;
    sk__mutex_t *lock;
    sk__thread_t writer;
};

/* Append got bytes of buf to the file; 0 once the file refuses them. */
static int append_to_file(HANDLE file, const char *buf, DWORD got)
{
    for (DWORD off = 0; off < got;) {
        DWORD put = 0;
        if (!WriteFile(file, buf + off, got - off, &put, NULL) || put == 0)
            return 0;
        off += put;
    }
    return 1;
}

/* Once the file fails (a full disk), the thread goes on reading the pipe
 * and drops what comes: a writer that stopped reading would fill the pipe
 * and block every connection in sk__msglog_write for ever, where Linux's
 * dead writer process makes sends fail at once and be ignored. */
static void *writer_main(void *arg)
{
    struct sk__msglog *ml = arg;
    static char buf[65536];
    int file_ok = 1;
    for (;;) {
        DWORD got = 0;
        if (!ReadFile(ml->pipe_read, buf, sizeof buf, &got, NULL) || got == 0)
            break; /* ERROR_BROKEN_PIPE: the write end closed */
        if (file_ok)
            file_ok = append_to_file(ml->file, buf, got);
    }
    return NULL;
}

int sk__msglog_open(const char *path, struct sk__msglog **out)
{
    wchar_t wpath[1024];
    if (MultiByteToWideChar(CP_UTF8, 0, path, -1, wpath, (int)(sizeof wpath / sizeof *wpath)) <= 0)
        return -ENAMETOOLONG;
    struct sk__msglog *ml = calloc(1, sizeof *ml);
    if (ml == NULL)
        return -ENOMEM;
    /* "-" is standard error (a duplicate, closed like a file's handle). */
    if (strcmp(path, "-") == 0) {
        HANDLE err = GetStdHandle(STD_ERROR_HANDLE), self = GetCurrentProcess();
        if (err == NULL || err == INVALID_HANDLE_VALUE ||
            !DuplicateHandle(self, err, self, &ml->file, 0, FALSE, DUPLICATE_SAME_ACCESS))
            ml->file = INVALID_HANDLE_VALUE;
    } else {
        ml->file = CreateFileW(wpath, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                               OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    }
    if (ml->file == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        free(ml);
        return err == ERROR_ACCESS_DENIED ? -EACCES
             : err == ERROR_PATH_NOT_FOUND ? -ENOENT : -EIO;
    }
    int rc = 0;
    if (!CreatePipe(&ml->pipe_read, &ml->pipe_write, NULL, 65536))
        rc = -EMFILE;
    else if ((ml->lock = sk__mutex_new()) == NULL)
        rc = -ENOMEM;
    else
        rc = sk__thread_start(&ml->writer, writer_main, ml);
    if (rc < 0) {
        if (ml->pipe_read)
            CloseHandle(ml->pipe_read);
        if (ml->pipe_write)
            CloseHandle(ml->pipe_write);
        CloseHandle(ml->file);
        sk__mutex_free(ml->lock);
        free(ml);
        return rc;
    }
    *out = ml;
    return 0;
}

void sk__msglog_write(struct sk__msglog *ml, const void *data, size_t len)
{
    const char *p = data;
    sk__mutex_lock(ml->lock);
    while (len > 0) {
        DWORD chunk = len > 65536 ? 65536 : (DWORD)len, put = 0;
        if (!WriteFile(ml->pipe_write, p, chunk, &put, NULL) || put == 0)
            break;
        p += put;
        len -= put;
    }
    sk__mutex_unlock(ml->lock);
}

void sk__msglog_close(struct sk__msglog *ml)
{
    if (ml == NULL)
        return;
    CloseHandle(ml->pipe_write);
    sk__thread_join(ml->writer);
    CloseHandle(ml->pipe_read);
    CloseHandle(ml->file);
    sk__mutex_free(ml->lock);
    free(ml);
}
