# SPDX-License-Identifier: BSD-2-Clause
"""Echo's splice path on the Linux readiness models (nonblock, sigio,
select, poll, epoll): bytes move socket -> the worker's pipe -> socket
with splice(2), never through user memory.  One pipe serves every
connection of a worker, so what matters most is that no byte ever strays
from one connection into another, nor is lost when the peer stops
reading and the rest has to be copied out of the pipe.

Checked through the real binary and real sockets, with --trace=json
showing which calls moved the bytes.
"""
import hashlib
import json
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import EVENT_MODELS, LOCAL, SOCKIT, connect, echo_once, recv_all, serve_params

# The models whose connections the readiness backend runs.
SPLICE_MODELS = [m for m in EVENT_MODELS if m not in ("uring", "iocp")]
MiB = 1 << 20


def echo_while_reading(port, data, piece=65536, host=LOCAL, sock=None):
    """Send data in pieces while a thread reads; half-close; what came back."""
    s = sock or connect(host, port, timeout=30)
    got = []
    reader = threading.Thread(target=lambda: got.append(recv_all(s)))
    reader.start()
    for off in range(0, len(data), piece):
        s.sendall(data[off:off + piece])
    s.shutdown(socket.SHUT_WR)
    reader.join(60)
    s.close()
    assert not reader.is_alive(), "the echo never ended"
    return got[0]


def traced_calls(srv):
    """The JSON trace events the server wrote so far."""
    events = []
    for line in srv.log().splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                pass
    return events


def moved_by(events, call):
    return sum(e["result"] for e in events
               if e.get("call") == call and isinstance(e.get("result"), int) and e["result"] > 0)


def wait_until(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


@pytest.mark.parametrize("model", serve_params(SPLICE_MODELS, edge=True))
def test_big_chunks_echo_through_the_pipe(serve, model):
    """4 MiB echoed in 64 KiB pieces comes back intact, and the trace shows
    that splice, not recv and send, moved (almost) all of it."""
    srv = serve("echo", "-l", LOCAL, "-p", "0", "--trace=json", *model)
    data = os.urandom(4 * MiB)
    assert echo_while_reading(srv.port, data) == data
    assert wait_until(lambda: any(e.get("call") == "close" for e in traced_calls(srv)))
    events = traced_calls(srv)
    spliced_in, spliced_out = moved_by(events, "splice in"), moved_by(events, "splice out")
    received, sent = moved_by(events, "recv"), moved_by(events, "send")
    assert spliced_in + received == len(data), (spliced_in, received)
    assert spliced_in >= len(data) * 9 // 10, "splice moved only %d of %d bytes in" % (
        spliced_in, len(data))
    assert spliced_out > 0 and spliced_out + sent <= len(data)
    eof = [e for e in events if e.get("call") == "splice in" and e.get("result") == 0]
    assert eof and "half-closed" in eof[0].get("meaning", ""), eof


@pytest.mark.parametrize("model", serve_params(SPLICE_MODELS))
def test_no_splice_copies_every_byte(serve, model):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "--trace=json", "--no-splice", *model)
    data = os.urandom(2 * MiB)
    assert echo_while_reading(srv.port, data) == data
    assert wait_until(lambda: any(e.get("call") == "close" for e in traced_calls(srv)))
    events = traced_calls(srv)
    assert not [e for e in events if e.get("call", "").startswith("splice")]
    assert moved_by(events, "recv") == len(data)


def test_log_sees_every_byte_so_nothing_is_spliced(serve, tmp_path):
    """--log must see what arrives: echo then copies, and the log is whole."""
    log = tmp_path / "received"
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "epoll", "--trace=json",
                "--log", str(log))
    data = os.urandom(MiB)
    assert echo_while_reading(srv.port, data) == data
    assert wait_until(lambda: log.exists() and log.stat().st_size == len(data))
    assert log.read_bytes() == data
    assert not [e for e in traced_calls(srv) if e.get("call", "").startswith("splice")]


