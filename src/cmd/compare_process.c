/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compare_process.c - `sockit compare`'s children: the server under test
 * and the load generator (`sockit bench`), one of each at a time.
 *
 * Each child runs in a process group of its own (so the fork model's and
 * socat's children can be measured and stopped with it), dies with us
 * (PR_SET_PDEATHSIG), and is pinned to its CPU with sched_setaffinity
 * before exec.  We are a child subreaper, so whatever a server forks and
 * leaves behind is ours to reap.  Every exit path - cli_fail included,
 * through atexit - stops the current server and generator and removes the
 * scratch directory that holds their logs.
 *
 * A server is ready when it says so: sockit's models and the peers of
 * bench/peers/ print "listening on ADDR port N"; socat and ncat print
 * nothing, so they get a free port and are ready once /proc/net/tcp shows
 * it listening.
 *
 * The server's CPU time.  A server is a process group: sockit's fork
 * model, socat and ncat fork a process (or two) per connection, and the
 * processes that count are the ones that exist during the run, not the
 * ones we can still see at its end - a forked child that served the last
 * connection exits the moment the generator closes it.  So the count is
 * taken at the two ends by different means, each exact for its end:
 *   - before the generator starts, from /proc: for every process in the
 *     group, the run time of each of its threads (/proc/PID/task/TID/
 *     schedstat, in ns; utime + stime of /proc/PID/stat split it) and the
 *     children it has already reaped (cutime + cstime);
 *   - after the run, by stopping the group and reaping every process in
 *     it ourselves with wait4(): each rusage holds the process's own time,
 *     all its threads, and every child it reaped (as its parent counted
 *     its cutime), so a child counts once, whether its parent or we (the
 *     subreaper, once its parent is gone) reaped it.
 * The difference is the group's CPU time over the run, its shutdown (under a
 * millisecond of CPU after SIGTERM) included.  Reading /proc at both ends would
 * race with that last child: read the parent before it reaps the child,
 * then find the child gone, and its time is counted nowhere.  The load
 * generator is one process, our child: wait4() gives its time.  Linux only.
 */
#include "compare.h"

#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 3000

sk__flag_t compare_stop_requested;
char compare_self_path[512];

static char work_dir[256];
static pid_t live_server = -1; /* also its process group */
static pid_t live_bench = -1;
static struct compare_cpu server_mark; /* the group's CPU time at the mark */

void compare_note(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

/* ---- children and clean-up ------------------------------------------------ */

static void kill_group(pid_t pgid, int sig)
{
    if (pgid > 0)
        kill(-pgid, sig);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { 0, ms * 1000 * 1000 };
    nanosleep(&ts, NULL);
}

static double timeval_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Add what a reaped process used (itself, its threads, its reaped
 * children) to acc. */
static void add_rusage(struct compare_cpu *acc, const struct rusage *ru)
{
    double user = timeval_s(ru->ru_utime), sys = timeval_s(ru->ru_stime);
    acc->user_s += user;
    acc->sys_s += sys;
    acc->total_s += user + sys;
}

/* Kill what is left of process group pgid and reap all of it that is
 * ours, adding each process's CPU time to acc (if not NULL).  Its leader
 * is already reaped, so every other member is our child or will become
 * one as its parent dies (we are the subreaper): wait until none is left,
 * or for STOP_TIMEOUT_MS at most. */
static void reap_group(pid_t pgid, struct compare_cpu *acc)
{
    kill_group(pgid, SIGKILL);
    uint64_t deadline = sk_now_ms() + STOP_TIMEOUT_MS;
    for (;;) {
        struct rusage ru;
        pid_t r = wait4(-pgid, NULL, WNOHANG, &ru);
        if (r > 0) {
            if (acc != NULL)
                add_rusage(acc, &ru);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || sk_now_ms() > deadline)
            break; /* ECHILD: nothing of the group is left */
        sleep_ms(1);
    }
}

/* Stop a process group led by pid: SIGTERM, a grace period, SIGKILL, and
 * reap every process in it, adding their CPU time to acc (if not NULL);
 * returns the leader's wait status. */
static int stop_group(pid_t pid, struct compare_cpu *acc)
{
    int status = 0;
    struct rusage ru;
    kill_group(pid, SIGTERM);
    uint64_t deadline = sk_now_ms() + STOP_TIMEOUT_MS;
    for (;;) {
        pid_t r = wait4(pid, &status, WNOHANG, &ru);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == pid && acc != NULL)
            add_rusage(acc, &ru);
        if (r == pid || r < 0)
            break;
        if (sk_now_ms() > deadline) {
            kill_group(pid, SIGKILL);
            while ((r = wait4(pid, &status, 0, &ru)) < 0 && errno == EINTR)
                ;
            if (r == pid && acc != NULL)
                add_rusage(acc, &ru);
            break;
        }
        sleep_ms(5);
    }
    /* Whatever the leader left behind (socat's and fork's children). */
    reap_group(pid, acc);
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
        stop_group(live_server, NULL);
        live_server = -1;
    }
    reap_orphans();
    remove_work_dir();
}

void compare_children_init(void)
{
    snprintf(work_dir, sizeof work_dir, "%s/sockit-compare.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(work_dir) == NULL)
        cli_fail("cannot make a temporary directory: %s", strerror(errno));
    atexit(cleanup_children);
    /* Orphans of a server (socat's children when socat dies first) come
     * to us, so nothing outlives the comparison unreaped. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
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
            compare_note(out, cap, "%s", line);
    }
    fclose(f);
}

static void log_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", work_dir, name);
}

/* ---- measuring a process group's CPU ------------------------------------- */

/* The run time of every thread of process pid, in seconds, from
 * /proc/PID/task/TID/schedstat (its first field, in ns); -1 if the kernel
 * does not keep schedstat. */
static double threads_run_time(const char *pid)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%.20s/task", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    double total = 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%.20s/task/%.20s/schedstat", pid, e->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long ns;
        if (f == NULL)
            continue;
        if (fscanf(f, "%llu", &ns) == 1) {
            total += (double)ns / 1e9;
            found = 1;
        }
        fclose(f);
    }
    closedir(d);
    return found ? total : -1;
}

