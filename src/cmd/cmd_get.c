/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_get.c - `sockit get HOST PORT NAME`: the half-close file client.
 *
 * The tutorial client, made trustworthy:
 *   send NAME "\n"; read "OK SIZE" or "ERR MESSAGE"; read exactly SIZE
 *   bytes; check the server then half-closed (end of stream, nothing
 *   extra); send the closing "Thank you"; close.
 *
 * Why it is written this way:
 * - TCP keeps no boundaries and a server may vanish mid-file, so the
 *   client trusts the byte count in the header, not the end of the
 *   stream: fewer bytes is an error, and so are bytes beyond it.
 * - The file appears whole or not at all.  Bytes go to a temporary file
 *   in the output's own directory (so rename() stays on one file system
 *   and is atomic); only a complete, verified transfer is renamed over
 *   OUT.  A refusal creates nothing; a short transfer removes the
 *   temporary file and leaves any existing OUT untouched.
 * - No wait is unbounded: connecting and every wait for data are limited
 *   by --timeout (an inactivity limit, not a limit on the whole
 *   transfer, so a slow but steady 64 GiB download still completes).
 * - One 256 KiB buffer carries the whole transfer; nothing is allocated
 *   per chunk.
 * - Ctrl-C or SIGTERM during the transfer is caught (the handler only
 *   sets a flag) so the temporary file is removed before exiting.
 */
#include "cli.h"
#include "cli_getopt.h"
#include "sk_addr.h"
#include "sk_error.h"
#include "sk_sock.h"
#include "sk_trace.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MS 10000
#define HEADER_MAX 128            /* "OK 18446744073709551615\n" fits easily */
#define BUFFER_SIZE (256 * 1024)
#define CLOSING_MESSAGE "Thank you\n"
/* Characters of an ERR message printed, made visible with cli_vis() so a
 * hostile server cannot send terminal escapes through our stderr. */
#define SERVER_MESSAGE_MAX 100

static const char help_text[] =
    "usage: sockit get HOST PORT NAME [-o OUT] [-t SEC] [options]\n"
    "       sockit get unix:PATH NAME [-o OUT] [-t SEC] [options]\n"
    "\n"
    "Fetch NAME from a 'sockit serve file' server: send the name, read\n"
    "\"OK SIZE\" and exactly SIZE bytes (or \"ERR MESSAGE\"), check that the\n"
    "server half-closed, then send \"Thank you\" and close.\n"
    "\n"
    "The file is written to a temporary file next to OUT and renamed to OUT\n"
    "only when every byte arrived, so OUT is never left half-written (an OUT\n"
    "that is a device or a FIFO, such as /dev/null, is written as the bytes\n"
    "come, never replaced).  A summary line goes to stderr; on a terminal,\n"
    "so does a progress line.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT     where to write (default: the last part of NAME;\n"
    "                       an existing directory: NAME's last part inside it;\n"
    "                       '-': standard output)\n"
    "  -t, -w, --timeout SEC\n"
    "                       limit on connecting and on each wait for data\n"
    "                       (default 10; 2s, 500ms)\n"
    "  -4, -6               IPv4 or IPv6 addresses of HOST only\n"
    "      --progress       show bytes, rate and time left on one line of\n"
    "                       stderr (the default when stderr is a terminal)\n"
    "      --no-progress    never show it\n"
    "  -q, --quiet          no progress and no summary line (errors still)\n"
    "  -v, --verbose        say which address it connected to\n"
    "  -V, --version        print sockit's version\n"
    "      --trace[=FMT]    show each socket call and TCP's state on\n"
    "                       stderr; FMT: text (default) or json\n"
    "  -h, --help           this text\n"
    "\n"
    "exit status: 0 received, 1 refused or failed, 2 usage error\n";

struct get_options {
    const char *host, *port, *name;
    const char *output;   /* as given with -o, or NULL */
    int timeout_ms;
    int family;           /* -4, -6 */
    int progress;         /* -1 = when stderr is a terminal, 0 never, 1 always */
    int quiet, verbose;
};

/* Where the bytes go.  temp_path is non-empty while a temporary file
 * exists, so every failure path can remove it.  to_stream: standard
 * output, or an OUT that is not a regular file (/dev/null, a FIFO),
 * written as it comes: renaming a file over a device would replace the
 * device (as root, /dev/null itself). */
