/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * udp_echo.c - the textbook UDP echo server (Stevens' dg_echo), as a
 * benchmark peer for `sockit compare --udp`.
 *
 * usage: udp_echo PORT     (0 lets the kernel pick a free port)
 *
 * One blocking socket and the loop every tutorial shows: recvfrom() a
 * datagram, sendto() it back to whoever sent it.  Nothing else: no
 * batching (recvmmsg), no threads, no loop guard.
 *
 * When ready it prints "listening on 127.0.0.1 port N" to stderr, the
 * line sockit's own servers print, so one harness can start both.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: udp_echo PORT\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)atoi(argv[1]));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        perror("udp_echo");
        return 1;
    }
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    fprintf(stderr, "listening on 127.0.0.1 port %d\n", ntohs(sin.sin_port));

    static char buf[65536];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
        if (n < 0)
            continue; /* EINTR, or an ICMP error queued for an earlier reply */
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fromlen);
    }
}
