/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_addr.h - the library's view of sockit/addr.h, which is public.
 */
#ifndef SK_ADDR_H
#define SK_ADDR_H

#include <sockit/addr.h>

#include "sk_compat.h"

#endif
