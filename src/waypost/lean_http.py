"""POSTs for ``track``'s lean path through the standard library's ``http.client`` (RFC 9112).

It POSTs JSON bodies to one ``http://`` origin (``https://`` too where the caller allows it:
``lean_tls``) over at most ``connections`` kept-alive ``http.client.HTTPConnection``s, sends
the headers ``http.Session`` sends through httpx (in httpx's order), and hands back each
exchange as it happened (an ``Exchange``: status, headers and the body as received, or the
fault), so that an answer the lean path does not take can be replayed to the model path
(``lean_replay.Replay``) exactly as if httpx had received it. No retries beyond one fresh
connection for a kept-alive one the server closed, no redirects, no proxies: the lean path is
not used where any of those could apply. A fault of a TLS handshake is a ``connect`` fault
(httpx's ``ConnectError``); after it, a reset or a record that does not decrypt is a ``read``
one, and an end without close_notify an end, for the HTTP framing to judge (as in httpx).
"""

from __future__ import annotations

import json
import math
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from waypost import __version__, quick

if quick.ENABLED and "http.client" not in sys.modules and "ssl" not in sys.modules:
    # In the waypost process, http.client without the ssl module (~13 ms) it imports only for
    # its HTTPSConnection: https connections are made here (lean_tls), and httpx imports ssl
    # itself should the run go on to the model path.
    sys.modules["ssl"] = None  # type: ignore[assignment]
    try:
        import http.client
    finally:
        del sys.modules["ssl"]

import http.client
from email.errors import FirstHeaderLineIsContinuationDefect, MissingHeaderBodySeparatorDefect

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

USER_AGENT = f"waypost/{__version__} (+https://github.com/waypost/waypost)"
ACCEPT_ENCODING = "gzip, deflate"
_PIECE = 1 << 18
_MAKING = threading.Lock()  # an origin's TLS context (its CA store loaded once)
# How the email parser under http.client reports a header line without a name or a colon.
_BAD_LINES = (MissingHeaderBodySeparatorDefect, FirstHeaderLineIsContinuationDefect)


class Exchange:
    """One request and what came back: a response (``status``, ``headers``, ``body`` before
    any content decoding) or a ``fault`` (``connect``, ``timeout``, ``read``, ``protocol``)."""

    def __init__(self, key: Any) -> None:
        self.key = key
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self.fault: str | None = None
        self.too_large = False
        self.elapsed = 0.0

    def header(self, name: str) -> str:
        """The first value of header ``name`` (case-insensitive), or ``""``."""
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), "")


class Origin:
    """Where requests go: host, port and the request target of one plain-HTTP URL (or, with
    ``tls``, an ``https://`` one too)."""

    def __init__(self, url: str, *, tls: bool = False) -> None:
        parts = urlsplit(url)
        schemes = ("http", "https") if tls else ("http",)
        if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password:
            raise ValueError("not a plain http URL")
        # An empty "?" or "#" too: httpx keeps it in the request target; and an upper-case
        # scheme, whose default port httpx keeps in the Host header.
        if (
            not url.startswith(f"{parts.scheme}://")
            or "?" in url
            or "#" in url
            or ":" in parts.hostname
            or not parts.hostname.isascii()
        ):
            raise ValueError("not a simple URL")
        path = parts.path or "/"
        if not all(c.isalnum() or c in "/-._~" for c in path):
            raise ValueError("a path that would need escaping")
        if any(segment in (".", "..") for segment in path.split("/")):
            raise ValueError("a path with dot segments, which httpx removes")
        labels = parts.hostname.split(".")
        if not all(0 < len(label) < 64 for label in labels[:-1]) or len(labels[-1]) > 63:
            raise ValueError("a host name the idna codec refuses")  # see _connect
        self.tls = parts.scheme == "https"
        default = 443 if self.tls else 80
        self.host = parts.hostname
        self.port = parts.port or default
        self.target = path
        self.authority = self.host if self.port == default else f"{self.host}:{self.port}"
        self._context: Any = None

    def context(self) -> Any:
        """The ``ssl.SSLContext`` of an https origin, made once on first use (``lean_tls``),
        whichever of the connections' threads comes first."""
        with _MAKING:
            if self._context is None:
                from waypost import lean_tls

                self._context = lean_tls.context()
        return self._context


