/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_lookup.h - the library's view of sockit/lookup.h, which is public.
 */
#ifndef SK_LOOKUP_H
#define SK_LOOKUP_H

#include <sockit/lookup.h>

#include "sk_compat.h"

#endif
