/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * svc_file.c - the tutorials' half-close file transfer, made safe.
 *
 * Protocol (TCP only):
 *   client: NAME "\n"              (an optional "\r" before the "\n";
 *                                   NAME at most 1024 bytes)
 *   server: "OK " SIZE "\n" and exactly SIZE bytes,  or  "ERR " MESSAGE "\n"
 *   server: half-close (FIN) - "that is all"
 *   client: a closing message ("Thank you"), then FIN
 * The server logs the closing message and closes on the client's FIN.
 *
 * Why it is written this way:
 *
 * - The kernel guards the root.  The root directory is opened once per
 *   server (O_PATH) and every name is opened beneath it with Linux's
 *   openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), which refuses
 *   "..", absolute symlinks and any symlink whose target leaves the root,
 *   at every step of the lookup and without a window between "check" and
 *   "open".  A lexical check runs first anyway, so the obvious attacks
 *   ("../x", "/etc/passwd", NUL, backslash) get a precise message and a
 *   warning even where the kernel would also have refused them.  On a
 *   kernel without openat2 (ENOSYS, Linux < 5.6) the name is walked one
 *   component at a time with O_NOFOLLOW, and every symlink is refused.
 *
 * - Symlinks inside the root that stay inside the root ARE served: the
 *   kernel resolves them beneath the root, so they cannot be used to
 *   escape, and operators use them for aliases ("latest" -> "v1.2.tar").
 *   The openat2-less fallback is stricter and refuses them.
 *
 * - Only regular files are served.  The file is opened with O_NONBLOCK
 *   so a FIFO cannot block the server in open(), then fstat() decides;
 *   directories, FIFOs, sockets and devices get "ERR not a regular file".
 *
 * - The file is streamed, never loaded.  With --sendfile, and where the
 *   model can, the body goes with sendfile() straight from the page cache
 *   to the socket (sk_session_send_file).  It is not the default because
 *   on loopback it measured slower than copying (BENCHMARKS.md: on Linux
 *   6.18 the receiver pays for the page-sized pieces it gets); on a real
 *   network card it saves the sender a copy.  Otherwise, or when the model
 *   cannot (uring, iocp), on_writable pread()s at most
 *   min(room, 64 KiB) into a stack buffer and writes it.  Reading by
 *   offset means nothing unsent is ever kept, so the session state is a
 *   fixed size and an event-loop model with a small output buffer works
 *   the same as a blocking one.  The size promised in the header is the
 *   size at open; if the file shrinks meanwhile, the session is aborted so
 *   the client sees a short transfer instead of waiting for ever.
 *
 * - The name line has a deadline: it must be complete within
 *   REQUEST_DEADLINE_MS (10 s), or within --idle-timeout if that is
 *   shorter, from the moment the connection opens, however the bytes
 *   trickle in.  The idle timeout alone would let a slow-loris client
 *   hold a session for ever with one byte a second; an honest client
 *   sends its one short line at once.  The model enforces it
 *   (sk_session_set_deadline); it ends once the line is in.
 *
 * - In single-file mode (`sockit serve file FILE`) the name the client
 *   sends is never used to find anything, so any well-formed name gets
 *   the file; only the line's shape (its length) is checked.
 *
 * Needs: Linux >= 5.6 for openat2 (older kernels get the walk).  On other
 * systems O_PATH falls back to a plain read-only directory descriptor and
 * the walk is always used.  On Windows the root is held open and each name
 * (which may not hold ':' either: drives, streams) is opened beneath it
 * following junctions and links as Windows does; then the file's final
 * path (GetFinalPathNameByHandle) must lie inside the root's, or the file
 * is refused as leaving the root.  Devices ("NUL", "CON") and
 * directories are not regular files.  Both systems' ways are one compat
 * call, sk__file_open_beneath() (compat_posix_file.c, compat_win_file.c).
 */
#include "sk_service.h"
#include "sk_error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_BYTES 1024      /* longest file name a client may send */
#define CHUNK_MAX (64 * 1024)    /* largest piece read and written at once */
#define WRITABLE_BUDGET (1 << 20) /* bytes per on_writable call, for fairness */
#define CLOSING_LOG_MAX 200      /* bytes of the closing message logged */
#define LOGGED_NAME_MAX 200      /* bytes of a file name quoted in logs */
#define HEADER_MAX 96
#define REQUEST_DEADLINE_MS 10000 /* the whole name line, at most */

