#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The load generator's CPU per message, engine against engine, and the
server's beside it.

    scripts/bench_engines.py [--sockit build/sockit] [--server 'serve echo -m epoll']
                             [--rounds 3] [--duration 2] [--engines poll,uring]
                             [--points 1x128x1,50x128x1,...] [--json FILE]

One server runs for the whole script, pinned to CPU 0 (`taskset -c 0`);
each `sockit bench` run is pinned to CPU 1.  At every point of the matrix
(conns x size x depth) each engine runs once per round, interleaved
(poll uring poll uring ...), and the figures are the medians over the
rounds.  The generator's CPU is its own report (cpu_user_s + cpu_sys_s,
getrusage over the whole run), the server's the change in utime + stime
of /proc/PID/stat over the run (clock ticks).  Both are divided by the
messages the run echoed; gen/srv is the ratio of those medians.

--server is the command after the sockit binary, or an absolute path
with its arguments (a peer such as build/peers/epoll_echo 0); the server
must print "listening on ... port N" on stderr, as sockit's and the
peers do.
"""
import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

DEFAULT_POINTS = "1x128x1,50x128x1,500x128x1,50x4096x1,50x128x16,500x128x16"
TICK = os.sysconf("SC_CLK_TCK")


def start_server(sockit, server, env=None):
    words = shlex.split(server)
    cmd = words if os.path.isabs(words[0]) else [sockit] + words
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdin=subprocess.DEVNULL, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    line = proc.stderr.readline().decode()
    m = re.search(r"port (\d+)", line)
    if not m:
        proc.kill()
        sys.exit("server did not say its port: %r" % line)
    return proc, int(m.group(1))


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def run_once(sockit, port, pid, point, engine, duration):
    conns, size, depth = point
    before = cpu_ticks(pid)
    r = subprocess.run(["taskset", "-c", "1", sockit, "bench", "127.0.0.1", str(port),
                        "-c", str(conns), "-s", str(size), "-d", str(depth),
                        "-D", str(duration), "--engine", engine, "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=duration + 30)
    after = cpu_ticks(pid)
    final = json.loads(r.stdout.decode().splitlines()[-1])
    msgs = final["msgs"]
    gen_s = final["cpu_user_s"] + final["cpu_sys_s"]
    return {
        "engine": final.get("engine", engine), "msgs": msgs, "errors": final["errors"],
        "msgs_per_s": final["msgs_per_s"], "p50_us": final["p50_us"], "p99_us": final["p99_us"],
        "gen_us_per_msg": gen_s * 1e6 / msgs if msgs else None,
        "gen_user_share": final["cpu_user_s"] / gen_s if gen_s else None,
        "srv_us_per_msg": (after - before) / TICK * 1e6 / msgs if msgs else None,
        "gen_cpu": gen_s / final["duration_s"],
        "srv_cpu": (after - before) / TICK / final["duration_s"],
    }


def median(runs, key):
    values = [r[key] for r in runs if r[key] is not None]
    return statistics.median(values) if values else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sockit", default="build/sockit")
    ap.add_argument("--server", default="serve echo -m epoll -l 127.0.0.1 -p 0 -q")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=2)
    ap.add_argument("--engines", default="poll,uring")
    ap.add_argument("--points", default=DEFAULT_POINTS)
    ap.add_argument("--json", help="write every run here")
    args = ap.parse_args()
    points = [tuple(int(x) for x in p.split("x")) for p in args.points.split(",")]
    engines = args.engines.split(",")
    load_before = open("/proc/loadavg").read().strip()
    proc, port = start_server(args.sockit, args.server)
    runs = {}
    try:
        time.sleep(0.3)
        for rnd in range(args.rounds):
            for point in points:
                for engine in engines:
                    r = run_once(args.sockit, port, proc.pid, point, engine, args.duration)
                    runs.setdefault((point, engine), []).append(r)
                    print("round %d %s %s: %s" % (rnd + 1, "x".join(map(str, point)), engine,
                                                  json.dumps(r)), file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(10)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"point": list(p), "engine": e, "runs": rs}
                       for (p, e), rs in runs.items()], f, indent=1)
    print("server: %s; %d rounds of %g s, medians; /proc/loadavg before: %s, after: %s"
          % (args.server, args.rounds, args.duration, load_before,
             open("/proc/loadavg").read().strip()))
    print()
    print("| point | engine | msgs/s | p50 us | p99 us | gen us/msg | gen user | gen cpu "
          "| srv us/msg | srv cpu | gen/srv | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for point in points:
        for engine in engines:
            rs = runs[(point, engine)]
            gen, srv = median(rs, "gen_us_per_msg"), median(rs, "srv_us_per_msg")
            conns, size, depth = point
            print("| %d x %d B x d%d | %s | %.0f | %.1f | %.1f | %.2f | %.0f%% | %.0f%% | %.2f "
                  "| %.0f%% | %.2f | %d |"
                  % (conns, size, depth, engine, median(rs, "msgs_per_s"), median(rs, "p50_us"),
                     median(rs, "p99_us"), gen, 100 * median(rs, "gen_user_share"),
                     100 * median(rs, "gen_cpu"), srv, 100 * median(rs, "srv_cpu"),
                     gen / srv if srv else float("nan"), sum(r["errors"] for r in rs)))


if __name__ == "__main__":
    main()
