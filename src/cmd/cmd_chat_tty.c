/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_chat_tty.c - `sockit chat`'s input line on a terminal (POSIX).
 *
 * With the terminal in its usual (canonical) mode the kernel echoes what
 * the user types, and a line from the room printed meanwhile lands in the
 * middle of it: "> hel[bob] hi" and the user no longer sees what they
 * typed.  So when stdin and stdout are both a terminal, and we are its
 * foreground process, the client edits the line itself: ICANON and ECHO
 * off, the line kept here and drawn as "> " and the text after it.  When
 * a line from the room arrives the input line is erased ("\r" and ESC [K),
 * the room's line printed, and the prompt with the partial input drawn
 * again under it.  Otherwise (pipes, files, a background job) nothing
 * here runs and stdin is relayed exactly as it comes.
 *
 * Keys: Enter sends the line; Backspace deletes a character, Ctrl-U the
 * line, Ctrl-W a word; Ctrl-L redraws; Ctrl-D on an empty line ends the
 * input (as at the end of a pipe: half-close, last words, exit).  Other
 * control keys and escape sequences (arrows, function keys) are ignored.
 * A line holds at most CHAT_INPUT_MAX bytes, the server's line length;
 * keys past that ring the bell.  Ctrl-C, Ctrl-\ and Ctrl-Z keep their
 * signals (ISIG stays on).
 *
 * The terminal is put back as it was on every way out: atexit for
 * returns and cli_fail, a handler for SIGINT, SIGTERM, SIGHUP and SIGQUIT
 * that restores it and then dies of the signal as before, and for SIGTSTP
 * (Ctrl-Z) one that restores it, stops, and on resuming in the foreground
 * takes the terminal again and has the loop redraw the line.
 */
#include "cmd_chat.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define PROMPT "> "

static struct termios saved;        /* the terminal as we found it */
static struct termios ours;         /* ICANON and ECHO off */
static volatile sig_atomic_t active;  /* the terminal is in our mode */
static volatile sig_atomic_t redraw;  /* resumed after Ctrl-Z: draw again */

static char input[CHAT_INPUT_MAX]; /* the line being typed */
static size_t input_len;
static int shown;       /* the prompt and input are on the screen */
static int shown_cols;  /* the columns they take */
static int screen_cols; /* the terminal's width when they were drawn */
static int escape;      /* 0, or 1 after ESC, 2 inside ESC [ or ESC O */
static int after_cr;    /* the last key was "\r": a "\n" next is the same Enter */

static void write_tty(const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* the terminal is gone; nothing to draw on */
        s += n;
        len -= (size_t)n;
    }
}

#define WRITE_LITERAL(s) write_tty(s, sizeof s - 1)

/* Put the terminal back.  Async-signal-safe: the signal handlers call it. */
static void restore_terminal(void)
{
    if (!active)
        return;
    active = 0;
    WRITE_LITERAL("\r\x1b[K"); /* leave no half-typed line behind */
    tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
}

static void take_terminal(void)
{
    if (tcsetattr(STDIN_FILENO, TCSADRAIN, &ours) == 0)
        active = 1;
}

static int in_foreground(void)
{
    return tcgetpgrp(STDIN_FILENO) == getpgrp();
}

static void die_of_signal(int sig)
{
    int saved_errno = errno;
    restore_terminal();
    signal(sig, SIG_DFL);
    raise(sig); /* blocked in here: delivered, as before, when we return */
    errno = saved_errno;
}

static void on_stop(int sig)
{
    int saved_errno = errno;
    restore_terminal();
    signal(sig, SIG_DFL);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, sig);
    sigprocmask(SIG_UNBLOCK, &stop, NULL);
    raise(sig); /* stops here until SIGCONT */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    if (in_foreground()) {
        take_terminal();
        redraw = 1;
    }
    errno = saved_errno;
}

int chat_tty_start(void)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || !in_foreground())
        return 0;
    if (tcgetattr(STDIN_FILENO, &saved) < 0)
        return 0;
    ours = saved;
    ours.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
    ours.c_iflag &= ~(tcflag_t)ICRNL; /* Enter is "\r"; a pasted "\r\n" is one Enter */
    ours.c_cc[VMIN] = 1;
    ours.c_cc[VTIME] = 0;
    atexit(restore_terminal);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = die_of_signal;
    static const int fatal[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        sigaction(fatal[i], &sa, NULL);
    sa.sa_handler = on_stop;
    sigaction(SIGTSTP, &sa, NULL);
    take_terminal();
    if (!active)
        return 0;
    chat_prompt_show();
    return 1;
}

void chat_tty_stop(void)
{
    chat_prompt_hide();
    restore_terminal();
}

/* The columns a character takes: 2 for the wide East Asian ranges and
 * emoji, else 1 (combining marks are rare in a name or a chat line, and
 * counting them as 1 only makes the shown tail shorter). */
