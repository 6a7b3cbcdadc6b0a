/* placeholder while the sockopt client is written */
#include "cli.h"
int cmd_sockopt(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_fail("not built yet");
}