struct file_instance {
    struct sk__file_root root; /* --root; root.fd -1 in single-file mode */
};

enum input_phase {
    INPUT_NAME,         /* collecting the name line */
    INPUT_SKIP_NAME,    /* the name was too long: discard up to its "\n" */
    INPUT_CLOSING,      /* everything else is the closing message */
};

struct file_session {
    enum input_phase input;
    int fd;                 /* the file being sent, or -1 */
    int replying;           /* header and/or body still to send */
    int peer_eof;           /* the client half-closed */
    int64_t size, sent;     /* body: promised and sent so far */
    int copy_only;          /* the model cannot sendfile: read and write */
    char header[HEADER_MAX];
    size_t header_len, header_sent;
    size_t name_len;
    char name[NAME_MAX_BYTES + 2]; /* + an optional '\r' + NUL */
    char closing[CLOSING_LOG_MAX];
    size_t closing_len;
    uint64_t closing_total;
    int closing_logged;
};

/* ---- logging helpers ------------------------------------------------- */

/* Quote up to max bytes of data for a log line: printable ASCII as is,
 * everything else as \n, \r, \t, \\, \" or \xHH, and "..." when cut. */
static void escape_for_log(const void *data, size_t len, size_t max, char *out,
                           size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    size_t o = 0, n = len < max ? len : max;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = p[i];
        if (c == '\n' || c == '\r' || c == '\t' || c == '\\' || c == '"') {
            out[o++] = '\\';
            out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xf];
        } else {
            out[o++] = (char)c;
        }
    }
    if (n < len && o + 4 <= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

#define ESCAPED_CAP(max) ((max) * 4 + 8)

static void log_closing_message(struct sk_session *s, struct file_session *fs)
{
    if (fs->closing_logged)
        return;
    fs->closing_logged = 1;
    if (fs->closing_total == 0) {
        sk_session_log(s, SK_LOG_INFO, "no closing message");
        return;
    }
    /* The message is a line: its own line ending is not worth quoting. */
    size_t len = fs->closing_len;
    if (fs->closing_total == len && len > 0 && fs->closing[len - 1] == '\n') {
        len--;
        if (len > 0 && fs->closing[len - 1] == '\r')
            len--;
    }
    char quoted[ESCAPED_CAP(CLOSING_LOG_MAX)];
    escape_for_log(fs->closing, len, CLOSING_LOG_MAX, quoted, sizeof quoted);
    if (fs->closing_total > fs->closing_len)
        sk_session_log(s, SK_LOG_INFO, "closing message: \"%s...\" (%" PRIu64 " bytes)",
                       quoted, fs->closing_total);
    else
        sk_session_log(s, SK_LOG_INFO, "closing message: \"%s\"", quoted);
}

/* ---- the reply ------------------------------------------------------- */

static void set_header(struct file_session *fs, const char *text)
{
    size_t len = strlen(text);
    if (len > sizeof fs->header)
        len = sizeof fs->header;
    memcpy(fs->header, text, len);
    fs->header_len = len;
    fs->header_sent = 0;
    fs->replying = 1;
}

/* Answer ERR MESSAGE; a refusal (an attempt to leave the root, or to read
 * what is not a file) is also a warning that names the peer. */
static void reply_error(struct sk_session *s, struct file_session *fs, int warn,
                        const char *message)
{
    char line[HEADER_MAX], quoted[ESCAPED_CAP(LOGGED_NAME_MAX)];
    snprintf(line, sizeof line, "ERR %s\n", message);
    set_header(fs, line);
    escape_for_log(fs->name, fs->name_len, LOGGED_NAME_MAX, quoted, sizeof quoted);
    sk_session_log(s, warn ? SK_LOG_WARN : SK_LOG_INFO, "refused \"%s\": %s", quoted,
                   message);
    sk_session_want_writable(s, 1);
}

/* The reply is out: half-close, and close too if the client already has. */
static void finish_reply(struct sk_session *s, struct file_session *fs)
{
    if (fs->fd >= 0) {
        sk__fd_close(fs->fd);
        fs->fd = -1;
    }
    fs->replying = 0;
    sk_session_want_writable(s, 0);
    sk_session_shutdown(s);
    if (fs->peer_eof)
        sk_session_close(s);
}

/* ---- finding the file ------------------------------------------------ */

/* Why a name may not be looked up at all, or NULL.  The kernel would stop
 * most of these too; checking first gives the client a precise answer. */
static const char *lexical_refusal(const char *name, size_t len)
{
    if (len == 0)
        return "path refused: empty name";
    if (memchr(name, '\0', len) != NULL)
        return "path refused: NUL byte in name";
    if (name[0] == '/')
        return "path refused: absolute path";
    if (memchr(name, '\\', len) != NULL)
        return "path refused: backslash in name";
    /* Windows: "C:x" is relative to a drive's current directory, "x:y"
     * names an alternate data stream: neither is a file beneath the root. */
    if (SK_PATH_COLON_SPECIAL && memchr(name, ':', len) != NULL)
        return "path refused: drive or stream name";
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && name[end] != '/')
            end++;
        if (end - i == 2 && name[i] == '.' && name[i + 1] == '.')
            return "path refused: '..' component";
        i = end + 1;
    }
    return NULL;
}

