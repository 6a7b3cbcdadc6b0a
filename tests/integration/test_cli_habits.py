# SPDX-License-Identifier: BSD-2-Clause
"""The habits users' hands already have, in every subcommand.

-4/-6 force the address family (clients and serve), -t and -w are the
timeout everywhere (bench's run length is -D), -v says which address a
client talks to, -q keeps quiet, -k keeps serving, -V/--version prints the
version, -J is --json, sizes take K/M/G and times s/ms everywhere, --log -
is standard error.  Mistakes a hand makes get messages that say what to
type: "serve -l -p 0", a port below 1024 without root.  And `sockit get`
shows its progress on a terminal, and only there unless asked.
"""
import json
import os
import pty
import re
import select
import socket
import subprocess
import time

import pytest

from conftest import SOCKIT, ipv6_available, sockit

LOOP = "127.0.0.1"
SUBCOMMANDS = ["serve", "echo", "get", "chat", "lookup", "addr", "sockopt", "mcast", "bench",
               "compare", "connect", "listen", "time"]


def usage_error(r, *words):
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 2, r
    assert len(lines) == 1 and lines[0].endswith("--help')"), lines
    for w in words:
        assert w in lines[0], (w, lines[0])


def one_line_failure(r, *words):
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1, r
    assert len(lines) == 1, lines
    for w in words:
        assert w in lines[0], (w, lines[0])


# ---- -V, --version ---------------------------------------------------------------

@pytest.mark.parametrize("sub", SUBCOMMANDS)
@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_on_every_subcommand(sub, flag):
    want = sockit("--version").stdout
    assert re.match(rb"^sockit \d+\.\d+\.\d+\n$", want), want
    r = sockit(sub, flag)
    assert r.returncode == 0 and r.stdout == want and r.stderr == b"", r


@pytest.mark.parametrize("sub", [s for s in SUBCOMMANDS if s != "chat"])
def test_help_mentions_version(sub):
    """chat's help text is cmd_chat.c's, which this change leaves alone."""
    r = sockit(sub, "--help")
    assert r.returncode == 0 and b"-V, --version" in r.stdout, r.stdout


def test_version_among_other_options():
    r = sockit("echo", LOOP, "7", "word", "-u", "-V")
    assert r.returncode == 0 and r.stdout.startswith(b"sockit "), r


# ---- -4 and -6 ---------------------------------------------------------------------

def test_serve_4_binds_ipv4_only(serve):
    srv = serve("echo", "-4", "-p", "0", "--max-clients", "100")
    assert srv.host == "0.0.0.0"
    assert sockit("echo", LOOP, srv.port, "hi").stdout == b"hi\n"


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 on this machine")
def test_serve_6_binds_ipv6_only(serve):
    srv = serve("echo", "-6", "-p", "0")
    assert srv.host == "::"
    assert sockit("echo", "::1", srv.port, "hi").stdout == b"hi\n"
    # Without -6 the wildcard takes IPv4 too (dual stack); with it, not.
    one_line_failure(sockit("echo", LOOP, srv.port, "hi"), "refused")


@pytest.mark.parametrize("argv", [
    ["echo", LOOP, "7", "x"], ["echo", "-u", LOOP, "7", "x"], ["get", LOOP, "7", "name"],
    ["bench", LOOP, "7", "-n", "1"], ["serve", "echo", "-l", LOOP, "-p", "0"],
], ids=["echo", "echo-udp", "get", "bench", "serve"])
def test_6_refuses_an_ipv4_address(argv):
    r = sockit(*(argv[:1] + ["-6"] + argv[1:]))
    one_line_failure(r, "requested family")


@pytest.mark.parametrize("sub", [["echo", LOOP, "7", "x"], ["get", LOOP, "7", "n"],
                                 ["bench", LOOP, "7"], ["serve", "echo"], ["sockopt"]])
def test_4_and_6_together_is_a_usage_error(sub):
    usage_error(sockit(*(sub + ["-4", "-6"])), "-4 and -6")


def test_4_picks_the_ipv4_address_of_a_name(serve):
    srv = serve("echo", "-4", "-l", LOOP, "-p", "0", "--max-clients", "100")
    r = sockit("echo", "-4", "-v", "localhost", srv.port, "hi")
    assert r.returncode == 0 and r.stdout == b"hi\n", r
    assert r.stderr.decode() == "sockit echo: connected to 127.0.0.1 port %d\n" % srv.port


# ---- -t and -w: the timeout ---------------------------------------------------------