static int char_width(uint32_t c)
{
    return (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
                   (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
                   (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
                   (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
                   (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd)
               ? 2 : 1;
}

/* Where the character before input[end] starts. */
static size_t char_start(size_t end)
{
    size_t i = end - 1;
    while (i > 0 && ((unsigned char)input[i] & 0xc0) == 0x80)
        i--;
    return i;
}

static uint32_t code_point(size_t at, size_t end)
{
    const unsigned char *p = (const unsigned char *)input + at;
    uint32_t c = p[0];
    size_t n = end - at;
    if (n == 1)
        return c;
    c &= n == 2 ? 0x1fu : n == 3 ? 0x0fu : 0x07u;
    for (size_t i = 1; i < n; i++)
        c = c << 6 | (p[i] & 0x3fu);
    return c;
}

void chat_prompt_show(void)
{
    if (!active || shown)
        return;
    struct winsize ws;
    int cols = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    /* As much of the end of the line as fits on one row (a line that
     * wrapped could not be erased with one ESC [K). */
    int room = cols - (int)(sizeof PROMPT - 1) - 1, used = 0;
    size_t from = input_len;
    while (from > 0) {
        size_t start = char_start(from);
        int w = char_width(code_point(start, from));
        if (used + w > room)
            break;
        used += w;
        from = start;
    }
    WRITE_LITERAL("\r\x1b[K" PROMPT);
    write_tty(input + from, input_len - from);
    shown = 1;
    shown_cols = (int)(sizeof PROMPT - 1) + used;
    screen_cols = cols;
}

void chat_prompt_hide(void)
{
    if (!active || !shown)
        return;
    WRITE_LITERAL("\r\x1b[K");
    shown = 0;
}

void chat_tty_redraw_if_resumed(void)
{
    if (redraw) {
        redraw = 0;
        shown = 0;
        chat_prompt_show();
    }
}

/* Redraw after an edit, if the line is on the screen (while the room's
 * output is mid-line it is not, and is drawn when that line ends). */
static void refresh(void)
{
    if (shown) {
        shown = 0;
        chat_prompt_show();
    }
}

/* The bytes a UTF-8 character starting with c takes (1 for a stray byte). */
static size_t char_bytes(unsigned char c)
{
    return c >= 0xf0 && c <= 0xf7 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/* A key was added to the line: once it completes a character, show that
 * where it still fits on the row, or draw the line's tail again. */
static void echo_last_char(void)
{
    size_t start = char_start(input_len);
    size_t need = char_bytes((unsigned char)input[start]);
    if (input_len - start < need && need <= sizeof input - start)
        return; /* the rest of the character is still coming */
    if (!shown)
        return; /* drawn whole when the room's line ends */
    shown_cols += char_width(code_point(start, input_len));
    if (shown_cols < screen_cols)
        write_tty(input + start, input_len - start);
    else
        refresh();
}

static void delete_back(int word)
{
    while (word && input_len > 0 && input[input_len - 1] == ' ')
        input_len--;
    while (input_len > 0) {
        size_t start = char_start(input_len);
        if (word && input[start] == ' ')
            break;
        input_len = start;
        if (!word)
            break;
    }
    refresh();
}

size_t chat_tty_keys(const char *keys, size_t n, char *out, size_t cap, int *eof)
{
    size_t used = 0;
    *eof = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)keys[i];
        int cr = after_cr;
        after_cr = 0;
        if (escape == 1) { /* ESC [ and ESC O start a sequence; ESC x is two keys */
            escape = c == '[' || c == 'O' ? 2 : 0;
            continue;
        }
        if (escape == 2) {
            if (c >= 0x40 && c <= 0x7e)
                escape = 0; /* the final byte of the sequence */
            continue;
        }
        switch (c) {
        case '\r':
        case '\n':
            if (c == '\n' && cr)
                break;
            after_cr = c == '\r';
            if (used + input_len + 1 > cap)
                return used; /* cannot happen: the caller leaves room */
            memcpy(out + used, input, input_len);
            used += input_len;
            out[used++] = '\n';
            if (shown)
                WRITE_LITERAL("\n"); /* the sent line stays on the screen */
            shown = 0;
            input_len = 0;
            chat_prompt_show();
            break;
        case 0x7f: /* Backspace */
        case '\b':
            delete_back(0);
            break;
        case 0x17: /* Ctrl-W */
            delete_back(1);
            break;
        case 0x15: /* Ctrl-U */
            input_len = 0;
            refresh();
            break;
        case 0x0c: /* Ctrl-L */
            refresh();
            break;
        case 0x04: /* Ctrl-D: the end of input on an empty line */
            if (input_len == 0) {
                *eof = 1;
                return used;
            }
            break;
        case 0x1b:
            escape = 1;
            break;
        default:
            if (c < 0x20)
                break; /* other control keys mean nothing here */
            if (input_len == sizeof input) {
                WRITE_LITERAL("\a");
                break;
            }
            input[input_len++] = (char)c;
            echo_last_char();
            break;
        }
    }
    return used;
}
