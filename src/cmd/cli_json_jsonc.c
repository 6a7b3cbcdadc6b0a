/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cli_json_jsonc.c - cli_json.h on json-c (Linux; libjson-c-dev, 0.15 or
 * later for uint64 numbers and UTF-8 validation).
 *
 * A struct cli_json is a json_object.  Reading is json-c's tokener in
 * strict mode, which rejects trailing commas, comments, control bytes in
 * strings and bytes that are not UTF-8.  Strict mode also refuses
 * anything after the first value, so a file of several values (JSON
 * lines) is cut into values by a lenient pass first and each piece is
 * then checked strictly: what strict mode refuses is refused.
 *
 * json-c stays lenient on a few forms even when strict: single-quoted
 * strings, NaN and Infinity, "1." and integers beyond 64 bits (they
 * saturate).  None of them is written by sockit; a count read that is
 * NaN, infinite or negative is still refused by cli_json_count.
 */
#include "cli_json.h"

#include "cli.h"

#include <json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define AS_JSON(v) ((struct json_object *)(v))
#define AS_CLI(v) ((struct cli_json *)(v))

static struct cli_json *checked(struct json_object *o)
{
    if (o == NULL)
        cli_fail("out of memory");
    return AS_CLI(o);
}

struct cli_json *cli_json_object(void)
{
    return checked(json_object_new_object());
}

struct cli_json *cli_json_array(void)
{
    return checked(json_object_new_array());
}

struct cli_json *cli_json_string(const char *text)
{
    return text == NULL ? NULL : checked(json_object_new_string(text));
}

struct cli_json *cli_json_bool(int value)
{
    return checked(json_object_new_boolean(value != 0));
}

struct cli_json *cli_json_uint(uint64_t value)
{
    return checked(json_object_new_uint64(value));
}

struct cli_json *cli_json_int(int64_t value)
{
    return checked(json_object_new_int64(value));
}

struct cli_json *cli_json_fixed(double value, int decimals)
{
    if (!isfinite(value))
        return NULL;
    char text[64];
    snprintf(text, sizeof text, "%.*f", decimals, value);
    /* "-0.0" is valid JSON but reads as noise in a report. */
    if (strspn(text, "-0.") == strlen(text) && text[0] == '-')
        memmove(text, text + 1, strlen(text));
    return checked(json_object_new_double_s(value, text));
}

void cli_json_add(struct cli_json *container, const char *key, struct cli_json *value)
{
    int rc = key != NULL ? json_object_object_add(AS_JSON(container), key, AS_JSON(value))
                         : json_object_array_add(AS_JSON(container), AS_JSON(value));
    if (rc != 0)
        cli_fail("out of memory");
}

int cli_json_write(FILE *f, const struct cli_json *value, unsigned flags)
{
    int how = JSON_C_TO_STRING_NOSLASHESCAPE;
    how |= (flags & CLI_JSON_PRETTY) ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                     : JSON_C_TO_STRING_PLAIN;
    const char *text = json_object_to_json_string_ext(AS_JSON(value), how);
    if (text == NULL)
        cli_fail("out of memory");
    if (fputs(text, f) == EOF || fputc('\n', f) == EOF)
        return -1;
    return 0;
}

static struct json_tokener *tokener(int flags)
{
    struct json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        cli_fail("out of memory");
    json_tokener_set_flags(tok, flags);
    return tok;
}

static size_t skip_space(const char *text, size_t at, size_t len)
{
    while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' ||
                        text[at] == '\r'))
        at++;
    return at;
}

struct cli_json *cli_json_parse(const char *text, size_t len, size_t *used, size_t *error_at,
                                char *why, size_t why_cap)
{
    *used = 0;
    *error_at = 0;
    size_t start = skip_space(text, 0, len);
    if (start == len || len - start > (size_t)INT32_MAX - 1) {
        *error_at = start;
        snprintf(why, why_cap, start == len ? "no value" : "text too long");
        return NULL;
    }
    /* Where the first value ends: the lenient pass.  The length includes
     * the terminating NUL, so a number at the very end is complete. */
    struct json_tokener *tok = tokener(JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *lenient = json_tokener_parse_ex(tok, text + start, (int)(len - start) + 1);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t end = start + json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    json_object_put(lenient);
    if (err != json_tokener_success) {
        *error_at = end;
        snprintf(why, why_cap, "%s", json_tokener_error_desc(err));
        return NULL;
    }
    if (end > len)
        end = len; /* the NUL itself ended a number */

    /* The same bytes, strictly. */
    char *piece = malloc(end - start + 1);
    if (piece == NULL)
        cli_fail("out of memory");
    memcpy(piece, text + start, end - start);
    piece[end - start] = '\0';
    tok = tokener(JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *value = json_tokener_parse_ex(tok, piece, (int)(end - start) + 1);
    err = json_tokener_get_error(tok);
    size_t strict_end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    free(piece);
    if (err != json_tokener_success) {
        json_object_put(value);
        *error_at = start + strict_end;
        snprintf(why, why_cap, "%s", json_tokener_error_desc(err));
        return NULL;
    }
    *used = skip_space(text, end, len);
    return AS_CLI(value);
}

enum cli_json_type cli_json_type_of(const struct cli_json *value)
{
    switch (json_object_get_type(AS_JSON(value))) {
    case json_type_boolean: return CLI_JSON_BOOL;
    case json_type_double:
    case json_type_int: return CLI_JSON_NUMBER;
    case json_type_string: return CLI_JSON_STRING;
    case json_type_array: return CLI_JSON_ARRAY;
    case json_type_object: return CLI_JSON_OBJECT;
    case json_type_null:
    default: return CLI_JSON_NULL;
    }
}

const struct cli_json *cli_json_get(const struct cli_json *object, const char *key)
{
    struct json_object *member = NULL;
    if (!json_object_is_type(AS_JSON(object), json_type_object) ||
        !json_object_object_get_ex(AS_JSON(object), key, &member))
        return NULL;
    return AS_CLI(member);
}

size_t cli_json_length(const struct cli_json *array)
{
    if (!json_object_is_type(AS_JSON(array), json_type_array))
        return 0;
    return json_object_array_length(AS_JSON(array));
}

const struct cli_json *cli_json_at(const struct cli_json *array, size_t i)
{
    if (i >= cli_json_length(array))
        return NULL;
    return AS_CLI(json_object_array_get_idx(AS_JSON(array), i));
}

const char *cli_json_text(const struct cli_json *value)
{
    if (!json_object_is_type(AS_JSON(value), json_type_string))
        return NULL;
    return json_object_get_string(AS_JSON(value));
}

int cli_json_double(const struct cli_json *value, double *out)
{
    if (cli_json_type_of(value) != CLI_JSON_NUMBER)
        return -1;
    *out = json_object_get_double(AS_JSON(value));
    return 0;
}

int cli_json_count(const struct cli_json *value, uint64_t *out)
{
    struct json_object *o = AS_JSON(value);
    if (json_object_is_type(o, json_type_int)) {
        /* json-c keeps integers as int64 or, above INT64_MAX, uint64:
         * a negative int64 is no count; otherwise the uint64 is exact. */
        if (json_object_get_int64(o) < 0)
            return -1;
        *out = json_object_get_uint64(o);
        return 0;
    }
    if (!json_object_is_type(o, json_type_double))
        return -1;
    double v = json_object_get_double(o);
    if (!(v >= 0 && v < 18446744073709551616.0) || v != floor(v))
        return -1;
    *out = (uint64_t)v;
    return 0;
}

void cli_json_free(struct cli_json *value)
{
    json_object_put(AS_JSON(value));
}
