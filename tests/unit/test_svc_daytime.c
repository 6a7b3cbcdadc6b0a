/* SPDX-License-Identifier: BSD-2-Clause */
/* daytime (RFC 867): one line "Weekday, Month Day, Year HH:MM:SS-UTC\r\n". */
#include "fake_session.h"
#include "unit.h"

#include <time.h>

extern const struct sk_service sk__service_daytime;

/* strptime() and timegm() are not in every C library (mingw-w64 has
 * neither), so the line is parsed here, by the same rules on every system. */

static const char *const weekdays[] = { "Sunday", "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday" };
static const char *const months[] = { "January", "February", "March", "April",
                                      "May", "June", "July", "August",
                                      "September", "October", "November", "December" };

/* The index of the name *p starts with, advancing *p past it; or -1. */
static int parse_name(const char **p, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (strncmp(*p, names[i], len) == 0) {
            *p += len;
            return i;
        }
    }
    return -1;
}

/* 1 to max_digits decimal digits, advancing *p; -1 when there are none. */
static long parse_number(const char **p, int max_digits)
{
    long v = 0;
    int digits = 0;
    while (digits < max_digits && **p >= '0' && **p <= '9') {
        v = v * 10 + (**p - '0');
        (*p)++;
        digits++;
    }
    return digits ? v : -1;
}

static int expect(const char **p, const char *text)
{
    size_t len = strlen(text);
    if (strncmp(*p, text, len) != 0)
        return 0;
    *p += len;
    return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* 1 if text (len bytes) is a daytime line for a time in [before, after]. */
static int is_daytime_line(const unsigned char *text, size_t len, time_t before, time_t after)
{
    char line[128];
    if (len < 8 || len >= sizeof line)
        return 0;
    memcpy(line, text, len);
    line[len] = '\0';
    const char *p = line;
    int weekday = parse_name(&p, weekdays, 7);
    if (weekday < 0 || !expect(&p, ", "))
        return 0;
    int month = parse_name(&p, months, 12);
    if (month < 0 || !expect(&p, " "))
        return 0;
    /* The day of the month has no leading zero or space. */
    if (*p < '1' || *p > '9')
        return 0;
    long day = parse_number(&p, 2);
    if (day < 1 || day > 31 || !expect(&p, ", "))
        return 0;
    long year = parse_number(&p, 4);
    if (year < 1970 || !expect(&p, " "))
        return 0;
    long hh = parse_number(&p, 2), mm, ss;
    if (hh < 0 || hh > 23 || !expect(&p, ":") || (mm = parse_number(&p, 2)) < 0 || mm > 59 ||
        !expect(&p, ":") || (ss = parse_number(&p, 2)) < 0 || ss > 60)
        return 0;
    if (strcmp(p, "-UTC\r\n") != 0)
        return 0;
    long long days = days_from_civil(year, month + 1, (int)day);
    long long next_month = month == 11 ? days_from_civil(year + 1, 1, 1)
                                       : days_from_civil(year, month + 2, 1);
    if (days >= next_month) /* no February 30th */
        return 0;
    long long t = days * 86400 + hh * 3600 + mm * 60 + ss;
    /* 1970-01-01 was a Thursday; the weekday must match the date. */
    if (weekday != (int)(((days % 7) + 7 + 4) % 7))
        return 0;
    return t >= (long long)before && t <= (long long)after;
}

TEST(daytime_sends_one_utc_line_then_closes)
{
    struct fake_session f;
    time_t before = time(NULL);
    fake_open(&f, &sk__service_daytime, NULL, 128);
    time_t after = time(NULL);
    CHECK(is_daytime_line(f.all, f.all_len, before, after));
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    fake_close(&f);
}

TEST(daytime_finishes_the_line_through_a_tiny_output)
{
    struct fake_session f;
    time_t before = time(NULL);
    fake_open(&f, &sk__service_daytime, NULL, 3);
    time_t after = time(NULL);
    CHECK_INT(f.all_len, 3);
    CHECK(!(f.session.flags & SK_SESSION_CLOSE));
    static const char noise[] = "ignored\n";
    for (size_t i = 0; i < sizeof noise - 1; i++)
        CHECK_INT(fake_feed(&f, noise + i, 1), 1);
    fake_take(&f);
    fake_pump(&f, 1000);
    CHECK(is_daytime_line(f.all, f.all_len, before, after));
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    fake_close(&f);
}

TEST(daytime_udp_answers_even_an_empty_datagram)
{
    unsigned char out[128];
    struct sk_instance inst;
    CHECK_INT(sk__instance_open(&inst, &sk__service_daytime, NULL, NULL), 0);
    time_t before = time(NULL);
    size_t n = sk__service_daytime.on_datagram(&inst, (const uint8_t *)"", 0, out, sizeof out);
    time_t after = time(NULL);
    CHECK(n > 0);
    CHECK(is_daytime_line(out, n, before, after));
    /* A buffer too small for the line gets no reply, not half of one. */
    CHECK_INT(sk__service_daytime.on_datagram(&inst, (const uint8_t *)"x", 1, out, 10), 0);
    sk__instance_close(&inst);
}