@pytest.mark.parametrize("model", serve_params(SPLICE_MODELS, edge=True, workers2=["epoll"]))
def test_a_stalled_reader_keeps_its_bytes_and_others_keep_theirs(serve, model):
    """One client sends 16 MiB and reads nothing, so the server's splice out
    finds its socket full and copies the rest out of the shared pipe.
    Meanwhile three others echo 4 MiB each; every one of them must get
    exactly its own bytes back, and so must the stalled one once it reads."""
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-q", *model)
    stalled = connect(LOCAL, srv.port, timeout=60)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    # The server's send side fills whatever its receive side can take: the
    # client reads nothing into 64 KiB, and the server's send buffer grows to
    # tcp_wmem's maximum (4 MiB by default), well short of 16 MiB.  (Whether
    # the sendall blocks too depends on tcp_rmem's maximum: 32 MiB on some
    # machines, so it is not asserted.)
    big = os.urandom(16 * MiB)
    send_error = []

    def send_big():
        try:
            stalled.sendall(big)
            stalled.shutdown(socket.SHUT_WR)
        except OSError as e:
            send_error.append(e)

    sender = threading.Thread(target=send_big)
    sender.start()
    time.sleep(0.5)

    results, datas = {}, {}

    def other(i):
        datas[i] = os.urandom(4 * MiB)
        results[i] = echo_while_reading(srv.port, datas[i], piece=50000 + i * 7919)

    others = [threading.Thread(target=other, args=(i,)) for i in range(3)]
    for t in others:
        t.start()
    for t in others:
        t.join(120)
    for i in range(3):
        assert results.get(i) is not None, "client %d never finished" % i
        assert hashlib.sha256(results[i]).digest() == hashlib.sha256(datas[i]).digest(), \
            "client %d got %d bytes back, not its own %d" % (i, len(results[i]), len(datas[i]))
    back = recv_all(stalled)
    sender.join(60)
    stalled.close()
    assert not send_error, send_error
    assert len(back) == len(big), "the stalled client got %d of %d bytes" % (len(back), len(big))
    assert back == big, "the stalled client's bytes came back changed"
    assert echo_once(srv.port) == b"ping\n"


@pytest.mark.parametrize("model", serve_params(SPLICE_MODELS, edge=True))
def test_urgent_data_does_not_stall_the_echo(serve, model):
    """TCP's splice stops at the urgent mark and never steps over it (a
    telnet Interrupt sends one byte with MSG_OOB): the connection must
    copy from there, echoing what follows as recv() would, not spin."""
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-q", *model)
    s = connect(LOCAL, srv.port)
    s.sendall(b"before ")
    time.sleep(0.1)
    s.send(b"!", socket.MSG_OOB)
    time.sleep(0.1)
    tail = os.urandom(300000)
    got = echo_while_reading(srv.port, tail, sock=s)
    # recv() without SO_OOBINLINE leaves the urgent byte out, as the
    # copying echo always did.
    assert got == b"before " + tail, (len(got), got[:20])
    assert echo_once(srv.port) == b"ping\n"


@pytest.mark.parametrize("model", serve_params(SPLICE_MODELS))
def test_a_reset_is_traced_as_a_reset(serve, model):
    """--trace peeks at the bytes before each splice for its preview; a
    reset waiting on the socket must still be seen as ECONNRESET, not
    turned into a clean end of stream by the peek."""
    srv = serve("echo", "-l", LOCAL, "-p", "0", "--trace=json", *model)
    s = connect(LOCAL, srv.port)
    assert wait_until(lambda: any(e.get("call") == "accept" for e in traced_calls(srv)))
    time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # RST
    assert wait_until(lambda: any(e.get("call") == "close" for e in traced_calls(srv)))
    ins = [e for e in traced_calls(srv) if e.get("call") in ("splice in", "recv")
           and e.get("errno") != "EAGAIN"]
    assert ins and ins[-1].get("errno") == "ECONNRESET", ins


@pytest.mark.parametrize("buffer", ["100", "5000"])
def test_small_buffers_still_echo_every_byte(serve, buffer):
    """--buffer below the pipe's smallest size (a page): each splice moves
    at most what the output has room for."""
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-q", "-m", "epoll", "--buffer", buffer)
    data = os.urandom(3 * MiB)
    assert echo_while_reading(srv.port, data, piece=70001) == data


def test_unix_socket_echo(tmp_path):
    """A Unix stream socket splices too (or copies, where the kernel cannot)."""
    path = tmp_path / "echo.sock"
    err = open(tmp_path / "stderr", "w+")
    proc = subprocess.Popen([SOCKIT, "serve", "echo", "-l", "unix:%s" % path, "-m", "epoll",
                             "--trace=json"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=err)
    try:
        assert wait_until(lambda: "listening on unix:" in open(err.name).read()), \
            open(err.name).read()
        data = os.urandom(2 * MiB)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(str(path))
        assert echo_while_reading(None, data, sock=s) == data
        assert wait_until(lambda: '"call":"close"' in open(err.name).read())
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    events = [json.loads(l) for l in open(err.name) if l.startswith("{")]
    assert moved_by(events, "splice in") + moved_by(events, "recv") == len(data)


def test_no_splice_is_for_echo_only():
    r = subprocess.run([SOCKIT, "serve", "daytime", "-l", LOCAL, "-p", "0", "--no-splice"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 2, r
    assert b"--no-splice only applies to the echo service" in r.stderr, r.stderr
    assert len(r.stderr.decode().strip().splitlines()) <= 2, r.stderr
