/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * time_client.h - RFC 868 time values as dates, for `sockit time` and
 * `sockit connect --time`.
 */
#ifndef SOCKIT_TIME_CLIENT_H
#define SOCKIT_TIME_CLIENT_H

#include "sk_compat.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* An RFC 868 value (seconds since 1900-01-01 UTC, 32 bits) as Unix time.
 * Values below 2,208,988,800 are read as the next era (from 2036 on), as
 * the RFC's 32 bits wrap on 2036-02-07. */
int64_t time_from_rfc868(uint32_t value);

/* "2026-12-02 06:30:00 UTC" into buf. */
void time_format_utc(int64_t unix_seconds, char *buf, size_t cap);

/* Read a stream of 4-byte values until the peer closes, printing each as
 * a date line.  0, SK_ESHORT when the stream ends inside a value, or a
 * code. */
int time_print_values(sk_socket_t s, FILE *out);

#endif
