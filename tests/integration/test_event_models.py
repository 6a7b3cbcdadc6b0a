# SPDX-License-Identifier: BSD-2-Clause
"""The event-loop models (nonblock, sigio, select, poll, epoll, uring) under
load and abuse: UDP echo, hundreds of clients at once, resets and signal
storms (the resets on the blocking models too).  Limits, memory,
descriptors and half-close have files of their own (test_limits.py,
test_memory.py, test_descriptors.py, test_half_close.py).

The checks follow RELIABILITY.md.  Latencies are measured
from Python, so they include the interpreter's own overhead: the limits
are upper bounds, not benchmarks.
"""
import hashlib
import os
import random
import selectors
import signal
import socket
import struct
import threading
import time

import pytest

from conftest import (BLOCKING_MODELS, EVENT_MODELS, HOSTS, LOCAL, UDP_MODELS, connect,
                      echo_once, recv_exact, serve_params, soak)


MiB = 1 << 20

# The event models, epoll --edge and epoll on two loops.
LOOP_MODELS = serve_params(EVENT_MODELS, edge=True, workers2=["epoll"])
# Several loops on the other pollers too, where a cheap check suffices.
MORE_WORKERS = serve_params([], workers2=["sigio", "poll"])


# ---- helpers --------------------------------------------------------------

def run_echo_clients(socks, plans, timeout=60.0):
    """Drive many echo clients at once from one selector.  Each sends its
    messages one after another, reading while it writes, and checks the
    echo of one message byte for byte before sending the next.  Returns
    a list of errors (empty when every byte came back)."""
    sel = selectors.DefaultSelector()
    errors = []
    pending = 0
    for s, msgs in zip(socks, plans):
        s.setblocking(False)
        c = {"s": s, "msgs": msgs, "i": 0, "sent": 0, "got": bytearray(),
             "mask": selectors.EVENT_READ | selectors.EVENT_WRITE}
        sel.register(s, c["mask"], c)
        pending += 1

    def finish(c, error=None):
        nonlocal pending
        if error:
            errors.append(error)
        sel.unregister(c["s"])
        pending -= 1

    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            errors.append("timed out with %d clients unfinished" % pending)
            break
        for key, ev in sel.select(1.0):
            c = key.data
            s = c["s"]
            msg = c["msgs"][c["i"]]
            if ev & selectors.EVENT_WRITE and c["sent"] < len(msg):
                try:
                    c["sent"] += s.send(memoryview(msg)[c["sent"]:c["sent"] + 65536])
                except BlockingIOError:
                    pass
                except OSError as e:
                    finish(c, "send: %r" % e)
                    continue
            if ev & selectors.EVENT_READ:
                try:
                    chunk = s.recv(1 << 18)
                except BlockingIOError:
                    chunk = None
                except OSError as e:
                    finish(c, "recv: %r" % e)
                    continue
                if chunk == b"":
                    finish(c, "closed after %d of %d messages" % (c["i"], len(c["msgs"])))
                    continue
                if chunk:
                    c["got"] += chunk
                    if len(c["got"]) > len(msg):
                        finish(c, "more bytes back than sent")
                        continue
                    if len(c["got"]) == len(msg):
                        if bytes(c["got"]) != msg:
                            finish(c, "message %d came back wrong" % c["i"])
                            continue
                        c["i"] += 1
                        c["sent"] = 0
                        c["got"] = bytearray()
                        if c["i"] == len(c["msgs"]):
                            finish(c)
                            continue
                        msg = c["msgs"][c["i"]]
            mask = selectors.EVENT_READ | (selectors.EVENT_WRITE if c["sent"] < len(msg) else 0)
            if mask != c["mask"]:
                c["mask"] = mask
                sel.modify(s, mask, c)
    sel.close()
    return errors


# ---- 1. UDP: every datagram back whole, and none too big for --buffer ---

@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("model", serve_params(UDP_MODELS, edge=True, workers2=["epoll"]))
def test_udp_echo(serve, model, host):
    srv = serve("echo", "-u", "-l", host, "-p", "0", "-q", *model)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect((host, srv.port))
    rng = random.Random(768)
    largest = 65507 if family == socket.AF_INET else 65527
    for size in (1, 2, 100, 1472, 9000, 32768, largest):
        data = rng.randbytes(size)
        s.send(data)
        assert s.recv(70000) == data, "datagram of %d bytes" % size
    # Several in flight at once, each answered whole.
    burst = [rng.randbytes(rng.randint(1, 2000)) for _ in range(50)]
    for d in burst:
        s.send(d)
    back = [s.recv(70000) for _ in burst]
    assert sorted(back) == sorted(burst)
    s.close()


@pytest.mark.parametrize("model", serve_params(UDP_MODELS))
def test_udp_truncated_datagram_is_dropped(serve, model):
    """A datagram longer than --buffer is dropped (and said so), never
    answered cut short; one that exactly fits is answered."""
    srv = serve("echo", "-u", "-l", LOCAL, "-p", "0", *model, "--buffer", "512", "-v")
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(0.5)
    try:
        c.sendto(b"t" * 1000, (LOCAL, srv.port))
        with pytest.raises(socket.timeout):
            c.recvfrom(2000)
        c.sendto(b"s" * 512, (LOCAL, srv.port))   # exactly fits: answered
        assert c.recvfrom(2000)[0] == b"s" * 512
    finally:
        c.close()
    srv.wait_for_log(r"dropped: datagram truncated \(1 dropped\)")
    assert srv.stop() == 0
    srv.wait_for_log(r"stopped: 2 datagrams, 1 dropped")


