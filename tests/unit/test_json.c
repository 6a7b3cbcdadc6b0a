/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The command's built-in JSON writer and reader (src/cmd/cli_json_builtin.c,
 * which the Windows build links in place of json-c): strict RFC 8259
 * reading, exact counts, the text written back.  The cases are the ones
 * json-c's strict tokener decides the same way (cli_json_jsonc.c), so
 * both halves of cli_json.h agree on what sockit writes and reads.
 *
 * The unit tests do not link the command, so the file is included here,
 * with the one cli.c function it calls.
 */
#include "../../src/cmd/cli_json_builtin.c"

#include "unit.h"

#include <stdarg.h>
#include <stdlib.h>

void cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    abort();
}

/* v written compactly, into buf. */
static const char *written(const struct cli_json *v, unsigned flags, char *buf, size_t cap)
{
    FILE *f = tmpfile();
    if (f == NULL)
        return "(no tmpfile)";
    cli_json_write(f, v, flags);
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    return buf;
}

static struct cli_json *parse_all(const char *text, size_t *used)
{
    size_t error_at;
    char why[128];
    return cli_json_parse(text, strlen(text), used, &error_at, why, sizeof why);
}

TEST(json_valid_texts_read_and_write_back)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "{}", "{}" },
        { "[]", "[]" },
        { " \t\r\n{ \"a\" : 1 , \"b\" : [ true , false , null ] }\n ", "{\"a\":1,\"b\":[true,false,null]}" },
        { "{\"b\":2,\"a\":1}", "{\"b\":2,\"a\":1}" },
        { "{\"a\":1,\"a\":2}", "{\"a\":2}" },
        { "-0", "-0" },
        { "1.5e+3", "1.5e+3" },
        { "-12.25E-2", "-12.25E-2" },
        { "18446744073709551615", "18446744073709551615" },
        { "\"\\u0041\\n\\t\\\"\\\\\\/\"", "\"A\\n\\t\\\"\\\\/\"" },
        { "\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"" },
        { "\"\\ud800\"", "\"\xef\xbf\xbd\"" },
        { "\"caf\xc3\xa9\"", "\"caf\xc3\xa9\"" },
        { "\"\\u0001\"", "\"\\u0001\"" },
        { "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", NULL },
    };
    char buf[256];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t used;
        struct cli_json *v = parse_all(cases[i].in, &used);
        if (used != strlen(cases[i].in)) {
            unit_fail(__FILE__, __LINE__, "'%s' used %zu of %zu bytes", cases[i].in, used,
                      strlen(cases[i].in));
        } else if (cases[i].out != NULL) {
            CHECK_STR(written(v, 0, buf, sizeof buf), cases[i].out);
        }
        cli_json_free(v);
    }
}

TEST(json_invalid_texts_are_refused)
{
    static const char *const cases[] = {
        "", "   ", "{", "}", "[1,]", "{\"a\":1,}", "{'a':1}", "{\"a\" 1}", "{a:1}",
        "NaN", "Infinity", "-", "01", "1.", ".5", "+1", "1e", "1e+", "0x10", "tru", "nul",
        "\"abc", "\"a\tb\"", "\"\\x41\"", "\"\\u12\"", "\"\xff\"", "\"\xc0\x80\"",
        "\"\xed\xa0\x80\"", "[1 2]", "{\"a\":1}/**/", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t used, error_at;
        char why[128] = "";
        struct cli_json *v = cli_json_parse(cases[i], strlen(cases[i]), &used, &error_at, why,
                                            sizeof why);
        /* A complete value followed by a comment is a value followed by
         * something else: the caller sees used < length and refuses what
         * follows as the next value. */
        if (used > 0 && used < strlen(cases[i])) {
            size_t rest_used;
            struct cli_json *rest = parse_all(cases[i] + used, &rest_used);
            if (rest_used != 0)
                unit_fail(__FILE__, __LINE__, "'%s' read as two values", cases[i]);
            cli_json_free(rest);
            cli_json_free(v);
            continue;
        }
        if (used != 0 || v != NULL || why[0] == '\0')
            unit_fail(__FILE__, __LINE__, "'%s' was accepted (used %zu)", cases[i], used);
        CHECK(error_at <= strlen(cases[i]));
    }
}

