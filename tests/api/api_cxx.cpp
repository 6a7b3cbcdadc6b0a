/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * api_cxx.cpp - the same program as api_c.c, in C++11: the public
 * headers must work from C++ (extern "C", no <stdatomic.h>, no C-only
 * constructs), with -pedantic -Werror and no feature macros.
 *
 * An echo server on 127.0.0.1 port 0 on a std::thread, one line echoed
 * over a real socket, then the stop request and sk_server_run's 0.
 */
#include <sockit/sockit.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

namespace {

struct ServerRun {
    sk_server_config cfg;
    std::mutex lock;
    std::condition_variable changed;
    int port = 0;
    bool returned = false;
    int rc = 0;
    const char *why = nullptr;
};

[[noreturn]] void fail(const char *what, int code)
{
    std::fprintf(stderr, "api (C++): %s: %s (%s)\n", what, sk_strerror(code), sk_err_name(code));
    std::exit(1);
}

void on_ready(void *ctx, const sk_server_info *info)
{
    ServerRun *run = static_cast<ServerRun *>(ctx);
    std::lock_guard<std::mutex> hold(run->lock);
    run->port = info->port;
    run->changed.notify_all();
}

void log_line(void *, sk_log_level level, const char *message)
{
    if (level <= SK_LOG_WARN)
        std::fprintf(stderr, "api (C++): server: %s\n", message);
}

void check_echo(const std::string &port)
{
    const std::string line = "hello from a C++11 program\n";
    std::string back(line.size(), '\0');
    sk_socket_t s;
    int rc = sk_connect("127.0.0.1", port.c_str(), SOCK_STREAM, 5000, &s);
    if (rc < 0)
        fail("connect", rc);
    if ((rc = sk_set_timeouts(s, 5000, 5000)) < 0)
        fail("timeouts", rc);
    if ((rc = sk_send_all(s, line.data(), line.size())) < 0)
        fail("send", rc);
    long got = sk_recv_exact(s, &back[0], back.size(), nullptr);
    if (got < 0)
        fail("receive the echo", static_cast<int>(got));
    if (back != line) {
        std::fprintf(stderr, "api (C++): the echo differs from what was sent\n");
        std::exit(1);
    }
    sk_socket_close(s);
}

} // namespace

int main()
{
    int rc = sk_compat_init();
    if (rc < 0)
        fail("start-up", rc);
    if (sk_service_find("echo") == nullptr || sk_model_default(0) == nullptr) {
        std::fprintf(stderr, "api (C++): no echo service or no model that runs here\n");
        return 1;
    }

    ServerRun run;
    std::memset(&run.cfg, 0, sizeof run.cfg);
    sk_stop *stop = nullptr;
    if ((rc = sk_stop_new(&stop)) < 0)
        fail("stop request", rc);
    run.cfg.service = "echo";
    run.cfg.host = "127.0.0.1";
    run.cfg.port = "0";
    run.cfg.logger.write = log_line;
    run.cfg.on_ready = on_ready;
    run.cfg.ready_ctx = &run;
    run.cfg.stop = stop;

    std::thread server([&run] {
        int code = sk_server_run(&run.cfg, &run.why);
        std::lock_guard<std::mutex> hold(run.lock);
        run.rc = code;
        run.returned = true;
        run.changed.notify_all();
    });

    int port;
    {
        std::unique_lock<std::mutex> hold(run.lock);
        run.changed.wait_for(hold, std::chrono::seconds(10),
                             [&run] { return run.port != 0 || run.returned; });
        port = run.port;
    }
    if (port == 0) {
        std::fprintf(stderr, "api (C++): the server never listened (%s: %s)\n",
                     run.why ? run.why : "no reason", sk_strerror(run.rc));
        server.join();
        return 1;
    }
    const std::string port_text = std::to_string(port);
    check_echo(port_text);

    /* As in api_c.c: request the stop, then one connection wakes it. */
    sk_stop_request(stop);
    sk_socket_t wake;
    if (sk_connect("127.0.0.1", port_text.c_str(), SOCK_STREAM, 2000, &wake) == 0)
        sk_socket_close(wake);
    server.join();
    if (run.rc != 0) {
        std::fprintf(stderr, "api (C++): sk_server_run: %s%s%s\n", sk_strerror(run.rc),
                     run.why ? ": " : "", run.why ? run.why : "");
        return 1;
    }
    sk_stop_free(stop);
    std::printf("api (C++): echo on 127.0.0.1 port %d, then stopped: ok\n", port);
    return 0;
}
