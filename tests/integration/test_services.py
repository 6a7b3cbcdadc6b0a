# SPDX-License-Identifier: BSD-2-Clause
"""The classic services (discard, chargen, daytime, time, hello, chat) on
every model that can run them, over TCP on 127.0.0.1 and ::1, and over UDP
on every model that serves datagrams; then chat among real clients, the `sockit chat`
client, and a member too slow to keep up.
"""
import calendar
import re
import socket
import struct
import subprocess
import time

import pytest

from conftest import HOSTS, SOCKIT, connect, recv_all, recv_exact, sockit, TCP_MODEL_PARAMS, UDP_MODEL_PARAMS, ALL_MODELS, model_params

SECONDS_1900_TO_1970 = 2208988800
HELLO = b"Hello World!\n"
DAYTIME = re.compile(
    rb"^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
    rb"(January|February|March|April|May|June|July|August|September|October|"
    rb"November|December) ([1-9][0-9]?), ([0-9]{4}) "
    rb"([0-9]{2}):([0-9]{2}):([0-9]{2})-UTC\r\n$")


def chargen_bytes(n):
    """The first n bytes of the classic RFC 864 stream."""
    ring = bytes(range(32, 127))
    out = bytearray()
    line = 0
    while len(out) < n:
        start = line % 95
        out += (ring + ring)[start:start + 72] + b"\r\n"
        line += 1
    return bytes(out[:n])


def check_hello(data):
    assert data == HELLO


def check_daytime(data):
    m = DAYTIME.match(data)
    assert m, data
    t = time.strptime(data[:-len(b"-UTC\r\n")].decode(), "%A, %B %d, %Y %H:%M:%S")
    when = calendar.timegm(t)
    assert abs(when - time.time()) < 5, data
    # The weekday must be the one that date really falls on.
    assert time.strftime("%A", time.gmtime(when)) == m.group(1).decode()


def check_time(data):
    assert len(data) == 4, data
    (value,) = struct.unpack("!I", data)
    now = (int(time.time()) + SECONDS_1900_TO_1970) % (1 << 32)
    assert abs(value - now) < 5, (value, now)


def peer_of(sock):
    """How the server names this client: "127.0.0.1:5555" or "[::1]:5555"."""
    host, port = sock.getsockname()[:2]
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


