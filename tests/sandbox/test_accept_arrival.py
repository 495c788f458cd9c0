"""The sandbox's arrival time of a connection's first request: a plain request already waiting
when its connection is taken arrived then (one loop takes the connections one by one, where a
real server takes them in parallel), not when its thread came to read it; a connection taken
before its request came has none, and its thread stamps the request as it reads it."""

from __future__ import annotations

import socket

from waypost.sandbox import server as sandbox_server


class _Owner:
    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now


def _serving() -> tuple[sandbox_server._Server, _Owner]:
    made = sandbox_server._Server(("127.0.0.1", 0), sandbox_server._Handler)
    owner = _Owner()
    made.owner = owner  # type: ignore[assignment]
    return made, owner


def _waiting(sock: socket.socket) -> None:
    import select

    # Until the server's end has the bytes (at once on loopback; a deadline, not a sleep).
    assert select.select([sock], [], [], 5.0)[0], "the request never reached the server"


def test_a_waiting_request_arrived_when_its_connection_was_taken() -> None:
    made, owner = _serving()
    client = socket.create_connection(made.server_address)
    try:
        client.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        owner.now = 100.5
        request, _ = made.get_request()
        owner.now = 103.0  # its thread would read it later
        assert made.first_arrival(request) == 100.5
        assert made.first_arrival(request) is None  # the first request's only
        request.close()
    finally:
        client.close()
        made.server_close()


def test_a_connection_taken_before_its_request_has_no_arrival() -> None:
    made, _ = _serving()
    client = socket.create_connection(made.server_address)
    try:
        request, _ = made.get_request()
        client.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        _waiting(request)
        assert made.first_arrival(request) is None
        request.close()
    finally:
        client.close()
        made.server_close()
