/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_error.h - the library's view of sockit/error.h, which is public.
 */
#ifndef SK_ERROR_H
#define SK_ERROR_H

#include <sockit/error.h>

#endif
