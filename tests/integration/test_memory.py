# SPDX-License-Identifier: BSD-2-Clause
"""Bounded memory (RELIABILITY.md, "Backpressure"): a peer that writes
without ever reading costs the server at most its two connection buffers,
the server stops reading it, and everyone else is still served promptly.
Checked once over every event model, epoll --edge and epoll on two loops.

Under a sanitizer (build-asan/ or build-tsan/, or SOCKIT_SANITIZED=1) the
RSS limit is not checked: ASan's shadow memory and quarantine make RSS say
nothing about the server's own buffers.  Latencies are measured from
Python, so they include the interpreter's own overhead: the limits are
upper bounds, not benchmarks.
"""
import selectors
import threading
import time

import pytest

from conftest import (EVENT_MODELS, LOCAL, SANITIZED, RoundTrips, connect, echo_once,
                      recv_exact, rss_kib, serve_params)

DEFAULT_BUFFER = 65536
MiB = 1 << 20
FLOOD_SECONDS = 3.0


@pytest.mark.parametrize("model", serve_params(EVENT_MODELS, edge=True, workers2=["epoll"]))
def test_never_reading_peer_memory_bounded_others_served(serve, model):
    srv = serve("echo", "-l", LOCAL, "-p", "0", "-q", *model)
    pid = srv.proc.pid
    others = [connect(LOCAL, srv.port) for _ in range(100)]
    for s in others:  # everyone served once before the baseline
        s.sendall(b"warm\n")
        assert recv_exact(s, 5) == b"warm\n"
    # Let the warm-up's buffers settle, then take the baseline.
    time.sleep(0.2)
    base = rss_kib(pid)

    flood = connect(LOCAL, srv.port)
    flood.setblocking(False)
    sent = [0]
    peak = [base]
    done = threading.Event()

    def flooder():
        chunk = bytes(range(256)) * 4096  # 1 MiB
        deadline = time.monotonic() + FLOOD_SECONDS
        sel = selectors.DefaultSelector()
        sel.register(flood, selectors.EVENT_WRITE)
        while time.monotonic() < deadline and sent[0] < 1 << 30:
            try:
                sent[0] += flood.send(chunk)
            except BlockingIOError:
                sel.select(0.05)
        sel.close()
        done.set()

    def sampler():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.02)

    threads = [threading.Thread(target=flooder), threading.Thread(target=sampler)]
    with RoundTrips(others, nthreads=2) as rt:
        for t in threads:
            t.start()
        for t in threads:
            t.join(FLOOD_SECONDS + 20)
    grew = peak[0] - base
    # One cap for every model, uring too: its ring of provided receive
    # buffers is already in the baseline, which the warm-up took.
    cap_kib = (2 * DEFAULT_BUFFER + MiB) // 1024
    print("\n%s: flood wrote %.1f MiB; RSS %d -> peak %d KiB (+%d KiB, cap %d KiB); "
          "%d round trips, p99 %.2f ms"
          % (model, sent[0] / MiB, base, peak[0], grew, cap_kib, len(rt.rtts), rt.p99_ms()))
    assert not rt.errors, rt.errors[:3]
    assert len(rt.rtts) > 1000, "the other clients were barely served"
    assert rt.p99_ms() < 50, "p99 round trip %.1f ms while a peer floods" % rt.p99_ms()
    # The server stopped reading: the flood got no further than what the
    # kernel's socket buffers and the two connection buffers hold.
    assert sent[0] < 256 * MiB, "the server kept reading a peer that never reads"
    if SANITIZED:
        print("RSS not checked: sanitizer build")
    else:
        assert grew <= cap_kib, "RSS grew by %d KiB (cap %d KiB)" % (grew, cap_kib)
    flood.close()
    for s in others:
        s.close()
    assert echo_once(srv.port) == b"ping\n"
