# SPDX-License-Identifier: BSD-2-Clause
"""Chat with names: `sockit chat --name`, /nick, /who and the line editor.

The protocol itself (valid and taken names, every reply) is unit-tested
against the service (tests/unit/test_svc_chat.c); here the real server on
every model that runs chat (the list test_chat_policy.py uses) and the real
client: two `sockit chat --name` members over pipes, a plain socket member
that types /nick as an nc user would, and a client on a pseudo-terminal
that keeps a half-typed line intact when a line from the room arrives.
"""
import os
import pty
import select
import signal
import subprocess
import termios
import threading
import time

import pytest

from conftest import LOCAL, SOCKIT, ChatMember, serve_params

CHAT_MODELS = (serve_params(["thread", "nonblock", "sigio", "select", "poll", "epoll", "uring"],
                            edge=True, workers2=["epoll", "uring"])
               + serve_params(["pool"], workers=8))


class PipeMember:
    """`sockit chat` with stdin and stdout on pipes; out collects stdout."""
    def __init__(self, port, *args):
        self.proc = subprocess.Popen([SOCKIT, "chat", LOCAL, str(port), *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = bytearray()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return
            self.out += chunk

    def send(self, text):
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def wait_for(self, text, timeout=10):
        return wait_for(lambda: bytes(self.out), text, timeout)

    def finish(self):
        self.proc.stdin.close()
        rc = self.proc.wait(10)
        self.reader.join(5)
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc, err


def wait_for(get, text, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = get()
        if text in data:
            return data
        time.sleep(0.02)
    raise AssertionError("never saw %r in %r" % (text, get()))


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_named_members_over_pipes(serve, model):
    srv = serve("chat", "-l", LOCAL, "-p", "0", "-q", *model)
    watcher = ChatMember(srv.port, "watcher")  # a plain socket: an nc user
    watcher.welcome()
    watcher.start_reading()
    alice = PipeMember(srv.port, "--name", "alice")
    alice.wait_for(b" is now alice\n")
    bob = PipeMember(srv.port, "--name", "bob")
    alice.wait_for(b" is now bob\n")
    wait_for(lambda: bytes(watcher.data), b" is now bob\n")

    bob.send(b"hi\n")
    alice.wait_for(b"[bob] hi\n")
    wait_for(lambda: bytes(watcher.data), b"[bob] hi\n")

    alice.send(b"/nick carol\n")
    bob.wait_for(b"* alice is now carol\n")
    alice.wait_for(b"* alice is now carol\n")  # the renamed member hears it too
    alice.send(b"hello\n")
    bob.wait_for(b"[carol] hello\n")

    # The nc user names itself the same way; a taken name is refused to it alone.
    watcher.sock.sendall(b"/nick Carol\n")
    wait_for(lambda: bytes(watcher.data), b"[server] name 'Carol' is taken\n")
    watcher.sock.sendall(b"/nick dave\n")
    bob.wait_for(b"* %s is now dave\n" % watcher.peer.encode())
    watcher.sock.sendall(b"/who\n/help\n")  # the help comes after the whole list
    who = wait_for(lambda: bytes(watcher.data), b"[server]   //text ")
    who = who[who.index(b"[server] 3 here:\n"):].split(b"\n")
    assert who[1] == b"[server]   dave at %s (you)" % watcher.peer.encode(), who
    assert who[2].startswith(b"[server]   carol at 127.0.0.1:"), who
    assert who[3].startswith(b"[server]   bob at 127.0.0.1:"), who

    rc, err = alice.finish()
    assert rc == 0 and err == b"", (rc, err)
    bob.wait_for(b"* carol left\n")
    rc, err = bob.finish()
    assert rc == 0 and err == b"", (rc, err)
    wait_for(lambda: bytes(watcher.data), b"* bob left\n")
    assert b"is taken" not in bytes(alice.out) + bytes(bob.out)
    watcher.sock.close()
    assert not [l for l in srv.lines if "dropping" in l], srv.log()


def test_name_option_usage_errors():
    for args, words in ((["--name", ""], "1 to 32"), (["--name", "a b"], "one word"),
                        (["--name", "x" * 33], "1 to 32"), (["--name", "a\nb"], "one word"),
                        (["--name"], "needs a value")):
        r = subprocess.run([SOCKIT, "chat", LOCAL, "7", *args], capture_output=True,
                           timeout=10)
        lines = r.stderr.decode().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r
        assert lines[0].startswith("sockit chat: ") and words in lines[0], lines


def test_a_name_the_server_refuses_is_told_to_the_client(serve):
    srv = serve("chat", "-l", LOCAL, "-p", "0", "-m", "thread")
    r = subprocess.run([SOCKIT, "chat", LOCAL, str(srv.port), "--name", "[boss]"],
                       input=b"", capture_output=True, timeout=10)
    assert r.returncode == 0, r
    assert b"\n[server] invalid name: " in r.stdout, r.stdout


# ---- on a terminal -----------------------------------------------------------------

class PtyMember:
    """`sockit chat` on a pseudo-terminal it has as its controlling terminal
    (pty.fork), so it runs in the foreground and edits the line itself."""
    def __init__(self, port, *args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: nothing but exec
            try:
                os.execv(SOCKIT, [SOCKIT, "chat", LOCAL, str(port), *args])
            finally:
                os._exit(127)
        self.out = b""

    def pump(self, timeout=0.05):
        while True:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the child is gone
                return
            if not chunk:
                return
            self.out += chunk
            timeout = 0

    def wait_for(self, text, timeout=10):
        def get():
            self.pump()
            return self.out
        return wait_for(get, text, timeout)

    def type(self, keys):
        os.write(self.fd, keys)

    def lflag(self):
        return termios.tcgetattr(self.fd)[3]

    def wait(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status
            time.sleep(0.02)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise AssertionError("the client did not exit; output %r" % self.out)

    def close(self):
        os.close(self.fd)


@pytest.mark.parametrize("model", [["-m", "thread"], ["-m", "epoll"]])
def test_a_line_from_the_room_does_not_break_the_line_being_typed(serve, model):
    srv = serve("chat", "-l", LOCAL, "-p", "0", *model)
    alice = PtyMember(srv.port, "--name", "alice")
    try:
        alice.wait_for(b" is now alice\r\n")
        assert not alice.lflag() & (termios.ICANON | termios.ECHO)  # the client edits
        bob = PipeMember(srv.port, "--name", "bob")
        alice.wait_for(b" is now bob\r\n\r\x1b[K> ")

        alice.type(b"hel")
        alice.wait_for(b"> hel")
        mark = len(alice.out)
        bob.send(b"hi there\n")
        # The half-typed line is erased, bob's line printed on its own line,
        # and the prompt with "hel" drawn again under it.
        shown = alice.wait_for(b"[bob] hi there\r\n\r\x1b[K> hel")[mark:]
        assert shown.startswith(b"\r\x1b[K[bob] hi there\r\n"), shown

        alice.type(b"lo\r")
        bob.wait_for(b"[alice] hello\n")
        assert b"[alice] hel\n" not in bytes(bob.out)

        # Backspace, Ctrl-U and Ctrl-W edit the line before it goes.
        alice.type(b"oops\x15tpyo\x7f\x7f\x7fypo fixed\x17done\r")
        bob.wait_for(b"[alice] typo done\n")

        # Ctrl-D on an empty line ends the input: the terminal is put back.
        alice.type(b"\x04")
        status = alice.wait()
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        bob.wait_for(b"* alice left\n")
        bob.finish()
    finally:
        alice.close()


def test_the_terminal_is_restored_when_a_signal_ends_the_client(serve):
    srv = serve("chat", "-l", LOCAL, "-p", "0", "-m", "thread")
    alice = PtyMember(srv.port)
    try:
        alice.wait_for(b"* welcome ")
        alice.wait_for(b"> ")
        before = alice.lflag()
        assert not before & (termios.ICANON | termios.ECHO)
        alice.type(b"half")
        alice.wait_for(b"> half")
        os.kill(alice.pid, signal.SIGTERM)
        status = alice.wait()
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status
        after = alice.lflag()
        assert after & termios.ICANON and after & termios.ECHO, after
    finally:
        alice.close()


def test_pipes_keep_the_bytes_as_typed(serve):
    """Without a terminal nothing is edited: a Backspace byte goes out as
    it came (and the others see it made visible by their client)."""
    srv = serve("chat", "-l", LOCAL, "-p", "0", "-m", "thread")
    watcher = ChatMember(srv.port, "watcher")
    watcher.welcome()
    watcher.start_reading()
    r = subprocess.run([SOCKIT, "chat", LOCAL, str(srv.port)], input=b"ab\x7fc\x15\n",
                       capture_output=True, timeout=10)
    assert r.returncode == 0, r
    assert b"> " not in r.stdout, r.stdout
    wait_for(lambda: bytes(watcher.data), b"] ab\x7fc\x15\n")
    watcher.sock.close()


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_one_name_one_member_when_many_ask_at_once(serve, model):
    """Eight members claim the same name at the same moment (on the thread
    and pool models from eight threads at once): exactly one gets it, the
    other seven are told it is taken, and everybody hears one rename."""
    srv = serve("chat", "-l", LOCAL, "-p", "0", "-q", *model)
    members = []
    for i in range(8):
        m = ChatMember(srv.port, "m%d" % i)
        assert b"; %d others here" % i in m.welcome()
        members.append(m)
    for m in members:
        m.start_reading()
    go = threading.Barrier(len(members))

    def claim(m):
        go.wait(10)
        m.sock.sendall(b"/nick same\n")
    threads = [threading.Thread(target=claim, args=(m,)) for m in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    def settled():
        data = [bytes(m.data) for m in members]
        return (sum(d.count(b" is now same\n") for d in data) == len(members)
                and sum(d.count(b"[server] name 'same' is taken\n") for d in data) == 7)
    deadline = time.monotonic() + 10
    while not settled() and time.monotonic() < deadline:
        time.sleep(0.05)
    winners = [m for m in members if b"[server] name 'same' is taken\n" not in bytes(m.data)]
    assert len(winners) == 1, [bytes(m.data) for m in members]
    notice = b"* %s is now same\n" % winners[0].peer.encode()
    for m in members:
        assert bytes(m.data).count(b" is now same\n") == 1 and notice in bytes(m.data), m.name
    for m in members:
        m.sock.close()
