/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_msglog.c - the --log writer process and the socket that feeds it.
 *
 * Every process and thread of the server (fork's children included) sends
 * what it received to one writer process, which appends it to the file.
 * A pipe cannot carry that: writes above PIPE_BUF (4 KiB) from several
 * writers interleave, and a 64 KiB chunk from one client came out spliced
 * with another's.  So the channel is an AF_UNIX SOCK_SEQPACKET socket
 * pair: each send is one message that arrives whole or not at all.
 *
 * A message is a small header and a piece of one chunk.  A chunk larger
 * than the socket lets one message be (its send buffer bounds that) goes
 * as several pieces, all but the last marked "more"; the writer collects
 * the pieces of each sender (process id + thread number) and writes the
 * chunk only when its last piece is in, so chunks stay whole however big.
 *
 * What was true of the pipe stays true: a writer that cannot keep up
 * fills the socket and then blocks the senders (nothing is dropped); a
 * writer that died makes sends fail at once (EPIPE), which is ignored, so
 * the server never waits for it forever.
 */
#include "sk_msglog.h"
#include "sk_compat.h"
#include "sk_error.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define PIECE_MAX 65536          /* the largest piece we ask for */
#define SEND_BUFFER (256 * 1024) /* asked of the kernel; it may give less */

struct piece_header {
    int32_t pid;
    uint32_t thread;
    uint32_t more; /* 1: another piece of this chunk follows */
};

struct sk__msglog {
    int send_fd;
    int writer_pid;
    atomic_size_t piece_max; /* halved if the kernel refuses a size */
};

/* ---- the writer process ---------------------------------------------- */

/* A chunk whose last piece has not come yet. */
struct partial {
    int32_t pid;
    uint32_t thread;
    char *data;
    size_t len, cap;
};

struct partials {
    struct partial *list;
    size_t count, cap;
};

static void write_all(int file_fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(file_fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            sk__process_exit(1);
        p += w;
        len -= (size_t)w;
    }
}

static struct partial *find_partial(struct partials *ps, const struct piece_header *h)
{
    for (size_t i = 0; i < ps->count; i++)
        if (ps->list[i].pid == h->pid && ps->list[i].thread == h->thread)
            return &ps->list[i];
    return NULL;
}

static struct partial *add_partial(struct partials *ps, const struct piece_header *h)
{
    if (ps->count == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 8;
        struct partial *l = realloc(ps->list, cap * sizeof *l);
        if (l == NULL)
            return NULL;
        ps->list = l;
        ps->cap = cap;
    }
    struct partial *p = &ps->list[ps->count++];
    memset(p, 0, sizeof *p);
    p->pid = h->pid;
    p->thread = h->thread;
    return p;
}

static int append(struct partial *p, const char *data, size_t len)
{
    if (p->len + len > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + len)
            cap *= 2;
        char *d = realloc(p->data, cap);
        if (d == NULL)
            return -ENOMEM;
        p->data = d;
        p->cap = cap;
    }
    memcpy(p->data + p->len, data, len);
    p->len += len;
    return 0;
}

static void drop_partial(struct partials *ps, struct partial *p)
{
    free(p->data);
    *p = ps->list[--ps->count];
}

/* One piece: written at once if it is a whole chunk, else collected. */
static void take_piece(struct partials *ps, int file_fd, const struct piece_header *h,
                       const char *data, size_t len)
{
    struct partial *p = find_partial(ps, h);
    if (p == NULL && !h->more) {
        write_all(file_fd, data, len);
        return;
    }
    if (p == NULL && (p = add_partial(ps, h)) == NULL) {
        write_all(file_fd, data, len); /* out of memory: keep the bytes */
        return;
    }
    if (append(p, data, len) < 0) {
        write_all(file_fd, p->data, p->len);
        write_all(file_fd, data, len);
        drop_partial(ps, p);
        return;
    }
    if (!h->more) {
        write_all(file_fd, p->data, p->len);
        drop_partial(ps, p);
    }
}

