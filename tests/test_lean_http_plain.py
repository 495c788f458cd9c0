"""``lean_http``'s own reader of plain answers against ``http.client``'s (``lean_httpclient``):
the same request bytes, and for raw answers on loopback (plain ones it reads itself, any other
it hands over with the bytes read so far) the same exchanges and the same connections."""

from __future__ import annotations

import gzip
import socket
from collections.abc import Callable, Iterator

import pytest

from tests.test_lean_http_wire import RawServer, read_request
from waypost import lean_http, lean_httpclient

pytestmark = pytest.mark.real_clock

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
ZIPPED = gzip.compress(b"x" * 5000, mtime=0)
CASES = {
    "plain": OK,
    "closing": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: Close\r\n\r\n{}",
    "keep-alive said": b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}",
    "folded case, tabs": b"HTTP/1.1 200 OK\r\ncontent-length:2 \r\nX-A:\t v \t\r\nX-B:\r\n\r\n{}",
    "gzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%b"
    % (len(gzip.compress(b"{}")), gzip.compress(b"{}")),
    "bare LF": b"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}",
    "one bare LF": b"HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\n{}",
    "lone CR": b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\n{}",
    "two lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
    "signed length": b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n{}",
    "no reason": b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n{}",
    "HTTP/1.0": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    "junk after": OK + b"junk",
    "continued line": b"HTTP/1.1 200 OK\r\nX-A: 1\r\n  more\r\nContent-Length: 2\r\n\r\n{}",
    "spaced name": b"HTTP/1.1 200 OK\r\nBad Header: 1\r\nContent-Length: 2\r\n\r\n{}",
    "latin-1 value": b"HTTP/1.1 200 OK\r\nX-A: caf\xe9\r\nContent-Length: 2\r\n\r\n{}",
    "many headers": b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 101 + b"Content-Length: 2\r\n\r\n{}",
    "created": b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
    "no content": b"HTTP/1.1 204 No Content\r\n\r\n",
    "server error": b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nOops",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "announced too large": b"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n",
    "coded too large": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%b"
    % (len(ZIPPED) + 2000, ZIPPED + b"\0" * 2000),
    "cut short": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",
    "not HTTP": b"SMTP ready\r\n\r\n",
    "long head": b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\nContent-Length: 2\r\n\r\n{}",
    "nothing": b"",
}
CLOSE_AFTER = {"closing", "HTTP/1.0", "cut short", "not HTTP", "nothing", "coded too large"}


@pytest.fixture
def serve() -> Iterator[Callable[[bytes, bool], RawServer]]:
    """A server that answers a connection's first request with ``raw`` (then closes, with
    ``close``), and every later one with ``OK``."""
    servers: list[RawServer] = []

    def start(raw: bytes, close: bool) -> RawServer:
        def answer(n: int, sock: socket.socket) -> None:
            first = True
            while read_request(sock):
                sock.sendall(raw if first and n == 0 else OK)
                if first and n == 0 and close:
                    return
                first = False

        servers.append(RawServer(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.listener.close()


def seen(exchange: lean_http.Exchange) -> tuple[object, ...]:
    """What an exchange recorded (a body over the bound: only that it was)."""
    body = None if exchange.too_large else exchange.body
    return (exchange.status, exchange.headers, body, exchange.fault, exchange.too_large)


def exchanges(make: Callable[[lean_http.Origin, float], object], url: str) -> list[object]:
    """Two POSTs over one connection object of ``make``."""
    origin = lean_http.Origin(url)
    conn: Callable[..., lean_http.Exchange] = make(origin, 5.0).exchange  # type: ignore[attr-defined]
    try:
        return [seen(conn((f"N{i}",), lean_http.encode({"n": i}), 1000)) for i in range(2)]
    finally:
        make_close = conn.__self__.close  # type: ignore[attr-defined]
        make_close()


@pytest.mark.parametrize("name", list(CASES))
def test_an_answer_is_recorded_as_http_client_records_it(
    serve: Callable[[bytes, bool], RawServer], name: str
) -> None:
    raw, close = CASES[name], name in CLOSE_AFTER
    ours, theirs = serve(raw, close), serve(raw, close)
    got = exchanges(lean_http._Plain, ours.url)
    expected = exchanges(lean_httpclient._Connection, theirs.url)
    assert got == expected
    assert (ours.connections, len(ours.requests)) == (theirs.connections, len(theirs.requests))


def test_the_plain_reader_takes_a_clean_answer_itself() -> None:
    head = OK.split(b"\r\n\r\n")[0]
    assert lean_http._plain_head(head) == (
        [("Content-Type", "application/json"), ("Content-Length", "2")],
        2,
        False,
    )
    assert lean_http._plain_head(head.replace(b"200 OK", b"201 Created")) is None


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("http://127.0.0.1:8080/ils/oms/v2/event/getOrdersTrack", {"trackingNos": ["A"]}),
        ("http://example.test/x", {"userId": "caf\u00e9", "n": list(range(50))}),
    ],
)
def test_the_request_is_the_bytes_http_client_sends(url: str, body: object) -> None:
    origin = lean_http.Origin(url)
    payload = lean_http.encode(body)
    assert lean_http._Plain(origin, 1).request(payload) == lean_httpclient.request_bytes(
        origin, payload
    )


@pytest.mark.parametrize("host", ["a..b", "x" * 64 + ".test", "." + "a"])
def test_a_host_name_the_idna_codec_refuses_is_not_taken(host: str) -> None:
    with pytest.raises(UnicodeError):
        host.encode("idna")
    with pytest.raises(ValueError, match="idna"):
        lean_http.Origin(f"http://{host}/x")
