/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * api_c.c - a C program that embeds libsockit through its installed
 * public headers only.
 *
 * `make test-api` installs the library into a scratch directory and
 * builds this file with -std=c11 -pedantic -Werror and no feature macros
 * (no _GNU_SOURCE), the way a program outside the tree would.  It runs an
 * echo server on 127.0.0.1 port 0 on a C11 thread, reads the port the
 * server reports through on_ready, sends a line over a real socket,
 * checks that the same bytes come back, then requests the stop and
 * waits for sk_server_run to return 0.  Any failure prints one line and
 * exits 1.  api_cxx.cpp does the same from C++.
 */
#include <sockit/sockit.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>

/* What the server thread reports: the port once it listens, and that it
 * has returned (so a server that fails before it listens cannot leave
 * main waiting for a port that never comes). */
struct server_run {
    struct sk_server_config cfg;
    mtx_t lock;
    cnd_t changed;
    int port;
    int returned;
    int rc;
    const char *why;
};

static void fail(const char *what, int code)
{
    fprintf(stderr, "api (C): %s: %s (%s)\n", what, sk_strerror(code), sk_err_name(code));
    exit(1);
}

static void on_ready(void *ctx, const struct sk_server_info *info)
{
    struct server_run *run = ctx;
    mtx_lock(&run->lock);
    run->port = info->port;
    cnd_broadcast(&run->changed);
    mtx_unlock(&run->lock);
}

static void log_line(void *ctx, enum sk_log_level level, const char *message)
{
    (void)ctx;
    if (level <= SK_LOG_WARN)
        fprintf(stderr, "api (C): server: %s\n", message);
}

static int serve(void *arg)
{
    struct server_run *run = arg;
    int rc = sk_server_run(&run->cfg, &run->why);
    mtx_lock(&run->lock);
    run->rc = rc;
    run->returned = 1;
    cnd_broadcast(&run->changed);
    mtx_unlock(&run->lock);
    return 0;
}

/* The port, once the server listens; 0 if it returned first or took
 * longer than 10 s. */
static int wait_for_port(struct server_run *run)
{
    struct timespec until;
    timespec_get(&until, TIME_UTC);
    until.tv_sec += 10;
    mtx_lock(&run->lock);
    while (run->port == 0 && !run->returned)
        if (cnd_timedwait(&run->changed, &run->lock, &until) != thrd_success)
            break;
    int port = run->port;
    mtx_unlock(&run->lock);
    return port;
}

/* One connection: send a line, read back as many bytes, compare. */
static void check_echo(const char *port)
{
    static const char line[] = "hello from a C11 program\n";
    char back[sizeof line];
    sk_socket_t s;
    int rc = sk_connect("127.0.0.1", port, SOCK_STREAM, 5000, &s);
    if (rc < 0)
        fail("connect", rc);
    if ((rc = sk_set_timeouts(s, 5000, 5000)) < 0)
        fail("timeouts", rc);
    if ((rc = sk_send_all(s, line, sizeof line - 1)) < 0)
        fail("send", rc);
    long got = sk_recv_exact(s, back, sizeof line - 1, NULL);
    if (got < 0)
        fail("receive the echo", (int)got);
    if (memcmp(back, line, sizeof line - 1) != 0) {
        fprintf(stderr, "api (C): the echo differs from what was sent\n");
        exit(1);
    }
    sk_socket_close(s);
}

int main(void)
{
    int rc = sk_compat_init();
    if (rc < 0)
        fail("start-up", rc);
    if (sk_service_find("echo") == NULL || sk_model_default(0) == NULL) {
        fprintf(stderr, "api (C): no echo service or no model that runs here\n");
        return 1;
    }

    static struct server_run run;
    if (mtx_init(&run.lock, mtx_plain) != thrd_success ||
        cnd_init(&run.changed) != thrd_success) {
        fprintf(stderr, "api (C): cannot make a lock\n");
        return 1;
    }
    struct sk_stop *stop;
    if ((rc = sk_stop_new(&stop)) < 0)
        fail("stop request", rc);
    run.cfg.service = "echo";
    run.cfg.host = "127.0.0.1";
    run.cfg.port = "0";
    run.cfg.logger.write = log_line;
    run.cfg.on_ready = on_ready;
    run.cfg.ready_ctx = &run;
    run.cfg.stop = stop;

    thrd_t server;
    if (thrd_create(&server, serve, &run) != thrd_success) {
        fprintf(stderr, "api (C): cannot start the server thread\n");
        return 1;
    }
    int port = wait_for_port(&run);
    if (port == 0) {
        fprintf(stderr, "api (C): the server never listened (%s: %s)\n",
                run.why ? run.why : "no reason", sk_strerror(run.rc));
        return 1;
    }
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    check_echo(port_text);

    /* Stop from this thread.  The server looks at the request when it
     * wakes; a signal would wake it, and so does one more connection
     * (which may be refused if it is already gone). */
    sk_stop_request(stop);
    if (!sk_stop_requested(stop)) {
        fprintf(stderr, "api (C): the stop request did not stick\n");
        return 1;
    }
    sk_socket_t wake;
    if (sk_connect("127.0.0.1", port_text, SOCK_STREAM, 2000, &wake) == 0)
        sk_socket_close(wake);
    thrd_join(server, NULL);
    if (run.rc != 0) {
        fprintf(stderr, "api (C): sk_server_run: %s%s%s\n", sk_strerror(run.rc),
                run.why ? ": " : "", run.why ? run.why : "");
        return 1;
    }
    sk_stop_free(stop);
    printf("api (C): echo on 127.0.0.1 port %d, then stopped: ok\n", port);
    return 0;
}