class Lines:
    """Whole lines from a socket, with a deadline."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def next(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no whole line in %.0fs; have %r" % (timeout, self.buf))
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("closed; have %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def nothing_for(self, seconds):
        """True if no byte arrives for that long."""
        if self.buf:
            return False
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return True
        self.buf += chunk
        return False


# --- TCP: one-shot services, discard and chargen, on every blocking model ---

@pytest.mark.parametrize("model", TCP_MODEL_PARAMS)
@pytest.mark.parametrize("host", HOSTS)
def test_tcp_one_shot_services(serve, model, host):
    for service, check in (("hello", check_hello), ("daytime", check_daytime),
                           ("time", check_time)):
        srv = serve(service, "-l", host, "-p", "0", "-m", model)
        assert srv.service == service and srv.model == model
        for _ in range(2):  # the second proves the first did not wedge it
            s = connect(host, srv.port)
            check(recv_all(s))
            s.close()


@pytest.mark.parametrize("model", TCP_MODEL_PARAMS)
@pytest.mark.parametrize("host", HOSTS)
def test_tcp_discard_takes_everything(serve, model, host):
    srv = serve("discard", "-l", host, "-p", "0", "-m", model)
    for size in (1, 1 << 20):
        s = connect(host, srv.port)
        s.sendall(b"\xa5" * size)
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b""  # nothing back, then the server closes
        s.close()


@pytest.mark.parametrize("model", TCP_MODEL_PARAMS)
@pytest.mark.parametrize("host", HOSTS)
def test_tcp_chargen_streams_the_pattern(serve, model, host):
    srv = serve("chargen", "-l", host, "-p", "0", "-m", model)
    want = chargen_bytes(200000)
    for _ in range(2):  # the client leaving must end its session
        s = connect(host, srv.port)
        s.sendall(b"input is ignored\r\n")
        assert recv_exact(s, len(want)) == want
        s.close()


def test_chat_refused_on_fork():
    r = sockit("serve", "chat", "-m", "fork", "-p", "0")
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 2, r
    assert "fork" in lines[0] and "chat" in lines[0], lines
    assert len(lines) == 1 and lines[0].endswith(" (try 'sockit serve --help')"), lines


@pytest.mark.parametrize("host", HOSTS)
def test_chat_alone_on_iterative(serve, host):
    """The iterative model serves one member at a time: a room of one."""
    srv = serve("chat", "-l", host, "-p", "0", "-m", "iterative")
    for _ in range(2):
        s = connect(host, srv.port)
        lines = Lines(s)
        assert lines.next() == ("* welcome %s; 0 others here\n" % peer_of(s)).encode()
        s.sendall(b"anyone?\n")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b""  # nobody else, so nothing comes back
        s.close()


# --- UDP on every model that serves datagrams ---

def udp_ask(host, port, payload, timeout=2.0):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, (host, port))
        try:
            return s.recvfrom(65536)[0]
        except socket.timeout:
            return None


@pytest.mark.parametrize("model", UDP_MODEL_PARAMS)
@pytest.mark.parametrize("host", HOSTS)
def test_udp_services(serve, host, model):
    srv = serve("echo", "-u", "-l", host, "-p", "0", "-m", model)
    assert udp_ask(host, srv.port, b"ping") == b"ping"

    srv = serve("discard", "-u", "-l", host, "-p", "0", "-m", model)
    assert udp_ask(host, srv.port, b"into the void", timeout=0.5) is None

    srv = serve("daytime", "-u", "-l", host, "-p", "0", "-m", model)
    check_daytime(udp_ask(host, srv.port, b""))

    srv = serve("time", "-u", "-l", host, "-p", "0", "-m", model)
    check_time(udp_ask(host, srv.port, b""))
    check_time(udp_ask(host, srv.port, b"any request at all"))

    srv = serve("chargen", "-u", "-l", host, "-p", "0", "-m", model)
    for size in (1, 100, 511, 512, 513, 1400):
        reply = udp_ask(host, srv.port, b"x" * size)
        assert reply == chargen_bytes(min(size, 512)), size
        assert len(reply) <= size  # never an amplifier
    assert udp_ask(host, srv.port, b"", timeout=0.5) is None


# --- chat among real clients on the thread model ---

def join(host, port, others):
    """Connect, read the welcome, and return (sock, lines, peer)."""
    s = connect(host, port)
    lines = Lines(s)
    peer = peer_of(s)
    assert lines.next() == ("* welcome %s; %d others here\n" % (peer, others)).encode()
    return s, lines, peer


@pytest.mark.parametrize("model", model_params(
    [m for m in ALL_MODELS if m not in ("iterative", "fork")]))
@pytest.mark.parametrize("host", HOSTS)
def test_chat_three_members(serve, host, model):
    srv = serve("chat", "-l", host, "-p", "0", "-m", model)
    a, la, pa = join(host, srv.port, 0)
    b, lb, pb = join(host, srv.port, 1)
    assert la.next() == ("* %s joined\n" % pb).encode()
    c, lc, pc = join(host, srv.port, 2)
    assert la.next() == ("* %s joined\n" % pc).encode()
    assert lb.next() == ("* %s joined\n" % pc).encode()

    # Sent in awkward pieces, "\r\n" and "\n": each line arrives whole.
    for piece in (b"hel", b"lo ev", b"eryone\r", b"\nsecond", b" line\n"):
        a.sendall(piece)
        time.sleep(0.02)
    for lines in (lb, lc):
        assert lines.next() == ("[%s] hello everyone\n" % pa).encode()
        assert lines.next() == ("[%s] second line\n" % pa).encode()
    b.sendall(b"hi from b\n")
    assert la.next() == ("[%s] hi from b\n" % pb).encode()  # not a's own lines
    assert lc.next() == ("[%s] hi from b\n" % pb).encode()
    assert lb.nothing_for(0.3)  # b hears nothing of its own

    c.close()
    assert la.next() == ("* %s left\n" % pc).encode()
    assert lb.next() == ("* %s left\n" % pc).encode()
    a.close()
    assert lb.next() == ("* %s left\n" % pa).encode()
    b.close()


def test_chat_client_sends_piped_lines(serve):
    srv = serve("chat", "-l", "127.0.0.1", "-p", "0", "-m", "thread")
    m, lm, pm = join("127.0.0.1", srv.port, 0)
    r = sockit("chat", "127.0.0.1", srv.port, input=b"first line\nsecond line\n", timeout=10)
    assert r.returncode == 0, r
    out = r.stdout.decode()
    assert out.startswith("* welcome ") and "; 1 others here\n" in out, out
    joined = re.match(rb"^\* (\S+) joined\n$", lm.next())
    assert joined
    who = joined.group(1).decode()
    assert lm.next() == ("[%s] first line\n" % who).encode()
    assert lm.next() == ("[%s] second line\n" % who).encode()
    assert lm.next() == ("* %s left\n" % who).encode()
    m.close()


def test_chat_client_prints_lines_and_reports_server_close(serve):
    srv = serve("chat", "-l", "127.0.0.1", "-p", "0", "-m", "thread")
    m, lm, pm = join("127.0.0.1", srv.port, 0)
    client = subprocess.Popen([SOCKIT, "chat", "127.0.0.1", str(srv.port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert client.stdout.readline().startswith(b"* welcome ")
        assert lm.next().endswith(b" joined\n")
        m.sendall(b"hello client\n")
        assert client.stdout.readline() == ("[%s] hello client\n" % pm).encode()
        srv.stop()  # the server goes away while the client's stdin is open
        assert client.wait(5) == 0
        err = client.stderr.read().decode().splitlines()
        assert err == ["sockit chat: server closed the connection"], err
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        client.stdin.close()
        client.stdout.close()
        client.stderr.close()
    m.close()


def test_chat_client_waits_at_most_two_seconds_after_stdin_ends():
    """A server that never closes: the client prints what it says, then
    gives up 2 s after its own half-close, and still exits 0."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        client = subprocess.Popen([SOCKIT, "chat", "127.0.0.1", str(port)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            conn.sendall(b"still here\n")
            started = time.monotonic()
            out, err = client.communicate(b"bye\n", timeout=10)
            took = time.monotonic() - started
            got = b""
            while not got.endswith(b"bye\n"):
                chunk = conn.recv(100)
                assert chunk, got
                got += chunk
            assert conn.recv(100) == b""  # the client half-closed
            assert client.returncode == 0 and err == b"", (client.returncode, err)
            assert 1.5 < took < 5, took
            assert out == b"still here\n", out


def test_chat_client_usage_and_connection_errors():
    r = sockit("chat")
    assert r.returncode == 2 and b"missing HOST" in r.stderr, r
    r = sockit("chat", "127.0.0.1")
    assert r.returncode == 2 and b"missing PORT" in r.stderr, r
    r = sockit("chat", "127.0.0.1", "99999")
    assert r.returncode == 2 and b"invalid port" in r.stderr, r
    r = sockit("chat", "127.0.0.1", "0")  # nobody can listen there
    assert r.returncode == 2 and b"invalid port '0'" in r.stderr, r
    r = sockit("chat", "--timeout", "x", "127.0.0.1", "7")
    assert r.returncode == 2 and b"--timeout" in r.stderr, r
    assert sockit("chat", "--help").returncode == 0
    with socket.socket() as s:  # a port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = sockit("chat", "127.0.0.1", port, input=b"")
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and "refused" in lines[0], r


