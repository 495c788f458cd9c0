"""Rate limits held across hosts (issue 22): two hosts' limiters share one budget in PostgreSQL,
so together they never exceed the documented rate, and a 429 pause one of them drew holds the
other too. Run on a virtual clock: no test waits real seconds."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from typing import Any

import pytest

from waypost.http import ARRIVAL_JITTER, Paused, RateLimiter
from waypost.store.postgres import PgBudget, PgStore


class VirtualClock:
    """Time that moves only when every task waits: ``sleep`` parks a task until the clock gets
    to its wake time; ``run`` advances to the earliest one once the others are all parked."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self._wakes: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._wakes, (self.now + max(seconds, 0.0), next(self._order), future))
        await future

    async def run(self, *jobs: Awaitable[Any]) -> list[Any]:
        tasks = [asyncio.ensure_future(j) for j in jobs]
        while not all(t.done() for t in tasks):
            for _ in range(50):  # let every runnable task get to its next wait
                await asyncio.sleep(0)
            if self._wakes:
                when, _, future = heapq.heappop(self._wakes)
                if not future.done():  # a cancelled wait (a permit given back early)
                    self.now = max(self.now, when)
                    future.set_result(None)
        return [t.result() for t in tasks]


def host(url: str, clock: VirtualClock, per_second: float) -> RateLimiter:
    """One host's limiter of one endpoint, on the shared budget (its own connection)."""
    budget = PgBudget(url, clock=clock)
    return RateLimiter(
        per_second, clock=clock, sleep=clock.sleep, shared=budget, key="trackingmore:abc get"
    )


@pytest.fixture
def url(pg_url: str) -> str:
    PgStore(pg_url).close()  # the tables
    return pg_url


def requests(
    limiter: RateLimiter, clock: VirtualClock, n: int, sent: list[float], latency: float
) -> list[Awaitable[None]]:
    async def one() -> None:
        async with limiter.slot() as sending:
            sending()
            sent.append(clock())
            await clock.sleep(latency)

    return [one() for _ in range(n)]


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times))


def test_two_hosts_together_stay_within_the_documented_rate(url: str) -> None:
    clock = VirtualClock()
    first, second = host(url, clock, 3.0), host(url, clock, 3.0)
    sent: list[float] = []

    async def main() -> None:
        await clock.run(
            *requests(first, clock, 15, sent, 0.05), *requests(second, clock, 15, sent, 0.05)
        )

    asyncio.run(main())
    assert len(sent) == 30
    assert most_in_any_window(sent, 1.0) <= 3
    # Shared, not split: the pair is as fast as one host alone at 3/s (10 windows for 30).
    assert max(sent) - min(sent) < 11.0


def test_alone_each_host_would_send_at_the_full_rate(url: str) -> None:
    clock = VirtualClock()
    first = RateLimiter(3.0, clock=clock, sleep=clock.sleep)
    second = RateLimiter(3.0, clock=clock, sleep=clock.sleep)
    sent: list[float] = []

    async def main() -> None:
        await clock.run(
            *requests(first, clock, 6, sent, 0.05), *requests(second, clock, 6, sent, 0.05)
        )

    asyncio.run(main())
    assert most_in_any_window(sent, 1.0) == 6  # what the shared budget prevents


def test_a_pause_one_host_drew_holds_every_host(url: str) -> None:
    clock = VirtualClock()
    first, second = host(url, clock, 10.0), host(url, clock, 10.0)
    start = clock()
    first.pause(120.0)
    sent: list[float] = []

    async def main() -> None:
        await clock.run(*requests(second, clock, 2, sent, 0.01))

    asyncio.run(main())
    assert min(sent) >= start + 120.0

    async def impatient() -> None:
        async with second.slot(wait_pause=False):
            pass

    third = host(url, clock, 10.0)
    third.pause(60.0)
    with pytest.raises(Paused):
        asyncio.run(impatient())


def test_a_killed_hosts_permit_comes_back_by_itself(url: str) -> None:
    clock = VirtualClock()
    killed = PgBudget(url, clock=clock)
    key, hold = "trackingmore:abc get", 1.0
    taken = [killed.take(key, 1, ARRIVAL_JITTER + hold) for _ in range(2)]
    assert taken[0][0] is not None
    permit, wait, paused = taken[1]
    assert (permit, paused) == (None, False)
    assert wait == pytest.approx(ARRIVAL_JITTER + hold)
    killed.close()  # never gives it back
    clock.now += ARRIVAL_JITTER + hold
    other = PgBudget(url, clock=clock)
    assert other.take(key, 1, ARRIVAL_JITTER + hold)[0] is not None
    other.give_back(key, 0, hold)
    other.close()


def test_a_permit_counts_from_the_send_when_the_request_waited_after_taking_it(url: str) -> None:
    clock = VirtualClock()
    first, second = host(url, clock, 1.0), host(url, clock, 1.0)
    sent: dict[str, float] = {}

    async def slow_start() -> None:
        async with first.slot() as sending:
            await clock.sleep(0.5)  # e.g. waiting for a free connection
            sending()
            sent["first"] = clock()
            await clock.sleep(2.0)  # a slow answer

    async def other() -> None:
        await clock.sleep(0.01)
        async with second.slot() as sending:
            sending()
            sent["second"] = clock()

    async def main() -> None:
        await clock.run(slow_start(), other())

    asyncio.run(main())
    assert sent["second"] - sent["first"] >= 1.0
