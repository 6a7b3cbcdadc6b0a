/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_compare_win.c - `sockit compare` on Windows: not there.
 *
 * The comparison starts peer servers (other libraries' echo servers, each
 * in its own process with fork/exec, pinned with Linux's scheduler calls)
 * and reads Linux's process accounting; none of that exists on Windows.
 * Run `sockit bench` against a server instead.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char help_text[] =
    "usage: sockit compare [options]\n"
    "\n"
    "On Linux: start each sockit model and each peer echo server in turn on\n"
    "127.0.0.1 and load them with 'sockit bench' (see the README).  Not\n"
    "available on Windows: it starts and measures the peers with fork, exec\n"
    "and /proc.  Run 'sockit bench HOST PORT' against a server instead.\n";

int cmd_compare(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            cli_help(help_text);
    cli_fail("compare runs on Linux only (it starts and measures peer servers with "
             "fork, exec and /proc); use 'sockit bench HOST PORT' against a server");
}
