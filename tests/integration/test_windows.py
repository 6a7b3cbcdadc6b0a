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
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import SOCKIT, Server, connect, recv_all, recv_exact
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
SUBCOMMANDS = ["serve", "echo", "get", "chat", "lookup", "addr", "sockopt", "mcast", "bench",
               "compare"]


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
