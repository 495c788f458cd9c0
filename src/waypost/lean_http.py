"""A small HTTP/1.1 client over plain sockets for ``track``'s lean path (RFC 9112 framing).

It POSTs JSON bodies to one ``http://`` origin over at most ``connections`` kept-alive
connections, sends the headers ``http.Session`` sends, and hands back each exchange as it
happened (an ``Exchange``: status, headers and the body as received, or the fault), so that an
answer the lean path does not take can be replayed to the model path (``replay.Replay``)
exactly as if httpx had received it. No retries, no redirects, no proxies, no TLS: the lean
path is not used where any of those could apply.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from waypost import __version__

USER_AGENT = f"waypost/{__version__} (+https://github.com/waypost/waypost)"
ACCEPT_ENCODING = "gzip, deflate"
_MAX_HEAD = 64 << 10


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
    """Where requests go: host, port and the request target of one plain-HTTP URL."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.username or parts.password:
            raise ValueError("not a plain http URL")
        if parts.query or parts.fragment or ":" in parts.hostname:
            raise ValueError("not a simple URL")
        path = parts.path or "/"
        if not all(c.isalnum() or c in "/-._~" for c in path):
            raise ValueError("a path that would need escaping")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.target = path
        self.authority = self.host if self.port == 80 else f"{self.host}:{self.port}"


def encode(body: Any) -> bytes:
    """A JSON body as httpx encodes ``json=`` (compact, UTF-8)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def request_bytes(origin: Origin, payload: bytes) -> bytes:
    """The request head and body: the headers ``http.Session`` sends through httpx."""
    head = (
        f"POST {origin.target} HTTP/1.1\r\n"
        f"Host: {origin.authority}\r\n"
        "Accept: */*\r\n"
        "Connection: keep-alive\r\n"
        f"User-Agent: {USER_AGENT}\r\n"
        f"Accept-Encoding: {ACCEPT_ENCODING}\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Content-Type: application/json\r\n\r\n"
    )
    return head.encode("ascii") + payload


class _Fault(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _Connection:
    """One kept-alive connection, used by one thread at a time."""

    def __init__(self, origin: Origin, timeout: float) -> None:
        self.origin = origin
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buffer = b""

    def exchange(self, key: Any, payload: bytes, max_body: int) -> Exchange:
        """Send one request (on a fresh connection when the last one was closed)."""
        started = time.monotonic()
        deadline = started + self.timeout
        reused = self.sock is not None
        out = Exchange(key)
        try:
            self._exchange(out, payload, max_body, deadline, reused)
        finally:
            out.elapsed = time.monotonic() - started
        return out

    def _exchange(
        self, out: Exchange, payload: bytes, max_body: int, deadline: float, reused: bool
    ) -> None:
        try:
            if self.sock is None:
                self._connect()
            assert self.sock is not None
            try:
                self.sock.sendall(request_bytes(self.origin, payload))
                self._read(out, deadline, max_body)
            except _Fault as fault:
                if not (reused and fault.kind == "closed"):
                    raise
                # A kept-alive connection the server had closed: httpx opens a new one too.
                self.close()
                self._connect()
                self.sock.sendall(request_bytes(self.origin, payload))
                self._read(out, deadline, max_body)
        except _Fault as fault:
            self.close()
            out.fault = "read" if fault.kind == "closed" else fault.kind
        except TimeoutError:
            self.close()
            out.fault = "timeout"
        except OSError:
            self.close()
            out.fault = "read"

    def _connect(self) -> None:
        try:
            self.sock = socket.create_connection(
                (self.origin.host, self.origin.port), timeout=self.timeout
            )
        except TimeoutError:
            raise _Fault("timeout") from None
        except OSError:
            raise _Fault("connect") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _recv(self, deadline: float) -> bytes:
        assert self.sock is not None
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        data = self.sock.recv(1 << 18)
        if not data:
            raise _Fault("closed")
        return data

    def _read(self, out: Exchange, deadline: float, max_body: int) -> None:
        data = self.buffer
        self.buffer = b""
        started = bool(data)
        while b"\r\n\r\n" not in data:
            if len(data) > _MAX_HEAD:
                raise _Fault("protocol")
            try:
                data += self._recv(deadline)
            except _Fault:
                if started:
                    raise _Fault("read") from None
                raise
            started = True
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, _, tail = lines[0].partition(" ")
        code = tail[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit() or int(code) < 200:
            raise _Fault("protocol")
        out.status = int(code)
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise _Fault("protocol")
            out.headers.append((name, value.strip()))
        chunked = "chunked" in out.header("transfer-encoding").lower()
        length = out.header("content-length")
        keep = out.header("connection").lower() != "close" and version == "HTTP/1.1"
        if chunked:
            body, rest = self._chunked(rest, deadline, max_body, out)
        elif length:
            if not length.isdigit():
                raise _Fault("protocol")
            size = int(length)
            if size > max_body:
                out.too_large = True
                self.close()
                return
            while len(rest) < size:
                try:
                    rest += self._recv(deadline)
                except _Fault:
                    raise _Fault("read") from None
            body, rest = rest[:size], rest[size:]
        else:
            keep = False
            while True:
                try:
                    rest += self._recv(deadline)
                except _Fault:
                    break
                if len(rest) > max_body:
                    out.too_large = True
                    break
            body, rest = rest, b""
        out.body = body
        if keep and not out.too_large:
            self.buffer = rest
        else:
            self.close()

    def _chunked(
        self, rest: bytes, deadline: float, max_body: int, out: Exchange
    ) -> tuple[bytes, bytes]:
        body = bytearray()
        while True:
            while b"\r\n" not in rest:
                rest += self._more(deadline)
            line, _, rest = rest.partition(b"\r\n")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _Fault("protocol") from None
            if size == 0:
                while True:  # trailers, up to the empty line
                    while b"\r\n" not in rest:
                        rest += self._more(deadline)
                    trailer, _, rest = rest.partition(b"\r\n")
                    if not trailer:
                        return bytes(body), rest
            while len(rest) < size + 2:
                rest += self._more(deadline)
            body += rest[:size]
            rest = rest[size + 2 :]
            if len(body) > max_body:
                out.too_large = True
                return bytes(body), b""

    def _more(self, deadline: float) -> bytes:
        try:
            return self._recv(deadline)
        except _Fault:
            raise _Fault("read") from None


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
