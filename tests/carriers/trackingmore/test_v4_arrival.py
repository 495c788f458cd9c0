"""TrackingMore v4 at its limits however late a request reaches the server: a permit comes
back 1 s after its request's answer came in (``http.RateLimiter``), the only moment that proves
the server counted it. A server that reads a wave late (a loaded machine), or a client
descheduled between taking a permit and writing the request, then never puts more than the
documented 10 reads/s or 3 creates/s into one of the sandbox's windows, and the waves are one
hold and one round trip apart, no more. On the virtual clock (tests/inproc.py): no test waits
for real."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.inproc import VirtualClock, VirtualLoop
from waypost import http
from waypost.carriers.base import Answer, Query, TrackOptions
from waypost.carriers.trackingmore import v4 as tm4
from waypost.http import RateLimiter, Session
from waypost.sandbox import Sandbox
from waypost.sandbox.server import LogEntry, Request
from waypost.sandbox.trackingmore import App, synthetic_number


@pytest.fixture(autouse=True)
def _still(clock: VirtualClock) -> None:
    """Exact arrival times: the clock moves only by the loop's skips, not by real time."""
    clock.stand_still()


Delay = Callable[[int], float]


def _none(_: int) -> float:
    return 0.0


class _Wire(httpx.AsyncBaseTransport):
    """The in-process sandbox behind "sockets": the n-th request (from 0) is written
    ``stall(n)`` after waypost handed it over (a client descheduled between its permit and its
    write), and the sandbox counts it ``late(n)`` after that write (a server that reads it
    late), however busy the client's event loop is meanwhile. httpcore's trace, where one is
    attached, hears the write when it happens."""

    def __init__(self, sandbox: Sandbox, stall: Delay = _none, late: Delay = _none) -> None:
        self.sandbox = sandbox
        self.stall = stall
        self.late = late
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Write after the stall, arrive after the lateness, then be answered."""
        box = self.sandbox
        n = self.sent
        self.sent += 1
        body = await request.aread()
        await asyncio.sleep(self.stall(n))
        written = box.clock()
        trace = request.extensions.get("trace")
        if trace is not None:
            await trace("http11.send_request_body.complete", {})
        arrived = written + self.late(n)
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
    sandbox: Sandbox, numbers: list[str], stall: Delay = _none, late: Delay = _none
) -> list[Answer]:
    env = sandbox.env()
    settings = {
        "api_key": env["WAYPOST_TRACKINGMORE_API_KEY"],
        "base_url": env["WAYPOST_TRACKINGMORE_BASE_URL"],
    }
    queries = [Query(n, "trackingmore", "sandbox-post") for n in numbers]

    async def go() -> list[Answer]:
        async with Session(transport=_Wire(sandbox, stall, late)) as session:
            return await tm4.Adapter(settings, session).track(queries, TrackOptions())

    return asyncio.run(go())


def _preloaded(sandbox: Sandbox, prefix: str, n: int) -> list[str]:
    app = sandbox.apps["trackingmore"]
    assert isinstance(app, App)
    numbers = [synthetic_number(i, prefix) for i in range(n)]
    app.preload(numbers)
    return numbers


def _gets(sandbox: Sandbox) -> list[LogEntry]:
    return [e for e in sandbox.entries("trackingmore") if e.path == "/v4/trackings/get"]


def _busiest_second(times: list[float]) -> int:
    ordered = sorted(times)
    return max((sum(1 for u in ordered if t <= u < t + 1.0) for t in ordered), default=0)


def test_a_wave_the_server_reads_late_does_not_overlap_the_next(sandbox: Sandbox) -> None:
    # The first 10 reads reach the server 0.15 s after their write (a loaded machine: the
    # server's thread ran late), the rest at once. A permit back 50 ms after the write (the
    # old assumed arrival) put the second wave into the first one's second: 10 rejections.
    sandbox.latency = 0.3
    numbers = _preloaded(sandbox, "LT", 800)
    answers = _track(sandbox, numbers, late=lambda n: 0.15 if n < 10 else 0.0)
    gets = _gets(sandbox)
    assert len(gets) == 20
    assert sandbox.rejected("trackingmore") == 0
    assert _busiest_second([e.t for e in gets]) == 10
    assert all(a.shipments[0].found for a in answers)


def test_a_client_descheduled_between_permit_and_write_stays_within_the_limit(
    sandbox: Sandbox,
) -> None:
    # The first wave is written 1.5 s after its permits were taken (the process was not
    # running): those reads arrive late, and their permits must not come back before.
    sandbox.latency = 0.3
    numbers = _preloaded(sandbox, "DS", 800)
    _track(sandbox, numbers, stall=lambda n: 1.5 if n < 10 else 0.0)
    gets = _gets(sandbox)
    assert len(gets) == 20
    assert sandbox.rejected("trackingmore") == 0
    assert _busiest_second([e.t for e in gets]) == 10
    starts = sorted(e.t for e in gets)
    assert starts[10] - starts[9] == pytest.approx(1.0 + 0.3, abs=0.01)


def test_waves_are_one_hold_and_one_round_trip_apart(sandbox: Sandbox) -> None:
    # No idling below the limit: the next wave leaves the moment the answers prove the last
    # one was counted, a second before.
    sandbox.latency = 0.3
    numbers = _preloaded(sandbox, "AR", 1200)
    answers = _track(sandbox, numbers)
    gets = _gets(sandbox)
    assert len(gets) == 30  # 1,200 numbers, 40 a read
    assert sandbox.rejected("trackingmore") == 0
    assert _busiest_second([e.t for e in gets]) == 10
    starts = sorted(e.t for e in gets)
    assert starts[10] - starts[0] == pytest.approx(1.3, abs=0.01)
    assert starts[20] - starts[0] == pytest.approx(2.6, abs=0.01)
    assert all(a.shipments[0].found for a in answers)


def test_new_numbers_are_created_at_3_per_second_counted_at_arrival(sandbox: Sandbox) -> None:
    sandbox.latency = 0.3
    numbers = [synthetic_number(i, "CR") for i in range(30)]
    jitter = random.Random(7)
    delays = [jitter.uniform(0.0, 0.1) for _ in range(200)]
    answers = _track(sandbox, numbers, late=lambda n: delays[n])
    creates = [e for e in sandbox.entries("trackingmore") if e.path == "/v4/trackings/create"]
    assert len(creates) == 30
    assert sandbox.rejected("trackingmore") == 0
    assert _busiest_second([e.t for e in creates]) == 3
    span = max(e.t for e in creates) - min(e.t for e in creates)
    # 10 waves of 3, each 1 s + one round trip (0.3 s + at most 0.1 s late) after the last.
    assert 9 * 1.3 <= span <= 9 * 1.4 + 0.1
    assert all(a.shipments[0].events for a in answers)


# -- the limiter itself, for every carrier that uses it ---------------------------------------


def _simulate(latency: float, answered: bool, requests: int = 3) -> list[float]:
    """When each of ``requests`` requests at 1/s is sent; each ends ``latency`` after its send,
    with an answer (``answered()``) or without one (a fault at that moment)."""
    sent: list[float] = []

    async def go() -> None:
        limiter = RateLimiter(1)

        async def one() -> None:
            try:
                async with limiter.slot() as sending:
                    sending()
                    sent.append(http.now())
                    await asyncio.sleep(latency)
                    if not answered:
                        raise httpx.ConnectError("refused")
                    sending.answered()
                    await asyncio.sleep(5.0)  # reading a long body: the hold already counts
            except httpx.ConnectError:
                pass

        await asyncio.gather(*(one() for _ in range(requests)))

    asyncio.run(go())
    return [t - sent[0] for t in sent]


def test_a_permit_comes_back_a_hold_after_the_answer_not_after_the_body() -> None:
    assert _simulate(0.5, answered=True) == pytest.approx([0.0, 1.5, 3.0], abs=0.001)


def test_without_an_answer_the_hold_counts_from_the_end_of_the_attempt() -> None:
    assert _simulate(2.0, answered=False) == pytest.approx([0.0, 3.0, 6.0], abs=0.001)


class _Late(httpx.AsyncBaseTransport):
    """Each request counted ``late[n]`` after it reached the transport, answered ``latency``
    after that: the arrival times a server would count."""

    def __init__(self, late: list[float], latency: float) -> None:
        self.late = late
        self.latency = latency
        self.arrivals: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Arrive late, then answer."""
        n = len(self.arrivals)
        self.arrivals.append(http.now() + self.late[n % len(self.late)])
        await asyncio.sleep(self.late[n % len(self.late)] + self.latency)
        return httpx.Response(200, content=b"{}")


@settings(max_examples=40, deadline=None)
@given(
    rate=st.sampled_from([1.0, 2.5, 3.0, 5.0, 10.0]),
    late=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=12),
    latency=st.floats(0.0, 1.0),
)
def test_no_window_ever_sees_more_than_the_limit(
    rate: float, late: list[float], latency: float
) -> None:
    # Whatever the delays between send and arrival, the arrivals of any window of a hold stay
    # within the permits (Session.request, as every rate-limited carrier sends).
    transport = _Late(late, latency)
    limiter = RateLimiter(rate)

    async def go() -> None:
        async with Session(transport=transport) as session:
            await asyncio.gather(
                *(
                    session.request("c", "GET", "http://127.0.0.1:9/x", limiter=limiter)
                    for _ in range(25)
                )
            )

    loop = VirtualLoop(VirtualClock())
    loop.clock.stand_still()
    try:
        loop.run_until_complete(go())
    finally:
        loop.close()
    ordered = sorted(transport.arrivals)
    busiest = max(sum(1 for u in ordered if t <= u < t + limiter.hold - 1e-9) for t in ordered)
    assert busiest <= limiter.size
