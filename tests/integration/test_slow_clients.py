# SPDX-License-Identifier: BSD-2-Clause
"""Slow and stalled clients (issue 10, items 5 and 6), over real sockets.

--idle-timeout is about a connection making no progress in either
direction: a peer that fills the connection and then stops reading must be
cut just like a silent one, on every model, and one such peer must not stop
the iterative server for good.  A file client that asks for a large file
and never reads it is cut the same way, with and without --sendfile.  The
file service's request line has a deadline of its own (--idle-timeout if
shorter than 10 s), so a slow-loris client trickling a byte at a time,
never idle, is still cut.  And the pool, with every worker held by slow
clients, answers a new client ("ERR server busy") within a bounded time
instead of leaving it queued for ever.
"""
import select
import socket
import threading
import time

import pytest

from conftest import (BLOCKING_MODELS, EVENT_MODELS, LOCAL, connect, echo_once,
                      fill_until_stalled, model_params, recv_all, small_receiver, wait_closed)

IDLE = 2  # seconds of --idle-timeout in these tests
SLACK = 1.5  # the tolerance around a deadline
BUSY = b"ERR server busy"


def closed_log(srv, what, since, timeout):
    """Wait for the server's log line saying why it closed; seconds since `since`."""
    srv.wait_for_log(what, timeout=timeout)
    return time.monotonic() - since


# ---- (a) a peer that stops reading ----------------------------------------

@pytest.mark.parametrize("model", model_params(BLOCKING_MODELS + EVENT_MODELS))
def test_stalled_reader_is_closed_at_idle_timeout(serve, model):
    """An echo client sends until the server's send blocks, then neither
    sends nor reads: it is closed --idle-timeout after the last byte moved,
    and a new client is served afterwards (on iterative, only then)."""
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", model, "--idle-timeout", str(IDLE))
    s = small_receiver(srv.port)
    stalled = fill_until_stalled(s)
    took = closed_log(srv, r"idle for %d ms; closing" % (IDLE * 1000), stalled,
                      IDLE + SLACK + 0.5)
    assert IDLE - SLACK <= took <= IDLE + SLACK, "closed %.2f s after the stall" % took
    assert wait_closed(s, 5), "the server logged the close but the socket stayed open"
    s.close()
    assert echo_once(srv.port) == b"ping\n", "no new client served after the stalled one:\n" + srv.log()


# ---- (b) a file client that never reads -----------------------------------

@pytest.fixture(scope="module")
def big_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("slow-root")
    with open(root / "big", "wb") as f:
        f.truncate(50 * 1024 * 1024)  # 50 MB of zeros, sparse: instant to make
    return str(root)


def cases(models, variants=None, marks=()):
    """model_params(models) (unavailable models skipped, saying why), each
    with every variant if given, and extra marks."""
    out = []
    for p in model_params(models):
        name, skip = (p, []) if isinstance(p, str) else (p.values[0], list(p.marks))
        for v in variants or [None]:
            values = (name,) if v is None else (name, v)
            out.append(pytest.param(*values, marks=skip + list(marks),
                                    id=name if v is None else "%s-%s" % (name, v)))
    return out


@pytest.mark.parametrize("model,how", cases(BLOCKING_MODELS, ["copy", "sendfile"]) +
                         cases(EVENT_MODELS, ["copy"]))
def test_file_client_that_never_reads_is_closed_at_idle_timeout(serve, big_root, model, how):
    """`serve file --root DIR`; a client asks for a 50 MB file and reads
    nothing: once the buffers are full nothing moves, and it is closed at
    --idle-timeout (with --sendfile too: sendfile() must not block for ever)."""
    extra = ["--sendfile"] if how == "sendfile" else []
    srv = serve("file", "--root", big_root, "-l", LOCAL, "-p", "0", "-m", model,
                "--idle-timeout", str(IDLE), *extra)
    s = small_receiver(srv.port)
    asked = time.monotonic()
    s.sendall(b"big\n")
    # The buffers fill within a fraction of a second; from then on nothing moves.
    took = closed_log(srv, r"idle for %d ms; closing" % (IDLE * 1000), asked,
                      IDLE + SLACK + 1.5)
    assert IDLE - 0.5 <= took <= IDLE + SLACK + 1, "closed %.2f s after the request" % took
    got = 0
    s.settimeout(5)
    try:
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
    except ConnectionResetError:
        pass
    s.close()
    assert got < 50 * 1024 * 1024, "the whole file arrived: the client was not stalled"
    assert echoes_file(srv.port), "no new client served afterwards:\n" + srv.log()


def echoes_file(port):
    """A normal client still gets a (missing) file's answer."""
    s = connect(LOCAL, port)
    s.sendall(b"nothing-here\n")
    line = s.recv(100)
    s.close()
    return line == b"ERR no such file\n"


# ---- (c) slow loris on the request line -----------------------------------

@pytest.mark.parametrize("model", cases(BLOCKING_MODELS) +
                         cases(EVENT_MODELS))
