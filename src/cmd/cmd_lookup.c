/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_lookup.c - `sockit lookup NAME|ADDRESS`: what the resolver says.
 *
 * A name is looked up forward (canonical name, aliases, every address);
 * a numeric address is looked up in reverse.  The answers come from
 * /etc/hosts or DNS, whichever nsswitch.conf names, exactly as any
 * program on this machine would get them.
 */
#include "cli.h"
#include "cli_getopt.h"
#include "sk_error.h"
#include "sk_lookup.h"

#include <stdio.h>

static const char help_text[] =
    "usage: sockit lookup NAME|ADDRESS\n"
    "\n"
    "NAME:    print its canonical name, its aliases and every address\n"
    "         (getaddrinfo with AI_CANONNAME; aliases from gethostbyname).\n"
    "ADDRESS: print the name it maps back to (getnameinfo, reverse lookup).\n"
    "\n"
    "examples:\n"
    "  sockit lookup localhost\n"
    "  sockit lookup 127.0.0.1\n"
    "\n"
    "options:\n"
    "      --trace[=FMT]  show the getaddrinfo() calls on stderr; FMT: text\n"
    "                     or json\n"
    "  -V, --version      print sockit's version\n"
    "  -h, --help         this text\n";

static int lookup_reverse(const char *address)
{
    char name[NI_MAXHOST];
    int rc = sk_lookup_reverse(address, name, sizeof name);
    if (rc == SK_EAI_NONAME)
        cli_fail("no name for %s (no PTR record or /etc/hosts entry)", address);
    if (rc < 0)
        cli_fail("cannot look up '%s': %s", address, sk_strerror(rc));
    printf("%s is %s\n", address, name);
    return 0;
}

static int lookup_forward(const char *name)
{
    struct sk_lookup_result r;
    int rc = sk_lookup_forward(name, &r);
    if (rc < 0)
        cli_fail("cannot resolve '%s': %s", name, sk_strerror(rc));
    printf("name:      %s\n", name);
    printf("canonical: %s\n", r.canonical);
    for (size_t i = 0; i < r.naliases; i++)
        printf("alias:     %s\n", r.aliases[i]);
    for (size_t i = 0; i < r.naddresses; i++)
        printf("address:   %s (%s)\n", r.addresses[i].text,
               sk_family_name(r.addresses[i].family));
    sk_lookup_free(&r);
    return 0;
}

int cmd_lookup(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_TRACE_OPTION,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    opterr = 0;
    while ((c = cli_getopt(argc, argv, "h", options)) != -1) {
        switch (c) {
        case CLI_OPT_TRACE: cli_trace_start(optarg); break;
        case 'h': cli_help(help_text);
        default: cli_bad_option(argc, argv);
        }
    }
    if (optind >= argc)
        cli_usage_error("missing NAME or ADDRESS");
    const char *what = argv[optind++];
    if (optind < argc)
        cli_usage_error("unexpected argument '%s' (one NAME or ADDRESS at a time)",
                        argv[optind]);
    if (*what == '\0')
        cli_usage_error("empty NAME");
    return sk_lookup_is_numeric(what) ? lookup_reverse(what) : lookup_forward(what);
}
