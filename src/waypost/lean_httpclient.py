"""``lean_http``'s connections over the standard library's ``http.client`` (RFC 9112): the
``https://`` ones (``lean_tls``, ``quick_tm``), and the answers ``lean_http``'s own reader leaves
to it (anything but a plain 200 with a ``Content-Length`` body), read from the bytes it has
received so far, so that every answer is framed and judged as before.

``http.client`` reports what ``h11`` (httpx's parser) refuses as ``HTTPException`` or as header
defects; each becomes a ``protocol`` fault (httpx's ``RemoteProtocolError``).
"""

from __future__ import annotations

import io
import math
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from waypost import lean_http, quick
from waypost.lean_http import ACCEPT_ENCODING, USER_AGENT, Exchange, Origin

if quick.ENABLED and "http.client" not in sys.modules and "ssl" not in sys.modules:
    # In the waypost process, http.client without the ssl module (~13 ms) it imports only for
    # its HTTPSConnection: https connections are made by lean_tls, and httpx imports ssl
    # itself should the run go on to the model path.
    sys.modules["ssl"] = None  # type: ignore[assignment]
    try:
        import http.client
    finally:
        del sys.modules["ssl"]

import http.client
from email.errors import FirstHeaderLineIsContinuationDefect, MissingHeaderBodySeparatorDefect

if TYPE_CHECKING:
    import socket

_PIECE = lean_http._PIECE
# How the email parser under http.client reports a header line without a name or a colon.
_BAD_LINES = (MissingHeaderBodySeparatorDefect, FirstHeaderLineIsContinuationDefect)


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
    """The bytes ``http.client`` sends for one POST (head and body)."""
    recorder = _Recorder(origin)
    _put(recorder, origin, payload)
    return b"".join(recorder.sent)


class _Prefixed(io.RawIOBase):
    """A socket's stream with the bytes already received from it first."""

    def __init__(self, sock: socket.socket, data: bytes) -> None:
        self.sock, self.data = sock, data

    def readable(self) -> bool:
        """Yes."""
        return True

    def readinto(self, buffer: Any) -> int:
        """The received bytes first, then reads of the socket."""
        if self.data:
            size = min(len(buffer), len(self.data))
            buffer[:size] = self.data[:size]
            self.data = self.data[size:]
            return size
        return self.sock.recv_into(buffer)


class _Received:
    """What ``HTTPResponse`` reads from: a socket whose first bytes were read already."""

    def __init__(self, sock: socket.socket, data: bytes) -> None:
        self.sock, self.data = sock, data

    def makefile(self, mode: str) -> io.BufferedReader:
        """A reader of the whole stream."""
        return io.BufferedReader(_Prefixed(self.sock, self.data))


def read_received(sock: socket.socket, data: bytes, out: Exchange, max_body: int) -> bool:
    """The answer whose first bytes ``data`` were read from ``sock``, read into ``out`` as
    ``_Connection`` reads one; True when the connection is done with. Raises ``lean_http``'s
    fault for what http.client refuses."""
    resp = http.client.HTTPResponse(_Received(sock, data), method="POST")  # type: ignore[arg-type]
    try:
        try:
            resp.begin()
            done = read_into(out, resp, max_body)
        finally:
            resp.close()
    except http.client.HTTPException:
        raise lean_http._Fault("protocol") from None
    return done or bool(resp.will_close)


