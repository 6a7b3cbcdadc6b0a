# SPDX-License-Identifier: BSD-2-Clause
"""`sockit mcast send|recv`: the news sender and receiver, over multicast and
broadcast, between two "hosts" that are network namespaces joined by a veth
pair (10.9.0.1/24 and 10.9.0.2/24).

Multicast and broadcast never run outside namespaces this file creates and
deletes: joining a group on the real host would send IGMP reports out of its
interfaces.  Without root, or where `ip netns add` fails, those tests skip
and say why.  Usage errors need no network and always run.
"""
import os
import select
import subprocess
import time
import uuid

import pytest

from conftest import SOCKIT, sockit

GROUP = "239.1.2.3"
PORT = 5007


def ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True, check=check)


@pytest.fixture
def two_hosts():
    """Namespaces A (10.9.0.1) and B (10.9.0.2) on one veth link, each with
    lo up and a route for 224.0.0.0/4 on the link.  Names are unique per
    run; both namespaces (and with them the veth pair) are always deleted."""
    if os.geteuid() != 0:
        pytest.skip("multicast tests run only in network namespaces, which need "
                    "root (running as uid %d)" % os.geteuid())
    tag = uuid.uuid4().hex[:6]
    ns = ("skmc%sa" % tag, "skmc%sb" % tag)
    links = ("skv%sa" % tag, "skv%sb" % tag)   # interface names: 15 chars at most
    created = []
    try:
        for name in ns:
            r = ip("netns", "add", name, check=False)
            if r.returncode != 0:
                pytest.skip("'ip netns add' failed: %s" % r.stderr.decode().strip())
            created.append(name)
            # No duplicate address detection on this private link: IPv6
            # link-local addresses are usable at once, not after ~1 s.
            subprocess.run(["ip", "netns", "exec", name, "sysctl", "-qw",
                            "net.ipv6.conf.default.accept_dad=0"], capture_output=True)
        ip("link", "add", links[0], "netns", ns[0], "type", "veth",
           "peer", "name", links[1], "netns", ns[1])
        for name, link, addr in zip(ns, links, ("10.9.0.1/24", "10.9.0.2/24")):
            ip("-n", name, "addr", "add", addr, "dev", link)
            ip("-n", name, "link", "set", "lo", "up")
            ip("-n", name, "link", "set", link, "up")
            ip("-n", name, "route", "add", "224.0.0.0/4", "dev", link)
        yield ns
    finally:
        for name in created:
            ip("netns", "del", name, check=False)


class Receiver:
    """`sockit mcast recv` inside a namespace, started and waited for: it
    prints "receiving on ..." on stderr once it has joined."""

    def __init__(self, ns, *args):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, SOCKIT, "mcast", "recv"] + [str(a) for a in args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stderr], [], [], 5)
        line = self.proc.stderr.readline() if ready else b""
        if not line.startswith(b"receiving on "):
            self.proc.kill()
            raise AssertionError("receiver not ready: %r" % line)
        self.ready_line = line.decode().strip()

    def finish(self, timeout=10):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError("receiver did not finish: %r %r" % (out, err))
        return self.proc.returncode, out, err


def send(ns, *args, input=None):
    return subprocess.run(["ip", "netns", "exec", ns, SOCKIT, "mcast", "send"]
                          + [str(a) for a in args],
                          input=input, capture_output=True, timeout=15)


NEWS = b"first news\nsecond news\nthird news\n"


def test_multicast_news_crosses_the_link(two_hosts, tmp_path):
    a, b = two_hosts
    news = tmp_path / "news.txt"
    news.write_bytes(NEWS)
    rx = Receiver(a, GROUP, PORT, "--count", 3, "--timeout", 5)
    assert rx.ready_line == "receiving on %s port %d (multicast)" % (GROUP, PORT)
    r = send(b, GROUP, PORT, news, "--ttl", 1, "--interval", 0.01)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"sent 3 datagrams to %s port %d\n" % (GROUP.encode(), PORT)
    rc, out, err = rx.finish()
    assert (rc, out, err) == (0, NEWS, b"")


def test_two_members_on_one_host_share_the_port(two_hosts):
    """Every member of a group binds the group's port: two receivers on one
    host (and a broadcast receiver beside them) must all bind it and each
    get its own copy of every datagram."""
    a, b = two_hosts
    first = Receiver(a, GROUP, PORT, "--count", 3, "--timeout", 5)
    second = Receiver(a, GROUP, PORT, "--count", 3, "--timeout", 5)
    r = send(b, GROUP, PORT, "--ttl", 1, input=NEWS)
    assert r.returncode == 0, r.stderr
    assert first.finish() == (0, NEWS, b"")
    assert second.finish() == (0, NEWS, b"")
    both = [Receiver(a, "10.9.0.255", PORT, "--broadcast", "--count", 3, "--timeout", 5)
            for _ in range(2)]
    r = send(b, "10.9.0.255", PORT, "--broadcast", input=NEWS)
    assert r.returncode == 0, r.stderr
    assert [rx.finish() for rx in both] == [(0, NEWS, b"")] * 2


