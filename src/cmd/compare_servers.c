/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compare_servers.c - the servers `sockit compare` knows: sockit's models
 * (run through this same binary as `sockit serve echo`) and the peers -
 * the echo servers of bench/peers/ that `make peers` builds, Node.js's,
 * socat and ncat - with where each is found, why one is skipped, and the
 * command line that starts it on 127.0.0.1.
 */
#include "compare.h"

#include "cli.h"
#include "sk_server.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The peers: what they are and where they are found. */
static const struct peer_def peer_defs[] = {
    { "uv_echo", 0, IN_PEER_DIR, "uv_echo", "libuv: uv_read_start + uv_write (the uvbook echo)" },
    { "event_echo", 0, IN_PEER_DIR, "event_echo",
      "libevent: bufferevent, input moved to output" },
    { "epoll_echo", 0, IN_PEER_DIR, "epoll_echo", "textbook level-triggered epoll loop" },
    { "go_echo", 0, IN_PEER_DIR, "go_echo",
      "Go net: a goroutine per connection, io.Copy(conn, conn)" },
    { "node_echo", 0, NODE_SCRIPT, "node_echo.js", "Node.js: net.createServer, socket.pipe(socket)" },
    { "socat", 0, IN_PATH, "socat", "socat TCP-LISTEN:PORT,fork EXEC:cat (a process pair per connection)" },
    { "ncat", 0, IN_PATH, "ncat", "ncat -l -k --exec /bin/cat (a cat per connection)" },
    { "udp_echo", 1, IN_PEER_DIR, "udp_echo", "textbook recvfrom/sendto loop" },
};
#define NPEER_DEFS (sizeof peer_defs / sizeof *peer_defs)

static int in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p != '\0'; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == '\0'))
            return 1;
    }
    return 0;
}

void compare_check_names(const char *list, const char *what, int udp)
{
    if (list == NULL || strcmp(list, "none") == 0)
        return;
    char copy[512];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        int ok = 0;
        if (strcmp(what, "model") == 0) {
            const struct sk_model *m = sk_model_find(tok);
            if (m == NULL)
                cli_usage_error("unknown model '%s' (try 'sockit serve --model list')", tok);
            if (!(m->flags & (udp ? SK_MODEL_UDP : SK_MODEL_TCP)))
                cli_usage_error("model '%s' does not serve %s", tok, udp ? "UDP" : "TCP");
            ok = 1;
        } else {
            for (size_t i = 0; i < NPEER_DEFS; i++)
                if (strcmp(peer_defs[i].name, tok) == 0) {
                    if (peer_defs[i].udp != udp)
                        cli_usage_error("peer '%s' is a %s server", tok,
                                        peer_defs[i].udp ? "UDP" : "TCP");
                    ok = 1;
                }
            if (!ok)
                cli_usage_error("unknown peer '%s'", tok);
        }
    }
}

/* Find name in PATH; 1 and its path in out if found. */
static int find_in_path(const char *name, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        snprintf(out, cap, "%.*s/%s", (int)len, path, name);
        if (len > 0 && access(out, X_OK) == 0)
            return 1;
        path += len;
        if (*path == ':')
            path++;
    }
    return 0;
}

int compare_add_servers(const struct options *o, struct server *servers)
{
    int n = 0;
    unsigned need = o->udp ? SK_MODEL_UDP : SK_MODEL_TCP;
    if (o->models == NULL || strcmp(o->models, "none") != 0) {
        for (const struct sk_model *const *m = sk_model_list(); *m != NULL; m++) {
            if (!((*m)->flags & need) || (o->models != NULL && !in_list(o->models, (*m)->name)))
                continue;
            struct server *s = &servers[n++];
            memset(s, 0, sizeof *s);
            compare_note(s->name, sizeof s->name, "%s", (*m)->name);
            s->is_model = 1;
            const char *why;
            if (sk_model_probe(*m, &why) < 0)
                compare_note(s->skip, sizeof s->skip, "cannot run here: %s", why ? why : "probe failed");
        }
    }
    if (o->peers != NULL && strcmp(o->peers, "none") == 0)
        return n;
    for (size_t i = 0; i < NPEER_DEFS && n < COMPARE_MAX_SERVERS; i++) {
        const struct peer_def *d = &peer_defs[i];
        if (d->udp != o->udp || (o->peers != NULL && !in_list(o->peers, d->name)))
            continue;
        struct server *s = &servers[n++];
        memset(s, 0, sizeof *s);
        compare_note(s->name, sizeof s->name, "%s", d->name);
        s->peer = d;
        switch (d->where) {
        case IN_PEER_DIR:
            compare_note(s->program, sizeof s->program, "%s/%s", o->peer_dir, d->file);
            if (access(s->program, X_OK) != 0)
                compare_note(s->skip, sizeof s->skip, "not built (%s missing; run 'make peers')",
                         s->program);
            break;
        case NODE_SCRIPT:
            compare_note(s->script, sizeof s->script, "%s/%s", o->peer_dir, d->file);
            if (!find_in_path("node", s->program, sizeof s->program))
                compare_note(s->skip, sizeof s->skip, "node is not in PATH");
            else if (access(s->script, R_OK) != 0)
                compare_note(s->skip, sizeof s->skip, "%s missing; run 'make peers'", s->script);
            break;
        case IN_PATH:
            if (!find_in_path(d->file, s->program, sizeof s->program))
                compare_note(s->skip, sizeof s->skip, "%s is not in PATH", d->file);
            break;
        }
    }
    return n;
}

/* Build the command line that starts server s; port_text is used by the
 * peers that cannot choose their own port. */
void compare_server_argv(const struct server *s, int udp, const char *port_text, char *bufs,
                        size_t bufcap, char **argv)
{
    int n = 0;
    if (s->is_model) {
        argv[n++] = compare_self_path;
        argv[n++] = "serve";
        argv[n++] = "echo";
        argv[n++] = "-m";
        argv[n++] = (char *)s->name;
        argv[n++] = "-l";
        argv[n++] = "127.0.0.1";
        argv[n++] = "-p";
        argv[n++] = "0";
        argv[n++] = "-q"; /* a log line per connection is not what we measure */
        if (udp)
            argv[n++] = "-u";
    } else if (s->peer->where == NODE_SCRIPT) {
        argv[n++] = (char *)s->program;
        argv[n++] = (char *)s->script;
        argv[n++] = "0";
    } else if (strcmp(s->peer->name, "socat") == 0) {
        /* backlog=511 as every other server here (socat's default is 5,
         * which would refuse a burst of connections, not measure echo). */
        snprintf(bufs, bufcap, "TCP-LISTEN:%s,bind=127.0.0.1,reuseaddr,fork,backlog=511",
                 port_text);
        argv[n++] = (char *)s->program;
        argv[n++] = bufs;
        argv[n++] = "EXEC:cat";
    } else if (strcmp(s->peer->name, "ncat") == 0) {
        /* --max-conns: ncat's default of 100 would refuse the larger points. */
        argv[n++] = (char *)s->program;
        argv[n++] = "-l";
        argv[n++] = "-k";
        argv[n++] = "--max-conns";
        argv[n++] = "1000";
        argv[n++] = "127.0.0.1";
        argv[n++] = (char *)port_text;
        argv[n++] = "--exec";
        argv[n++] = "/bin/cat";
    } else {
        argv[n++] = (char *)s->program;
        argv[n++] = "0";
    }
    argv[n] = NULL;
}

int compare_prints_ready_line(const struct server *s)
{
    return s->is_model || s->peer->where != IN_PATH;
}
