"""What the blocking models promise beyond echoing: no zombies, limits,
the message log, idle timeouts, clean stops, resets and restarts."""
import os
import signal
import socket
import struct
import threading
import time

import pytest

from conftest import TCP_MODEL_PARAMS, connect, model_params, recv_all, recv_exact, soak


def children_of(pid):
    """(pid, state) of every process whose parent is pid, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces: split after its closing ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append((int(entry), fields[0]))
    return out


def echo_once(port, payload=b"ping\n"):
    s = connect("127.0.0.1", port)
    s.sendall(payload)
    got = recv_exact(s, len(payload))
    s.close()
    return got


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


@pytest.mark.parametrize("model", model_params(["fork", "thread", "pool", "select", "epoll"]))
def test_max_conns_refuses_one_too_many_with_a_line(serve, model):
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "-m", model, "--max-conns", "2")
    held = [connect("127.0.0.1", srv.port) for _ in range(2)]
    for s in held:  # make sure both are being served
        s.sendall(b"x")
        assert recv_exact(s, 1) == b"x"
    extra = connect("127.0.0.1", srv.port)
    line = recv_all(extra)
    assert line.startswith(b"ERR ") and line.endswith(b"\n") and line.count(b"\n") == 1
    extra.close()
    srv.wait_for_log(r"refused: 2 connections already")
    held.pop().close()
    # Once a slot is free a new client is served.
    deadline = time.monotonic() + 5
    while True:
        s = connect("127.0.0.1", srv.port)
        s.sendall(b"y")
        got = s.recv(64)
        s.close()
        if got == b"y":
            break
        assert time.monotonic() < deadline, "no slot freed: %r" % got
        time.sleep(0.05)
    for s in held:
        s.close()


@pytest.mark.parametrize("model", TCP_MODEL_PARAMS)
def test_idle_timeout_closes_silent_connections(serve, model):
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "-m", model, "--idle-timeout", "1")
    s = connect("127.0.0.1", srv.port)
    s.settimeout(5)
    s.sendall(b"a")
    assert recv_exact(s, 1) == b"a"
    start = time.monotonic()
    assert s.recv(1) == b""  # the server closed it
    waited = time.monotonic() - start
    assert 0.8 <= waited <= 2.5, waited
    srv.wait_for_log(r"idle for 1000 ms")


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


@pytest.mark.parametrize("model", model_params(["fork", "thread", "pool", "poll", "epoll"]))
def test_resets_mid_echo_leave_the_server_serving(serve, model):
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "-m", model, "-q")
    linger0 = struct.pack("ii", 1, 0)
    for i in range(300):
        s = connect("127.0.0.1", srv.port)
        s.sendall(os.urandom(50000))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger0)
        s.close()  # RST while the server may still be echoing
    assert echo_once(srv.port) == b"ping\n"


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
