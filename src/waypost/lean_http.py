"""POSTs for ``track``'s lean path over plain sockets (HTTP/1.1, RFC 9112).

It POSTs JSON bodies to one ``http://`` origin over at most ``connections`` kept-alive
connections (``_Plain``), sends the bytes ``http.client`` sends for the headers
``http.Session`` sends through httpx (in httpx's order), and hands back each exchange as it
happened (an ``Exchange``: status, headers and the body as received, or the fault), so that an
answer the lean path does not take can be replayed to the model path (``lean_replay.Replay``)
exactly as if httpx had received it. A plain answer (HTTP/1.1 200, simple header lines, one
``Content-Length``) is read here; any other goes, with the bytes received so far, to
``http.client`` (``lean_httpclient``, which also holds the connections of ``https://`` origins
that ``quick_tm`` and ``lean_tls`` build on), so both judge every answer alike. No retries
beyond one fresh connection for a kept-alive one the server closed, no redirects, no proxies:
the lean path is not used where any of those could apply. A fault of a TLS handshake is a
``connect`` fault (httpx's ``ConnectError``); after it, a reset or a record that does not
decrypt is a ``read`` one, and an end without close_notify an end, for the HTTP framing to
judge (as in httpx).
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from waypost import __version__

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

USER_AGENT = f"waypost/{__version__} (+https://github.com/waypost/waypost)"
ACCEPT_ENCODING = "gzip, deflate"
_PIECE = 1 << 18
_MAKING = threading.Lock()  # an origin's TLS context (its CA store loaded once)


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


_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_HEAD_MAX = 65536  # http.client's longest line; a longer head goes to it
_LINES_MAX = 100  # http.client's most header lines


_PLAIN_BYTES = bytes(range(32, 127)) + b"\t"


def _plain_text(line: bytes) -> bool:
    """Printable ASCII, spaces and tabs only (no CR or LF inside)."""
    return not line.translate(None, _PLAIN_BYTES)


def _plain_head(head: bytes) -> tuple[list[tuple[str, str]], int, bool] | None:
    """A head read here: (headers, Content-Length, whether the server closes), when it is an
    HTTP/1.1 200 with simple header lines, one Content-Length, at most one Connection and no
    Transfer-Encoding; else None (``http.client`` reads it)."""
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 200 ") or len(lines) > _LINES_MAX:
        return None
    if not _plain_text(head.replace(b"\r\n", b"")):
        return None
    headers: list[tuple[str, str]] = []
    length: str | None = None
    connection: str | None = None
    for line in lines[1:]:
        colon = line.find(b":")
        if colon <= 0 or not _TOKEN.issuperset(line[:colon]):
            return None
        name = line[:colon].decode("ascii")
        value = line[colon + 1 :].decode("ascii").strip()
        low = name.lower()
        if low == "content-length":
            if length is not None or not value.isdigit():
                return None
            length = value
        elif low == "connection":
            if connection is not None:
                return None
            connection = value
        elif low == "transfer-encoding":
            return None
        headers.append((name, value))
    if length is None:
        return None
    return headers, int(length), connection is not None and "close" in connection.lower()


class Exchanging:
    """``exchange()`` of a connection with a ``budget`` (s) for each exchange: timed, and
    handed to its ``_exchange`` with the deadline."""

    budget: float

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
        raise NotImplementedError


class _Plain(Exchanging):
    """One kept-alive plain-HTTP connection, used by one thread at a time, without
    ``http.client`` (~10 ms of imports): requests as ``http.client`` puts them (a test
    compares), answers read here when ``_plain_head`` takes their head, else handed with the
    bytes received so far to ``http.client`` (``lean_httpclient.read_received``)."""

    def __init__(self, origin: Origin, timeout: float) -> None:
        self.origin = origin
        self.budget = timeout
        self.sock: _Socket | None = None
        self.fresh = False  # connected, nothing sent yet
        self.head = (
            f"POST {origin.target} HTTP/1.1\r\nHost: {origin.authority}\r\nAccept: */*\r\n"
            f"Connection: keep-alive\r\nUser-Agent: {USER_AGENT}\r\n"
            f"Accept-Encoding: {ACCEPT_ENCODING}\r\nContent-Length: "
        ).encode("ascii")

    def request(self, payload: bytes) -> bytes:
        """The bytes of one POST of ``payload``."""
        return b"%b%d\r\nContent-Type: application/json\r\n\r\n%b" % (
            self.head,
            len(payload),
            payload,
        )

    def close(self) -> None:
        """Close the connection, if open."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def connect(self) -> None:
        """Connect as ``http.client`` does (TCP_NODELAY set), reads through one deadline."""
        try:
            raw = _connect((self.origin.host, self.origin.port), self.budget, None)
        except TimeoutError:
            raise _Fault("timeout") from None
        except OSError:
            raise _Fault("connect") from None
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            raw.close()
            raise _Fault("connect") from None
        self.sock = _Socket(fileno=raw.detach())
        self.fresh = True

    def _exchange(self, out: Exchange, payload: bytes, max_body: int, deadline: float) -> None:
        try:
            reused = self.sock is not None
            try:
                self._once(out, payload, max_body, deadline)
                return
            except _Fault as fault:
                if not (reused and fault.kind in ("closed", "unsent")):
                    raise
            # A kept-alive connection the server had closed: httpx opens a new one too.
            self.close()
            self._once(out, payload, max_body, deadline)
            return
        except _Fault as fault:
            # Closed without an answer: httpx says RemoteProtocolError ("Server disconnected").
            out.fault = {"closed": "protocol", "unsent": "read"}.get(fault.kind, fault.kind)
        except TimeoutError:
            out.fault = "timeout"
        except OSError:
            out.fault = "read"  # a reset: httpx's ReadError
        self.close()

    def _once(self, out: Exchange, payload: bytes, max_body: int, deadline: float) -> None:
        if self.sock is not None and not self.fresh and _idle_closed(self.sock):
            self.close()  # as httpcore drops a pooled connection that became readable
        if self.sock is None:
            self.connect()
        self.fresh = False
        sock = self.sock
        assert sock is not None
        sock.deadline = deadline
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        sock.settimeout(left)
        try:
            sock.sendall(self.request(payload))
        except (BrokenPipeError, ConnectionResetError):
            raise _Fault("unsent") from None
        if self._read(sock, out, max_body):
            self.close()

    def _read(self, sock: _Socket, out: Exchange, max_body: int) -> bool:
        """Read one answer into ``out``; True when the connection is done with."""
        received = bytearray()
        piece = bytearray(_PIECE)
        view = memoryview(piece)
        while (end := received.find(b"\r\n\r\n")) < 0:
            # A bare LF ends lines for http.client too; a long head is its to refuse.
            if len(received) > _HEAD_MAX or received.count(b"\n") != received.count(b"\r\n"):
                return self._received(sock, received, out, max_body)
            size = sock.recv_into(view)
            if not size:
                if not received:
                    raise _Fault("closed")  # not a byte of an answer
                return self._received(sock, received, out, max_body)
            received += view[:size]
        plain = _plain_head(bytes(received[:end])) if end <= _HEAD_MAX else None
        if plain is None:
            return self._received(sock, received, out, max_body)
        out.headers, length, closing = plain
        out.status = 200
        identity = out.header("content-encoding").strip().lower() in ("", "identity")
        if length > max_body and identity:
            out.too_large = True  # announced: not even started
            return True
        body = received[end + 4 :]
        del body[length:]  # bytes past the answer: dropped, as http.client's reader drops them
        while len(body) < length and len(body) <= max_body:
            size = sock.recv_into(view, min(_PIECE, length - len(body)))
            if not size:
                raise _Fault("protocol")  # cut short: http.client's IncompleteRead
            body += view[:size]
        if len(body) > max_body:
            out.too_large = True  # a coded body over the bound: its inflated size is larger
            out.body = bytes(body)
            return True
        out.body = bytes(body)
        return closing

    def _received(self, sock: _Socket, received: bytearray, out: Exchange, max_body: int) -> bool:
        from waypost import lean_httpclient

        return lean_httpclient.read_received(sock, bytes(received), out, max_body)


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
        conn = _Plain(origin, timeout)
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
        conn = _Plain(origin, timeout)
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
