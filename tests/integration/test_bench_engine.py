# SPDX-License-Identifier: BSD-2-Clause
"""`sockit bench --engine`: which engine runs, what each refuses, and what
the uring engine says where io_uring cannot be had.

The measuring itself, and the lying servers each engine must catch, are
test_bench.py's (its TCP echo tests run once per engine).  Here: the
choice (auto takes uring where it runs, poll for UDP, --stream and
--connect-rate), the refusals (a mode the uring engine lacks is a usage
error; an io_uring this process may not use is a failure that says so),
and two servers that make the uring engine's receive and send paths
work: one that echoes a byte at a time, one that reads slowly.

io_uring is taken away from one run with a seccomp filter (installed in
the child before exec) that fails io_uring_setup() with EPERM, as a
container's policy would.
"""
import ctypes
import json
import os
import platform
import socket
import struct
import threading
import time

import pytest

from conftest import SOCKIT, URING_WHY, engine_params, sockit
from test_bench import LOOP, FakeTCP, bench, check_final, fake, ok_run, usage_error  # noqa: F401

ENGINES = engine_params()
URING_RUNS = URING_WHY is None

# io_uring_setup's number: the same on every architecture that has the
# unified syscall table (x86_64, i386, arm64, riscv, ...).
NR_IO_URING_SETUP = 425


def _forbid_io_uring():
    """preexec_fn: io_uring_setup() fails with EPERM in this process and
    what it executes (a seccomp filter; needs no privilege after
    PR_SET_NO_NEW_PRIVS)."""
    libc = ctypes.CDLL(None, use_errno=True)
    BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
    SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, EPERM = 0x7fff0000, 0x00050000, 1
    prog = [(BPF_LD_W_ABS, 0, 0, 0),                      # A = seccomp_data.nr
            (BPF_JEQ_K, 0, 1, NR_IO_URING_SETUP),          # io_uring_setup?
            (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),  # yes: EPERM
            (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)]          # no: allowed
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *f) for f in prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    fprog = SockFprog(len(prog), ctypes.addressof(code))
    PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        os._exit(77)


def without_io_uring(*args):
    import subprocess
    return subprocess.run([SOCKIT] + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=30, preexec_fn=_forbid_io_uring)


def seccomp_works():
    if platform.system() != "Linux" or platform.machine() not in (
            "x86_64", "aarch64", "i686", "riscv64", "ppc64le", "s390x"):
        return "io_uring_setup's number is not known here"
    r = without_io_uring("--version")
    if r.returncode == 77:
        return "cannot install a seccomp filter here"
    return None


# ---- which engine runs -----------------------------------------------------

def test_auto_takes_uring_where_it_runs_and_poll_where_the_mode_needs_it(serve):
    srv = serve("echo", "-l", LOOP, "-p", "0", "-m", "epoll")
    r, objs, final = bench(LOOP, srv.port, "-n", 500)
    ok_run(final, r, 500, 64)
    assert final["engine"] == ("uring" if URING_RUNS else "poll"), (final["engine"], URING_WHY)
    r, objs, final = bench(LOOP, srv.port, "-n", 500, "--engine", "auto")
    assert final["engine"] == ("uring" if URING_RUNS else "poll")
    r, objs, final = bench(LOOP, srv.port, "-n", 50, "--connect-rate")
    ok_run(final, r, 50, 64)
    assert final["engine"] == "poll"
    udp = serve("echo", "-u", "-l", LOOP, "-p", "0")
    r, objs, final = bench(LOOP, udp.port, "-u", "-n", 500)
    ok_run(final, r, 500, 64)
    assert final["engine"] == "poll"


@pytest.mark.parametrize("mode", [["-u"], ["--connect-rate"], ["--stream"], ["--stream", "-R"]],
                         ids=["udp", "connect", "stream", "reverse"])
def test_uring_engine_refuses_what_only_poll_does(mode):
    usage_error(sockit("bench", LOOP, 7, "--engine", "uring", *mode),
                "--engine uring", "TCP echo only", "poll")


