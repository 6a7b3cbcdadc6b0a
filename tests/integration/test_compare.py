# SPDX-License-Identifier: BSD-2-Clause
"""sockit compare: a tiny matrix against two models and one peer, its
tables and JSON, skipped peers, usage errors, and clean-up on Ctrl-C."""
import json
import re
import os
import signal
import subprocess
import time

import pytest

from conftest import MODEL_TABLE, SOCKIT, alive, children_of, sockit

PEER_DIR = os.path.join(os.path.dirname(SOCKIT), "peers")
EPOLL_ECHO = os.path.join(PEER_DIR, "epoll_echo")


def runnable_models(n):
    """n event-loop or thread models that run here (iterative serves one
    client at a time, which --quick's 8 connections would only starve)."""
    picks = [m for m in ("epoll", "poll", "select", "thread", "uring")
             if MODEL_TABLE.get(m, "missing") is None]
    return picks[:n]


def compare(args, timeout=180):
    return subprocess.run([SOCKIT, "compare"] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")

# The JSON fields README.md documents for a result with figures, a run and
# a server's summary: each must be in the JSON and in the README.
RESULT_FIELDS = ["median_msgs_per_s", "min_msgs_per_s", "max_msgs_per_s", "median_p99_us",
                 "server_cpu_us_per_msg", "errors", "failed_runs", "server_cpu_pct",
                 "server_user_pct", "generator_cpu_pct", "generator_saturated",
                 "generator_cpu_us_per_msg", "runs"]
RUN_FIELDS = ["msgs_per_s", "msgs", "p50_us", "p99_us", "errors", "duration_s",
              "server_cpu_s", "server_user_s", "server_sys_s", "server_cpu_us_per_msg",
              "wall_s", "generator_cpu_s", "generator_wall_s", "generator_cpu_pct",
              "generator_saturated", "generator_cpu_us_per_msg", "note"]
SUMMARY_FIELDS = ["complete", "geomean_msgs_per_s", "vs_best_peer", "p99_worse_points",
                  "worst_p99_ratio", "clean_points", "server_user_s", "server_sys_s",
                  "server_user_pct", "server_cpu_us_per_msg", "generator_cpu_us_per_msg",
                  "generator_saturated_points"]


def test_documented_fields_are_in_readme_and_help():
    with open(README) as f:
        readme = f.read()
    for name in RESULT_FIELDS + RUN_FIELDS + SUMMARY_FIELDS + ["generator_saturated_pct"]:
        assert "`%s`" % name in readme, name
    p = compare(["--help"], timeout=30)
    assert p.returncode == 0
    for name in ("server_cpu_us_per_msg", "generator_cpu_pct", "generator_saturated",
                 "srv us/msg", "90%"):
        assert name in p.stdout.decode(), name


def models_with_fork():
    """An event-loop model and the fork model: fork's work is done in a
    child per connection, so its CPU only counts if children are counted."""
    models = runnable_models(1)
    if MODEL_TABLE.get("fork", "missing") is None:
        models.append("fork")
    return models


def check_cpu_figures(data, r):
    """A result's CPU figures against the runs they come from."""
    server_cpus = 1 if data["pinned"] else os.cpu_count()
    limit = data["generator_saturated_pct"]
    assert limit == 90
    run = r["runs"][0]
    # The run: messages came back, the server and the generator used CPU,
    # and no more than their CPUs had to give over the wall time (the
    # server's count also holds its shutdown, well under 10 ms).
    assert run["msgs"] > 0, run
    assert run["msgs"] == pytest.approx(run["msgs_per_s"] * run["duration_s"], rel=0.02)
    assert 0 < run["server_cpu_s"] <= run["wall_s"] * server_cpus + 0.01, run
    assert run["server_cpu_us_per_msg"] == pytest.approx(
        run["server_cpu_s"] * 1e6 / run["msgs"], rel=0.01, abs=0.002), run
    # user and system split the same time, to the clock tick (10 ms).
    assert run["server_user_s"] + run["server_sys_s"] == pytest.approx(
        run["server_cpu_s"], abs=0.025), run
    assert 0 < run["generator_cpu_s"] <= run["generator_wall_s"] * server_cpus + 0.01, run
    assert run["generator_cpu_pct"] == pytest.approx(
        100 * run["generator_cpu_s"] / run["generator_wall_s"], rel=0.01, abs=0.1), run
    assert 0 < run["generator_cpu_pct"] <= 100 * server_cpus + 1, run
    assert run["generator_cpu_us_per_msg"] == pytest.approx(
        run["generator_cpu_s"] * 1e6 / run["msgs"], rel=0.01, abs=0.002), run
    assert run["generator_saturated"] == (run["generator_cpu_pct"] > limit), run
    # The point, from its one run.
    assert r["server_cpu_us_per_msg"] == pytest.approx(run["server_cpu_us_per_msg"], abs=0.001)
    assert r["generator_cpu_pct"] == pytest.approx(run["generator_cpu_pct"], abs=0.1)
    assert r["generator_saturated"] == (r["generator_cpu_pct"] > limit)
    assert r["server_cpu_pct"] == pytest.approx(
        100 * run["server_cpu_s"] / run["wall_s"], rel=0.02, abs=0.1)
    assert r["server_user_pct"] == pytest.approx(
        100 * run["server_user_s"] / (run["server_user_s"] + run["server_sys_s"]), abs=1.5)
    if r["server"] == "fork":
        # An echo server makes about the system calls per message that the
        # generator does; the fork model's parent only accepts and forks,
        # so were its children not counted this would be near 0.
        assert run["server_cpu_s"] > 0.1 * run["generator_cpu_s"], run


def point_block(out, label):
    """The text table of the point labelled label, up to the next one."""
    start = out.index("\n%s\n" % label)
    end = out.find("\n\n", start + 1)
    return out[start:end if end > 0 else len(out)]


def test_quick_two_models_and_a_peer(tmp_path):
    models = models_with_fork()
    if len(models) < 2:
        pytest.skip("the fork model and an event-loop model do not both run here: %s"
                    % MODEL_TABLE)
    if os.access(EPOLL_ECHO, os.X_OK):
        peers = "epoll_echo"
    else:
        print("epoll_echo is not built (%s; run 'make peers'): models only" % EPOLL_ECHO)
        peers = "none"
    js, md = tmp_path / "c.json", tmp_path / "c.md"
    # Depth 16 as well: where a generator is likeliest to run out of CPU.
    p = compare(["--quick", "--depths", "1,16", "--models", ",".join(models),
                 "--peers", peers, "--json", str(js), "--markdown", str(md)])
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 0, err
    servers = models + ([peers] if peers != "none" else [])
    labels = ["%d %s x 128 B, depth %d" % (c, "connection" if c == 1 else "connections", d)
              for c in (1, 8) for d in (1, 16)]

    # The text table: a section per point, a row per server, a summary.
    assert "sockit compare: TCP echo on 127.0.0.1" in out
    for label in labels:
        assert label in out
    assert "summary over the 4 points" in out
    assert "srv us/msg" in out and "gen cpu" in out
    for s in servers:
        rows = [l for l in out.splitlines() if l.split()[:1] == [s]]
        assert len(rows) == 5, (s, out)  # four points and the summary

    # The JSON: every run there, every run without errors, its CPU figures
    # consistent with what was measured.
    data = json.loads(js.read_text())
    assert data["proto"] == "tcp" and data["repeat"] == 1
    # Models in the library's order, then peers.
    assert sorted(s["name"] for s in data["servers"]) == sorted(servers)
    assert data["servers"][-1]["kind"] == ("peer" if peers != "none" else "model")
    assert [(p["conns"], p["size"], p["depth"]) for p in data["points"]] == \
        [(1, 128, 1), (1, 128, 16), (8, 128, 1), (8, 128, 16)]
    for point, label in zip(data["points"], labels):
        assert sorted(r["server"] for r in point["results"]) == sorted(servers)
        for r in point["results"]:
            assert r["status"] == "ok", r
            for name in RESULT_FIELDS:
                assert name in r, name
            assert r["errors"] == 0 and r["failed_runs"] == 0
            assert r["median_msgs_per_s"] > 0 and r["median_p99_us"] > 0
            assert len(r["runs"]) == 1
            run = r["runs"][0]
            for name in RUN_FIELDS:
                assert name in run, name
            assert run["errors"] == 0 and run["msgs_per_s"] > 0, run
            check_cpu_figures(data, r)
        # A saturated generator is marked in its row and explained under
        # the table, and only then.
        block = point_block(out, label)
        saturated = [r["server"] for r in point["results"] if r["generator_saturated"]]
        assert ("the load generator used more than 90% of its CPU" in block) == \
            bool(saturated), block
        for line in block.splitlines():
            if line.split()[:1] and line.split()[0] in servers:
                assert ("%*" in line) == (line.split()[0] in saturated), line
    summary = {s["server"]: s for s in data["summary"]}
    for s in servers:
        for name in SUMMARY_FIELDS:
            assert name in summary[s], name
        assert summary[s]["complete"] and summary[s]["clean_points"] == 4
        assert summary[s]["server_cpu_us_per_msg"] > 0
        assert summary[s]["generator_saturated_points"] == sum(
            1 for p in data["points"] for r in p["results"]
            if r["server"] == s and r["generator_saturated"])
    if peers != "none":
        assert data["best_peer"] == peers
        assert summary[peers]["vs_best_peer"] == pytest.approx(1.0)
    assert data["best_model"] in models

    text = md.read_text()
    assert "| server | kind | msgs/s | min-max | p99 us | srv us/msg |" in text
    assert "#### Summary" in text


def test_missing_peer_is_skipped_not_faked(tmp_path):
    js = tmp_path / "c.json"
    p = compare(["--quick", "--models", "none", "--peers", "epoll_echo,uv_echo",
                 "--peer-dir", str(tmp_path / "nowhere"), "-J", str(js)])
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 0, err
    assert "peer epoll_echo skipped: not built" in err
    assert "note: peer uv_echo skipped" in out
    data = json.loads(js.read_text())
    version = sockit("--version").stdout.decode().split()[-1]
    assert data["sockit_version"] == version
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", data["timestamp"])
    assert all(s["skipped"] for s in data["servers"])
    for point in data["points"]:
        for r in point["results"]:
            assert r["status"] == "skipped" and r["runs"] == []
            assert "median_msgs_per_s" not in r


@pytest.mark.parametrize("args, message", [
    (["--models", "nosuch"], "unknown model 'nosuch'"),
    (["--peers", "nosuch"], "unknown peer 'nosuch'"),
    (["--udp", "--peers", "uv_echo"], "peer 'uv_echo' is a TCP server"),
    (["--conns", "0"], "invalid --conns '0'"),
    (["--models", "none", "--peers", "none"], "nothing to compare"),
    (["--udp", "--sizes", "4"], "UDP messages are 8 to 65507 bytes"),
])
def test_usage_errors(args, message):
    p = compare(args, timeout=30)
    assert p.returncode == 2
    assert message in p.stderr.decode()


def test_ctrl_c_stops_every_child():
    models = runnable_models(1)
    if not models:
        pytest.skip("no event-loop model runs here")
    p = subprocess.Popen([SOCKIT, "compare", "--models", models[0], "--peers", "none",
                          "--conns", "2", "--sizes", "64", "--depths", "1",
                          "--duration", "20"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        kids = []
        while len(kids) < 2 and time.monotonic() < deadline:  # server and bench
            time.sleep(0.05)
            kids = [k for k, _ in children_of(p.pid)]
        assert len(kids) >= 2, "compare never started its server and bench"
        descendants = kids + [g for k in kids for g, _ in children_of(k)]
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 1
    assert b"interrupted" in err
    assert b"INTERRUPTED: partial results" in out
    for pid in descendants:
        assert not alive(pid), "child %d outlived sockit compare" % pid
