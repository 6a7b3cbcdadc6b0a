#!/usr/bin/env python3
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


def misses_explained(tcp, udp, perf, best_model, best_peer):
    paras = []
    kernel, own, libc = (perf_share(perf, o) for o in ("[kernel.kallsyms]", "sockit",
                                                        "libc.so.6"))
    profiled = None
    for line in perf.splitlines():
        if line.startswith("model="):
            profiled = line.split("=", 1)[1]
    if best_model and best_peer and tcp.summary.get(best_model) and \
            tcp.summary[best_model]["geomean_msgs_per_s"] < 1.3 * \
            tcp.summary[best_peer]["geomean_msgs_per_s"]:
        byd = ratio_by_depth(tcp, best_model, best_peer, tcp.points)
        text = ("**Throughput against %s.** %s against %s, by depth: %s (the "
                "min-max ranges in the tables show how much of that is noise)." % (
                    best_peer, best_model, best_peer,
                    ", ".join("depth %d %.2fx" % (d, r) for d, r in byd.items())))
        if kernel is not None and own is not None:
            text += ("  The profile (%s under 50 connections x 4 KiB x depth 16) puts "
                     "%.1f%% of the server's samples in the kernel, %.1f%% in libc's "
                     "system call wrappers and %.1f%% in sockit's own code.  Only that "
                     "%.1f%% is the server's design; the rest is the kernel's copying, "
                     "TCP and wake-ups, which %s (a loop that makes the same three "
                     "system calls per message, epoll_wait, recv and send, and nothing "
                     "else) pays too.  A 1.3x lead over it would need less kernel work "
                     "per message, not leaner user code." % (
                         profiled or "the best model", kernel, libc or 0.0, own, own,
                         best_peer))
        paras.append(text)
        worse = []
        for p in tcp.points:
            a, b = tcp.cell(p, best_model), tcp.cell(p, best_peer)
            if a and b and a["median_p99_us"] > b["median_p99_us"]:
                ra = [r["p99_us"] for r in a["runs"] if r.get("p99_us")]
                rb = [r["p99_us"] for r in b["runs"] if r.get("p99_us")]
                if ra and rb:
                    overlap = min(ra) <= max(rb)
                    worse.append("%s: %s p99 %.0f-%.0f us over its runs, %s %.0f-%.0f us%s"
                                 % (point_name(p), best_model, min(ra), max(ra), best_peer,
                                    min(rb), max(rb), " (the ranges overlap)" if overlap
                                    else ""))
        if worse:
            paras.append("**p99 against %s.** Where the best model's median p99 is "
                         "higher: %s." % (best_peer, "; ".join(worse)))
    floor = tcp.summary.get("epoll_echo", {}).get("server_user_pct")
    models_over = [n for n, s in tcp.summary.items()
                   if s["kind"] == "model" and s.get("server_user_pct", 0) > 5]
    if models_over and floor is not None:
        paras.append("**User-space CPU.** The textbook epoll loop (`epoll_echo`), which "
                     "does nothing but `epoll_wait`, `recv` and `send`, spends %.1f%% of "
                     "its CPU time in user space on this machine: that is the floor for "
                     "any server here, since the kernel charges the system call entry "
                     "and exit and libc's wrappers (%s of the profile) to user time.  "
                     "The event-loop models sit at %s." % (
                         floor, "%.1f%%" % libc if libc is not None else "a share",
                         ", ".join("%s %.1f%%" % (m, tcp.summary[m]["server_user_pct"])
                                   for m in EVENT_MODELS if m in tcp.summary)))
    if udp.data and udp.present("udp_echo"):
        models = [n for n, s in udp.summary.items() if s["kind"] == "model"]
        clean = [p for p in udp.points if udp.clean(p, "udp_echo")]
        best, best_g = None, 0
        for m in models:
            if clean and all(udp.clean(p, m) for p in clean):
                g = udp.geomean_where(m, clean)
                if g > best_g:
                    best, best_g = m, g
        ref = udp.geomean_where("udp_echo", clean) if clean else 0
        if best and ref and best_g < 1.5 * ref:
            byd = ratio_by_depth(udp, best, "udp_echo", clean)
            gen = [udp.cell(p, best).get("gen_cpu_pct") for p in clean if p["depth"] == 1]
            paras.append("**UDP against the textbook loop.** %s against udp_echo, by depth: "
                         "%s.  Batching (`recvmmsg`/`sendmmsg`) pays only when several "
                         "datagrams wait: at depth 1 one datagram per socket is in flight, "
                         "so every receive finds one and both servers make the same two "
                         "system calls per datagram; there the load generator ran at %s "
                         "of its CPU." % (
                             best, ", ".join("depth %d %.2fx" % (d, r) for d, r in byd.items()),
                             ", ".join("%.0f%%" % g for g in gen if g is not None) or "?"))
    return paras


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
    w("| peers | libuv %s, libevent %s, node %s, socat %s, ncat %s, iperf3 %s |" % (
        machine.get("libuv"), machine.get("libevent"), machine.get("node"),
        machine.get("socat"), machine.get("ncat"), machine.get("iperf3")))
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
      "%s s keeps the whole of `make bench` near 20 minutes on 2 cores; "
      "`DURATION=2 make bench` takes about 35).  "
      "Figures are medians over the rounds.  The peers are in `bench/peers/`; "
      "socat runs as `socat TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr,fork,backlog=511 "
      "EXEC:cat` and ncat as `ncat -l -k --max-conns 1000 127.0.0.1 PORT --exec "
      "/bin/cat` (the backlog and connection limit raised so that 500 clients "
      "measure echo rather than the defaults of 5 and 100).\n" % (r, d, d))

    # ---- targets
    w("## Targets\n")
    w("| target | measured | verdict |\n| --- | --- | --- |")
    best_model = tcp.data.get("best_model") if tcp.data else None
    best_peer = tcp.data.get("best_peer") if tcp.data else None
    worse_points = []
    if best_model and best_peer:
        bm, bp = tcp.summary[best_model], tcp.summary[best_peer]
        ratio = bm["geomean_msgs_per_s"] / bp["geomean_msgs_per_s"]
        w("| best model >= 1.3x the best peer (geometric mean of msgs/s over the %d points) "
          "| %s %s msgs/s vs %s %s msgs/s: **%.2fx** | %s |" % (
              len(tcp.points), best_model, rate(bm["geomean_msgs_per_s"]), best_peer,
              rate(bp["geomean_msgs_per_s"]), ratio, verdict(ratio >= 1.3)))
        for p in tcp.points:
            a, b = tcp.cell(p, best_model), tcp.cell(p, best_peer)
            if a["median_p99_us"] > b["median_p99_us"]:
                worse_points.append("%s: %.0f vs %.0f us" % (
                    point_name(p), a["median_p99_us"], b["median_p99_us"]))
        w("| best model's p99 no worse than the best peer's at any point | %s | %s |" % (
            "worse at %d of %d points (%s)" % (len(worse_points), len(tcp.points),
                                               "; ".join(worse_points))
            if worse_points else "no worse at any of the %d points" % len(tcp.points),
            verdict(not worse_points)))
    else:
        w("| best model >= 1.3x the best peer | no model or no peer finished every point "
          "without errors (best model: %s, best peer: %s) | **not measurable** |"
          % (best_model, best_peer))

    uv_ok = tcp.summary.get("uv_echo", {}).get("complete")
    for m in EVENT_MODELS:
        if not tcp.present(m):
            w("| %s >= libuv (uv_echo) | %s | **not measured** |" % (
                m, tcp.servers.get(m, {}).get("skipped") or "not run"))
            continue
        if not uv_ok:
            w("| %s >= libuv (uv_echo) | uv_echo did not finish every point cleanly | "
              "**not measurable** |" % m)
            continue
        s = tcp.summary[m]
        below = [point_name(p) for p in tcp.points
                 if tcp.cell(p, m).get("median_msgs_per_s", 0)
                 < tcp.cell(p, "uv_echo")["median_msgs_per_s"]]
        if s["complete"]:
            ratio = s["geomean_msgs_per_s"] / tcp.summary["uv_echo"]["geomean_msgs_per_s"]
            w("| %s >= libuv (uv_echo), geometric mean | **%.2fx** (below uv_echo at %d of %d "
              "points%s) | %s |" % (m, ratio, len(below), len(tcp.points),
                                    ": " + ", ".join(below) if below else "",
                                    verdict(ratio >= 1.0)))
        else:
            w("| %s >= libuv (uv_echo) | errors or failures at %d of %d points | %s |" % (
                m, len(tcp.points) - s["clean_points"], len(tcp.points), verdict(False)))

    over = []
    for name, s in tcp.summary.items():
        if s["kind"] == "model" and s["server_user_s"] + s["server_sys_s"] > 0:
            if s["server_user_pct"] > 5:
                over.append("%s %.1f%%" % (name, s["server_user_pct"]))
    if best_model:
        u = tcp.summary[best_model]["server_user_pct"]
        w("| server user-space CPU <= 5 %% (utime / (utime + stime), all runs) | best model "
          "%s: **%.1f%%**; models over 5 %%: %s | %s |" % (
              best_model, u, ", ".join(over) if over else "none", verdict(u <= 5 and not over)
              if not over else verdict(False) + " for " + ", ".join(x.split()[0] for x in over)))

    # UDP: the best sockit UDP model against the textbook loop.
    if udp.data and udp.present("udp_echo"):
        models = [n for n, s in udp.summary.items() if s["kind"] == "model"]
        clean_pts = [p for p in udp.points if udp.clean(p, "udp_echo")]
        best_u, best_u_g = None, 0
        for m in models:
            if all(udp.clean(p, m) for p in clean_pts) and clean_pts:
                g = udp.geomean_where(m, clean_pts)
                if g > best_u_g:
                    best_u, best_u_g = m, g
        if best_u:
            ref = udp.geomean_where("udp_echo", clean_pts)
            ratio = best_u_g / ref if ref else 0
            note = "" if len(clean_pts) == len(udp.points) else (
                " (over the %d of %d points where udp_echo lost nothing)"
                % (len(clean_pts), len(udp.points)))
            w("| UDP echo >= 1.5x the textbook loop (udp_echo) | %s %s vs %s msgs/s: "
              "**%.2fx**%s | %s |" % (best_u, rate(best_u_g), rate(ref), ratio, note,
                                      verdict(ratio >= 1.5)))
        else:
            w("| UDP echo >= 1.5x the textbook loop | no sockit UDP model ran every point "
              "without loss | **missed** |")
    else:
        w("| UDP echo >= 1.5x the textbook loop | udp_echo not run | **not measured** |")

    if gets and iperfs:
        g, i = statistics.median(gets), statistics.median(iperfs)
        w("| `sockit get` 1 GiB >= 0.9x one iperf3 stream | %.0f MB/s vs %.0f MB/s: **%.2fx** "
          "| %s |" % (g, i, g / i, verdict(g / i >= 0.9)))
    else:
        w("| `sockit get` 1 GiB >= 0.9x one iperf3 stream | %s | **not measured** |"
          % ("; ".join(transfer_notes) or "no result"))
    w("")

    # ---- why the misses: each explained from the figures above
    why = misses_explained(tcp, udp, perf, best_model, best_peer)
    if why:
        w("## What limits the missed targets\n")
        w("Computed from the same results; a target is only explained here, never "
          "re-judged.\n")
        for para in why:
            w(para + "\n")

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
        w("| point | %s msgs/s | %s msgs/s | ratio | %s p99 us | %s p99 us |" % (
            best_model, best_peer, best_model, best_peer))
        w("| --- | ---: | ---: | ---: | ---: | ---: |")
        for p in tcp.points:
            a, b = tcp.cell(p, best_model), tcp.cell(p, best_peer)
            w("| %s | %s | %s | %.2fx | %.0f | %.0f |" % (
                point_name(p), rate(a["median_msgs_per_s"]), rate(b["median_msgs_per_s"]),
                a["median_msgs_per_s"] / b["median_msgs_per_s"], a["median_p99_us"],
                b["median_p99_us"]))
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

    # ---- load generator CPU
    w("## The load generator's own CPU\n")
    w("From `sockit bench`'s `cpu_us_per_msg` (its user + system CPU time divided by "
      "the messages echoed) and its CPU use over the run, at each TCP point: the median "
      "over every server that ran the point cleanly, and against the best model.  "
      "Near 100 %% CPU the load generator, not the server, sets the pace.\n")
    w("| point | us/msg (median over servers) | us/msg against %s | bench CPU against %s |"
      % (best_model, best_model))
    w("| --- | ---: | ---: | ---: |")
    for p in tcp.points:
        vals = [c["gen_cpu_us_per_msg"] for c in p["results"] if c["status"] == "ok"]
        b = tcp.cell(p, best_model) if best_model else None
        w("| %s | %s | %s | %s |" % (
            point_name(p), "%.2f" % statistics.median(vals) if vals else "-",
            "%.2f" % b["gen_cpu_us_per_msg"] if b and "gen_cpu_us_per_msg" in b else "-",
            "%.0f%%" % b["gen_cpu_pct"] if b and "gen_cpu_pct" in b else "-"))
    w("")

    # ---- server CPU split
    w("## Server CPU: user space against kernel\n")
    w("utime and stime of the server's process group from `/proc/PID/stat` over all "
      "its TCP runs (clock ticks, so short runs round to whole 10 ms ticks; the sums "
      "over %d runs do not).\n" % (len(tcp.points) * int(machine.get("repeat", "1") or 1)))
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
