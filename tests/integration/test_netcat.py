# SPDX-License-Identifier: BSD-2-Clause
"""`sockit connect` and `sockit listen`: a netcat that gets half-close right.

Every test runs the real binary against a peer on loopback (or a Unix
socket in a temporary directory): small Python servers that check exactly
what arrived and when, sockit's own servers, and other netcats
(nc.openbsd, ncat, socat), both ways, half-close included.  A peer whose
binary is missing skips its tests with the reason.
"""
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import LOCAL, SOCKIT, ipv6_available, sockit

UNIX_RX = re.compile(r"listening on (unix:\S+)")
LISTEN_RX = re.compile(r"listening on (\S+) port (\d+) \((tcp|udp)\)")


# ---- helpers ------------------------------------------------------------------

class Listener:
    """A running `sockit listen ...`; waits for its "listening on" line."""

    def __init__(self, *args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, timeout=10):
        self.proc = subprocess.Popen([SOCKIT, "listen"] + [str(a) for a in args],
                                     stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
        self.lines = []
        self.port = self.path = None
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        # Read standard output as it comes: a listener whose output pipe is
        # full stops reading its peer, which may be waiting on us.
        self._out = bytearray()
        self._out_reader = None
        if stdout == subprocess.PIPE:
            self._out_reader = threading.Thread(target=self._collect, daemon=True)
            self._out_reader.start()
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.port is None and self.path is None:
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    self.proc.kill()
                    raise AssertionError("listener not ready: %s" % self.lines)
                self._cond.wait(min(left, 0.1))

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                m = LISTEN_RX.search(line)
                if m and self.port is None:
                    self.port = int(m.group(2))
                u = UNIX_RX.search(line)
                if u and self.path is None and not m:
                    self.path = u.group(1)[len("unix:"):]
                self._cond.notify_all()

    def _collect(self):
        for chunk in iter(lambda: self.proc.stdout.read1(1 << 16), b""):
            self._out += chunk

    def wait(self, timeout=20):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self._reader.join(5)
        if self._out_reader is not None:
            self._out_reader.join(5)
        return rc, bytes(self._out)

    def stderr(self):
        with self._cond:
            return "\n".join(self.lines)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


class OneShot:
    """A Python TCP (or Unix) server thread that runs handler(conn) once."""

    def __init__(self, handler, family=socket.AF_INET, host=LOCAL, path=None):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_UNIX:
            self.sock.bind(path)
            self.port = None
        else:
            self.sock.bind((host, 0))
            self.port = self.sock.getsockname()[1]
        self.sock.listen(4)
        self.sock.settimeout(20)
        self.result = None
        self.error = None

        def run():
            try:
                c, _ = self.sock.accept()
                c.settimeout(20)
                with c:
                    self.result = handler(c)
            except Exception as e:  # reported by join()
                self.error = e
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout=20):
        self.thread.join(timeout)
        self.sock.close()
        assert not self.thread.is_alive(), "server thread still running"
        if self.error:
            raise self.error
        return self.result


def read_to_eof(c):
    data = bytearray()
    while True:
        chunk = c.recv(1 << 16)
        if not chunk:
            return bytes(data)
        data += chunk


def connect(*args, input=b"", timeout=30):
    return sockit("connect", *args, input=input, timeout=timeout)


def free_port(kind=socket.SOCK_STREAM, host=LOCAL, family=socket.AF_INET):
    s = socket.socket(family, kind)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_tcp_listening(port, timeout=10):
    """Until something listens on port (read from /proc, without connecting:
    a one-connection listener must not spend its connection on us)."""
    deadline = time.monotonic() + timeout
    want = ":%04X" % port
    while time.monotonic() < deadline:
        for name in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(name) as f:
                    for line in f.readlines()[1:]:
                        fields = line.split()
                        if fields[1].endswith(want) and fields[3] == "0A":
                            return
            except OSError:
                pass
        time.sleep(0.05)
    raise AssertionError("nothing listens on port %d" % port)


def need(binary):
    if shutil.which(binary) is None:
        pytest.skip("%s is not installed (Debian package: %s)" % (
            binary, {"nc.openbsd": "netcat-openbsd"}.get(binary, binary)))


def sha(b):
    return hashlib.sha256(b).hexdigest()


# ---- half-close -----------------------------------------------------------------

