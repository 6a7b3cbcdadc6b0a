/*
 * sk_msglog.h - `--log FILE`: every received message, written by one
 * writer process fed through a pipe (the book's echo_storeserv).
 *
 * Writers in any process (fork children included) send chunks of at most
 * PIPE_BUF bytes, which the kernel keeps whole, so concurrent clients
 * never tear each other's chunks.  The writer appends to FILE until the
 * last write end closes.
 */
#ifndef SK_MSGLOG_H
#define SK_MSGLOG_H

#include <stddef.h>

struct sk_msglog;

int sk_msglog_open(const char *path, struct sk_msglog **out);
/* Best effort: a full pipe blocks the caller, a broken one is ignored. */
void sk_msglog_write(struct sk_msglog *ml, const void *data, size_t len);
/* Close the write end and wait for the writer to finish. */
void sk_msglog_close(struct sk_msglog *ml);

#endif
