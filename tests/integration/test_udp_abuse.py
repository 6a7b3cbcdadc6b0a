# SPDX-License-Identifier: BSD-2-Clause
"""UDP services under attack: loops between any two services, reply
amplification, and the fast clients neither defence may hurt.

A loop needs one server's reply to reach another server.  On loopback the
attacker does what it does on a network: it forges the source of one
datagram (a raw socket with IP_HDRINCL; we are root), so that server A
answers server B, B answers A, and so on.  Each server's stop line
("stopped: N datagrams, M dropped") then says how many datagrams it
handled: without the reply guard a loop between, say, daytime and chargen
runs tens of thousands of round trips a second; with it the exchange dies
after a few.

Amplification: 1,000 empty datagrams to daytime or time from one source
may get at most the guard's burst plus its rate over the time they took,
and the limiting is logged once.
"""
import itertools
import json
import socket
import struct
import time

import pytest

from conftest import UDP_MODEL_PARAMS, Server, sockit, soak

LOOP = "127.0.0.1"
LOOP_SERVICES = ["echo", "chargen", "daytime", "time"]
# Every pair of services that answer (in any order: A gets the forged
# datagram), each with itself, and discard as a sink on either side.
PAIRS = list(itertools.combinations_with_replacement(LOOP_SERVICES, 2)) + \
    [(s, "discard") for s in LOOP_SERVICES] + [("discard", "echo")]

# sk_datagram.c's reply guard.
LOOP_BURST = 8          # answers to our replies, per source, before limiting
AMPLIFY_BURST = 5       # replies longer than the request, per source
AMPLIFY_PER_SECOND = 5

AMPLIFY_LOG = "replies longer than the request are limited"
LOOP_LOG = "it keeps answering our replies"


def raw_socket_or_skip():
    try:
        return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    except OSError as e:
        pytest.skip("forging a source address needs a raw socket (root): %s" % e)


def forge(raw, src_port, dst_port, payload):
    """One UDP datagram from 127.0.0.1:src_port, whoever sends it: the
    kernel fills in the IP checksum and length; a UDP checksum of 0 means
    "none" over IPv4."""
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64,
                     socket.IPPROTO_UDP, 0, socket.inet_aton(LOOP), socket.inet_aton(LOOP))
    raw.sendto(ip + udp, (LOOP, 0))


def stopped_counts(srv):
    """(datagrams, dropped) from the stop line, once the server has stopped."""
    assert srv.stop() == 0, srv.log()
    m = srv.wait_for_log(r"stopped: (\d+) datagrams, (\d+) dropped")
    return int(m.group(1)), int(m.group(2))


def forged_payloads(count):
    """Different lengths and bytes, so that count loops run side by side
    with nothing in common (chargen answers a length, echo the bytes)."""
    return [("loop %d " % i).encode() * (i + 1) for i in range(count)]


def run_pairs(model, forged, seconds):
    """Start every pair, forge `forged` datagrams from B to A for each,
    wait, stop; {(a, b): ((na, dropped_a), (nb, dropped_b), logs)}."""
    raw = raw_socket_or_skip()
    servers = []
    try:
        for a, b in PAIRS:
            sa = Server([a, "-u", "-l", LOOP, "-p", "0", "-m", model])
            servers.append(sa)
            sb = Server([b, "-u", "-l", LOOP, "-p", "0", "-m", model])
            servers.append(sb)
        for i in range(len(PAIRS)):
            sa, sb = servers[2 * i], servers[2 * i + 1]
            for payload in forged_payloads(forged):
                forge(raw, sb.port, sa.port, payload)
        time.sleep(seconds)
        out = {}
        for i, pair in enumerate(PAIRS):
            sa, sb = servers[2 * i], servers[2 * i + 1]
            out[pair] = (stopped_counts(sa), stopped_counts(sb), sa.log() + "\n" + sb.log())
        return out
    finally:
        raw.close()
        for s in servers:
            s.kill()


