/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_chat.c - `sockit chat HOST PORT`: join a chat server from a terminal
 * or a script.
 *
 * One poll() over stdin and the socket, OpenBSD nc's way: what stdin gives
 * goes to the server, what the server sends is written to stdout as soon
 * as it arrives.  The stdin side has one fixed buffer; while it holds bytes
 * the socket is not yet ready to take, stdin is not polled, so a server
 * that stops reading pushes back on us instead of growing our memory.
 *
 * How it ends:
 *   stdin ends        everything read is sent, then shutdown(SHUT_WR) tells
 *                     the server we are done; its last words are printed
 *                     until it closes, for at most CHAT_DRAIN_MS; exit 0.
 *   server closes     "server closed the connection" on stderr; exit 0.
 *   connection fails  one line with the reason; exit 1.
 *
 * What the server sends is the other members' bytes, relayed unchanged
 * after a "[sender] " prefix, so a member could send "\r[server] ..." to
 * overwrite its own prefix on our terminal, or ESC sequences that retitle
 * or clear it.  Everything is therefore made visible (cli_vis, vis(3)
 * style: "\r", "^[", "\x07") before it reaches stdout; printable UTF-8,
 * tab and newline pass unchanged.
 *
 * Names are the server's (svc_chat.c): --name NAME only sends the line
 * "/nick NAME" before anything else, and the server's answer is printed
 * like any line.  On a terminal the line being typed is the client's own
 * (cmd_chat_tty.c): every write of the server's text below is bracketed
 * by chat_prompt_hide and chat_prompt_show, so it never lands in the
 * middle of that line.
 *
 * On Windows poll (WSAPoll) waits on sockets only, so a thread reads stdin
 * and sends each piece with blocking writes (the socket's buffers are the
 * backpressure) while the main thread prints what the server sends.  The
 * two loops are cmd_chat_posix.c and cmd_chat_win.c (cmd_chat.h).
 */
#include "cli.h"
#include "cli_getopt.h"
#include "sk_addr.h"
#include "sk_error.h"
#include "sk_sock.h"
#include "sk_trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd_chat.h"

#define DEFAULT_CONNECT_MS 10000

static const char help_text[] =
    "usage: sockit chat HOST PORT [--name NAME] [options]\n"
    "       sockit chat unix:PATH [--name NAME] [options]\n"
    "\n"
    "Join the chat server at HOST PORT (see 'sockit serve chat').  Each line\n"
    "typed or piped on stdin is sent; every line from the server (the other\n"
    "members' lines, joins and leaves) is printed as it arrives.  At the end\n"
    "of stdin (Ctrl-D on an empty line) the connection is half-closed and\n"
    "the server's last lines are printed for up to 2 seconds.\n"
    "\n"
    "A line that starts with / is a command to the server:\n"
    "  /nick NAME   be shown to the others as [NAME] instead of your address\n"
    "               (1-32 printable characters, no spaces, [ ] or :; unique)\n"
    "  /who         who is here;  /help  the commands\n"
    "  //text       send a line that starts with /\n"
    "\n"
    "On a terminal the client edits the line itself, so a line from the room\n"
    "never lands in what you are typing: it is printed above the prompt\n"
    "(\"> \") and your unfinished line.  Backspace, Ctrl-U (line), Ctrl-W\n"
    "(word), Ctrl-L (redraw) and Ctrl-C work as usual.  With stdin or stdout\n"
    "not a terminal, lines are relayed exactly as they come (on Windows the\n"
    "console edits the line, as before).\n"
    "\n"
    "What the others send is shown as visible text: control characters\n"
    "appear as \\r, ^[ (escape) or \\xNN, so no member can move the cursor,\n"
    "retitle or clear the terminal, or imitate another's [name] prefix.\n"
    "\n"
    "examples:\n"
    "  sockit serve chat -m thread -p 7777 &\n"
    "  sockit chat 127.0.0.1 7777 --name alice\n"
    "  printf 'hello\\nbye\\n' | sockit chat ::1 7777 --name bot\n"
    "\n"
    "options:\n"
    "  -n, --name NAME     take the name NAME (sends /nick NAME first)\n"
    "  -t, --timeout SEC   give up connecting after SEC seconds (default 10)\n"
    "      --trace[=FMT]   show each socket call and TCP's state on\n"
    "                      stderr; FMT: text (default) or json\n"
    "  -h, --help          this text\n";

/* Write all of buf to stdout, or exit: a reader that went away (EPIPE)
 * is as final as a full disk. */
