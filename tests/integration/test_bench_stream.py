# SPDX-License-Identifier: BSD-2-Clause
"""sockit bench --stream: throughput as iperf3 measures it, one-way TCP
streams to a sink (discard) or, with -R, from a source (chargen).  The
byte counts are checked against what the other end counted, and every way
a stream can end badly (a sink that resets, one that never closes after
our FIN) is an error."""
import json
import socket
import struct
import threading

import pytest

from conftest import sockit


def usage_error(r, *words):
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 2, r
    assert len(lines) == 1 and lines[0].startswith("sockit bench: "), lines
    for w in words:
        assert w in lines[0], (w, lines[0])


def json_lines(r):
    return [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]


class Peer:
    """A listening socket on 127.0.0.1 port 0 whose `handle(conn)` runs
    on a thread for every connection; `results` collects what they return."""

    def __init__(self, handle):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handle = handle
        self.results = []
        self.threads = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        try:
            while True:
                try:
                    conn, _ = self.sock.accept()
                except OSError:
                    return
                t = threading.Thread(target=lambda c=conn: self.results.append(self.handle(c)),
                                     daemon=True)
                t.start()
                self.threads.append(t)
        finally:
            self.sock.close()

    def stop_listening(self):
        """Shut the listener down and let its thread close it: closed under
        an accept() it would stay open, and a restarted accept() would take
        a later listener's connections (test_bench.FakeTCP says more)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.acceptor.join(10)

    def close(self):
        self.stop_listening()
        for t in self.threads:
            t.join(10)


def count_to_eof(conn):
    """A sink: read to the end, then close (the receipt bench waits for)."""
    total = 0
    while True:
        data = conn.recv(1 << 18)
        if not data:
            break
        total += len(data)
    conn.close()
    return total


def test_stream_to_discard_reports_bits_and_bytes(serve):
    srv = serve("discard", "-l", "127.0.0.1", "-p", "0", "-q")
    r = sockit("bench", "127.0.0.1", srv.port, "--stream", "-D", "1.5", "-J", timeout=30)
    assert r.returncode == 0, r.stderr
    lines = json_lines(r)
    final = lines[-1]
    assert final["type"] == "final" and final["mode"] == "stream-send"
    assert final["port"] == srv.port and final["streams"] == 1
    assert final["write_size"] == 128 * 1024
    assert final["bytes"] > 0 and final["errors"] == 0
    assert final["bits_per_s"] == pytest.approx(8 * final["bytes_per_s"], rel=1e-6)
    assert final["bytes_per_s"] == pytest.approx(final["bytes"] / final["duration_s"], rel=1e-2)
    intervals = [l for l in lines if l["type"] == "interval"]
    assert intervals, lines
    assert sum(i["bytes"] for i in intervals) <= final["bytes"]
    for key in ("sockit_version", "timestamp", "cpu_s_per_gb"):
        assert key in final


def test_every_byte_counted_is_a_byte_the_sink_read():
    sink = Peer(count_to_eof)
    try:
        r = sockit("bench", "127.0.0.1", sink.port, "--stream", "-P", "3", "-s", "10000",
                   "-D", "1", "-J", timeout=30)
    finally:
        sink.close()
    assert r.returncode == 0, r.stderr
    final = json_lines(r)[-1]
    assert final["streams"] == 3 and final["write_size"] == 10000
    assert len(sink.results) == 3
    assert final["bytes"] == sum(sink.results)


def test_reverse_from_chargen_and_from_a_source_that_ends(serve):
    srv = serve("chargen", "-l", "127.0.0.1", "-p", "0", "-q")
    r = sockit("bench", "127.0.0.1", srv.port, "-R", "-P", "2", "-D", "1", timeout=30)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "tcp stream from the server, 2 streams" in out, out
    assert "errors      0" in out and "bit/s" in out, out

    # A file has an end: a source that sends exactly 3 MB and closes ends
    # its stream early, without error, and exactly those bytes count.
    def send_3mb(conn):
        conn.sendall(b"x" * 3_000_000)
        conn.close()
    source = Peer(send_3mb)
    try:
        r = sockit("bench", "127.0.0.1", source.port, "-R", "-D", "5", "-J", timeout=30)
    finally:
        source.close()
    assert r.returncode == 0, r.stderr
    final = json_lines(r)[-1]
    assert final["mode"] == "stream-recv" and final["bytes"] == 3_000_000


def test_a_sink_that_never_closes_after_our_fin_is_an_error():
    def read_but_never_close(conn):
        while conn.recv(1 << 18):
            pass
        threading.Event().wait(5)  # holds the connection open past bench's wait
        conn.close()
    sink = Peer(read_but_never_close)
    try:
        r = sockit("bench", "127.0.0.1", sink.port, "--stream", "-D", "0.5", "-t", "0.5",
                   timeout=30)
    finally:
        sink.stop_listening()
    assert r.returncode == 1, r
    assert "never closed after our FIN 1" in r.stdout.decode(), r.stdout
    assert "1 error" in r.stderr.decode()


def test_a_sink_that_resets_is_an_error():
    def reset_after_some(conn):
        conn.recv(100000)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    sink = Peer(reset_after_some)
    try:
        r = sockit("bench", "127.0.0.1", sink.port, "--stream", "-D", "2", "-J", timeout=30)
    finally:
        sink.close()
    assert r.returncode == 1, r
    final = json_lines(r)[-1]
    assert final["resets"] == 1 and final["errors"] == 1


@pytest.mark.parametrize("args,words", [
    (["--stream", "-u"], ["--stream", "no -u"]),
    (["--stream", "-n", "5"], ["--count"]),
    (["--stream", "-d", "2"], ["--depth"]),
    (["-R", "-s", "1K"], ["-R", "--size"]),
    (["--stream", "--connect-rate"], ["--connect-rate"]),
])
def test_stream_usage_errors(args, words):
    usage_error(sockit("bench", "127.0.0.1", "9", *args), *words)
