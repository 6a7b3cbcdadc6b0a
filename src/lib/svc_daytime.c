/* placeholder while the daytime service is written */
#include "sk_service.h"

const struct sk_service sk_service_daytime = {
    .name = "daytime",
    .summary = "(not built yet)",
    .flags = 0,
};
