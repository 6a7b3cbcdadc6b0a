#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Write BENCHMARKS.md (and the gnuplot chart script) from what
scripts/bench.sh measured.

usage: bench_report.py RESULTS_DIR OUT.md

RESULTS_DIR holds machine.txt, compare-tcp.json/.md, compare-udp.json/.md,
transfer.txt and perf.txt.  Every figure in the report comes from those
files; each target is judged from them and marked met or missed with the
numbers that decide it.
"""
import json
import math
import os
import statistics
import sys

EVENT_MODELS = ["select", "poll", "epoll", "uring"]


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_kv(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    out[k] = v
    except OSError:
        pass
    return out


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def rate(v):
    return "{:,.0f}".format(v)


def geomean(values):
    values = [v for v in values if v and v > 0]
    if not values:
        return 0.0
    return math.exp(sum(math.log(v) for v in values) / len(values))


def point_name(p, udp=False):
    unit = "sock" if udp else "conn"
    return "%d %s x %d B d%d" % (p["conns"], unit, p["size"], p["depth"])


class Compare:
    """One `sockit compare --json` file."""

    def __init__(self, data):
        self.data = data
        self.points = data["points"] if data else []
        self.summary = {s["server"]: s for s in data["summary"]} if data else {}
        self.servers = {s["name"]: s for s in data["servers"]} if data else {}

    def cell(self, point, server):
        for r in point["results"]:
            if r["server"] == server:
                return r
        return None

    def clean(self, point, server):
        c = self.cell(point, server)
        return c is not None and c["status"] == "ok"

    def geomean_where(self, server, points):
        return geomean([self.cell(p, server)["median_msgs_per_s"] for p in points])

    def present(self, server):
        return server in self.servers and not self.servers[server]["skipped"]


def field(obj, *keys):
    """The first of keys that obj has, or None: compare's JSON renamed its
    load-generator fields (gen_cpu_pct became generator_cpu_pct) and results
    from before server_cpu_us_per_msg lack it."""
    for k in keys:
        if obj is not None and k in obj:
            return obj[k]
    return None


def us_per_msg(v):
    return "%.2f" % v if v else "-"


def perf_share(perf, obj):
    """The share of the profile's samples in one object ("[kernel.kallsyms]",
    "sockit", "libc.so.6"), from perf.txt's "by object" lines."""
    for line in perf.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == obj and parts[0].endswith("%"):
            return float(parts[0][:-1])
    return None


def ratio_by_depth(cmp, a, b, points):
    """Geometric mean of a/b's msgs/s at each depth, over points where both ran."""
    out = {}
    for depth in sorted({p["depth"] for p in points}):
        rs = []
        for p in points:
            ca, cb = cmp.cell(p, a), cmp.cell(p, b)
            if p["depth"] == depth and ca and cb and ca.get("median_msgs_per_s") \
                    and cb.get("median_msgs_per_s"):
                rs.append(ca["median_msgs_per_s"] / cb["median_msgs_per_s"])
        if rs:
            out[depth] = geomean(rs)
    return out


def srv_us(c):
    """A cell's server CPU per message, or None (results from before
    compare measured it, or a cell that did not run)."""
    v = field(c, "server_cpu_us_per_msg")
    return v if v else None


def gen_us(c):
    v = field(c, "generator_cpu_us_per_msg", "gen_cpu_us_per_msg")
    return v if v else None


def gen_saturated(c):
    v = field(c, "generator_saturated")
    if v is not None:
        return bool(v)
    pct = field(c, "generator_cpu_pct", "gen_cpu_pct")
    return pct is not None and pct > 90


def f2(v):
    return "%.2f" % v if v is not None else "-"


def lowest_cpu_model(tcp):
    """The sockit model with the lowest geometric mean of server CPU per
    message over the points, among those that ran every point cleanly."""
    best, best_g = None, None
    for name, s in tcp.summary.items():
        if s["kind"] != "model" or not s.get("complete"):
            continue
        vals = [srv_us(tcp.cell(p, name)) for p in tcp.points]
        if not vals or None in vals:
            continue
        g = geomean(vals)
        if best_g is None or g < best_g:
            best, best_g = name, g
    return best


