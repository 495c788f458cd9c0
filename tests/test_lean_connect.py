"""The lean v4 path's first wave over plain http: its connections open at once without a thread
each (non-blocking connects, finished when their read goes out); an address that refuses is
tried again as ``http.client`` connects (every address of the host), and a host that refuses
every one is the same ``connect`` fault as the threaded connect gives."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.lean_common import lean_reads
from tests.loopback import send_json
from waypost import lean_http, quick_tm

BODY = b'{"meta":{"code":200}}'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        send_json(self, BODY)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _refusing_port() -> int:
    with socket.socket() as sock:  # bound, never listening: a connect to it is refused
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _origin(port: int) -> lean_http.Origin:
    return lean_http.Origin(f"http://127.0.0.1:{port}/v4/trackings/get", tls=True)


def _read(conn: quick_tm._GetConnection, number: str) -> lean_http.Exchange:
    conn.begin((number,), f"{conn.origin.target}?tracking_numbers={number}".encode(), 4096)
    return conn.end()


def test_a_plain_wave_opens_without_threads(port: int) -> None:
    before = set(threading.enumerate())
    pool = quick_tm.open_pool(_origin(port), "key", 5.0, 4, 10.0, 3)
    try:
        assert len(pool) == 3
        made = set(threading.enumerate()) - before
        assert not [t for t in made if "process_request" not in t.name]  # no thread a connection
        assert all(c._connecting is not None and c._opening is None for c in pool)
        got = [_read(conn, f"N{i}") for i, conn in enumerate(pool)]
    finally:
        for conn in pool:
            conn.close()
    assert [(e.status, e.fault, e.body) for e in got] == [(200, None, BODY)] * 3


def test_a_refusing_address_is_tried_again_as_http_client_connects(port: int) -> None:
    refusing = socket.getaddrinfo("127.0.0.1", _refusing_port(), type=socket.SOCK_STREAM)[0]
    conn = quick_tm._GetConnection(_origin(port), 5.0, "key")
    try:
        conn.open_soon(refusing)
        got = _read(conn, "N0")
    finally:
        conn.close()
    assert (got.status, got.fault) == (200, None)


def test_a_host_that_refuses_is_a_connect_fault_either_way() -> None:
    dead = _refusing_port()
    origin = _origin(dead)
    address = socket.getaddrinfo("127.0.0.1", dead, type=socket.SOCK_STREAM)[0]
    faults = []
    for opening in (address, None):  # non-blocking, then the threaded connect
        conn = quick_tm._GetConnection(origin, 5.0, "key")
        try:
            conn.open_soon(opening)
            faults.append(_read(conn, "N0").fault)
        finally:
            conn.close()
    assert faults == ["connect", "connect"]


def test_reads_of_a_plain_pool_come_back_in_order(port: int) -> None:
    got = lean_reads(f"http://127.0.0.1:{port}/v4/trackings/get", 7, connections=3, rate=100.0)
    assert [(e.key, e.status) for e in got] == [((f"N{i}",), 200) for i in range(7)]


def test_a_closed_pool_leaves_no_connect_open(port: int) -> None:
    pool = quick_tm.open_pool(_origin(port), "key", 5.0, 4, 10.0, 2)
    pending = [c._connecting for c in pool]
    for conn in pool:
        conn.close()
    assert all(s is not None and s.fileno() == -1 for s in pending)
