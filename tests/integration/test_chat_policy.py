# SPDX-License-Identifier: BSD-2-Clause
"""Chat's slow-reader policy: one rule, the same outcome on every model.

Chat owns what "too slow" means (svc_chat.c, sk_session_set_slow_reader):
lines for a member wait up to 1 MiB; while they wait the room reads no
more from anybody (the sender is pushed back, so a member that keeps
reading never loses a line, however large the paste); a member that takes
no byte for 2 s while lines wait for it is dropped, logged once as
"dropping slow member PEER: output full", and everybody else carries on.

Every model that can run chat runs the same two scenarios here: iterative
serves one member at a time and fork cannot share a room (it refuses chat),
so they are not in the list.
"""
import re
import socket
import struct
import subprocess
import time

import pytest

from conftest import LOCAL, SOCKIT, ChatMember, serve_params, soak


CHAT_MODELS = (serve_params(["thread", "nonblock", "sigio", "select", "poll", "epoll", "uring"],
                            edge=True, workers2=["epoll", "uring"])
               + serve_params(["pool"], workers=8))

PASTE_LINE = re.compile(rb"^\[127\.0\.0\.1:\d+\] p (\d{7}) x+$")


def wait_for_text(path, text, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path, "rb") as f:
            if text in f.read():
                return
        time.sleep(0.05)
    raise AssertionError("%s never showed %r" % (path, text))