class _Connection(http.client.HTTPConnection, lean_http.Exchanging):
    """One kept-alive connection, used by one thread at a time."""

    def __init__(self, origin: Origin, timeout: float) -> None:
        super().__init__(origin.host, origin.port, timeout=timeout)
        self._create_connection = lean_http._connect
        self.origin = origin
        self.budget = timeout
        self.deadline = math.inf  # of the exchange under way (``send_by``)
        self.fresh = False  # connected, nothing sent yet
        self._opening: threading.Thread | None = None
        self._opened: lean_http._Fault | None = None
        self._connecting: socket.socket | None = None  # a plain connect under way (``open_soon``)

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
            raise lean_http._Fault("timeout") from None
        except OSError:
            self._drop()
            raise lean_http._Fault("connect") from None
        self.sock = lean_http._Socket(fileno=self.sock.detach())
        self.fresh = True

    def _drop(self) -> None:
        if self.sock is not None:
            self.sock.close()  # a TCP connection whose handshake failed (closed already)
            self.sock = None

    def open_soon(self, address: Any = None) -> None:
        """Start connecting, so that a wave's connections open together as httpx's do; the
        first ``send_by`` waits for it (within one budget). Plain http to ``address`` (one
        ``getaddrinfo`` entry): a non-blocking connect, no thread; https (or no address): a
        thread that connects and shakes hands."""
        if address is not None and not self.origin.tls and self._connect_soon(address):
            return

        def open_() -> None:
            self.deadline = time.monotonic() + self.budget
            try:
                self.connect()
            except lean_http._Fault as fault:
                self._opened = fault

        self._opening = threading.Thread(target=open_, daemon=True)
        self._opening.start()

    def _connect_soon(self, address: Any) -> bool:
        import errno
        import socket

        family, kind, proto, _, where = address
        try:
            sock = socket.socket(family, kind, proto)
        except OSError:
            return False
        sock.setblocking(False)
        if sock.connect_ex(where) not in (0, errno.EINPROGRESS):
            sock.close()
            return False  # refused at once: the threaded connect tries every address
        self._connecting = sock
        self.deadline = time.monotonic() + self.budget
        return True

    def _finish_connect(self, sock: socket.socket) -> None:
        """Wait (within the budget) for ``_connect_soon``'s connect; a failed one is tried again
        as ``connect`` would (every address), its fault kept for the next ``send_by``."""
        import select
        import socket

        try:
            left = max(0.0, self.deadline - time.monotonic())
            _, writable, _ = select.select([], [sock], [], left)
            if not writable:
                sock.close()
                self._opened = lean_http._Fault("timeout")
                return
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                sock.close()
                self.connect()
                return
            sock.settimeout(self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = lean_http._Socket(fileno=sock.detach())
            self.fresh = True
        except lean_http._Fault as fault:
            self._opened = fault
        except (OSError, ValueError):
            sock.close()
            self._opened = lean_http._Fault("connect")

    def opened(self) -> None:
        """Wait for ``open_soon``'s connect, if any (its fault goes to the next ``send_by``)."""
        if self._connecting is not None:
            sock, self._connecting = self._connecting, None
            self._finish_connect(sock)
        if self._opening is not None:
            self._opening.join()
            self._opening = None

    def close(self) -> None:
        """Close the connection (and a connect still under way)."""
        if self._connecting is not None:
            self._connecting.close()
            self._connecting = None
        super().close()

    def send_request(self, payload: bytes) -> None:
        """Put one request on the wire (a POST of ``payload``; ``quick_tm`` sends GETs)."""
        _put(self, self.origin, payload)

    def _exchange(self, out: Exchange, payload: bytes, max_body: int, deadline: float) -> None:
        try:
            resp = self._ask(payload, deadline)
            try:
                self._read(out, resp, max_body)
            finally:
                resp.close()  # a kept-alive connection stays open for the next request
            return
        except lean_http._Fault as fault:
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
        except lean_http._Fault as fault:
            if not (reused and fault.kind in ("closed", "unsent")):
                raise
        # A kept-alive connection the server had closed: httpx opens a new one too.
        self.close()
        return self._once(payload, deadline)

    def send_by(self, payload: bytes, deadline: float) -> None:
        """Send one request on a live connection (a fresh one for a kept-alive one the server
        closed), its reads and writes bound by ``deadline``; ``_Fault("unsent")`` if it could not
        go out."""
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
            raise lean_http._Fault("unsent") from None
        except TimeoutError:
            raise
        except OSError:
            if not self.origin.tls:
                raise
            raise lean_http._Fault("unsent") from None  # an ssl.SSLError of a TLS write: as a reset

    def _idle_closed(self) -> bool:
        sock: Any = self.sock
        return bool(sock.idle_closed()) if self.origin.tls else lean_http._idle_closed(sock)

    def _once(self, payload: bytes, deadline: float) -> http.client.HTTPResponse:
        self.send_by(payload, deadline)
        try:
            return self.getresponse()
        except http.client.RemoteDisconnected:
            raise lean_http._Fault("closed") from None  # not a byte of an answer

    def _read(self, out: Exchange, resp: http.client.HTTPResponse, max_body: int) -> None:
        if read_into(out, resp, max_body):
            self.close()


def read_into(out: Exchange, resp: http.client.HTTPResponse, max_body: int) -> bool:
    """Read one answer into ``out`` as the model path would take it; True when the connection
    is done with (a body over ``max_body``: not read to its end)."""
    if resp.status < 200 or any(isinstance(d, _BAD_LINES) for d in resp.msg.defects):
        raise lean_http._Fault("protocol")  # 1xx other than 100; a header line h11 refuses
    out.status = resp.status
    out.headers = [(name, value.strip()) for name, value in resp.getheaders()]
    coding = out.header("transfer-encoding")
    length = out.header("content-length")
    if (coding and coding.lower() != "chunked") or (length and not length.isdigit()):
        raise lean_http._Fault("protocol")  # as h11 refuses them
    identity = out.header("content-encoding").strip().lower() in ("", "identity")
    if not coding and length and int(length) > max_body and identity:
        # Announced: not even started (the model path looks at a coded one's inflated size).
        out.too_large = True
        return True
    body = bytearray()
    while piece := resp.read1(_PIECE):  # one read a piece, each within the deadline
        body += piece
        if len(body) > max_body:
            out.too_large = True
            break
    if resp.length and not out.too_large:
        # read1 ends a Content-Length body the server cut short without a word.
        raise http.client.IncompleteRead(bytes(body), resp.length)
    out.body = bytes(body)
    return out.too_large