struct output {
    int fd;
    int to_stdout;
    int to_stream;
    char final_path[PATH_MAX];
    char temp_path[PATH_MAX];
};

static struct output out = { .fd = -1 };
static sk__flag_t interrupted;

/* ---- the progress line ---------------------------------------------------- */

/* One line on stderr, rewritten in place with "\r" at most every
 * PROGRESS_EVERY_MS: bytes so far, the rate over the transfer and the
 * time left at that rate.  "\033[K" clears what a longer line left. */
#define PROGRESS_EVERY_MS 200

static struct {
    int on, shown;
    uint64_t started_ms, last_ms;
} progress;

static void human_bytes(char *buf, size_t cap, double bytes)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    while (bytes >= 1024 && u < 4)
        bytes /= 1024, u++;
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void progress_show(uint64_t got, uint64_t size, int force)
{
    if (!progress.on)
        return;
    uint64_t now = sk_now_ms();
    if (!force && now - progress.last_ms < PROGRESS_EVERY_MS)
        return;
    progress.last_ms = now;
    double seconds = (double)(now - progress.started_ms) / 1000.0;
    double rate = seconds > 0 ? (double)got / seconds : 0;
    char have[32], total[32], speed[32], left[32] = "--:--";
    human_bytes(have, sizeof have, (double)got);
    human_bytes(total, sizeof total, (double)size);
    human_bytes(speed, sizeof speed, rate);
    if (rate > 0) {
        double rest = (double)(size - got) / rate;
        if (rest < 360000)
            snprintf(left, sizeof left, "%d:%02d", (int)rest / 60, (int)rest % 60);
    }
    fprintf(stderr, "\r%s: %s of %s (%3.0f%%)  %s/s  %s left\033[K", cli_prog, have, total,
            size ? 100.0 * (double)got / (double)size : 100.0, speed, left);
    fflush(stderr);
    progress.shown = 1;
}

/* Take the line away before anything else is printed. */
static void progress_clear(void)
{
    if (progress.shown)
        fputs("\r\033[K", stderr);
    progress.shown = 0;
}

static void output_discard(void)
{
    if (out.fd >= 0 && !out.to_stdout)
        sk__fd_close(out.fd);
    out.fd = -1;
    if (out.temp_path[0] != '\0') {
        remove(out.temp_path);
        out.temp_path[0] = '\0';
    }
}

/* cli_fail, after removing the temporary file. */
static noreturn void fail(const char *fmt, ...) SK_PRINTF(1, 2);
static noreturn void fail(const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    output_discard();
    progress_clear();
    cli_fail("%s", message);
}

/* ---- options ----------------------------------------------------------- */

enum { OPT_PROGRESS = 256, OPT_NO_PROGRESS };

