"""TCP echo on every blocking model: every byte back, however TCP splits it."""
import os
import random
import socket
import threading

import pytest

from conftest import ALL_MODELS, HOSTS, connect, recv_all, recv_exact, require_model


@pytest.mark.parametrize("model", ALL_MODELS)
@pytest.mark.parametrize("host", HOSTS)
def test_echo_sizes_in_arbitrary_pieces(serve, model, host):
    require_model(model)
    srv = serve("echo", "-l", host, "-p", "0", "-m", model)
    assert srv.model == model and srv.service == "echo"
    rng = random.Random(862)
    for size in (1, 2, 100, 4096, 65537, 1 << 20):
        data = os.urandom(size)
        s = connect(host, srv.port)
        # Send in random pieces while a reader collects: the server must
        # return every byte whatever the segmentation.
        got = []
        reader = threading.Thread(target=lambda: got.append(recv_all(s)))
        reader.start()
        off = 0
        while off < size:
            n = rng.randint(1, 70000)
            s.sendall(data[off:off + n])
            off += n
        s.shutdown(socket.SHUT_WR)
        reader.join(30)
        s.close()
        assert got and got[0] == data, "size %d came back wrong" % size


@pytest.mark.parametrize("model", [m for m in ALL_MODELS if m != "iterative"])
def test_concurrent_clients(serve, model):
    require_model(model)
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "-m", model)
    socks = [connect("127.0.0.1", srv.port) for _ in range(20)]
    for i, s in enumerate(socks):
        s.sendall(b"client %d\n" % i)
    for i, s in enumerate(socks):
        assert recv_exact(s, len(b"client %d\n" % i)) == b"client %d\n" % i
        s.close()


def test_iterative_max_clients_then_exit(serve):
    srv = serve("echo", "-l", "127.0.0.1", "-p", "0", "-m", "iterative",
                "--max-clients", "2")
    for i in range(2):
        s = connect("127.0.0.1", srv.port)
        s.sendall(b"x")
        assert recv_exact(s, 1) == b"x"
        s.close()
    assert srv.proc.wait(10) == 0
