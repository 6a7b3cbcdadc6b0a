"""sockit.exe (the mingw-w64 build) under Wine, on 127.0.0.1.

Every service on every Windows model, the file transfer with its path
checks, UDP echo, usage errors, and the Linux and Windows builds talking
to each other.  Skipped, with the reason, when Wine or build-win/sockit.exe
is missing (`make test-windows` builds both).

Wine keeps its prefix under /tmp, made once per session (its first start
takes seconds), and stays quiet with WINEDEBUG=-all.  A Windows server is
stopped with SIGINT, which Wine turns into the console Ctrl-C event that
sockit handles (SIGTERM makes Wine end the process at once).
"""
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import SOCKIT, Server, connect, recv_all, recv_exact

HERE = os.path.dirname(os.path.abspath(__file__))
SOCKIT_WIN = os.path.abspath(os.environ.get("SOCKIT_WIN") or os.path.join(
    HERE, "..", "..", "build-win", "sockit.exe"))
WINE = shutil.which("wine")

if WINE is None:
    pytestmark = pytest.mark.skip(reason="wine is not installed (apt-get install wine64)")
elif not os.path.exists(SOCKIT_WIN):
    pytestmark = pytest.mark.skip(reason="%s is missing (make windows)" % SOCKIT_WIN)

WINDOWS_MODELS = ["iterative", "thread", "pool", "select", "poll", "nonblock", "iocp"]
UNAVAILABLE = {"fork": "fork", "sigio": "SIGIO", "epoll": "Linux only", "uring": "Linux only"}
SERVICES = ["echo", "discard", "chargen", "daytime", "time", "hello", "chat", "file"]
SECONDS_1900_TO_1970 = 2208988800


def wine_env():
    env = dict(os.environ)
    env["WINEDEBUG"] = "-all"
    env["WINEPREFIX"] = "/tmp/sockit-wine-%d" % os.getuid()
    env.pop("DISPLAY", None)  # no windows, no dialogs
    return env


WIN = [WINE or "wine", SOCKIT_WIN]


@pytest.fixture(scope="session")
def wine():
    """Create (or update) the Wine prefix once; returns the environment."""
    env = wine_env()
    subprocess.run(WIN + ["--help"], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=300)
    return env


@pytest.fixture
def winserve(wine):
    """winserve(*args) starts `wine sockit.exe serve`; each must stop with exit 0."""
    started = []

    def start(*args):
        srv = Server(args, env=wine, command=WIN, stop_signal=signal.SIGINT, ready_timeout=60)
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
        with connect("127.0.0.1", port) as a, connect("127.0.0.1", port) as b:
            la, lb = Lines(a), Lines(b)
            la.until(b"joined")  # b joined
            a.sendall(b"hello from a\n")
            assert lb.until(b"] hello").endswith(b"] hello from a\n")
    else:
        raise AssertionError(service)


# ---- the model table ------------------------------------------------------

def test_model_list(wine):
    out = win(wine, "serve", "--model", "list").stdout.decode()
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    for model in WINDOWS_MODELS + ["poll", "nonblock"]:
        assert "unavailable" not in rows[model], rows[model]
    for model, why in UNAVAILABLE.items():
        assert "unavailable" in rows[model] and why in rows[model], rows[model]
    assert "[default]" in rows["iocp"], out


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


# ---- UDP ------------------------------------------------------------------

@pytest.mark.parametrize("model", ["iterative", "select", "poll", "iocp"])
def test_udp_echo(winserve, wine, model):
    srv = winserve("echo", "-u", "-l", "127.0.0.1", "-p", "0", "-m", model)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(b"datagram", ("127.0.0.1", srv.port))
        assert s.recvfrom(100)[0] == b"datagram"
    for extra in ([], ["--connected"]):
        r = win(wine, "echo", "-u", *extra, "127.0.0.1", srv.port, "ping")
        assert (r.returncode, r.stdout) == (0, b"ping\n"), r.stderr


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


@pytest.mark.parametrize("model", ["iocp", "select", "thread"])
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
