/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cli_json_builtin.c - cli_json.h in plain C, for the Windows build:
 * mingw-w64 has no json-c package in Debian, and building json-c for it
 * would tie the Windows build to a second toolchain's package.  Linux
 * uses cli_json_jsonc.c instead; tests/unit/test_json.c runs this one.
 *
 * The reader is strict RFC 8259: one value, whitespace around it,
 * strings of valid UTF-8 without raw control bytes, escapes including
 * surrogate pairs (a lone surrogate becomes U+FFFD, as in json-c),
 * numbers by the grammar (no "01", "1.", "+1", NaN), at most 32 levels
 * of nesting (json-c's default).  Numbers keep their text, so an integer
 * count is read exactly whatever its size.
 *
 * Objects are arrays of members in the order given; lookups are linear,
 * which suits objects of a few dozen keys.
 */
#include "cli_json.h"

#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

struct cli_json {
    enum cli_json_type type;
    int boolean;
    char *text;                 /* a string's bytes, or a number's text */
    size_t text_len;            /* a string may hold "\u0000" */
    struct cli_json **items;    /* an array's items, an object's values */
    char **keys;                /* an object's keys */
    size_t n, cap;
};

static void *checked(void *p)
{
    if (p == NULL)
        cli_fail("out of memory");
    return p;
}

static struct cli_json *node(enum cli_json_type type)
{
    struct cli_json *v = checked(calloc(1, sizeof *v));
    v->type = type;
    return v;
}

struct cli_json *cli_json_object(void)
{
    return node(CLI_JSON_OBJECT);
}

struct cli_json *cli_json_array(void)
{
    return node(CLI_JSON_ARRAY);
}

struct cli_json *cli_json_string(const char *text)
{
    if (text == NULL)
        return NULL;
    struct cli_json *v = node(CLI_JSON_STRING);
    v->text_len = strlen(text);
    v->text = checked(malloc(v->text_len + 1));
    memcpy(v->text, text, v->text_len + 1);
    return v;
}

struct cli_json *cli_json_bool(int value)
{
    struct cli_json *v = node(CLI_JSON_BOOL);
    v->boolean = value != 0;
    return v;
}

static struct cli_json *number_text(const char *text)
{
    struct cli_json *v = node(CLI_JSON_NUMBER);
    v->text_len = strlen(text);
    v->text = checked(malloc(v->text_len + 1));
    memcpy(v->text, text, v->text_len + 1);
    return v;
}

struct cli_json *cli_json_uint(uint64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%llu", (unsigned long long)value);
    return number_text(text);
}

struct cli_json *cli_json_int(int64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)value);
    return number_text(text);
}

struct cli_json *cli_json_fixed(double value, int decimals)
{
    if (!isfinite(value))
        return NULL;
    char text[64];
    snprintf(text, sizeof text, "%.*f", decimals, value);
    if (strspn(text, "-0.") == strlen(text) && text[0] == '-')
        memmove(text, text + 1, strlen(text));
    return number_text(text);
}

void cli_json_add(struct cli_json *container, const char *key, struct cli_json *value)
{
    if (key != NULL) {
        for (size_t i = 0; i < container->n; i++) {
            if (strcmp(container->keys[i], key) == 0) {
                cli_json_free(container->items[i]);
                container->items[i] = value;
                return;
            }
        }
    }
    if (container->n == container->cap) {
        size_t cap = container->cap ? container->cap * 2 : 8;
        container->items = checked(realloc(container->items, cap * sizeof *container->items));
        if (container->type == CLI_JSON_OBJECT)
            container->keys = checked(realloc(container->keys, cap * sizeof *container->keys));
        container->cap = cap;
    }
    if (key != NULL) {
        size_t len = strlen(key);
        container->keys[container->n] = checked(malloc(len + 1));
        memcpy(container->keys[container->n], key, len + 1);
    }
    container->items[container->n++] = value;
}