def targets_section(w, tcp, results, machine):
    best_model = tcp.data.get("best_model") if tcp.data else None
    best_peer = tcp.data.get("best_peer") if tcp.data else None
    cpu_model = lowest_cpu_model(tcp)
    rows = []  # (target, measured, verdict)

    # (2) the generator's saturation flags
    flagged = []
    for p in tcp.points:
        names = [c["server"] for c in p["results"] if c["status"] != "skipped"
                 and gen_saturated(c)]
        if names:
            flagged.append((p, names))
    have_flag = any(field(c, "generator_saturated") is not None
                    for p in tcp.points for c in p["results"])
    rows.append(("(2) compare shows server CPU per message and flags every point where the "
                 "generator ran above 90 % of its core",
                 "flagged at %d of %d points%s" % (
                     len(flagged), len(tcp.points),
                     " (" + "; ".join("%s: %s" % (point_name(p), ", ".join(n))
                                      for p, n in flagged) + ")" if flagged else ""),
                 "**shown** (tables below)" if have_flag else
                 "**shown** (these results predate compare's own flag: derived "
                 "from the generator's CPU %)"))

    # (3) the generator at most 0.7x the cheapest server's CPU per message
    gen_rows, gen_miss, gen_unknown = [], [], 0
    for p in tcp.points:
        ok = [c for c in p["results"] if c["status"] == "ok" and srv_us(c)]
        if not ok:
            gen_unknown += 1
            gen_rows.append((p, None, None, None, None))
            continue
        cheap = min(ok, key=srv_us)
        g = gen_us(cheap)
        ratio = g / srv_us(cheap) if g else None
        gen_rows.append((p, cheap["server"], srv_us(cheap), g, ratio))
        if ratio is None:
            gen_unknown += 1
        elif ratio > 0.7:
            gen_miss.append("%s %.2fx" % (point_name(p), ratio))
    if gen_unknown == len(tcp.points):
        v3 = "**not measured** (no server CPU per message in these results)"
    else:
        v3 = verdict(not gen_miss and not gen_unknown) + (
            " at %d of %d points: %s" % (len(gen_miss), len(tcp.points), ", ".join(gen_miss))
            if gen_miss else "")
    rows.append(("(3) generator CPU/msg <= 0.7x the cheapest server's, every point",
                 "per point below", v3))

    # (4) the server against the textbook loop
    srv_rows, srv_miss = [], []
    ratios = []
    if cpu_model and tcp.present("epoll_echo"):
        for p in tcp.points:
            a, b = srv_us(tcp.cell(p, cpu_model)), srv_us(tcp.cell(p, "epoll_echo"))
            r = a / b if a and b else None
            srv_rows.append((p, a, b, r))
            if r is not None:
                ratios.append(r)
            if r is None or r >= 1.0:
                srv_miss.append("%s %s" % (point_name(p), "%.2fx" % r if r else "-"))
        ga = geomean([x[1] for x in srv_rows])
        gb = geomean([x[2] for x in srv_rows])
        gr = ga / gb if ga and gb else None
        rows.append(("(4a) server CPU/msg < the textbook loop's (epoll_echo) at every point",
                     "best sockit model by CPU/msg: %s" % cpu_model,
                     verdict(not srv_miss) + (" at %d of %d points: %s" % (
                         len(srv_miss), len(tcp.points), ", ".join(srv_miss))
                         if srv_miss else "")))
        rows.append(("(4b) geometric mean of server CPU/msg <= 0.8x epoll_echo's",
                     "%s %s vs epoll_echo %s us/msg: **%s**" % (
                         cpu_model, f2(ga), f2(gb), "%.2fx" % gr if gr else "-"),
                     verdict(gr is not None and gr <= 0.8)))
    else:
        rows.append(("(4) server CPU/msg < epoll_echo's at every point, geomean <= 0.8x",
                     "no sockit model with server CPU per message at every point, or "
                     "epoll_echo not run (these results may predate the figure)",
                     "**not measured**"))

    # (5) p99 against the best peer, or overlapping ranges
    p99_rows, p99_miss = [], []
    if best_model and best_peer:
        for p in tcp.points:
            a, b = tcp.cell(p, best_model), tcp.cell(p, best_peer)
            ra = [r["p99_us"] for r in a.get("runs", []) if r.get("p99_us")]
            rb = [r["p99_us"] for r in b.get("runs", []) if r.get("p99_us")]
            worse = a.get("median_p99_us", 0) > b.get("median_p99_us", 0)
            overlap = bool(ra and rb and min(ra) <= max(rb))
            p99_rows.append((p, a.get("median_p99_us"), b.get("median_p99_us"), ra, rb,
                             worse, overlap))
            if worse and not overlap:
                p99_miss.append(point_name(p))
        rows.append(("(5) p99 no worse than the best peer's at any point, or the ranges "
                     "over the runs overlap",
                     "%s against %s (best by msgs/s)" % (best_model, best_peer),
                     verdict(not p99_miss) + (" at %d of %d points: %s" % (
                         len(p99_miss), len(tcp.points), ", ".join(p99_miss))
                         if p99_miss else "")))
    else:
        rows.append(("(5) p99 against the best peer", "no model or peer ran every point "
                     "cleanly (best model %s, best peer %s)" % (best_model, best_peer),
                     "**not measurable**"))

    # (6) throughput mode against iperf3
    stream = load_streams(results)
    if stream:
        parts = []
        for mode in STREAM_MODES:
            s_bps = [x["bps"] for x in stream.get(("sockit", mode), [])]
            i_bps = [x["bps"] for x in stream.get(("iperf3", mode), [])]
            if s_bps and i_bps:
                parts.append("%s %.2fx" % (STREAM_LABEL[mode],
                                           statistics.median(s_bps) / statistics.median(i_bps)))
        rows.append(("(6) `sockit bench --stream` (to discard, -R, -P 4) compared with iperf3",
                     "sockit/iperf3 median bits/s: %s (section below)" % (
                         ", ".join(parts) or "-"),
                     "**compared** (issue 13 sets no ratio)" if parts else "**not measured**"))
    else:
        rows.append(("(6) `sockit bench --stream` compared with iperf3",
                     "no stream-*.json in the results (older than the stream comparison)",
                     "**not measured**"))

    w("| target | measured | verdict |\n| --- | --- | --- |")
    for r in rows:
        w("| %s | %s | %s |" % r)
    w("")
    have = {(p["conns"], p["size"], p["depth"]) for p in tcp.points}
    missing = [x for x in ISSUE_POINTS if x not in have]
    w("The matrix (%d points: %s connections x %s B x depth %s) %s issue 13's six "
      "points (1x128x1, 50x128x1, 500x128x1, 50x4096x1, 50x128x16, 500x128x16)%s; every "
      "target here is judged over all of its points.  CPU per message is the server's "
      "(or the generator's) user + system time divided by the messages echoed, the "
      "median over the runs.\n" % (
          len(tcp.points), ",".join(str(x) for x in sorted({p["conns"] for p in tcp.points})),
          ",".join(str(x) for x in sorted({p["size"] for p in tcp.points})),
          ",".join(str(x) for x in sorted({p["depth"] for p in tcp.points})),
          "holds all of" if not missing else "**lacks** some of",
          "" if not missing else " (missing: %s)" % ", ".join(
              "%dx%dx%d" % x for x in missing)))

    w("### (3) The load generator against the cheapest server, per point\n")
    w("| point | cheapest server | its CPU us/msg | generator us/msg against it | ratio "
      "| generator > 90 % |")
    w("| --- | --- | ---: | ---: | ---: | --- |")
    flag_map = {point_name(p): n for p, n in flagged}
    for p, name, s, g, r in gen_rows:
        w("| %s | %s | %s | %s | %s | %s |" % (
            point_name(p), name or "-", f2(s), f2(g), "%.2fx" % r if r else "-",
            ", ".join(flag_map.get(point_name(p), [])) or "none"))
    w("")
    if srv_rows:
        w("### (4) Server CPU per message against the textbook loop, per point\n")
        w("| point | %s us/msg | epoll_echo us/msg | ratio |\n| --- | ---: | ---: | ---: |"
          % cpu_model)
        for p, a, b, r in srv_rows:
            w("| %s | %s | %s | %s |" % (point_name(p), f2(a), f2(b),
                                         "%.2fx" % r if r else "-"))
        w("")
        users = [field(tcp.cell(p, "epoll_echo"), "server_user_pct") for p in tcp.points]
        anatomy_summary(w, results, cpu_model, [u for u in users if u is not None])
    if p99_rows:
        w("### (5) p99 against the best peer, per point\n")
        w("| point | %s median p99 us | range | %s median p99 us | range | verdict |"
          % (best_model, best_peer))
        w("| --- | ---: | --- | ---: | --- | --- |")
        for p, a, b, ra, rb, worse, overlap in p99_rows:
            rng = lambda xs: "%.0f-%.0f" % (min(xs), max(xs)) if xs else "-"
            w("| %s | %.0f | %s | %.0f | %s | %s |" % (
                point_name(p), a or 0, rng(ra), b or 0, rng(rb),
                "no worse" if not worse else "worse, ranges overlap" if overlap
                else "**worse**"))
        w("")