static void print_all(const char *buf, size_t len)
{
    while (len > 0) {
        long n = sk__fd_write(1, buf, len);
        if (n < 0) {
            if (n == -EINTR)
                continue;
            cli_fail("cannot write to stdout: %s", sk_strerror((int)n));
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* Bytes from the server not yet printed: a UTF-8 character split between
 * two reads waits here (at most 3 bytes) for the rest of it. */
struct inbound {
    unsigned char bytes[CHAT_BUFFER_BYTES + 4];
    size_t pending;
};

/* Print bytes from the server in their visible form (see the top). */
static void print_visible(struct inbound *in, size_t len, unsigned flags)
{
    static char shown[4 * sizeof in->bytes + 1];
    size_t shown_len;
    size_t used = cli_vis(shown, sizeof shown, in->bytes, len, flags, &shown_len);
    if (shown_len > 0) {
        chat_prompt_hide(); /* the line being typed is drawn again below */
        print_all(shown, shown_len);
        if (shown[shown_len - 1] == '\n')
            chat_prompt_show();
    }
    in->pending = len - used;
    memmove(in->bytes, in->bytes + used, in->pending);
}

/* Receive once and print it.  Returns 1 while the connection is open, 0
 * when the server has closed it. */
int chat_relay_from_server(sk_socket_t fd)
{
    static struct inbound in;
    long n = sk_recv_some(fd, in.bytes + in.pending, CHAT_BUFFER_BYTES);
    if (n < 0) {
        if (sk__error_would_block((int)n))
            return 1;
        chat_prompt_hide();
        cli_fail("connection lost: %s", sk_strerror((int)n));
    }
    if (n == 0) {
        /* A character cut short for good is shown escaped. */
        print_visible(&in, in.pending, CLI_VIS_KEEP_NEWLINE);
        return 0;
    }
    print_visible(&in, in.pending + (size_t)n, CLI_VIS_KEEP_NEWLINE | CLI_VIS_PARTIAL);
    return 1;
}

/* --name: one word of at most 32 printable characters, since it goes out
 * as the line "/nick NAME" (a newline in it would be a second line).  The
 * server decides the rest (brackets, colons, taken) and says so. */
static const char *parse_name(const char *name)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        if (*p <= ' ' || *p == 0x7f)
            cli_usage_error("--name must be one word without spaces or control characters");
        chars += (*p & 0xc0) != 0x80; /* count UTF-8 characters, not bytes */
    }
    if (chars == 0 || chars > 32)
        cli_usage_error("--name must be 1 to 32 characters");
    return name;
}

int cmd_chat(int argc, char **argv)
{
    static const struct option options[] = {
        { "name", required_argument, NULL, 'n' },
        { "timeout", required_argument, NULL, 't' },
        CLI_TRACE_OPTION,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int connect_ms = DEFAULT_CONNECT_MS;
    const char *name = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "n:t:h", options, NULL)) != -1) {
        switch (c) {
        case 'n':
            name = parse_name(optarg);
            break;
        case 't':
            connect_ms = cli_parse_seconds_ms(optarg, "--timeout");
            if (connect_ms <= 0)
                cli_usage_error("--timeout must be more than 0 seconds");
            break;
        case CLI_OPT_TRACE: cli_trace_start(optarg); break;
        case 'h': cli_help(help_text);
        default: cli_bad_option(argc, argv);
        }
    }
    /* unix:PATH takes the place of HOST and PORT. */
    int unix_path = optind < argc && sk_addr_is_unix(argv[optind]);
    if (argc - optind < 2 - unix_path)
        cli_usage_error(argc - optind == 0 ? "missing HOST and PORT" : "missing PORT");
    const char *host = argv[optind], *port = unix_path ? NULL : argv[optind + 1];
    if (argc - optind > 2 - unix_path)
        cli_usage_error("unexpected argument '%s'", argv[optind + 2 - unix_path]);
    if (*host == '\0')
        cli_usage_error("empty HOST");
    if (port != NULL && sk_port_parse(port, SOCK_STREAM) <= 0)
        cli_usage_error("invalid port '%s' (expected 1-65535 or a service name)", port);

    chat_keep_standard_fds_open();
    sk_socket_t fd;
    int rc = sk_connect(host, port, SOCK_STREAM, connect_ms, &fd);
    if (rc < 0)
        cli_fail("cannot connect to %s%s%s: %s", host, port ? " port " : "", port ? port : "",
                 sk_strerror(rc));
    if (name != NULL) {
        char nick[160]; /* "/nick " + at most 32 four-byte characters + "\n" */
        int len = snprintf(nick, sizeof nick, "/nick %s\n", name);
        rc = sk_send_all(fd, nick, (size_t)len);
        if (rc < 0)
            cli_fail("cannot send: %s", sk_strerror(rc));
    }
    rc = chat_loop(fd);
    sk_close(fd);
    return rc;
}
