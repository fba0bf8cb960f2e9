"""The diagnostic that names where a leaked socket was connected."""

import socket

from tests.socket_origins import origin


def test_a_connected_socket_is_traced_to_its_connect_by_local_port():
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        client.connect(server.getsockname())  # the line the trace must name
        message = f"unclosed <socket.socket fd=9, laddr={client.getsockname()!r}>"
        where = origin(message)
    assert where is not None and "test_socket_origins.py" in where and "client.connect" in where
    assert origin("unclosed <socket.socket fd=9, laddr=('127.0.0.1', 1)>") is None
    assert origin("unclosed file <_io.TextIOWrapper name='x'>") is None