ISSUE_POINTS = [(1, 128, 1), (50, 128, 1), (500, 128, 1), (50, 4096, 1), (50, 128, 16),
                (500, 128, 16)]

STREAM_MODES = ["send", "reverse", "parallel"]
STREAM_LABEL = {"send": "1 stream", "reverse": "-R", "parallel": "-P 4"}


def load_streams(results):
    """stream-{sockit,iperf3}-MODE-ROUND.json: {(tool, mode): [{bps, cpu_s_per_gb}]},
    round by round.  The client's CPU in seconds per GB moved (iperf3's
    from its host_total percentage over the run)."""
    out = {}
    try:
        names = sorted(os.listdir(results))
    except OSError:
        return out
    for n in names:
        if not (n.startswith("stream-") and n.endswith(".json")):
            continue
        parts = n[:-5].split("-")
        if len(parts) != 4 or parts[2] not in STREAM_MODES:
            continue
        tool, mode = parts[1], parts[2]
        d = load_json(os.path.join(results, n))
        if not d:
            continue
        try:
            if tool == "sockit":
                bps = d["bits_per_s"]
                cpu = d.get("cpu_s_per_gb")
                srv = None
            else:
                e = d["end"]
                bps = e["sum_received"]["bits_per_second"]
                secs = e["sum_received"]["seconds"]
                gb = e["sum_received"]["bytes"] / 1e9
                u = e.get("cpu_utilization_percent", {})
                cpu = u["host_total"] / 100 * secs / gb if "host_total" in u and gb else None
                srv = u["remote_total"] / 100 * secs / gb if "remote_total" in u and gb \
                    else None
        except (KeyError, TypeError, ZeroDivisionError):
            continue
        out.setdefault((tool, mode), []).append({"bps": bps, "cpu": cpu, "srv": srv,
                                                  "round": parts[3]})
    return out


