# SPDX-License-Identifier: BSD-2-Clause
"""The io_uring model (-m uring): what it promises beyond the suites that
every model runs (limits, memory, descriptors, half-close, services),
checked through the real binary and real sockets.

Every test skips, saying why, when `sockit serve --model list` marks uring
unavailable (built without liburing, kernel too old, io_uring disabled by
kernel.io_uring_disabled or a seccomp policy) -- or fails, under
SOCKIT_REQUIRE_URING=1 (CI, where liburing-dev is installed).
"""
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import LOCAL, SOCKIT, connect, echo_once, read_line, recv_all, recv_exact, require_model


@pytest.fixture(autouse=True)
def uring_available():
    require_model("uring")


def echo_in_pieces(host, port, data, rng):
    """Send data in random pieces while a thread reads; return what came back."""
    s = connect(host, port, timeout=30)
    got = []
    reader = threading.Thread(target=lambda: got.append(recv_all(s)))
    reader.start()
    off = 0
    while off < len(data):
        n = rng.randint(1, 70000)
        s.sendall(data[off:off + n])
        off += n
    s.shutdown(socket.SHUT_WR)
    reader.join(60)
    s.close()
    return got[0] if got else None


# ---- listing -----------------------------------------------------------------

def test_model_list_shows_uring():
    r = subprocess.run([SOCKIT, "serve", "--model", "list"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0
    lines = [l for l in r.stdout.decode().splitlines() if l.split()[:1] == ["uring"]]
    assert len(lines) == 1, r.stdout
    assert "asynchronous" in lines[0] and "tcp,udp" in lines[0], lines[0]
    assert "unavailable" not in lines[0], lines[0]


# ---- echo ----------------------------------------------------------------------

def test_echo_with_small_buffer(serve):
    """--buffer below the ring's buffer size: single bytes still all come back."""
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "-q", "--buffer", "100")
    rng = random.Random(7)
    data = os.urandom(300000)
    assert echo_in_pieces(LOCAL, srv.port, data, rng) == data


def test_two_workers_serve(serve):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "-q", "--workers", "2")
    for i in range(50):
        assert echo_once(srv.port, b"w%d\n" % i) == b"w%d\n" % i
    # The two workers are two threads of the one process.
    tasks = os.listdir("/proc/%d/task" % srv.proc.pid)
    assert len(tasks) >= 2, tasks


def test_max_clients_then_exit(serve):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "--max-clients", "3")
    for i in range(3):
        assert echo_once(srv.port, b"%d\n" % i) == b"%d\n" % i
    assert srv.proc.wait(10) == 0


# ---- chat ------------------------------------------------------------------------------

def test_chat_among_three(serve):
    srv = serve("chat", "-l", LOCAL, "-p", "0", "-m", "uring", "--workers", "2")
    members = []
    for i in range(3):
        s = connect(LOCAL, srv.port)
        assert read_line(s).startswith(b"* welcome"), i
        for m in members:  # the ones already in see the newcomer join
            assert read_line(m).endswith(b" joined\n")
        members.append(s)
    srv.wait_for_log(r"chat runs on one loop")
    names = ["%s:%d" % m.getsockname()[:2] for m in members]
    for i, m in enumerate(members):
        m.sendall(b"hello from %d\n" % i)
        for j, other in enumerate(members):
            if j != i:
                assert read_line(other) == b"[%s] hello from %d\n" % (names[i].encode(), i)
    members[0].close()
    for m in members[1:]:
        assert read_line(m) == b"* %s left\n" % names[0].encode()
    for m in members[1:]:
        m.close()


# ---- stopping ------------------------------------------------------------------------------

def test_sigterm_stops_with_exit_0_and_closes_connections(serve):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "--workers", "2")
    socks = [connect(LOCAL, srv.port) for _ in range(5)]
    for s in socks:
        s.sendall(b"x")
        assert recv_exact(s, 1) == b"x"
    start = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(10) == 0
    assert time.monotonic() - start < 3
    for s in socks:
        s.settimeout(5)
        try:
            assert s.recv(10) == b""
        except ConnectionResetError:
            pass
        s.close()
    srv._reader.join(5)
    assert len(re.findall(r"closed \(1 bytes in, 1 out\)", srv.log())) == 5, srv.log()


# ---- each technique on its own (SOCKIT_URING, for measuring) ------------------

URING_FEATURES = ["defer", "ringfd", "multishot-recv", "multishot-accept", "bundle",
                  "echo-in-place", "zc-send"]
OFF_BY_DEFAULT = ("bundle", "zc-send")


def echo_many_at_once(port, conns, size, seed):
    """conns connections at once, each echoing size random bytes in random
    pieces; the list of (sent, received) pairs."""
    rng = random.Random(seed)
    payloads = [rng.randbytes(size) for _ in range(conns)]
    results = [None] * conns

    def one(i):
        results[i] = echo_in_pieces(LOCAL, port, payloads[i], random.Random(seed + i))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return list(zip(payloads, results))


