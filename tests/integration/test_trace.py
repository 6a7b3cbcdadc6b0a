# SPDX-License-Identifier: BSD-2-Clause
"""--trace: the socket calls and TCP's state, as the tutorials describe them.

Every model runs the tutorials' known exchange (connect, one line echoed,
half-close, close) under --trace=json, and its events must hold, in order,
accept (with the client's port), recv of the 6 bytes, send of them, recv
= 0 (the FIN) and close (on the readiness models, whose echo splices,
splice in and splice out in their place), with the model's own machinery beside them; the
accept carries TCP_INFO's ESTABLISHED and the close a sample.  The text
form matches the documented line; the clients trace their calls too; and
with --trace off nothing of it reaches stderr.
"""
import json
import re
import socket
import time

import pytest

from conftest import (ALL_MODELS, UDP_MODELS, connect, serve_params, sockit)

LOCAL = "127.0.0.1"
MESSAGE = b"hello\n"

# The models whose echo moves bytes with splice() (test_splice.py).
SPLICE_MODELS = ("nonblock", "sigio", "select", "poll", "epoll")

# The call each model's own machinery shows besides the socket calls.
MACHINERY = {
    "select": "select",
    "poll": "poll",
    "epoll": "epoll_wait",
    "sigio": "sigtimedwait",
    "nonblock": "nonblock scan",
    "uring": "io_uring_submit_and_wait_timeout",
    "fork": "fork",
}

TEXT_LINE = re.compile(
    r"^trace +\d+\.\d{3} (\[\d+\] )?(#\d+|-) +(\[[^\]]+\] )?[a-zA-Z_ ]+\(.*\)( = (-1 [A-Z_0-9]+|\d+))?")


def json_events(srv):
    """The server's trace events so far (every JSON line must parse)."""
    events = []
    for line in srv.log().splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


def known_exchange(port):
    """connect, send a line, read its echo, half-close, read EOF, close;
    the client's own port."""
    s = connect(LOCAL, port)
    own_port = s.getsockname()[1]
    s.sendall(MESSAGE)
    got = b""
    while len(got) < len(MESSAGE):
        piece = s.recv(100)
        assert piece, "the server closed before echoing"
        got += piece
    assert got == MESSAGE
    s.shutdown(socket.SHUT_WR)
    assert s.recv(100) == b"", "the server must close after our FIN"
    s.close()
    return own_port


def wait_for_event(srv, match, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ev in json_events(srv):
            if match(ev):
                return ev
        time.sleep(0.05)
    raise AssertionError("no trace event as expected in:\n%s" % srv.log())


def in_order(events, wanted):
    """The first event of each wanted predicate, in order; fails naming the
    first that is missing."""
    found, i = [], 0
    for name, pred in wanted:
        while i < len(events) and not pred(events[i]):
            i += 1
        assert i < len(events), "no %s after %s in:\n%s" % (
            name, [e["call"] for e in found], "\n".join(json.dumps(e) for e in events))
        found.append(events[i])
        i += 1
    return found


@pytest.mark.parametrize("args", serve_params(ALL_MODELS, edge=True))
def test_known_exchange_traces_in_order(serve, args):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "--trace=json", *args)
    own_port = known_exchange(srv.port)
    accept = wait_for_event(
        srv, lambda e: e["call"] == "accept" and e.get("peer", "").endswith(":%d" % own_port))
    conn = accept["conn"]
    # The readiness models echo with splice(), io_uring sends the ring
    # buffers back with one sendmsg: the same moves, named so.
    recv, send = ("splice in", "splice out") if args[1] in SPLICE_MODELS else \
        ("recv", "sendmsg") if args[1] == "uring" else ("recv", "send")
    wanted = [
        ("accept", lambda e: e["call"] == "accept"),
        (recv + " of 6", lambda e: e["call"] == recv and e.get("result") == 6
         and e.get("data") == "hello\\n"),
        (send + " of 6", lambda e: e["call"] == send and e.get("result") == 6),
        (recv + " = 0", lambda e: e["call"] == recv and e.get("result") == 0
         and "half-closed" in e.get("meaning", "")),
        ("close", lambda e: e["call"] == "close"),
    ]
    # fork: the parent closes its copy at once; the child's close ends it.
    deadline = time.monotonic() + 10
    while True:
        mine = [e for e in json_events(srv) if e.get("conn") == conn]
        try:
            close = in_order(mine, wanted)[-1]
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert accept["result"] >= 0 and accept["peer"] == "%s:%d" % (LOCAL, own_port)
    assert accept["tcp"]["state"] == "ESTABLISHED", accept
    assert "state" in close["tcp"], close
    model = args[1]
    if model in MACHINERY:
        calls = {e["call"] for e in json_events(srv)}
        assert MACHINERY[model] in calls, (model, calls)
    if model == "uring":
        assert any(e.get("via") == "io_uring completion" for e in mine)
    if model == "fork":
        wait_for_event(srv, lambda e: e["call"] == "waitpid" and e["result"] > 0)


@pytest.mark.parametrize("args", serve_params(UDP_MODELS))
def test_udp_trace_shows_recvfrom_and_sendto(serve, args):
    srv = serve("echo", "-u", "-l", LOCAL, "-p", "0", "--trace=json", *args)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.bind((LOCAL, 0))
    s.sendto(b"ping", (LOCAL, srv.port))
    assert s.recvfrom(100)[0] == b"ping"
    peer = "%s:%d" % (LOCAL, s.getsockname()[1])
    s.close()
    wait_for_event(srv, lambda e: e["call"] == "sendto" and e.get("peer") == peer)
    events = [e for e in json_events(srv) if e.get("peer") == peer]
    in_order(events, [
        ("recvfrom", lambda e: e["call"] == "recvfrom" and e["result"] == 4
         and e.get("data") == "ping"),
        ("sendto", lambda e: e["call"] == "sendto" and e["result"] == 4),
    ])


