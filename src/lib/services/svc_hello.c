/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * svc_hello.c - the tutorials' first server: greet, then hang up.
 *
 * Beej's guide opens with a server that sends "Hello, world!" to whoever
 * connects and closes; this is that server as a service.  Input is
 * ignored.  The greeting goes out through sk_session_write, which may
 * take fewer bytes than offered on a model with bounded output, so the
 * rest is sent from on_writable and the session closes only once all of
 * it has been queued.  TCP only: a greeting on connect has no datagram
 * equivalent.
 */
#include "sk_service.h"

static const char greeting[] = "Hello World!\n";
#define GREETING_LEN (sizeof greeting - 1)

struct hello_session {
    size_t sent; /* bytes of the greeting already queued */
};

/* Queue what fits; close once everything is queued. */
static void hello_push(struct sk_session *s)
{
    struct hello_session *h = sk_session_state(s);
    h->sent += sk_session_write(s, greeting + h->sent, GREETING_LEN - h->sent);
    if (h->sent == GREETING_LEN) {
        sk_session_want_writable(s, 0);
        sk_session_close(s);
    } else {
        sk_session_want_writable(s, 1);
    }
}

static size_t hello_data(struct sk_session *s, const uint8_t *data, size_t len)
{
    (void)s;
    (void)data;
    return len; /* nothing the peer says changes the greeting */
}

const struct sk_service sk__service_hello = {
    .name = "hello",
    .summary = "sends \"Hello World!\" and closes (the tutorials' first server)",
    .flags = SK_SERVICE_TCP,
    .session_size = sizeof(struct hello_session),
    .on_open = hello_push,
    .on_data = hello_data,
    .on_writable = hello_push,
    .on_eof = sk_session_eof_finish_answer,
};