void cli_json_free(struct cli_json *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->n; i++) {
        cli_json_free(v->items[i]);
        if (v->keys != NULL)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->text);
    free(v);
}

/* ---- writing ----------------------------------------------------------------- */

static void write_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (c < 0x20)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
}

static void indent(FILE *f, unsigned flags, int depth)
{
    if (!(flags & CLI_JSON_PRETTY))
        return;
    fputc('\n', f);
    for (int i = 0; i < depth; i++)
        fputs("  ", f);
}

static void write_value(FILE *f, const struct cli_json *v, unsigned flags, int depth)
{
    if (v == NULL) {
        fputs("null", f);
        return;
    }
    switch (v->type) {
    case CLI_JSON_NULL: fputs("null", f); return;
    case CLI_JSON_BOOL: fputs(v->boolean ? "true" : "false", f); return;
    case CLI_JSON_NUMBER: fputs(v->text, f); return;
    case CLI_JSON_STRING: write_string(f, v->text, v->text_len); return;
    case CLI_JSON_ARRAY:
    case CLI_JSON_OBJECT: break;
    }
    int object = v->type == CLI_JSON_OBJECT;
    fputc(object ? '{' : '[', f);
    for (size_t i = 0; i < v->n; i++) {
        if (i > 0)
            fputc(',', f);
        indent(f, flags, depth + 1);
        if (object) {
            write_string(f, v->keys[i], strlen(v->keys[i]));
            fputs((flags & CLI_JSON_PRETTY) ? ": " : ":", f);
        }
        write_value(f, v->items[i], flags, depth + 1);
    }
    if (v->n > 0)
        indent(f, flags, depth);
    fputc(object ? '}' : ']', f);
}

int cli_json_write(FILE *f, const struct cli_json *value, unsigned flags)
{
    write_value(f, value, flags, 0);
    fputc('\n', f);
    return ferror(f) ? -1 : 0;
}

/* ---- reading ----------------------------------------------------------------- */

struct reader {
    const unsigned char *p, *start, *end;
    const char *why;
};

static void skip_space(struct reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static struct cli_json *fail(struct reader *r, const char *why)
{
    if (r->why == NULL)
        r->why = why;
    return NULL;
}

/* A growing byte buffer for a string being decoded. */
struct bytes {
    char *data;
    size_t len, cap;
};

static void bytes_put(struct bytes *b, const void *src, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (b->len + n + 1 > cap)
            cap *= 2;
        b->data = checked(realloc(b->data, cap));
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void put_utf8(struct bytes *b, unsigned long cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80)
        u[0] = (unsigned char)cp, n = 1;
    else if (cp < 0x800)
        u[0] = (unsigned char)(0xc0 | cp >> 6), u[1] = (unsigned char)(0x80 | (cp & 0x3f)), n = 2;
    else if (cp < 0x10000)
        u[0] = (unsigned char)(0xe0 | cp >> 12), u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)),
        u[2] = (unsigned char)(0x80 | (cp & 0x3f)), n = 3;
    else
        u[0] = (unsigned char)(0xf0 | cp >> 18), u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f)),
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (unsigned char)(0x80 | (cp & 0x3f)),
        n = 4;
    bytes_put(b, u, n);
}

/* Four hex digits after "\u"; -1 when they are not. */
static long hex4(struct reader *r)
{
    if (r->end - r->p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int c = r->p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    r->p += 4;
    return v;
}

/* The length of the valid UTF-8 sequence at p (1 to 4), or 0. */
static size_t utf8_length(const unsigned char *p, const unsigned char *end)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char c_lo = i == 1 ? lo : 0x80, c_hi = i == 1 ? hi : 0xbf;
        if (p[i] < c_lo || p[i] > c_hi)
            return 0;
    }
    return n;
}

