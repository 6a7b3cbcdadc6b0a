/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockit/sockit.h - libsockit's public API, in one include.
 *
 *   #include <sockit/sockit.h>
 *
 * Public names start with sk_ (SK_ for macros); names with sk__ and the
 * headers under src/lib are the library's own and may change at any
 * time.  Every function returns >= 0 or a negative code (sockit/error.h).
 * The headers compile as ISO C11 (-std=c11 -pedantic, no feature macros
 * needed) and as C++; link with libsockit.a and -lpthread -lm (and
 * -luring when the library was built with io_uring; ws2_32, mswsock and
 * iphlpapi on Windows).
 */
#ifndef SOCKIT_SOCKIT_H
#define SOCKIT_SOCKIT_H

#include <sockit/platform.h> /* sk_socket_t, sk_stop, start-up */
#include <sockit/error.h>    /* codes, sk_strerror, sk_err_name */
#include <sockit/addr.h>     /* parsing, resolving and formatting addresses */
#include <sockit/sock.h>     /* listen, connect, exact-length send/recv */
#include <sockit/sockopt.h>  /* socket options by name */
#include <sockit/lookup.h>   /* forward and reverse name lookup */
#include <sockit/mcast.h>    /* multicast membership, broadcast */
#include <sockit/service.h>  /* writing a service; sessions; the logger */
#include <sockit/server.h>   /* running a server; models and probes */
#include <sockit/hist.h>     /* latency histograms */
#include <sockit/bench.h>    /* the load generator */
#include <sockit/trace.h>    /* --trace: socket calls and TCP state as events */

#endif
