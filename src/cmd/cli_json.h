/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cli_json.h - the one way the sockit command writes and reads JSON
 * (`bench --json`, `bench --merge`, `compare --json` and compare's reading
 * of bench's output).
 *
 * Two implementations stand behind it, and only one is linked:
 *   cli_json_jsonc.c    json-c (Debian's libjson-c-dev), on Linux
 *   cli_json_builtin.c  a small strict writer and reader in plain C, for
 *                       Windows, where mingw-w64 has no json-c package
 *                       (tests/unit/test_json.c checks it against the
 *                       same cases json-c passes)
 *
 * A value is a tree: build it, write it, free it; or parse it, look into
 * it, free it.  A NULL value is JSON's null.  Running out of memory
 * exits through cli_fail(), so the constructors never return NULL for
 * anything but null.
 *
 * Numbers are written from the text the caller chose (cli_json_fixed's
 * decimals), never as "%.17g", so 0.1 stays 0.1 in the file.
 */
#ifndef SOCKIT_CLI_JSON_H
#define SOCKIT_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cli_json;

enum cli_json_type {
    CLI_JSON_NULL,
    CLI_JSON_BOOL,
    CLI_JSON_NUMBER,
    CLI_JSON_STRING,
    CLI_JSON_ARRAY,
    CLI_JSON_OBJECT,
};

/* ---- building ------------------------------------------------------------ */

struct cli_json *cli_json_object(void);
struct cli_json *cli_json_array(void);
struct cli_json *cli_json_string(const char *text); /* copied; NULL text is null */
struct cli_json *cli_json_bool(int value);
struct cli_json *cli_json_uint(uint64_t value);
struct cli_json *cli_json_int(int64_t value);
/* value with that many decimals ("%.*f"); NaN and infinities are null. */
struct cli_json *cli_json_fixed(double value, int decimals);

/* Append value to an array (key NULL) or set key in an object (a key set
 * twice keeps the last value).  The container owns value from then on. */
void cli_json_add(struct cli_json *container, const char *key, struct cli_json *value);

/* The value as text on f: one line, no spaces, and a newline; or with
 * CLI_JSON_PRETTY, indented over several lines.  0, or -1 when f failed
 * (errno says why). */
#define CLI_JSON_PRETTY 1u
int cli_json_write(FILE *f, const struct cli_json *value, unsigned flags);

/* ---- reading ------------------------------------------------------------- */

/* The first JSON value in text[0..len) (text[len] must be '\0'), with the
 * whitespace around it; *used is set to how many bytes that was.  NULL
 * with *used 0 and a message in why when the text does not start with a
 * valid value; the message names the byte offset where it went wrong in
 * *error_at.  (A valid text that is just null also returns NULL: tell
 * them apart by *used, which is then > 0.) */
struct cli_json *cli_json_parse(const char *text, size_t len, size_t *used, size_t *error_at,
                                char *why, size_t why_cap);

enum cli_json_type cli_json_type_of(const struct cli_json *value);
/* An object's member, or NULL when value is no object or has no key. */
const struct cli_json *cli_json_get(const struct cli_json *object, const char *key);
/* An array's length and items (0 and NULL for anything else). */
size_t cli_json_length(const struct cli_json *array);
const struct cli_json *cli_json_at(const struct cli_json *array, size_t i);
/* A string's text, or NULL. */
const char *cli_json_text(const struct cli_json *value);
/* A number as a double: 0, or -1 when value is no number. */
int cli_json_double(const struct cli_json *value, double *out);
/* A number that is a whole count in 0 .. 2^64-1 (1e3 and 2.0 count):
 * 0, or -1 for anything else. */
int cli_json_count(const struct cli_json *value, uint64_t *out);

void cli_json_free(struct cli_json *value);

/* ---- what every object sockit writes carries ------------------------------ */

/* Add "sockit_version" and "timestamp" (ISO 8601 UTC to the second,
 * "2026-01-31T12:00:00Z") to object; in cli.c. */
void cli_json_stamp(struct cli_json *object);

#endif