def stream_section(w, results, machine):
    w("## Throughput: `sockit bench --stream` against iperf3\n")
    stream = load_streams(results)
    if not stream:
        w("Not in these results (they predate the stream comparison).\n")
        return
    w("Both servers on CPU 0, both clients on CPU 1, %s interleaved rounds of %s s "
      "(sockit then iperf3 for each mode in each round).  Gbit/s is 10^9 bits/s of "
      "payload; CPU is the client's user + system seconds per GB moved (sockit bench's "
      "own rusage; iperf3's `cpu_utilization_percent.host_total` over the run), and "
      "for iperf3 its server's too (`remote_total`).\n" % (
          machine.get("stream_rounds", "?"), machine.get("stream_duration", "?")))
    w("```sh")
    w("taskset -c 0 build/sockit serve discard -l 127.0.0.1 -p 0 -q &")
    w("taskset -c 0 build/sockit serve chargen -l 127.0.0.1 -p 0 -q &")
    w("taskset -c 1 build/sockit bench 127.0.0.1 PORT --stream [-R | -P 4] -D SEC --json")
    w("taskset -c 0 iperf3 -s -1 --forceflush -B 127.0.0.1 -p PORT &")
    w("taskset -c 1 iperf3 -c 127.0.0.1 -p PORT -t SEC [-R | -P 4] -J")
    w("```\n")
    w("| mode | sockit Gbit/s (median, range) | iperf3 Gbit/s (median, range) | ratio "
      "| sockit client CPU s/GB | iperf3 client CPU s/GB | iperf3 server CPU s/GB |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")

    def summ(xs, k):
        v = [x[k] for x in xs if x.get(k) is not None]
        return statistics.median(v) if v else None, v
    for mode in STREAM_MODES:
        s, i = stream.get(("sockit", mode), []), stream.get(("iperf3", mode), [])
        sm, sv = summ(s, "bps")
        im, iv = summ(i, "bps")
        rng = lambda m, v: "%.1f (%.1f-%.1f)" % (m / 1e9, min(v) / 1e9, max(v) / 1e9) \
            if m else "-"
        w("| %s | %s | %s | %s | %s | %s | %s |" % (
            STREAM_LABEL[mode], rng(sm, sv), rng(im, iv),
            "%.2fx" % (sm / im) if sm and im else "-",
            "%.3f" % summ(s, "cpu")[0] if summ(s, "cpu")[0] is not None else "-",
            "%.3f" % summ(i, "cpu")[0] if summ(i, "cpu")[0] is not None else "-",
            "%.3f" % summ(i, "srv")[0] if summ(i, "srv")[0] is not None else "-"))
    w("")


def verdict(ok):
    return "**met**" if ok else "**missed**"


