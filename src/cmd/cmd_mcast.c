/* placeholder while the mcast client is written */
#include "cli.h"
int cmd_mcast(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_fail("not built yet");
}
