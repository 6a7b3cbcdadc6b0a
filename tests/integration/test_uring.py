"""The io_uring model (-m uring): what it promises beyond the other models'
suites, checked through the real binary and real sockets.

Every test skips, saying why, when `sockit serve --model list` marks uring
unavailable (built without liburing, kernel too old, io_uring disabled by
kernel.io_uring_disabled or a seccomp policy).

The memory check follows /work/shared/RELIABILITY.md "Backpressure": a peer
that writes without reading may cost at most its two connection buffers.
The uring model also owns a fixed ring of provided receive buffers per
worker (256 x 16 KiB), touched at start; the limit allows for it anyway,
so the check holds whether or not the baseline already includes it.
"""
import os
import random
import re
import selectors
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import SANITIZED, HOSTS, SOCKIT, connect, recv_all, recv_exact

LOCAL = "127.0.0.1"
MiB = 1 << 20
RING_BYTES = 256 * 16384          # provided buffers per worker


def _uring_unavailable():
    """None if the uring model runs here, else why not."""
    try:
        out = subprocess.run([SOCKIT, "serve", "--model", "list"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=30).stdout.decode()
    except (OSError, subprocess.SubprocessError) as e:
        return "cannot run %s: %s" % (SOCKIT, e)
    for line in out.splitlines():
        if line.split()[:1] == ["uring"]:
            m = re.search(r"\(unavailable: (.*)\)", line)
            return m.group(1) if m else None
    return "this sockit has no uring model"


WHY_NOT = _uring_unavailable()


@pytest.fixture(autouse=True)
def uring_available():
    if WHY_NOT is not None:
        print("skipping: uring model unavailable: %s" % WHY_NOT)
        pytest.skip("uring model unavailable: %s" % WHY_NOT)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def echo_once(port, payload=b"ping\n", host=LOCAL):
    s = connect(host, port)
    s.sendall(payload)
    got = recv_exact(s, len(payload))
    s.close()
    return got


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

@pytest.mark.parametrize("host", HOSTS)
def test_echo_1_byte_to_4_mib_in_random_pieces(serve, host):
    srv = serve("echo", "-l", host, "-p", "0", "-m", "uring", "-q")
    assert srv.model == "uring"
    rng = random.Random(4242)
    for size in (1, 2, 100, 4096, 16383, 16384, 16385, 65537, MiB, 4 * MiB):
        data = os.urandom(size)
        assert echo_in_pieces(host, srv.port, data, rng) == data, \
            "size %d came back wrong on %s" % (size, host)


def test_echo_with_small_buffer(serve):
    """--buffer below the ring's buffer size: single bytes still all come back."""
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "-q", "--buffer", "100")
    rng = random.Random(7)
    data = os.urandom(300000)
    assert echo_in_pieces(LOCAL, srv.port, data, rng) == data


def test_200_concurrent_echo_clients_every_byte_checked(serve):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "-q")
    rng = random.Random(200)
    sizes = (1, 7, 100, 1000, 4096, 20000, 65536, 150000)
    socks = [connect(LOCAL, srv.port, timeout=60) for _ in range(200)]
    plans = [b"".join(rng.randbytes(rng.choice(sizes)) for _ in range(rng.randint(3, 6)))
             for _ in socks]
    results = [None] * len(socks)
    errors = []

    def reader(i):
        try:
            results[i] = recv_exact(socks[i], len(plans[i]))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("client %d: %r" % (i, e))

    readers = [threading.Thread(target=reader, args=(i,)) for i in range(len(socks))]
    for t in readers:
        t.start()
    # Every client writes its whole plan in pieces, interleaved with the others.
    offsets = [0] * len(socks)
    while any(offsets[i] < len(plans[i]) for i in range(len(socks))):
        for i, s in enumerate(socks):
            if offsets[i] < len(plans[i]):
                n = rng.randint(1, 30000)
                s.sendall(plans[i][offsets[i]:offsets[i] + n])
                offsets[i] += n
    for t in readers:
        t.join(60)
    for s in socks:
        s.close()
    assert not errors, errors[:5]
    bad = [i for i in range(len(socks)) if results[i] != plans[i]]
    assert not bad, "%d clients got wrong bytes, e.g. %s" % (len(bad), bad[:5])
    assert echo_once(srv.port) == b"ping\n"


# ---- backpressure ----------------------------------------------------------------