def test_reply_arrives_after_our_fin():
    """End of input sends FIN; the peer reads to EOF and only then replies,
    and the reply still reaches our standard output."""
    def handler(c):
        data = read_to_eof(c)
        c.sendall(b"got %d bytes\n" % len(data))
        return data
    srv = OneShot(handler)
    r = connect(LOCAL, srv.port, input=b"hello, half-close\n")
    assert srv.join() == b"hello, half-close\n"
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"got 18 bytes\n"
    assert r.stderr == b""


def test_no_shutdown_keeps_our_write_side_open():
    """--no-shutdown: the peer sees no EOF; it closes, and we exit 0."""
    def handler(c):
        data = c.recv(100)
        c.settimeout(1.0)
        try:
            more = c.recv(100)
            verdict = b"eof\n" if more == b"" else b"more\n"
        except socket.timeout:
            verdict = b"no eof\n"
        c.sendall(verdict)
        return data
    srv = OneShot(handler)
    r = connect("--no-shutdown", LOCAL, srv.port, input=b"x")
    srv.join()
    assert (r.returncode, r.stdout) == (0, b"no eof\n"), r.stderr
    srv = OneShot(handler)
    r = connect(LOCAL, srv.port, input=b"x")
    srv.join()
    assert (r.returncode, r.stdout) == (0, b"eof\n"), r.stderr


