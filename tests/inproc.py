"""A virtual clock and an in-process transport to the sandbox, for strategy and rate-limit tests.

``VirtualClock`` is real monotonic time plus the time skipped so far: it never runs backwards and
never stands still, so a real process or socket that talks to the sandbox meanwhile still sees
real spacing. ``VirtualLoop`` is an asyncio event loop on that clock which, whenever it would
only wait for a timer (a rate limiter's spacing, a 429 pause, a retry's backoff, ``--timeout``),
skips the clock ahead to the timer instead of sleeping. It waits for real while file
descriptors other than its own wake-up pipe are registered (sockets, subprocess pipes) or an
executor job runs, so real I/O is never cut short by a skipped timeout.

``SandboxTransport`` hands each httpx request straight to ``Sandbox.answer`` in the caller's
event loop, without sockets: the sandbox's rate-limit windows, penalties and latency count on
the same clock (``Sandbox(clock=...)``), the latency is waited with ``asyncio.sleep`` (so
concurrent answers overlap as on a real server), and trickled or hanging answers are streamed
on the clock too. Requests to any other address (a hostile proxy, a closed port) go out over
real sockets, as without it.

With both, a test of "5 list calls spaced 1 s" asserts the same gaps in the sandbox's request
log while taking milliseconds of real time. The pytest fixture ``clock`` (tests/conftest.py)
installs them.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from waypost.sandbox import Sandbox
from waypost.sandbox.faults import HANG_SECONDS
from waypost.sandbox.server import Request


class VirtualClock:
    """Monotonic seconds: real time plus every skip so far (``advance``); after
    ``stand_still()``, the skips alone."""

    def __init__(self) -> None:
        self.skipped = 0.0
        self._still: float | None = None
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        """Now on this clock."""
        if self._still is not None:
            return self._still + self.skipped
        return time.monotonic() + self.skipped

    def stand_still(self) -> None:
        """From now on only skips move the clock: a test of exact timings on an in-process
        sandbox (no real process, socket or thread in the way) then gives the same result on a
        busy machine as on an idle one, where real time spent computing would otherwise count."""
        with self._lock:
            if self._still is None:
                self._still = time.monotonic()

    def advance(self, seconds: float) -> None:
        """Skip ``seconds`` ahead (what an idle event loop does instead of sleeping)."""
        if seconds > 0:
            with self._lock:
                self.skipped += seconds

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` on this clock: skips ahead (``quick_tm.Clock``, for the lean paths'
        permits, which wait only while no request of theirs is out)."""
        self.advance(seconds)


def hold_passed(data: Path, clock: VirtualClock | None = None, seconds: float = 1.0) -> None:
    """Let ``seconds`` pass between one run and the next without waiting for them: the
    last-request times waypost keeps for its carried spacing (``*.limits`` in the store of
    ``data``; not the 429 pauses) move that far back, and ``clock`` (the sandbox's) that far
    ahead. A run in a process of its own then starts without first waiting out the previous
    run's 1 s hold, which only counts in real time there."""
    from waypost.store import Store

    with Store.open(data) as store:
        rows = store.db.execute(
            "SELECT namespace, key FROM state WHERE namespace LIKE '%.limits'"
            " AND key != 'paused_until'"
        ).fetchall()
        for namespace, key in rows:
            last = store.state.get(namespace, key)
            if isinstance(last, int | float):
                store.state.put(namespace, key, last - seconds)
    if clock is not None:
        clock.advance(seconds)


class _SkippingSelector:
    """The loop's selector, skipping the clock ahead instead of blocking when nothing real can
    happen meanwhile."""

    def __init__(self, real: Any, loop: VirtualLoop) -> None:
        self._real = real
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        """Ready events; a wait for the next timer alone becomes a skip of the clock."""
        loop = self._loop
        # Our own wake-up pipe is always registered; anything more is real I/O in flight.
        if loop.executor_jobs or len(self._real.get_map()) > 1:
            events: list[Any] = self._real.select(timeout)
            return events
        ready: list[Any] = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timer and no I/O: only another thread can wake us
            waited: list[Any] = self._real.select(None)
            return waited
        loop.clock.advance(timeout)
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop whose time is ``clock`` and which skips ahead when it would only wait."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self.clock = clock
        self.executor_jobs = 0
        self._selector = _SkippingSelector(self._selector, self)  # type: ignore[has-type]

    def time(self) -> float:
        """Now on the virtual clock."""
        return self.clock.monotonic()

    def run_in_executor(self, executor: Any, func: Callable[..., Any], *args: Any) -> Any:
        """As usual; while the job runs the clock follows real time (no skipping)."""
        future = super().run_in_executor(executor, func, *args)
        self.executor_jobs += 1

        def finished(_: object) -> None:
            self.executor_jobs -= 1

        future.add_done_callback(finished)
        return future


class VirtualPolicy(asyncio.DefaultEventLoopPolicy):
    """Every new event loop (``asyncio.run``) is a ``VirtualLoop`` on ``clock``."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self.clock = clock

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        """A loop on the virtual clock."""
        return VirtualLoop(self.clock)


class _Body(httpx.AsyncByteStream):
    """A reply's body, trickled over ``trickle`` seconds of the loop's clock like the server's."""

    def __init__(self, body: bytes, trickle: float) -> None:
        self.body = body
        self.trickle = trickle

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if not self.trickle:
            yield self.body
            return
        steps = max(1, min(len(self.body), 30))
        size = -(-len(self.body) // steps)
        for i in range(0, len(self.body), size):
            yield self.body[i : i + size]
            await asyncio.sleep(self.trickle / steps)


class SandboxTransport(httpx.AsyncBaseTransport):
    """httpx requests answered by ``sandbox`` in the caller's event loop, without sockets."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.requests = 0
        self._elsewhere: dict[str, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as the sandbox's HTTP handler would."""
        box = self.sandbox
        if (request.url.host, request.url.port) != (box.host, box.port):
            return await self._other(request.url.scheme).handle_async_request(request)
        if box.stopped:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        self.requests += 1
        body = await request.aread()
        target = urlsplit(request.url.raw_path.decode("ascii"))
        query = {k: v[-1] for k, v in parse_qs(target.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in request.headers.items()}
        arrived = box.clock()
        reply, entry = box.answer(
            Request(request.method, target.path, query, headers, body, arrived)
        )
        if entry is not None:
            await asyncio.sleep(max(0.0, box.due(entry) - box.clock()))
            box.done(entry)
        if reply.hang:
            await asyncio.sleep(HANG_SECONDS)  # until the client gives up, as over a socket
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        return httpx.Response(
            reply.status,
            headers=[*reply.headers.items(), ("Content-Length", str(len(reply.body)))],
            stream=_Body(reply.body, reply.trickle),
            request=request,
        )

    def _other(self, scheme: str) -> httpx.AsyncHTTPTransport:
        """Real connections to other addresses; as in waypost's own session, plain HTTP does not
        load the CA store (40 ms a transport) and HTTPS verifies against it."""
        if scheme not in self._elsewhere:
            https = scheme == "https"
            context = (
                ssl.create_default_context() if https else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            )
            self._elsewhere[scheme] = httpx.AsyncHTTPTransport(verify=context)
        return self._elsewhere[scheme]

    async def aclose(self) -> None:
        """Close the real connections to other addresses, if any were made."""
        for transport in self._elsewhere.values():
            await transport.aclose()
