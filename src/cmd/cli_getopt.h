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

#endif
