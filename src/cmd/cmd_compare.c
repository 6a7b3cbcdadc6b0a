/*
 * cmd_compare.c - `sockit compare`: sockit's models against other echo
 * servers, measured the same way, one at a time, on this machine.
 *
 * Each run starts one server on 127.0.0.1 (a sockit model through this
 * same binary, or a peer: the programs of bench/peers/, socat, ncat),
 * waits for it to listen, drives it with `sockit bench --json` (this
 * binary again, /proc/self/exe) and stops it.  The server is pinned to
 * one CPU and the load generator to another (sched_setaffinity in the
 * child before exec), so neither steals the other's core.  Runs are
 * interleaved - at each matrix point every server once, then every server
 * again, --repeat times - so a slow drift of the machine (frequency,
 * a neighbour on the host) spreads over all servers instead of landing
 * on one.  Each point reports the median messages/s with the min-max
 * range and the median p99.
 *
 * The server's CPU time comes from /proc/PID/stat, summed over its
 * process group (every server runs in a group of its own, so the fork
 * model's and socat's children count too): utime against stime tells how
 * much of an echo server's time is its own code rather than the kernel's
 * socket work.
 *
 * Children: servers and bench runs each get their own process group and
 * die with us (PR_SET_PDEATHSIG); we are a child subreaper, so whatever a
 * server forks is ours to reap; Ctrl-C, SIGTERM and every exit path stop
 * the current server group and bench before we go.  Linux only.
 */
#include "cli.h"
#include "sk_compat.h"
#include "sk_server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char help_text[] =
    "usage: sockit compare [options]\n"
    "\n"
    "Start each sockit model that runs here, then each peer echo server\n"
    "(libuv, libevent, textbook epoll, Node.js, socat, ncat; for --udp the\n"
    "textbook recvfrom/sendto loop), one at a time on 127.0.0.1, and load\n"
    "each with 'sockit bench' over a matrix of connections x message sizes x\n"
    "depths.  The server runs on one CPU and the load generator on another.\n"
    "Runs are interleaved (A B C A B C ...) and repeated; each point reports\n"
    "the median msgs/s with its min-max, the median p99 latency, errors, the\n"
    "server's CPU use and its user-space share (utime / (utime + stime)), and\n"
    "the load generator's CPU.  A server that fails to start, or a run with\n"
    "errors, is shown as such.\n"
    "\n"
    "options:\n"
    "      --models LIST     sockit models, comma-separated, or 'none'\n"
    "                        (default: every model that runs here)\n"
    "      --peers LIST      peers, comma-separated, or 'none' (default: all;\n"
    "                        TCP: uv_echo,event_echo,epoll_echo,node_echo,\n"
    "                        socat,ncat; UDP: udp_echo)\n"
    "      --conns LIST      connections (UDP: sockets) (default 1,50,500)\n"
    "      --sizes LIST      message sizes in bytes (default 128,4096)\n"
    "      --depths LIST     messages in flight per connection (default 1,16)\n"
    "      --repeat N        runs of each server at each point (default 3)\n"
    "      --duration SEC    length of each run (default 2)\n"
    "  -u, --udp             compare UDP echo servers\n"
    "      --quick           a tiny matrix (1,8 conns x 128 B x depth 1,\n"
    "                        one 0.3 s run); options given still apply\n"
    "      --json FILE       also write every run and the summary as JSON\n"
    "      --markdown FILE   also write the tables as Markdown\n"
    "      --peer-dir DIR    where 'make peers' put the peers\n"
    "                        (default: peers/ beside this program)\n"
    "      --server-cpu N    CPU for the servers (default: the first allowed)\n"
    "      --client-cpu N    CPU for the load generator (default: the second)\n"
    "  -h, --help            this text\n";

#define MAX_LIST 16
#define MAX_SERVERS 32
#define MAX_ARGS 24
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 3000
#define BENCH_TIMEOUT_S 2
#define NOTE_LEN 200
/* A bench run gets its duration, its connect and drain timeouts and this
 * much more (connecting 500 clients to a server that forks a process per
 * connection takes a while) before it is killed. */
#define BENCH_GRACE_MS 30000
#define HUNG_NOTE "bench overran its time by more than 30 s and was killed"

static sk_flag_t stop_requested;

/* ---- what we run ---------------------------------------------------------- */

enum peer_where { IN_PEER_DIR, NODE_SCRIPT, IN_PATH };

struct peer_def {
    const char *name;
    int udp;
    enum peer_where where;
    const char *file;    /* program or script */
    const char *summary;
};

static const struct peer_def peer_defs[] = {
    { "uv_echo", 0, IN_PEER_DIR, "uv_echo", "libuv: uv_read_start + uv_write (the uvbook echo)" },
    { "event_echo", 0, IN_PEER_DIR, "event_echo",
      "libevent: bufferevent, input moved to output" },
    { "epoll_echo", 0, IN_PEER_DIR, "epoll_echo", "textbook level-triggered epoll loop" },
    { "node_echo", 0, NODE_SCRIPT, "node_echo.js", "Node.js: net.createServer, socket.pipe(socket)" },
    { "socat", 0, IN_PATH, "socat", "socat TCP-LISTEN:PORT,fork EXEC:cat (a process pair per connection)" },
    { "ncat", 0, IN_PATH, "ncat", "ncat -l -k --exec /bin/cat (a cat per connection)" },
    { "udp_echo", 1, IN_PEER_DIR, "udp_echo", "textbook recvfrom/sendto loop" },
};
#define NPEER_DEFS (sizeof peer_defs / sizeof *peer_defs)

struct server {
    char name[32];
    int is_model;
    const struct peer_def *peer; /* NULL for a model */
    char program[512];           /* peer program, or node */
    char script[512];            /* node_echo.js */
    char skip[NOTE_LEN];         /* non-empty: not run, and why */
    char start_note[NOTE_LEN];   /* last failure to start */
    int start_failures_in_row;
};

struct run {
    int have;                   /* bench produced a final object */
    char note[NOTE_LEN];        /* why not, or what went wrong */
    double msgs_per_s, p50_us, p99_us, errors, duration_s;
    double gen_cpu_s, gen_us_per_msg;
    double srv_user_s, srv_sys_s, wall_s;
};

struct point {
    int conns, depth;
    long size;
};

/* Per server and point: the runs and their summary. */
struct cell {
    struct run *runs; /* repeat of them */
    int nhave;
    double med_rate, min_rate, max_rate, med_p99, med_gen_us;
    double errors, user_s, sys_s, wall_s, gen_cpu_s, dur_s;
    int failed_runs; /* runs without a result */
};

struct options {
    int udp, repeat, quick;
    double duration_s;
    int conns[MAX_LIST], nconns;
    long sizes[MAX_LIST];
    int nsizes;
    int depths[MAX_LIST], ndepths;
    const char *models, *peers, *json_path, *md_path, *peer_dir;
    int server_cpu, client_cpu, pin;
};

