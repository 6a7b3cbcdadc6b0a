/*
 * sk_msglog.c - the --log writer process and its pipe.
 */
#include "sk_msglog.h"
#include "sk_compat.h"
#include "sk_error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

struct sk_msglog {
    int write_fd;
    int writer_pid;
};

static void writer_main(int read_fd, int file_fd)
{
    char buf[PIPE_BUF];
    /* Ctrl-C goes to the whole process group; the writer must outlive the
     * server long enough to write what is still in the pipe, so it stops
     * only when every write end has closed. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    for (;;) {
        ssize_t n = read(read_fd, buf, sizeof buf);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(file_fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                sk_process_exit(1);
            off += w;
        }
    }
    sk_process_exit(0);
}

int sk_msglog_open(const char *path, struct sk_msglog **out)
{
    int file_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (file_fd < 0)
        return sk_error_last();
    struct sk_msglog *ml = malloc(sizeof *ml);
    if (ml == NULL) {
        close(file_fd);
        return -ENOMEM;
    }
    int fds[2];
    int rc = sk_pipe(fds);
    if (rc < 0) {
        close(file_fd);
        free(ml);
        return rc;
    }
    int pid = sk_process_fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        close(file_fd);
        free(ml);
        return pid;
    }
    if (pid == 0) {
        close(fds[1]);
        writer_main(fds[0], file_fd);
    }
    close(fds[0]);
    close(file_fd);
    ml->write_fd = fds[1];
    ml->writer_pid = pid;
    *out = ml;
    return 0;
}

void sk_msglog_write(struct sk_msglog *ml, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        size_t chunk = len < PIPE_BUF ? len : PIPE_BUF;
        ssize_t n = write(ml->write_fd, p, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

void sk_msglog_close(struct sk_msglog *ml)
{
    if (ml == NULL)
        return;
    close(ml->write_fd);
    sk_process_wait(ml->writer_pid);
    free(ml);
}