static int open_beneath(const struct file_instance *fi, const char *name)
{
    return sk__file_open_beneath(&fi->root, name);
}

/* What to tell the client when open failed with -errno rc.  *warn is set
 * for attempts that look like trouble rather than a typo, *unexpected for
 * failures the server's operator should see the reason for. */
static const char *open_error_message(int rc, int *warn, int *unexpected)
{
    *warn = 0;
    *unexpected = 0;
    switch (-rc) {
    case ENOENT:
    case ENOTDIR:
        return "no such file";
    case EXDEV:
        *warn = 1;
        return "path refused: leaves the root";
    case ELOOP:
        *warn = 1;
        return "path refused: symbolic link";
    case EACCES:
    case EPERM:
        *warn = 1;
        return "permission denied";
    case ENAMETOOLONG:
        return "name too long";
    case ENXIO:
    case ENODEV:
    case EISDIR:
        *warn = 1;
        return "not a regular file";
    default:
        *warn = 1;
        *unexpected = 1;
        return "cannot open file";
    }
}

/* The name line is complete: find the file and queue the header. */
static void start_reply(struct sk_session *s, struct file_session *fs)
{
    const struct sk_instance *inst = sk_session_instance(s);
    const struct file_instance *fi = inst->state;
    int fd;

    if (fi->root.fd < 0) {
        fd = sk__file_open_read(inst->config->single_file);
    } else {
        const char *why = lexical_refusal(fs->name, fs->name_len);
        if (why != NULL) {
            reply_error(s, fs, 1, why);
            return;
        }
        fd = open_beneath(fi, fs->name);
    }
    if (fd < 0) {
        int warn, unexpected;
        const char *message = open_error_message(fd, &warn, &unexpected);
        if (unexpected)
            sk_session_log(s, SK_LOG_WARN, "open failed: %s", sk_strerror(fd));
        reply_error(s, fs, warn, message);
        return;
    }
    int64_t size = 0;
    int kind = sk__file_kind(fd, &size);
    if (kind < 0) {
        sk__fd_close(fd);
        sk_session_log(s, SK_LOG_WARN, "fstat failed: %s", sk_strerror(kind));
        reply_error(s, fs, 1, "cannot open file");
        return;
    }
    if (kind != SK_FILE_REGULAR) {
        sk__fd_close(fd);
        reply_error(s, fs, 1, "not a regular file");
        return;
    }
    /* O_NONBLOCK has no effect on reads of a regular file, so it stays. */
    char line[HEADER_MAX];
    snprintf(line, sizeof line, "OK %jd\n", (intmax_t)size);
    set_header(fs, line);
    fs->fd = fd;
    fs->size = size;
    fs->copy_only = !inst->config->sendfile;
    fs->sent = 0;
    sk_session_want_writable(s, 1);
}

/* ---- session callbacks ----------------------------------------------- */

static void file_open(struct sk_session *s)
{
    struct file_session *fs = sk_session_state(s);
    int idle_ms = sk_session_instance(s)->config->idle_timeout_ms;
    fs->fd = -1;
    fs->input = INPUT_NAME;
    sk_session_set_deadline(s, idle_ms > 0 && idle_ms < REQUEST_DEADLINE_MS
                                   ? idle_ms : REQUEST_DEADLINE_MS);
}

/* Take name bytes; returns how many of data were used.  Once the line is
 * complete (or proves too long) the reply starts. */
