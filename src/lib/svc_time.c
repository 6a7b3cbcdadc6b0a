/* placeholder while the time service is written */
#include "sk_service.h"

const struct sk_service sk_service_time = {
    .name = "time",
    .summary = "(not built yet)",
    .flags = 0,
};
