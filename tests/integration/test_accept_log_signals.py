# SPDX-License-Identifier: BSD-2-Clause
"""Two promises every TCP model keeps (RELIABILITY.md, "Signals, partial
I/O, closing"; the first client after a descriptor flood is in
test_descriptors.py):

- `--log` writes every received chunk whole, however many clients at once,
  whichever model (processes, threads or event loops) received it;
- SIGHUP stops the server like SIGTERM (exit 0, the stop line), and no
  child of a stopped server (fork's per-connection processes, the --log
  writer) goes on running.
"""
import os
import re
import signal
import threading
import time

import pytest

from conftest import LOCAL, TCP_MODEL_PARAMS, Server, alive, children_of, connect, recv_exact, soak


def running_children(pid):
    return [k for k, state in children_of(pid) if state != "Z"]


RECORD = 100
WRITE = 5000
CLIENTS = 8
RECORD_RX = re.compile(rb"^c(\d\d) (\d{8}) x+\n$")


def record(client, n):
    head = b"c%02d %08d " % (client, n)
    return head + b"x" * (RECORD - len(head) - 1) + b"\n"


def run_log_client(port, client, count, errors):
    """Send count records in 5,000-byte writes, each only once the last
    came back.  In lock step every write reaches the server as one segment
    and one recv(), so each received chunk holds whole records and a log
    line that is not one record can only be a splice inside a chunk.  (With
    writes queued back to back, a recv could end inside a record, and the
    next chunk logged, another client's, would look the same.)"""
    try:
        s = connect(LOCAL, port, timeout=30)
        data = b"".join(record(client, n) for n in range(count))
        for off in range(0, len(data), WRITE):
            piece = data[off:off + WRITE]
            s.sendall(piece)
            if recv_exact(s, len(piece)) != piece:
                errors.append("client %d: a different echo at byte %d" % (client, off))
                break
        s.close()
    except Exception as e:  # reported by the test thread
        errors.append("client %d: %r" % (client, e))


@pytest.mark.parametrize("model", TCP_MODEL_PARAMS)
def test_log_keeps_each_received_chunk_whole(serve, tmp_path, model):
    log = tmp_path / "messages.log"
    count = soak(4000, 50000)  # records per client
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", model, "-q", "--log", str(log))
    errors = []
    threads = [threading.Thread(target=run_log_client, args=(srv.port, c, count, errors))
               for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert srv.stop() == 0  # the writer has written everything once this returns
    seen = [[] for _ in range(CLIENTS)]
    torn = []
    for line in log.read_bytes().splitlines(keepends=True):
        m = RECORD_RX.match(line)
        if not m or len(line) != RECORD:
            torn.append(line)
            continue
        seen[int(m.group(1))].append(int(m.group(2)))
    print("\n%s: %d lines logged, %d torn" % (model, sum(map(len, seen)) + len(torn), len(torn)))
    assert not torn, "%d torn lines, e.g. %r" % (len(torn), torn[:3])
    for c in range(CLIENTS):
        assert seen[c] == list(range(count)), "client %d: records missing or out of order" % c


# ---- 3. SIGHUP, and no child outlives the server ---------------------------

@pytest.mark.parametrize("model", TCP_MODEL_PARAMS)
def test_sighup_stops_cleanly(model):
    srv = Server(["echo", "-l", LOCAL, "-p", "0", "-m", model], stop_signal=signal.SIGHUP)
    s = connect(LOCAL, srv.port)
    s.sendall(b"hup\n")
    assert recv_exact(s, 4) == b"hup\n"
    rc = srv.stop()
    s.close()
    assert rc == 0, "exit %s on SIGHUP:\n%s" % (rc, srv.log())
    assert re.search(r"info: stopped: \d+ connections", srv.log()), srv.log()


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP-group", "SIGKILL"])
def test_fork_stop_leaves_no_child_behind(tmp_path, how):
    # SIGHUP-group: what a closed terminal does, to the whole process
    # group (server, children and the log writer), so the server runs in
    # a group of its own.  SIGKILL: the server cannot end its children;
    # they must end themselves (PR_SET_PDEATHSIG), and then the writer.
    log = tmp_path / "messages.log"
    srv = Server(["echo", "-l", LOCAL, "-p", "0", "-m", "fork", "--log", str(log)],
                 preexec_fn=os.setpgrp)
    pid = srv.proc.pid
    clients = []
    for i in range(3):
        c = connect(LOCAL, srv.port)
        c.sendall(b"mid-session %d\n" % i)
        assert recv_exact(c, 14) == b"mid-session %d\n" % i
        clients.append(c)
    deadline = time.monotonic() + 5
    while len(running_children(pid)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    kids = running_children(pid)
    assert len(kids) == 4, "expected 3 connection children and the log writer: %s" % kids
    if how == "SIGHUP-group":
        os.killpg(pid, signal.SIGHUP)
    else:
        os.kill(pid, getattr(signal, how))
    try:
        rc = srv.proc.wait(10)
    except Exception:
        srv.kill()
        raise AssertionError("server did not stop on %s:\n%s" % (how, srv.log()))
    srv._reader.join(5)
    if how == "SIGKILL":
        assert rc == -signal.SIGKILL
    else:
        assert rc == 0, "exit %s on %s:\n%s" % (rc, how, srv.log())
        assert "stopped:" in srv.log()
    deadline = time.monotonic() + 2
    while any(alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [k for k in kids if alive(k)]
    for k in left:
        os.kill(k, signal.SIGKILL)
    assert not left, "children still running after the server stopped: %s" % left
    for c in clients:
        c.settimeout(5)
        try:
            assert c.recv(1) == b""
        except ConnectionResetError:
            pass  # closed either way
        c.close()
    data = log.read_bytes()
    for i in range(3):
        assert b"mid-session %d\n" % i in data
