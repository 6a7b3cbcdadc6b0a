/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * epoll_echo.c - the textbook level-triggered epoll echo server, as a
 * benchmark peer for `sockit compare`.
 *
 * usage: epoll_echo PORT     (0 lets the kernel pick a free port)
 *
 * One thread, one epoll set, level-triggered, no tricks: every socket is
 * non-blocking; a readable connection is read once into its buffer and
 * the bytes are written straight back.  What the socket does not take
 * stays in the buffer, and the connection then waits for EPOLLOUT
 * instead of EPOLLIN until the buffer is empty again, so a client that
 * sends without reading is pushed back by TCP instead of growing us.
 *
 * When ready it prints "listening on 127.0.0.1 port N" to stderr, the
 * line sockit's own servers print, so one harness can start both.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER_SIZE 65536
#define MAX_EVENTS 256

struct conn {
    int fd;
    size_t len, off; /* bytes in buf not yet written back start at off */
    char buf[BUFFER_SIZE];
};

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 511) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
        return -1;
    return ntohs(sin.sin_port);
}

static void drop(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Watch c for reading when its buffer is empty, for writing otherwise. */
static void watch(int ep, struct conn *c, int op)
{
    struct epoll_event ev = { .events = c->len > c->off ? EPOLLOUT : EPOLLIN, .data.ptr = c };
    epoll_ctl(ep, op, c->fd, &ev);
}

/* Write what is pending; 0 = all of it went, 1 = some is left, -1 = error. */
static int flush(struct conn *c)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : errno == EINTR ? 1 : -1;
        c->off += (size_t)n;
    }
    c->off = c->len = 0;
    return 0;
}

static void on_readable(int ep, struct conn *c)
{
    ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        drop(ep, c);
        return;
    }
    if (n < 0)
        return;
    c->len = (size_t)n;
    c->off = 0;
    int rc = flush(c);
    if (rc < 0)
        drop(ep, c);
    else if (rc > 0)
        watch(ep, c, EPOLL_CTL_MOD);
}

static void on_writable(int ep, struct conn *c)
{
    int rc = flush(c);
    if (rc < 0)
        drop(ep, c);
    else if (rc == 0)
        watch(ep, c, EPOLL_CTL_MOD);
}

static void on_accept(int ep, int listener)
{
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0)
            return; /* EAGAIN: no more; anything else: try at the next event */
        struct conn *c = malloc(sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        /* As sockit does: no Nagle delay on request/response traffic. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        c->len = c->off = 0;
        watch(ep, c, EPOLL_CTL_ADD);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: epoll_echo PORT\n");
        return 2;
    }
    int listener = listen_on(atoi(argv[1]));
    int ep = epoll_create1(0);
    if (listener < 0 || ep < 0) {
        perror("epoll_echo");
        return 1;
    }
    /* The listener's data.ptr is NULL: that is how events tell it apart. */
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    fprintf(stderr, "listening on 127.0.0.1 port %d\n", bound_port(listener));

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL)
                on_accept(ep, listener);
            else if (events[i].events & EPOLLOUT)
                on_writable(ep, c);
            else
                on_readable(ep, c);
        }
    }
}
