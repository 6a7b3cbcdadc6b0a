# SPDX-License-Identifier: BSD-2-Clause
"""Shared helpers for sockit's integration tests.

Every test starts the real binary on port 0, reads the port from the one
"listening on ..." line it prints, and talks to it over real sockets, the
way a user's script would.
"""
import os
import re
import resource
import signal
import socket
import subprocess
import threading
import time

import pytest

SOCKIT = os.path.abspath(os.environ.get("SOCKIT") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "sockit"))
READY = re.compile(r"^listening on (\S+) port (\d+) \((\S+), (\S+)\)$")


def ipv6_available():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


HOSTS = ["127.0.0.1"] + (["::1"] if ipv6_available() else [])


def _model_table():
    """{model: None if it runs here, else the reason it cannot}."""
    out = subprocess.run([SOCKIT, "serve", "--model", "list"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, timeout=30).stdout.decode()
    table = {}
    for line in out.splitlines()[1:]:
        name = line.split()[0]
        m = re.search(r"\(unavailable: (.*)\)", line)
        table[name] = m.group(1) if m else None
    return table


MODEL_TABLE = _model_table()
ALL_MODELS = list(MODEL_TABLE)
BLOCKING_MODELS = ["iterative", "fork", "thread", "pool"]
EVENT_MODELS = [m for m in ALL_MODELS if m not in BLOCKING_MODELS]
UDP_MODELS = ["iterative"] + EVENT_MODELS


# CI (.ci/run) installs liburing-dev and sets SOCKIT_REQUIRE_URING=1: there
# a uring model that did not build, or that the kernel refuses, fails every
# uring test instead of skipping it, so a broken build cannot pass quietly.
REQUIRE_URING = os.environ.get("SOCKIT_REQUIRE_URING") == "1"


def model_unavailable(model):
    """None if model runs here, else why not."""
    if model not in MODEL_TABLE:
        return "not compiled in"
    return MODEL_TABLE[model]


def _cannot_run_marks(model):
    """The marks for a test of a model this machine cannot run: a skip that
    says why, or, for uring under SOCKIT_REQUIRE_URING=1, a failure."""
    why = model_unavailable(model)
    if why is None:
        return ()
    if model == "uring" and REQUIRE_URING:
        return (pytest.mark.sockit_must_fail.with_args(
            "SOCKIT_REQUIRE_URING=1 but the uring model cannot run: %s" % why),)
    return (pytest.mark.skip(reason="model %s cannot run here: %s" % (model, why)),)


def pytest_configure(config):
    config.addinivalue_line("markers", "sockit_must_fail(why): fail the test with why")


@pytest.fixture(autouse=True)
def _fail_what_must_not_skip(request):
    mark = request.node.get_closest_marker("sockit_must_fail")
    if mark is not None:
        pytest.fail(mark.args[0])


def model_params(models):
    """pytest parameters for models, each unavailable one skipped with why."""
    out = []
    for m in models:
        marks = _cannot_run_marks(m)
        out.append(pytest.param(m, marks=marks) if marks else m)
    return out


def serve_params(models, edge=False, workers2=(), workers=None):
    """pytest parameters of serve arguments (["-m", MODEL, ...]) for models,
    with ids of the models' names; edge adds epoll --edge ("epoll-edge"),
    workers2 the listed models on --workers 2 ("MODEL-workers2"); workers
    gives every plain entry --workers N (pool's default 8 otherwise)."""
    out = []
    for m in models:
        extra = ["--workers", str(workers)] if workers else []
        out.append(pytest.param(["-m", m, *extra], id=m, marks=_cannot_run_marks(m)))
        if edge and m == "epoll":
            out.append(pytest.param(["-m", "epoll", "--edge"], id="epoll-edge",
                                    marks=_cannot_run_marks(m)))
    for m in workers2:
        out.append(pytest.param(["-m", m, "--workers", "2"], id=m + "-workers2",
                                marks=_cannot_run_marks(m)))
    return out


def engine_params():
    """pytest parameters for `sockit bench --engine`: poll, and uring unless
    this machine cannot run it (the engine needs what the uring model
    needs, so the model table says; SOCKIT_REQUIRE_URING=1 fails instead)."""
    return [pytest.param("poll", id="poll"),
            pytest.param("uring", id="uring", marks=_cannot_run_marks("uring"))]


TCP_MODEL_PARAMS = model_params(ALL_MODELS)
UDP_MODEL_PARAMS = model_params(UDP_MODELS)


# A sanitizer build (build-asan/, build-tsan/, or SOCKIT_SANITIZED=1): its
# shadow memory makes RSS say nothing about the server's own buffers, and
# it slows the server's code two to several times, so the tests that
# measure memory or CPU say so and check what still means something.
_BUILD_DIR = os.path.basename(os.path.dirname(os.path.abspath(SOCKIT)))
SANITIZED = _BUILD_DIR in ("build-asan", "build-tsan") or \
    os.environ.get("SOCKIT_SANITIZED") == "1"


# `make soak` sets SOCKIT_SOAK=1: the abuse tests then run at the sizes
# RELIABILITY.md names (30 s floods, 1,000 idle clients, 10,000 resets and
# fork connections, 1 GiB transfers) instead of the default run's smaller
# ones, which keep `make test` to a few minutes.
SOAK = os.environ.get("SOCKIT_SOAK") == "1"


def soak(normal, soaked):
    return soaked if SOAK else normal


URING_WHY = model_unavailable("uring")


def require_model(model):
    """Skip, saying why, when this machine cannot run model (fail instead
    for uring under SOCKIT_REQUIRE_URING=1)."""
    why = model_unavailable(model)
    if why is None:
        return
    if model == "uring" and REQUIRE_URING:
        pytest.fail("SOCKIT_REQUIRE_URING=1 but the uring model cannot run: %s" % why)
    pytest.skip("model %s cannot run here: %s" % (model, why))


class Server:
    """A running `sockit serve`; its stderr is collected line by line."""

    def __init__(self, args, ready_timeout=10.0, env=None, preexec_fn=None, command=None,
                 stop_signal=signal.SIGTERM):
        # command: what runs sockit (["wine", "sockit.exe"] for Windows).
        self.args = list(command or [SOCKIT]) + ["serve"] + list(args)
        self.stop_signal = stop_signal
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, preexec_fn=preexec_fn)
        self.lines = []
        self._cond = threading.Condition()
        self.host = self.port = self.service = self.model = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + ready_timeout
        with self._cond:
            while self.port is None:
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(
                        "server exited with %s before it was ready:\n%s"
                        % (self.proc.returncode, self.log()))
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    raise AssertionError("server not ready in %.0fs:\n%s"
                                         % (ready_timeout, self.log()))
                self._cond.wait(min(left, 0.1))

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                m = READY.match(line)
                if m and self.port is None:
                    self.host, self.port = m.group(1), int(m.group(2))
                    self.service, self.model = m.group(3), m.group(4)
                self._cond.notify_all()

    def log(self):
        with self._cond:
            return "\n".join(self.lines)

    def wait_for_log(self, pattern, timeout=5.0):
        """Wait until a stderr line matches the regex; return the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no log line matching %r in:\n%s"
                                         % (pattern, "\n".join(self.lines)))
                self._cond.wait(min(left, 0.1))

    def stop(self, timeout=10.0):
        """SIGTERM (or stop_signal), then expect a clean exit 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("server did not stop on %s:\n%s"
                                 % (signal.Signals(self.stop_signal).name, self.log()))
        self._reader.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._reader.join(5)


