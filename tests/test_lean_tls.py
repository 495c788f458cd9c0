"""The lean path's TLS (``waypost.lean_tls`` under ``lean_http``) against loopback TLS servers
(tests/tls.py): the model path's verification rules, SNI and ALPN; one deadline through the
handshake and every record; and each TLS fault, replayed to ``http.Session`` (``Handover``),
ending exactly as the session alone ends it over httpx."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests import tls
from tests.bombs import gzip_bomb
from tests.lean_common import lean_reads
from waypost import lean_http, lean_tls, quick_tm
from waypost.errors import WaypostError
from waypost.http import RetryPolicy, Session, _SchemeTransport

pytestmark = pytest.mark.real_clock

BODY = b'{"meta":{"code":200}}'
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(BODY),
    BODY,
)
MAX_BODY = 4096


@pytest.fixture(autouse=True)
def trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both paths trust the tests' CA (and only through ``SSL_CERT_FILE``)."""
    path = tls.ca_file(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", path)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return path


@pytest.fixture
def serve() -> Iterator[Callable[..., tls.RawTLSServer]]:
    servers: list[tls.RawTLSServer] = []

    def start(handler: tls.Handler, context: ssl.SSLContext | None = None) -> tls.RawTLSServer:
        servers.append(tls.RawTLSServer(handler, context))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def session_outcome(url: str, timeout: float, transport: httpx.AsyncBaseTransport) -> str:
    """What ``http.Session`` (one attempt) makes of a read of N0: the answer or the error."""

    async def ask() -> str:
        async with Session(
            timeout=timeout,
            retry=RetryPolicy(attempts=1),
            transport=transport,
            max_body=MAX_BODY,
        ) as session:
            try:
                got = await session.request(
                    "trackingmore", "GET", url, params={"tracking_numbers": "N0"}
                )
            except WaypostError as exc:
                return f"{type(exc).__name__}: {exc}"
            return f"{got.status_code} {got.content!r}"

    return asyncio.run(ask())


def both_ways(url: str, timeout: float = 5.0) -> tuple[str, lean_http.Exchange]:
    """The model path's outcome, asserted equal to the lean read's replayed; and the exchange."""
    [exchange] = lean_reads(url, timeout=timeout)
    replay = quick_tm.Handover({exchange.key: exchange}, set()).transport()
    lean = session_outcome(url, timeout, replay)
    model = session_outcome(url, timeout, _SchemeTransport(httpx.Limits()))
    assert lean == model
    return model, exchange


# -- the handlers: what a server does with a connection -------------------------------------


def answering(*answers: bytes) -> Served:
    """Shake hands, then answer each request with the next of ``answers`` (kept alive)."""

    def handler(server: tls.RawTLSServer, n: int, sock: socket.socket) -> None:
        wrapped = server.wrap(sock)
        for answer in answers:
            if not tls.read_head(wrapped):
                return
            wrapped.sendall(answer)

    return handler


# A handler here is told its own server (to shake hands with its context, to wait on its stop).
Served = Callable[[tls.RawTLSServer, int, socket.socket], None]


def started(
    serve: Callable[..., tls.RawTLSServer],
    handler: Served,
    context: ssl.SSLContext | None = None,
) -> tls.RawTLSServer:
    def bound(n: int, sock: socket.socket) -> None:
        handler(server, n, sock)  # (a connection comes once the test has the server's URL)

    server = serve(bound, context)
    return server


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _then(raw: bytes, *, notify: bool = False, reset: bool = False) -> Served:
    """Shake hands, read the request, write ``raw``; then end with close_notify, a reset, or
    neither (a bare TCP close: a truncation attack, or a careless server)."""

    def handler(server: tls.RawTLSServer, n: int, sock: socket.socket) -> None:
        wrapped = server.wrap(sock)
        tls.read_head(wrapped)
        if raw:
            wrapped.sendall(raw)
        if notify:
            wrapped.unwrap()
        elif reset:
            _reset(wrapped)

    return handler


def _junk_record(server: tls.RawTLSServer, n: int, sock: socket.socket) -> None:
    """An application-data record that does not decrypt (a tampered stream)."""
    wrapped = server.wrap(sock)
    tls.read_head(wrapped)
    os.write(wrapped.fileno(), b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
    server.stop.wait(5)


def _before_handshake(action: str) -> Served:
    def handler(server: tls.RawTLSServer, n: int, sock: socket.socket) -> None:
        sock.recv(4096)  # the ClientHello
        if action == "plaintext":
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        elif action == "reset":
            _reset(sock)
        elif action == "hang":
            server.stop.wait(10)

    return handler


# -- the context -----------------------------------------------------------------------------


def test_the_context_has_the_verification_rules_of_the_model_paths(trusted: str) -> None:
    model = _SchemeTransport(httpx.Limits())._pool("https")._pool._ssl_context
    lean = lean_tls.context()
    assert model is not None
    for name in ("verify_mode", "check_hostname", "minimum_version", "maximum_version"):
        assert getattr(lean, name) == getattr(model, name), name
    assert (lean.options, lean.verify_flags, lean.protocol) == (
        model.options,
        model.verify_flags,
        model.protocol,
    )
    assert lean.verify_mode == ssl.CERT_REQUIRED
    assert lean.check_hostname
    assert lean.minimum_version >= ssl.TLSVersion.TLSv1_2
    # Both stores hold what SSL_CERT_FILE names, and nothing else was loaded into either.
    assert lean.get_ca_certs() == model.get_ca_certs() != []
    assert lean.cert_store_stats() == model.cert_store_stats()


def test_sni_alpn_and_the_host_header_are_what_httpx_sends(
    serve: Callable[..., tls.RawTLSServer],
) -> None:
    names: list[str | None] = []
    context = tls.server_context()
    context.set_alpn_protocols(["h2", "http/1.1"])
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    heads: list[bytes] = []

    def handler(server: tls.RawTLSServer, n: int, sock: socket.socket) -> None:
        wrapped = server.wrap(sock)
        heads.append(tls.read_head(wrapped))
        wrapped.sendall(OK)

    server = started(serve, handler, context)
    url = server.url("/v4/trackings/get", host="localhost")
    model, exchange = both_ways(url)
    assert (exchange.status, exchange.body) == (200, BODY)
    assert model == f"200 {BODY!r}"
    assert names == ["localhost", "localhost"]
    assert server.alpn == ["http/1.1", "http/1.1"]
    hosts = [next(h for h in head.split(b"\r\n") if h.startswith(b"Host:")) for head in heads]
    assert hosts == [f"Host: localhost:{server.port}".encode()] * 2


def test_the_default_port_is_left_out_of_the_host_header() -> None:
    origin = lean_http.Origin("https://api.trackingmore.com/v4/trackings/get", tls=True)
    assert (origin.port, origin.authority, origin.tls) == (443, "api.trackingmore.com", True)
    with pytest.raises(ValueError, match="plain http"):
        lean_http.Origin("https://api.trackingmore.com/v4")  # not without ``tls``


def test_a_kept_alive_tls_connection_is_reused(serve: Callable[..., tls.RawTLSServer]) -> None:
    server = started(serve, answering(OK, OK, OK))
    got = lean_reads(server.url(), count=3)
    assert [(e.status, e.body, e.fault) for e in got] == [(200, BODY, None)] * 3
    assert server.connections == 1


def test_a_kept_alive_connection_ended_with_close_notify_is_opened_again(
    serve: Callable[..., tls.RawTLSServer],
) -> None:
    server = started(serve, _then(OK, notify=True))
    got = lean_reads(server.url(), count=2)
    assert [(e.status, e.fault) for e in got] == [(200, None)] * 2
    assert server.connections == 2


# -- faults, both ways -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "handler"),
    [
        (lambda: tls.server_context(ca=tls.stranger()), None),  # a CA not trusted
        (lambda: tls.server_context("other.example"), None),  # a certificate of another host
        (None, _before_handshake("plaintext")),  # not TLS at all
        (None, _before_handshake("close")),
        (None, _before_handshake("reset")),
    ],
    ids=["untrusted CA", "wrong host", "plaintext", "closed", "reset"],
)
def test_a_failed_handshake_is_a_connect_fault_reported_alike(
    serve: Callable[..., tls.RawTLSServer],
    context: Callable[[], ssl.SSLContext] | None,
    handler: Served | None,
) -> None:
    server = started(serve, handler or answering(OK), context() if context else None)
    model, exchange = both_ways(server.url())
    assert exchange.fault == "connect"
    assert model == "NetworkError: trackingmore: cannot reach 127.0.0.1 (ConnectError)"


@pytest.mark.parametrize(
    ("handler", "fault", "model"),
    [
        (
            _then(b"", reset=True),
            "read",
            "NetworkError: trackingmore: cannot reach 127.0.0.1 (ReadError)",
        ),
        (_then(b"", notify=True), "protocol", "(RemoteProtocolError)"),
        (_then(OK[:-3]), "protocol", "(RemoteProtocolError)"),  # cut, no close_notify
        (
            _then(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"),
            "protocol",
            "(RemoteProtocolError)",
        ),
        (_then(b"HTTP/1.1 200 OK\r\n\r\n" + BODY), None, f"200 {BODY!r}"),  # to the end: whole
        (_junk_record, "read", "(ReadError)"),
    ],
    ids=["reset", "close_notify", "cut", "chunked cut", "to the end", "junk record"],
)
def test_faults_after_the_handshake_are_reported_alike(
    serve: Callable[..., tls.RawTLSServer], handler: Served, fault: str | None, model: str
) -> None:
    server = started(serve, handler)
    outcome, exchange = both_ways(server.url())
    assert exchange.fault == fault
    assert outcome.endswith(model)


def test_a_gzip_bomb_over_tls_is_cut_at_the_bound_alike(
    serve: Callable[..., tls.RawTLSServer],
) -> None:
    bomb = gzip_bomb(4)
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
    server = started(serve, _then(head + bomb))
    model, exchange = both_ways(server.url())
    assert (exchange.status, exchange.fault) == (200, None)
    assert model.startswith("ProtocolError: trackingmore: the answer is larger than")


HANG_TIMEOUT = 0.15  # still three of the dribble's records


@pytest.mark.parametrize("stage", ["handshake", "answer", "dribble"])
def test_a_hanging_tls_server_meets_the_deadline(
    serve: Callable[..., tls.RawTLSServer], stage: str
) -> None:
    def dribble(server: tls.RawTLSServer, n: int, sock: socket.socket) -> None:
        wrapped = server.wrap(sock)
        tls.read_head(wrapped)
        wrapped.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(60):  # one header byte a record each 50 ms: every read alone is quick
            if server.stop.wait(0.05):
                return
            wrapped.sendall(b"X")

    def answer_never(server: tls.RawTLSServer, n: int, sock: socket.socket) -> None:
        wrapped = server.wrap(sock)
        tls.read_head(wrapped)
        server.stop.wait(10)

    handlers = {"handshake": _before_handshake("hang"), "answer": answer_never, "dribble": dribble}
    server = started(serve, handlers[stage])
    started_at = time.monotonic()
    [exchange] = lean_reads(server.url(), timeout=HANG_TIMEOUT)
    assert exchange.fault == "timeout"
    assert time.monotonic() - started_at < 2.0  # the dribble alone would last 3 s
    replay = quick_tm.Handover({exchange.key: exchange}, set()).transport()
    assert session_outcome(server.url(), HANG_TIMEOUT, replay) == (
        f"Timeout: trackingmore: no answer within --timeout {HANG_TIMEOUT:g}s"
    )


def test_a_plain_http_origin_makes_no_context() -> None:
    origin = lean_http.Origin("http://127.0.0.1:1/x", tls=True)
    assert (origin.tls, origin.port, origin.authority, origin._context) == (
        False,
        1,
        "127.0.0.1:1",
        None,
    )


def test_a_waves_connections_open_together(
    serve: Callable[..., tls.RawTLSServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each handshake waits until all three connections are in: one opened after another, the
    # first would wait out its deadline. A fresh connection is not taken for closed because
    # the server's session tickets wait on it unread. The CA store is loaded once.
    arrived = threading.Barrier(3)
    made: list[ssl.SSLContext] = []
    making = lean_tls.context
    another = threading.Barrier(2, timeout=0.1)  # met only if a second thread made one too

    def context() -> ssl.SSLContext:
        made.append(making())
        with contextlib.suppress(threading.BrokenBarrierError):
            another.wait()
        return made[-1]

    monkeypatch.setattr(lean_tls, "context", context)

    def handler(server: tls.RawTLSServer, n: int, sock: socket.socket) -> None:
        arrived.wait(timeout=10)
        wrapped = server.wrap(sock)
        if tls.read_head(wrapped):
            wrapped.sendall(OK)

    server = started(serve, handler)
    origin = lean_http.Origin(server.url(), tls=True)
    got: list[lean_http.Exchange] = []
    targets = [((f"N{i}",), f"/x?tracking_numbers=N{i}".encode()) for i in range(3)]
    quick_tm.get_all(
        origin,
        "key",
        targets,
        timeout=3.0,
        connections=3,
        max_body=MAX_BODY,
        rate=10.0,
        on_exchange=lambda exchange: got.append(exchange) is None,
    )
    assert sorted((e.key, e.status, e.fault) for e in got) == [
        ((f"N{i}",), 200, None) for i in range(3)
    ]
    assert server.connections == 3
    assert len(made) == 1


def _client(server: tls.RawTLSServer) -> lean_tls.TLSSocket:
    raw = socket.create_connection(("127.0.0.1", server.port))
    sock = lean_tls.TLSSocket(raw, lean_tls.context(), "127.0.0.1", time.monotonic() + 5)
    sock.sendall(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return sock


def _looked(client: lean_tls.TLSSocket) -> bool:
    """``answer_started`` once the raw socket is readable, up to five times."""
    for _ in range(5):
        select.select([client.raw], [], [], 1.0)
        if client.answer_started():
            return True
    return False


def test_an_answer_started_is_seen_early_and_read_whole(
    serve: Callable[..., tls.RawTLSServer],
) -> None:
    sent = threading.Event()

    def handler(server: tls.RawTLSServer, n: int, sock: socket.socket) -> None:
        wrapped = server.wrap(sock)
        tls.read_head(wrapped)
        wrapped.sendall(OK)
        sent.set()
        server.stop.wait(5)

    client = _client(started(serve, handler))
    assert sent.wait(5)
    assert _looked(client)  # the session tickets first, then the answer
    reader = client.makefile("rb")
    assert reader.read(len(OK)) == OK
    client.close()
    reader.close()


def test_a_reset_met_while_looking_for_an_answer_is_still_a_reset(
    serve: Callable[..., tls.RawTLSServer],
) -> None:
    reset = threading.Event()

    def handler(server: tls.RawTLSServer, n: int, sock: socket.socket) -> None:
        wrapped = server.wrap(sock)
        tls.read_head(wrapped)
        _reset(wrapped)
        wrapped.close()
        reset.set()

    client = _client(started(serve, handler))
    assert reset.wait(5)
    assert not _looked(client)
    with pytest.raises(ConnectionResetError):
        client.recv_into(bytearray(100))


_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)


@given(
    scheme=st.sampled_from(["http", "https", "HTTPS", "ftp"]),
    host=st.one_of(
        st.lists(_LABEL, min_size=1, max_size=3).map(".".join),
        st.sampled_from(["127.0.0.1", "API.TrackingMore.com", "bücher.example", "[::1]"]),
    ),
    port=st.one_of(st.none(), st.sampled_from([80, 443, 8443]), st.integers(1, 65535)),
    path=st.text("abc/-._~%?#", max_size=12),
)
@example(scheme="http", host="127.0.0.1", port=None, path=".")
@example(scheme="https", host="api.example", port=None, path="v4/../v2")
def test_an_accepted_url_goes_where_httpx_sends_it(
    scheme: str, host: str, port: int | None, path: str
) -> None:
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}/{path}"
    try:
        origin = lean_http.Origin(url, tls=True)
    except ValueError:
        return
    request = httpx.Request("GET", url)
    assert origin.tls == (request.url.scheme == "https")
    assert origin.host == request.url.host
    assert origin.port == (request.url.port or (443 if origin.tls else 80))
    assert origin.authority == request.headers["host"]
    assert origin.target.encode() == request.url.raw_path