def test_text_form_matches_the_documented_line(serve):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "epoll", "--trace")
    own_port = known_exchange(srv.port)
    m = srv.wait_for_log(r"^trace +\d+\.\d{3} (#\d+) +accept\(\d+\) = \d+, peer 127\.0\.0\.1:%d$"
                         % own_port)
    conn = m.group(1)
    srv.wait_for_log(r"^trace +\d+\.\d{3} %s +close\(\d+\) = 0$" % conn)
    srv.wait_for_log(r"^trace +\d+\.\d{3} %s +splice in\(\d+, \d+\) = 6 \"hello\\n\"$" % conn)
    srv.wait_for_log(r"^trace +\d+\.\d{3} %s +splice out\(\d+, 6\) = 6 \"hello\\n\"$" % conn)
    srv.wait_for_log(r"^trace +\d+\.\d{3} %s +splice in\(\d+, \d+\) = 0: the peer half-closed "
                     r"\(FIN received\)" % conn)
    srv.wait_for_log(r"^ +tcp ESTABLISHED +rtt [0-9.]+ ms")
    srv.wait_for_log(r"^ +tcp CLOSE_WAIT ")
    for line in srv.log().splitlines():
        if line.startswith("trace"):
            assert TEXT_LINE.match(line), line


def test_trace_off_writes_no_trace_lines(serve):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "epoll")
    known_exchange(srv.port)
    srv.wait_for_log(r"closed \(6 bytes in, 6 out\)")
    for line in srv.log().splitlines():
        assert not line.startswith("trace") and not line.startswith("{"), line


def client_events(stderr):
    events = []
    for line in stderr.decode().splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


def test_echo_client_traces_its_calls(serve):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", "thread")
    r = sockit("echo", LOCAL, srv.port, "hello", "--trace=json")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello\n"
    events = client_events(r.stderr)
    found = in_order(events, [
        ("getaddrinfo", lambda e: e["call"] == "getaddrinfo" and e["result"] >= 1),
        ("socket", lambda e: e["call"] == "socket" and e["result"] >= 0),
        ("connect", lambda e: e["call"] == "connect"),
        ("handshake done", lambda e: e.get("tcp", {}).get("state") == "ESTABLISHED"),
        ("send", lambda e: e["call"] == "send" and e["result"] == 5),
        ("recv", lambda e: e["call"] == "recv" and e["result"] == 5),
        ("shutdown", lambda e: e["call"] == "shutdown" and e["result"] == 0),
        ("recv = 0", lambda e: e["call"] == "recv" and e["result"] == 0),
        ("close", lambda e: e["call"] == "close"),
    ])
    conn = found[1]["conn"]
    assert all(e.get("conn") == conn for e in found[1:]), found
    # Our FIN is out; the server may have answered with its own already.
    assert found[6]["tcp"]["state"] in ("FIN_WAIT1", "FIN_WAIT2", "CLOSE", "TIME_WAIT"), \
        found[6]


def test_echo_client_text_trace_and_refused_errno():
    s = socket.socket()
    s.bind((LOCAL, 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    r = sockit("echo", LOCAL, port, "hello", "--trace")
    assert r.returncode == 1
    assert re.search(rb"ECONNREFUSED: nobody listens there", r.stderr), r.stderr


def test_udp_echo_client_traces_sendto_and_recvfrom(serve):
    srv = serve("echo", "-u", "-l", LOCAL, "-p", "0")
    r = sockit("echo", "-u", LOCAL, srv.port, "ping", "--trace=json")
    assert r.returncode == 0, r.stderr
    in_order(client_events(r.stderr), [
        ("sendto", lambda e: e["call"] == "sendto" and e["result"] == 4),
        ("recvfrom", lambda e: e["call"] == "recvfrom" and e["result"] == 4
         and e["peer"] == "%s:%d" % (LOCAL, srv.port)),
        ("close", lambda e: e["call"] == "close"),
    ])


def test_get_and_lookup_trace(serve, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"abc\n")
    srv = serve("file", "-l", LOCAL, "-p", "0", "--root", str(tmp_path))
    r = sockit("get", LOCAL, srv.port, "a.txt", "--trace=json", cwd=str(tmp_path / ".."),
               timeout=30)
    events = client_events(r.stderr)
    calls = [e["call"] for e in events]
    assert "connect" in calls and "send" in calls and "recv" in calls, r.stderr
    r = sockit("lookup", "localhost", "--trace=json")
    assert r.returncode == 0, r.stderr
    assert client_events(r.stderr)[0]["call"] == "getaddrinfo"


@pytest.mark.parametrize("model", ["epoll", "thread"])
def test_tcp_flag_samples_every_second(serve, model):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-m", model, "--trace=json,tcp")
    s = connect(LOCAL, srv.port)
    s.sendall(b"x")
    assert s.recv(10) == b"x"
    samples = []
    deadline = time.monotonic() + 10
    while len(samples) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        samples = [e for e in json_events(srv)
                   if e["call"] == "tcp_info" and e.get("args") == "every second"]
    s.close()
    assert len(samples) >= 2, srv.log()
    assert samples[0]["tcp"]["state"] == "ESTABLISHED"
    assert "rtt_us" in samples[0]["tcp"] and "cwnd" in samples[0]["tcp"]


def test_bad_trace_format_is_a_usage_error():
    r = sockit("serve", "echo", "-p", "0", "--trace=xml")
    assert r.returncode == 2
    assert b"--trace" in r.stderr
    r = sockit("echo", LOCAL, "7", "--trace=json,")
    assert r.returncode == 2
