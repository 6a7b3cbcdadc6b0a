# SPDX-License-Identifier: BSD-2-Clause
"""`sockit serve` as a user types it: lists, help, and every usage error
gets one clear line and the right exit code."""
import socket
import statistics
import time

import pytest

from conftest import LOCAL, connect, model_params, recv_exact, sockit


def usage_error(r, *words):
    """Exit 2, one line with the message and the --help hint, naming words."""
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 2, r
    assert len(lines) == 1 and lines[0].endswith(" (try 'sockit serve --help')"), lines
    for w in words:
        assert w in lines[0], (w, lines[0])


def runtime_error(r, *words):
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1, r
    assert len(lines) == 1, lines
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_lists_and_help():
    r = sockit("serve", "--model", "list")
    assert r.returncode == 0
    for m in (b"iterative", b"fork", b"thread", b"blocking"):
        assert m in r.stdout
    r = sockit("serve", "--service", "list")
    assert r.returncode == 0
    for s in (b"echo", b"discard", b"chargen", b"daytime", b"time", b"hello", b"file", b"chat"):
        assert s in r.stdout
    r = sockit("serve", "--help")
    assert r.returncode == 0 and b"--max-clients" in r.stdout
    assert sockit("--help").returncode == 0
    assert sockit().returncode == 2
    assert sockit("frobnicate").returncode == 2


@pytest.mark.parametrize("args,words", [
    (["nosuch"], ["unknown service 'nosuch'"]),
    ([], ["missing SERVICE"]),
    (["echo", "-m", "nosuch"], ["unknown model 'nosuch'"]),
    (["echo", "-p", "70000"], ["invalid port '70000'"]),
    (["echo", "-p", "abc"], ["invalid port 'abc'"]),
    (["echo", "-p", "-1"], ["invalid port"]),
    (["echo", "-p", ""], ["invalid port ''"]),   # not "the well-known port"
    (["echo", "-p", " 0"], ["invalid port ' 0'"]),
    (["echo", "-p", "+7"], ["invalid port '+7'"]),
    (["echo", "-l", "[::1"], ["malformed address"]),
    (["echo", "-l", "127.0.0.1:7", "-p", "8"], ["port given twice"]),
    (["echo", "--sockopt", "bogus=1"], ["bogus=1", "unknown socket option"]),
    (["echo", "--sockopt", "nodelay=maybe"], ["invalid value"]),
    (["echo", "--sockopt", "type=1"], ["read-only"]),
    (["echo", "--max-clients", "0"], ["--max-clients"]),
    (["echo", "--max-clients", "x"], ["--max-clients"]),
    (["echo", "--max-per-ip", "0"], ["--max-per-ip"]),
    (["echo", "--idle-timeout", "-3"], ["--idle-timeout"]),
    (["echo", "--buffer", "1"], ["--buffer"]),
    (["echo", "--frobnicate"], ["--frobnicate"]),
    (["echo", "-p"], ["-p"]),
    (["echo", "extra"], ["unexpected argument 'extra'"]),
    (["hello", "-u", "-p", "0"], ["no UDP"]),
    (["echo", "-u", "-m", "fork", "-p", "0"], ["fork", "datagrams"]),
    (["echo", "-u", "-m", "thread", "-p", "0"], ["thread", "datagrams"]),
    (["chat", "-m", "fork", "-p", "0"], ["fork"]),
    (["file", "-p", "0"], ["--root"]),
    (["echo", "--root", "/tmp", "-p", "0"], ["--root"]),
    (["file", "--root", "/etc/passwd", "-p", "0"], ["not a directory"]),
    (["echo", "--service", "echo"], ["--service"]),
])
def test_usage_errors(args, words):
    usage_error(sockit("serve", *args, timeout=10), *words)


def test_port_in_use_is_a_runtime_error():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        runtime_error(sockit("serve", "echo", "-l", "127.0.0.1", "-p", port, timeout=10),
                      "cannot listen", str(port), "in use")
    finally:
        taken.close()


