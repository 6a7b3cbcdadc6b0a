#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""What one echoed message costs each server, taken apart: its CPU time,
the system calls and context switches it makes, and the TCP segments
the message takes on the wire.

    scripts/bench_anatomy.py [--sockit build/sockit] [--peer-dir build/peers]
                             [--rounds 3] [--duration 1] [--points 1x128x1,...]
                             [--server LABEL=COMMAND ...] [--json FILE]

Where two servers send the same segments and make the same system calls
per message, what is left between them is the kernel's work per segment,
which no server changes: this is the data behind the verdict on issue
13's target (4) in BENCHMARKS.md.

As in scripts/bench_uring.py, every server is started at once on CPU 0
and loaded in turn from CPU 1 with `sockit bench`, rounds interleaved,
medians.  Each run is counted three ways: the server's utime and stime
(/proc/PID/stat), its system calls and context switches (`perf stat -e
raw_syscalls:sys_enter,context-switches -p PID` over the run), and the
TCP segments sent on the machine (/proc/net/snmp's OutSegs: the requests
and the replies, and any bare ACKs; nothing else talks TCP here while
the benchmark runs).  (The user-space share is left to `sockit compare`, whose
rusage figures are finer than /proc/PID/stat's clock ticks over runs
this short.)  Without perf, or where the kernel gives no tracepoints,
the system-call and switch columns say so and stay empty.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_engines import TICK, cpu_ticks, median  # noqa: E402
from bench_uring import rotated_args, rotated_rounds, write_runs  # noqa: E402

POINTS = ("1x128x1,50x128x1,500x128x1,1x4096x1,50x4096x1,500x4096x1,"
          "1x128x16,50x128x16,500x128x16,1x4096x16,50x4096x16,500x4096x16")


def default_servers(peer_dir):
    return [
        ("epoll", "serve echo -m epoll -l 127.0.0.1 -p 0 -q"),
        ("epoll --no-splice", "serve echo -m epoll -l 127.0.0.1 -p 0 -q --no-splice"),
        ("uring", "serve echo -m uring -l 127.0.0.1 -p 0 -q"),
        ("epoll_echo", "%s 0" % os.path.join(os.path.abspath(peer_dir), "epoll_echo")),
    ]


def tcp_segments():
    """OutSegs of this network namespace: on loopback every segment either
    side sends is counted once here (and once more in InSegs)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Tcp:")]
    names, values = rows[0], rows[1]
    return int(values[names.index("OutSegs")])


def perf_works():
    if shutil.which("perf") is None:
        return "perf is not installed"
    r = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    if r.returncode != 0:
        return "perf stat cannot count raw_syscalls:sys_enter here: %s" % (
            r.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
    return None


def run_once(sockit, port, pid, point, duration, use_perf):
    conns, size, depth = point
    bench = ["taskset", "-c", "1", sockit, "bench", "127.0.0.1", str(port), "-c", str(conns),
             "-s", str(size), "-d", str(depth), "-D", str(duration), "--json"]
    counts = {}
    with tempfile.NamedTemporaryFile("r", suffix=".perf") as out:
        cmd = (["perf", "stat", "-x,", "-o", out.name, "-e",
                "raw_syscalls:sys_enter,context-switches", "-p", str(pid), "--"] + bench
               if use_perf else bench)
        ticks0, segs0 = cpu_ticks(pid), tcp_segments()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=duration + 60)
        ticks1, segs1 = cpu_ticks(pid), tcp_segments()
        if use_perf:
            for line in out.read().splitlines():
                fields = line.split(",")
                if len(fields) > 2 and fields[0].isdigit():
                    counts[fields[2]] = int(fields[0])
    final = json.loads(r.stdout.decode().splitlines()[-1])
    msgs = final["msgs"]

    def per_msg(n):
        return n / msgs if msgs and n is not None else None

    ticks = ticks1 - ticks0
    return {
        "msgs": msgs, "errors": final["errors"], "msgs_per_s": final["msgs_per_s"],
        "srv_us_per_msg": ticks / TICK * 1e6 / msgs if msgs else None,
        "syscalls_per_msg": per_msg(counts.get("raw_syscalls:sys_enter")),
        "switches_per_msg": per_msg(counts.get("context-switches")),
        "segments_per_msg": per_msg(segs1 - segs0),
    }


def cell(v, fmt):
    return fmt % v if v is not None else "-"


def main():
    args, points, servers = rotated_args(__doc__, 3, POINTS, default_servers)
    no_perf = perf_works()
    if no_perf:
        print("bench_anatomy: %s; system calls and switches are not counted" % no_perf,
              file=sys.stderr)
    load_before = open("/proc/loadavg").read().strip()
    runs = rotated_rounds(args.sockit, servers, points, args.rounds,
                          lambda proc, port, point: run_once(args.sockit, port, proc.pid, point,
                                                             args.duration, no_perf is None))
    if args.json:
        write_runs(args.json, runs)

    print("%d rounds of %g s, interleaved, medians; /proc/loadavg before: %s, after: %s"
          % (args.rounds, args.duration, load_before, open("/proc/loadavg").read().strip()))
    if no_perf:
        print()
        print("System calls and context switches not counted: %s." % no_perf)
    print()
    for label, command in servers:
        print("- %s: `%s`" % (label, command))
    print()
    print("Per message echoed: the server's CPU time, its system calls and context "
          "switches, and the TCP segments sent (requests and replies).")
    print()
    print("| point | server | srv us/msg | syscalls | switches | segments | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for point in points:
        conns, size, depth = point
        for label, _ in servers:
            rs = runs[(point, label)]
            print("| %d x %d B x d%d | %s | %s | %s | %s | %s | %d |" % (
                conns, size, depth, label, cell(median(rs, "srv_us_per_msg"), "%.3f"),
                cell(median(rs, "syscalls_per_msg"), "%.3f"),
                cell(median(rs, "switches_per_msg"), "%.4f"),
                cell(median(rs, "segments_per_msg"), "%.3f"),
                sum(r["errors"] for r in rs)))


if __name__ == "__main__":
    main()