static void parse_options(int argc, char **argv, struct get_options *o)
{
    static const struct option options[] = {
        { "output", required_argument, NULL, 'o' },
        { "timeout", required_argument, NULL, 't' },
        { "progress", no_argument, NULL, OPT_PROGRESS },
        { "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        CLI_TRACE_OPTION,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    o->timeout_ms = DEFAULT_TIMEOUT_MS;
    o->progress = -1;
    int c;
    opterr = 0;
    while ((c = cli_getopt(argc, argv, "o:t:w:46qvh", options)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case '4':
        case '6': cli_set_family(&o->family, c); break;
        case OPT_PROGRESS: o->progress = 1; break;
        case OPT_NO_PROGRESS: o->progress = 0; break;
        case 'q': o->quiet = 1; break;
        case 'v': o->verbose = 1; break;
        case 't':
        case 'w':
            o->timeout_ms = cli_parse_seconds_ms(optarg, "--timeout");
            if (o->timeout_ms <= 0)
                cli_usage_error("--timeout must be more than 0 seconds");
            break;
        case CLI_OPT_TRACE: cli_trace_start(optarg); break;
        case 'h': cli_help(help_text);
        default:
            if (optopt >= 256)
                optopt = 0;
            cli_bad_option(argc, argv);
        }
    }
    if (o->quiet && o->progress == 1)
        cli_usage_error("--progress and -q contradict each other; give one");
    if (o->quiet)
        o->progress = 0;
    if (o->progress < 0)
        o->progress = sk__fd_isatty(2);
    /* unix:PATH takes the place of HOST and PORT. */
    int unix_path = optind < argc && sk_addr_is_unix(argv[optind]);
    if (unix_path && argc - optind < 2)
        cli_usage_error("missing NAME (usage: sockit get unix:PATH NAME [-o OUT])");
    if (!unix_path && argc - optind < 3)
        cli_usage_error("missing %s (usage: sockit get HOST PORT NAME [-o OUT])",
                        argc - optind == 0 ? "HOST" : argc - optind == 1 ? "PORT" : "NAME");
    o->host = argv[optind++];
    o->port = unix_path ? NULL : argv[optind++];
    o->name = argv[optind++];
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (o->host[0] == '\0')
        cli_usage_error("empty HOST");
    if (o->port != NULL && sk_port_parse(o->port, SOCK_STREAM) <= 0)
        cli_usage_error("invalid port '%s' (expected 1-65535 or a service name)", o->port);
    if (o->name[0] == '\0')
        cli_usage_error("empty NAME");
    if (strchr(o->name, '\n') != NULL)
        cli_usage_error("NAME must not contain a newline");
    if (o->output != NULL && o->output[0] == '\0')
        cli_usage_error("empty OUT");
}

/* The last part of NAME ("dir/file.txt" -> "file.txt"), or NULL when it
 * makes no file name ("dir/", "..", "."). */
static const char *name_base(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || name[len - 1] == '/')
        return NULL;
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return NULL;
    return base;
}

/* Decide OUT before connecting, so a bad one fails without traffic. */
static void choose_output(const struct get_options *o)
{
    if (o->output != NULL && strcmp(o->output, "-") == 0) {
        out.to_stdout = 1;
        return;
    }
    const char *base = name_base(o->name);
    int n;
    if (o->output == NULL) {
        if (base == NULL)
            cli_usage_error("cannot name a file after '%s'; give -o OUT", o->name);
        n = snprintf(out.final_path, sizeof out.final_path, "%s", base);
    } else if (sk__path_kind(o->output) == SK_FILE_DIRECTORY) {
        if (base == NULL)
            cli_usage_error("cannot name a file after '%s' inside '%s'; give -o OUT",
                            o->name, o->output);
        n = snprintf(out.final_path, sizeof out.final_path, "%s/%s", o->output, base);
    } else {
        n = snprintf(out.final_path, sizeof out.final_path, "%s", o->output);
        out.to_stream = sk__path_kind(o->output) == SK_FILE_OTHER;
    }
    if (n < 0 || (size_t)n >= sizeof out.final_path)
        cli_usage_error("output path too long");
}

/* ---- the output file ----------------------------------------------------- */

/* A temporary file beside final_path: ".BASE.sockit-XXXXXX". */
static void output_open(void)
{
    if (out.to_stdout) {
        out.fd = 1;
        return;
    }
    if (out.to_stream) {
        out.fd = sk__file_open_write_existing(out.final_path);
        if (out.fd < 0) {
            int err = out.fd;
            out.fd = -1;
            fail("cannot open '%s': %s", out.final_path, sk_strerror(err));
        }
        return;
    }
    const char *slash = sk__path_last_separator(out.final_path);
    int dir_len = slash ? (int)(slash - out.final_path) + 1 : 0;
    const char *base = out.final_path + dir_len;
    int n = snprintf(out.temp_path, sizeof out.temp_path, "%.*s.%s.sockit-XXXXXX", dir_len,
                     out.final_path, base);
    if (n < 0 || (size_t)n >= sizeof out.temp_path) {
        out.temp_path[0] = '\0';
        fail("output path too long");
    }
    out.fd = sk__file_create_temp(out.temp_path);
    if (out.fd < 0) {
        int err = out.fd;
        out.temp_path[0] = '\0';
        fail("cannot create a file beside '%s': %s", out.final_path, sk_strerror(err));
    }
}

static void output_write(const uint8_t *data, size_t len)
{
    while (len > 0) {
        long n = sk__fd_write(out.fd, data, len);
        if (n < 0) {
            if (n == -EINTR && !interrupted)
                continue;
            fail("cannot write '%s': %s", out.to_stdout ? "standard output" : out.final_path,
                 n == -EINTR ? "interrupted" : sk_strerror((int)n));
        }
        data += n;
        len -= (size_t)n;
    }
}

/* Every byte is in: make the file appear under its real name. */
static void output_commit(void)
{
    if (out.to_stdout)
        return;
    int rc = sk__fd_close(out.fd);
    out.fd = -1;
    if (rc < 0)
        fail("cannot write '%s': %s", out.final_path, sk_strerror(rc));
    if (out.to_stream)
        return;
    if ((rc = sk__file_rename(out.temp_path, out.final_path)) < 0)
        fail("cannot rename '%s' to '%s': %s", out.temp_path, out.final_path,
             sk_strerror(rc));
    out.temp_path[0] = '\0';
}

/* ---- the conversation ---------------------------------------------------- */

/* Wait for data at most timeout_ms, then receive some.  Returns the byte
 * count, 0 at end of stream, or a code (-ETIMEDOUT, -EINTR when
 * interrupted by Ctrl-C, or the socket's error). */
static long receive_some(sk_socket_t s, void *buf, size_t len, int timeout_ms)
{
    for (;;) {
        if (interrupted)
            return -EINTR;
        int rc = sk__socket_wait(s, SK_WAIT_READ, timeout_ms);
        if (rc == 0)
            return -ETIMEDOUT;
        if (rc == -EINTR)
            continue; /* loops back to the interrupted check */
        if (rc < 0)
            return rc;
        return sk_recv_some(s, buf, len);
    }
}

/* Read the header line into buf.  Returns the announced size; the body
 * bytes that came with the header are moved to the front of buf and
 * counted in *extra.  A refusal or a malformed reply exits. */
static uint64_t read_header(sk_socket_t s, const struct get_options *o, uint8_t *buf,
                            size_t cap, size_t *extra)
{
    size_t have = 0;
    const uint8_t *nl = NULL;
    while (nl == NULL) {
        if (have >= HEADER_MAX)
            fail("malformed reply from %s: no header line in the first %d bytes", o->host,
                 HEADER_MAX);
        long n = receive_some(s, buf + have, cap - have, o->timeout_ms);
        if (n == 0 && have == 0)
            fail("%s closed the connection without a reply", o->host);
        if (n == 0)
            fail("malformed reply from %s: header line cut short", o->host);
        if (n < 0)
            fail("no reply from %s: %s", o->host,
                 n == -EINTR ? "interrupted" : sk_strerror((int)n));
        have += (size_t)n;
        nl = memchr(buf, '\n', have < HEADER_MAX ? have : HEADER_MAX);
    }
    size_t line = (size_t)(nl - buf);
    size_t header_len = line + 1;
    if (line > 0 && buf[line - 1] == '\r')
        line--;
    const char *text = (const char *)buf;

    if (line >= 4 && memcmp(text, "ERR ", 4) == 0) {
        char message[SERVER_MESSAGE_MAX + 1];
        cli_vis(message, sizeof message, text + 4, line - 4, 0, NULL);
        fail("server refused '%s': %s", o->name, message);
    }
    /* "OK " then 1 to 20 digits, nothing else. */
    uint64_t size = 0;
    size_t i = 3;
    int digits_ok = line > 3 && line <= 3 + 20 && memcmp(text, "OK ", 3) == 0;
    for (; digits_ok && i < line; i++) {
        unsigned d = (unsigned)(text[i] - '0');
        if (d > 9 || size > (UINT64_MAX - d) / 10)
            digits_ok = 0;
        else
            size = size * 10 + d;
    }
    if (!digits_ok) {
        char shown[SERVER_MESSAGE_MAX + 1];
        cli_vis(shown, sizeof shown, text, line, 0, NULL);
        fail("malformed reply from %s: '%s' (expected 'OK SIZE' or 'ERR MESSAGE')", o->host,
             shown);
    }
    *extra = have - header_len;
    memmove(buf, buf + header_len, *extra);
    return size;
}

/* Receive the body: exactly size bytes, the first *have of them already
 * in buf.  Returns how many arrived; *why says why it stopped short
 * (NULL at end of stream). */
static uint64_t receive_body(sk_socket_t s, const struct get_options *o, uint64_t size,
                             uint8_t *buf, size_t have, const char **why)
{
    uint64_t got = 0;
    *why = NULL;
    if (have > size)
        fail("server sent more than the %" PRIu64 " bytes it announced", size);
    if (have > 0) {
        output_write(buf, have);
        got = have;
    }
    progress_show(got, size, 1);
    while (got < size) {
        uint64_t left = size - got;
        size_t want = left < BUFFER_SIZE ? (size_t)left : BUFFER_SIZE;
        long n = receive_some(s, buf, want, o->timeout_ms);
        if (n <= 0) {
            if (n == -ETIMEDOUT)
                *why = "no data for the timeout";
            else if (n == -EINTR)
                *why = "interrupted";
            else if (n < 0)
                *why = sk_strerror((int)n);
            break;
        }
        output_write(buf, (size_t)n);
        got += (uint64_t)n;
        progress_show(got, size, got == size);
    }
    return got;
}

/* After the body the server must half-close: the next read is the end
 * of the stream.  Anything else means the header lied. */
static void expect_server_close(sk_socket_t s, const struct get_options *o, uint64_t size,
                                uint8_t *buf)
{
    long n = receive_some(s, buf, 1, o->timeout_ms);
    if (n > 0)
        fail("server sent more than the %" PRIu64 " bytes it announced", size);
    if (n < 0)
        fail("server did not close after the %" PRIu64 " bytes it announced: %s", size,
             n == -ETIMEDOUT ? "timed out" : n == -EINTR ? "interrupted" : sk_strerror((int)n));
}

int cmd_get(int argc, char **argv)
{
    static uint8_t buffer[BUFFER_SIZE];
    struct get_options o;
    parse_options(argc, argv, &o);
    choose_output(&o);

    sk_socket_t s;
    int rc = sk_connect_family(o.host, o.port, o.family, SOCK_STREAM, o.timeout_ms, &s);
    if (rc < 0)
        cli_fail("cannot connect to %s%s%s: %s", o.host, o.port ? " port " : "",
                 o.port ? o.port : "", sk_strerror(rc));
    struct sk_addr peer;
    if (o.verbose && sk_peer_addr(s, &peer) == 0)
        cli_say_peer("connected to", &peer);
    progress.on = o.progress;
    progress.started_ms = sk_now_ms();
    /* From here on a temporary file may exist: catch the stop signals so
     * it is removed (the handlers only set a flag). */
    if ((rc = sk__signal_set_flag(SIGINT, &interrupted)) < 0 ||
        (rc = sk__signal_set_flag(SIGTERM, &interrupted)) < 0)
        fail("cannot catch signals: %s", sk_strerror(rc));
    if ((rc = sk_set_timeouts(s, -1, o.timeout_ms)) < 0)
        fail("cannot set a send timeout: %s", sk_strerror(rc));

    uint64_t start_ms = sk_now_ms();
    size_t name_len = strlen(o.name);
    uint8_t *request = malloc(name_len + 1);
    if (request == NULL)
        fail("out of memory");
    memcpy(request, o.name, name_len);
    request[name_len] = '\n';
    rc = sk_send_all(s, request, name_len + 1);
    free(request);
    if (rc < 0)
        fail("cannot send the name to %s: %s", o.host, sk_strerror(rc));

    size_t extra = 0;
    uint64_t size = read_header(s, &o, buffer, sizeof buffer, &extra);
    output_open();
    const char *why;
    uint64_t got = receive_body(s, &o, size, buffer, extra, &why);
    if (got < size) {
        if (why != NULL)
            fail("transfer of '%s' ended after %" PRIu64 " of %" PRIu64 " bytes: %s", o.name,
                 got, size, why);
        fail("transfer of '%s' ended after %" PRIu64 " of %" PRIu64 " bytes", o.name, got,
             size);
    }
    expect_server_close(s, &o, size, buffer);
    output_commit();
    progress_clear();

    /* The tutorial's last word; the file is already safe, so a server
     * that has gone away by now is only worth a warning. */
    rc = sk_send_all(s, CLOSING_MESSAGE, strlen(CLOSING_MESSAGE));
    if (rc < 0)
        cli_warn("could not send the closing message: %s", sk_strerror(rc));
    sk_close(s);

    double seconds = (double)(sk_now_ms() - start_ms) / 1000.0;
    double rate = seconds > 0 ? (double)size / 1e6 / seconds : 0.0;
    if (!o.quiet)
        fprintf(stderr, "%s: received %s: %" PRIu64 " bytes in %.3f s (%.1f MB/s)\n",
                cli_prog, o.name, size, seconds, rate);
    return 0;
}
