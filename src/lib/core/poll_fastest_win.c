/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * poll_fastest_win.c - the Windows half of sk__loop_create_fastest()
 * (poll_epoll.c on Linux).
 *
 * Windows has no epoll, and select's sets hold only FD_SETSIZE sockets:
 * WSAPoll (poll_poll.c) takes as many sockets as the process may open.
 */
#include "sk_loop.h"
#include "sk_compat.h"

int sk__loop_create_fastest(struct sk__loop **out)
{
    return sk__loop_create(&sk__poller_poll, (int)sk__descriptor_limit(), out);
}