def main():
    results, out_path = sys.argv[1], sys.argv[2]
    machine = read_kv(os.path.join(results, "machine.txt"))
    tcp = Compare(load_json(os.path.join(results, "compare-tcp.json")))
    udp = Compare(load_json(os.path.join(results, "compare-udp.json")))
    tcp_md = read_text(os.path.join(results, "compare-tcp.md"))
    udp_md = read_text(os.path.join(results, "compare-udp.md"))
    perf = read_text(os.path.join(results, "perf.txt"))

    gets, getsfs, iperfs, transfer_notes = [], [], [], []
    for line in read_text(os.path.join(results, "transfer.txt")).splitlines():
        kv = dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)
        if line.startswith("get ") and "seconds" in kv and float(kv["seconds"]) > 0:
            gets.append(int(kv["bytes"]) / float(kv["seconds"]) / 1e6)
        elif line.startswith("getsf ") and "seconds" in kv and float(kv["seconds"]) > 0:
            getsfs.append(int(kv["bytes"]) / float(kv["seconds"]) / 1e6)
        elif line.startswith("iperf3 ") and "bps" in kv:
            iperfs.append(float(kv["bps"]) / 8 / 1e6)
        else:
            transfer_notes.append(line)

    md = []
    w = md.append
    w("# sockit benchmarks\n")
    w("Written by `make bench` (`scripts/bench.sh`, then `scripts/bench_report.py`) "
      "on %s; every run rewrites this file from scratch.  The raw results are in "
      "`bench/results/` (JSON with every run, the text tables, the logs).\n"
      % machine.get("date", "?"))

    # ---- machine
    w("## Machine\n")
    w("| | |\n| --- | --- |")
    w("| CPU | %s |" % machine.get("cpu", "?"))
    w("| cores | %s |" % machine.get("cores", "?"))
    w("| kernel | %s |" % machine.get("kernel", "?"))
    w("| OS | %s |" % machine.get("os", "?"))
    w("| compiler | %s |" % machine.get("cc", "?"))
    w("| peers | libuv %s, libevent %s, Go %s, node %s, socat %s, ncat %s, iperf3 %s |" % (
        machine.get("libuv"), machine.get("libevent"), machine.get("go"), machine.get("node"),
        machine.get("socat"), machine.get("ncat"), machine.get("iperf3")))
    w("| peer setup | each as its own documentation shows an echo server, and each "
      "with TCP_NODELAY on its connections, as sockit sets: uv_echo (uv_tcp_nodelay), "
      "event_echo (setsockopt on the accepted socket), node_echo (`noDelay: true` and "
      "`socket.setNoDelay()`), go_echo (Go's default, and `SetNoDelay(true)` "
      "again; a goroutine per connection running `io.Copy(conn, conn)`, which Go's "
      "runtime carries out with splice(2) on Linux, so its bytes never pass through "
      "user space, GOMAXPROCS left at its default), epoll_echo (setsockopt) |"
      if machine.get("peers_nodelay") == "1" else
      "| peer setup | **not recorded by this run: results from before 2026-12-02, when "
      "the peers did not yet set TCP_NODELAY, so at depth 1 they waited on Nagle and "
      "delayed ACKs and every comparison with them below measures that setup** |")
    w("| load average | %s at the start, %s at the end |" % (
        machine.get("load_start", "?"), machine.get("load_end", "?")))
    w("| measuring time | %s s |" % machine.get("elapsed_s", "?"))
    if machine.get("compare_date"):
        w("| comparisons | taken %s and kept (`SKIP_COMPARE=1`); the rest measured %s |"
          % (machine["compare_date"], machine.get("date", "?")))
    w("")
    try:
        # At the start only: at the end the load average still counts the
        # benchmark's own server and load generator, one per CPU.
        busy = float(machine.get("load_start", "0").split()[0])
    except ValueError:
        busy = 0
    if busy >= 0.5:
        w("> **The machine was not idle** (1-minute load average %.2f on 2 cores "
          "when the runs began): other work shared the CPUs with the servers and "
          "the load generator, so the figures are noisier and lower than on a quiet "
          "machine; the min-max ranges show by how much.\n" % busy)

    # ---- commands
    d, r, ud = machine.get("duration", "?"), machine.get("repeat", "?"), machine.get("udp_duration", "?")
    w("## Commands\n")
    w("```sh")
    w("make bench            # = sh scripts/bench.sh; installs missing packages when root")
    w("make all peers")
    w("build/sockit compare --duration %s --repeat %s \\" % (d, r))
    w("    --json bench/results/compare-tcp.json --markdown bench/results/compare-tcp.md")
    w("build/sockit compare --udp --conns 1,50 --sizes 128,1024 --depths 1,16 \\")
    w("    --duration %s --repeat %s \\" % (ud, r))
    w("    --json bench/results/compare-udp.json --markdown bench/results/compare-udp.md")
    w("taskset -c 0 build/sockit serve file 1g.bin -l 127.0.0.1 -p 0 -q &")
    w("taskset -c 0 build/sockit serve file 1g.bin -l 127.0.0.1 -p 0 -q --sendfile -m epoll &")
    w("taskset -c 0 iperf3 -s -1 --forceflush -B 127.0.0.1 -p PORT &")
    w("# 3 rounds of: get (copy), get (--sendfile), one iperf3 stream")
    w("taskset -c 1 build/sockit get 127.0.0.1 PORT 1g.bin -o - >/dev/null")
    w("taskset -c 1 iperf3 -c 127.0.0.1 -p PORT -n 1G -J")
    w("perf record -e cpu-clock -g -p SERVER_PID -- sleep 4    # during a bench run")
    w("```\n")
    w("`sockit compare` runs each server alone on 127.0.0.1, pinned to CPU 0, and "
      "`sockit bench` pinned to CPU 1; at each matrix point every server runs once "
      "per round (A B C ... A B C ...), %s round(s) of %s s (the compare default is 2 s; "
      "%s s keeps the whole of `make bench` near 22 minutes on 2 cores; "
      "`DURATION=2 make bench` takes about 35).  "
      "Figures are medians over the rounds.  The peers are in `bench/peers/`; "
      "socat runs as `socat TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr,fork,backlog=511 "
      "EXEC:cat` and ncat as `ncat -l -k --max-conns 1000 127.0.0.1 PORT --exec "
      "/bin/cat` (the backlog and connection limit raised so that 500 clients "
      "measure echo rather than the defaults of 5 and 100).\n" % (r, d, d))

    # ---- targets (issue 13)
    w("## Targets (issue 13)\n")
    best_model = tcp.data.get("best_model") if tcp.data else None
    best_peer = tcp.data.get("best_peer") if tcp.data else None
    targets_section(w, tcp, results, machine)

    # ---- chart
    w("## Chart\n")
    w("![messages/s and p99 per model and peer](bench/results/chart.png)\n")
    w("Geometric means over the %d TCP points of the median msgs/s (top) and of the "
      "median p99 latency (bottom, log scale).  A `*` marks a server with errors or "
      "failures at some point: its means cover only the points where it produced "
      "figures.\n" % len(tcp.points))
    write_chart(results, tcp)

    # ---- TCP tables
    w("## TCP echo\n")
    if best_model and best_peer:
        w("### Best model against the best peer, point by point\n")
        # The server's CPU per message where the results have it (not
        # in those from before compare measured it).
        per_msg = any(field(tcp.cell(p, best_model), "server_cpu_us_per_msg")
                      for p in tcp.points)
        w("| point | %s msgs/s | %s msgs/s | ratio | %s p99 us | %s p99 us |" % (
            best_model, best_peer, best_model, best_peer)
          + (" %s srv us/msg | %s srv us/msg |" % (best_model, best_peer) if per_msg else ""))
        w("| --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: | ---: |" if per_msg else ""))
        for p in tcp.points:
            a, b = tcp.cell(p, best_model), tcp.cell(p, best_peer)
            w("| %s | %s | %s | %.2fx | %.0f | %.0f |" % (
                point_name(p), rate(a["median_msgs_per_s"]), rate(b["median_msgs_per_s"]),
                a["median_msgs_per_s"] / b["median_msgs_per_s"], a["median_p99_us"],
                b["median_p99_us"])
              + (" %s | %s |" % (us_per_msg(field(a, "server_cpu_us_per_msg")),
                                 us_per_msg(field(b, "server_cpu_us_per_msg")))
                 if per_msg else ""))
        w("")
    w("### Every server, every point\n")
    w(demote(tcp_md))

    # ---- UDP
    w("## UDP echo\n")
    w("The UDP models against `udp_echo`, the textbook `recvfrom`/`sendto` loop.  "
      "UDP errors are datagrams lost (no reply within 2 s): at depth 16 the "
      "clients keep more datagrams in flight than a socket buffer holds, so "
      "losses there measure how fast a server drains its socket.\n")
    w(demote(udp_md) if udp_md else "Not run.\n")

    stream_section(w, results, machine)

    # ---- bulk
    w("## Bulk transfer: `sockit get` against iperf3\n")
    w("| round | sockit get MB/s (read + send) | sockit get MB/s (`--sendfile`) | iperf3 MB/s |\n"
      "| --- | ---: | ---: | ---: |")
    def cell(xs, k):
        return "%.0f" % xs[k] if k < len(xs) else "-"
    for k in range(max(len(gets), len(getsfs), len(iperfs))):
        w("| %d | %s | %s | %s |" % (k + 1, cell(gets, k), cell(getsfs, k), cell(iperfs, k)))
    def med(xs):
        return "%.0f" % statistics.median(xs) if xs else "-"
    w("| median | %s | %s | %s |" % (med(gets), med(getsfs), med(iperfs)))
    w("")
    w("The copying server is the default model (uring); the `--sendfile` one is epoll, "
      "since uring cannot sendfile.  `--sendfile` is not the default because on this "
      "loopback it does not come out ahead: the kernel hands the receiver the file's "
      "page-sized pieces instead of the large ones a copy makes.  On a real network "
      "card it saves the sender a copy.\n")
    w("MB is 10^6 bytes.  `sockit get` reports its own transfer time (from the request "
      "to the last byte); iperf3 its receiver's rate over a 1 GiB (`-n 1G`) transfer.\n")

    # ---- server CPU per message
    w("## Server CPU per message\n")
    if any(field(s, "server_cpu_us_per_msg") for s in tcp.summary.values()):
        w("`server_cpu_us_per_msg`: the server's user + system CPU time (every thread, "
          "every process it forked) per message echoed, as the geometric mean over the "
          "%d TCP points of each point's median.  It measures the server whoever set "
          "the pace; msgs/s measures the load generator where that ran above 90%% of "
          "its CPU (the last column counts those points).\n" % len(tcp.points))
        w("| server | kind | srv us/msg | gen >90% points |\n| --- | --- | ---: | ---: |")
        ranked = sorted(tcp.summary.items(),
                        key=lambda kv: field(kv[1], "server_cpu_us_per_msg") or float("inf"))
        for name, s in ranked:
            w("| %s | %s | %s | %s |" % (
                name, s["kind"], us_per_msg(field(s, "server_cpu_us_per_msg")),
                field(s, "generator_saturated_points") if field(
                    s, "generator_saturated_points") is not None else "-"))
        w("")
    else:
        w("These results predate `server_cpu_us_per_msg`; the next `make bench` "
          "measures it.\n")

    # ---- the io_uring techniques, one at a time (scripts/bench_uring.py)
    quoted_table(w, results, "uring-features.md",
                 "The io_uring model's techniques, one at a time",
                 "`scripts/bench_uring.py` (step 3c of `make bench`): the uring model with "
                 "its default techniques, then with one of them turned off "
                 "(`SOCKIT_URING=no-NAME`), then with receive bundles turned on (`+bundle`, "
                 "off by default) and with zero-copy sends of 16 KiB and more (`+zc-send`, "
                 "off by default), then the textbook epoll loop, all started at once "
                 "on CPU 0 and loaded in turn from CPU 1 at issue 13's six points and the three "
                 "at 4 KiB x depth 16, where sending in place and zero-copy have bytes to "
                 "save (each round starting with the next server).  A ratio above 1 is what that technique saves: the server costs that much more "
                 "without it; `uring again` is the same server twice, so its distance from "
                 "1 is the noise the others must stand out of.",
                 "the uring model cannot run here, or these results predate "
                 "`scripts/bench_uring.py`")

    # ---- echo's splice path (scripts/bench_uring.py --server, step 3d)
    quoted_table(w, results, "splice.md", "Echo with splice against copying",
                 "Step 3d of `make bench`: on the Linux readiness models echo moves its bytes "
                 "socket to pipe to socket with `splice(2)`, so they never pass through user "
                 "memory (the kernel hands the pages over; one pipe per worker, emptied after "
                 "every move).  Here the epoll model copying (`--no-splice`: `recv()` into a "
                 "buffer, `send()` from it; twice, so that `copy again` shows the noise) "
                 "against the epoll model as it runs by default, and the textbook loop, "
                 "in the same rotated rounds as above.  A ratio below 1 is what splice saves.",
                 "these results predate step 3d")

    # ---- what a message costs, taken apart (scripts/bench_anatomy.py, step 3e)
    quoted_table(w, results, "anatomy.md", "What a message costs, taken apart",
                 "Step 3e of `make bench` (`scripts/bench_anatomy.py`): the epoll model "
                 "(splicing, and copying with `--no-splice`), the uring model and the "
                 "textbook loop in the same rotated rounds as above, each run counted with "
                 "`perf stat` (the server's system calls and context switches) and "
                 "/proc/net/snmp (the TCP segments sent, requests and replies).  Where two "
                 "servers send the same segments and make the same calls, what is left "
                 "between them is noise and the kernel's work per segment.",
                 "these results predate step 3e")

    # ---- load generator CPU
    w("## The load generator's own CPU\n")
    w("`sockit bench`'s user + system CPU time (all its threads) divided by the "
      "messages echoed, and its CPU use over its run, at each TCP point: the median "
      "over every server that ran the point cleanly, and against the best model.  "
      "Above 90 % CPU the load generator, not the server, sets the pace.\n")
    w("| point | us/msg (median over servers) | us/msg against %s | bench CPU against %s |"
      % (best_model, best_model))
    w("| --- | ---: | ---: | ---: |")
    for p in tcp.points:
        vals = [field(c, "generator_cpu_us_per_msg", "gen_cpu_us_per_msg")
                for c in p["results"] if c["status"] == "ok"]
        vals = [v for v in vals if v is not None]
        b = tcp.cell(p, best_model) if best_model else None
        b_us = field(b, "generator_cpu_us_per_msg", "gen_cpu_us_per_msg")
        b_pct = field(b, "generator_cpu_pct", "gen_cpu_pct")
        w("| %s | %s | %s | %s |" % (
            point_name(p), "%.2f" % statistics.median(vals) if vals else "-",
            "%.2f" % b_us if b_us is not None else "-",
            "%.0f%%" % b_pct if b_pct is not None else "-"))
    w("")

    # ---- the generator's engines, measured by scripts/bench_engines.py
    engines = read_text(os.path.join(results, "engines.md"))
    if engines.strip():
        w("### Its engines, measured on their own\n")
        w("Not from `make bench`: `scripts/bench_engines.py` measures the poll and "
          "io_uring engines of `sockit bench` against the same servers, and its result "
          "is kept in `bench/results/engines.md`, quoted here as it was written.\n")
        w(engines.strip() + "\n")

    # ---- server CPU split
    w("## Server CPU: user space against kernel\n")
    w("utime and stime of the server's process group over all its TCP runs: from "
      "`/proc/PID/stat` before each run and, after it, from `wait4()`'s rusage of every "
      "process in the group as it is reaped (results from before "
      "`server_cpu_us_per_msg` read `/proc/PID/stat` at both ends, in 10 ms clock "
      "ticks; the sums over %d runs round little either way).\n"
      % (len(tcp.points) * int(machine.get("repeat", "1") or 1)))
    w("| server | kind | user s | system s | user share |\n| --- | --- | ---: | ---: | ---: |")
    for name, s in tcp.summary.items():
        if s["server_user_s"] + s["server_sys_s"] > 0:
            w("| %s | %s | %.2f | %.2f | %.1f%% |" % (name, s["kind"], s["server_user_s"],
                                                      s["server_sys_s"], s["server_user_pct"]))
    w("")

    # ---- perf
    w("## Profile\n")
    if perf.strip():
        w("```")
        w(perf.strip())
        w("```\n")
    else:
        w("No profile (perf did not run).\n")

    with open(out_path, "w") as f:
        f.write("\n".join(md).rstrip("\n") + "\n")