def test_peer_half_closes_first_and_still_gets_all_our_data():
    """The peer sends and shuts down its side at once; only after its words
    (and its FIN) have reached us does our input come, and all of it must
    still go out before we close."""
    payload = os.urandom(3 << 20)

    def handler(c):
        c.sendall(b"early words\n")
        c.shutdown(socket.SHUT_WR)
        return read_to_eof(c)
    srv = OneShot(handler)
    p = subprocess.Popen([SOCKIT, "connect", LOCAL, str(srv.port)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"early words\n"
    time.sleep(0.2)  # the FIN is there too by now
    try:
        p.stdin.write(payload)
        p.stdin.close()
    except BrokenPipeError:
        pass  # sockit gave up on us: the checks below say so
    rest = p.stdout.read()
    rc = p.wait(20)
    got = srv.join()
    assert rc == 0, p.stderr.read()
    assert rest == b""
    assert sha(got) == sha(payload), "%d of %d bytes arrived" % (len(got), len(payload))


def test_listen_half_close_both_ways():
    """A client sends and half-closes; listen writes it out, still sends its
    own input, then closes; the client reads that to EOF."""
    reply = os.urandom(1 << 20)
    payload = os.urandom(1 << 20)
    rpath = "/tmp/sockit-nc-reply-%d" % os.getpid()
    with open(rpath, "wb") as f:
        f.write(reply)
    try:
        with open(rpath, "rb") as stdin:
            lst = Listener("-v", "-l", LOCAL, "-p", 0, stdin=stdin)
        c = socket.create_connection((LOCAL, lst.port), timeout=20)
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        back = read_to_eof(c)
        c.close()
        rc, out = lst.wait()
    finally:
        os.unlink(rpath)
    assert rc == 0, lst.stderr()
    assert sha(out) == sha(payload)
    assert sha(back) == sha(reply)
    assert re.search(r"connection from 127\.0\.0\.1 port \d+ \(tcp\)", lst.stderr())


# ---- -w, -q, exit statuses --------------------------------------------------------

def test_idle_timeout_exits_1_with_a_message():
    hold = threading.Event()

    def handler(c):
        hold.wait(20)
    srv = OneShot(handler)
    p = subprocess.Popen([SOCKIT, "connect", "-w", "0.5", LOCAL, str(srv.port)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=20)
    finally:
        hold.set()
        p.stdin and p.stdin.close()
    srv.join()
    assert p.returncode == 1
    assert out == b""
    lines = err.decode().splitlines()
    assert len(lines) == 1 and "-w" in lines[0] and "no data" in lines[0], lines


def test_quit_after_eof_does_not_wait_for_a_silent_peer():
    """-q: end of input, FIN, then at most SEC for a peer that never closes."""
    hold = threading.Event()

    def handler(c):
        data = read_to_eof(c)
        hold.wait(20)
        return data
    srv = OneShot(handler)
    start = time.monotonic()
    r = connect("-q", "0.3", LOCAL, srv.port, input=b"bye")
    took = time.monotonic() - start
    hold.set()
    assert srv.join() == b"bye"
    assert r.returncode == 0, r.stderr
    assert took < 15


def test_refused_exits_1_naming_it():
    port = free_port()
    r = connect(LOCAL, port)
    assert r.returncode == 1
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and "refused" in lines[0].lower(), lines


def test_reset_exits_1_naming_it():
    def handler(c):
        c.recv(10)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    srv = OneShot(handler)
    p = subprocess.Popen([SOCKIT, "connect", LOCAL, str(srv.port)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(b"x")
    p.stdin.flush()
    try:
        out, err = p.communicate(timeout=20)
    finally:
        srv.join()
    assert p.returncode == 1
    lines = err.decode().splitlines()
    assert len(lines) == 1 and "reset" in lines[0], lines


@pytest.mark.parametrize("args", [
    ["connect"], ["connect", LOCAL], ["connect", LOCAL, "0"], ["connect", LOCAL, "x!"],
    ["connect", "-w", "abc", LOCAL, "7"], ["connect", "-p", "7", LOCAL],
    ["listen"], ["listen", "-p", "99999"], ["listen", "-u", "-k", "-p", "0"],
    ["listen", "-l", "unix:/tmp/x", "-p", "5"], ["connect", "-u", "unix:/tmp/x"],
    ["listen", "-p", "0", "--exec"], ["connect", "--bogus", LOCAL, "7"],
])
def test_usage_errors_exit_2(args):
    r = sockit(*args, input=b"")
    assert r.returncode == 2, r
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sockit "), lines


def test_help_documents_exit_statuses_and_no_shutdown():
    for cmd in ("connect", "listen"):
        r = sockit(cmd, "--help")
        assert r.returncode == 0
        text = r.stdout.decode()
        for word in ("exit status", "130", "--no-shutdown", "-N inverted", "-q", "-w",
                     "--exec", "--sh-exec"):
            assert word in text, (cmd, word)


# ---- --exec, --sh-exec, -k --------------------------------------------------------

def test_listen_exec_runs_the_program_on_the_connection():
    lst = Listener("-l", LOCAL, "-p", 0, "-v", "--exec", "tr", "a-z", "A-Z")
    c = socket.create_connection((LOCAL, lst.port), timeout=20)
    c.sendall(b"hello exec\n")
    c.shutdown(socket.SHUT_WR)
    assert read_to_eof(c) == b"HELLO EXEC\n"
    c.close()
    rc, _ = lst.wait()
    assert rc == 0, lst.stderr()


def test_listen_sh_exec_and_a_failing_program():
    lst = Listener("-l", LOCAL, "-p", 0, "--sh-exec", "printf 'you said: '; cat; exit 3")
    c = socket.create_connection((LOCAL, lst.port), timeout=20)
    c.sendall(b"hi")
    c.shutdown(socket.SHUT_WR)
    assert read_to_eof(c) == b"you said: hi"
    c.close()
    rc, _ = lst.wait()
    assert rc == 1
    assert "exited with status 3" in lst.stderr()


def test_exec_of_a_missing_program_says_so():
    lst = Listener("-l", LOCAL, "-p", 0, "--exec", "/nonexistent/prog")
    c = socket.create_connection((LOCAL, lst.port), timeout=20)
    assert read_to_eof(c) == b""
    rc, _ = lst.wait()
    assert rc == 1
    assert "cannot run '/nonexistent/prog'" in lst.stderr()


def test_keep_open_serves_two_connections_in_a_row():
    lst = Listener("-k", "-v", "-l", LOCAL, "-p", 0)
    for word in (b"one\n", b"two\n"):
        c = socket.create_connection((LOCAL, lst.port), timeout=20)
        c.sendall(word)
        c.shutdown(socket.SHUT_WR)
        assert read_to_eof(c) == b""  # our stdin has ended: FIN at once
        c.close()
        # Our FIN can reach the client before its bytes reach our output:
        # wait for "closed" before the next one (and before stopping).
        deadline = time.monotonic() + 20
        while lst.stderr().count("closed:") < (1 if word == b"one\n" else 2):
            assert time.monotonic() < deadline, lst.stderr()
            time.sleep(0.05)
    lst.proc.send_signal(signal.SIGTERM)
    rc, out = lst.wait()
    assert rc == 130
    assert out == b"one\ntwo\n"
    assert lst.stderr().count("connection from") == 2


# ---- UDP ------------------------------------------------------------------------------

def udp_upper_server(host=LOCAL, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(10)

    def run():
        try:
            while True:
                data, peer = s.recvfrom(65536)
                s.sendto(data.upper(), peer)
        except OSError:
            pass
    threading.Thread(target=run, daemon=True).start()
    return s


def test_connect_udp_sends_datagrams_and_prints_replies():
    s = udp_upper_server()
    try:
        r = connect("-u", "-q", "1", LOCAL, s.getsockname()[1], input=b"ping\n")
    finally:
        s.close()
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"PING\n"


def test_connect_udp_to_a_closed_port_is_refused():
    port = free_port(socket.SOCK_DGRAM)
    p = subprocess.Popen([SOCKIT, "connect", "-u", LOCAL, str(port)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(b"anyone?\n")
    p.stdin.flush()
    out, err = p.communicate(timeout=20)
    assert p.returncode == 1
    assert "refused" in err.decode()


def test_listen_udp_answers_the_first_peer():
    lst = Listener("-u", "-v", "-q", "0.5", "-l", LOCAL, "-p", 0, stdin=subprocess.PIPE)
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(10)
    c.sendto(b"hello udp\n", (LOCAL, lst.port))
    lst.proc.stdin.write(b"answer\n")
    lst.proc.stdin.flush()
    data, _ = c.recvfrom(100)
    assert data == b"answer\n"
    lst.proc.stdin.close()
    rc, out = lst.wait()
    c.close()
    assert rc == 0, lst.stderr()
    assert out == b"hello udp\n"
    assert re.search(r"connection from 127\.0\.0\.1 port \d+ \(udp\)", lst.stderr())


# ---- IPv6 ----------------------------------------------------------------------------

@pytest.mark.skipif(not ipv6_available(), reason="::1 is not available on this machine")
def test_ipv6_connect_and_listen():
    def handler(c):
        data = read_to_eof(c)
        c.sendall(data[::-1])
    srv = OneShot(handler, family=socket.AF_INET6, host="::1")
    r = connect("-6", "-v", "::1", srv.port, input=b"abc")
    srv.join()
    assert (r.returncode, r.stdout) == (0, b"cba"), r.stderr
    assert "connected to ::1 port %d (tcp)" % srv.port in r.stderr.decode()

    lst = Listener("-6", "-l", "::1", "-p", 0)
    r = connect("[::1]", lst.port, input=b"v6 data")
    rc, out = lst.wait()
    assert (rc, r.returncode, out) == (0, 0, b"v6 data")


# ---- Unix domain sockets ---------------------------------------------------------

@pytest.fixture
def sockdir(tmp_path):
    return str(tmp_path)


def test_unix_connect_and_listen(sockdir):
    path = os.path.join(sockdir, "l.sock")
    lst = Listener("-v", "-l", "unix:" + path, stdin=subprocess.PIPE)
    assert lst.path == path and os.path.exists(path)
    lst.proc.stdin.write(b"from listener\n")
    lst.proc.stdin.close()
    r = connect("-v", "unix:" + path, input=b"from connect\n")
    rc, out = lst.wait()
    assert (rc, r.returncode) == (0, 0), (lst.stderr(), r.stderr)
    assert out == b"from connect\n"
    assert r.stdout == b"from listener\n"
    assert "connected to unix:%s" % path in r.stderr.decode()
    assert not os.path.exists(path), "listen left its socket file behind"


def unix_server(path, *args):
    p = subprocess.Popen([SOCKIT, "serve"] + list(args) + ["-l", "unix:" + path],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    line = p.stderr.readline().decode()
    assert line.startswith("listening on unix:" + path), line
    threading.Thread(target=p.stderr.read, daemon=True).start()
    return p


def test_serve_on_a_unix_socket_with_connect_and_echo(sockdir):
    path = os.path.join(sockdir, "echo.sock")
    p = unix_server(path, "echo")
    try:
        r = connect("unix:" + path, input=b"echo me\n")
        assert (r.returncode, r.stdout) == (0, b"echo me\n"), r.stderr
        r = sockit("echo", "unix:" + path, "word")
        assert r.returncode == 0, r.stderr
        assert b"word" in r.stdout
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
    assert not os.path.exists(path), "serve left its socket file behind"


def test_serve_unix_replaces_a_stale_socket_but_not_a_file_or_a_live_one(sockdir):
    path = os.path.join(sockdir, "s.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)  # bound, never listening: what a crashed server leaves
    stale.close()
    p = unix_server(path, "hello")
    try:
        r = connect("unix:" + path)
        assert r.returncode == 0 and b"Hello" in r.stdout, r
        # A second server must not steal the path of a live one.
        r2 = sockit("serve", "hello", "-l", "unix:" + path, timeout=10)
        assert r2.returncode == 1 and b"in use" in r2.stderr, r2
        assert os.path.exists(path)
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
    plain = os.path.join(sockdir, "plain")
    with open(plain, "w") as f:
        f.write("keep me")
    r = sockit("serve", "hello", "-l", "unix:" + plain, timeout=10)
    assert r.returncode == 1 and b"exists" in r.stderr, r
    with open(plain) as f:
        assert f.read() == "keep me"


def test_get_and_chat_take_a_unix_path(sockdir):
    path = os.path.join(sockdir, "file.sock")
    root = os.path.join(sockdir, "root")
    os.mkdir(root)
    with open(os.path.join(root, "a.txt"), "wb") as f:
        f.write(b"file over unix\n")
    p = unix_server(path, "file", "--root", root)
    try:
        out = os.path.join(sockdir, "got.txt")
        r = sockit("get", "unix:" + path, "a.txt", "-o", out)
        assert r.returncode == 0, r.stderr
        with open(out, "rb") as f:
            assert f.read() == b"file over unix\n"
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(10)
    cpath = os.path.join(sockdir, "chat.sock")
    p = unix_server(cpath, "chat")
    try:
        r = sockit("chat", "unix:" + cpath, input=b"/quit\n", timeout=10)
        assert r.returncode == 0, r.stderr
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(10)


# ---- against sockit's own servers --------------------------------------------------

def test_daytime_prints_the_date_and_exits_0(serve):
    srv = serve("daytime", "-l", LOCAL, "-p", "0")
    r = connect(LOCAL, srv.port)
    assert r.returncode == 0, r.stderr
    assert re.search(rb"20\d\d", r.stdout), r.stdout
    assert r.stderr == b""


def test_time_as_a_date_and_the_time_client(serve):
    srv = serve("time", "-l", LOCAL, "-p", "0")
    r = connect("--time", LOCAL, srv.port)
    assert r.returncode == 0, r.stderr
    year = time.gmtime().tm_year
    assert re.fullmatch(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n", r.stdout), r.stdout
    assert int(r.stdout[:4]) in (year, year + 1)
    r = sockit("time", LOCAL, srv.port)
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(server clock ([+-]\d+) s from ours\)\n",
                     r.stdout)
    assert m and abs(int(m.group(1))) <= 2, r.stdout
    usrv = serve("time", "-u", "-l", LOCAL, "-p", "0")
    r = sockit("time", "-u", LOCAL, usrv.port)
    assert r.returncode == 0 and b"UTC (server clock" in r.stdout, r


def test_time_client_against_a_wrong_server():
    def handler(c):
        c.sendall(b"\x01\x02")
    srv = OneShot(handler)
    r = sockit("time", LOCAL, srv.port)
    srv.join()
    assert r.returncode == 1 and b"shorter than 4 bytes" in r.stderr, r


def test_chargen_streams_until_the_reader_goes_away(serve):
    """Our input stays open (no FIN); the reader of our output reads 100 kB
    and closes it: sockit ends at once, status 0, not a word on stderr."""
    srv = serve("chargen", "-l", LOCAL, "-p", "0")
    p = subprocess.Popen([SOCKIT, "connect", LOCAL, str(srv.port)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got = 0
    while got < 100000:
        chunk = p.stdout.read1(65536)
        assert chunk, "chargen stream ended early"
        got += len(chunk)
    p.stdout.close()
    try:
        rc = p.wait(20)
    finally:
        p.stdin.close()
    assert rc == 0
    assert p.stderr.read() == b""


def test_chargen_ends_cleanly_on_sigint(serve):
    srv = serve("chargen", "-l", LOCAL, "-p", "0")
    p = subprocess.Popen([SOCKIT, "connect", LOCAL, str(srv.port)], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=20)
    assert p.returncode == 130
    assert err == b""


def test_hello_prints_the_hello_line(serve):
    srv = serve("hello", "-l", LOCAL, "-p", "0")
    r = connect(LOCAL, srv.port)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"Hello") and r.stdout.endswith(b"\n"), r.stdout


def test_discard_takes_our_input_and_exits_0_after_fin(serve):
    srv = serve("discard", "-l", LOCAL, "-p", "0")
    r = connect("-v", LOCAL, srv.port, input=os.urandom(1 << 20))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b""
    assert "closed: 1048576 bytes sent, 0 received" in r.stderr.decode()


# ---- a large transfer --------------------------------------------------------------

def test_100_mb_through_pipes_is_byte_identical(tmp_path):
    src = tmp_path / "src.bin"
    with open(src, "wb") as f:
        for _ in range(100):
            f.write(os.urandom(1 << 20))
    dst = tmp_path / "dst.bin"
    with open(dst, "wb") as out:
        lst = Listener("-l", LOCAL, "-p", 0, stdout=out)
        p = subprocess.run("cat %s | %s connect %s %d" % (src, SOCKIT, LOCAL, lst.port),
                           shell=True, stderr=subprocess.PIPE, timeout=300)
        rc, _ = lst.wait(timeout=300)
    assert (p.returncode, rc) == (0, 0), (p.stderr, lst.stderr())
    h = subprocess.run(["sha256sum", str(src), str(dst)], stdout=subprocess.PIPE).stdout.split()
    assert h[0] == h[2]


# ---- interop: nc.openbsd, ncat, socat ---------------------------------------------

class Peer:
    """Another netcat, running.  Its standard input is stdin_bytes (from a
    file, so it sees end of input right after them) or nothing; its output
    goes to a file, so a peer never stalls on a pipe nobody reads yet."""

    def __init__(self, cmd, stdin_bytes=None):
        import tempfile
        stdin = subprocess.DEVNULL
        if stdin_bytes is not None:
            stdin = tempfile.TemporaryFile()
            stdin.write(stdin_bytes)
            stdin.seek(0)
        self.out = tempfile.TemporaryFile()
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=stdin, stdout=self.out, stderr=self.err)

    def finish(self, timeout=30):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.out.seek(0)
        self.err.seek(0)
        return self.out.read(), self.err.read()


def run_bg(cmd, stdin_bytes=None):
    return Peer(cmd, stdin_bytes)


def test_interop_connect_to_nc_openbsd_listen():
    need("nc.openbsd")
    data, reply = os.urandom(2 << 20), os.urandom(1 << 20)
    port = free_port()
    peer = run_bg(["nc.openbsd", "-N", "-l", LOCAL, str(port)], stdin_bytes=reply)
    wait_tcp_listening(port)
    r = connect(LOCAL, port, input=data)
    got, err = peer.finish()
    assert (r.returncode, peer.returncode) == (0, 0), (r.stderr, err)
    assert sha(got) == sha(data)
    assert sha(r.stdout) == sha(reply)


def test_interop_nc_openbsd_to_listen():
    need("nc.openbsd")
    data, reply = os.urandom(2 << 20), os.urandom(1 << 20)
    lst = Listener("-l", LOCAL, "-p", 0, stdin=subprocess.PIPE)
    threading.Thread(target=lambda: (lst.proc.stdin.write(reply), lst.proc.stdin.close()),
                     daemon=True).start()
    peer = run_bg(["nc.openbsd", "-N", LOCAL, str(lst.port)], stdin_bytes=data)
    got, err = peer.finish()
    rc, out = lst.wait()
    assert (rc, peer.returncode) == (0, 0), (lst.stderr(), err)
    assert sha(out) == sha(data)
    assert sha(got) == sha(reply)


def test_interop_ncat_both_ways():
    need("ncat")
    data = os.urandom(2 << 20)
    # ncat --recv-only listens; our FIN ends its transfer.
    port = free_port()
    peer = run_bg(["ncat", "--recv-only", "-l", LOCAL, str(port)])
    wait_tcp_listening(port)
    r = connect(LOCAL, port, input=data)
    got, err = peer.finish()
    assert (r.returncode, peer.returncode) == (0, 0), (r.stderr, err)
    assert sha(got) == sha(data)
    # ncat --send-only connects to our listener and closes after its input.
    lst = Listener("-l", LOCAL, "-p", 0)
    peer = run_bg(["ncat", "--send-only", LOCAL, str(lst.port)], stdin_bytes=data)
    _, err = peer.finish()
    rc, out = lst.wait()
    assert (rc, peer.returncode) == (0, 0), (lst.stderr(), err)
    assert sha(out) == sha(data)
    # Plain ncat half-closes on end of input: its reply after our FIN.
    port = free_port()
    reply = os.urandom(1 << 20)
    peer = run_bg(["ncat", "-l", LOCAL, str(port)], stdin_bytes=reply)
    wait_tcp_listening(port)
    r = connect(LOCAL, port, input=data)
    got, err = peer.finish()
    assert r.returncode == 0, r.stderr
    assert sha(got) == sha(data) and sha(r.stdout) == sha(reply)


def test_interop_socat_reply_after_our_fin_and_socat_to_listen(tmp_path):
    need("socat")
    data = os.urandom(2 << 20)
    port = free_port()
    sink = tmp_path / "sink"
    # The reply is written only once cat has seen our FIN as end of input.
    peer = run_bg(["socat", "TCP-LISTEN:%d,bind=%s,reuseaddr" % (port, LOCAL),
                   "SYSTEM:cat > %s; echo done" % sink])
    wait_tcp_listening(port)
    r = connect(LOCAL, port, input=data)
    _, err = peer.finish()
    assert (r.returncode, peer.returncode) == (0, 0), (r.stderr, err)
    assert r.stdout == b"done\n"
    assert sha(sink.read_bytes()) == sha(data)
    # socat - TCP:... sends its input, half-closes and reads our reply.
    reply = os.urandom(1 << 20)
    lst = Listener("-l", LOCAL, "-p", 0, stdin=subprocess.PIPE)
    threading.Thread(target=lambda: (lst.proc.stdin.write(reply), lst.proc.stdin.close()),
                     daemon=True).start()
    peer = run_bg(["socat", "-t", "10", "-", "TCP:%s:%d" % (LOCAL, lst.port)], stdin_bytes=data)
    got, err = peer.finish()
    rc, out = lst.wait()
    assert (rc, peer.returncode) == (0, 0), (lst.stderr(), err)
    assert sha(out) == sha(data) and sha(got) == sha(reply)


# ---- a stalled reader of our output ------------------------------------------

def test_full_stdout_never_holds_up_our_input():
    """Nobody reads our output for a while (its pipe and our buffer fill
    up); what standard input has must still reach the peer, with FIN."""
    payload = os.urandom(2 << 20)
    flood = os.urandom(4 << 20)

    all_in = threading.Event()

    def handler(c):
        sender = threading.Thread(target=lambda: c.sendall(flood), daemon=True)
        sender.start()
        data = read_to_eof(c)
        all_in.set()  # the flood may still be on its way: nobody reads it yet
        sender.join(30)
        return data
    srv = OneShot(handler)
    p = subprocess.Popen([SOCKIT, "connect", LOCAL, str(srv.port)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Let the flood fill our output pipe first; only then comes input.
        time.sleep(0.5)

        def feed():
            p.stdin.write(payload)
            p.stdin.close()
        threading.Thread(target=feed, daemon=True).start()
        # Our output is not read meanwhile.
        assert all_in.wait(20), "our input stalled behind a full stdout"
        out = p.stdout.read()
        assert p.wait(20) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
    assert sha(srv.join()) == sha(payload)
    assert sha(out) == sha(flood)


# ---- serve -l unix:PATH on every model --------------------------------------------

@pytest.mark.parametrize("model", ["iterative", "fork", "thread", "pool", "select", "poll",
                                   "epoll", "nonblock", "sigio", "uring"])
def test_serve_unix_on_every_model(sockdir, model):
    from conftest import require_model
    require_model(model)
    path = os.path.join(sockdir, model + ".sock")
    p = unix_server(path, "echo", "-m", model)
    try:
        data = os.urandom(300000)
        r = connect("unix:" + path, input=data)
        assert r.returncode == 0, r.stderr
        assert sha(r.stdout) == sha(data)
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
    assert not os.path.exists(path)