@pytest.mark.parametrize("off", ["none"] + URING_FEATURES)
def test_echo_with_each_technique_off(serve, off):
    """Every byte comes back whichever technique is left out, and with
    bundles on: 200 connections at once, 40000 bytes each in random pieces,
    so that a bundled receive spans several ring buffers and the ring (256
    buffers) runs short at times."""
    # bundle and zc-send are off by default: their columns turn them on.
    env = dict(os.environ, SOCKIT_URING="" if off == "none" else
               off if off in OFF_BY_DEFAULT else "no-" + off)
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "-q", env=env)
    for i, (sent, got) in enumerate(echo_many_at_once(srv.port, 200, 40000, 11)):
        assert got == sent, "connection %d: %s of %d bytes back" % (
            i, None if got is None else len(got), len(sent))


def test_slow_reader_keeps_no_ring_buffers_from_others(serve):
    """A client that sends a lot and reads nothing keeps its echo's send in
    flight for a long time; other clients meanwhile still get every byte
    back, and so does it once it reads."""
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "-q")
    slow = connect(LOCAL, srv.port, timeout=30)
    blob = os.urandom(4 << 20)
    sender = threading.Thread(target=lambda: slow.sendall(blob))
    sender.start()
    time.sleep(0.5)  # the slow client's socket buffers fill; nothing is read yet
    for i, (sent, got) in enumerate(echo_many_at_once(srv.port, 20, 100000, 5)):
        assert got == sent, "connection %d" % i
    back = bytearray()
    while len(back) < len(blob):
        chunk = slow.recv(65536)
        assert chunk, "server closed after %d bytes" % len(back)
        back += chunk
    sender.join(30)
    assert bytes(back) == blob
    slow.close()


def traced_events(srv):
    return [json.loads(line) for line in srv.log().splitlines() if line.startswith("{")]


def moved(events, call):
    return sum(e["result"] for e in events if e.get("call") == call
               and isinstance(e.get("result"), int) and e["result"] > 0)


def echo_over(s, data):
    """Send data over s in 64 KiB pieces while a thread reads it back, then
    half-close; it must come back whole."""
    got = []
    reader = threading.Thread(target=lambda: got.append(recv_all(s)))
    reader.start()
    for off in range(0, len(data), 65536):
        s.sendall(data[off:off + 65536])
    s.shutdown(socket.SHUT_WR)
    reader.join(60)
    s.close()
    assert got and got[0] == data


def echo_traced(srv, data):
    """echo_over a new connection, then wait for the server to close it;
    its trace events."""
    echo_over(connect(LOCAL, srv.port, timeout=30), data)
    deadline = time.monotonic() + 10
    while not any(e.get("call") == "close" for e in traced_events(srv)):
        assert time.monotonic() < deadline, "the server never closed the connection"
        time.sleep(0.05)
    return traced_events(srv)


@pytest.mark.parametrize("in_place", [True, False])
def test_echo_sends_from_the_ring_buffers(serve, in_place):
    """Echo sends the bytes back from the provided buffer they arrived in
    (one sendmsg for all a connection holds), and copies them into its
    output only where it must: 4 MiB read as it is echoed comes back
    intact, and the trace shows which way each byte went back.  With
    SOCKIT_URING=no-echo-in-place every byte is copied and sent."""
    env = dict(os.environ, SOCKIT_URING="" if in_place else "no-echo-in-place")
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "--trace=json", env=env)
    data = os.urandom(4 << 20)
    events = echo_traced(srv, data)
    held, copied = moved(events, "sendmsg"), moved(events, "send")
    assert moved(events, "recv") == len(data)
    assert held + copied == len(data), (held, copied)
    if in_place:
        assert held >= len(data) * 9 // 10, "only %d of %d bytes went back in place" % (
            held, len(data))
    else:
        assert held == 0


def test_stalled_readers_hold_at_most_half_the_ring(serve):
    """Echo in place keeps a buffer until its bytes have left, so a client
    that sends and never reads keeps its buffers.  80 such clients would
    hold the whole ring (256 buffers, about 5 each) and starve everybody
    else of receives; past half of it their bytes are copied instead, so
    other clients still echo, and every stalled one gets exactly its own
    bytes once it reads.  Small socket buffers make the stall come soon."""
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "-q",
                "--sockopt", "sndbuf=4096", "--sockopt", "rcvbuf=65536")
    rng = random.Random(7)
    stalled, blobs, senders, errors = [], [], [], []
    for i in range(80):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.settimeout(60)
        c.connect((LOCAL, srv.port))
        blob = rng.randbytes(300000)

        def send(c=c, blob=blob):
            try:
                c.sendall(blob)
            except OSError as e:
                errors.append(e)

        t = threading.Thread(target=send)
        t.start()
        stalled.append(c)
        blobs.append(blob)
        senders.append(t)
    time.sleep(1.0)  # the stalled clients' buffers fill; nothing is read yet
    for i, (sent, got) in enumerate(echo_many_at_once(srv.port, 5, 200000, 3)):
        assert got == sent, "connection %d: %s of %d bytes back" % (
            i, None if got is None else len(got), len(sent))
    for i, (c, blob) in enumerate(zip(stalled, blobs)):
        back = recv_exact(c, len(blob))
        assert back == blob, "stalled client %d got other bytes back" % i
    for t in senders:
        t.join(30)
    for c in stalled:
        c.close()
    assert not errors, errors
    assert echo_once(srv.port) == b"ping\n"