def anatomy_medians(results):
    """{(conns, size, depth): {server: {segments, syscalls}}} from step 3e's
    anatomy.json (scripts/bench_anatomy.py), or {}."""
    out = {}
    for entry in load_json(os.path.join(results, "anatomy.json")) or []:
        runs = entry.get("runs") or []

        def med(key):
            vals = [r[key] for r in runs if r.get(key) is not None]
            return statistics.median(vals) if vals else None

        out.setdefault(tuple(entry["point"]), {})[entry["server"]] = {
            "segments": med("segments_per_msg"), "syscalls": med("syscalls_per_msg"),
        }
    return out


def anatomy_summary(w, results, cpu_model, users):
    """What the (4) gap is made of: the same segments per message, the
    system calls each side makes, and how little the textbook loop spends
    in user space (users: its share at each point of the compare run, in
    percent; all a server could still save on its own side)."""
    anatomy = anatomy_medians(results)
    pairs = [(pt, by[cpu_model], by["epoll_echo"]) for pt, by in sorted(anatomy.items())
             if cpu_model in by and "epoll_echo" in by]
    if not pairs:
        w("Step 3e (what a message costs, taken apart) did not measure %s beside "
          "epoll_echo in this run.\n" % cpu_model)
        return
    seg = [a["segments"] / b["segments"] for _, a, b in pairs if a["segments"] and b["segments"]]
    calls = ["%s %s against %s" % ("%dx%dx%d" % pt, f2(a["syscalls"]), f2(b["syscalls"]))
             for pt, a, b in pairs if a["syscalls"] is not None and b["syscalls"] is not None]
    w("What the gap is made of (step 3e below, at the same %d points): %s and the textbook "
      "loop sent %s TCP segments per message (their ratio %s), so the kernel did the same "
      "TCP work for each; system calls per message, %s against epoll_echo: %s; and the "
      "textbook loop spent %s of its CPU in user space (the compare run above), which bounds what any server "
      "could still save on its own side of each message.  On loopback the rest is the "
      "kernel's work per segment, both peers' (the sender's system call runs the "
      "receiver's TCP input too), the same whichever server runs.\n" % (
          len(pairs), cpu_model,
          "the same" if seg and max(seg) <= 1.02 and min(seg) >= 0.98 else "different",
          "%.2f to %.2f" % (min(seg), max(seg)) if seg else "-", cpu_model,
          "; ".join(calls) if calls else "not counted (no perf)",
          "%.1f%% to %.1f%%" % (min(users), max(users)) if users else "-"))


