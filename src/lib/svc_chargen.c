/* placeholder while the chargen service is written */
#include "sk_service.h"

const struct sk_service sk_service_chargen = {
    .name = "chargen",
    .summary = "(not built yet)",
    .flags = 0,
};
