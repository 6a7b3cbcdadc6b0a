/* SPDX-License-Identifier: BSD-2-Clause */
/* --trace's renderers: one event, the documented text line and JSON line. */
#include "sk_compat.h"
#include "sk_error.h"
#include "sk_trace.h"
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

TEST(trace_parse_formats_and_flags)
{
    struct sk_trace_options o;
    CHECK_INT(sk_trace_parse(NULL, &o), 0);
    CHECK_INT(o.format, SK_TRACE_TEXT);
    CHECK_INT(sk_trace_parse("json", &o), 0);
    CHECK_INT(o.format, SK_TRACE_JSON);
    CHECK_INT((int)o.flags, 0);
    CHECK_INT(sk_trace_parse("json,tcp", &o), 0);
    CHECK_INT(o.format, SK_TRACE_JSON);
    CHECK_INT((int)o.flags, (int)SK_TRACE_TCP);
    CHECK_INT(sk_trace_parse("tcp", &o), 0);
    CHECK_INT(o.format, SK_TRACE_TEXT);
    CHECK_INT(sk_trace_parse("json,", &o), SK_EOPTVALUE);
    CHECK_INT(sk_trace_parse("xml", &o), SK_EOPTVALUE);
    CHECK_INT(sk_trace_parse("jsonx", &o), SK_EOPTVALUE);
}

/* Trace the same three events into a file in one format; what it says. */
static size_t render(int format, char *out, size_t cap)
{
    char path[] = "sockit-trace-XXXXXX";
    int fd = sk__file_create_temp(path);
    if (fd < 0)
        return 0;
    struct sk_trace_options o = { format, 0 };
    if (sk_trace_open(fd, &o) != 0)
        return 0;
    static const char bytes[] = "a\"b\n\x01";
    sk__trace_io((sk_socket_t)5, "recv", 100, 5, bytes);
    sk__trace_io((sk_socket_t)5, "recv", 100, -ECONNRESET, bytes);
    sk__trace_call((sk_socket_t)5, "shutdown", "SHUT_WR", 0, "half-close", SK__TRACE_NO_TCP);
    sk__trace_stop();
    long n = sk__file_read_at(fd, out, cap - 1, 0);
    sk__fd_close(fd);
    remove(path);
    if (n < 0)
        return 0;
    out[n] = '\0';
    return (size_t)n;
}

TEST(trace_text_lines)
{
    char out[4096];
    CHECK(render(SK_TRACE_TEXT, out, sizeof out) > 0);
    CHECK(strstr(out, " -    recv(5, 100) = 5 \"a\\\"b\\n\\x01\"\n") != NULL);
    CHECK(strstr(out, " -    recv(5, 100) = -1 ECONNRESET: the peer reset the connection (RST)")
          != NULL);
    CHECK(strstr(out, " -    shutdown(5, SHUT_WR) = 0: half-close\n") != NULL);
    CHECK(strncmp(out, "trace ", 6) == 0);
}

TEST(trace_json_lines)
{
    char out[4096];
    CHECK(render(SK_TRACE_JSON, out, sizeof out) > 0);
    CHECK(strstr(out, "\"call\":\"recv\",\"fd\":5,\"size\":100,\"result\":5,"
                      "\"data\":\"a\\\\\\\"b\\\\n\\\\x01\",\"len\":5}\n") != NULL);
    CHECK(strstr(out, "\"result\":-1,\"errno\":\"ECONNRESET\",\"meaning\":\"the peer reset")
          != NULL);
    CHECK(strstr(out, "\"call\":\"shutdown\",\"fd\":5,\"args\":\"SHUT_WR\",\"result\":0,"
                      "\"meaning\":\"half-close\"}\n") != NULL);
    CHECK(strncmp(out, "{\"t_ms\":", 8) == 0);
}
