# SPDX-License-Identifier: BSD-2-Clause
"""What the models promise beyond echoing: no zombies, the message log,
clean stops and restarts.  Limits, idle timeouts and resets have files of
their own (test_limits.py, test_event_models.py)."""
import os
import socket
import threading
import time

import pytest

from conftest import (TCP_MODEL_PARAMS, children_of, connect, echo_once, recv_all,
                      recv_exact, soak)


def test_fork_leaves_no_zombie_after_many_connections(serve):
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "fork", "-q")
    for i in range(soak(500, 10000)):
        assert echo_once(srv.port, b"%d\n" % i) == b"%d\n" % i
    # The parent reaps when SIGCHLD interrupts accept; give the last few
    # children a moment to exit, then nothing may be left, zombie or not.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        kids = children_of(srv.proc.pid)
        zombies = [k for k in kids if k[1] == "Z"]
        # The --log writer is not running here, so no child should remain.
        if not kids:
            break
        time.sleep(0.1)
    assert not zombies, "zombie children: %s" % zombies
    assert not kids, "children still alive: %s" % kids


def test_fork_no_reap_leaves_zombies_for_teaching_and_reaps_them_on_stop(serve):
    """--no-reap exists for LEARN.md: each ended child stays a zombie, and
    the log says why; stopping the server reaps them all."""
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "fork", "--no-reap")
    for i in range(3):
        assert echo_once(srv.port, b"%d\n" % i) == b"%d\n" % i
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        kids = children_of(srv.proc.pid)
        if len(kids) == 3 and all(state == "Z" for _, state in kids):
            break
        time.sleep(0.05)
    assert sorted(state for _, state in kids) == ["Z"] * 3, kids
    assert srv.stop() == 0
    assert "SIGCHLD: a child ended and is not reaped (--no-reap)" in srv.log()
    assert all(not os.path.exists("/proc/%d" % pid) for pid, _ in kids), kids


@pytest.mark.parametrize("args, words", [
    (["-m", "epoll", "--no-reap"], "--no-reap applies to the fork model, not epoll"),
    (["-m", "thread", "--no-reap"], "--no-reap applies to the fork model, not thread"),
])
def test_no_reap_is_refused_off_fork(args, words):
    from conftest import sockit
    r = sockit("serve", "echo", "-p", "0", *args)
    assert r.returncode == 2 and words in r.stderr.decode(), r


@pytest.mark.parametrize("model", TCP_MODEL_PARAMS)
def test_log_file_gets_every_message(serve, tmp_path, model):
    log = tmp_path / "messages.log"
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "-m", model, "--log", str(log))
    sent = [b"message %d from a client\n" % i for i in range(10)]
    for m in sent:
        assert echo_once(srv.port, m) == m
    assert srv.stop() == 0
    data = log.read_bytes()
    for m in sent:
        assert m in data
    assert len(data) == sum(len(m) for m in sent)


def test_log_file_unwritable_is_a_clear_failure(tmp_path):
    from conftest import sockit
    r = sockit("serve", "echo", "-p", "0", "--log", str(tmp_path / "no" / "dir" / "x.log"))
    assert r.returncode == 1
    assert b"--log" in r.stderr and len(r.stderr.splitlines()) == 1


@pytest.mark.parametrize("model", TCP_MODEL_PARAMS)
def test_sigterm_stops_with_clients_connected(serve, model):
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "-m", model)
    s = connect("127.0.0.1", srv.port)
    s.sendall(b"z")
    assert recv_exact(s, 1) == b"z"
    start = time.monotonic()
    assert srv.stop() == 0
    assert time.monotonic() - start < 3
    s.settimeout(5)
    assert s.recv(1) == b""


def test_many_clients_in_parallel_on_thread(serve):
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "thread", "-q")
    errors = []

    def client(n):
        try:
            for j in range(20):
                msg = b"%d-%d " % (n, j) * 100
                s = connect("127.0.0.1", srv.port)
                s.sendall(msg)
                s.shutdown(socket.SHUT_WR)
                if recv_all(s) != msg:
                    errors.append(n)
                s.close()
        except Exception as e:  # noqa: BLE001 - report any failure
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors


def test_restart_binds_at_once_after_time_wait(serve):
    srv = serve("hello", "-l", "127.0.0.1", "-p", "0", "-m", "thread", "-q")
    port = srv.port
    for _ in range(300):  # the server closes first: TIME_WAIT is on its side
        s = connect("127.0.0.1", port)
        recv_all(s)
        s.close()
    assert srv.stop() == 0
    again = serve("hello", "-l", "127.0.0.1", "-p", str(port), "-m", "thread", "-q")
    assert again.port == port