/* A string after its opening quote, into b.  0, or -1 with r->why. */
static int read_string(struct reader *r, struct bytes *b)
{
    bytes_put(b, "", 0);
    for (;;) {
        if (r->p >= r->end)
            return fail(r, "unexpected end of data"), -1;
        unsigned char c = *r->p;
        if (c == '"') {
            r->p++;
            return 0;
        }
        if (c < 0x20)
            return fail(r, "control character in a string"), -1;
        if (c != '\\') {
            size_t n = utf8_length(r->p, r->end);
            if (n == 0)
                return fail(r, "invalid UTF-8 in a string"), -1;
            bytes_put(b, r->p, n);
            r->p += n;
            continue;
        }
        if (++r->p >= r->end)
            return fail(r, "unexpected end of data"), -1;
        c = *r->p++;
        static const char plain_in[] = "\"\\/bfnrt", plain_out[] = "\"\\/\b\f\n\r\t";
        const char *k = c ? strchr(plain_in, c) : NULL;
        if (k != NULL) {
            bytes_put(b, &plain_out[k - plain_in], 1);
            continue;
        }
        if (c != 'u')
            return r->p--, fail(r, "invalid escape in a string"), -1;
        long cp = hex4(r);
        if (cp < 0)
            return fail(r, "invalid \\u escape"), -1;
        if (cp >= 0xd800 && cp <= 0xdbff && r->end - r->p >= 6 && r->p[0] == '\\' &&
            r->p[1] == 'u') {
            const unsigned char *save = r->p;
            r->p += 2;
            long lo = hex4(r);
            if (lo >= 0xdc00 && lo <= 0xdfff)
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            else
                r->p = save; /* not a pair: the next escape stands alone */
        }
        if (cp >= 0xd800 && cp <= 0xdfff)
            cp = 0xfffd;
        put_utf8(b, (unsigned long)cp);
    }
}