def check_pairs(results, forged, bound):
    failures = []
    for (a, b), ((na, _), (nb, _), log) in results.items():
        # The forgery worked: A got every datagram, and B got A's replies
        # (unless A is the sink).  Without this the test could pass by
        # never starting a loop.  (Both counts are exact since no two
        # servers can share a UDP port: test_serve_cli checks that.)
        if na < forged or (a != "discard" and nb < 1):
            failures.append("%s -> %s: the forged datagrams did not start an exchange "
                            "(%d, %d)" % (a, b, na, nb))
        if na >= bound or nb >= bound:
            failures.append("%s <-> %s: still exchanging: %d and %d datagrams (limit %d)"
                            % (a, b, na, nb, bound))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("model", UDP_MODEL_PARAMS)
def test_one_forged_datagram_between_any_two_services_dies_out(model):
    results = run_pairs(model, 1, soak(1.5, 10))
    check_pairs(results, 1, 50)


@pytest.mark.parametrize("model", UDP_MODEL_PARAMS)
def test_twenty_forged_datagrams_die_out(model):
    # Twenty loops at once between each pair, their datagrams interleaved:
    # recognising only our last reply would miss all of them.  Each server
    # handles the twenty, their answers, and about LOOP_BURST answers per
    # side before every loop has lost its datagram.
    results = run_pairs(model, 20, soak(1.5, 10))
    check_pairs(results, 20, 20 + 20 + 4 * LOOP_BURST + 10)


# ---- amplification -----------------------------------------------------

def flood_and_count(port, count):
    """count empty datagrams from one socket, as fast as it sends; returns
    (replies, seconds from the first send to the last moment a reply could
    have been sent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    replies = 0
    start = time.monotonic()
    try:
        for _ in range(count):
            s.sendto(b"", (LOOP, port))
        s.settimeout(0.5)
        while True:
            try:
                data, src = s.recvfrom(1000)
            except socket.timeout:
                break
            assert src == (LOOP, port)
            replies += 1
    finally:
        s.close()
    return replies, time.monotonic() - start


def answered(port, payload=b""):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(payload, (LOOP, port))
        try:
            return s.recvfrom(1000)[0]
        except socket.timeout:
            return None


@pytest.mark.parametrize("model", UDP_MODEL_PARAMS)
@pytest.mark.parametrize("service", ["daytime", "time"])
def test_amplifying_replies_are_rate_limited_per_source(serve, service, model):
    srv = serve(service, "-u", "-l", LOOP, "-p", "0", "-m", model)
    replies, elapsed = flood_and_count(srv.port, 1000)
    allowed = AMPLIFY_BURST + AMPLIFY_PER_SECOND * elapsed
    assert 1 <= replies <= allowed, "%d replies to 1,000 empty datagrams in %.2f s" % (
        replies, elapsed)
    # Another source has its own allowance.
    reply = answered(srv.port)
    assert reply is not None, "a second source got no answer"
    assert len(reply) == 4 if service == "time" else reply.endswith(b"-UTC\r\n"), reply
    n, dropped = stopped_counts(srv)
    assert n - dropped == replies + 1, (n, dropped, replies)
    log = srv.log()
    assert log.count(AMPLIFY_LOG) == 1, log   # once, not once per datagram


# ---- legitimate clients ------------------------------------------------

@pytest.mark.parametrize("model", UDP_MODEL_PARAMS)
def test_fast_echo_client_is_unaffected(serve, model):
    srv = serve("echo", "-u", "-l", LOOP, "-p", "0", "-m", model)
    r = sockit("bench", LOOP, srv.port, "-u", "-D", 1, "-d", 16, "-c", 2, "-T", 2, "--json")
    assert r.returncode == 0, r
    final = json.loads(r.stdout.decode().splitlines()[-1])
    assert final["errors"] == 0 and final["msgs"] > 1000, final
    for i in range(20):
        r = sockit("echo", "-u", LOOP, srv.port, "again")
        assert (r.returncode, r.stdout) == (0, b"again\n"), (i, r.stderr)
    # One socket sending the same request a few times is still answered.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        for _ in range(LOOP_BURST):
            s.sendto(b"same", (LOOP, srv.port))
            assert s.recvfrom(100)[0] == b"same"
    n, dropped = stopped_counts(srv)
    assert dropped == 0, srv.log()
