/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * main.c - the sockit command: one binary, one subcommand per job.
 */
#include "cli.h"
#include "sk_compat.h"
#include "sk_error.h"

#include <stdio.h>
#include <string.h>

struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct subcommand subcommands[] = {
    { "serve", cmd_serve, "run a service (echo, chat, file, ...) on a server model" },
    { "echo", cmd_echo, "echo client over TCP or UDP" },
    { "get", cmd_get, "fetch a file from a 'file' server (half-close transfer)" },
    { "chat", cmd_chat, "join a chat server" },
    { "connect", cmd_connect, "netcat: stdin to a TCP/UDP/Unix socket and back, half-close right" },
    { "listen", cmd_listen, "netcat's other end: take one connection (or more, -k) and relay" },
    { "time", cmd_time, "ask a time server (RFC 868) and show the offset from our clock" },
    { "lookup", cmd_lookup, "resolve a name to addresses, or an address to a name" },
    { "addr", cmd_addr, "show an address in dotted, network and host byte order" },
    { "sockopt", cmd_sockopt, "show and set socket options on a fresh socket" },
    { "mcast", cmd_mcast, "send or receive multicast and broadcast datagrams" },
    { "bench", cmd_bench, "load an echo server: verified replies, latency percentiles" },
    { "compare", cmd_compare, "sockit's models against other echo servers, side by side" },
};

#define NSUB (sizeof subcommands / sizeof *subcommands)

static void usage(FILE *out)
{
    fprintf(out, "usage: sockit COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < NSUB; i++)
        fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\n'sockit COMMAND --help' explains each one; 'sockit -V' (or --version,\n"
                 "after any command too) prints the version.\n"
                 "Exit status: 0 success, 1 runtime failure, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    /* -V after a subcommand is its own option (cli_getopt); this also
     * catches "sockit SUBCOMMAND -V" for those that parse their own. */
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 ||
        (argc == 3 && (strcmp(argv[2], "--version") == 0 || strcmp(argv[2], "-V") == 0))) {
        printf("sockit %s\n", SOCKIT_VERSION);
        return 0;
    }
    int rc = sk_compat_init();
    if (rc < 0) {
        fprintf(stderr, "sockit: cannot initialise sockets: %s\n", sk_strerror(rc));
        return EXIT_RUNTIME;
    }
    for (size_t i = 0; i < NSUB; i++) {
        if (strcmp(argv[1], subcommands[i].name) == 0) {
            static char prog[64];
            snprintf(prog, sizeof prog, "sockit %s", subcommands[i].name);
            cli_prog = prog;
            return subcommands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "sockit: unknown command '%s'\nTry 'sockit --help'.\n", argv[1]);
    return EXIT_USAGE;
}