static size_t take_name(struct sk_session *s, struct file_session *fs,
                        const uint8_t *data, size_t len)
{
    const uint8_t *nl = memchr(data, '\n', len);
    size_t line = nl ? (size_t)(nl - data) : len;
    size_t room = sizeof fs->name - 1 - fs->name_len;
    if (nl != NULL || line > room)
        sk_session_set_deadline(s, 0); /* the request is in (or refused) */
    if (line > room) {
        /* More than NAME_MAX_BYTES and a '\r': no valid name is this long. */
        memcpy(fs->name + fs->name_len, data, room);
        fs->name_len += room;
        fs->input = INPUT_SKIP_NAME;
        reply_error(s, fs, 0, "name too long");
        return room;
    }
    memcpy(fs->name + fs->name_len, data, line);
    fs->name_len += line;
    if (nl == NULL)
        return len;
    if (fs->name_len > 0 && fs->name[fs->name_len - 1] == '\r')
        fs->name_len--;
    fs->name[fs->name_len] = '\0';
    fs->input = INPUT_CLOSING;
    if (fs->name_len > NAME_MAX_BYTES)
        reply_error(s, fs, 0, "name too long");
    else
        start_reply(s, fs);
    return line + 1;
}

static size_t file_data(struct sk_session *s, const uint8_t *data, size_t len)
{
    struct file_session *fs = sk_session_state(s);
    size_t used = 0;

    while (used < len) {
        const uint8_t *p = data + used;
        size_t left = len - used;
        switch (fs->input) {
        case INPUT_NAME:
            used += take_name(s, fs, p, left);
            break;
        case INPUT_SKIP_NAME: {
            const uint8_t *nl = memchr(p, '\n', left);
            if (nl == NULL)
                return len;
            fs->input = INPUT_CLOSING;
            used += (size_t)(nl - p) + 1;
            break;
        }
        case INPUT_CLOSING: {
            /* Keep the first bytes for the log; count, and drop, the rest. */
            size_t keep = sizeof fs->closing - fs->closing_len;
            if (keep > left)
                keep = left;
            memcpy(fs->closing + fs->closing_len, p, keep);
            fs->closing_len += keep;
            fs->closing_total += left;
            return len;
        }
        }
    }
    return used;
}

/* The file shrank (read_error 0) or could not be read while its body was
 * being sent: the promised size can no longer be met, so the session is
 * aborted and the client sees a short transfer, not a wait for ever. */
static void abort_body(struct sk_session *s, struct file_session *fs, int read_error)
{
    char quoted[ESCAPED_CAP(LOGGED_NAME_MAX)];
    escape_for_log(fs->name, fs->name_len, LOGGED_NAME_MAX, quoted, sizeof quoted);
    if (read_error == 0)
        sk_session_log(s, SK_LOG_WARN,
                       "\"%s\" shrank to %jd of %jd bytes while being sent; aborting",
                       quoted, (intmax_t)fs->sent, (intmax_t)fs->size);
    else
        sk_session_log(s, SK_LOG_WARN, "reading \"%s\" failed: %s; aborting", quoted,
                       sk_strerror(read_error));
    sk__fd_close(fs->fd);
    fs->fd = -1;
    fs->replying = 0;
    sk_session_want_writable(s, 0);
    sk_session_abort(s);
}

