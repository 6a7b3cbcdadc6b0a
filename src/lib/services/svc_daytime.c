/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * svc_daytime.c - daytime (RFC 867): the date and time as one line.
 *
 * The RFC leaves the format open and suggests "Weekday, Month Day, Year
 * Time-Zone"; sockit sends
 *
 *     Saturday, November 21, 2026 14:09:00-UTC\r\n
 *
 * always in UTC, with English names from its own tables rather than
 * strftime's %A/%B, so the line does not change with the server's time
 * zone or locale.  Over TCP the line is queued on connect and the
 * session closes; over UDP it is the reply to any datagram, empty ones
 * included (the RFC's small fixed answer, allowed to exceed its request).
 */
#include "sk_service.h"

#include <stdio.h>
#include <time.h>

/* "Wednesday, September 30, 2026 23:59:59-UTC\r\n" is 44 bytes. */
#define DAYTIME_MAX 64

struct daytime_session {
    char line[DAYTIME_MAX];
    size_t len, sent;
};

/* Format the current time; returns the length, or 0 if the clock or the
 * calendar conversion failed. */
static size_t daytime_format(char *buf, size_t cap)
{
    static const char *const weekdays[] = {
        "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"
    };
    static const char *const months[] = {
        "January", "February", "March", "April", "May", "June", "July",
        "August", "September", "October", "November", "December"
    };
    time_t now = time(NULL);
    struct tm tm;
    if (now == (time_t)-1 || sk__gmtime(now, &tm) != 0)
        return 0;
    if (tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11)
        return 0;
    int n = snprintf(buf, cap, "%s, %s %d, %d %02d:%02d:%02d-UTC\r\n",
                     weekdays[tm.tm_wday], months[tm.tm_mon], tm.tm_mday,
                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}

/* Queue what fits of the line; close once all of it is queued. */
static void daytime_push(struct sk_session *s)
{
    struct daytime_session *d = sk_session_state(s);
    d->sent += sk_session_write(s, d->line + d->sent, d->len - d->sent);
    if (d->sent == d->len) {
        sk_session_want_writable(s, 0);
        sk_session_close(s);
    } else {
        sk_session_want_writable(s, 1);
    }
}

static void daytime_open(struct sk_session *s)
{
    struct daytime_session *d = sk_session_state(s);
    d->len = daytime_format(d->line, sizeof d->line);
    if (d->len == 0)
        sk_session_log(s, SK_LOG_ERROR, "cannot read the clock");
    daytime_push(s); /* an empty line just closes */
}

static size_t daytime_data(struct sk_session *s, const uint8_t *data, size_t len)
{
    (void)s;
    (void)data;
    return len; /* the request, if any, does not matter */
}

static size_t daytime_datagram(struct sk_instance *inst, const uint8_t *in, size_t len,
                               uint8_t *out, size_t cap)
{
    (void)inst;
    (void)in;
    (void)len;
    char line[DAYTIME_MAX];
    size_t n = daytime_format(line, sizeof line);
    if (n == 0 || n > cap)
        return 0; /* no reply rather than half a line */
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)line[i];
    return n;
}

const struct sk_service sk__service_daytime = {
    .name = "daytime",
    .summary = "RFC 867: sends the date and time (UTC) as one line",
    .flags = SK_SERVICE_TCP | SK_SERVICE_UDP,
    .session_size = sizeof(struct daytime_session),
    .on_open = daytime_open,
    .on_data = daytime_data,
    .on_writable = daytime_push,
    .on_eof = sk_session_eof_finish_answer,
    .on_datagram = daytime_datagram,
};
