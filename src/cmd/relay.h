/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * relay.h - `sockit connect` and `sockit listen`'s copy loop: standard
 * input to a connected socket, the socket to standard output, with the
 * half-close done explicitly.
 *
 * The rules (README "The command" says the same for users):
 *   - End of standard input sends FIN (shutdown(SHUT_WR)) once everything
 *     read has gone out, unless no_shutdown; the socket is then still read
 *     until the peer ends its side.
 *   - The peer's FIN ends what goes to standard output; standard input is
 *     still sent until it ends, since a half-closed peer may be reading.
 *     A terminal on standard input is not waited for: nobody types into
 *     a finished conversation.
 *   - quit_ms >= 0: after end of standard input, wait at most that long
 *     for the peer, then stop (nc -q).  idle_ms > 0: no byte either way
 *     for that long is RELAY_IDLE (nc -w).
 *   - Datagrams (udp): each read of standard input is one datagram, each
 *     datagram received is written out whole; there is no FIN, so the
 *     relay runs until quit_ms, idle_ms, an error or a signal ends it.
 *
 * The POSIX loop (relay_posix.c) is one poll() over standard input,
 * standard output and the socket, OpenBSD nc's readwrite() shape: each
 * direction has one buffer, a side whose buffer is full is not polled,
 * and standard output is written in pieces that never block, so a slow
 * reader of our output never stops standard input from being sent.
 */
#ifndef SOCKIT_RELAY_H
#define SOCKIT_RELAY_H

#include "sk_compat.h"
#include "sk_sock.h"

#include <stdint.h>

struct relay_options {
    int udp;          /* a connected datagram socket */
    int no_shutdown;  /* keep our write side open at end of input */
    int quit_ms;      /* -q: < 0 waits for the peer as long as it takes */
    int idle_ms;      /* -w: 0 = no idle limit */
    const sk__flag_t *stop; /* set by SIGINT/SIGTERM */
};

enum relay_end {
    RELAY_CLOSED,      /* both directions ended cleanly */
    RELAY_QUIT,        /* -q ran out after end of input */
    RELAY_OUTPUT_GONE, /* standard output's reader went away (EPIPE) */
    RELAY_IDLE,        /* -w: nothing moved for idle_ms */
    RELAY_STOPPED,     /* a stop signal */
    RELAY_NET_ERROR,   /* the socket failed: reset, refused, ... (code) */
    RELAY_IO_ERROR,    /* standard input or output failed (code) */
    RELAY_UNSUPPORTED, /* no relay on this platform */
};

struct relay_result {
    enum relay_end end;
    int code;             /* the sk error code for the two *_ERROR ends */
    uint64_t sent, received; /* bytes */
};

/* Copy until the conversation ends; the socket stays open (the caller
 * closes it).  Standard input's end is remembered across calls, so a
 * second connection (listen -k) gets an immediate end of input. */
void relay_run(sk_socket_t s, const struct relay_options *opt, struct relay_result *out);

/* Run argv (execvp, no shell) with the connection as its standard input
 * and output, standard error shared with ours, and wait for it.  s is
 * closed here as soon as the program has its copy, so the connection
 * ends when the program does.  Returns
 * its exit status (0-255), 128 + N when signal N ended it, or a negative
 * code when it could not start (which the child has already reported
 * when the program itself was not found: status 127). */
int relay_exec(sk_socket_t s, char *const argv[], const sk__flag_t *stop);

#endif
