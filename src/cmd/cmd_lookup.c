/* placeholder while the lookup client is written */
#include "cli.h"
int cmd_lookup(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_fail("not built yet");
}
