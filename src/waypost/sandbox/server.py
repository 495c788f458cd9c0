"""The sandbox HTTP server: routing, request log, latency, control endpoints."""

from __future__ import annotations

import _thread
import bisect
import contextlib
import hashlib
import hmac
import importlib
import io
import json
import os
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from waypost import carriers
from waypost.errors import WaypostError
from waypost.sandbox.faults import (
    HANG_SECONDS,
    RETRY_AFTER,
    REWRITES,
    SLOW_SECONDS,
    Faults,
    hostile_answer,
    html_page,
    rewrite,
)
from waypost.sandbox.faults import parse as parse_faults

# Every registered carrier is emulated by the sandbox module of its name.
APPS: dict[str, str] = {name: f"waypost.sandbox.{name}" for name in carriers.names()}


@dataclass
class Request:
    """One request as an emulated carrier sees it."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    arrived: float | None = None  # the sandbox's clock when its first line came in

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Reply:
    """What an emulated carrier answers (``trickle``: seconds to spread the body over;
    ``hang``: never answer)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0
    hang: bool = False

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        """A JSON answer."""
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        merged = {"Content-Type": "application/json;charset=UTF-8", **(headers or {})}
        return cls(status, data, merged)


@dataclass
class LogEntry:
    """One line of the request log that tests and benchmarks read."""

    t: float
    carrier: str
    method: str
    path: str
    status: int = 0
    done: float = 0.0
    numbers: int = 0
    rejected: bool = False
    fault: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    digest: str = ""


class CarrierApp(Protocol):
    """One emulated carrier."""

    name: str

    def handle(self, request: Request, entry: LogEntry) -> Reply:
        """Answer one request under this carrier's prefix."""

    def env(self, base: str) -> dict[str, str]:
        """The ``WAYPOST_*`` variables that point waypost at this emulation."""

    def add_event(self, number: str, description: str, location: str | None) -> bool:
        """Append an event now to a demo shipment (False: unknown number)."""

    def demo_numbers(self) -> list[tuple[str, str]]:
        """(number, what it shows) pairs for the banner."""


# An app may also define ``control(action, request) -> Reply``: it then answers
# ``/_sandbox/<name>/<action>`` (its own knobs: limits, preloads, fault injection).


