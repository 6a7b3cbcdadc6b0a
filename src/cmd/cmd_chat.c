/* placeholder while the chat client is written */
#include "cli.h"
int cmd_chat(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_fail("not built yet");
}