def test_slow_loris_request_line_is_cut_at_its_deadline(serve, big_root, model):
    """A file client sends its name a byte every 0.5 s, never a newline:
    never idle, but the whole line must arrive within --idle-timeout
    (under 10 s), so it is closed then; a normal client is served after."""
    srv = serve("file", "--root", big_root, "-l", LOCAL, "-p", "0", "-m", model,
                "--idle-timeout", str(IDLE))
    s = connect(LOCAL, srv.port)
    opened = time.monotonic()
    closed_at = None
    give_up = opened + IDLE + SLACK
    while closed_at is None and time.monotonic() < give_up:
        try:
            s.send(b"a")
        except (BrokenPipeError, ConnectionResetError):
            closed_at = time.monotonic()
            break
        readable, _, _ = select.select([s], [], [], 0.5)
        if readable:
            try:
                data = s.recv(100)
            except ConnectionResetError:
                data = b""
            assert data == b"", "the server answered a line that never ended: %r" % data
            closed_at = time.monotonic()
    s.close()
    assert closed_at is not None, "still open %.1f s after it opened:\n%s" % (
        IDLE + SLACK, srv.log())
    took = closed_at - opened
    assert IDLE - 0.5 <= took <= IDLE + SLACK, "closed %.2f s after it opened" % took
    srv.wait_for_log(r"deadline passed; closing")
    assert echoes_file(srv.port), srv.log()


# ---- (d) the pool under slow clients --------------------------------------

class Trickler:
    """An echo client that sends a byte every `every` seconds and reads the
    echo: slow, never idle.  refused: None while it is served, else what
    it got before the server ended it (the busy line, or nothing when the
    reset for its unread bytes overtook the line)."""

    def __init__(self, port, every=0.5):
        self.sock = connect(LOCAL, port)
        self.every = every
        self.echoed = 0
        self.refused = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        s = self.sock
        s.settimeout(0.2)
        got = b""
        while not self.stop.is_set():
            try:
                s.send(b"z")
            except OSError:
                self.refused = got  # the server closed it (a reset: "z" unread)
                return
            end = time.monotonic() + self.every
            while time.monotonic() < end and not self.stop.is_set():
                try:
                    chunk = s.recv(100)
                except socket.timeout:
                    continue
                except OSError:
                    self.refused = got
                    return
                if not chunk:
                    self.refused = got
                    return
                got += chunk
                if got.startswith(b"ERR"):
                    continue
                self.echoed += len(chunk)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("slow", [2, 3])
def test_pool_answers_a_new_client_while_slow_clients_hold_every_worker(serve, slow):
    """--workers 2 and 2-3 clients trickling a byte every 0.5 s (never idle
    under --idle-timeout 4): a new client is served or told ERR server busy
    within a few seconds, never left waiting; the slow clients that have a
    worker keep being served."""
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "pool", "--workers", "2",
                "--idle-timeout", "4")
    tricklers = [Trickler(srv.port) for _ in range(slow)]
    time.sleep(1.0)  # every worker is now held
    s = connect(LOCAL, srv.port)
    s.settimeout(6)
    start = time.monotonic()
    s.sendall(b"ping\n")
    got = b""
    while not (got == b"ping\n" or (got.startswith(BUSY) and got.endswith(b"\n"))):
        chunk = s.recv(100)
        if not chunk:
            break
        got += chunk
    took = time.monotonic() - start
    s.close()
    assert got == b"ping\n" or got.startswith(BUSY), "got %r after %.1f s:\n%s" % (
        got, took, srv.log())
    assert took <= 4.0, "answered only after %.1f s" % took
    if got.startswith(BUSY):
        srv.wait_for_log(r"refused: every worker busy for \d+ ms")
    served_before = [t.echoed for t in tricklers]
    time.sleep(1.0)
    held = [t for t, before in zip(tricklers, served_before) if t.echoed > before]
    assert len(held) == 2, "the two slow clients with a worker stopped being served: %s" % (
        [(t.echoed, t.refused) for t in tricklers])
    if slow == 3:  # the third waited in the queue, and was told so too
        ended = [t for t in tricklers if t.refused is not None]
        assert len(ended) == 1 and ended[0].echoed == 0, [(t.echoed, t.refused) for t in tricklers]
        assert ended[0].refused in (b"",) or ended[0].refused.startswith(BUSY), ended[0].refused
    for t in tricklers:
        t.close()


def test_pool_serves_a_burst_larger_than_its_workers(serve):
    """The busy bound is for clients that wait seconds, not for a burst of
    short requests: 40 at once on 2 workers are all served."""
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "pool", "--workers", "2", "-q")
    socks = [connect(LOCAL, srv.port) for _ in range(40)]
    for i, s in enumerate(socks):
        s.sendall(b"%d\n" % i)
        s.shutdown(socket.SHUT_WR)
    for i, s in enumerate(socks):
        assert recv_all(s) == b"%d\n" % i
        s.close()
