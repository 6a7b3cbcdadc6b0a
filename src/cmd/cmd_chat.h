/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_chat.h - what `sockit chat` shares with its two loops, the POSIX one
 * (cmd_chat_posix.c: one poll() over stdin and the socket, with the input
 * line on a terminal edited by cmd_chat_tty.c) and the Windows one
 * (cmd_chat_win.c: a thread reads stdin, since WSAPoll waits on sockets
 * only; the console's own line editing, as before).
 */
#ifndef CMD_CHAT_H
#define CMD_CHAT_H

#include "sk_compat.h"

#define CHAT_BUFFER_BYTES 16384
#define CHAT_DRAIN_MS 2000 /* after our half-close, wait this long */

/* Receive once and print it.  Returns 1 while the connection is open, 0
 * when the server has closed it (cmd_chat.c). */
int chat_relay_from_server(sk_socket_t fd);

/* Where a process started with stdin or stdout closed would get the
 * socket as descriptor 0 or 1, park /dev/null there first (POSIX; nothing
 * on Windows). */
void chat_keep_standard_fds_open(void);
/* Relay stdin to fd and fd to stdout until the chat ends; 0. */
int chat_loop(sk_socket_t fd);

/* The line the user is typing, on a terminal (cmd_chat_tty.c; on Windows
 * and when stdin or stdout is not a terminal these do nothing): erased
 * before anything else is written to the terminal, drawn again after a
 * line of it ends. */
void chat_prompt_hide(void);
void chat_prompt_show(void);

/* POSIX only (cmd_chat_tty.c, for cmd_chat_posix.c).  Take the terminal
 * (1) when stdin and stdout are one and we are in the foreground; else 0,
 * and stdin is relayed as it comes. */
int chat_tty_start(void);
/* Put the prompt away and the terminal back as it was. */
void chat_tty_stop(void);
/* Edit the line with n bytes of keys; each line finished with Enter is
 * appended to out (at most cap bytes: leave room for the n keys and a
 * whole line, CHAT_INPUT_MAX + 1).  Returns the bytes appended; *eof is
 * set at Ctrl-D on an empty line. */
size_t chat_tty_keys(const char *keys, size_t n, char *out, size_t cap, int *eof);
/* After Ctrl-Z and fg: draw the line again. */
void chat_tty_redraw_if_resumed(void);
#define CHAT_INPUT_MAX 4096 /* bytes in a typed line: the server's line */

#endif
