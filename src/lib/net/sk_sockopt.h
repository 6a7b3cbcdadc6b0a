/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_sockopt.h - the library's view of sockit/sockopt.h, which is public.
 */
#ifndef SK_SOCKOPT_H
#define SK_SOCKOPT_H

#include <sockit/sockopt.h>

#include "sk_compat.h"

#include <stdint.h>

/* A size: decimal digits with an optional K, M or G (x 1024, 1024^2,
 * 1024^3, either case): "64K" is 65536.  Socket option values and the
 * command's size options (cli_parse_size) both read sizes through it.
 * 0 and *out, or SK_EOPTVALUE when text is not one or exceeds max. */
int sk__parse_size(const char *text, uint64_t max, uint64_t *out);

/* The on/off value the last "name=value" of assignments gives name, or
 * fallback when none names it (or its value is not on/off, which
 * sk_sockopt_check has refused before the server starts).  The server
 * reads its --sockopt nodelay=... through it. */
int sk__sockopt_bool_in(const char *const *assignments, int n, const char *name,
                        int fallback);

#endif
