/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fake_session.c - a buffer-backed sk_session for unit tests.
 */
#include "fake_session.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define FAKE(s) ((struct fake_session *)(s))

static void append_all(struct fake_session *f, const void *data, size_t len)
{
    if (f->all_len + len > f->all_cap) {
        size_t cap = (f->all_cap ? f->all_cap * 2 : 4096);
        while (cap < f->all_len + len)
            cap *= 2;
        f->all = realloc(f->all, cap);
        if (f->all == NULL)
            abort();
        f->all_cap = cap;
    }
    memcpy(f->all + f->all_len, data, len);
    f->all_len += len;
}

static size_t fake_write(struct sk_session *s, const void *data, size_t len)
{
    struct fake_session *f = FAKE(s);
    if (f->aborted)
        return 0;
    size_t room = f->out_cap - f->out_len;
    size_t n = len < room ? len : room;
    memcpy(f->out + f->out_len, data, n);
    f->out_len += n;
    append_all(f, data, n);
    return n;
}

static int fake_post(struct sk_session *s, const void *data, size_t len)
{
    struct fake_session *f = FAKE(s);
    if (f->aborted || f->out_cap - f->out_len < len)
        return -4016; /* SK_EBUFFULL */
    fake_write(s, data, len);
    return 0;
}

static size_t fake_room(struct sk_session *s)
{
    struct fake_session *f = FAKE(s);
    return f->aborted ? 0 : f->out_cap - f->out_len;
}

static void fake_abort(struct sk_session *s)
{
    FAKE(s)->aborted = 1;
}

static const struct sk_session_ops fake_ops = {
    .write = fake_write,
    .post = fake_post,
    .room = fake_room,
    .abort = fake_abort,
};

static void init(struct fake_session *f, struct sk_instance *inst, size_t cap)
{
    f->session.ops = &fake_ops;
    f->session.instance = inst;
    f->session.state = inst->service->session_size
        ? calloc(1, inst->service->session_size) : NULL;
    snprintf(f->session.peer, sizeof f->session.peer, "127.0.0.1:%u",
             (unsigned)(10000 + (rand() % 50000)));
    f->out = malloc(cap ? cap : 1);
    f->out_cap = cap;
    if (inst->service->on_open)
        inst->service->on_open(&f->session);
}

void fake_open(struct fake_session *f, const struct sk_service *svc,
               const struct sk_service_config *config, size_t cap)
{
    memset(f, 0, sizeof *f);
    if (config)
        f->config = *config;
    if (sk__instance_open(&f->instance, svc, &f->config, NULL) != 0)
        abort();
    f->opened = 1;
    init(f, &f->instance, cap);
}

void fake_open_shared(struct fake_session *f, struct sk_instance *inst, size_t cap)
{
    memset(f, 0, sizeof *f);
    init(f, inst, cap);
}

void fake_take(struct fake_session *f)
{
    f->out_len = 0;
}

void fake_pump(struct fake_session *f, size_t limit)
{
    const struct sk_service *svc = f->session.instance->service;
    size_t start = f->all_len;
    while ((f->session.flags & SK_SESSION_WANT_WRITABLE) && !f->aborted &&
           !(f->session.flags & SK_SESSION_CLOSE) && f->all_len - start < limit) {
        size_t before = f->all_len;
        svc->on_writable(&f->session);
        fake_take(f);
        if (f->all_len == before && (f->session.flags & SK_SESSION_WANT_WRITABLE))
            break; /* no progress: let the caller look */
    }
}

size_t fake_feed(struct fake_session *f, const void *data, size_t len)
{
    return f->session.instance->service->on_data(&f->session, data, len);
}

size_t fake_feed_bytewise(struct fake_session *f, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t used = 0;
    for (size_t i = 0; i < len; i++) {
        if (f->session.flags & (SK_SESSION_CLOSE | SK_SESSION_FAILED))
            break;
        size_t n = fake_feed(f, p + i, 1);
        if (n == 0) {
            /* No room: drain like a socket would and try once more. */
            fake_take(f);
            fake_pump(f, (size_t)1 << 24);
            n = fake_feed(f, p + i, 1);
            if (n == 0)
                break;
        }
        used += n;
        fake_pump(f, (size_t)1 << 24);
    }
    return used;
}

void fake_eof(struct fake_session *f)
{
    const struct sk_service *svc = f->session.instance->service;
    if (svc->on_eof)
        svc->on_eof(&f->session);
    else
        sk_session_close(&f->session);
}

void fake_close(struct fake_session *f)
{
    const struct sk_service *svc = f->session.instance->service;
    if (svc->on_close)
        svc->on_close(&f->session);
    free(f->session.state);
    if (f->opened)
        sk__instance_close(&f->instance);
    free(f->out);
    free(f->all);
}
