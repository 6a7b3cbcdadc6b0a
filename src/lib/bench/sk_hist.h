/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sk_hist.h - the library's view of sockit/hist.h, which is public.
 */
#ifndef SK_HIST_H
#define SK_HIST_H

#include <sockit/hist.h>

#endif
