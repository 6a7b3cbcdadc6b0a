/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * uv_echo.c - the libuv echo server, as a benchmark peer for
 * `sockit compare`.  Built against Debian's libuv1-dev.
 *
 * usage: uv_echo PORT     (0 lets the kernel pick a free port)
 *
 * The echo server of the libuv book (uvbook, "Networking"): uv_listen on
 * a TCP handle, uv_read_start with an allocation callback that mallocs
 * the suggested size (64 KiB), and each chunk read handed to uv_write,
 * whose callback frees it.  libuv does the non-blocking I/O on epoll.
 *
 * When ready it prints "listening on 127.0.0.1 port N" to stderr, the
 * line sockit's own servers print, so one harness can start both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

/* A write request with the buffer it sends, freed together. */
struct write_req {
    uv_write_t req;
    uv_buf_t buf;
};

static void alloc_buffer(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void on_close(uv_handle_t *handle)
{
    free(handle);
}

static void on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    (void)status; /* a failed write shows up as a read error next */
    free(w->buf.base);
    free(w);
}

static void on_read(uv_stream_t *client, ssize_t nread, const uv_buf_t *buf)
{
    if (nread > 0) {
        struct write_req *w = malloc(sizeof *w);
        if (w != NULL) {
            w->buf = uv_buf_init(buf->base, (unsigned)nread);
            if (uv_write(&w->req, client, &w->buf, 1, on_write) == 0)
                return; /* on_write frees the buffer */
            free(w);
        }
    } else if (nread < 0) {
        uv_close((uv_handle_t *)client, on_close); /* UV_EOF or an error */
    }
    free(buf->base);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    uv_tcp_t *client = malloc(sizeof *client);
    if (client == NULL)
        return;
    uv_tcp_init(server->loop, client);
    if (uv_accept(server, (uv_stream_t *)client) == 0) {
        /* As sockit does (and libuv's docs advise for request/response
         * traffic): no Nagle delay waiting for an ACK that a delayed-ACK
         * peer holds back. */
        uv_tcp_nodelay(client, 1);
        uv_read_start((uv_stream_t *)client, alloc_buffer, on_read);
    } else
        uv_close((uv_handle_t *)client, on_close);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: uv_echo PORT\n");
        return 2;
    }
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &addr);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 511, on_connection);
    if (rc != 0) {
        fprintf(stderr, "uv_echo: %s\n", uv_strerror(rc));
        return 1;
    }
    int len = sizeof addr;
    uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len);
    fprintf(stderr, "listening on 127.0.0.1 port %d\n", ntohs(addr.sin_port));
    return uv_run(loop, UV_RUN_DEFAULT);
}
