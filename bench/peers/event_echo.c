/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * event_echo.c - the libevent echo server, as a benchmark peer for
 * `sockit compare`.  Built against Debian's libevent-dev.
 *
 * usage: event_echo PORT     (0 lets the kernel pick a free port)
 *
 * The echo server of the libevent book ("Fast portable non-blocking
 * network programming with Libevent", chapter 9): an evconnlistener
 * accepts, each connection gets a bufferevent, and the read callback
 * moves the whole input buffer onto the output buffer
 * (evbuffer_add_buffer, no copy).  The event callback frees the
 * connection at end of file or on an error.
 *
 * When ready it prints "listening on 127.0.0.1 port N" to stderr, the
 * line sockit's own servers print, so one harness can start both.
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void echo_read(struct bufferevent *bev, void *ctx)
{
    (void)ctx;
    evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void echo_event(struct bufferevent *bev, short events, void *ctx)
{
    (void)ctx;
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void accept_conn(struct evconnlistener *listener, evutil_socket_t fd,
                        struct sockaddr *addr, int socklen, void *ctx)
{
    (void)addr;
    (void)socklen;
    (void)ctx;
    struct event_base *base = evconnlistener_get_base(listener);
    /* As sockit does: no Nagle delay on request/response traffic. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, (const void *)&one, sizeof one);
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        evutil_closesocket(fd);
        return;
    }
    bufferevent_setcb(bev, echo_read, NULL, echo_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: event_echo PORT\n");
        return 2;
    }
    struct event_base *base = event_base_new();
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)atoi(argv[1]));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *listener = base == NULL ? NULL : evconnlistener_new_bind(
        base, accept_conn, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 511,
        (struct sockaddr *)&sin, sizeof sin);
    if (listener == NULL) {
        perror("event_echo: cannot listen");
        return 1;
    }
    socklen_t len = sizeof sin;
    getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&sin, &len);
    fprintf(stderr, "listening on 127.0.0.1 port %d\n", ntohs(sin.sin_port));
    return event_base_dispatch(base);
}
