/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_service.c - the service registry, instances and session logging.
 */
#include "sk_service.h"
#include "sk_error.h"

#include <stdio.h>
#include <string.h>

extern const struct sk_service sk__service_echo;
extern const struct sk_service sk__service_discard;
extern const struct sk_service sk__service_chargen;
extern const struct sk_service sk__service_daytime;
extern const struct sk_service sk__service_time;
extern const struct sk_service sk__service_hello;
extern const struct sk_service sk__service_file;
extern const struct sk_service sk__service_chat;

static const struct sk_service *const services[] = {
    &sk__service_echo,
    &sk__service_discard,
    &sk__service_chargen,
    &sk__service_daytime,
    &sk__service_time,
    &sk__service_hello,
    &sk__service_file,
    &sk__service_chat,
    NULL
};

const struct sk_service *const *sk_service_list(void)
{
    return services;
}

const struct sk_service *sk_service_find(const char *name)
{
    for (size_t i = 0; services[i] != NULL; i++)
        if (strcmp(services[i]->name, name) == 0)
            return services[i];
    return NULL;
}

int sk__instance_open(struct sk_instance *inst, const struct sk_service *svc,
                     const struct sk_service_config *config,
                     const struct sk_logger *logger)
{
    memset(inst, 0, sizeof *inst);
    inst->service = svc;
    inst->config = config;
    inst->logger = logger;
    return svc->instance_open ? svc->instance_open(inst) : 0;
}

void sk__instance_close(struct sk_instance *inst)
{
    if (inst->service != NULL && inst->service->instance_close != NULL)
        inst->service->instance_close(inst);
    inst->state = NULL;
}

static void vlog(const struct sk_logger *logger, enum sk_log_level level,
                 const char *prefix, const char *fmt, va_list ap)
{
    if (logger == NULL || logger->write == NULL)
        return;
    char msg[1024];
    int n = prefix ? snprintf(msg, sizeof msg, "%s: ", prefix) : 0;
    if (n < 0 || (size_t)n >= sizeof msg)
        n = 0;
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    logger->write(logger->ctx, level, msg);
}

void sk_log(const struct sk_logger *logger, enum sk_log_level level,
            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(logger, level, NULL, fmt, ap);
    va_end(ap);
}

void sk_session_eof_finish_answer(struct sk_session *s)
{
    (void)s;
}

void sk_session_log(struct sk_session *s, enum sk_log_level level,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(s->instance ? s->instance->logger : NULL, level, s->peer, fmt, ap);
    va_end(ap);
}
