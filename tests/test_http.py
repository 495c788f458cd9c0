"""The HTTP layer: retries, Retry-After, error mapping, timeouts, deadline, rate limiter."""

from __future__ import annotations

import asyncio
import email.utils
import heapq
import time
from collections.abc import Awaitable

import httpx
import pytest
import respx

from waypost import __version__
from waypost.errors import NetworkError, ProtocolError, Timeout
from waypost.http import Paused, RateLimiter, RetryPolicy, Session, decode_json, retry_after

FAST = RetryPolicy(attempts=4, budget=5.0, base=0.001, cap=0.002)
URL = "http://carrier.test/api"


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def send(route_side_effect, policy: RetryPolicy = FAST, **session_kw):  # type: ignore[no-untyped-def]
    with respx.mock() as mock:
        route = mock.get(URL).mock(side_effect=route_side_effect)
        async with Session(retry=policy, **session_kw) as session:
            try:
                response = await session.request("c", "GET", URL)
            finally:
                calls = route.call_count
        return response, calls, session


def test_5xx_is_retried_until_it_succeeds() -> None:
    answers = iter([httpx.Response(503), httpx.Response(502), httpx.Response(200, json={"ok": 1})])
    response, calls, session = run(send(lambda req: next(answers)))
    assert response.status_code == 200
    assert calls == 3
    assert session.retries == 2


def test_attempts_are_bounded_and_the_last_answer_is_returned() -> None:
    response, calls, _ = run(send(lambda req: httpx.Response(500, text="<html>oops</html>")))
    assert response.status_code == 500
    assert calls == FAST.attempts


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_4xx_other_than_429_is_never_retried(status: int) -> None:
    response, calls, _ = run(send(lambda req: httpx.Response(status)))
    assert response.status_code == status
    assert calls == 1


def test_429_is_retried_honouring_retry_after() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200)])
    response, calls, _ = run(send(lambda req: next(answers)))
    assert (response.status_code, calls) == (200, 2)


def test_429_is_not_retried_when_the_carrier_forbids_it() -> None:
    policy = RetryPolicy(attempts=4, base=0.001, retry_429=False)
    response, calls, _ = run(send(lambda req: httpx.Response(429), policy))
    assert (response.status_code, calls) == (429, 1)


def test_retry_after_longer_than_the_budget_stops_retrying() -> None:
    policy = RetryPolicy(attempts=4, budget=0.5, base=0.001)
    response, calls, _ = run(
        send(lambda req: httpx.Response(503, headers={"Retry-After": "30"}), policy)
    )
    assert (response.status_code, calls) == (503, 1)


def test_connect_errors_are_retried_then_mapped_to_network_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(NetworkError, match=r"cannot reach carrier\.test") as info:
        run(send(refuse))
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_timeouts_become_timeout_errors() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(Timeout, match="no answer within"):
        run(send(slow))


def test_a_hanging_answer_is_cut_at_the_timeout() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    with pytest.raises(Timeout):
        run(send(hang, RetryPolicy(attempts=1), timeout=0.05))


def test_the_run_deadline_stops_new_attempts() -> None:
    with pytest.raises(Timeout, match="deadline"):
        run(send(lambda req: httpx.Response(200), deadline=-1))


