/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cli_getopt.h - getopt_long() for the subcommands: the C library's
 * (glibc, mingw-w64), or for MSVC, whose C library has none, sockit's own
 * in msvc/getopt_long.c (CMake compiles it for MSVC builds only).
 */
#ifndef SOCKIT_CLI_GETOPT_H
#define SOCKIT_CLI_GETOPT_H

#ifdef _MSC_VER
#include "msvc/getopt_long.h"
#else
#include <getopt.h>
#endif

/* getopt_long() with the options every subcommand takes besides its
 * own: -V and --version print sockit's version and exit.  Call it
 * exactly as getopt_long (opterr is left as the caller set it). */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

#endif
