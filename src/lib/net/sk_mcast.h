/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_mcast.h - the library's view of sockit/mcast.h, which is public.
 */
#ifndef SK_MCAST_H
#define SK_MCAST_H

#include <sockit/mcast.h>

#include "sk_compat.h"

#endif