@pytest.fixture
def silent():
    """A TCP server that accepts and never answers."""
    s = socket.socket()
    s.bind((LOOP, 0))
    s.listen(8)
    yield s.getsockname()[1]
    s.close()


@pytest.mark.parametrize("flag", ["-t", "-w", "--timeout"])
def test_echo_timeout_flags_agree(silent, flag):
    r = sockit("echo", LOOP, silent, "x", flag, "300ms")
    one_line_failure(r, "within 0.3 s")


@pytest.mark.parametrize("flag", ["-t", "-w"])
def test_get_timeout_flags(silent, flag):
    r = sockit("get", LOOP, silent, "name", "-o", "-", flag, "0.3s")
    one_line_failure(r, "no reply from 127.0.0.1")


def test_bench_t_is_the_timeout_and_D_the_duration(serve):
    srv = serve("discard", "-l", LOOP, "-p", "0", "-m", "epoll")
    t0 = time.monotonic()
    r = sockit("bench", LOOP, srv.port, "-n", "3", "-t", "200ms", "-J")
    final = json.loads(r.stdout.decode().splitlines()[-1])
    assert r.returncode == 1 and final["timeouts"] > 0 and final["msgs"] == 0, r
    assert time.monotonic() - t0 < 10
    echo = serve("echo", "-l", LOOP, "-p", "0", "-m", "epoll")
    r = sockit("bench", LOOP, echo.port, "-D", "500ms", "-J")
    final = json.loads(r.stdout.decode().splitlines()[-1])
    assert r.returncode == 0 and 0.4 < final["duration_s"] < 5, final


def test_serve_t_is_the_idle_timeout(serve):
    srv = serve("echo", "-l", LOOP, "-p", "0", "-m", "epoll", "-t", "300ms")
    with socket.create_connection((LOOP, srv.port), timeout=10) as s:
        assert s.recv(1) == b""  # closed for idling
    srv.wait_for_log(r"idle for 300 ms")


@pytest.mark.parametrize("argv", [
    ["echo", LOOP, "7", "x", "-t"], ["get", LOOP, "7", "n", "-t"], ["bench", LOOP, "7", "-t"],
    ["bench", LOOP, "7", "-D"], ["serve", "echo", "-t"], ["mcast", "recv", "239.1.2.3", "5000", "-t"],
])
@pytest.mark.parametrize("bad", ["5x", "2 s", "1e3", "-1", "ms", "2sec"])
def test_durations_are_checked(argv, bad):
    usage_error(sockit(*(argv + [bad])), "'%s'" % bad, "500ms")


# ---- sizes with K, M, G ---------------------------------------------------------------

def test_sizes_take_k_m_g(serve):
    srv = serve("echo", "-l", LOOP, "-p", "0", "--buffer", "64K", "-m", "epoll")
    r = sockit("bench", LOOP, srv.port, "-s", "8K", "-n", "20", "-J")
    final = json.loads(r.stdout.decode().splitlines()[-1])
    assert r.returncode == 0 and final["size"] == 8192 and final["bytes"] == 20 * 8192, r
    r = sockit("bench", LOOP, srv.port, "-s", "1k", "-n", "5", "-J")
    assert json.loads(r.stdout.decode().splitlines()[-1])["size"] == 1024


@pytest.mark.parametrize("argv", [["serve", "echo", "-p", "0", "--buffer"],
                                  ["bench", LOOP, "7", "-s"]])
@pytest.mark.parametrize("bad", ["64KB", "1.5K", "K", "8T", "-8K", "99999999999999999999K", "64G"])
def test_sizes_are_checked(argv, bad):
    usage_error(sockit(*(argv + [bad])), "'%s'" % bad, "K, M and G")


def test_sockopt_sizes_read_the_same_way():
    r = sockit("sockopt", "rcvbuf=64K")
    assert r.returncode == 0, r
    usage = sockit("sockopt", "rcvbuf=64KB")
    assert usage.returncode == 2, usage


# ---- -J, -q, -v, -k ------------------------------------------------------------------

def test_J_is_json(serve):
    srv = serve("echo", "-l", LOOP, "-p", "0", "-m", "epoll")
    r = sockit("bench", LOOP, srv.port, "-n", "10", "-J")
    assert r.returncode == 0 and json.loads(r.stdout)["type"] == "final", r


def test_keep_open_is_the_default_and_contradicts_max_clients(serve):
    srv = serve("echo", "-l", LOOP, "-p", "0", "-k")
    for _ in range(2):
        assert sockit("echo", LOOP, srv.port, "hi").stdout == b"hi\n"
    usage_error(sockit("serve", "echo", "-p", "0", "-k", "--max-clients", "1"), "-k",
                "--max-clients")


