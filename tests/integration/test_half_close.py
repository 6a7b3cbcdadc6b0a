# SPDX-License-Identifier: BSD-2-Clause
"""Half-close: a client that sends its data in arbitrary pieces and then
shuts down its sending side (SHUT_WR) gets every byte back, then the
server's close; checked once over every TCP model, epoll --edge and epoll
on two loops, on IPv4 and IPv6.  The sizes straddle the buffers' edges
(uring's 16 KiB provided buffers, the 64 KiB connection buffer)."""
import random
import socket
import threading

import pytest

from conftest import ALL_MODELS, HOSTS, connect, recv_all, serve_params

MiB = 1 << 20
SIZES = (1, 2, 100, 4096, 16383, 16384, 16385, 65537, MiB, 4 * MiB)


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("model", serve_params(ALL_MODELS, edge=True, workers2=["epoll"]))
def test_echo_sizes_in_arbitrary_pieces_then_half_close(serve, model, host):
    srv = serve("echo", "-l", host, "-p", "0", "-q", *model)
    assert srv.model == model[1] and srv.service == "echo"
    rng = random.Random(862)
    for size in SIZES:
        data = rng.randbytes(size)
        s = connect(host, srv.port, timeout=30)
        got = []
        reader = threading.Thread(target=lambda: got.append(recv_all(s)))
        reader.start()
        off = 0
        while off < size:
            # Mostly large pieces, some tiny ones: every split must work.
            n = rng.choice((1, 3, rng.randint(1, 1500), rng.randint(1, 200000)))
            s.sendall(data[off:off + n])
            off += n
        s.shutdown(socket.SHUT_WR)
        reader.join(30)
        s.close()
        assert got, "size %d: no answer (or no close) in 30 s" % size
        assert len(got[0]) == size and got[0] == data, \
            "size %d came back as %d bytes, or changed" % (size, len(got[0]))