static char self_path[512];
static char work_dir[256];
static long clock_ticks;

/* snprintf for notes, where cutting a long message short is intended. */
static void set_note(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_note(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

/* ---- children and clean-up ------------------------------------------------ */

static pid_t live_server = -1; /* also its process group */
static pid_t live_bench = -1;

static void kill_group(pid_t pgid, int sig)
{
    if (pgid > 0)
        kill(-pgid, sig);
}

/* Stop a process group led by pid: SIGTERM, a grace period, SIGKILL;
 * returns the leader's wait status. */
static int stop_group(pid_t pid)
{
    int status = 0;
    kill_group(pid, SIGTERM);
    uint64_t deadline = sk_now_ms() + STOP_TIMEOUT_MS;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            break;
        if (sk_now_ms() > deadline) {
            kill_group(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    /* Whatever the leader left behind (socat's and fork's children). */
    kill_group(pid, SIGKILL);
    return status;
}

/* Reap every orphan handed to us as subreaper. */
static void reap_orphans(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

static void remove_work_dir(void)
{
    if (work_dir[0] == '\0')
        return;
    DIR *d = opendir(work_dir);
    if (d != NULL) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s", work_dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(work_dir);
    work_dir[0] = '\0';
}

/* atexit: every path out (cli_fail included) leaves no child behind. */
static void cleanup_children(void)
{
    if (live_bench > 0) {
        kill_group(live_bench, SIGKILL);
        waitpid(live_bench, NULL, 0);
        live_bench = -1;
    }
    if (live_server > 0) {
        stop_group(live_server);
        live_server = -1;
    }
    reap_orphans();
    remove_work_dir();
}

/* Fork and exec argv in a process group of its own, pinned to cpu (if
 * >= 0), stdin from /dev/null, stdout and stderr to the given fds. */
static pid_t spawn(char *const argv[], int cpu, int out_fd, int err_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid > 0)
        setpgid(pid, pid); /* as the child does: whichever runs first */
    if (pid != 0)
        return pid;
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* we died before the line above */
        _exit(127);
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    /* sk_compat_init ignored SIGPIPE; an exec'd program expects the default. */
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0)
        dup2(in, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execv(argv[0], argv);
    dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* ---- measuring a process group's CPU ------------------------------------- */

/* utime and stime, in clock ticks, of every process in group pgid,
 * with the children each has reaped (cutime, cstime). */
static void group_cpu(pid_t pgid, double *user, double *sys)
{
    *user = *sys = 0;
    DIR *d = opendir("/proc");
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%.20s/stat", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        /* The name (field 2) may hold spaces and parentheses: fields
         * resume after the last ')'. */
        char *p = strrchr(buf, ')');
        if (p == NULL)
            continue;
        /* state ppid pgrp session tty tpgid flags minflt cminflt majflt
         * cmajflt utime stime cutime cstime */
        char state;
        long ppid, pgrp, session, tty, tpgid;
        unsigned long flags, minflt, cminflt, majflt, cmajflt, ut, st;
        long cut, cst;
        if (sscanf(p + 1, " %c %ld %ld %ld %ld %ld %lu %lu %lu %lu %lu %lu %lu %ld %ld", &state,
                   &ppid, &pgrp, &session, &tty, &tpgid, &flags, &minflt, &cminflt, &majflt,
                   &cmajflt, &ut, &st, &cut, &cst) != 15)
            continue;
        if (pgrp != pgid)
            continue;
        *user += (double)ut + (double)cut;
        *sys += (double)st + (double)cst;
    }
    closedir(d);
}

/* ---- starting a server ----------------------------------------------------- */

/* A port nobody uses right now, for peers that cannot pick their own. */
static int free_port(int udp)
{
    int fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* 1 if something listens on 127.0.0.1:port (TCP), from /proc/net/tcp. */
static int port_listening(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    if (f == NULL)
        return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        unsigned addr, lport, st;
        if (sscanf(line, " %*d: %8x:%4x %*x:%*x %x", &addr, &lport, &st) == 3 &&
            (int)lport == port && st == 0x0A)
            found = 1;
    }
    fclose(f);
    return found;
}

/* The port of the first "listening on ... port N" line in a log file. */
static int ready_port(const char *log_path)
{
    FILE *f = fopen(log_path, "r");
    if (f == NULL)
        return -1;
    char line[512];
    int port = -1;
    while (port < 0 && fgets(line, sizeof line, f) != NULL) {
        const char *p = strstr(line, "listening on ");
        if (p != NULL && (p = strstr(p, " port ")) != NULL) {
            char *end;
            long v = strtol(p + 6, &end, 10);
            if (end != p + 6 && v > 0 && v < 65536)
                port = (int)v;
        }
    }
    fclose(f);
    return port;
}

/* The last non-empty line of a file, for failure notes. */
static void last_line(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] != '\0')
            set_note(out, cap, "%s", line);
    }
    fclose(f);
}

/* Build the command line that starts server s; port_text is used by the
 * peers that cannot choose their own port. */
static void server_argv(const struct server *s, int udp, const char *port_text, char *bufs,
                        size_t bufcap, char **argv)
{
    int n = 0;
    if (s->is_model) {
        argv[n++] = self_path;
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

static int prints_ready_line(const struct server *s)
{
    return s->is_model || s->peer->where != IN_PATH;
}

/* Start s pinned to cpu; returns its port (and sets live_server), or -1
 * with the reason in note. */
static int start_server(struct server *s, const struct options *o, char *note, size_t cap)
{
    char log_path[300], port_text[16], buf[160];
    char *argv[MAX_ARGS];
    snprintf(log_path, sizeof log_path, "%s/server.log", work_dir);
    int fixed_port = -1;
    if (!prints_ready_line(s)) {
        fixed_port = free_port(o->udp);
        if (fixed_port < 0) {
            set_note(note, cap, "no free port");
            return -1;
        }
    }
    snprintf(port_text, sizeof port_text, "%d", fixed_port);
    server_argv(s, o->udp, port_text, buf, sizeof buf, argv);
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0)
        cli_fail("cannot write '%s': %s", log_path, strerror(errno));
    pid_t pid = spawn(argv, o->pin ? o->server_cpu : -1, log_fd, log_fd);
    close(log_fd);
    if (pid < 0) {
        set_note(note, cap, "fork: %s", strerror(errno));
        return -1;
    }
    live_server = pid;
    uint64_t deadline = sk_now_ms() + START_TIMEOUT_MS;
    for (;;) {
        int port = fixed_port > 0 ? (port_listening(fixed_port) ? fixed_port : -1)
                                  : ready_port(log_path);
        if (port > 0)
            return port;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            live_server = -1;
            kill_group(pid, SIGKILL);
            char last[NOTE_LEN - 40];
            last_line(log_path, last, sizeof last);
            set_note(note, cap, "exited with status %d%s%s",
                     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                     last[0] ? ": " : "", last);
            return -1;
        }
        if (stop_requested || sk_now_ms() > deadline) {
            stop_group(pid);
            live_server = -1;
            set_note(note, cap, stop_requested ? "interrupted" : "not listening after %d s",
                     START_TIMEOUT_MS / 1000);
            return -1;
        }
        struct timespec ts = { 0, 2 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

/* ---- one bench run ----------------------------------------------------------- */

static int json_number(const char *obj, const char *key, double *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(obj, pat);
    if (p == NULL)
        return -1;
    char *end;
    *out = strtod(p + strlen(pat), &end);
    return end == p + strlen(pat) ? -1 : 0;
}

/* Run `sockit bench` against port; fills r from its final JSON object. */
static void run_bench(const struct options *o, const struct point *pt, int port, struct run *r)
{
    char port_s[16], conns_s[16], size_s[24], depth_s[16], dur_s[32], tmo_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    snprintf(conns_s, sizeof conns_s, "%d", pt->conns);
    snprintf(size_s, sizeof size_s, "%ld", pt->size);
    snprintf(depth_s, sizeof depth_s, "%d", pt->depth);
    snprintf(dur_s, sizeof dur_s, "%.3f", o->duration_s);
    snprintf(tmo_s, sizeof tmo_s, "%d", BENCH_TIMEOUT_S);
    char *argv[MAX_ARGS];
    int n = 0;
    argv[n++] = self_path;
    argv[n++] = "bench";
    argv[n++] = "127.0.0.1";
    argv[n++] = port_s;
    argv[n++] = "-c";
    argv[n++] = conns_s;
    argv[n++] = "-s";
    argv[n++] = size_s;
    argv[n++] = "-d";
    argv[n++] = depth_s;
    argv[n++] = "-t";
    argv[n++] = dur_s;
    argv[n++] = "--timeout";
    argv[n++] = tmo_s;
    argv[n++] = "--json";
    if (o->udp)
        argv[n++] = "-u";
    argv[n] = NULL;

    char err_path[300];
    snprintf(err_path, sizeof err_path, "%s/bench.err", work_dir);
    int err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int pipe_fd[2];
    if (err_fd < 0 || sk_pipe(pipe_fd) < 0)
        cli_fail("cannot set up a bench run: %s", strerror(errno));
    pid_t pid = spawn(argv, o->pin ? o->client_cpu : -1, pipe_fd[1], err_fd);
    close(pipe_fd[1]);
    close(err_fd);
    if (pid < 0) {
        close(pipe_fd[0]);
        set_note(r->note, sizeof r->note, "fork: %s", strerror(errno));
        return;
    }
    live_bench = pid;

    /* Collect stdout; the final object is the last line.  A bench that
     * outlives its duration, the connect and drain timeouts and a margin
     * is killed. */
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    if (out == NULL)
        cli_fail("out of memory");
    uint64_t deadline = sk_now_ms() + (uint64_t)(o->duration_s * 1000) +
                        (uint64_t)(3 * BENCH_TIMEOUT_S * 1000) + BENCH_GRACE_MS;
    int hung = 0, interrupted = 0;
    for (;;) {
        if (stop_requested && !interrupted) {
            interrupted = 1;
            kill_group(pid, SIGINT); /* bench stops early and still reports */
        }
        if (sk_now_ms() > deadline) {
            hung = 1;
            kill_group(pid, SIGKILL);
        }
        struct pollfd pfd = { pipe_fd[0], POLLIN, 0 };
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        if (len + 4096 > cap) {
            cap *= 2;
            char *bigger = realloc(out, cap);
            if (bigger == NULL)
                cli_fail("out of memory");
            out = bigger;
        }
        ssize_t got = read(pipe_fd[0], out + len, cap - len - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    close(pipe_fd[0]);
    out[len] = '\0';
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    live_bench = -1;

    char *final = NULL;
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n"))
        if (strstr(line, "\"type\":\"final\"") != NULL)
            final = line;
    if (final != NULL && json_number(final, "msgs_per_s", &r->msgs_per_s) == 0) {
        double user = 0, sys = 0;
        r->have = 1;
        json_number(final, "p50_us", &r->p50_us);
        json_number(final, "p99_us", &r->p99_us);
        json_number(final, "errors", &r->errors);
        json_number(final, "duration_s", &r->duration_s);
        json_number(final, "cpu_user_s", &user);
        json_number(final, "cpu_sys_s", &sys);
        json_number(final, "cpu_us_per_msg", &r->gen_us_per_msg);
        r->gen_cpu_s = user + sys;
        if (r->errors > 0) {
            /* Name the kinds of error, as bench's own summary does. */
            static const char *const kinds[] = { "timeouts", "resets", "short_replies",
                                                 "connect_failures", "mismatches",
                                                 "udp_lost", "udp_duplicates" };
            size_t used = 0;
            for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
                double v;
                if (json_number(final, kinds[i], &v) == 0 && v > 0 && used < sizeof r->note)
                    used += (size_t)snprintf(r->note + used, sizeof r->note - used, "%s%s %.0f",
                                             used ? ", " : "", kinds[i], v);
            }
        }
    } else {
        char last[NOTE_LEN - 40];
        last_line(err_path, last, sizeof last);
        set_note(r->note, sizeof r->note, "%s%s%s", hung ? HUNG_NOTE :
                 interrupted ? "interrupted" : "bench failed", last[0] ? ": " : "", last);
    }
    if (hung && r->have)
        set_note(r->note, sizeof r->note, "bench overran its time and was killed");
    /* A run cut short by Ctrl-C, or one where nothing came back at all,
     * measured nothing: it counts as failed, not as a rate of zero. */
    if (r->have && interrupted) {
        r->have = 0;
        set_note(r->note, sizeof r->note, "interrupted");
    } else if (r->have && r->msgs_per_s <= 0 && r->errors == 0) {
        r->have = 0;
        set_note(r->note, sizeof r->note, "no reply arrived");
    }
    free(out);
}

/* One run: start the server, bench it, read its CPU, stop it. */
static void run_one(struct server *s, const struct options *o, const struct point *pt,
                    struct run *r)
{
    memset(r, 0, sizeof *r);
    if (s->start_failures_in_row >= 3) {
        set_note(r->note, sizeof r->note, "not started (failed 3 times: %s)", s->start_note);
        return;
    }
    char note[NOTE_LEN];
    int port = start_server(s, o, note, sizeof note);
    if (port < 0) {
        s->start_failures_in_row++;
        set_note(s->start_note, sizeof s->start_note, "%s", note);
        set_note(r->note, sizeof r->note, "failed to start: %s", note);
        return;
    }
    s->start_failures_in_row = 0;
    pid_t pid = live_server;
    double u0, s0, u1, s1;
    group_cpu(pid, &u0, &s0);
    uint64_t t0 = sk_now_ns();
    run_bench(o, pt, port, r);
    group_cpu(pid, &u1, &s1);
    r->wall_s = (double)(sk_now_ns() - t0) / 1e9;
    r->srv_user_s = (u1 - u0) / (double)clock_ticks;
    r->srv_sys_s = (s1 - s0) / (double)clock_ticks;
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
        live_server = -1;
        kill_group(pid, SIGKILL);
        char last[NOTE_LEN - 60], log_path[300];
        snprintf(log_path, sizeof log_path, "%s/server.log", work_dir);
        last_line(log_path, last, sizeof last);
        set_note(r->note, sizeof r->note, "server died during the run (status %d)%s%s",
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                 last[0] ? ": " : "", last);
        if (r->have && r->errors == 0)
            r->errors = 1; /* a crash is an error even if bench saw none */
    } else {
        stop_group(pid);
        live_server = -1;
    }
    reap_orphans();
}

/* ---- statistics ------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void summarise(struct cell *c, int repeat)
{
    double rates[64], p99s[64], gens[64];
    c->nhave = 0;
    c->errors = c->user_s = c->sys_s = c->wall_s = c->gen_cpu_s = c->dur_s = 0;
    c->failed_runs = 0;
    for (int i = 0; i < repeat; i++) {
        const struct run *r = &c->runs[i];
        if (!r->have) {
            c->failed_runs++;
            continue;
        }
        rates[c->nhave] = r->msgs_per_s;
        p99s[c->nhave] = r->p99_us;
        gens[c->nhave] = r->gen_us_per_msg;
        c->nhave++;
        c->errors += r->errors;
        c->user_s += r->srv_user_s;
        c->sys_s += r->srv_sys_s;
        c->wall_s += r->wall_s;
        c->gen_cpu_s += r->gen_cpu_s;
        c->dur_s += r->duration_s;
    }
    c->min_rate = c->max_rate = 0;
    for (int i = 0; i < c->nhave; i++) {
        if (i == 0 || rates[i] < c->min_rate)
            c->min_rate = rates[i];
        if (i == 0 || rates[i] > c->max_rate)
            c->max_rate = rates[i];
    }
    c->med_rate = median(rates, c->nhave);
    c->med_p99 = median(p99s, c->nhave);
    c->med_gen_us = median(gens, c->nhave);
}

/* A cell counts toward a server's summary only when every run worked. */
static int cell_clean(const struct cell *c)
{
    return c->nhave > 0 && c->failed_runs == 0 && c->errors == 0;
}

static double share(double part, double whole)
{
    return whole > 0 ? 100.0 * part / whole : 0;
}

struct summary {
    double geomean, worst_p99_ratio, user_s, sys_s, gen_us;
    int clean_points, p99_worse, complete;
};

/* ---- parsing ------------------------------------------------------------------ */

static int parse_int_list(const char *text, int *out, long min, long max, const char *what)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", text);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_LIST)
            cli_usage_error("%s: at most %d values", what, MAX_LIST);
        out[n++] = (int)cli_parse_long(tok, min, max, what);
    }
    if (n == 0)
        cli_usage_error("%s needs at least one value", what);
    return n;
}

static int in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p != '\0'; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == '\0'))
            return 1;
    }
    return 0;
}