@pytest.fixture
def serve():
    """serve(*args) starts a server; all are stopped (and must exit 0) at the end."""
    started = []

    def start(*args, **kw):
        srv = Server(args, **kw)
        started.append(srv)
        return srv

    yield start
    failures = []
    for srv in started:
        rc = srv.stop()
        if rc != 0:
            failures.append("%s exited %s:\n%s" % (srv.args, rc, srv.log()))
    assert not failures, "\n".join(failures)


def sockit(*args, input=None, timeout=30, cwd=None):
    """Run a sockit client command; returns CompletedProcess with bytes."""
    return subprocess.run([SOCKIT] + [str(a) for a in args], input=input,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, cwd=cwd)


LOCAL = "127.0.0.1"


def connect(host, port, timeout=10.0):
    s = socket.create_connection((host, port), timeout=timeout)
    return s


def connect_from(source, port, timeout=10.0):
    """A connection to LOCAL:port from the loopback address source."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect((LOCAL, port))
    return s


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(1 << 20, n - len(buf)))
        if not chunk:
            raise AssertionError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def recv_all(sock):
    """Read until the peer closes."""
    buf = bytearray()
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return bytes(buf)
        buf += chunk


def read_line(sock):
    """One line, byte by byte (nothing after it is consumed)."""
    line = b""
    while not line.endswith(b"\n"):
        b = sock.recv(1)
        assert b, "closed mid-line: %r" % line
        line += b
    return line


def echo_once(port, payload=b"ping\n", host=LOCAL, timeout=5.0):
    """One fresh connection, one payload echoed; returns what came back."""
    s = connect(host, port, timeout=timeout)
    try:
        s.sendall(payload)
        return recv_exact(s, len(payload))
    finally:
        s.close()


def echoes(s, data=b"x"):
    """True when data sent on the open connection s comes back."""
    s.sendall(data)
    return recv_exact(s, len(data)) == data


def served_within(port, seconds):
    """Retry a fresh echo client until one is served; return how long it took."""
    start = time.monotonic()
    last = None
    while time.monotonic() - start < seconds:
        try:
            if echo_once(port, b"new client\n", timeout=0.5) == b"new client\n":
                return time.monotonic() - start
        except (OSError, AssertionError) as e:
            last = e
        time.sleep(0.02)
    raise AssertionError("no new client served within %.1fs (last error: %r)" % (seconds, last))


# ---- processes: /proc, CPU, memory, descriptors ----------------------------

def proc_fields(pid):
    """Fields of /proc/PID/stat from the state on (the name may hold
    spaces), or None once the process is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def children_of(pid):
    """(pid, state) of every process whose parent is pid."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = proc_fields(int(entry))
            if fields and int(fields[1]) == pid:
                out.append((int(entry), fields[0]))
    return out


def alive(pid):
    """True while pid exists and is not a zombie."""
    fields = proc_fields(pid)
    return fields is not None and fields[0] != "Z"


def cpu_seconds(pid):
    """User + system CPU time of every thread of pid, in seconds."""
    fields = proc_fields(pid)
    assert fields is not None, "process %d is gone" % pid
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    """Resident set size of pid, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def nofile_limit(n):
    """preexec_fn: run the server with at most n descriptors."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


def ensure_own_nofile(n):
    """Raise this process's descriptor limit to n, or skip saying why."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        want = n if hard == resource.RLIM_INFINITY else min(n, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    if soft < n:
        pytest.skip("this test needs %d descriptors; the hard limit is %d" % (n, hard))