def quoted_table(w, results, name, title, prose, missing):
    """A section quoting results/name (a scripts/bench_uring.py table)
    under prose, or saying why it is not there."""
    text = read_text(os.path.join(results, name))
    w("### %s\n" % title)
    if text.strip():
        w(prose + "\n")
        w(demote(text.strip()) + "\n")
    else:
        w("Not measured by this run (%s).\n" % missing)


def demote(text):
    """compare's Markdown uses ####; keep it, drop trailing blank lines."""
    return text.rstrip("\n") + "\n"


def write_chart(results, tcp):
    rows = []
    for name, s in tcp.summary.items():
        if not tcp.present(name):
            continue
        rates = [tcp.cell(p, name).get("median_msgs_per_s") for p in tcp.points]
        p99s = [tcp.cell(p, name).get("median_p99_us") for p in tcp.points]
        g = geomean(rates)
        if g <= 0:
            continue
        label = name + ("" if s["complete"] else "*")
        rows.append((label, 1 if s["kind"] == "model" else 2, g, geomean(p99s)))
    with open(os.path.join(results, "chart.dat"), "w") as f:
        f.write("# server kind(1=model,2=peer) geomean_msgs_per_s geomean_p99_us\n")
        for r in rows:
            f.write('"%s" %d %.1f %.1f\n' % r)
    dat = os.path.join(results, "chart.dat")
    png = os.path.join(results, "chart.png")
    with open(os.path.join(results, "chart.gp"), "w") as f:
        f.write("""# Written by scripts/bench_report.py; run by scripts/bench.sh.
set terminal pngcairo size 1100,850 font "sans,10" noenhanced
set output "%(png)s"
set multiplot layout 2,1 title "sockit compare: TCP echo on 127.0.0.1, geometric mean over the matrix"
set style fill solid 0.85 border -1
set boxwidth 0.7
set grid ytics
set xtics rotate by -35 nomirror
set key tmargin right horizontal
set xrange [-0.6:%(n)d-0.4]
set ylabel "messages/s"
set format y "%%.0s%%c"
plot "%(dat)s" using 0:3:2:xtic(1) with boxes lc variable notitle, \\
     NaN with boxes lc 1 title "sockit model", NaN with boxes lc 2 title "peer"
set ylabel "p99 latency (us)"
set logscale y
set format y "%%g"
plot "%(dat)s" using 0:4:2:xtic(1) with boxes lc variable notitle, \\
     NaN with boxes lc 1 title "sockit model", NaN with boxes lc 2 title "peer"
unset multiplot
""" % {"png": png, "dat": dat, "n": len(rows)})


if __name__ == "__main__":
    main()
