#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""learn_trace.py - docs/TRACE.md, written from real runs of sockit --trace
(docs/LEARN.md, by learn.py, links to it chapter by chapter).

Each section of the guide shows what the tutorials teach (the order of
the calls, recv() returning 0, half-close, the handshake and the close,
errors by name, each I/O model's own machinery) as sockit really traced
it: a server is started with --trace, a scripted client takes the steps
one at a time (each waits until the server has traced the last), and the
lines are kept.  What differs from run to run is masked: times, ports,
process ids, round-trip times, the congestion window and the moments a
loopback ACK may or may not be back yet.

  scripts/learn_trace.py            rewrite docs/TRACE.md (make learn)
  scripts/learn_trace.py --check    exit 1, with a diff, if a section no longer
                              matches what sockit does now (make test runs
                              it through tests/integration/test_learn.py)

SOCKIT names the binary (default build/sockit).  A section whose model
cannot run here (io_uring on an old kernel) is kept as it is and said so.
"""
import difflib
import os
import re
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOCKIT = os.environ.get("SOCKIT", os.path.join(ROOT, "build", "sockit"))
GUIDE = os.path.join(ROOT, "docs", "TRACE.md")
LOCAL = "127.0.0.1"
READY = re.compile(r"^listening on \S+ port (\d+) ")


class Server:
    """sockit serve ... --trace, its stderr gathered line by line."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([SOCKIT, "serve", *args, "--trace", "-q"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines, self.port = [], None
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait(READY)
        self.port = int(READY.match(self.find(READY)).group(1))

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def find(self, rx, start=0):
        for line in self.lines[start:]:
            if rx.search(line):
                return line
        return None

    def wait(self, pattern, start=0, timeout=10.0):
        """Wait for a line matching pattern after line start; then a
        moment of quiet, so that what the event caused is traced too."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.find(rx, start) is None:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("sockit serve never traced %r:\n%s"
                                       % (rx.pattern, "\n".join(self.lines)))
                self.cond.wait(0.05)
        self.settle()

    def settle(self, quiet=0.3):
        """Until no line came for quiet seconds."""
        while True:
            with self.cond:
                n = len(self.lines)
            time.sleep(quiet)
            with self.cond:
                if len(self.lines) == n:
                    return

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.settle(0.1)
        return list(self.lines)


def model_runs(model):
    out = subprocess.run([SOCKIT, "serve", "--model", "list"], stdout=subprocess.PIPE,
                         text=True, timeout=30).stdout
    for line in out.splitlines()[1:]:
        if line.split() and line.split()[0] == model:
            return "unavailable" not in line
    return False


# ---- masking what changes between runs ---------------------------------

def mask(lines, ports=()):
    out = []
    for line in lines:
        line = re.sub(r"^trace +\d+\.\d{3} ", "trace ", line)
        line = re.sub(r"^trace \[\d+\] ", "trace [child] ", line)
        for p in ports:
            line = re.sub(r"(?<=[:\"])%d\b" % p, "PORT", line)
            line = re.sub(r"\bport %d\b" % p, "port PORT", line)
        line = re.sub(r"(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):(?!PORT)[1-9]\d*", r"\1:CLIENT",
                      line)
        line = re.sub(r"timeout \d+ ms", "timeout N ms", line)
        line = re.sub(r"fork\(\) = \d+", "fork() = PID", line)
        line = re.sub(r"waitpid\((.*)\) = \d+: child \d+", r"waitpid(\1) = PID: child PID", line)
        line = re.sub(r"rtt [0-9.]+ ms \(var [0-9.]+\)", "rtt ~", line)
        line = re.sub(r"cwnd \d+", "cwnd ~", line)
        # How far the close got when shutdown() returned is a race on
        # loopback: our FIN's ACK, even the peer's FIN, may be back.
        m = re.match(r"^( +)tcp ", line)
        if m and out and "shutdown(" in out[-1]:
            line = m.group(1) + ("tcp FIN_WAIT1 (our FIN is out), or FIN_WAIT2 once it is "
                                 "acknowledged, or CLOSE if the peer's FIN is back too")
        out.append(line)
    return out


def after_listening(lines):
    for i, line in enumerate(lines):
        if READY.match(line):
            return lines[i + 1:]
    return lines


def only_trace(lines):
    """Trace lines and their indented TCP samples; not the server's log."""
    return [l for l in lines if l.startswith("trace") or l.startswith(" ")]


# ---- the runs -----------------------------------------------------------

def known_exchange(srv, pace=True):
    """The tutorials' exchange, one step at a time: connect, a line,
    its echo, half-close, EOF, close.  Each step waits until the server
    has traced what it caused."""
    mark = len(srv.lines)
    s = socket.create_connection((LOCAL, srv.port), timeout=10)
    srv.wait(r"accept\(\d+\) = \d+", mark)
    mark = len(srv.lines)
    s.sendall(b"hello\n")
    got = b""
    while len(got) < 6:
        piece = s.recv(100)
        if not piece:
            raise RuntimeError("the server closed before echoing")
        got += piece
    srv.wait(r"(send|sendmsg|splice out)\(\d+, 6\) = 6", mark)
    mark = len(srv.lines)
    s.shutdown(socket.SHUT_WR)
    if s.recv(100) != b"":
        raise RuntimeError("the server did not close after our FIN")
    s.close()
    srv.wait(r"#\d+ +close\(\d+\) = 0", mark)


def run_server_exchange(model, extra=()):
    srv = Server("echo", "-l", LOCAL, "-p", "0", "-m", model, *extra)
    port = srv.port
    known_exchange(srv)
    if model == "fork":
        srv.wait(r"waitpid")
    lines = srv.stop()
    return mask(only_trace(lines), [port]), port


def section_listen():
    srv = Server("echo", "-l", LOCAL, "-p", "0", "-m", "iterative")
    port = srv.port
    lines = mask(only_trace(srv.stop()), [port])
    return "\n".join(lines)


def section_exchange():
    lines, _ = run_server_exchange("iterative")
    return "\n".join(after_listening_trace(lines))


def after_listening_trace(lines):
    for i, line in enumerate(lines):
        if "listen(" in line:
            # Not the listener's own close at the end (a fork child's
            # close of its copy stays: it is part of the lesson).
            return [l for l in lines[i + 1:] if not re.match(r"^trace -\s+close\(3\)", l)]
    return lines


def section_client():
    srv = Server("echo", "-l", LOCAL, "-p", "0", "-m", "thread")
    r = subprocess.run([SOCKIT, "echo", LOCAL, str(srv.port), "hello", "--trace"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    srv.stop()
    if r.returncode != 0:
        raise RuntimeError("sockit echo failed:\n" + r.stderr)
    return "\n".join(mask(only_trace(r.stderr.splitlines()), [srv.port]))


def section_errors():
    s = socket.socket()
    s.bind((LOCAL, 0))
    port = s.getsockname()[1]
    s.close()
    refused = subprocess.run([SOCKIT, "echo", LOCAL, str(port), "hello", "--trace"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=30)
    holder = socket.socket()
    holder.bind((LOCAL, 0))
    holder.listen(1)
    busy = holder.getsockname()[1]
    inuse = subprocess.run([SOCKIT, "serve", "echo", "-l", LOCAL, "-p", str(busy), "--trace"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=30)
    holder.close()
    return ("$ sockit echo 127.0.0.1 PORT hello --trace     # nobody listens on PORT\n"
            + "\n".join(mask(refused.stderr.splitlines(), [port]))
            + "\n\n$ sockit serve echo -l 127.0.0.1 -p PORT --trace   # PORT is taken\n"
            + "\n".join(mask(inuse.stderr.splitlines(), [busy])))


def by_process(lines):
    """fork: the parent's and the child's lines apart.  They run at once,
    so only the order within each process is the program's."""
    parent, child, into = [], [], None
    for line in lines:
        if line.startswith("trace"):
            into = child if line.startswith("trace [child]") else parent
        into.append(line)
    return ["# the parent"] + parent + ["", "# the child"] + child


def section_model(model, extra=()):
    def run():
        lines, _ = run_server_exchange(model, extra)
        lines = after_listening_trace(lines)
        return "\n".join(by_process(lines) if model == "fork" else lines)
    return run


def section_sockopts():
    srv = Server("echo", "-l", LOCAL, "-p", "0", "-m", "iterative", "--sockopt", "rcvbuf=8192",
                 "--sockopt", "sndbuf=8192", "--backlog", "16")
    port = srv.port
    return "\n".join(mask(only_trace(srv.stop()), [port]))


def section_udp():
    srv = Server("echo", "-u", "-l", LOCAL, "-p", "0", "-m", "iterative")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(b"ping", (LOCAL, srv.port))
    s.recvfrom(100)
    s.close()
    srv.wait(r"sendto")
    lines = mask(only_trace(srv.stop()), [srv.port])
    return "\n".join(after_bind(lines))


def after_bind(lines):
    for i, line in enumerate(lines):
        if "bind(" in line:
            return lines[i + 1:]
    return lines


# ---- the guide ----------------------------------------------------------

INTRO = """# Watching the calls: sockit --trace

The companion of [LEARN.md](LEARN.md): where that guide runs the commands
that show each chapter, this one shows what the calls underneath looked
like, traced.

The tutorials teach the order of the socket calls, what `recv()` returning 0
means, half-close, the handshake and the four-way close, TIME_WAIT, the
kernel's buffers and the I/O models. Every block below is what
`sockit ... --trace` printed for it, on this machine, when
`scripts/learn_trace.py` last ran (`make learn`); `make test` runs it again and
fails if a block no longer matches what sockit does. What changes from run
to run is masked: the milliseconds, `PORT` (the server's), `CLIENT` (the
client's port), `PID`, `rtt ~` and `cwnd ~`. Each line is one event: the
connection id (`#1`, `-` for none), the call with its arguments and result,
an errno by name with its meaning, the bytes; an indented line is TCP's own
view of the connection at that moment (TCP_INFO).
"""

SECTIONS = [
    ("listen", "1. A server's calls: socket, bind, listen", None, section_listen,
     """`sockit serve echo -m iterative -l 127.0.0.1 -p 0 --trace`, started and
stopped with nobody connecting. The tutorial's order: `socket()`, the option
that lets a restarted server bind while old connections sit in TIME_WAIT,
`bind()` to the address, `listen()` (port 0 became a real port), and at the
end `close()`."""),
    ("exchange", "2. accept, recv, send, and recv returning 0", None, section_exchange,
     """One client connects, sends `hello\\n`, reads the echo, half-closes
(`shutdown(SHUT_WR)`) and reads until the server closes. The server
accepts (TCP is ESTABLISHED before `accept()` returns: the kernel did the
handshake), receives the 6 bytes, sends them back, and then `recv()`
returns 0: the peer's FIN arrived, nothing more will come. TCP says
CLOSE_WAIT: our side may still send; here it closes. `received` counts the
FIN too, which takes one sequence number."""),
    ("client", "3. A client's calls: connect, the handshake, half-close", None, section_client,
     """`sockit echo 127.0.0.1 PORT hello --trace`. `connect()` on a non-blocking
socket returns EINPROGRESS; the handshake (SYN, SYN+ACK, ACK) completes
and SO_ERROR says 0. The client reads until it has every byte it sent
(TCP keeps no message boundaries), half-closes, and reads until the
server's FIN: recv = 0. The four-way close is then done, and Linux keeps
the TIME_WAIT in a mini-socket of its own, so the socket says CLOSE."""),
    ("errors", "4. Errors by name", None, section_errors,
     """A connection to a port nobody listens on is answered with RST:
ECONNREFUSED. A server that binds a port another socket holds gets
EADDRINUSE."""),
    ("sockopts", "5. Socket options and the kernel's buffers", None, section_sockopts,
     """`--sockopt NAME=VALUE` sets an option on the listening socket before
`bind()`; connections accepted from it inherit the buffer sizes (Linux
doubles what is asked, for its own bookkeeping, and `sockit sockopt` shows
what it kept). `--backlog` is `listen()`'s queue of finished handshakes.
Every TCP sample shows the buffers' contents: `sendq`, bytes sent and not
yet acknowledged (or not yet sent), and `recvq`, bytes received and not
yet read. The servers also turn Nagle off (`TCP_NODELAY`) on each
connection, as section 2 shows."""),
    ("udp", "6. UDP: recvfrom and sendto", None, section_udp,
     """`sockit serve echo -u -m iterative`: no listen, no accept, no connection;
each datagram comes with its sender's address, and the reply goes back to
it."""),
    ("iterative", "7. The models: iterative", "iterative", section_model("iterative"),
     """One connection at a time, with blocking calls: the tutorial's first
server. The trace shows the blocking `recv()`/`send()` the model means."""),
    ("fork", "8. The models: fork", "fork", section_model("fork"),
     """A process per connection. The parent forks, closes its copy of the
connected socket and goes back to `accept()`; the child (`[child]`) closes
its copy of the listener and serves. The two run at once, so they are
shown apart, each in its own order. When the child exits, SIGCHLD wakes
the parent, and `waitpid()` reaps it, so no zombie stays."""),
    ("thread", "9. The models: thread", "thread", section_model("thread"),
     """A thread per connection: the same calls as iterative, each connection on
a thread of its own."""),
    ("select", "10. The models: select", "select", section_model("select", ["--no-splice"]),
     """I/O multiplexing: one `select()` over every socket says which are ready;
the listener (fd 3) is ready when a connection waits, a connection when
bytes (or the FIN) arrived. Sockets are non-blocking: an `accept()` or
`recv()` that finds nothing says EAGAIN instead of waiting. (Run with
`--no-splice`, as are sections 11, 13 and 14, so that echo shows the
tutorial's `recv()` and `send()`; section 12 shows what it does without.)"""),
    ("poll", "11. The models: poll", "poll", section_model("poll", ["--no-splice"]),
     """`poll()`: select's job without its FD_SETSIZE limit."""),
    ("epoll", "12. The models: epoll, and an echo that copies nothing", "epoll",
     section_model("epoll"),
     """`epoll_wait()`: the kernel keeps the interest set, so a wait costs what
is ready, not what is watched. Run as it is by default, without
`--no-splice`: on the Linux readiness models (select, poll, epoll, sigio,
nonblock) echo does not `recv()` into its memory and `send()` from there.
It moves the bytes with `splice()` from the socket into a pipe and from
the pipe back into the socket: the kernel hands over the pages that hold
them and copies nothing (the bytes shown are peeked for the trace).
`splice in` means what `recv()` does, 0 included; `splice out` what
`send()` does. With 4 KiB messages 16 at a time, it cost the server about
a third less CPU per message than copying; with 128 B ones about the same
(BENCHMARKS.md)."""),
    ("sigio", "13. The models: sigio (signal-driven I/O)", "sigio",
     section_model("sigio", ["--no-splice"]),
     """F_SETSIG asks the kernel for a real-time signal per descriptor that
becomes ready; `sigtimedwait()` collects them."""),
    ("nonblock", "14. The models: nonblock (busy polling)", "nonblock",
     section_model("nonblock", ["--no-splice"]),
     """No waiting at all: every socket is non-blocking and is simply tried
again and again (a scan), with a short nap when nothing moves. A
would-block result repeated on one socket is shown once."""),
    ("uring", "15. The models: io_uring (asynchronous I/O)", "uring", section_model("uring"),
     """The kernel does the `accept()`, `recv()` and `send()` itself and reports
each as a completion; one `io_uring_submit_and_wait_timeout()` submits what
was queued and waits. The receive puts the bytes in one of the worker's
provided buffers (the size shown, 16384, is that buffer's); echo sends them
back from there with a `sendmsg` (every buffer the connection holds, in one
call) and only then gives the buffer back to the ring, so the bytes are never
copied in user space."""),
]

BEGIN = "<!-- learn:%s -->"
END = "<!-- /learn:%s -->"


def render_section(key, title, prose, body):
    return "%s\n## %s\n\n%s\n\n```\n%s\n```\n%s\n" % (BEGIN % key, title, prose, body, END % key)


def existing_sections(text):
    out = {}
    for m in re.finditer(r"<!-- learn:(\w+) -->\n(.*?)<!-- /learn:\1 -->\n", text, re.S):
        out[m.group(1)] = m.group(0)
    return out


def build(old):
    parts, skipped = [INTRO], []
    for key, title, model, run, prose in SECTIONS:
        if model is not None and not model_runs(model):
            skipped.append(key)
            if key in old:
                parts.append(old[key])
            continue
        parts.append(render_section(key, title, prose, run()))
    return "\n".join(parts), skipped


def main():
    check = "--check" in sys.argv[1:]
    text = open(GUIDE).read() if os.path.exists(GUIDE) else ""
    new, skipped = build(existing_sections(text))
    for key in skipped:
        print("learn.py: section %s kept as it was: its model cannot run here" % key,
              file=sys.stderr)
    if check:
        if new != text:
            sys.stdout.writelines(difflib.unified_diff(
                text.splitlines(True), new.splitlines(True), "docs/TRACE.md", "now"))
            print("learn_trace.py: docs/TRACE.md no longer matches what sockit does; "
                  "run make learn and look at the diff", file=sys.stderr)
            return 1
        return 0
    os.makedirs(os.path.dirname(GUIDE), exist_ok=True)
    with open(GUIDE, "w") as f:
        f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