/* Every name in list must be one of known (NULL-terminated via count). */
static void check_names(const char *list, const char *what, int udp)
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

static int add_servers(const struct options *o, struct server *servers)
{
    int n = 0;
    unsigned need = o->udp ? SK_MODEL_UDP : SK_MODEL_TCP;
    if (o->models == NULL || strcmp(o->models, "none") != 0) {
        for (const struct sk_model *const *m = sk_model_list(); *m != NULL; m++) {
            if (!((*m)->flags & need) || (o->models != NULL && !in_list(o->models, (*m)->name)))
                continue;
            struct server *s = &servers[n++];
            memset(s, 0, sizeof *s);
            set_note(s->name, sizeof s->name, "%s", (*m)->name);
            s->is_model = 1;
            const char *why;
            if (sk_model_probe(*m, &why) < 0)
                set_note(s->skip, sizeof s->skip, "cannot run here: %s", why ? why : "probe failed");
        }
    }
    if (o->peers != NULL && strcmp(o->peers, "none") == 0)
        return n;
    for (size_t i = 0; i < NPEER_DEFS && n < MAX_SERVERS; i++) {
        const struct peer_def *d = &peer_defs[i];
        if (d->udp != o->udp || (o->peers != NULL && !in_list(o->peers, d->name)))
            continue;
        struct server *s = &servers[n++];
        memset(s, 0, sizeof *s);
        set_note(s->name, sizeof s->name, "%s", d->name);
        s->peer = d;
        switch (d->where) {
        case IN_PEER_DIR:
            set_note(s->program, sizeof s->program, "%s/%s", o->peer_dir, d->file);
            if (access(s->program, X_OK) != 0)
                set_note(s->skip, sizeof s->skip, "not built (%s missing; run 'make peers')",
                         s->program);
            break;
        case NODE_SCRIPT:
            set_note(s->script, sizeof s->script, "%s/%s", o->peer_dir, d->file);
            if (!find_in_path("node", s->program, sizeof s->program))
                set_note(s->skip, sizeof s->skip, "node is not in PATH");
            else if (access(s->script, R_OK) != 0)
                set_note(s->skip, sizeof s->skip, "%s missing; run 'make peers'", s->script);
            break;
        case IN_PATH:
            if (!find_in_path(d->file, s->program, sizeof s->program))
                set_note(s->skip, sizeof s->skip, "%s is not in PATH", d->file);
            break;
        }
    }
    return n;
}