static struct cli_json *read_number(struct reader *r)
{
    const unsigned char *s = r->p;
    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return fail(r, "invalid number");
    if (*r->p == '0')
        r->p++;
    else
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9')
            return fail(r, "invalid number");
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9')
            return fail(r, "invalid number");
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    if (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        return fail(r, "invalid number"); /* "01" */
    char text[512];
    size_t len = (size_t)(r->p - s);
    if (len >= sizeof text)
        return fail(r, "number too long");
    memcpy(text, s, len);
    text[len] = '\0';
    return number_text(text);
}

static int literal(struct reader *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return 0;
    r->p += n;
    return 1;
}

static struct cli_json *read_value(struct reader *r, int depth, int *is_null);

static struct cli_json *read_container(struct reader *r, int depth, int object)
{
    if (depth >= MAX_DEPTH)
        return fail(r, "nested too deeply");
    struct cli_json *v = node(object ? CLI_JSON_OBJECT : CLI_JSON_ARRAY);
    char close = object ? '}' : ']';
    skip_space(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return v;
    }
    for (;;) {
        struct bytes key = { 0 };
        skip_space(r);
        if (object) {
            if (r->p >= r->end || *r->p != '"') {
                cli_json_free(v);
                return fail(r, r->p >= r->end ? "unexpected end of data" : "expected a key");
            }
            r->p++;
            if (read_string(r, &key) < 0) {
                free(key.data);
                cli_json_free(v);
                return NULL;
            }
            skip_space(r);
            if (r->p >= r->end || *r->p != ':') {
                free(key.data);
                cli_json_free(v);
                return fail(r, r->p >= r->end ? "unexpected end of data" : "expected ':'");
            }
            r->p++;
        }
        int is_null;
        struct cli_json *item = read_value(r, depth + 1, &is_null);
        if (item == NULL && !is_null) {
            free(key.data);
            cli_json_free(v);
            return NULL;
        }
        cli_json_add(v, object ? key.data : NULL, item);
        free(key.data);
        skip_space(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return v;
        }
        cli_json_free(v);
        return fail(r, r->p >= r->end ? "unexpected end of data" : "unexpected character");
    }
}

static struct cli_json *read_value(struct reader *r, int depth, int *is_null)
{
    *is_null = 0;
    skip_space(r);
    if (r->p >= r->end)
        return fail(r, "unexpected end of data");
    switch (*r->p) {
    case '{': r->p++; return read_container(r, depth, 1);
    case '[': r->p++; return read_container(r, depth, 0);
    case '"': {
        r->p++;
        struct bytes b = { 0 };
        if (read_string(r, &b) < 0) {
            free(b.data);
            return NULL;
        }
        struct cli_json *v = node(CLI_JSON_STRING);
        v->text = b.data;
        v->text_len = b.len;
        return v;
    }
    case 't':
        if (literal(r, "true"))
            return cli_json_bool(1);
        break;
    case 'f':
        if (literal(r, "false"))
            return cli_json_bool(0);
        break;
    case 'n':
        if (literal(r, "null")) {
            *is_null = 1;
            return NULL;
        }
        break;
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
            return read_number(r);
    }
    return fail(r, "unexpected character");
}

struct cli_json *cli_json_parse(const char *text, size_t len, size_t *used, size_t *error_at,
                                char *why, size_t why_cap)
{
    struct reader r = { (const unsigned char *)text, (const unsigned char *)text,
                        (const unsigned char *)text + len, NULL };
    *used = 0;
    *error_at = 0;
    skip_space(&r);
    if (r.p == r.end) {
        *error_at = (size_t)(r.p - r.start);
        snprintf(why, why_cap, "no value");
        return NULL;
    }
    int is_null;
    struct cli_json *v = read_value(&r, 0, &is_null);
    if (v == NULL && !is_null) {
        *error_at = (size_t)(r.p - r.start);
        snprintf(why, why_cap, "%s", r.why ? r.why : "invalid JSON");
        return NULL;
    }
    skip_space(&r);
    *used = (size_t)(r.p - r.start);
    return v;
}

/* ---- looking in ---------------------------------------------------------------- */

enum cli_json_type cli_json_type_of(const struct cli_json *value)
{
    return value == NULL ? CLI_JSON_NULL : value->type;
}

const struct cli_json *cli_json_get(const struct cli_json *object, const char *key)
{
    if (object == NULL || object->type != CLI_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < object->n; i++)
        if (strcmp(object->keys[i], key) == 0)
            return object->items[i];
    return NULL;
}

size_t cli_json_length(const struct cli_json *array)
{
    return array != NULL && array->type == CLI_JSON_ARRAY ? array->n : 0;
}

const struct cli_json *cli_json_at(const struct cli_json *array, size_t i)
{
    return i < cli_json_length(array) ? array->items[i] : NULL;
}

const char *cli_json_text(const struct cli_json *value)
{
    return value != NULL && value->type == CLI_JSON_STRING ? value->text : NULL;
}

int cli_json_double(const struct cli_json *value, double *out)
{
    if (value == NULL || value->type != CLI_JSON_NUMBER)
        return -1;
    *out = strtod(value->text, NULL);
    return 0;
}

int cli_json_count(const struct cli_json *value, uint64_t *out)
{
    if (value == NULL || value->type != CLI_JSON_NUMBER)
        return -1;
    const char *t = value->text;
    if (strcspn(t, ".eE") == value->text_len) {
        /* An integer: exact.  "-0" is 0; beyond 2^64-1 saturates, as in
         * json-c. */
        if (t[0] == '-')
            return strspn(t + 1, "0") == value->text_len - 1 ? (*out = 0, 0) : -1;
        uint64_t v = 0;
        for (; *t; t++) {
            unsigned d = (unsigned)(*t - '0');
            v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        }
        *out = v;
        return 0;
    }
    double v = strtod(t, NULL);
    if (!(v >= 0 && v < 18446744073709551616.0) || v != floor(v))
        return -1;
    *out = (uint64_t)v;
    return 0;
}
