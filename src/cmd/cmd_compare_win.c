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

int cmd_compare(int argc, char **argv)
{
    (void)argc, (void)argv;
    cli_fail("compare runs on Linux only (it starts and measures peer servers with "
             "fork, exec and /proc); use 'sockit bench HOST PORT' against a server");
}