/* ---- output -------------------------------------------------------------------- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void fmt_rate(char *out, size_t cap, double v)
{
    /* Thousands separated by commas: easier to compare down a column. */
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t len = strlen(digits), o = 0;
    for (size_t i = 0; i < len && o + 2 < cap; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static const char *point_label(const struct point *p, int udp, char *buf, size_t cap)
{
    snprintf(buf, cap, "%d %s x %ld B, depth %d", p->conns,
             udp ? (p->conns == 1 ? "socket" : "sockets")
                 : (p->conns == 1 ? "connection" : "connections"),
             p->size, p->depth);
    return buf;
}

struct report {
    const struct options *o;
    struct server *servers;
    int nservers;
    struct point *points;
    int npoints;
    struct cell *cells; /* [point * nservers + server] */
    struct summary *sums;
    int best_peer, best_model;
    char machine[256];
    char date[64];
    int interrupted;
};

static struct cell *cell_at(const struct report *rp, int p, int s)
{
    return &rp->cells[p * rp->nservers + s];
}

/* What a cell shows in place of numbers when it has none, or NULL. */
static const char *cell_status(const struct report *rp, int p, int s, char *buf, size_t cap)
{
    const struct server *sv = &rp->servers[s];
    const struct cell *c = cell_at(rp, p, s);
    if (sv->skip[0])
        return "skipped";
    if (c->nhave == 0) {
        snprintf(buf, cap, "%s", c->runs[0].note[0] ? c->runs[0].note : "no result");
        return buf;
    }
    return NULL;
}

static void compute_summaries(struct report *rp)
{
    rp->best_peer = rp->best_model = -1;
    for (int s = 0; s < rp->nservers; s++) {
        struct summary *sm = &rp->sums[s];
        memset(sm, 0, sizeof *sm);
        double logsum = 0, gen_sum = 0;
        int gens = 0;
        for (int p = 0; p < rp->npoints; p++) {
            const struct cell *c = cell_at(rp, p, s);
            sm->user_s += c->user_s;
            sm->sys_s += c->sys_s;
            if (c->nhave > 0 && c->med_gen_us > 0) {
                gen_sum += log(c->med_gen_us);
                gens++;
            }
            if (cell_clean(c) && c->med_rate > 0) {
                sm->clean_points++;
                logsum += log(c->med_rate);
            }
        }
        sm->complete = sm->clean_points == rp->npoints && !rp->servers[s].skip[0];
        sm->geomean = sm->complete ? exp(logsum / rp->npoints) : 0;
        sm->gen_us = gens ? exp(gen_sum / gens) : 0;
        int *best = rp->servers[s].is_model ? &rp->best_model : &rp->best_peer;
        if (sm->complete && (*best < 0 || sm->geomean > rp->sums[*best].geomean))
            *best = s;
    }
    for (int s = 0; s < rp->nservers; s++) {
        struct summary *sm = &rp->sums[s];
        if (rp->best_peer < 0)
            continue;
        for (int p = 0; p < rp->npoints; p++) {
            const struct cell *c = cell_at(rp, p, s), *b = cell_at(rp, p, rp->best_peer);
            if (!cell_clean(c) || !cell_clean(b) || b->med_p99 <= 0)
                continue;
            double ratio = c->med_p99 / b->med_p99;
            if (ratio > sm->worst_p99_ratio)
                sm->worst_p99_ratio = ratio;
            if (c->med_p99 > b->med_p99)
                sm->p99_worse++;
        }
    }
}

/* The tables, as text (md = 0) or Markdown (md = 1). */
static void print_tables(FILE *f, const struct report *rp, int md)
{
    const struct options *o = rp->o;
    char label[96], a[32], b[32], c[32], buf[NOTE_LEN];
    const char *proto = o->udp ? "UDP" : "TCP";
    if (md) {
        fprintf(f, "%s echo, %d run%s of %.1f s per server and point, interleaved; "
                   "server on CPU %d, load generator on CPU %d.  msgs/s is the median "
                   "(min-max over the runs), p99 the median p99; srv cpu is the server's "
                   "CPU use, user its user-space share; gen cpu the load generator's.\n\n",
                proto, o->repeat, o->repeat == 1 ? "" : "s", o->duration_s, o->server_cpu,
                o->client_cpu);
    } else {
        fprintf(f, "sockit compare: %s echo on 127.0.0.1, %d run%s of %.1f s per server and "
                   "point, interleaved\n", proto, o->repeat, o->repeat == 1 ? "" : "s",
                o->duration_s);
        if (o->pin)
            fprintf(f, "servers on CPU %d, load generator on CPU %d; %s\n", o->server_cpu,
                    o->client_cpu, rp->machine);
        else
            fprintf(f, "one CPU only: nothing pinned; %s\n", rp->machine);
    }
    if (rp->interrupted)
        fprintf(f, md ? "**Interrupted: partial results.**\n\n" : "INTERRUPTED: partial results\n");

    for (int s = 0; s < rp->nservers; s++)
        if (rp->servers[s].skip[0])
            fprintf(f, md ? "- %s %s: skipped, %s\n" : "note: %s %s skipped: %s\n",
                    rp->servers[s].is_model ? "model" : "peer", rp->servers[s].name,
                    rp->servers[s].skip);
    if (md)
        fprintf(f, "\n");

    for (int p = 0; p < rp->npoints; p++) {
        point_label(&rp->points[p], o->udp, label, sizeof label);
        if (md)
            fprintf(f, "#### %s\n\n| server | kind | msgs/s | min-max | p99 us | errors | "
                       "srv cpu | srv user | gen cpu | gen us/msg |\n"
                       "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
                    label);
        else
            fprintf(f, "\n%s\n  %-11s %-5s %11s %23s %10s %7s %7s %8s %7s %10s\n", label,
                    "server", "kind", "msgs/s", "min-max", "p99 us", "errors", "srv cpu",
                    "srv user", "gen cpu", "gen us/msg");
        for (int s = 0; s < rp->nservers; s++) {
            const struct server *sv = &rp->servers[s];
            const struct cell *ce = cell_at(rp, p, s);
            const char *kind = sv->is_model ? "model" : "peer";
            const char *st = cell_status(rp, p, s, buf, sizeof buf);
            if (st != NULL) {
                if (md)
                    fprintf(f, "| %s | %s | %s | | | | | | | |\n", sv->name, kind, st);
                else
                    fprintf(f, "  %-11s %-5s %s\n", sv->name, kind, st);
                continue;
            }
            fmt_rate(a, sizeof a, ce->med_rate);
            fmt_rate(b, sizeof b, ce->min_rate);
            fmt_rate(c, sizeof c, ce->max_rate);
            char range[64], errs[48], srv[16], usr[16], gen[16];
            snprintf(range, sizeof range, "%s-%s", b, c);
            if (ce->failed_runs)
                snprintf(errs, sizeof errs, "%.0f +%d failed", ce->errors, ce->failed_runs);
            else
                snprintf(errs, sizeof errs, "%.0f", ce->errors);
            /* The first note of the point's runs gives an error count its cause. */
            const char *why = NULL;
            for (int i = 0; i < o->repeat && why == NULL && (ce->errors > 0 || ce->failed_runs); i++)
                if (ce->runs[i].note[0])
                    why = ce->runs[i].note;
            snprintf(srv, sizeof srv, "%.0f%%", share(ce->user_s + ce->sys_s, ce->wall_s));
            snprintf(usr, sizeof usr, "%.1f%%", share(ce->user_s, ce->user_s + ce->sys_s));
            snprintf(gen, sizeof gen, "%.0f%%", share(ce->gen_cpu_s, ce->dur_s));
            if (md)
                fprintf(f, "| %s | %s | %s | %s | %.1f | %s%s%s%s | %s | %s | %s | %.2f |\n",
                        sv->name, kind, a, range, ce->med_p99, errs, why ? " (" : "",
                        why ? why : "", why ? ")" : "", srv, usr, gen, ce->med_gen_us);
            else
                fprintf(f, "  %-11s %-5s %11s %23s %10.1f %7s %7s %8s %7s %10.2f%s%s\n",
                        sv->name, kind, a, range, ce->med_p99, errs, srv, usr, gen,
                        ce->med_gen_us, why ? "  " : "", why ? why : "");
        }
        if (md)
            fprintf(f, "\n");
    }

    const char *best = rp->best_peer >= 0 ? rp->servers[rp->best_peer].name : NULL;
    if (md)
        fprintf(f, "#### Summary over the %d points\n\n"
                   "geomean: geometric mean of the median msgs/s over every point (only "
                   "for servers with no error and no failure anywhere); x best peer: that "
                   "against the best peer's (%s); p99 worse: points where the median p99 is "
                   "above the best peer's, and the worst ratio; user: the server's "
                   "user-space share of its CPU time over all its runs.\n\n"
                   "| server | kind | geomean msgs/s | x best peer | p99 worse | worst p99 "
                   "ratio | user | clean points | gen us/msg |\n"
                   "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
                rp->npoints, best ? best : "none");
    else
        fprintf(f, "\nsummary over the %d points (best peer: %s)\n  %-11s %-5s %14s %11s "
                   "%9s %9s %7s %7s %10s\n", rp->npoints, best ? best : "none", "server", "kind",
                "geomean msgs/s", "x best peer", "p99 worse", "worst p99", "user", "clean",
                "gen us/msg");
    for (int s = 0; s < rp->nservers; s++) {
        const struct server *sv = &rp->servers[s];
        const struct summary *sm = &rp->sums[s];
        const char *kind = sv->is_model ? "model" : "peer";
        char geo[32], ratio[16], worse[16], worst[16], usr[16], clean[16];
        if (sv->skip[0]) {
            fprintf(f, md ? "| %s | %s | skipped | | | | | | |\n" : "  %-11s %-5s skipped\n",
                    sv->name, kind);
            continue;
        }
        if (sm->complete)
            fmt_rate(geo, sizeof geo, sm->geomean);
        else
            snprintf(geo, sizeof geo, "incomplete");
        if (sm->complete && rp->best_peer >= 0)
            snprintf(ratio, sizeof ratio, "%.2fx", sm->geomean / rp->sums[rp->best_peer].geomean);
        else
            snprintf(ratio, sizeof ratio, "-");
        snprintf(worse, sizeof worse, "%d", sm->p99_worse);
        snprintf(worst, sizeof worst, "%.2fx", sm->worst_p99_ratio);
        snprintf(usr, sizeof usr, "%.1f%%", share(sm->user_s, sm->user_s + sm->sys_s));
        snprintf(clean, sizeof clean, "%d/%d", sm->clean_points, rp->npoints);
        if (md)
            fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %.2f |\n", sv->name, kind, geo,
                    ratio, worse, worst, usr, clean, sm->gen_us);
        else
            fprintf(f, "  %-11s %-5s %14s %11s %9s %9s %7s %7s %10.2f\n", sv->name, kind, geo,
                    ratio, worse, worst, usr, clean, sm->gen_us);
    }
    if (md)
        fprintf(f, "\n");
}

