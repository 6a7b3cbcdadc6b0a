/* placeholder while the discard service is written */
#include "sk_service.h"

const struct sk_service sk_service_discard = {
    .name = "discard",
    .summary = "(not built yet)",
    .flags = 0,
};