def test_udp_port_in_use_by_another_server_is_refused(serve):
    # Linux lets two UDP sockets that both set SO_REUSEADDR share a port,
    # and even hands one's port to the other for a bind to port 0; the
    # second server would then silently take the first one's datagrams.
    first = serve("echo", "-u", "-l", "127.0.0.1", "-p", "0")
    runtime_error(sockit("serve", "discard", "-u", "-l", "127.0.0.1", "-p", first.port,
                         timeout=10),
                  "cannot listen", str(first.port), "in use")
    many = [serve("discard", "-u", "-l", "127.0.0.1", "-p", "0") for _ in range(30)]
    ports = [first.port] + [s.port for s in many]
    assert len(set(ports)) == len(ports), sorted(ports)


def test_unresolvable_listen_host():
    # "bad..name" fails inside the resolver without a query leaving the
    # machine (an empty label); a real unknown name would ask a DNS server.
    runtime_error(sockit("serve", "echo", "-l", "bad..name", "-p", "0", timeout=20),
                  "cannot listen", "bad..name")


def test_missing_root_directory():
    runtime_error(sockit("serve", "file", "--root", "/no/such/dir", "-p", "0"),
                  "/no/such/dir", "No such file")


def test_service_name_as_port_and_listen_forms(serve):
    srv = serve("echo", "-l", "127.0.0.1:0")
    assert srv.host == "127.0.0.1" and srv.port > 0
    s = connect("127.0.0.1", srv.port)
    s.sendall(b"ok")
    assert recv_exact(s, 2) == b"ok"
    s.close()


def test_default_listen_is_dual_stack(serve):
    srv = serve("echo", "-p", "0")
    for host in ("127.0.0.1", "::1"):
        try:
            s = connect(host, srv.port)
        except OSError:
            if host == "::1":
                pytest.skip("no IPv6 loopback on this machine")
            raise
        s.sendall(b"v")
        assert recv_exact(s, 1) == b"v"
        s.close()


def test_sockopt_applies_to_listening_socket(serve):
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "--sockopt", "rcvbuf=64K",
                "--sockopt", "nodelay=on", "--sockopt", "keepalive=on")
    s = connect("127.0.0.1", srv.port)
    s.sendall(b"q")
    assert recv_exact(s, 1) == b"q"
    s.close()


def test_workers_that_cannot_start_never_claim_to_listen():
    """600 select loops need descriptors past FD_SETSIZE (or past the
    limit): the server must fail with one line, and never first print the
    ready line a script would take as 'listening'."""
    r = sockit("serve", "echo", "-m", "select", "--workers", "600", "-l", "127.0.0.1",
               "-p", "0", timeout=30)
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1, r
    assert len(lines) == 1 and lines[0].startswith("sockit serve: cannot start the event loops: "), lines


def _median_round_trip(port, size=1500, rounds=9):
    """Median seconds for one size-byte message to come back whole."""
    s = connect(LOCAL, port)
    msg = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    times = []
    for _ in range(rounds):
        t0 = time.monotonic()
        s.sendall(msg)
        assert recv_exact(s, size) == msg
        times.append(time.monotonic() - t0)
    s.close()
    return statistics.median(times)


@pytest.mark.parametrize("model", model_params(["iterative", "thread", "epoll", "uring"]))
def test_nodelay_off_leaves_connections_nagle(serve, model):
    """With a 1 KiB buffer a 1500-byte message is echoed in two writes.
    With TCP_NODELAY (the default) both leave at once; with --sockopt
    nodelay=off Nagle holds the second until the first is acknowledged,
    and the client delays that ACK (about 40 ms on Linux), as LEARN's
    chapter 8 shows.  The trace says which the server chose."""
    fast = serve("echo", "-m", model, "-l", LOCAL, "-p", "0", "--buffer", "1K",
                 "--trace=json")
    nagle = serve("echo", "-m", model, "-l", LOCAL, "-p", "0", "--buffer", "1K",
                  "--sockopt", "nodelay=off", "--trace=json")
    assert _median_round_trip(fast.port) < 0.020
    assert _median_round_trip(nagle.port) >= 0.020
    for srv, value in ((fast, 1), (nagle, 0)):
        srv.wait_for_log(r'"call":"setsockopt","fd":\d+,"args":"IPPROTO_TCP, TCP_NODELAY, %d"' % value)