static void write_json(FILE *f, const struct report *rp)
{
    const struct options *o = rp->o;
    fprintf(f, "{\"tool\":\"sockit compare\",\"proto\":\"%s\",\"date\":", o->udp ? "udp" : "tcp");
    json_string(f, rp->date);
    fprintf(f, ",\"machine\":");
    json_string(f, rp->machine);
    fprintf(f, ",\"interrupted\":%s,\"repeat\":%d,\"duration_s\":%.3f,\"pinned\":%s,"
               "\"server_cpu\":%d,\"client_cpu\":%d,\"best_peer\":",
            rp->interrupted ? "true" : "false", o->repeat, o->duration_s,
            o->pin ? "true" : "false", o->server_cpu, o->client_cpu);
    if (rp->best_peer >= 0)
        json_string(f, rp->servers[rp->best_peer].name);
    else
        fprintf(f, "null");
    fprintf(f, ",\"best_model\":");
    if (rp->best_model >= 0)
        json_string(f, rp->servers[rp->best_model].name);
    else
        fprintf(f, "null");
    fprintf(f, ",\n\"servers\":[");
    for (int s = 0; s < rp->nservers; s++) {
        const struct server *sv = &rp->servers[s];
        fprintf(f, "%s\n {\"name\":", s ? "," : "");
        json_string(f, sv->name);
        fprintf(f, ",\"kind\":\"%s\",\"summary\":", sv->is_model ? "model" : "peer");
        json_string(f, sv->is_model ? sk_model_find(sv->name)->summary : sv->peer->summary);
        fprintf(f, ",\"skipped\":");
        if (sv->skip[0])
            json_string(f, sv->skip);
        else
            fprintf(f, "null");
        fprintf(f, "}");
    }
    fprintf(f, "],\n\"points\":[");
    for (int p = 0; p < rp->npoints; p++) {
        const struct point *pt = &rp->points[p];
        fprintf(f, "%s\n {\"conns\":%d,\"size\":%ld,\"depth\":%d,\"results\":[", p ? "," : "",
                pt->conns, pt->size, pt->depth);
        for (int s = 0; s < rp->nservers; s++) {
            const struct cell *c = cell_at(rp, p, s);
            fprintf(f, "%s\n  {\"server\":", s ? "," : "");
            json_string(f, rp->servers[s].name);
            fprintf(f, ",\"status\":\"%s\"", rp->servers[s].skip[0] ? "skipped" :
                    c->nhave == 0 ? "failed" : cell_clean(c) ? "ok" : "errors");
            if (c->nhave > 0)
                fprintf(f, ",\"median_msgs_per_s\":%.1f,\"min_msgs_per_s\":%.1f,"
                           "\"max_msgs_per_s\":%.1f,\"median_p99_us\":%.1f,\"errors\":%.0f,"
                           "\"failed_runs\":%d,\"server_cpu_pct\":%.1f,\"server_user_pct\":%.2f,"
                           "\"gen_cpu_pct\":%.1f,\"gen_cpu_us_per_msg\":%.3f",
                        c->med_rate, c->min_rate, c->max_rate, c->med_p99, c->errors,
                        c->failed_runs, share(c->user_s + c->sys_s, c->wall_s),
                        share(c->user_s, c->user_s + c->sys_s), share(c->gen_cpu_s, c->dur_s),
                        c->med_gen_us);
            fprintf(f, ",\"runs\":[");
            for (int i = 0; i < (rp->servers[s].skip[0] ? 0 : o->repeat); i++) {
                const struct run *r = &c->runs[i];
                fprintf(f, "%s{", i ? "," : "");
                if (r->have)
                    fprintf(f, "\"msgs_per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
                               "\"errors\":%.0f,\"duration_s\":%.3f,\"server_user_s\":%.3f,"
                               "\"server_sys_s\":%.3f,\"wall_s\":%.3f,\"gen_cpu_s\":%.3f,"
                               "\"gen_cpu_us_per_msg\":%.3f,",
                            r->msgs_per_s, r->p50_us, r->p99_us, r->errors, r->duration_s,
                            r->srv_user_s, r->srv_sys_s, r->wall_s, r->gen_cpu_s,
                            r->gen_us_per_msg);
                fprintf(f, "\"note\":");
                json_string(f, r->note);
                fprintf(f, "}");
            }
            fprintf(f, "]}");
        }
        fprintf(f, "]}");
    }
    fprintf(f, "],\n\"summary\":[");
    for (int s = 0; s < rp->nservers; s++) {
        const struct summary *sm = &rp->sums[s];
        fprintf(f, "%s\n {\"server\":", s ? "," : "");
        json_string(f, rp->servers[s].name);
        fprintf(f, ",\"kind\":\"%s\",\"complete\":%s,\"geomean_msgs_per_s\":%.1f,"
                   "\"vs_best_peer\":%.3f,\"p99_worse_points\":%d,\"worst_p99_ratio\":%.3f,"
                   "\"clean_points\":%d,\"server_user_s\":%.3f,\"server_sys_s\":%.3f,"
                   "\"server_user_pct\":%.2f,\"gen_cpu_us_per_msg\":%.3f}",
                rp->servers[s].is_model ? "model" : "peer", sm->complete ? "true" : "false",
                sm->geomean,
                sm->complete && rp->best_peer >= 0 ? sm->geomean / rp->sums[rp->best_peer].geomean
                                                   : 0.0,
                sm->p99_worse, sm->worst_p99_ratio, sm->clean_points, sm->user_s, sm->sys_s,
                share(sm->user_s, sm->user_s + sm->sys_s), sm->gen_us);
    }
    fprintf(f, "]}\n");
}

