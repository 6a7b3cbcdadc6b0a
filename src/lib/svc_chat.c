/* placeholder while the chat service is written */
#include "sk_service.h"

const struct sk_service sk_service_chat = {
    .name = "chat",
    .summary = "(not built yet)",
    .flags = 0,
};