def test_peer_writing_256_mib_without_reading_costs_bounded_memory(serve):
    buffer = 65536
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "-q")
    pid = srv.proc.pid
    others = [connect(LOCAL, srv.port) for _ in range(20)]
    for s in others:
        s.sendall(b"warm\n")
        assert recv_exact(s, 5) == b"warm\n"
    time.sleep(0.2)
    base = rss_kib(pid)

    flood = connect(LOCAL, srv.port)
    flood.setblocking(False)
    sent = [0]
    peak = [base]
    done = threading.Event()
    rounds = [0]
    errors = []

    def flooder():
        chunk = bytes(range(256)) * 4096  # 1 MiB
        deadline = time.monotonic() + 4.0
        sel = selectors.DefaultSelector()
        sel.register(flood, selectors.EVENT_WRITE)
        while time.monotonic() < deadline and sent[0] < 256 * MiB:
            try:
                sent[0] += flood.send(chunk)
            except BlockingIOError:
                sel.select(0.05)
        sel.close()
        done.set()

    def sampler():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.02)

    def served(s, i):
        try:
            while not done.is_set():
                msg = b"client %d round %d\n" % (i, rounds[0])
                s.sendall(msg)
                assert recv_exact(s, len(msg)) == msg
                rounds[0] += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=flooder), threading.Thread(target=sampler)]
    threads += [threading.Thread(target=served, args=(s, i)) for i, s in enumerate(others)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    grew = peak[0] - base
    cap_kib = (2 * buffer + RING_BYTES + MiB) // 1024
    print("\nuring: flood wrote %.1f MiB of 256; RSS %d -> peak %d KiB (+%d KiB, cap %d KiB); "
          "%d round trips by 20 others" % (sent[0] / MiB, base, peak[0], grew, cap_kib, rounds[0]))
    assert not errors, errors[:3]
    assert rounds[0] > 200, "the other clients were barely served"
    assert sent[0] < 256 * MiB, "the server kept reading a peer that never reads"
    if SANITIZED:
        print("RSS not checked: sanitizer build")
    else:
        assert grew <= cap_kib, "RSS grew by %d KiB (cap %d KiB)" % (grew, cap_kib)
    flood.close()
    for s in others:
        s.close()
    assert echo_once(srv.port) == b"ping\n"


# ---- UDP ---------------------------------------------------------------------------

@pytest.mark.parametrize("host", HOSTS)
def test_udp_echo(serve, host):
    srv = serve("echo", "-u", "-l", host, "-p", "0", "-m", "uring", "-q")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    c = socket.socket(family, socket.SOCK_DGRAM)
    c.settimeout(5)
    try:
        for payload in (b"x", b"hello uring", os.urandom(1400), os.urandom(60000)):
            c.sendto(payload, (host, srv.port))
            data, _ = c.recvfrom(65536)
            assert data == payload
    finally:
        c.close()


def test_udp_truncated_datagram_dropped(serve):
    srv = serve("echo", "-u", "-l", LOCAL, "-p", "0", "-m", "uring", "-q", "--buffer", "100")
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(1)
    try:
        c.sendto(b"y" * 101, (LOCAL, srv.port))
        with pytest.raises(socket.timeout):
            c.recvfrom(65536)
        c.sendto(b"y" * 100, (LOCAL, srv.port))
        assert c.recvfrom(65536)[0] == b"y" * 100
    finally:
        c.close()


# ---- workers, limits, timeouts -----------------------------------------------------------

def test_two_workers_serve(serve):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "-q", "--workers", "2")
    for i in range(50):
        assert echo_once(srv.port, b"w%d\n" % i) == b"w%d\n" % i
    # The two workers are two threads of the one process.
    tasks = os.listdir("/proc/%d/task" % srv.proc.pid)
    assert len(tasks) >= 2, tasks


def test_max_conns_refusal_line(serve):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "--max-conns", "2")
    held = [connect(LOCAL, srv.port) for _ in range(2)]
    for s in held:
        s.sendall(b"hi\n")
        assert recv_exact(s, 3) == b"hi\n"
    extra = connect(LOCAL, srv.port)
    assert recv_all(extra) == b"ERR server busy: too many connections\r\n"
    extra.close()
    srv.wait_for_log(r"refused: 2 connections already")
    for s in held:
        s.close()
    # Once they are gone (the server sees their FIN), a client is served again.
    deadline = time.monotonic() + 5
    while len(re.findall(r"closed \(3 bytes in, 3 out\)", srv.log())) < 2:
        assert time.monotonic() < deadline, srv.log()
        time.sleep(0.05)
    assert echo_once(srv.port, b"again\n") == b"again\n"
    assert srv.stop() == 0
    assert re.search(r"stopped: \d+ connections, 1 refused", srv.log()), srv.log()


def test_idle_timeout_closes_silent_connection(serve):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "--idle-timeout", "1")
    s = connect(LOCAL, srv.port)
    s.sendall(b"x")
    assert recv_exact(s, 1) == b"x"
    start = time.monotonic()
    assert recv_all(s) == b""
    took = time.monotonic() - start
    s.close()
    assert 0.5 <= took <= 2.5, "closed after %.2f s" % took
    srv.wait_for_log(r"idle for 1000 ms; closing")
    # A busy client is not touched meanwhile.
    assert echo_once(srv.port) == b"ping\n"


def test_max_clients_then_exit(serve):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "uring", "--max-clients", "3")
    for i in range(3):
        assert echo_once(srv.port, b"%d\n" % i) == b"%d\n" % i
    assert srv.proc.wait(10) == 0


# ---- chat ------------------------------------------------------------------------------

def read_line(s):
    line = b""
    while not line.endswith(b"\n"):
        b = s.recv(1)
        assert b, "closed mid-line: %r" % line
        line += b
    return line


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