def test_user_agent_names_waypost_and_its_version() -> None:
    seen: list[str] = []

    def capture(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["user-agent"])
        return httpx.Response(200)

    run(send(capture))
    assert seen == [seen[0]]
    assert seen[0].startswith(f"waypost/{__version__}")


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert retry_after({"retry-after": "7"}) == 7.0
    date = email.utils.formatdate(1_000_060, usegmt=True)
    assert retry_after({"retry-after": date}, now=1_000_000) == 60.0
    assert retry_after({"retry-after": date}, now=2_000_000) == 0.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"", "empty answer"), (b"<html>502</html>", "an HTML page"), (b'{"trunc', "not JSON")],
)
def test_decode_json_says_what_came_instead(body: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode_json(httpx.Response(200, content=body), "c")


class VirtualTime:
    """A clock and a sleep for the limiter that advance only when every task waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._waiters, (self.now + max(0.0, seconds), self._seq, future))
        await future

    async def drive(self, main: Awaitable[object]) -> None:
        task = asyncio.ensure_future(main)
        while not task.done():
            for _ in range(20):
                await asyncio.sleep(0)
            if self._waiters and not task.done():
                when, _, future = heapq.heappop(self._waiters)
                if future.done():  # a cancelled sleep
                    continue
                self.now = max(self.now, when)
                future.set_result(None)
        task.result()


def simulate(
    rate: float, requests: int, latency: float, queued: float = 0.0, **limiter_kw: object
) -> list[float]:
    """Send times of ``requests`` concurrent requests that each wait ``queued`` after taking
    their permit (e.g. for a connection), then take ``latency`` to answer."""
    vt = VirtualTime()
    sent: list[float] = []

    async def go() -> None:
        limiter = RateLimiter(rate, clock=vt.clock, sleep=vt.sleep)

        async def one() -> None:
            async with limiter.slot() as sending:
                if queued:
                    await vt.sleep(queued)
                sending()
                sent.append(vt.now)
                await vt.sleep(latency)

        await vt.drive(asyncio.gather(*(one() for _ in range(requests))))

    run(go())
    return sent


def at_most_per_second(stamps: list[float], limit: int) -> bool:
    return all(sum(1 for t in stamps if start <= t < start + 1.0) <= limit for start in stamps)


def test_rate_limiter_bursts_up_to_the_limit_then_waits_a_second() -> None:
    sent = simulate(3, 7, latency=0.0)
    assert sent == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0]
    assert at_most_per_second(sent, 3)


def test_rate_limiter_counts_from_the_answer_so_late_arrivals_cannot_bunch() -> None:
    sent = simulate(1, 4, latency=0.08)
    assert sent == pytest.approx([0.0, 1.08, 2.16, 3.24])
    # Even if every request arrived only when its answer left, arrivals stay >= 1 s apart.
    assert at_most_per_second([t + 0.08 for t in sent], 1)


def test_a_slow_answer_holds_its_permit_until_it_comes() -> None:
    # Only the answer proves when the server counted the request: none is assumed earlier.
    sent = simulate(1, 3, latency=5.0)
    assert sent == pytest.approx([0.0, 6.0, 12.0])
    assert at_most_per_second([t + 5.0 for t in sent], 1)


def test_a_request_queued_after_its_permit_counts_from_its_answer() -> None:
    # Each request waits 0.5 s for a connection after its permit, then its answer is slow:
    # the permit comes back 1 s after that answer, however late the request left.
    sent = simulate(1, 3, latency=5.0, queued=0.5)
    assert sent == pytest.approx([0.5, 7.0, 13.5])
    assert at_most_per_second([t + 5.0 for t in sent], 1)


def test_a_paused_limiter_raises_or_waits() -> None:
    vt = VirtualTime()
    out: list[object] = []

    async def go() -> None:
        limiter = RateLimiter(1, clock=vt.clock, sleep=vt.sleep)
        limiter.pause(120)
        with pytest.raises(Paused) as info:
            async with limiter.slot(wait_pause=False):
                pass
        out.append(round(info.value.seconds))
        async with limiter.slot():
            out.append(vt.now)
        limiter.defer(5)
        async with limiter.slot(wait_pause=False):
            out.append(vt.now)

    run(vt.drive(go()))
    assert out == [120, 120.0, 125.0]


def test_a_per_request_429_opt_out_keeps_the_sessions_retry_settings() -> None:
    async def go() -> tuple[int, int]:
        with respx.mock() as mock:
            route = mock.get(URL).mock(
                side_effect=[httpx.Response(500), httpx.Response(429), httpx.Response(200)]
            )
            async with Session(retry=RetryPolicy(attempts=2, base=0.001)) as session:
                response = await session.request("c", "GET", URL, retry_429=False)
            return response.status_code, route.call_count

    assert run(go()) == (429, 2)


def test_fractional_rates_never_exceed_their_floor_in_any_second() -> None:
    sent = simulate(2.5, 9, latency=0.0)
    assert at_most_per_second(sent, 2)
    assert sent[:4] == [0.0, 0.0, 1.0, 1.0]
    assert simulate(0.5, 3, latency=0.0) == [0.0, 2.0, 4.0]


def test_sniffio_is_installed_so_httpcore_does_not_fail_an_import_per_request() -> None:
    # httpcore 1.0.9 runs `import sniffio` on every lock setup; absent, each is a sys.path search.
    import importlib.util

    assert importlib.util.find_spec("sniffio") is not None


def test_a_carrier_handle_pauses_every_endpoint_after_a_429_and_carries_it_over(clock) -> None:  # type: ignore[no-untyped-def]
    # On the virtual clock: the second run's carried spacing (1 s after the first's request)
    # is skipped instead of waited.
    from waypost.carriers.base import MemoryCache
    from waypost.errors import CarrierError
    from waypost.http import CarrierHandle

    state = MemoryCache()
    lengths: list[float | None] = []

    def paused(left: float, length: float | None) -> CarrierError:
        lengths.append(length)
        return CarrierError(f"paused {left:.0f} s")

    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(429, headers={"Retry-After": "90"})

    async def go() -> None:
        for _run in (1, 2):  # two runs: two sessions, one state
            async with Session(transport=httpx.MockTransport(handler)) as session:
                handle = CarrierHandle(
                    session,
                    "c",
                    max_connections=2,
                    rates={"/a": 5.0, "/b": 5.0},
                    state=state,
                    namespace="c.limits",
                    pause=120.0,
                    pause_error=paused,
                )
                with pytest.raises(CarrierError, match=r"paused (8\d|90) s"):
                    await handle.call(
                        "/a",
                        "GET",
                        URL,
                        read=lambda r: r.status_code,
                        limited=lambda code: code == 429,
                        wait=False,
                    )
                limiter = handle.limiter("/b")
                assert limiter is not None
                assert limiter.paused_for() > 80  # every endpoint of the group

    asyncio.run(go())
    # The first run heard the 429 (a 90 s pause); the second found it stored and never asked.
    assert lengths == [90.0, None]
    assert asked == ["/api"]
    assert 80 < state.get("c.limits", "paused_until") - time.time() <= 90
