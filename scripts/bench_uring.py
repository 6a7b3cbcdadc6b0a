#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The io_uring model's techniques one at a time: the server's CPU per
message with each turned off (SOCKIT_URING=no-NAME), with receive bundles
and with zero-copy sends turned on (SOCKIT_URING=bundle, zc-send: both off
by default), beside the default server and the textbook epoll loop.

    scripts/bench_uring.py [--sockit build/sockit] [--peer-dir build/peers]
                           [--rounds 5] [--duration 1] [--points 1x128x1,...]
                           [--server LABEL=COMMAND ...] [--json FILE]

Every server is started at once, each on its own port and all pinned to
CPU 0 (an idle one costs nothing while another is measured); each
`sockit bench` run is pinned to CPU 1.  At every point each server is
loaded once per round, interleaved (A B C ..., then B C ... A, and so
on: no server always goes first), and the figures
are medians over the rounds: the server's utime + stime from
/proc/PID/stat over the run divided by the messages echoed, and the ratio
of that median to the default server's at the same point.  COMMAND is the
words after the sockit binary (or an absolute path), optionally preceded
by NAME=VALUE environment settings.  Without --server: uring with every
technique (twice, as two servers: their difference is the noise), uring
without each, uring with bundles, uring with zero-copy sends, and
epoll_echo.
"""
import argparse
import json
import math
import os
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_engines import DEFAULT_POINTS, median, run_once, start_server  # noqa: E402

SERVE = "serve echo -m uring -l 127.0.0.1 -p 0 -q"
FEATURES = ["defer", "ringfd", "multishot-recv", "multishot-accept",
            "echo-in-place"]  # on by default


def default_servers(peer_dir):
    # The same server twice: how far two identical ones differ here is the
    # noise any other column must stand out of.
    servers = [("uring", SERVE), ("uring again", SERVE)]
    servers += [("no-" + f, "SOCKIT_URING=no-%s %s" % (f, SERVE)) for f in FEATURES]
    servers.append(("+bundle", "SOCKIT_URING=bundle %s" % SERVE))
    servers.append(("+zc-send", "SOCKIT_URING=zc-send %s" % SERVE))
    servers.append(("epoll_echo", "%s 0" % os.path.join(os.path.abspath(peer_dir),
                                                       "epoll_echo")))
    return servers


def launch(sockit, command):
    """start_server with the NAME=VALUE words of command in its environment."""
    words = shlex.split(command)
    env = dict(os.environ)
    while words and "=" in words[0] and not os.path.isabs(words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return start_server(sockit, shlex.join(words), env)


def rotated_rounds(sockit, servers, points, rounds, measure):
    """Every server started at once; then, rounds times, each point and at
    it each server, the round starting one server later than the last (no
    server always first or last).  measure(proc, port, point) gives one
    run's figures; returns {(point, label): [run, ...]}."""
    procs, runs = {}, {}
    try:
        for label, command in servers:
            procs[label] = launch(sockit, command)
        time.sleep(0.3)
        for rnd in range(rounds):
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            for point in points:
                for label, _ in order:
                    proc, port = procs[label]
                    r = measure(proc, port, point)
                    runs.setdefault((point, label), []).append(r)
                    print("round %d %s %s: %s" % (rnd + 1, "x".join(map(str, point)), label,
                                                  json.dumps(r)), file=sys.stderr)
    finally:
        for proc, _ in procs.values():
            proc.terminate()
        for proc, _ in procs.values():
            proc.wait(10)
    return runs


def write_runs(path, runs):
    with open(path, "w") as f:
        json.dump([{"point": list(p), "server": s, "runs": rs} for (p, s), rs in runs.items()],
                  f, indent=1)


def geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def rotated_args(doc, rounds, points, default_servers):
    """The command line both rotated-round scripts take: (args, the points
    as (conns, size, depth), the servers as (label, command))."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--sockit", default="build/sockit")
    ap.add_argument("--peer-dir", default="build/peers")
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--duration", type=float, default=1)
    ap.add_argument("--points", default=points)
    ap.add_argument("--server", action="append", metavar="LABEL=COMMAND")
    ap.add_argument("--json", help="write every run here")
    args = ap.parse_args()
    return (args, [tuple(int(x) for x in p.split("x")) for p in args.points.split(",")],
            [tuple(s.split("=", 1)) for s in args.server] if args.server
            else default_servers(args.peer_dir))


def main():
    args, points, servers = rotated_args(__doc__, 5, DEFAULT_POINTS, default_servers)
    load_before = open("/proc/loadavg").read().strip()
    runs = rotated_rounds(args.sockit, servers, points, args.rounds,
                          lambda proc, port, point: run_once(args.sockit, port, proc.pid, point,
                                                             "auto", args.duration))
    if args.json:
        write_runs(args.json, runs)
    base = servers[0][0]
    print("%d rounds of %g s, interleaved, medians; /proc/loadavg before: %s, after: %s"
          % (args.rounds, args.duration, load_before, open("/proc/loadavg").read().strip()))
    print()
    for label, command in servers:
        print("- %s: `%s`" % (label, command))
    print()
    print("Server CPU us per message (its ratio to %s's beside it):" % base)
    print()
    print("| point | " + " | ".join(label for label, _ in servers) + " |")
    print("| --- |" + " ---: |" * len(servers))
    ratios = {label: [] for label, _ in servers}
    for point in points:
        ref = median(runs[(point, base)], "srv_us_per_msg")
        cells = []
        for label, _ in servers:
            v = median(runs[(point, label)], "srv_us_per_msg")
            errors = sum(r["errors"] for r in runs[(point, label)])
            ratio = v / ref if v and ref else None
            ratios[label].append(ratio)
            cell = "%.3f" % v if v else "-"
            if label != base and ratio:
                cell += " (%.2f)" % ratio
            if errors:
                cell += " %d errors" % errors
            cells.append(cell)
        conns, size, depth = point
        print("| %d x %d B x d%d | %s |" % (conns, size, depth, " | ".join(cells)))
    print("| geomean ratio | " + " | ".join(
        "%.2f" % geomean(ratios[label]) if geomean(ratios[label]) else "-"
        for label, _ in servers) + " |")


if __name__ == "__main__":
    main()
