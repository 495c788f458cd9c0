"""TrackingMore v4 at its limits when the moment a request is on the socket is known: a
permit comes back ``ARRIVAL_SLACK`` + 1 s after the write (not 1 s after the answer), so a
second window of reads starts one network jitter, not one round trip, after the first; the
sandbox's windows, counted at arrival, never see more than the documented 10 reads/s or 3
creates/s. On the virtual clock (tests/inproc.py): no test waits for real."""

from __future__ import annotations

import asyncio
import random
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.inproc import VirtualClock
from waypost import http
from waypost.carriers.base import Answer, Query, TrackOptions
from waypost.carriers.trackingmore import v4 as tm4
from waypost.http import ARRIVAL_JITTER, ARRIVAL_SLACK, RateLimiter, Session
from waypost.sandbox import Sandbox
from waypost.sandbox.server import LogEntry, Request
from waypost.sandbox.trackingmore import App, synthetic_number


@pytest.fixture(autouse=True)
def _still(clock: VirtualClock) -> None:
    """Exact arrival times: the clock moves only by the loop's skips, not by real time."""
    clock.stand_still()


class _Wire(httpx.AsyncBaseTransport):
    """The in-process sandbox behind "sockets": httpcore's trace hears a connection opened for
    each of the first ``connections`` requests and every body written; the sandbox counts the
    request as arriving exactly ``delay()`` after the write (the network's one-way jitter), or
    ``fresh_delay`` more on a connection just opened (the server's accept queue), however busy
    the client's event loop is meanwhile (as over a real socket)."""

    def __init__(
        self,
        sandbox: Sandbox,
        delay: float | tuple[float, float] = 0.0,
        connections: int = 0,
        fresh_delay: float = 0.0,
    ) -> None:
        self.sandbox = sandbox
        self.delay = delay
        self.connections = connections
        self.fresh_delay = fresh_delay
        self.random = random.Random(7)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Tell the trace of the connection and the body written, then be answered."""
        box = self.sandbox
        body = await request.aread()
        trace = request.extensions.get("trace")
        fresh = self.connections > 0
        self.connections -= 1
        if trace is not None and fresh:
            await trace("connection.connect_tcp.started", {})
        # The body is on the wire now: its arrival counts from here, however long the client
        # then takes to note the write (on a busy machine that is real time on this clock).
        written = box.clock()
        if trace is not None:
            await trace("http11.send_request_body.complete", {})
        low, high = self.delay if isinstance(self.delay, tuple) else (self.delay, self.delay)
        travel = self.random.uniform(low, high) if high > 0 else 0.0
        arrived = written + travel + (self.fresh_delay if fresh else 0.0)
        await asyncio.sleep(max(0.0, arrived - box.clock()))
        target = urlsplit(request.url.raw_path.decode("ascii"))
        query = {k: v[-1] for k, v in parse_qs(target.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in request.headers.items()}
        reply, entry = box.answer(
            Request(request.method, target.path, query, headers, body, arrived)
        )
        if entry is not None:
            await asyncio.sleep(max(0.0, box.due(entry) - box.clock()))
            box.done(entry)
        return httpx.Response(reply.status, headers=list(reply.headers.items()), content=reply.body)


def _track(
    sandbox: Sandbox,
    numbers: list[str],
    delay: float | tuple[float, float] = 0.0,
    connections: int = 0,
    fresh_delay: float = 0.0,
) -> list[Answer]:
    env = sandbox.env()
    settings = {
        "api_key": env["WAYPOST_TRACKINGMORE_API_KEY"],
        "base_url": env["WAYPOST_TRACKINGMORE_BASE_URL"],
    }
    queries = [Query(n, "trackingmore", "sandbox-post") for n in numbers]

    async def go() -> list[Answer]:
        transport = _Wire(sandbox, delay, connections, fresh_delay)
        async with Session(transport=transport) as session:
            return await tm4.Adapter(settings, session).track(queries, TrackOptions())

    return asyncio.run(go())


def _gets(sandbox: Sandbox) -> list[LogEntry]:
    return [e for e in sandbox.entries("trackingmore") if e.path == "/v4/trackings/get"]


def _busiest_second(times: list[float]) -> int:
    ordered = sorted(times)
    return max((sum(1 for u in ordered if t <= u < t + 1.0) for t in ordered), default=0)


def test_a_second_window_of_reads_starts_one_slack_after_the_first_writes(
    sandbox: Sandbox,
) -> None:
    sandbox.latency = 0.3
    app = sandbox.apps["trackingmore"]
    assert isinstance(app, App)
    numbers = [synthetic_number(i, "AR") for i in range(480)]
    app.preload(numbers)
    answers = _track(sandbox, numbers)
    gets = _gets(sandbox)
    assert len(gets) == 12  # 480 numbers, 40 a read
    assert sandbox.rejected("trackingmore") == 0
    assert _busiest_second([e.t for e in gets]) == 10
    starts = sorted(e.t for e in gets)
    # Answers take 0.3 s: the waves are 1 s + the slack apart, not 1 s + the answer's time.
    assert starts[10] - starts[0] == pytest.approx(1.0 + ARRIVAL_SLACK, abs=0.01)
    assert all(a.shipments[0].found for a in answers)


def test_arrivals_late_by_up_to_the_slack_still_fit_the_limits(sandbox: Sandbox) -> None:
    sandbox.latency = 0.5  # slower than the slack: only the write marks the arrival
    app = sandbox.apps["trackingmore"]
    assert isinstance(app, App)
    numbers = [synthetic_number(i, "JT") for i in range(840)]
    app.preload(numbers)
    _track(sandbox, numbers, delay=(0.0, ARRIVAL_SLACK * 0.5))
    gets = _gets(sandbox)
    assert len(gets) == 21
    assert sandbox.rejected("trackingmore") == 0
    assert _busiest_second([e.t for e in gets]) <= 10
    starts = sorted(e.t for e in gets)
    assert starts[-1] - starts[0] < 2.0 + 2 * (ARRIVAL_SLACK + 0.1)  # not 2 x (0.5 s + ...)


def test_requests_on_connections_just_opened_count_from_their_answers(sandbox: Sandbox) -> None:
    # The first 10 reads open their connections and reach the server 0.15 s after their write
    # (past the slack): their permits come back from the answers, so no window overflows.
    sandbox.latency = 0.3
    app = sandbox.apps["trackingmore"]
    assert isinstance(app, App)
    numbers = [synthetic_number(i, "FR") for i in range(800)]
    app.preload(numbers)
    _track(sandbox, numbers, connections=10, fresh_delay=0.15)
    gets = _gets(sandbox)
    assert len(gets) == 20
    assert sandbox.rejected("trackingmore") == 0
    assert _busiest_second([e.t for e in gets]) <= 10
    starts = sorted(e.t for e in gets)
    # The second wave waited ARRIVAL_JITTER after the first writes, not only the slack (which
    # would have put 11 arrivals into one second).
    assert starts[10] - starts[0] == pytest.approx(1.0 + ARRIVAL_JITTER - 0.15, abs=0.02)


def test_new_numbers_are_created_at_3_per_second_counted_at_arrival(sandbox: Sandbox) -> None:
    sandbox.latency = 0.3
    numbers = [synthetic_number(i, "CR") for i in range(30)]
    answers = _track(sandbox, numbers, delay=(0.0, ARRIVAL_SLACK * 0.5))
    creates = [e for e in sandbox.entries("trackingmore") if e.path == "/v4/trackings/create"]
    assert len(creates) == 30
    assert sandbox.rejected("trackingmore") == 0
    assert _busiest_second([e.t for e in creates]) == 3
    span = max(e.t for e in creates) - min(e.t for e in creates)
    # 10 waves of 3, each 1 s + at most the slack and the jitter after the one before.
    assert 9.0 <= span < 9 * (1.0 + 2 * ARRIVAL_SLACK)
    assert all(a.shipments[0].events for a in answers)


def _simulate(
    latency: float, write_after: float | None, requests: int = 3, fresh: bool = False
) -> list[float]:
    """When each of ``requests`` requests at 1/s is sent, written ``write_after`` later (None:
    never seen; ``fresh``: on a connection just opened), answered ``latency`` after the send."""
    sent: list[float] = []

    async def go() -> None:
        limiter = RateLimiter(1)

        async def one() -> None:
            async with limiter.slot() as sending:
                sending()
                sent.append(http.now())
                if write_after is not None:
                    await asyncio.sleep(write_after)
                    sending.written(fresh)
                await asyncio.sleep(latency - (write_after or 0.0))

        await asyncio.gather(*(one() for _ in range(requests)))

    asyncio.run(go())
    return [t - sent[0] for t in sent]


def test_a_seen_write_returns_the_permit_a_slack_after_it(clock: VirtualClock) -> None:
    sent = _simulate(latency=0.5, write_after=0.01)
    step = 1.0 + 0.01 + ARRIVAL_SLACK
    assert sent == pytest.approx([0.0, step, 2 * step], abs=0.02)


def test_without_a_seen_write_the_old_rule_holds(clock: VirtualClock) -> None:
    sent = _simulate(latency=0.5, write_after=None)
    step = 1.0 + ARRIVAL_JITTER
    assert sent == pytest.approx([0.0, step, 2 * step], abs=0.02)


def test_an_answer_before_the_slack_returns_the_permit_from_the_answer(
    clock: VirtualClock,
) -> None:
    sent = _simulate(latency=0.03, write_after=0.01)
    step = 1.0 + 0.03
    assert sent == pytest.approx([0.0, step, 2 * step], abs=0.02)


def test_a_write_long_after_the_send_counts_from_the_write(clock: VirtualClock) -> None:
    # The request waited 0.5 s (a slow connect) after it was counted as sent: the permit comes
    # back a slack after the write, not ARRIVAL_JITTER after the send.
    sent = _simulate(latency=2.0, write_after=0.5)
    step = 1.0 + 0.5 + ARRIVAL_SLACK
    assert sent == pytest.approx([0.0, step, 2 * step], abs=0.02)


def test_a_write_on_a_connection_just_opened_keeps_the_jitter_from_the_write(
    clock: VirtualClock,
) -> None:
    sent = _simulate(latency=2.0, write_after=0.01, fresh=True)
    step = 1.0 + 0.01 + ARRIVAL_JITTER
    assert sent == pytest.approx([0.0, step, 2 * step], abs=0.02)


def test_a_write_after_the_permit_came_back_gives_nothing_back_twice(
    clock: VirtualClock,
) -> None:
    # Each write comes 1.5 s after its send, past the send's fallback (0.2 s + 1 s): that
    # permit is already back, and the late write must not hand out a second one.
    sent = _simulate(latency=3.0, write_after=1.5, requests=5)
    step = 1.0 + ARRIVAL_JITTER
    assert sent == pytest.approx([0.0, step, 2 * step, 3 * step, 4 * step], abs=0.02)
