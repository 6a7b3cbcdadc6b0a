/* placeholder while the hello service is written */
#include "sk_service.h"

const struct sk_service sk_service_hello = {
    .name = "hello",
    .summary = "(not built yet)",
    .flags = 0,
};
