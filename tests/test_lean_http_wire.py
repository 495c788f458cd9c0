"""``waypost.lean_http`` over ``http.client`` against raw answers on loopback: one deadline for
the whole exchange, kept-alive connections (reused, or reopened once when the server closed
one), and faults recorded as the kinds httpx raises for them."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from waypost import lean_http

pytestmark = pytest.mark.real_clock

Handler = Callable[[int, socket.socket], None]


def read_request(sock: socket.socket) -> bytes:
    """One whole request (head and Content-Length body) from ``sock``, or b"" at its end."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            return b""
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


class RawServer:
    """Accepts connections on 127.0.0.1 and hands the n-th to ``handler(n, sock)``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        """The URL to POST to."""
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/x"

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            n, self.connections = self.connections, self.connections + 1
            threading.Thread(target=self._handle, args=(n, sock), daemon=True).start()

    def _handle(self, n: int, sock: socket.socket) -> None:
        with sock, contextlib.suppress(OSError):
            self.handler(n, sock)

    def take(self, sock: socket.socket) -> bool:
        """Read one request from ``sock``; whether there was one."""
        head = read_request(sock)
        if head:
            self.requests.append(head)
        return bool(head)


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.listener.close()


def post(
    server: RawServer,
    count: int = 1,
    timeout: float = 5,
    then: Callable[[], object] = lambda: None,
) -> list[lean_http.Exchange]:
    """Exchanges of ``count`` POSTs over one connection, ``then()`` after each."""
    got: list[lean_http.Exchange] = []
    bodies = [((f"N{i}",), {"trackingNos": [f"N{i}"]}) for i in range(count)]
    lean_http.post_all(
        server.url,
        bodies,
        timeout=timeout,
        connections=1,
        max_body=1000,
        on_exchange=lambda e: (got.append(e), then()),
    )
    return got


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def test_a_dribbled_head_is_cut_at_the_exchange_deadline(serve: Callable[..., RawServer]) -> None:
    stop = threading.Event()

    def dribble(n: int, sock: socket.socket) -> None:
        server.take(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(60):  # one header byte each 50 ms: every read alone is quick
            if stop.wait(0.05):
                return
            sock.sendall(b"X")

    server = serve(dribble)
    started = time.monotonic()
    got = post(server, timeout=0.15)  # still three of the dribbled bytes
    stop.set()
    assert [e.fault for e in got] == ["timeout"]
    assert time.monotonic() - started < 2.0  # the dribble would last 3 s


def test_a_kept_alive_connection_is_reused(serve: Callable[..., RawServer]) -> None:
    def answer(n: int, sock: socket.socket) -> None:
        while server.take(sock):
            sock.sendall(b"HTTP/1.1 204 No Content\r\n\r\n" if len(server.requests) == 1 else OK)

    server = serve(answer)
    got = post(server, count=3)
    assert [(e.status, e.body, e.fault) for e in got] == [(204, b"", None)] + [
        (200, b"{}", None)
    ] * 2
    assert (server.connections, len(server.requests)) == (1, 3)


def test_a_kept_alive_connection_the_server_closed_is_opened_again_once(
    serve: Callable[..., RawServer],
) -> None:
    closed = threading.Semaphore(0)

    def answer_once(n: int, sock: socket.socket) -> None:
        server.take(sock)
        sock.sendall(OK)  # says nothing of closing, then closes
        sock.close()
        closed.release()

    server = serve(answer_once)
    got = post(server, count=3, then=lambda: closed.acquire(timeout=5))
    assert [(e.status, e.fault) for e in got] == [(200, None)] * 3
    assert (server.connections, len(server.requests)) == (3, 3)


def _close_then(data: bytes) -> Handler:
    def handler(n: int, sock: socket.socket) -> None:
        read_request(sock)
        sock.sendall(data)

    return handler


def _reset(n: int, sock: socket.socket) -> None:
    read_request(sock)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.parametrize(
    ("handler", "fault"),
    [
        (_close_then(b""), "protocol"),  # httpx: "Server disconnected without sending a response"
        (_close_then(OK[:-1]), "protocol"),  # a body cut short
        (_close_then(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), "protocol"),
        (_close_then(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"), "protocol"),
        (_close_then(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nab"), "protocol"),
        (_close_then(b"HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nab"), "protocol"),
        (_close_then(b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n"), "protocol"),
        (_close_then(b"SMTP ready\r\n\r\n"), "protocol"),
        (_close_then(b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n"), "protocol"),
        (_reset, "read"),  # httpx: ReadError
    ],
)
def test_broken_answers_are_the_faults_httpx_raises(
    serve: Callable[..., RawServer], handler: Handler, fault: str
) -> None:
    assert [e.fault for e in post(serve(handler))] == [fault]


def test_a_chunked_answer_is_recorded_as_received(serve: Callable[..., RawServer]) -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    server = serve(_close_then(raw + b"3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"))
    [got] = post(server)
    assert (got.status, got.body, got.fault, got.header("content-encoding")) == (
        200,
        b"abcde",
        None,
        "gzip",
    )


CHUNK = b"100\r\n" + b"x" * 256 + b"\r\n"


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n",  # announced
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNK * 5,  # grown
        b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 1001,  # to the end of the connection
    ],
)
def test_a_body_over_the_bound_is_too_large(serve: Callable[..., RawServer], raw: bytes) -> None:
    [got] = post(serve(_close_then(raw)))
    assert (got.status, got.too_large, got.fault) == (200, True, None)
    assert len(got.body) <= 1000 + 256
