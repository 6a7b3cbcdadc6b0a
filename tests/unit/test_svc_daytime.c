/* daytime (RFC 867): one line "Weekday, Month Day, Year HH:MM:SS-UTC\r\n". */
#include "fake_session.h"
#include "unit.h"

#include <time.h>

extern const struct sk_service sk_service_daytime;

/* 1 if text (len bytes) is a daytime line for a time in [before, after]. */
static int is_daytime_line(const unsigned char *text, size_t len, time_t before, time_t after)
{
    char line[128];
    if (len < 8 || len >= sizeof line)
        return 0;
    memcpy(line, text, len);
    line[len] = '\0';
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_wday = -1;
    const char *rest = strptime(line, "%A, %B %d, %Y %H:%M:%S", &tm);
    if (rest == NULL || strcmp(rest, "-UTC\r\n") != 0)
        return 0;
    int weekday = tm.tm_wday;
    time_t t = timegm(&tm); /* normalises tm, recomputing the weekday */
    if (t < before || t > after || weekday != tm.tm_wday)
        return 0;
    /* The day of the month has no leading zero or space. */
    const char *comma = strchr(line, ',');
    const char *space = comma ? strchr(comma + 2, ' ') : NULL;
    return space != NULL && space[1] >= '1' && space[1] <= '9';
}

TEST(daytime_sends_one_utc_line_then_closes)
{
    struct fake_session f;
    time_t before = time(NULL);
    fake_open(&f, &sk_service_daytime, NULL, 128);
    time_t after = time(NULL);
    CHECK(is_daytime_line(f.all, f.all_len, before, after));
    CHECK(f.session.flags & SK_SESSION_CLOSE);
    fake_close(&f);
}

TEST(daytime_finishes_the_line_through_a_tiny_output)
{
    struct fake_session f;
    time_t before = time(NULL);
    fake_open(&f, &sk_service_daytime, NULL, 3);
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
    CHECK_INT(sk_instance_open(&inst, &sk_service_daytime, NULL, NULL), 0);
    time_t before = time(NULL);
    size_t n = sk_service_daytime.on_datagram(&inst, (const uint8_t *)"", 0, out, sizeof out);
    time_t after = time(NULL);
    CHECK(n > 0);
    CHECK(is_daytime_line(out, n, before, after));
    /* A buffer too small for the line gets no reply, not half of one. */
    CHECK_INT(sk_service_daytime.on_datagram(&inst, (const uint8_t *)"x", 1, out, 10), 0);
    sk_instance_close(&inst);
}
