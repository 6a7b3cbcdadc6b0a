/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fake_session.h - a session that is only a buffer, for feeding services
 * in unit tests.
 *
 * The output has a fixed capacity, so tests can see a service respect
 * backpressure (on_data consuming less when the output is full).  The
 * feed helpers hand input one byte at a time and drain output between
 * calls, the way a model would.
 */
#ifndef SOCKIT_FAKE_SESSION_H
#define SOCKIT_FAKE_SESSION_H

#include "sk_service.h"

struct fake_session {
    struct sk_session session;
    struct sk_instance instance;
    struct sk_service_config config;
    unsigned char *out;    /* queued output not yet taken by fake_take */
    size_t out_len, out_cap;
    unsigned char *all;    /* every byte ever written, for assertions */
    size_t all_len, all_cap;
    int aborted;
    int opened;
};

/* Open svc with an output capacity of cap bytes.  config may be NULL. */
void fake_open(struct fake_session *f, const struct sk_service *svc,
               const struct sk_service_config *config, size_t cap);
/* Same, but share an already open instance (several sessions, one chat). */
void fake_open_shared(struct fake_session *f, struct sk_instance *inst, size_t cap);
/* Feed len bytes one at a time; between bytes, drain output and let the
 * service produce (on_writable) like a model would.  Returns the number
 * of bytes the service consumed. */
size_t fake_feed_bytewise(struct fake_session *f, const void *data, size_t len);
/* Feed in one call (the service may take less). */
size_t fake_feed(struct fake_session *f, const void *data, size_t len);
/* Let a service that wants writability produce, up to limit bytes total. */
void fake_pump(struct fake_session *f, size_t limit);
/* Drain queued output (as if the socket took it). */
void fake_take(struct fake_session *f);
void fake_eof(struct fake_session *f);
void fake_close(struct fake_session *f);

#endif
