/* placeholder while the get client is written */
#include "cli.h"
int cmd_get(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_fail("not built yet");
}