@pytest.mark.parametrize("value", ["epoll", "", "URING", "io_uring"])
def test_engine_must_be_one_of_three(value):
    usage_error(sockit("bench", LOOP, 7, "--engine", value), "--engine", "uring, poll or auto")


def test_help_names_the_engines():
    out = " ".join(sockit("bench", "--help").stdout.decode().split())
    assert "--engine E" in out
    for words in ["uring (io_uring", "poll (epoll", "auto (default: uring where it runs, else poll)",
                  "UDP, --stream and --connect-rate always use poll"]:
        assert words in out, words


# ---- where io_uring cannot be had ------------------------------------------

def refused_for_want_of_io_uring(r):
    """Exit 1, nothing on stdout, one line: the option, why, and the way out."""
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1 and r.stdout == b"", r
    assert len(lines) == 1, lines
    assert lines[0].startswith("sockit bench: --engine uring: "), lines
    assert "io_uring" in lines[0][len("sockit bench: --engine uring: "):], lines
    assert lines[0].endswith("; --engine poll runs without it"), lines
    return lines[0]


def test_uring_engine_says_when_io_uring_is_unavailable(serve):
    srv = serve("echo", "-l", LOOP, "-p", "0", "-m", "epoll")
    if not URING_RUNS:
        # This build or this kernel has none: said as such, whatever the reason.
        refused_for_want_of_io_uring(sockit("bench", LOOP, srv.port, "-n", 100, "--engine",
                                            "uring", "--json"))
        return
    why = seccomp_works()
    if why:
        pytest.skip(why)
    line = refused_for_want_of_io_uring(
        without_io_uring("bench", LOOP, srv.port, "-n", 100, "--engine", "uring", "--json"))
    assert "not permitted" in line, line
    # Left to choose, it runs on poll instead, and says so.
    r = without_io_uring("bench", LOOP, srv.port, "-n", 100, "--json")
    assert r.returncode == 0 and r.stderr == b"", r
    final = json.loads(r.stdout.decode().splitlines()[-1])
    check_final(final)
    assert final["engine"] == "poll" and final["msgs"] == 100 and final["errors"] == 0


# ---- servers that make the engines work for it -------------------------------

def byte_at_a_time(c):
    """Echo every byte in a segment of its own: a reply comes back in as
    many pieces as it has bytes."""
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        data = c.recv(4096)
        if not data:
            return
        for i in range(len(data)):
            c.sendall(data[i:i + 1])


def slow_reader(c):
    """Read 64 KiB at a time with a pause between: a big window of big
    messages fills both socket buffers, and the client's sends must wait."""
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    while True:
        data = c.recv(65536)
        if not data:
            return
        c.sendall(data)
        time.sleep(0.002)


@pytest.mark.parametrize("engine", ENGINES)
def test_replies_in_one_byte_pieces(fake, engine):
    f = fake(FakeTCP, byte_at_a_time)
    r, objs, final = bench(LOOP, f.port, "-n", 300, "-s", 10, "-d", 3, "-c", 2,
                           "--engine", engine)
    ok_run(final, r, 300, 10)
    assert final["engine"] == engine


@pytest.mark.parametrize("engine", ENGINES)
def test_a_slow_reader_gets_every_byte_in_order(fake, engine):
    f = fake(FakeTCP, slow_reader)
    r, objs, final = bench(LOOP, f.port, "-n", 96, "-s", "256K", "-d", 8, "-c", 3,
                           "--engine", engine, timeout=60)
    ok_run(final, r, 96, 256 * 1024)


@pytest.mark.parametrize("engine", ENGINES)
def test_many_connections_on_one_ring(serve, engine):
    """More connections than the ring's submission queue has room for in
    one turn (each needs a send and a receive)."""
    srv = serve("echo", "-l", LOOP, "-p", "0", "-m", "epoll")
    r, objs, final = bench(LOOP, srv.port, "-n", 20000, "-c", 600, "-d", 2, "--engine", engine)
    ok_run(final, r, 20000, 64)
