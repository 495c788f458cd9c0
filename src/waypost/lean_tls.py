"""TLS for ``lean_http``'s ``https://`` origins (RFC 8446 through the standard library's ``ssl``),
with the verification rules and the fault boundaries of the model path's httpx client.

The context: ``http.Session`` sends https through
``httpx.AsyncHTTPTransport(verify=ssl.create_default_context())``; httpx 0.28's
``create_ssl_context`` hands a given context back unchanged (no certifi bundle, no
``SSL_CERT_FILE`` reading of its own), and httpcore sets ALPN ``http/1.1`` on it and passes the
URL's host as ``server_hostname``. So this context is ``ssl.create_default_context()`` too: the
system store by OpenSSL's default paths (which honour ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``),
certificates required, the host name checked, TLS 1.2 at least, ``SSLKEYLOGFILE`` as Python reads
it; then ALPN ``http/1.1``. A test pins these to the context of httpx's pool.

The connection: as anyio's ``TLSStream`` (httpcore's), an ``ssl.SSLObject`` over memory BIOs
that reads and writes the raw socket itself. So a reset stays a reset (``ssl.SSLSocket`` reports
it as an EOF), an end without close_notify is an end (httpx: ``standard_compatible=False``) for
the HTTP framing to judge, and every raw read gets what is left of one deadline.

Imported only for an ``https://`` origin: the plain-HTTP lean path never loads it.
"""

from __future__ import annotations

import io
import select
import socket
import ssl
import time
from typing import Any

ALPN = ["http/1.1"]  # httpcore's, with http2 off (httpx's default, and the Session's)
_READ = 65536  # anyio's TLSStream reads its transport 64 KiB at a time


def context() -> ssl.SSLContext:
    """A client context with the model path's verification rules (see the module's doc)."""
    made = ssl.create_default_context()
    made.set_alpn_protocols(ALPN)
    return made


class TLSSocket:
    """What ``http.client`` uses of a socket (``sendall``, ``makefile("rb")``, ``close``), over
    one TLS connection whose raw reads and writes share ``deadline``."""

    def __init__(self, raw: socket.socket, made: ssl.SSLContext, host: str, deadline: float):
        """Shake hands for ``host`` (SNI, the name checked) within ``deadline``.

        Raises TimeoutError past the deadline; any other fault (a refused or unverifiable
        certificate, a wrong host, an alert, an end or reset mid-handshake) as ``OSError``: each
        a ``ConnectError`` in httpx (httpcore maps every fault of ``start_tls`` so)."""
        self.raw = raw
        self.deadline = deadline
        self._readers = 0  # open ``makefile`` readers: as a socket's, they keep it open
        self._early = bytearray()  # decrypted by ``answer_started``, not read yet
        self._fault: OSError | None = None  # met by ``answer_started``, for the next read
        self._closing = False
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self.tls = made.wrap_bio(self._in, self._out, server_hostname=host)
        try:
            self._call(self.tls.do_handshake)
        except BaseException:
            raw.close()
            raise

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left

    def _flush(self) -> None:
        data = self._out.read()
        if data:
            self.raw.settimeout(self._left())
            self.raw.sendall(data)

    def _call(self, step: Any, *args: Any) -> Any:
        """``step(*args)`` of the SSLObject, feeding it raw reads until it can answer."""
        while True:
            try:
                result = step(*args)
            except ssl.SSLWantReadError:
                self._flush()
                self.raw.settimeout(self._left())
                data = self.raw.recv(_READ)  # a reset raises here: httpx's ReadError
                if data:
                    self._in.write(data)
                else:
                    self._in.write_eof()
            else:
                self._flush()
                return result

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        """Decrypted bytes into ``buffer``; 0 at the end (close_notify, or a bare end)."""
        view = memoryview(buffer).cast("B")
        size = nbytes or len(view)
        if self._early:
            size = min(size, len(self._early))
            view[:size] = self._early[:size]
            del self._early[:size]
            return size
        try:
            if self._fault is not None:
                fault, self._fault = self._fault, None
                raise fault
            return int(self._call(self.tls.read, size, view))
        except ssl.SSLEOFError:
            return 0  # an end without close_notify: the framing judges what was cut
        except ssl.SSLError as exc:
            if "UNEXPECTED_EOF" in str(exc):
                return 0
            raise

    def answer_started(self) -> bool:
        """Whether bytes of an answer have come (decrypted: the raw socket may hold only the
        server's session tickets, sent before it read a request), without waiting."""
        if self._early or self.tls.pending():
            return True
        if self._fault is not None:
            return False
        self.raw.settimeout(0)
        try:
            data = self.raw.recv(_READ)
        except BlockingIOError:
            return False
        except OSError as exc:
            self._fault = exc  # a reset: the next read reports it
            return False
        if not data:
            self._in.write_eof()
            return False
        self._in.write(data)
        try:
            self._early += self.tls.read(_READ)
        except ssl.SSLWantReadError:
            return False  # tickets only, or a record cut in two
        except ssl.SSLError as exc:
            self._fault = exc  # an end, an alert, a record that does not decrypt: for the read
            return False
        return bool(self._early)

    def answer_ended(self) -> bool:
        """Whether ``answer_started`` met the connection's end or a fault (for the next read)."""
        return self._fault is not None or self._in.eof

    def sendall(self, data: Any) -> None:
        """Encrypt and send all of ``data``."""
        view = memoryview(data).cast("B")
        while view:
            sent = int(self._call(self.tls.write, view))
            view = view[sent:]

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        """A buffered reader of the decrypted stream (``http.client`` reads its answers so)."""
        self._readers += 1
        return io.BufferedReader(_Reader(self))

    def settimeout(self, value: float | None) -> None:
        """Nothing: every raw read and write takes its timeout from ``deadline``."""

    def fileno(self) -> int:
        """The raw socket's descriptor."""
        return self.raw.fileno()

    def idle_closed(self) -> bool:
        """Whether an idle kept-alive connection has anything to read (its end, an alert,
        junk): httpcore looks at the raw socket the same way and drops such a connection."""
        if self._early or self._fault or self.tls.pending() or self._in.pending or self._in.eof:
            return True
        try:
            ready, _, _ = select.select([self.raw], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(ready)

    def close(self) -> None:
        """Close the raw socket once no reader is open (``http.client`` closes a connection
        whose answer ends it before reading that answer, as ``socket.close`` allows); no
        close_notify: httpx sends none either."""
        self._closing = True
        if not self._readers:
            self.raw.close()

    def release(self) -> None:
        """A reader was closed."""
        self._readers -= 1
        if self._closing and not self._readers:
            self.raw.close()


class _Reader(io.RawIOBase):
    def __init__(self, sock: TLSSocket) -> None:
        self.sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self.sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self.sock.release()
        super().close()