def wait_for_ipv6_link_local(ns, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = ip("-n", ns, "-6", "addr", "show", "scope", "link").stdout
        if b"inet6 fe80::" in out and b"tentative" not in out:
            return
        time.sleep(0.05)
    pytest.skip("no usable IPv6 link-local address in %s after %.0f s" % (ns, timeout))


def test_ipv6_multicast_news(two_hosts):
    a, b = two_hosts
    for name in two_hosts:
        wait_for_ipv6_link_local(name)
    group = "ff15::5007"   # site scope: routed by ff00::/8 on the link
    rx = Receiver(a, group, PORT, "--count", 3, "--timeout", 5)
    r = send(b, group, PORT, "--ttl", 1, input=NEWS)
    assert r.returncode == 0, r.stderr
    assert rx.finish() == (0, NEWS, b"")


def test_broadcast_news_and_stdin(two_hosts):
    a, b = two_hosts
    rx = Receiver(a, "10.9.0.255", PORT, "--broadcast", "--count", 3, "--timeout", 5)
    assert rx.ready_line.endswith("(broadcast)")
    r = send(b, "10.9.0.255", PORT, "--broadcast", input=NEWS)
    assert r.returncode == 0, r.stderr
    rc, out, err = rx.finish()
    assert (rc, out, err) == (0, NEWS, b"")


def test_broadcast_needs_so_broadcast_and_multicast_needs_a_member(two_hosts):
    a, b = two_hosts
    # Without --broadcast the address is refused before any socket opens.
    r = send(b, "10.9.0.255", PORT, input=b"x\n")
    assert r.returncode == 2 and b"add --broadcast" in r.stderr, r
    # A receiver that joined no group hears nothing and says so.
    t0 = time.monotonic()
    rx = Receiver(a, GROUP, PORT, "--timeout", 0.5)
    rc, out, err = rx.finish()
    assert rc == 1 and out == b""
    assert err.decode().strip() == \
        "sockit mcast: nothing arrived on %s port %d within 0.5 s" % (GROUP, PORT)
    assert time.monotonic() - t0 < 3


def test_ttl_zero_stays_on_the_sending_host(two_hosts):
    a, b = two_hosts
    rx = Receiver(a, GROUP, PORT, "--count", 1, "--timeout", 0.8)
    local = Receiver(b, GROUP, PORT, "--count", 1, "--timeout", 3)
    r = send(b, GROUP, PORT, "--ttl", 0, input=b"only here\n")
    assert r.returncode == 0, r.stderr
    assert local.finish() == (0, b"only here\n", b"")   # looped back on B
    rc, out, err = rx.finish()
    assert rc == 1 and out == b"" and b"nothing arrived" in err


def test_loop_off_keeps_own_copies_away(two_hosts):
    a, b = two_hosts
    remote = Receiver(a, GROUP, PORT, "--count", 1, "--timeout", 3)
    local = Receiver(b, GROUP, PORT, "--count", 1, "--timeout", 0.8)
    r = send(b, GROUP, PORT, "--ttl", 1, "--loop", "off", "--interface", "10.9.0.2",
             input=b"for others\n")
    assert r.returncode == 0, r.stderr
    assert remote.finish() == (0, b"for others\n", b"")
    rc, out, err = local.finish()
    assert rc == 1 and out == b""


@pytest.mark.parametrize("args,words", [
    ([], ["missing 'send' or 'recv'"]),
    (["fly"], ["unknown action 'fly'"]),
    (["send"], ["missing GROUP"]),
    (["send", GROUP], ["missing PORT"]),
    (["recv", GROUP, "5000", "extra"], ["unexpected argument 'extra'"]),
    (["send", GROUP, "5000", "f", "extra"], ["unexpected argument 'extra'"]),
    (["recv", "10.1.2.3", "5000"], ["10.1.2.3 is not a multicast group"]),
    (["send", "::1", "5000"], ["::1 is not a multicast group"]),
    (["send", "news.example", "5000"], ["not a numeric"]),
    (["send", GROUP, "0"], ["invalid port '0'"]),
    (["recv", GROUP, "70000"], ["invalid port '70000'"]),
    (["send", GROUP, "5000", "--ttl", "256"], ["--ttl"]),
    (["send", GROUP, "5000", "--loop", "maybe"], ["--loop"]),
    (["send", GROUP, "5000", "--interval", "-1"], ["--interval"]),
    (["recv", GROUP, "5000", "--ttl", "3"], ["--ttl applies to 'mcast send'"]),
    (["send", GROUP, "5000", "--count", "3"], ["--count applies to 'mcast recv'"]),
    (["recv", GROUP, "5000", "--timeout", "0"], ["--timeout"]),
    (["recv", GROUP, "5000", "--count"], ["--count"]),
    (["send", GROUP, "5000", "--broadcast"], ["multicast group; drop --broadcast"]),
    (["send", "ff02::1", "5000", "--broadcast"], ["IPv6 has no broadcast"]),
    (["send", "10.9.0.255", "5000", "--broadcast", "--ttl", "2"], ["--ttl"]),
    (["send", GROUP, "5000", "--interface", "no-such-if0"], ["--interface 'no-such-if0'"]),
    (["recv", GROUP, "5000", "--bogus"], ["--bogus"]),
])
def test_usage_errors(args, words):
    r = sockit("mcast", *args, input=b"")
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 2, r
    assert len(lines) == 1 and lines[0].endswith(" (try 'sockit mcast --help')"), lines
    assert r.stdout == b""
    for w in words:
        assert w in lines[0], (w, lines[0])