/* What every process of group pgid has used so far, itself and the
 * children it reaped, from /proc. */
static void group_cpu(pid_t pgid, struct compare_cpu *cpu)
{
    static long clock_ticks;
    if (clock_ticks <= 0)
        clock_ticks = sysconf(_SC_CLK_TCK);
    double hz = (double)clock_ticks;
    memset(cpu, 0, sizeof *cpu);
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
        /* The threads' run time is exact but misses threads that have
         * ended; utime + stime hold those but are cut to the tick.  Both
         * fall short, so the larger is the closer. */
        double own = threads_run_time(e->d_name), ticks = ((double)ut + (double)st) / hz;
        if (own < ticks)
            own = ticks;
        cpu->user_s += ((double)ut + (double)cut) / hz;
        cpu->sys_s += ((double)st + (double)cst) / hz;
        cpu->total_s += own + ((double)cut + (double)cst) / hz;
    }
    closedir(d);
}

/* used = the group's CPU time now (reaped) minus the mark. */
static void since_mark(const struct compare_cpu *now, struct compare_cpu *used)
{
    used->user_s = now->user_s - server_mark.user_s;
    used->sys_s = now->sys_s - server_mark.sys_s;
    used->total_s = now->total_s - server_mark.total_s;
}

void compare_server_cpu_mark(void)
{
    group_cpu(live_server, &server_mark);
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
static int ready_port(const char *path)
{
    FILE *f = fopen(path, "r");
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

int compare_server_start(struct server *s, const struct options *o, char *note, size_t cap)
{
    char path[300], port_text[16], buf[160];
    char *argv[COMPARE_MAX_ARGS];
    log_path(path, sizeof path, "server.log");
    int fixed_port = -1;
    if (!compare_prints_ready_line(s)) {
        fixed_port = free_port(o->udp);
        if (fixed_port < 0) {
            compare_note(note, cap, "no free port");
            return -1;
        }
    }
    snprintf(port_text, sizeof port_text, "%d", fixed_port);
    compare_server_argv(s, o->udp, port_text, buf, sizeof buf, argv);
    int log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0)
        cli_fail("cannot write '%s': %s", path, strerror(errno));
    pid_t pid = spawn(argv, o->pin ? o->server_cpu : -1, log_fd, log_fd);
    close(log_fd);
    if (pid < 0) {
        compare_note(note, cap, "fork: %s", strerror(errno));
        return -1;
    }
    live_server = pid;
    uint64_t deadline = sk_now_ms() + START_TIMEOUT_MS;
    for (;;) {
        int port = fixed_port > 0 ? (port_listening(fixed_port) ? fixed_port : -1)
                                  : ready_port(path);
        if (port > 0)
            return port;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            live_server = -1;
            reap_group(pid, NULL);
            char last[COMPARE_NOTE_LEN - 40];
            last_line(path, last, sizeof last);
            compare_note(note, cap, "exited with status %d%s%s",
                         WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                         last[0] ? ": " : "", last);
            return -1;
        }
        if (compare_stop_requested || sk_now_ms() > deadline) {
            stop_group(pid, NULL);
            live_server = -1;
            compare_note(note, cap, compare_stop_requested ? "interrupted"
                                                           : "not listening after %d s",
                         START_TIMEOUT_MS / 1000);
            return -1;
        }
        sleep_ms(2);
    }
}

int compare_server_died(int *status, struct compare_cpu *used)
{
    struct rusage ru;
    if (live_server <= 0 || wait4(live_server, status, WNOHANG, &ru) != live_server)
        return 0;
    struct compare_cpu now = { 0, 0, 0 };
    add_rusage(&now, &ru);
    reap_group(live_server, &now);
    since_mark(&now, used);
    live_server = -1;
    reap_orphans();
    return 1;
}

void compare_server_stop(struct compare_cpu *used)
{
    struct compare_cpu now = { 0, 0, 0 };
    if (live_server > 0)
        stop_group(live_server, &now);
    since_mark(&now, used);
    live_server = -1;
    reap_orphans();
}

void compare_server_last_line(char *out, size_t cap)
{
    char path[300];
    log_path(path, sizeof path, "server.log");
    last_line(path, out, cap);
}

/* ---- the load generator ------------------------------------------------------ */

pid_t compare_generator_start(char *const argv[], int cpu, int out_fd)
{
    char path[300];
    log_path(path, sizeof path, "bench.err");
    int err_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (err_fd < 0)
        cli_fail("cannot set up a bench run: %s", strerror(errno));
    pid_t pid = spawn(argv, cpu, out_fd, err_fd);
    close(err_fd);
    if (pid > 0)
        live_bench = pid;
    return pid;
}

void compare_generator_signal(int sig)
{
    kill_group(live_bench, sig);
}

int compare_generator_reap(double *cpu_s)
{
    int status = 0;
    struct rusage ru;
    pid_t r;
    while ((r = wait4(live_bench, &status, 0, &ru)) < 0 && errno == EINTR)
        ;
    *cpu_s = r == live_bench ? timeval_s(ru.ru_utime) + timeval_s(ru.ru_stime) : 0;
    live_bench = -1;
    return status;
}

void compare_generator_last_line(char *out, size_t cap)
{
    char path[300];
    log_path(path, sizeof path, "bench.err");
    last_line(path, out, cap);
}
