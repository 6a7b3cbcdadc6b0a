/* placeholder while the file service is written */
#include "sk_service.h"

const struct sk_service sk_service_file = {
    .name = "file",
    .summary = "(not built yet)",
    .flags = 0,
};