class Sandbox:
    """The emulator; ``start()`` serves it from a background thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency_ms: float = 0.0,
        now: Callable[[], datetime] | None = None,
        enforce_limits: bool = True,
        clock: Callable[[], float] = time.monotonic,
        tls: Any = None,
    ) -> None:
        # ``tls``: a server-side ``ssl.SSLContext`` to serve https with (tests, benchmarks).
        self.tls = tls
        self.host = host
        self.port = port
        self.latency = latency_ms / 1000.0
        self.enforce_limits = enforce_limits
        self.now = now or (lambda: datetime.now().astimezone())
        self.lock = threading.RLock()
        self.log: list[LogEntry] = []
        # Arrivals, rate-limit windows, penalties and latency all read this clock (a test's
        # virtual clock, shared with waypost's event loop, or time.monotonic).
        self.clock = clock
        self.started = clock()
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._penalties: dict[str, float] = {}
        self.rejections: dict[tuple[str, str], int] = {}
        self.apps: dict[str, CarrierApp] = {}
        for name, path in APPS.items():
            self.apps[name] = importlib.import_module(path).App(self)
        self.sink: list[Any] = []
        # Set for a detached sandbox: proves on /_sandbox/identity that it is the one recorded.
        self.token: str | None = None
        self.faults = Faults()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` when serving TLS)."""
        return f"{'https' if self.tls is not None else 'http'}://{self.host}:{self.port}"

    @property
    def stopped(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stopping.is_set()

    def env(self) -> dict[str, str]:
        """Every variable that points waypost at this sandbox."""
        out: dict[str, str] = {}
        for name, app in self.apps.items():
            out.update(app.env(f"{self.base_url}/{name}"))
        return out

    def start(self) -> Sandbox:
        """Bind and serve in a daemon thread; returns self."""
        sandbox = self

        class Handler(_Handler):
            owner = sandbox

        self._server = _Server((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self._server.tls = self.tls
        self._server.owner = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the current thread until interrupted (the process is the sandbox's own)."""
        # Threads whose answer is due get the GIL within 0.2 ms instead of Python's default
        # 5 ms: concurrent answers go out at their due time, not queued behind each other.
        sys.setswitchinterval(0.0002)
        if self._server is None:
            self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stopping.set()
        # Taken, not read twice: two threads stopping one sandbox at once close it once.
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def admit(
        self,
        carrier: str,
        endpoint: str,
        per_second: float,
        penalty: float = 0.0,
        at: float | None = None,
    ) -> bool:
        """Count one arrival (at ``at``, on ``self.clock``; default now) against "at most
        ``per_second`` requests in any 1 s window".

        False (and one more rejection counted) when the request exceeds the limit, or while the
        carrier's ``penalty`` pause after an earlier rejection lasts. Disabled by
        ``enforce_limits=False``.
        """
        now = self.clock() if at is None else at
        with self.lock:
            if not self.enforce_limits:
                return True
            key = (carrier, endpoint)
            if self._penalties.get(carrier, 0.0) > now:
                self.rejections[key] = self.rejections.get(key, 0) + 1
                return False
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= per_second:
                self.rejections[key] = self.rejections.get(key, 0) + 1
                if penalty:
                    self._penalties[carrier] = now + penalty
                return False
            bisect.insort(window, now)  # threads may admit in a different order than they arrived
            return True

    def penalize(self, carrier: str, seconds: float) -> None:
        """Start ``carrier``'s penalty pause now, as if a request had exceeded a limit."""
        with self.lock:
            self._penalties[carrier] = self.clock() + seconds

    def penalty_left(self, carrier: str) -> float:
        """Seconds left of ``carrier``'s penalty pause (0 when none)."""
        with self.lock:
            return max(0.0, self._penalties.get(carrier, 0.0) - self.clock())

    def rejected(self, carrier: str | None = None) -> int:
        """How many requests the emulated rate limits refused."""
        with self.lock:
            return sum(n for (c, _), n in self.rejections.items() if carrier in (None, c))

    def reset_log(self) -> None:
        """Forget every logged request."""
        with self.lock:
            self.log.clear()
            self.rejections.clear()
            self._windows.clear()
            self._penalties.clear()

    def entries(self, carrier: str | None = None) -> list[LogEntry]:
        """A copy of the request log, optionally for one carrier."""
        with self.lock:
            return [e for e in self.log if carrier is None or e.carrier == carrier]

    def dispatch(self, request: Request) -> Reply:
        """Route one request to its carrier app or to a control endpoint."""
        reply, entry = self.answer(request)
        if entry is not None:
            # The latency is the server's answer time: its own work counts towards it, as on a
            # real server with cores of its own, instead of adding to it on this shared machine.
            wait = self.due(entry) - self.clock()
            if wait > 0:
                time.sleep(wait)
            self.done(entry)
        return reply

    def due(self, entry: LogEntry) -> float:
        """When (on ``self.clock``) the answer to ``entry`` goes out: its arrival + latency."""
        return self.started + entry.t + self.latency

    def done(self, entry: LogEntry) -> None:
        """Stamp ``entry`` answered now."""
        entry.done = self.clock() - self.started

    def answer(self, request: Request) -> tuple[Reply, LogEntry | None]:
        """The reply to one request, before any latency, and its log entry (None: a control
        endpoint or an unknown prefix, answered at once without latency)."""
        head, _, rest = request.path.lstrip("/").partition("/")
        if head == "_sandbox":
            return self._control(rest, request), None
        app = self.apps.get(head)
        arrived = request.arrived or self.clock()
        entry = LogEntry(arrived - self.started, head, request.method, "/" + rest)
        if app is None:
            not_found = Reply(
                404,
                b"<html><body><h1>404 Not Found</h1></body></html>",
                {"Content-Type": "text/html"},
            )
            return not_found, None
        entry.params = dict(request.query)
        # The same request sent again (a retry) has the same digest.
        entry.digest = hashlib.sha1(
            request.path.encode() + repr(sorted(request.query.items())).encode() + request.body,
            usedforsecurity=False,
        ).hexdigest()[:12]
        with self.lock:
            self.log.append(entry)
        sub = Request(request.method, "/" + rest, request.query, request.headers, request.body)
        fault = self.faults.pick(head, sub.path)
        entry.fault = fault
        reply = self._faulty(fault, app, sub, entry) if fault else app.handle(sub, entry)
        entry.status = reply.status
        return reply, entry

    def inject(self, spec: str) -> None:
        """Replace the fault rules (``faults.parse`` syntax; empty clears)."""
        self.faults.set(parse_faults(spec))

    def _faulty(self, kind: str, app: CarrierApp, request: Request, entry: LogEntry) -> Reply:
        html = {"Content-Type": "text/html"}
        if kind in ("500", "502", "503"):
            return Reply(int(kind), html_page(kind), html)
        if kind == "429":
            return Reply(429, html_page(kind), {**html, "Retry-After": RETRY_AFTER})
        if kind == "empty":
            return Reply(200, b"", {"Content-Type": "application/json"})
        if kind == "shape":
            return Reply.json(["unexpected", {"shape": True}, 42])
        if kind == "hang":
            return Reply(hang=True)
        hostile = hostile_answer(kind)
        if hostile is not None:
            status, headers, body, trickle = hostile
            return Reply(status, body, dict(headers), trickle=trickle)
        real = app.handle(request, entry)
        if kind in REWRITES:
            return Reply(real.status, rewrite(kind, real.body), real.headers)
        if kind == "truncated":
            return Reply(real.status, real.body[: max(1, len(real.body) // 2)], real.headers)
        real.trickle = SLOW_SECONDS
        return real

    def wait_stopping(self, seconds: float) -> None:
        """Block a hanging answer until the sandbox stops (or ``seconds`` pass)."""
        self._stopping.wait(seconds)

    def wait_stopping_for(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the sandbox stops first (then True)."""
        return self._stopping.wait(seconds)

    def _control(self, action: str, request: Request) -> Reply:
        head, _, sub = action.partition("/")
        owner = self.apps.get(head)
        if owner is not None and sub and hasattr(owner, "control"):
            reply: Reply = owner.control(sub, request)
            return reply
        if action == "log" and request.method == "GET":
            carrier = request.query.get("carrier")
            return Reply.json([asdict(e) for e in self.entries(carrier)])
        if action == "stats" and request.method == "GET":
            with self.lock:
                by_carrier: dict[str, int] = {}
                for e in self.log:
                    by_carrier[e.carrier] = by_carrier.get(e.carrier, 0) + 1
                rejected = {f"{c}{p}": n for (c, p), n in self.rejections.items()}
            return Reply.json({"requests": by_carrier, "rejections": rejected})
        if action == "reset" and request.method == "POST":
            self.reset_log()
            return Reply.json({"ok": True})
        if action == "event" and request.method == "POST":
            try:
                data = request.json()
                app = self.apps[data["carrier"]]
                ok = app.add_event(
                    str(data["number"]), str(data["description"]), data.get("location")
                )
            except (ValueError, KeyError, TypeError) as exc:
                return Reply.json({"ok": False, "error": str(exc)}, 400)
            return Reply.json({"ok": ok}, 200 if ok else 404)
        if action == "sink":
            # A receiver for notification tests (Apprise's json:// posts land here).
            if request.method == "POST":
                with self.lock:
                    self.sink.append(request.json() if request.body else None)
                return Reply.json({"ok": True})
            with self.lock:
                return Reply.json(list(self.sink))
        if action == "faults":
            try:
                spec = request.json().get("spec", "") if request.method == "POST" else ""
                self.inject(spec if request.method == "POST" else "")
            except (ValueError, AttributeError, WaypostError) as exc:
                return Reply.json({"ok": False, "error": str(exc)}, 400)
            return Reply.json({"ok": True})
        if action == "env" and request.method == "GET":
            return Reply.json(self.env())
        if action == "identity" and request.method == "POST":
            try:
                token = request.json().get("token")
            except (ValueError, AttributeError):
                token = None
            if self.token is None or not isinstance(token, str):
                return Reply.json({"ok": False}, 403)
            if not hmac.compare_digest(token.encode(), self.token.encode()):
                return Reply.json({"ok": False}, 403)
            return Reply.json({"ok": True, "pid": os.getpid()})
        return Reply.json({"ok": False, "error": f"unknown control endpoint {action!r}"}, 404)


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops connections when clients open more at once,
    # and the kernel retries them a second later: benchmarks would measure that second.
    request_queue_size = 128
    daemon_threads = True
    tls: Any = None
    owner: Sandbox

    def server_activate(self) -> None:
        super().server_activate()
        if _STAMPS:
            with contextlib.suppress(OSError):  # the connections it takes inherit it
                self.socket.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)

    def process_request(self, request: Any, client_address: Any) -> None:
        # ``Thread.start`` waits for the new thread to run, which, while other threads compute
        # answers, can take milliseconds: the next connection would wait for it to be taken.
        _thread.start_new_thread(self.process_request_thread, (request, client_address))

    def finish_request(self, request: Any, client_address: Any) -> None:
        # With TLS, the handshake is made here, in the connection's own thread.
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10.0)
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except OSError:
            return  # a client that refused the certificate, or hung up
        wrapped.settimeout(None)
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a body over its limit, a timeout) is no server error.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


# Linux's SO_TIMESTAMPNS (asm-generic/socket.h; Python 3.11's socket module does not name it):
# each read of a TCP socket says when the kernel received its bytes.
_SO_TIMESTAMPNS = 35
_STAMPS = sys.platform == "linux"


class _StampedReads(io.RawIOBase):
    """A socket's reads, each noting when the kernel received the bytes it returned."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received: float | None = None  # ``time.time()`` of the last read's bytes

    def readable(self) -> bool:
        """Yes."""
        return True

    def readinto(self, buffer: Any) -> int:
        """One ``recvmsg_into``, its time stamp kept."""
        size, ancillary, _, _ = self.sock.recvmsg_into([buffer], socket.CMSG_SPACE(16))
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
                seconds, nanoseconds = struct.unpack("qq", data[:16])
                self.received = seconds + nanoseconds / 1e9
        return size


class _Handler(BaseHTTPRequestHandler):
    owner: Sandbox
    protocol_version = "HTTP/1.1"
    server_version = "waypost-sandbox"
    # Headers and body go out in two writes; with Nagle on, the body of a small answer waits for
    # the client's delayed ACK (40 ms on Linux). Real servers set TCP_NODELAY too.
    disable_nagle_algorithm = True
    _arrived: float | None = None

    _reads: _StampedReads | None = None

    def setup(self) -> None:
        super().setup()
        if _STAMPS and self.server.tls is None and self.owner.clock is time.monotonic:  # type: ignore[attr-defined]
            self._reads = _StampedReads(self.connection)
            self.rfile.close()  # the plain reader ``setup`` made (it holds the socket open)
            self.rfile = io.BufferedReader(self._reads)

    def parse_request(self) -> bool:
        # Called the moment the request line has been read: the arrival time, taken before the
        # headers and body are parsed, so that a request that waited for the GIL behind another
        # one's work is not also answered later (a real server has cores of its own). Where the
        # kernel says when the bytes of the line came, that is the arrival.
        now = self.owner.clock()
        received = self._reads.received if self._reads is not None else None
        if self._reads is not None:
            self._reads.received = None  # a later request's line comes with a read of its own
        age = time.time() - received if received is not None else 0.0
        self._arrived = now - age if 0.0 < age < 5.0 else now  # a clock that jumped: now
        return super().parse_request()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, url.path, query, headers, body, self._arrived)
        reply = self.owner.dispatch(request)
        if reply.hang:
            self.owner.wait_stopping(HANG_SECONDS)
            self.close_connection = True
            return
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if not reply.trickle:
            self.wfile.write(reply.body)
            return
        steps = max(1, min(len(reply.body), 30))
        size = -(-len(reply.body) // steps)
        for i in range(0, len(reply.body), size):
            self.wfile.write(reply.body[i : i + size])
            self.wfile.flush()
            if self.owner.wait_stopping_for(reply.trickle / steps):
                return

    def _safe(self) -> None:
        try:
            self._serve()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (timeouts, slow and hanging faults): nothing left to answer.
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _safe

    def log_message(self, format: str, *args: Any) -> None:
        return