static void file_writable(struct sk_session *s)
{
    struct file_session *fs = sk_session_state(s);
    size_t budget = WRITABLE_BUDGET;

    if (!fs->replying) {
        sk_session_want_writable(s, 0);
        return;
    }
    while (fs->header_sent < fs->header_len) {
        size_t room = sk_session_room(s);
        if (room == 0)
            return;
        size_t n = fs->header_len - fs->header_sent;
        n = sk_session_write(s, fs->header + fs->header_sent, n < room ? n : room);
        if (n == 0)
            return; /* the session failed; the model ends it */
        fs->header_sent += n;
    }
    while (fs->fd >= 0 && fs->sent < fs->size && budget > 0) {
        size_t want = budget;
        if ((int64_t)want > fs->size - fs->sent)
            want = (size_t)(fs->size - fs->sent);
        if (!fs->copy_only) {
            /* Straight from the page cache to the socket where the model
             * can (sendfile); its bytes count like written ones. */
            long n = sk_session_send_file(s, fs->fd, fs->sent, want);
            if (n > 0) {
                fs->sent += n;
                budget -= (size_t)n;
                continue;
            }
            if (n == SK_EUNSUPPORTED) {
                fs->copy_only = 1;
                continue;
            }
            if (n == SK_ESHORT)
                abort_body(s, fs, 0);
            return; /* 0: no room yet; otherwise the session failed */
        }
        size_t room = sk_session_room(s);
        if (room == 0)
            return;
        uint8_t chunk[CHUNK_MAX];
        if (want > CHUNK_MAX)
            want = CHUNK_MAX;
        if (want > room)
            want = room;
        long got = sk__file_read_at(fs->fd, chunk, want, fs->sent);
        if (got <= 0) {
            abort_body(s, fs, got < 0 ? (int)got : 0);
            return;
        }
        size_t put = sk_session_write(s, chunk, (size_t)got);
        if (put == 0)
            return; /* the session failed; the model ends it */
        /* Bytes the output did not take are simply read again next time. */
        fs->sent += (int64_t)put;
        budget = put < budget ? budget - put : 0;
    }
    if (fs->fd >= 0 && fs->sent < fs->size)
        return; /* budget spent: the model calls again */
    if (fs->fd >= 0) {
        /* In single-file mode the asked-for name means nothing: log the file. */
        const struct sk_instance *inst = sk_session_instance(s);
        const struct file_instance *fi = inst->state;
        const char *name = fi->root.fd >= 0 ? fs->name : inst->config->single_file;
        char quoted[ESCAPED_CAP(LOGGED_NAME_MAX)];
        escape_for_log(name, strlen(name), LOGGED_NAME_MAX, quoted, sizeof quoted);
        sk_session_log(s, SK_LOG_INFO, "sent \"%s\" (%jd bytes)", quoted, (intmax_t)fs->size);
    }
    finish_reply(s, fs);
}

static void file_eof(struct sk_session *s)
{
    struct file_session *fs = sk_session_state(s);
    fs->peer_eof = 1;
    if (fs->input == INPUT_NAME) {
        if (fs->name_len > 0)
            sk_session_log(s, SK_LOG_WARN, "closed before ending the file name with a newline");
        sk_session_close(s);
        return;
    }
    log_closing_message(s, fs);
    /* A client may half-close right after the name (nc -N) and still
     * want the file: the reply then ends with finish_reply's close. */
    if (!fs->replying)
        sk_session_close(s);
}

static void file_close(struct sk_session *s)
{
    struct file_session *fs = sk_session_state(s);
    if (fs->fd >= 0) {
        sk__fd_close(fs->fd);
        fs->fd = -1;
    }
    if (fs->closing_total > 0)
        log_closing_message(s, fs);
}

/* ---- per server ------------------------------------------------------ */

static int file_instance_open(struct sk_instance *inst)
{
    const struct sk_service_config *cfg = inst->config;
    struct file_instance *fi = calloc(1, sizeof *fi);
    if (fi == NULL)
        return -ENOMEM;
    fi->root.fd = -1;
    if (cfg == NULL || (cfg->root == NULL) == (cfg->single_file == NULL)) {
        sk_log(inst->logger, SK_LOG_ERROR, "file service needs a root directory or one file");
        free(fi);
        return SK_EPATH;
    }
    if (cfg->root != NULL) {
        int rc = sk__file_root_open(cfg->root, &fi->root);
        if (rc < 0) {
            sk_log(inst->logger, SK_LOG_ERROR, "cannot open root '%s': %s", cfg->root,
                   sk_strerror(rc));
            free(fi);
            return rc;
        }
        if (!fi->root.follows_links)
            sk_log(inst->logger, SK_LOG_INFO,
                   "openat2 unavailable (Linux >= 5.6): refusing every symlink under the root");
    }
    inst->state = fi;
    return 0;
}

static void file_instance_close(struct sk_instance *inst)
{
    struct file_instance *fi = inst->state;
    if (fi == NULL)
        return;
    if (fi->root.fd >= 0)
        sk__file_root_close(&fi->root);
    free(fi);
}

const struct sk_service sk__service_file = {
    .name = "file",
    .summary = "sends a named file, half-closes, logs the client's closing message",
    .flags = SK_SERVICE_TCP,
    .session_size = sizeof(struct file_session),
    .instance_open = file_instance_open,
    .instance_close = file_instance_close,
    .on_open = file_open,
    .on_data = file_data,
    .on_writable = file_writable,
    .on_eof = file_eof,
    .on_close = file_close,
};
