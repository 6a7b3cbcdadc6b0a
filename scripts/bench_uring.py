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


def geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sockit", default="build/sockit")
    ap.add_argument("--peer-dir", default="build/peers")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=1)
    ap.add_argument("--points", default=DEFAULT_POINTS)
    ap.add_argument("--server", action="append", metavar="LABEL=COMMAND")
    ap.add_argument("--json", help="write every run here")
    args = ap.parse_args()
    points = [tuple(int(x) for x in p.split("x")) for p in args.points.split(",")]
    servers = ([tuple(s.split("=", 1)) for s in args.server] if args.server
               else default_servers(args.peer_dir))
    load_before = open("/proc/loadavg").read().strip()
    procs = {}
    runs = {}
    try:
        for label, command in servers:
            procs[label] = launch(args.sockit, command)
        time.sleep(0.3)
        for rnd in range(args.rounds):
            # Each round starts one server later, so that no server is
            # always the first (or last) to run at a point.
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            for point in points:
                for label, _ in order:
                    proc, port = procs[label]
                    r = run_once(args.sockit, port, proc.pid, point, "auto", args.duration)
                    runs.setdefault((point, label), []).append(r)
                    print("round %d %s %s: %.3f us/msg, %.0f msgs/s"
                          % (rnd + 1, "x".join(map(str, point)), label,
                             r["srv_us_per_msg"] or float("nan"), r["msgs_per_s"]),
                          file=sys.stderr)
    finally:
        for proc, _ in procs.values():
            proc.terminate()
        for proc, _ in procs.values():
            proc.wait(10)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"point": list(p), "server": s, "runs": rs}
                       for (p, s), rs in runs.items()], f, indent=1)
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