def paste_lines_in(path):
    with open(path, "rb") as f:
        return [m.group(1) for m in map(PASTE_LINE.match, f.read().split(b"\n")) if m]


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_a_paste_reaches_every_member_that_keeps_reading(serve, tmp_path, model):
    """One `sockit chat` member pastes 10 MB of 100-byte lines; two other
    `sockit chat` members, writing what they get to files, receive every
    line in order, and nobody is taken for a slow member.  (uring accepted
    such a paste at once and dropped readers that kept up: issue 10.3.)"""
    srv = serve("chat", "-l", LOCAL, "-p", "0", "-q", *model)
    count = soak(100000, 500000)  # 10 MB, or 50 MB under make soak
    paste = tmp_path / "paste.txt"
    with open(paste, "wb") as f:
        for i in range(count):
            f.write(b"p %07d %s\n" % (i, b"x" * 89))
    readers = []
    for name in ("a", "b"):
        out = tmp_path / ("%s.out" % name)
        with open(out, "wb") as f:
            p = subprocess.Popen([SOCKIT, "chat", LOCAL, str(srv.port)], stdin=subprocess.PIPE,
                                 stdout=f, stderr=subprocess.DEVNULL)
        readers.append((p, out))
        wait_for_text(out, b"* welcome")
    with open(paste, "rb") as f:
        paster = subprocess.run([SOCKIT, "chat", LOCAL, str(srv.port)], stdin=f,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                timeout=120)
    assert paster.returncode == 0, paster.stderr
    want = [b"%07d" % i for i in range(count)]
    deadline = time.monotonic() + 60
    for p, out in readers:
        while len(paste_lines_in(out)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
    for p, out in readers:
        p.stdin.close()
        p.wait(timeout=30)
    for p, out in readers:
        got = paste_lines_in(out)
        assert got == want, "%s got %d of %d lines:\n%s" % (
            out.name, len(got), count, srv.log()[-2000:])
    assert not [l for l in srv.lines if "dropping" in l], srv.log()


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_a_member_that_stops_reading_is_dropped_once_and_nobody_else_loses(serve, model):
    """A member that never reads, while three others talk at about 1 MB/s:
    it is dropped (once, with one log line), the room carries on, and every
    other member gets every line of every talker."""
    srv = serve("chat", "-l", LOCAL, "-p", "0", "-q", *model)
    slow = ChatMember(srv.port, "slow", rcvbuf=4096)  # joins first,
    slow.welcome()                                     # then never reads
    # Join one at a time: each welcome counts everyone before it, so the
    # slow member is surely in the room before anybody talks.
    members, talkers = [], []
    for name in ("listener", "talker0", "talker1", "talker2"):
        m = ChatMember(srv.port, name)
        assert b"; %d others here" % (len(members) + 1) in m.welcome()
        members.append(m)
        if name.startswith("talker"):
            talkers.append(m)
    for m in members:
        m.start_reading()

    # About 1 MB/s in all: 3 talkers x 10 lines of 310 bytes every 10 ms.
    pad = b"." * 300
    lines_each, dropped_at = 0, None
    start = time.monotonic()
    while time.monotonic() < start + 20:
        for i, t in enumerate(talkers):
            t.sock.sendall(b"".join(b"t%d %06d %s\n" % (i, j, pad)
                                    for j in range(lines_each, lines_each + 10)))
        lines_each += 10
        time.sleep(0.01)
        if dropped_at is None and any("dropping slow member" in l for l in srv.lines):
            dropped_at = time.monotonic() - start
        # Keep talking a while after the drop: nobody else may suffer.
        if dropped_at is not None and time.monotonic() - start > dropped_at + 1.0:
            break
    print("\n%s: slow member dropped after %s s; %d lines per talker"
          % (model, "%.2f" % dropped_at if dropped_at is not None else "never", lines_each))
    assert dropped_at is not None, "the slow member was never dropped:\n" + srv.log()

    expect = {t.peer: [b"t%d %06d %s" % (i, j, pad) for j in range(lines_each)]
              for i, t in enumerate(talkers)}
    wait_until = time.monotonic() + 20
    for m in members:
        for peer, want in expect.items():
            while (peer != m.peer and len(m.lines_from(peer)) < len(want)
                   and time.monotonic() < wait_until):
                time.sleep(0.05)
    for m in members:
        m.sock.shutdown(socket.SHUT_WR)
    for m in members:
        m.reader.join(10)
        m.sock.close()
    slow.sock.close()
    for m in members:
        for peer, want in expect.items():
            if peer != m.peer:
                got = m.lines_from(peer)
                assert got == want, "%s got %d of %d lines from %s" % (
                    m.name, len(got), len(want), peer)
        assert b"* %s left\n" % slow.peer.encode() in bytes(m.data), m.name
    drops = [l for l in srv.lines if "dropping" in l]
    assert len(drops) == 1, drops
    assert "dropping slow member %s: output full" % slow.peer in drops[0], drops


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_a_member_that_resets_is_not_called_slow(serve, model):
    """A member that resets its connection while others talk has left, it
    was not slow: with -q (warnings only) nothing is logged for it, and the
    others go on getting every line.  (epoll and select logged such members
    as 'dropping slow member ... output full': issue 10.11.)"""
    srv = serve("chat", "-l", LOCAL, "-p", "0", "-q", *model)
    listener = ChatMember(srv.port, "listener")
    listener.welcome()
    talker = ChatMember(srv.port, "talker")
    assert b"; 1 others here" in talker.welcome()
    listener.start_reading()
    pad = b"." * 300
    sent = 0
    for round_ in range(20):
        quitter = ChatMember(srv.port, "quitter%d" % round_)
        quitter.welcome()
        for _ in range(5):
            talker.sock.sendall(b"".join(b"t %06d %s\n" % (sent + j, pad) for j in range(50)))
            sent += 50
        quitter.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        quitter.sock.close()  # a reset, with lines still on their way to it
    want = [b"t %06d %s" % (j, pad) for j in range(sent)]
    deadline = time.monotonic() + 20
    while len(listener.lines_from(talker.peer)) < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.lines_from(talker.peer) == want
    talker.sock.close()
    listener.sock.shutdown(socket.SHUT_WR)
    listener.reader.join(10)
    listener.sock.close()
    assert not [l for l in srv.lines if "slow" in l or "warning" in l], srv.log()