# ---- clients kept busy while something else happens ----------------------

def percentile(values, p):
    if not values:
        return float("inf")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100.0))]


class RoundTrips:
    """Threads that keep doing small echo round trips over held connections
    and record each one's time; any wrong or missing byte is an error."""

    def __init__(self, socks, nthreads=2, pause=0.0):
        self.socks = socks
        self.rtts = []
        self.errors = []
        self.pause = pause
        self._stop = threading.Event()
        groups = [socks[i::nthreads] for i in range(nthreads)]
        self._threads = [threading.Thread(target=self._run, args=(g, i), daemon=True)
                         for i, g in enumerate(groups) if g]

    def _run(self, group, tag):
        n = 0
        rtts = []
        try:
            while not self._stop.is_set():
                for s in group:
                    msg = b"rt %d %d\n" % (tag, n)
                    n += 1
                    t0 = time.monotonic()
                    s.sendall(msg)
                    got = recv_exact(s, len(msg))
                    rtts.append(time.monotonic() - t0)
                    if got != msg:
                        self.errors.append("got %r for %r" % (got, msg))
                        return
                if self.pause:
                    time.sleep(self.pause)
        except Exception as e:  # noqa: BLE001 - any failure is reported
            self.errors.append(repr(e))
        finally:
            self.rtts.extend(rtts)

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(20)

    def p99_ms(self):
        return percentile(self.rtts, 99) * 1000


# ---- chat ---------------------------------------------------------------

class ChatMember:
    """A chat member on a raw socket: welcome() reads the greeting, then
    start_reading() keeps everything that arrives in data."""
    def __init__(self, port, name, rcvbuf=None):
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", port))
        self.peer = "%s:%d" % self.sock.getsockname()[:2]
        self.data = bytearray()
        self.reader = None

    def welcome(self):
        line = b""
        while not line.endswith(b"\n"):
            b = self.sock.recv(1)
            assert b, "closed before the welcome"
            line += b
        assert line.startswith(b"* welcome"), line
        return line

    def start_reading(self):
        def run():
            try:
                while True:
                    chunk = self.sock.recv(1 << 16)
                    if not chunk:
                        return
                    self.data += chunk
            except OSError:
                return
        self.reader = threading.Thread(target=run, daemon=True)
        self.reader.start()

    def lines_from(self, peer):
        prefix = b"[%s] " % peer.encode()
        return [l[len(prefix):] for l in bytes(self.data).split(b"\n") if l.startswith(prefix)]


# ---- stalled peers and misbehaving echo servers ------------------------------

def small_receiver(port, rcvbuf=4096):
    """A client with a small receive buffer, so the server's output backs up fast."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def fill_until_stalled(s, quiet=0.5, limit=10.0):
    """Send without reading until nothing more goes for `quiet` seconds;
    return the time of the last send that moved a byte."""
    s.setblocking(False)
    chunk = b"x" * 65536
    last = time.monotonic()
    give_up = last + limit
    while time.monotonic() - last < quiet:
        assert time.monotonic() < give_up, "the connection never filled up"
        try:
            if s.send(chunk) > 0:
                last = time.monotonic()
        except BlockingIOError:
            time.sleep(0.02)
    s.settimeout(10)
    return last


def wait_closed(s, timeout):
    """Read (and drop) what the server sent until it closes or resets; True
    if it did within timeout."""
    s.settimeout(0.2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not s.recv(1 << 20):
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def recv_message(c, size):
    data = b""
    while len(data) < size:
        chunk = c.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def swap_pairs(size):
    """Echo messages two at a time, the second before the first."""
    def handler(c):
        while True:
            a, b = recv_message(c, size), recv_message(c, size)
            if a is None or b is None:
                return
            c.sendall(b + a)
    return handler


def _third_changed(size, change):
    """Echo faithfully, but send change(m) for the third message m."""
    def handler(c):
        n = 0
        while True:
            m = recv_message(c, size)
            if m is None:
                return
            n += 1
            c.sendall(change(m) if n == 3 else m)
    return handler


def replay_one(size):
    """Echo faithfully, but send the third message twice."""
    return _third_changed(size, lambda m: m + m)


def add_a_byte(size):
    """Echo faithfully, with one extra byte after the third message."""
    return _third_changed(size, lambda m: m + m[:1])
