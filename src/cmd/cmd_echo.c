/* placeholder while the echo client is written */
#include "cli.h"
int cmd_echo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_fail("not built yet");
}
