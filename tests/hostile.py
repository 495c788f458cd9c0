"""A hostile carrier on loopback: answers like a broken or malicious server would.

It stands in front of a real sandbox (same paths under the same prefixes, so signatures,
batching and rate limits stay the sandbox's) and lets a test change what comes back:

- ``rewrite(fn)``: ``fn(carrier, path, payload) -> payload`` edits each decoded JSON answer
  (inject escape sequences into every text field, drop lists, nest deep, ...);
- ``answer(fn)``: ``fn(request) -> Raw | None`` replaces the whole HTTP answer with raw bytes
  (HTML, truncation, a gzip bomb, an endless chunked body, odd headers); ``None`` passes through.

Everything it serves stays on 127.0.0.1 and every loop in it is bounded in bytes and time.
"""

from __future__ import annotations

import gzip
import http.client
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Every class of hostile text the security rules name: terminal escapes (OSC 52 clipboard write,
# OSC 0 title, clear screen, 8-bit C1 CSI), NUL and forged newlines, Rich markup, shell code.
ESCAPES = [
    "\x1b]52;c;ZWNobyBwd25lZA==\x07",
    "\x1b]0;pwned\x07",
    "\x1b[2J\x1b[H",
    "\x9b31m",
    "\x00",
    "\r\nFORGED 2026-01-01 delivered\n",
    "\t",
    "\x7f\x85\x8d",
]
MARKUP = ["[link=file:///etc/passwd]x[/link]", "[/]", "[bold red]", "[/bold red]"]
SHELL = ["$(touch${IFS}/tmp/waypost-pwned)", "`id`", "; rm -rf ~ #", "'\"\\"]
SURROGATE = "\ud800"


def hostile_text(original: str = "") -> str:
    """``original`` with every escape class, markup and shell code around it."""
    return "".join(ESCAPES[:4]) + original + "".join(ESCAPES[4:]) + "".join(MARKUP + SHELL)


def map_strings(value: Any, fn: Callable[[str], str], *, keys: Iterable[str] = ()) -> Any:
    """Apply ``fn`` to every string in a JSON value, except the values of ``keys``."""
    keep = set(keys)
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [map_strings(v, fn, keys=keep) for v in value]
    if isinstance(value, dict):
        return {k: v if k in keep else map_strings(v, fn, keys=keep) for k, v in value.items()}
    return value


@dataclass
class Seen:
    """One request the hostile server received."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes

    @property
    def carrier(self) -> str:
        """The sandbox prefix: ``ils``, ``trackingmore`` or ``pandapon``."""
        return urlsplit(self.path).path.strip("/").split("/", 1)[0]


@dataclass
class Raw:
    """A whole raw answer: ``body`` bytes or chunks (sent chunked), or ``close_after`` bytes."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    # Send the headers with this Content-Length but only this many body bytes, then close.
    truncate_to: int | None = None

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> Raw:
        """A JSON answer built from ``payload`` (may hold lone surrogates: sent as escapes)."""
        data = json.dumps(payload).encode("ascii")
        return cls(status, {"Content-Type": "application/json"}, data)

    @classmethod
    def html(cls, status: int = 502) -> Raw:
        """An HTML error page, as a proxy in front of a carrier sends."""
        page = b"<html><head><title>Bad Gateway</title></head><body><h1>502</h1></body></html>"
        return cls(status, {"Content-Type": "text/html"}, page)

    @classmethod
    def gzip_bomb(cls, megabytes: int = 1024) -> Raw:
        """A gzip body that inflates to ``megabytes`` MB of spaces (compressed ~1 MB/GB)."""
        chunk = b" " * (1 << 20)
        comp = gzip.compress(chunk, compresslevel=9)
        # Concatenated gzip members are one valid stream: cheap to build, huge to inflate.
        body = comp * megabytes
        return cls(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, body)

    @classmethod
    def endless(
        cls, seconds: float = 30.0, chunk: bytes = b'{"a":' * 1000, every: float = 0.0
    ) -> Raw:
        """A chunked body that never ends by itself (bounded here by ``seconds``), one chunk
        each ``every`` seconds (0: as fast as the client reads)."""

        def chunks() -> Iterator[bytes]:
            stop = time.monotonic() + seconds
            while time.monotonic() < stop:
                yield chunk
                if every:
                    time.sleep(every)

        return cls(200, {"Content-Type": "application/json"}, chunks())

    @classmethod
    def too_many(cls, retry_after: str) -> Raw:
        """A 429 with the given ``Retry-After`` (seconds or an HTTP date)."""
        return cls(
            429, {"Content-Type": "text/html", "Retry-After": retry_after}, b"<html>429</html>"
        )

    @classmethod
    def huge(cls, megabytes: int) -> Raw:
        """A syntactically valid JSON body of about ``megabytes`` MB, sent chunked."""

        def chunks() -> Iterator[bytes]:
            yield b'{"padding": "'
            block = b"x" * (1 << 20)
            for _ in range(megabytes):
                yield block
            yield b'"}'

        return cls(200, {"Content-Type": "application/json"}, chunks())

    @classmethod
    def truncated(cls, payload: Any) -> Raw:
        """A JSON answer whose Content-Length promises more than is sent before closing."""
        data = json.dumps(payload).encode("ascii")
        return cls(200, {"Content-Type": "application/json"}, data, truncate_to=len(data) // 2)

    @classmethod
    def deep(cls, depth: int = 100_000) -> Raw:
        """JSON nested ``depth`` lists deep."""
        return cls(200, {"Content-Type": "application/json"}, b"[" * depth + b"]" * depth)


Rewrite = Callable[[str, str, Any], Any]
Answer = Callable[[Seen], "Raw | None"]


class HostileServer:
    """A loopback proxy in front of ``upstream`` (a sandbox base URL) that misbehaves on demand."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.seen: list[Seen] = []
        self._rewrite: Rewrite | None = None
        self._answer: Answer | None = None
        self._server: ThreadingHTTPServer | None = None
        self._stopping = threading.Event()

    def rewrite(self, fn: Rewrite | None) -> None:
        """Edit every decoded JSON answer with ``fn(carrier, path, payload)``."""
        self._rewrite = fn

    def answer(self, fn: Answer | None) -> None:
        """Replace whole answers: ``fn(request)`` returns a ``Raw`` or ``None`` (pass through)."""
        self._answer = fn

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self, sandbox_env: dict[str, str]) -> dict[str, str]:
        """``sandbox_env`` with every base URL pointed at this server instead."""
        up = f"{self.upstream.scheme}://{self.upstream.netloc}"
        return {k: v.replace(up, self.base_url) for k, v in sandbox_env.items()}

    def start(self) -> HostileServer:
        """Serve from a daemon thread."""
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stop serving (ends endless bodies too)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def forward(self, seen: Seen) -> Raw:
        """The upstream sandbox's answer to ``seen``, rewritten if asked."""
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            headers = {
                k: v for k, v in seen.headers.items() if k not in {"host", "accept-encoding"}
            }
            conn.request(seen.method, seen.path, body=seen.body or None, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            out_headers = {
                k: v
                for k, v in resp.getheaders()
                if k.lower() not in {"content-length", "transfer-encoding", "connection"}
            }
            status = resp.status
        finally:
            conn.close()
        if self._rewrite is not None and body[:1] in (b"{", b"["):
            try:
                payload = json.loads(body)
            except ValueError:
                return Raw(status, out_headers, body)
            payload = self._rewrite(seen.carrier, urlsplit(seen.path).path, payload)
            body = json.dumps(payload).encode("ascii")  # escapes keep lone surrogates sendable
        return Raw(status, out_headers, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up mid-answer (a body over its limit, a timeout) is expected here.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server_owner: HostileServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        owner = self.server_owner
        owner.seen.append(seen)
        raw = owner._answer(seen) if owner._answer is not None else None
        if raw is None:
            raw = owner.forward(seen)
        self.send_response(raw.status)
        for key, value in raw.headers.items():
            self.send_header(key, value)
        if isinstance(raw.body, bytes | bytearray):
            self.send_header("Content-Length", str(len(raw.body)))
            self.end_headers()
            data = bytes(raw.body)
            if raw.truncate_to is not None:
                self.wfile.write(data[: raw.truncate_to])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in raw.body:
            if owner._stopping.is_set():
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        else:
            self.wfile.write(b"0\r\n\r\n")
            return
        self.close_connection = True

    def _safe(self) -> None:
        try:
            self._serve()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _safe

    def log_message(self, format: str, *args: Any) -> None:
        return


# Runs ``python -m waypost ARGS`` and, at exit, writes the process's VmHWM (peak RSS since its
# exec, in kB) to $WAYPOST_TEST_HWM. wait4's ru_maxrss would not do: Linux carries the parent's
# peak across fork and exec into it.
MEASURED = """
import atexit, os, runpy, sys
def _hwm():
    with open("/proc/self/status") as status, open(os.environ["WAYPOST_TEST_HWM"], "w") as out:
        out.write(next(l.split()[1] for l in status if l.startswith("VmHWM:")))
atexit.register(_hwm)
sys.argv[0] = "waypost"
runpy.run_module("waypost", run_name="__main__", alter_sys=True)
"""


def measured_command(python: str) -> list[str]:
    """The command prefix that runs waypost and records its peak RSS (see ``MEASURED``)."""
    return [python, "-c", MEASURED]
