# SPDX-License-Identifier: BSD-2-Clause
"""Transfers across a real (if virtual) network path: two "hosts" that are
network namespaces joined by a veth pair with a 576-byte MTU, the smallest
IPv4 must carry, so every stream is cut into ~500-byte segments and every
large datagram into IP fragments (RELIABILITY.md: Linux's own selftests
transfer random files both ways between namespaces and compare them).

The server runs in host A (10.8.0.1) with a 4 KiB send buffer, so it is
pushed back thousands of times per transfer; the client runs in host B.
SOCKIT_SOAK=1 makes the file 1 GiB (RELIABILITY.md's figure) instead of
32 MiB.  Without root, or where `ip netns add` fails, the tests skip and
say why.
"""
import hashlib
import os
import subprocess
import uuid

import pytest

from conftest import SOCKIT, Server, require_model, soak

FILE_SIZE = soak(32 << 20, 1 << 30)
A, B = "10.8.0.1", "10.8.0.2"


def ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True, check=check)


@pytest.fixture(scope="module")
def hosts():
    """Namespaces A and B on one veth link with MTU 576; always deleted."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (running as uid %d)" % os.geteuid())
    tag = uuid.uuid4().hex[:6]
    ns = ("sknp%sa" % tag, "sknp%sb" % tag)
    links = ("sknv%sa" % tag, "sknv%sb" % tag)
    created = []
    try:
        for name in ns:
            r = ip("netns", "add", name, check=False)
            if r.returncode != 0:
                pytest.skip("'ip netns add' failed: %s" % r.stderr.decode().strip())
            created.append(name)
        ip("link", "add", links[0], "netns", ns[0], "type", "veth",
           "peer", "name", links[1], "netns", ns[1])
        for name, link, addr in zip(ns, links, (A + "/24", B + "/24")):
            ip("-n", name, "addr", "add", addr, "dev", link)
            ip("-n", name, "link", "set", link, "mtu", "576")
            ip("-n", name, "link", "set", "lo", "up")
            ip("-n", name, "link", "set", link, "up")
        yield ns
    finally:
        for name in created:
            ip("netns", "del", name, check=False)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("path") / "random.bin"
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = FILE_SIZE
        while left:
            block = os.urandom(min(left, 1 << 20))
            f.write(block)
            h.update(block)
            left -= len(block)
    return path, h.hexdigest()


def in_ns(ns, *args, timeout=600):
    return subprocess.run(["ip", "netns", "exec", ns, SOCKIT] + [str(a) for a in args],
                          capture_output=True, timeout=timeout)


def serve_in(ns, *args):
    return Server(list(args), command=["ip", "netns", "exec", ns, SOCKIT], ready_timeout=10)


@pytest.mark.parametrize("model", ["thread", "epoll", "uring"])
def test_file_crosses_a_576_byte_mtu_with_a_4k_send_buffer(hosts, big_file, tmp_path, model):
    require_model(model)
    a, b = hosts
    path, digest = big_file
    srv = serve_in(a, "file", str(path), "-l", A, "-p", "0", "-m", model,
                   "--sockopt", "sndbuf=4096")
    try:
        out = tmp_path / "got.bin"
        r = in_ns(b, "get", A, srv.port, "x", "-o", out)
        assert r.returncode == 0, r.stderr
        h = hashlib.sha256()
        with open(out, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        assert h.hexdigest() == digest
        srv.wait_for_log(r'closing message: "Thank you"')
    finally:
        assert srv.stop() == 0, srv.log()


@pytest.mark.parametrize("model", ["epoll", "uring"])
def test_echo_load_across_the_link_loses_nothing(hosts, model):
    """50 connections x 4 KiB x depth 4 through 576-byte segments: every
    byte checked by sockit bench, no error."""
    require_model(model)
    a, b = hosts
    srv = serve_in(a, "echo", "-l", A, "-p", "0", "-q", "-m", model)
    try:
        r = in_ns(b, "bench", A, srv.port, "-c", 50, "-s", 4096, "-d", 4, "-D", 2, "--json",
                  timeout=60)
        assert r.returncode == 0, (r.stdout[-500:], r.stderr)
        final = [l for l in r.stdout.decode().splitlines() if '"type":"final"' in l]
        assert final and '"errors":0' in final[0].replace(" ", ""), final
    finally:
        assert srv.stop() == 0, srv.log()


def test_udp_datagrams_larger_than_the_mtu_come_back_whole(hosts):
    """1400-byte datagrams are three IP fragments each on this link; the
    batched UDP path must reassemble nothing wrong (bench checks bytes)."""
    a, b = hosts
    srv = serve_in(a, "echo", "-u", "-l", A, "-p", "0", "-q", "-m", "epoll")
    try:
        r = in_ns(b, "bench", A, srv.port, "-u", "-c", 4, "-s", 1400, "-d", 1, "-n", 2000,
                  "--json", timeout=60)
        assert r.returncode == 0, (r.stdout[-500:], r.stderr)
    finally:
        assert srv.stop() == 0, srv.log()
