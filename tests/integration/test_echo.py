# SPDX-License-Identifier: BSD-2-Clause
"""TCP echo: several clients at once on every model that takes them, and
--max-clients.  Every byte back however TCP splits it is in
test_half_close.py."""
import pytest

from conftest import ALL_MODELS, connect, recv_exact, require_model


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