# ---- what a hand gets wrong ---------------------------------------------------------------

def test_listen_without_an_address_says_what_to_type():
    r = sockit("serve", "echo", "-l", "-p", "0")
    usage_error(r, "-l needs an address (got '-p')", "leave -l out", "-l 0.0.0.0")


def test_low_port_without_root_says_what_works(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to start the server as another user (nobody)")
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        if int(f.read()) <= 1000:
            pytest.skip("this kernel lets any user bind port 1000")

    def become_nobody():
        os.setgid(65534)
        os.setuid(65534)

    r = subprocess.run([SOCKIT, "serve", "echo", "-l", LOOP, "-p", "1000"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                       preexec_fn=become_nobody)
    one_line_failure(r, "port 1000", "ermission denied", "use -p 0", "above 1023")


# ---- --log - --------------------------------------------------------------------------

def test_log_dash_is_standard_error(serve):
    srv = serve("echo", "-l", LOOP, "-p", "0", "--log", "-")
    assert sockit("echo", LOOP, srv.port, "logged-line-xyz").returncode == 0
    srv.wait_for_log(r"logged-line-xyz")


# ---- sockit get: progress on a terminal -----------------------------------------------

@pytest.fixture
def file_server(serve, tmp_path):
    data = os.urandom(3 << 20)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    srv = serve("file", str(path), "-l", LOOP, "-p", "0", "-m", "epoll")
    return srv, data


def run_with_pty_stderr(argv):
    """Run with stderr on a pseudo-terminal; return (rc, stdout, what the
    terminal showed)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([SOCKIT] + [str(a) for a in argv], stdout=subprocess.PIPE,
                         stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            p.kill()
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        shown += chunk
    out = p.stdout.read()
    p.wait(30)
    os.close(master)
    return p.returncode, out, shown


def test_get_shows_progress_on_a_terminal(file_server, tmp_path):
    srv, data = file_server
    out = tmp_path / "got.bin"
    rc, _, shown = run_with_pty_stderr(["get", LOOP, srv.port, "big.bin", "-o", out])
    assert rc == 0 and out.read_bytes() == data
    text = shown.decode()
    assert "\r" in text and "3.0 MiB of 3.0 MiB (100%)" in text, text
    assert re.search(r"MiB/s|KiB/s|B/s", text) and " left" in text, text
    # The progress line is taken away before the summary.
    assert text.rstrip().endswith("MB/s)") and "\r\x1b[K" in text, text
    rc, _, shown = run_with_pty_stderr(["get", LOOP, srv.port, "big.bin", "-o", out,
                                        "--no-progress"])
    assert rc == 0 and b"\r" not in shown.replace(b"\r\n", b"\n"), shown


def test_get_shows_no_progress_elsewhere_unless_asked(file_server, tmp_path):
    srv, data = file_server
    out = tmp_path / "got.bin"
    r = sockit("get", LOOP, srv.port, "big.bin", "-o", out)
    assert r.returncode == 0 and b"\r" not in r.stderr and len(r.stderr.splitlines()) == 1, r
    r = sockit("get", LOOP, srv.port, "big.bin", "-o", out, "--progress")
    assert r.returncode == 0 and b"\r" in r.stderr and b"(100%)" in r.stderr, r
    r = sockit("get", LOOP, srv.port, "big.bin", "-o", out, "-q")
    assert r.returncode == 0 and r.stderr == b"" and out.read_bytes() == data, r
    usage_error(sockit("get", LOOP, srv.port, "big.bin", "-q", "--progress"), "--progress")


def test_get_v_names_the_address(file_server, tmp_path):
    srv, _ = file_server
    r = sockit("get", "-v", LOOP, srv.port, "big.bin", "-o", tmp_path / "x")
    assert r.returncode == 0
    assert r.stderr.decode().splitlines()[0] == "sockit get: connected to 127.0.0.1 port %d" % srv.port


def test_bench_q_keeps_the_terminal_quiet(serve):
    srv = serve("echo", "-l", LOOP, "-p", "0", "-m", "epoll")
    rc, out, shown = run_with_pty_stderr(["bench", LOOP, srv.port, "-D", "1.3"])
    assert rc == 0 and b"msg/s" in shown, shown
    rc, out, shown = run_with_pty_stderr(["bench", LOOP, srv.port, "-D", "1.3", "-q"])
    assert rc == 0 and shown == b"" and b"messages" in out, shown
