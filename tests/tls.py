"""Loopback TLS for the tests: a test CA (``trustme``) that both paths trust through
``SSL_CERT_FILE``, server contexts with its certificates, a CA nobody trusts, and a raw TLS
server whose handlers write what they like (before, during or after the handshake)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path

import trustme

Handler = Callable[[int, socket.socket], None]


@cache
def authority() -> trustme.CA:
    """The tests' CA (one per process: making a key costs a few milliseconds)."""
    return trustme.CA()


@cache
def stranger() -> trustme.CA:
    """A CA that no client here trusts."""
    return trustme.CA()


def ca_file(directory: Path, ca: trustme.CA | None = None) -> str:
    """``ca``'s certificate (the tests' CA by default) as a PEM file for ``SSL_CERT_FILE``."""
    path = directory / "ca.pem"
    (ca or authority()).cert_pem.write_to_path(str(path))
    return str(path)


def server_context(*names: str, ca: trustme.CA | None = None) -> ssl.SSLContext:
    """A server context with a certificate for ``names`` (default: 127.0.0.1 and localhost)
    signed by ``ca`` (default: the tests' CA)."""
    cert = (ca or authority()).issue_cert(*(names or ("127.0.0.1", "localhost")))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


def read_head(sock: socket.socket) -> bytes:
    """One request's head (a GET's whole request) from ``sock``, or b"" at its end."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            return b""
        data += more
    return data.partition(b"\r\n\r\n")[0]


class RawTLSServer:
    """Accepts TCP connections on 127.0.0.1 and hands the n-th to ``handler(n, sock)``: the
    raw socket, for a handler that never shakes hands, or ``wrap(sock)`` for one that does."""

    def __init__(self, handler: Handler, context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.context = context or server_context()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.alpn: list[str | None] = []
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def port(self) -> int:
        """The port listened on."""
        return int(self.listener.getsockname()[1])

    def url(self, path: str = "/x", host: str = "127.0.0.1") -> str:
        """An https URL of this server."""
        return f"https://{host}:{self.port}{path}"

    def wrap(self, sock: socket.socket) -> ssl.SSLSocket:
        """Shake hands as the server (recording the protocol the client's ALPN chose)."""
        sock.settimeout(10)
        wrapped = self.context.wrap_socket(sock, server_side=True)
        self.alpn.append(wrapped.selected_alpn_protocol())
        return wrapped

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

    def close(self) -> None:
        """Stop accepting (handlers waiting on ``stop`` end)."""
        self.stop.set()
        self.listener.close()
