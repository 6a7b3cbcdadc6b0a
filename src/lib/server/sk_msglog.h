/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_msglog.h - `--log FILE`: every received message, written by one
 * writer (the book's echo_storeserv).
 *
 * Linux (sk_msglog.c): a writer process fed through an AF_UNIX
 * SOCK_SEQPACKET socket, whose messages arrive whole, so that chunks sent
 * by any process (fork children included) or thread never tear each
 * other; a chunk too big for one message is sent in pieces that the
 * writer puts back together.  Windows (msglog_win.c): a writer thread fed
 * by a pipe, one chunk at a time under a lock.  The writer appends to
 * FILE until the last sending end closes.
 */
#ifndef SK_MSGLOG_H
#define SK_MSGLOG_H

#include <stddef.h>

struct sk__msglog;

int sk__msglog_open(const char *path, struct sk__msglog **out);
/* One received chunk, logged whole.  Best effort: a writer that cannot keep
 * up blocks the caller, one that died is ignored. */
void sk__msglog_write(struct sk__msglog *ml, const void *data, size_t len);
/* Close the write end and wait for the writer to finish. */
void sk__msglog_close(struct sk__msglog *ml);

#endif