TEST(json_values_follow_one_another)
{
    const char *text = "{\"type\":\"interval\"}\n{\"type\":\"final\",\"n\":3}\n";
    size_t len = strlen(text), at = 0, used;
    int n = 0;
    while (at < len) {
        struct cli_json *v = parse_all(text + at, &used);
        CHECK(used > 0);
        if (used == 0)
            break;
        at += used;
        n++;
        if (n == 2)
            CHECK_STR(cli_json_text(cli_json_get(v, "type")), "final");
        cli_json_free(v);
    }
    CHECK_INT(n, 2);
    CHECK_INT(at, len);
}

TEST(json_counts_are_exact_and_checked)
{
    static const struct {
        const char *in;
        int ok;
        uint64_t want;
    } cases[] = {
        { "0", 1, 0 }, { "-0", 1, 0 }, { "42", 1, 42 }, { "1e3", 1, 1000 }, { "2.0", 1, 2 },
        { "18446744073709551615", 1, UINT64_MAX }, { "9007199254740993", 1, 9007199254740993u },
        { "-1", 0, 0 }, { "1.5", 0, 0 }, { "1e400", 0, 0 }, { "\"3\"", 0, 0 }, { "true", 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t used;
        struct cli_json *v = parse_all(cases[i].in, &used);
        uint64_t got = 0;
        int rc = cli_json_count(v, &got);
        if ((rc == 0) != cases[i].ok || (rc == 0 && got != cases[i].want))
            unit_fail(__FILE__, __LINE__, "count of '%s': rc %d, %llu", cases[i].in, rc,
                      (unsigned long long)got);
        cli_json_free(v);
    }
    double d = 0;
    struct cli_json *v = parse_all("-2.5", &(size_t){ 0 });
    CHECK(cli_json_double(v, &d) == 0 && d == -2.5);
    cli_json_free(v);
}

TEST(json_built_values_are_written_as_asked)
{
    char buf[512];
    struct cli_json *o = cli_json_object(), *a = cli_json_array();
    cli_json_add(o, "name", cli_json_string("a \"quoted\"\n\x01 caf\xc3\xa9"));
    cli_json_add(o, "port", cli_json_int(7));
    cli_json_add(o, "big", cli_json_uint(UINT64_MAX));
    cli_json_add(o, "rate", cli_json_fixed(0.1, 1));
    cli_json_add(o, "tiny", cli_json_fixed(-0.0001, 1));
    cli_json_add(o, "nan", cli_json_fixed(0.0 / 0.0, 1));
    cli_json_add(o, "none", cli_json_string(NULL));
    cli_json_add(a, NULL, cli_json_bool(1));
    cli_json_add(a, NULL, cli_json_int(-3));
    cli_json_add(o, "list", a);
    cli_json_add(o, "port", cli_json_int(8)); /* a key set twice keeps the last */
    CHECK_STR(written(o, 0, buf, sizeof buf),
              "{\"name\":\"a \\\"quoted\\\"\\n\\u0001 caf\xc3\xa9\",\"port\":8,"
              "\"big\":18446744073709551615,\"rate\":0.1,\"tiny\":0.0,\"nan\":null,"
              "\"none\":null,\"list\":[true,-3]}");
    CHECK_STR(written(a, CLI_JSON_PRETTY, buf, sizeof buf), "[\n  true,\n  -3\n]");

    /* What was written reads back as the same tree. */
    char again[512];
    size_t used;
    written(o, CLI_JSON_PRETTY, buf, sizeof buf);
    struct cli_json *back = parse_all(buf, &used);
    CHECK_INT(used, strlen(buf));
    CHECK_STR(written(back, 0, again, sizeof again), written(o, 0, buf, sizeof buf));
    CHECK_INT(cli_json_length(cli_json_get(back, "list")), 2);
    CHECK(cli_json_type_of(cli_json_get(back, "none")) == CLI_JSON_NULL);
    CHECK(cli_json_get(back, "missing") == NULL);
    cli_json_free(back);
    cli_json_free(o);
}
