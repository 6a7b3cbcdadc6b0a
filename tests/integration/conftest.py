"""Shared helpers for sockit's integration tests.

Every test starts the real binary on port 0, reads the port from the one
"listening on ..." line it prints, and talks to it over real sockets, the
way a user's script would.
"""
import os
import re
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


def model_params(models):
    """pytest parameters for models, each unavailable one skipped with why."""
    out = []
    for m in models:
        why = MODEL_TABLE.get(m, "not compiled in") if m not in MODEL_TABLE or MODEL_TABLE[m] else None
        out.append(pytest.param(m, marks=pytest.mark.skip(reason="model %s cannot run here: %s"
                                                           % (m, why))) if why else m)
    return out


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


def require_model(model):
    """Skip, saying why, when this machine cannot run model."""
    if model not in MODEL_TABLE:
        pytest.skip("model %s is not compiled in" % model)
    if MODEL_TABLE[model] is not None:
        pytest.skip("model %s cannot run here: %s" % (model, MODEL_TABLE[model]))


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


def connect(host, port, timeout=10.0):
    s = socket.create_connection((host, port), timeout=timeout)
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
