/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_service.h - services inside the library: sockit/service.h (public:
 * what a service is, sessions and their helpers, the logger) and what
 * only the models call.
 */
#ifndef SK_SERVICE_H
#define SK_SERVICE_H

#include <sockit/service.h>

#include "sk_compat.h"
#include "sk_error.h"

/* Open (instance_open) and close the one running copy of svc that a
 * server's sessions share. */
int sk__instance_open(struct sk_instance *inst, const struct sk_service *svc,
                     const struct sk_service_config *config,
                     const struct sk_logger *logger);
void sk__instance_close(struct sk_instance *inst);

#endif