static void writer_main(int recv_fd, int file_fd, size_t piece_max)
{
    /* Ctrl-C and a closed terminal go to the whole process group; the
     * writer must outlive the server long enough to write what is still
     * queued, so it stops only when every sending end has closed. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    size_t cap = sizeof(struct piece_header) + piece_max;
    char *buf = malloc(cap);
    if (buf == NULL)
        sk__process_exit(1);
    struct partials ps = { NULL, 0, 0 };
    for (;;) {
        ssize_t n = recv(recv_fd, buf, cap, 0);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if ((size_t)n < sizeof(struct piece_header))
            continue; /* cannot happen: every message has a header */
        struct piece_header h;
        memcpy(&h, buf, sizeof h);
        take_piece(&ps, file_fd, &h, buf + sizeof h, (size_t)n - sizeof h);
    }
    /* A sender that died between pieces: its bytes are still data. */
    for (size_t i = 0; i < ps.count; i++)
        write_all(file_fd, ps.list[i].data, ps.list[i].len);
    sk__process_exit(0);
}

/* ---- the senders ------------------------------------------------------ */

/* How big a message the socket takes: the kernel allows a datagram up to
 * its send buffer less a little; half of it leaves room for another
 * sender's message in flight. */
static size_t choose_piece_max(int fd)
{
    int want = SEND_BUFFER, got = 0;
    socklen_t len = sizeof got;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &len) != 0 || got < 8192)
        return 2048;
    size_t max = ((size_t)got - 1024) / 2 - sizeof(struct piece_header);
    return max < PIECE_MAX ? max : PIECE_MAX;
}

int sk__msglog_open(const char *path, struct sk__msglog **out)
{
    /* "-" is standard error, as in most tools that take a log file. */
    int file_fd = strcmp(path, "-") == 0 ? fcntl(2, F_DUPFD_CLOEXEC, 3)
                                         : open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (file_fd < 0)
        return sk_error_last();
    struct sk__msglog *ml = malloc(sizeof *ml);
    if (ml == NULL) {
        close(file_fd);
        return -ENOMEM;
    }
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
        int rc = sk_error_last();
        close(file_fd);
        free(ml);
        return rc;
    }
    size_t piece_max = choose_piece_max(fds[1]);
    int pid = sk__process_fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        close(file_fd);
        free(ml);
        return pid;
    }
    if (pid == 0) {
        close(fds[1]);
        writer_main(fds[0], file_fd, piece_max);
    }
    close(fds[0]);
    close(file_fd);
    ml->send_fd = fds[1];
    ml->writer_pid = pid;
    atomic_init(&ml->piece_max, piece_max);
    *out = ml;
    return 0;
}

/* This thread's number, unique within its process: with the process id
 * it names one sender, whose pieces the writer puts back together.  A
 * fork child inherits its parent's number but has a pid of its own. */
static uint32_t thread_number(void)
{
    static atomic_uint next = 1;
    static _Thread_local uint32_t mine;
    if (mine == 0)
        mine = atomic_fetch_add(&next, 1);
    return mine;
}

/* Send one piece; 0, or a code after which the rest is not sent. */
static int send_piece(struct sk__msglog *ml, struct piece_header *h, const char *p, size_t len)
{
    struct iovec iov[2] = { { h, sizeof *h }, { (void *)p, len } };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    for (;;) {
        if (sendmsg(ml->send_fd, &msg, MSG_NOSIGNAL) >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

void sk__msglog_write(struct sk__msglog *ml, const void *data, size_t len)
{
    const char *p = data;
    struct piece_header h = { (int32_t)sk__process_self(), thread_number(), 0 };
    while (len > 0) {
        size_t max = atomic_load(&ml->piece_max);
        size_t piece = len < max ? len : max;
        h.more = piece < len;
        int rc = send_piece(ml, &h, p, piece);
        if (rc == -EMSGSIZE && max > 512) {
            /* The kernel takes less than it said: smaller pieces. */
            atomic_store(&ml->piece_max, max / 2);
            continue;
        }
        if (rc < 0)
            return; /* the writer is gone: best effort */
        p += piece;
        len -= piece;
    }
}

void sk__msglog_close(struct sk__msglog *ml)
{
    if (ml == NULL)
        return;
    close(ml->send_fd);
    sk__process_wait(ml->writer_pid);
    free(ml);
}