static void describe_machine(char *out, size_t cap)
{
    char model[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof line, f) != NULL)
            if (strncmp(line, "model name", 10) == 0 && strchr(line, ':') != NULL) {
                char *v = strchr(line, ':') + 1;
                v += strspn(v, " \t");
                v[strcspn(v, "\n")] = '\0';
                snprintf(model, sizeof model, "%s", v);
                break;
            }
        fclose(f);
    }
    struct utsname u;
    if (uname(&u) != 0)
        snprintf(u.release, sizeof u.release, "?");
    snprintf(out, cap, "%s, %ld CPUs, Linux %s", model, sysconf(_SC_NPROCESSORS_ONLN),
             u.release);
}

static FILE *open_output(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        cli_fail("cannot write '%s': %s", path, strerror(errno));
    return f;
}

/* ---- the command ----------------------------------------------------------------- */

enum {
    OPT_MODELS = 256, OPT_PEERS, OPT_CONNS, OPT_SIZES, OPT_DEPTHS, OPT_REPEAT, OPT_DURATION,
    OPT_QUICK, OPT_JSON, OPT_MARKDOWN, OPT_PEER_DIR, OPT_SERVER_CPU, OPT_CLIENT_CPU
};

/* The first two CPUs we may run on, for the default pinning. */
static void default_cpus(struct options *o)
{
    cpu_set_t set;
    int first = -1, second = -1;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int i = 0; i < CPU_SETSIZE && second < 0; i++)
            if (CPU_ISSET(i, &set)) {
                if (first < 0)
                    first = i;
                else
                    second = i;
            }
    if (o->server_cpu < 0)
        o->server_cpu = first;
    if (o->client_cpu < 0)
        o->client_cpu = second >= 0 && second != o->server_cpu ? second : first;
    o->pin = o->server_cpu >= 0 && o->client_cpu >= 0 && o->server_cpu != o->client_cpu;
}