def test_zero_copy_echo(serve):
    """SOCKIT_URING=zc-send: echo's large sends pin the ring buffers'
    pages instead of copying them, and the buffers go back only once the
    kernel's notification says it let go.  4 MiB comes back intact, the
    trace shows zero-copy sends and their notifications, and every byte
    went back one way or the other."""
    env = dict(os.environ, SOCKIT_URING="zc-send")
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "--trace=json", env=env)
    data = os.urandom(4 << 20)
    events = echo_traced(srv, data)
    zc = moved(events, "sendmsg_zc")
    assert zc > 0, "no zero-copy send"
    assert zc + moved(events, "sendmsg") + moved(events, "send") == len(data)
    notes = [e for e in events if e.get("call") == "io_uring notification"]
    assert notes and "let go" in notes[0].get("meaning", ""), notes[:1]


def test_zero_copy_pages_of_a_stalled_reader_do_not_hold_a_descriptor(serve):
    """A client that reads nothing leaves zero-copy segments unsent in the
    server's socket, so their notification waits for the socket to let
    go of them.  When --idle-timeout closes such a connection the
    descriptor must go at once, not wait for a notification only its
    close can bring; a reset from such a client, and a stop, likewise."""
    env = dict(os.environ, SOCKIT_URING="zc-send")
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "-q", "--idle-timeout", "1",
                "--sockopt", "sndbuf=4096", env=env)
    fd_dir = "/proc/%d/fd" % srv.proc.pid
    fds_before = len(os.listdir(fd_dir))

    def stall():
        """Connect, send until the server takes no more, read nothing."""
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.connect((LOCAL, srv.port))
        c.setblocking(False)
        sent, last = 0, time.monotonic()
        while time.monotonic() - last < 0.3:
            try:
                sent += c.send(b"z" * 65536)
                last = time.monotonic()
            except BlockingIOError:
                time.sleep(0.02)
            except OSError:
                break
        assert sent > 100000, "the stalled client could only send %d bytes" % sent
        return c

    def descriptors_back(what):
        deadline = time.monotonic() + 10
        while len(os.listdir(fd_dir)) > fds_before:
            assert time.monotonic() < deadline, "%s: the descriptor stayed open" % what
            time.sleep(0.05)

    idle = stall()
    descriptors_back("closed for idleness")
    assert echo_once(srv.port) == b"ping\n"
    idle.close()
    reset = stall()
    reset.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    reset.close()  # a reset with the echo still unread
    descriptors_back("reset")
    last = stall()
    t0 = time.monotonic()
    assert srv.stop(timeout=10) == 0
    assert time.monotonic() - t0 < 5, "stop waited %.1f s" % (time.monotonic() - t0)
    last.close()


def test_zero_copy_falls_back_on_a_unix_socket(tmp_path):
    """A Unix socket cannot send zero-copy: the first such send is refused
    and the worker copies from then on, without losing a byte."""
    path = tmp_path / "echo.sock"
    err = open(tmp_path / "stderr", "w+")
    proc = subprocess.Popen([SOCKIT, "serve", "echo", "-l", "unix:%s" % path, "-m", "uring"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                            env=dict(os.environ, SOCKIT_URING="zc-send"))
    try:
        deadline = time.monotonic() + 10
        while "listening on unix:" not in open(err.name).read():
            assert time.monotonic() < deadline, open(err.name).read()
            time.sleep(0.05)
        data = os.urandom(2 << 20)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(str(path))
        echo_over(s, data)
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    assert "zero-copy send refused" in open(err.name).read()


def test_unknown_technique_is_refused_by_name():
    env = dict(os.environ, SOCKIT_URING="no-ringfd,no-bogus")
    r = subprocess.run([SOCKIT, "serve", "echo", "-l", LOCAL, "-p", "0", "-m", "uring"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=30)
    err = r.stderr.decode()
    assert r.returncode == 1, (r.returncode, err)
    assert "SOCKIT_URING: 'no-bogus' is not an io_uring feature" in err, err
    assert "defer, ringfd, multishot-recv, multishot-accept, bundle" in err, err
    assert "listening" not in err, err
