/* placeholder while the addr client is written */
#include "cli.h"
int cmd_addr(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_fail("not built yet");
}