def encode(body: Any) -> bytes:
    """A JSON body as httpx encodes ``json=`` (compact, UTF-8)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _put(conn: http.client.HTTPConnection, origin: Origin, payload: bytes) -> None:
    """Send the request: the headers ``http.Session`` sends through httpx, in httpx's order."""
    conn.putrequest("POST", origin.target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", origin.authority)
    conn.putheader("Accept", "*/*")
    conn.putheader("Connection", "keep-alive")
    conn.putheader("User-Agent", USER_AGENT)
    conn.putheader("Accept-Encoding", ACCEPT_ENCODING)
    conn.putheader("Content-Length", str(len(payload)))
    conn.putheader("Content-Type", "application/json")
    conn.endheaders(payload)


class _Recorder(http.client.HTTPConnection):
    """A connection that keeps what it would send instead of sending it."""

    def __init__(self, origin: Origin) -> None:
        super().__init__(origin.host, origin.port)
        self.sent: list[bytes] = []

    def send(self, data: Any) -> None:
        """Keep ``data``."""
        self.sent.append(bytes(data))


def request_bytes(origin: Origin, payload: bytes) -> bytes:
    """The bytes ``post_all`` sends for one request (head and body)."""
    recorder = _Recorder(origin)
    _put(recorder, origin, payload)
    return b"".join(recorder.sent)


class _Socket(socket.socket):
    """A socket whose reads share one deadline.

    A socket timeout bounds each read alone, and ``http.client`` reads the status line, the
    headers and each chunk size line in as many reads as the server cares to dribble them in;
    the model path cuts the whole answer at ``--timeout``, so every read here gets what is left.
    """

    deadline = math.inf

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        """``socket.recv_into`` within what is left of the deadline."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        self.settimeout(left)
        return super().recv_into(buffer, nbytes, flags)


def _idle_closed(sock: socket.socket) -> bool:
    """Whether an idle kept-alive connection has something to read: its end, or junk."""
    sock.settimeout(0)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True


class _Fault(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _connect(address: tuple[str, int], timeout: Any, source: Any) -> socket.socket:
    """``socket.create_connection`` with the host name as ASCII bytes: a ``str`` one goes
    through the idna codec (its import alone ~1 ms), which gives the same bytes for the ASCII
    names ``Origin`` admits, after checking their labels as ``Origin`` does."""
    host, port = address
    return socket.create_connection((host.encode("ascii"), port), timeout, source)  # type: ignore[arg-type]


class _Connection(http.client.HTTPConnection):
    """One kept-alive connection, used by one thread at a time."""

    def __init__(self, origin: Origin, timeout: float) -> None:
        super().__init__(origin.host, origin.port, timeout=timeout)
        self._create_connection = _connect
        self.origin = origin
        self.budget = timeout
        self.deadline = math.inf  # of the exchange under way (``send_by``)
        self.fresh = False  # connected, nothing sent yet
        self._opening: threading.Thread | None = None
        self._opened: _Fault | None = None

    def connect(self) -> None:
        """Connect (``http.client`` sets TCP_NODELAY), shake hands for https, and read through
        one deadline."""
        try:
            super().connect()
            if self.origin.tls:
                from waypost import lean_tls

                context = self.origin.context()
                self.sock = lean_tls.TLSSocket(self.sock, context, self.origin.host, self.deadline)
                self.fresh = True
                return
        except TimeoutError:
            self._drop()
            raise _Fault("timeout") from None
        except OSError:
            self._drop()
            raise _Fault("connect") from None
        self.sock = _Socket(fileno=self.sock.detach())
        self.fresh = True

    def _drop(self) -> None:
        if self.sock is not None:
            self.sock.close()  # a TCP connection whose handshake failed (closed already)
            self.sock = None

    def open_soon(self) -> None:
        """Connect (and shake hands) in a thread of its own, so that a wave's connections open
        together as httpx's do; the first ``send_by`` waits for it (within one budget)."""

        def open_() -> None:
            self.deadline = time.monotonic() + self.budget
            try:
                self.connect()
            except _Fault as fault:
                self._opened = fault

        self._opening = threading.Thread(target=open_, daemon=True)
        self._opening.start()

    def opened(self) -> None:
        """Wait for ``open_soon``'s thread, if any (its fault goes to the next ``send_by``)."""
        if self._opening is not None:
            self._opening.join()
            self._opening = None

    def send_request(self, payload: bytes) -> None:
        """Put one request on the wire (a POST of ``payload``; ``quick_tm`` sends GETs)."""
        _put(self, self.origin, payload)

    def exchange(self, key: Any, payload: bytes, max_body: int) -> Exchange:
        """Send one request (on a fresh connection when the last one was closed)."""
        started = time.monotonic()
        out = Exchange(key)
        try:
            self._exchange(out, payload, max_body, started + self.budget)
        finally:
            out.elapsed = time.monotonic() - started
        return out

    def _exchange(self, out: Exchange, payload: bytes, max_body: int, deadline: float) -> None:
        try:
            resp = self._ask(payload, deadline)
            try:
                self._read(out, resp, max_body)
            finally:
                resp.close()  # a kept-alive connection stays open for the next request
            return
        except _Fault as fault:
            # Closed without an answer: httpx says RemoteProtocolError ("Server disconnected").
            out.fault = {"closed": "protocol", "unsent": "read"}.get(fault.kind, fault.kind)
        except TimeoutError:
            out.fault = "timeout"
        except http.client.HTTPException:
            # A bad status line, a line too long, too many headers, a bad chunk size, a body
            # cut short (IncompleteRead): each a RemoteProtocolError in httpx (h11) too.
            out.fault = "protocol"
        except OSError:
            out.fault = "read"  # a reset: httpx's ReadError
        self.close()

    def _ask(self, payload: bytes, deadline: float) -> http.client.HTTPResponse:
        reused = self.sock is not None
        try:
            return self._once(payload, deadline)
        except _Fault as fault:
            if not (reused and fault.kind in ("closed", "unsent")):
                raise
        # A kept-alive connection the server had closed: httpx opens a new one too.
        self.close()
        return self._once(payload, deadline)

    def send_by(self, payload: bytes, deadline: float) -> None:
        """Send one request on a live connection (a fresh one for a kept-alive one the server
        closed), its reads and writes bound by ``deadline``; ``_Fault("unsent")`` if it could
        not go out."""
        self.opened()
        if self._opened is not None:
            fault, self._opened = self._opened, None
            raise fault
        if self.sock is not None and not self.fresh and self._idle_closed():
            self.close()  # as httpcore drops a pooled connection that became readable
        self.deadline = deadline
        if self.sock is None:
            self.connect()
        self.fresh = False
        sock: Any = self.sock  # a _Socket, or lean_tls.TLSSocket
        sock.deadline = deadline
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        self.sock.settimeout(left)
        try:
            self.send_request(payload)
        except (BrokenPipeError, ConnectionResetError):
            raise _Fault("unsent") from None
        except TimeoutError:
            raise
        except OSError:
            if not self.origin.tls:
                raise
            raise _Fault("unsent") from None  # an ssl.SSLError of a TLS write: as a reset

    def _idle_closed(self) -> bool:
        sock: Any = self.sock
        return bool(sock.idle_closed()) if self.origin.tls else _idle_closed(sock)

    def _once(self, payload: bytes, deadline: float) -> http.client.HTTPResponse:
        self.send_by(payload, deadline)
        try:
            return self.getresponse()
        except http.client.RemoteDisconnected:
            raise _Fault("closed") from None  # not a byte of an answer

    def _read(self, out: Exchange, resp: http.client.HTTPResponse, max_body: int) -> None:
        if resp.status < 200 or any(isinstance(d, _BAD_LINES) for d in resp.msg.defects):
            raise _Fault("protocol")  # 1xx other than 100; a header line h11 refuses
        out.status = resp.status
        out.headers = [(name, value.strip()) for name, value in resp.getheaders()]
        coding = out.header("transfer-encoding")
        length = out.header("content-length")
        if (coding and coding.lower() != "chunked") or (length and not length.isdigit()):
            raise _Fault("protocol")  # as h11 refuses them
        identity = out.header("content-encoding").strip().lower() in ("", "identity")
        if not coding and length and int(length) > max_body and identity:
            # Announced: not even started (the model path looks at a coded one's inflated size).
            out.too_large = True
            self.close()
            return
        body = bytearray()
        while piece := resp.read1(_PIECE):  # one read a piece, each within the deadline
            body += piece
            if len(body) > max_body:
                out.too_large = True
                self.close()
                break
        if resp.length and not out.too_large:
            # read1 ends a Content-Length body the server cut short without a word.
            raise http.client.IncompleteRead(bytes(body), resp.length)
        out.body = bytes(body)


def post_all(
    url: str,
    bodies: Sequence[tuple[Any, Any]],
    *,
    timeout: float,
    connections: int,
    max_body: int,
    on_exchange: Callable[[Exchange], None],
) -> None:
    """POST every ``(key, json body)`` to ``url``, at most ``connections`` at once, and call
    ``on_exchange`` in this thread with each exchange as it completes."""
    origin = Origin(url)
    payloads = [(key, encode(body)) for key, body in bodies]
    if len(payloads) == 1 or connections == 1:
        conn = _Connection(origin, timeout)
        try:
            for key, payload in payloads:
                on_exchange(conn.exchange(key, payload, max_body))
        finally:
            conn.close()
        return
    lock = threading.Lock()
    done = threading.Condition(lock)
    todo = list(reversed(payloads))
    finished: list[Exchange] = []
    workers = min(connections, len(payloads))
    running = [workers]

    def work() -> None:
        conn = _Connection(origin, timeout)
        try:
            while True:
                with lock:
                    if not todo:
                        break
                    key, payload = todo.pop()
                result = conn.exchange(key, payload, max_body)
                with lock:
                    finished.append(result)
                    done.notify()
        finally:
            conn.close()
            with lock:
                running[0] -= 1
                done.notify()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    handed = 0
    while handed < len(payloads):
        with lock:
            while not finished and running[0]:
                done.wait()
            batch, finished[:] = list(finished), []
            if not batch and not running[0]:
                break
        for result in batch:
            handed += 1
            on_exchange(result)
    for thread in threads:
        thread.join()