# ---- 2. 200 clients at once ------------------------------------------------

@pytest.mark.parametrize("model", LOOP_MODELS + MORE_WORKERS)
def test_200_concurrent_clients_every_byte_checked(serve, model):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-q", *model)
    rng = random.Random(200)
    sizes = (1, 7, 100, 1000, 4096, 20000, 65536, 150000)
    socks = [connect(LOCAL, srv.port) for _ in range(200)]
    plans = [[rng.randbytes(rng.choice(sizes)) for _ in range(rng.randint(3, 6))]
             for _ in socks]
    try:
        errors = run_echo_clients(socks, plans, timeout=60)
    finally:
        for s in socks:
            s.close()
    assert not errors, "%d clients failed, e.g. %s" % (len(errors), errors[:5])
    assert echo_once(srv.port) == b"ping\n"


# ---- 3. resets and signal storms ------------------------------------------

@pytest.mark.parametrize("model", serve_params(["fork", "thread", "pool"] + EVENT_MODELS,
                                                edge=True, workers2=["epoll", "sigio", "poll"]))
def test_resets_mid_echo_leave_the_server_serving(serve, model):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-q", *model)
    linger0 = struct.pack("ii", 1, 0)
    payload = bytes(range(256)) * 200  # 50 KiB: more than one read
    keeper = connect(LOCAL, srv.port)
    # A process or thread per connection costs more per reset: 300 there.
    count = 300 if model[1] in BLOCKING_MODELS else 1000
    for i in range(soak(count, 10000)):
        s = connect(LOCAL, srv.port)
        s.sendall(payload)
        if i % 3 == 0:
            s.recv(1000)  # some after the echo has started
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger0)
        s.close()
    keeper.sendall(b"alive\n")
    assert recv_exact(keeper, 6) == b"alive\n"
    keeper.close()
    assert echo_once(srv.port) == b"ping\n"
    assert srv.proc.poll() is None


def paced_echo_transfer(port, total, seconds):
    """Send total bytes spread over about `seconds`, reading the echo at the
    same time; return (SHA-256 sent, SHA-256 received, bytes received)."""
    s = connect(LOCAL, port, timeout=30)
    rng = random.Random(64)
    sent_hash, got_hash = hashlib.sha256(), hashlib.sha256()
    got = [0]

    def reader():
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                return
            got_hash.update(chunk)
            got[0] += len(chunk)

    t = threading.Thread(target=reader)
    t.start()
    chunk_size = MiB
    block = rng.randbytes(chunk_size + 4096)
    start = time.monotonic()
    off = 0
    n = 0
    while off < total:
        piece = block[n % 4096:n % 4096 + min(chunk_size, total - off)]
        s.sendall(piece)
        sent_hash.update(piece)
        off += len(piece)
        n += 1
        delay = start + seconds * off / total - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    s.shutdown(socket.SHUT_WR)
    t.join(60)
    s.close()
    return sent_hash.hexdigest(), got_hash.hexdigest(), got[0]


def storm(pid, stop, kind):
    """Signal pid at about 1 kHz until stop is set.  "urg": SIGURG, which the
    server leaves at its default (ignored).  "stop": SIGSTOP then SIGCONT,
    which makes epoll_wait, sigtimedwait and friends fail with EINTR even
    without a handler (signal(7)), so the retry paths really run."""
    sent = 0
    start = time.monotonic()
    try:
        while not stop.is_set():
            if kind == "urg":
                os.kill(pid, signal.SIGURG)
            else:
                os.kill(pid, signal.SIGSTOP)
                os.kill(pid, signal.SIGCONT)
            sent += 1
            delay = start + sent / 1000.0 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    except ProcessLookupError:
        pass
    finally:
        if kind == "stop":
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    return sent


@pytest.mark.parametrize("kind", ["urg", "stop"])
@pytest.mark.parametrize("model", [["-m", "epoll"], ["-m", "poll"], ["-m", "thread"],
                                   ["-m", "sigio"]], ids=["epoll", "poll", "thread", "sigio"])
def test_signal_storm_does_not_break_a_64mib_echo(serve, model, kind):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-q", *model)
    stop = threading.Event()
    count = []
    t = threading.Thread(target=lambda: count.append(storm(srv.proc.pid, stop, kind)))
    t.start()
    try:
        start = time.monotonic()
        sent, got, n = paced_echo_transfer(srv.port, 64 * MiB, 2.0)
        took = time.monotonic() - start
    finally:
        stop.set()
        t.join(10)
    print("\n%s/%s: %d signals, 64 MiB echoed in %.2fs" % (model[1], kind, count[0], took))
    assert n == 64 * MiB and got == sent, "echo broken by signals: %d bytes back" % n
    assert count[0] > 500
    assert echo_once(srv.port) == b"ping\n"