int cmd_compare(int argc, char **argv)
{
    static const struct option options[] = {
        { "models", required_argument, NULL, OPT_MODELS },
        { "peers", required_argument, NULL, OPT_PEERS },
        { "conns", required_argument, NULL, OPT_CONNS },
        { "sizes", required_argument, NULL, OPT_SIZES },
        { "depths", required_argument, NULL, OPT_DEPTHS },
        { "repeat", required_argument, NULL, OPT_REPEAT },
        { "duration", required_argument, NULL, OPT_DURATION },
        { "udp", no_argument, NULL, 'u' },
        { "quick", no_argument, NULL, OPT_QUICK },
        { "json", required_argument, NULL, OPT_JSON },
        { "markdown", required_argument, NULL, OPT_MARKDOWN },
        { "peer-dir", required_argument, NULL, OPT_PEER_DIR },
        { "server-cpu", required_argument, NULL, OPT_SERVER_CPU },
        { "client-cpu", required_argument, NULL, OPT_CLIENT_CPU },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct options o;
    memset(&o, 0, sizeof o);
    o.server_cpu = o.client_cpu = -1;
    const char *conns_arg = NULL, *sizes_arg = NULL, *depths_arg = NULL;
    int repeat = 0, duration_ms = -1;

    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "uh", options, NULL)) != -1) {
        switch (c) {
        case OPT_MODELS: o.models = optarg; break;
        case OPT_PEERS: o.peers = optarg; break;
        case OPT_CONNS: conns_arg = optarg; break;
        case OPT_SIZES: sizes_arg = optarg; break;
        case OPT_DEPTHS: depths_arg = optarg; break;
        case OPT_REPEAT: repeat = (int)cli_parse_long(optarg, 1, 64, "--repeat"); break;
        case OPT_DURATION:
            duration_ms = cli_parse_seconds_ms(optarg, "--duration");
            if (duration_ms < 100)
                cli_usage_error("--duration must be at least 0.1 seconds");
            break;
        case 'u': o.udp = 1; break;
        case OPT_QUICK: o.quick = 1; break;
        case OPT_JSON: o.json_path = optarg; break;
        case OPT_MARKDOWN: o.md_path = optarg; break;
        case OPT_PEER_DIR: o.peer_dir = optarg; break;
        case OPT_SERVER_CPU:
            o.server_cpu = (int)cli_parse_long(optarg, 0, CPU_SETSIZE - 1, "--server-cpu");
            break;
        case OPT_CLIENT_CPU:
            o.client_cpu = (int)cli_parse_long(optarg, 0, CPU_SETSIZE - 1, "--client-cpu");
            break;
        case 'h': cli_help(help_text);
        default: cli_bad_option(argc, argv);
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);

    /* --quick sets a tiny matrix; anything given explicitly wins. */
    o.nconns = parse_int_list(conns_arg ? conns_arg : o.quick ? "1,8" : "1,50,500", o.conns, 1,
                              100000, "--conns");
    int sizes[MAX_LIST];
    o.nsizes = parse_int_list(sizes_arg ? sizes_arg : o.quick ? "128" : "128,4096", sizes, 1,
                              65536, "--sizes");
    for (int i = 0; i < o.nsizes; i++)
        o.sizes[i] = sizes[i];
    o.ndepths = parse_int_list(depths_arg ? depths_arg : o.quick ? "1" : "1,16", o.depths, 1,
                               4096, "--depths");
    o.repeat = repeat ? repeat : o.quick ? 1 : 3;
    o.duration_s = duration_ms > 0 ? duration_ms / 1000.0 : o.quick ? 0.3 : 2.0;
    if (o.udp)
        for (int i = 0; i < o.nsizes; i++)
            if (o.sizes[i] < 8 || o.sizes[i] > 65507)
                cli_usage_error("UDP messages are 8 to 65507 bytes (--sizes %ld)", o.sizes[i]);
    check_names(o.models, "model", o.udp);
    check_names(o.peers, "peer", o.udp);

    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n <= 0)
        cli_fail("cannot find this program (/proc/self/exe): %s", strerror(errno));
    self_path[n] = '\0';
    static char default_peer_dir[sizeof self_path + 8];
    if (o.peer_dir == NULL) {
        snprintf(default_peer_dir, sizeof default_peer_dir, "%s", self_path);
        char *slash = strrchr(default_peer_dir, '/');
        snprintf(slash ? slash + 1 : default_peer_dir,
                 sizeof default_peer_dir - (size_t)(slash ? slash + 1 - default_peer_dir : 0),
                 "peers");
        o.peer_dir = default_peer_dir;
    }
    default_cpus(&o);
    if (o.pin) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0 &&
            (!CPU_ISSET(o.server_cpu, &set) || !CPU_ISSET(o.client_cpu, &set)))
            cli_usage_error("CPU %d or %d is not one this process may use", o.server_cpu,
                            o.client_cpu);
    }
    clock_ticks = sysconf(_SC_CLK_TCK);

    struct server servers[MAX_SERVERS];
    int nservers = add_servers(&o, servers);
    if (nservers == 0)
        cli_usage_error("nothing to compare: no model or peer selected");

    struct point points[MAX_LIST * MAX_LIST * MAX_LIST];
    int npoints = 0;
    for (int i = 0; i < o.nconns; i++)
        for (int j = 0; j < o.nsizes; j++)
            for (int k = 0; k < o.ndepths; k++)
                points[npoints++] = (struct point){ o.conns[i], o.depths[k], o.sizes[j] };

    struct cell *cells = calloc((size_t)(npoints * nservers), sizeof *cells);
    struct run *runs = calloc((size_t)(npoints * nservers * o.repeat), sizeof *runs);
    struct summary *sums = calloc((size_t)nservers, sizeof *sums);
    if (cells == NULL || runs == NULL || sums == NULL)
        cli_fail("out of memory");
    for (int i = 0; i < npoints * nservers; i++)
        cells[i].runs = &runs[i * o.repeat];

    snprintf(work_dir, sizeof work_dir, "%s/sockit-compare.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(work_dir) == NULL)
        cli_fail("cannot make a temporary directory: %s", strerror(errno));
    atexit(cleanup_children);
    /* Orphans of a server (socat's children when socat dies first) come
     * to us, so nothing outlives the comparison unreaped. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    sk_signal_set_flag(SIGINT, &stop_requested);
    sk_signal_set_flag(SIGTERM, &stop_requested);
    sk_signal_set_flag(SIGHUP, &stop_requested);

    struct report rp = { &o, servers, nservers, points, npoints, cells, sums, -1, -1, "", "", 0 };
    describe_machine(rp.machine, sizeof rp.machine);
    time_t now = time(NULL);
    strftime(rp.date, sizeof rp.date, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));

    int runnable = 0;
    for (int s = 0; s < nservers; s++) {
        if (servers[s].skip[0])
            fprintf(stderr, "%s: %s %s skipped: %s\n", cli_prog,
                    servers[s].is_model ? "model" : "peer", servers[s].name, servers[s].skip);
        else
            runnable++;
    }
    int total = npoints * o.repeat * runnable, done = 0;
    char label[96];
    /* Point by point; at each, every server once per round. */
    for (int p = 0; p < npoints && !stop_requested; p++) {
        point_label(&points[p], o.udp, label, sizeof label);
        for (int r = 0; r < o.repeat && !stop_requested; r++) {
            for (int s = 0; s < nservers && !stop_requested; s++) {
                if (servers[s].skip[0])
                    continue;
                struct run *run = &cell_at(&rp, p, s)->runs[r];
                /* A server that hung bench once at this point would again:
                 * its other runs here are not worth the wait. */
                if (r > 0 && strncmp(cell_at(&rp, p, s)->runs[r - 1].note, HUNG_NOTE,
                                     strlen(HUNG_NOTE)) == 0)
                    memcpy(run->note, cell_at(&rp, p, s)->runs[r - 1].note, sizeof run->note);
                else
                    run_one(&servers[s], &o, &points[p], run);
                done++;
                if (run->have)
                    fprintf(stderr, "%s: [%d/%d] %s, run %d: %-10s %10.0f msg/s  p99 %9.1f us"
                                    "  errors %.0f%s%s\n", cli_prog, done, total, label, r + 1,
                            servers[s].name, run->msgs_per_s, run->p99_us, run->errors,
                            run->note[0] ? "  " : "", run->note);
                else
                    fprintf(stderr, "%s: [%d/%d] %s, run %d: %-10s %s\n", cli_prog, done, total,
                            label, r + 1, servers[s].name, run->note);
            }
        }
    }
    rp.interrupted = stop_requested != 0;
    if (rp.interrupted)
        fprintf(stderr, "%s: interrupted; the tables hold the runs that finished\n", cli_prog);

    for (int i = 0; i < npoints * nservers; i++)
        summarise(&cells[i], o.repeat);
    compute_summaries(&rp);
    print_tables(stdout, &rp, 0);
    fflush(stdout);
    if (o.md_path != NULL) {
        FILE *f = open_output(o.md_path);
        print_tables(f, &rp, 1);
        if (fclose(f) != 0)
            cli_fail("cannot write '%s': %s", o.md_path, strerror(errno));
    }
    if (o.json_path != NULL) {
        FILE *f = open_output(o.json_path);
        write_json(f, &rp);
        if (fclose(f) != 0)
            cli_fail("cannot write '%s': %s", o.json_path, strerror(errno));
    }
    free(cells);
    free(runs);
    free(sums);
    return rp.interrupted ? EXIT_RUNTIME : 0;
}
