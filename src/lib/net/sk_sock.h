/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_sock.h - the library's view of sockit/sock.h, which is public.
 */
#ifndef SK_SOCK_H
#define SK_SOCK_H

#include <sockit/sock.h>

#include "sk_compat.h"

#endif
