"""sockit compare: a tiny matrix against two models and one peer, its
tables and JSON, skipped peers, usage errors, and clean-up on Ctrl-C."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import MODEL_TABLE, SOCKIT

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


def test_quick_two_models_and_a_peer(tmp_path):
    models = runnable_models(2)
    if len(models) < 2:
        pytest.skip("fewer than two models run here: %s" % MODEL_TABLE)
    if os.access(EPOLL_ECHO, os.X_OK):
        peers = "epoll_echo"
    else:
        print("epoll_echo is not built (%s; run 'make peers'): models only" % EPOLL_ECHO)
        peers = "none"
    js, md = tmp_path / "c.json", tmp_path / "c.md"
    p = compare(["--quick", "--models", ",".join(models), "--peers", peers,
                 "--json", str(js), "--markdown", str(md)])
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 0, err
    servers = models + ([peers] if peers != "none" else [])

    # The text table: a section per point, a row per server, a summary.
    assert "sockit compare: TCP echo on 127.0.0.1" in out
    for label in ("1 connection x 128 B, depth 1", "8 connections x 128 B, depth 1"):
        assert label in out
    assert "summary over the 2 points" in out
    for s in servers:
        rows = [l for l in out.splitlines() if l.split()[:1] == [s]]
        assert len(rows) == 3, (s, out)  # two points and the summary

    # The JSON: every run there, every run without errors.
    data = json.loads(js.read_text())
    assert data["proto"] == "tcp" and data["repeat"] == 1
    # Models in the library's order, then peers.
    assert sorted(s["name"] for s in data["servers"]) == sorted(servers)
    assert data["servers"][-1]["kind"] == ("peer" if peers != "none" else "model")
    assert [(p["conns"], p["size"], p["depth"]) for p in data["points"]] == \
        [(1, 128, 1), (8, 128, 1)]
    for point in data["points"]:
        assert sorted(r["server"] for r in point["results"]) == sorted(servers)
        for r in point["results"]:
            assert r["status"] == "ok", r
            assert r["errors"] == 0 and r["failed_runs"] == 0
            assert r["median_msgs_per_s"] > 0 and r["median_p99_us"] > 0
            assert 0 <= r["server_user_pct"] <= 100
            assert len(r["runs"]) == 1
            run = r["runs"][0]
            assert run["errors"] == 0 and run["msgs_per_s"] > 0, run
            assert run["server_user_s"] + run["server_sys_s"] >= 0
    summary = {s["server"]: s for s in data["summary"]}
    for s in servers:
        assert summary[s]["complete"] and summary[s]["clean_points"] == 2
    if peers != "none":
        assert data["best_peer"] == peers
        assert summary[peers]["vs_best_peer"] == pytest.approx(1.0)
    assert data["best_model"] in models

    text = md.read_text()
    assert "| server | kind | msgs/s |" in text and "#### Summary" in text


def test_missing_peer_is_skipped_not_faked(tmp_path):
    js = tmp_path / "c.json"
    p = compare(["--quick", "--models", "none", "--peers", "epoll_echo,uv_echo",
                 "--peer-dir", str(tmp_path / "nowhere"), "--json", str(js)])
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 0, err
    assert "peer epoll_echo skipped: not built" in err
    assert "note: peer uv_echo skipped" in out
    data = json.loads(js.read_text())
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


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


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
            kids = children_of(p.pid)
        assert len(kids) >= 2, "compare never started its server and bench"
        descendants = kids + [g for k in kids for g in children_of(k)]
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
