"""``watch`` past the page cap (v2: 20 pages of 2,000; v4: 400 of 100), against the sandbox on
a virtual clock with the cap and the page size made small: a pass that stops at the cap keeps
where it stopped and the next one goes on from there, so successive passes make progress and a
shipment whose update lies beyond the cap is read in a later pass (they used to read the same
first pages again and again: the cursor does not move after a capped pass); once a pass reaches
the end the cursor moves to when the first pass of that run began, so an update made meanwhile
on a page read early is read by the next pass."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest

from waypost.carriers import trackingmore as tm
from waypost.carriers.base import Answer, MemoryCache, Query, TrackOptions
from waypost.carriers.trackingmore import adapter as tm_adapter
from waypost.carriers.trackingmore import paged
from waypost.carriers.trackingmore import v2 as v2_adapter
from waypost.carriers.trackingmore import v4 as v4_adapter
from waypost.carriers.trackingmore import v4_api as api
from waypost.http import Session
from waypost.sandbox import Sandbox
from waypost.sandbox.trackingmore import App, synthetic_number

_WATCH = {"v2": (v2_adapter.NS_WATCH, "page"), "v4": (v4_adapter.NS_WATCH, "pages_amount")}
PASSES = 40  # more than any of these runs needs; a run stuck on its first pages hits it


def _app(sandbox: Sandbox) -> App:
    app = sandbox.apps["trackingmore"]
    assert isinstance(app, App)
    return app


def _q(number: str) -> Query:
    return Query(number, "trackingmore", None)


def _track(
    sandbox: Sandbox, queries: Sequence[Query], options: TrackOptions, cache: MemoryCache, api: str
) -> list[Answer]:
    env = sandbox.env()
    base = env["WAYPOST_TRACKINGMORE_BASE_URL"].removesuffix("/v4")
    settings: dict[str, Any] = {
        "api_key": env["WAYPOST_TRACKINGMORE_API_KEY"],
        "base_url": f"{base}/{api}",
        "api": api,
    }

    async def go() -> list[Answer]:
        async with Session() as session:
            adapter = tm_adapter.Adapter(settings, session, cache)
            return await adapter.track(queries, options)

    return asyncio.run(go())


def _passes(
    sandbox: Sandbox, numbers: list[str], cache: MemoryCache, api: str
) -> tuple[dict[str, Answer], list[int]]:
    """Watch passes until one moves the cursor: each number's answer with news (the last one
    seen) and each pass's first page."""
    news: dict[str, Answer] = {}
    firsts: list[int] = []
    namespace, page_key = _WATCH[api]
    before = cache.get(namespace, "cursor")
    for _ in range(PASSES):
        sandbox.reset_log()
        options = TrackOptions(watch=True)
        answers = _track(sandbox, [_q(n) for n in numbers], options, cache, api)
        assert all(a.failure is None for a in answers)
        asked = sandbox.entries("trackingmore")
        pages = [int(e.params[page_key]) for e in asked if page_key in e.params]
        firsts.append(pages[0])
        for answer in answers:
            if answer.found and not answer.unchanged:
                news[answer.query.number] = answer
        for _carrier, action in options.deferred:
            action()
        if cache.get(namespace, "cursor") != before:
            return news, firsts
    raise AssertionError(f"no pass reached the end in {PASSES}: first pages {firsts}")


def _described(answer: Answer) -> list[str]:
    return [e.description for s in answer.shipments for e in s.events]


def test_v2_passes_past_the_cap_reach_every_update(
    tm_v2: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = tm_v2
    monkeypatch.setattr(v2_adapter, "MAX_PAGES", 3)
    monkeypatch.setattr(v2_adapter, "MAX_LIMIT", 2)
    app = _app(sandbox)
    numbers = [synthetic_number(i, "CP") for i in range(8)]
    app.preload(numbers)
    for tracking in app.account.values():
        tracking.updated = time.time() - 7200
    assert app.add_event(numbers[-1], "Beyond the cap", "Sandbox Hub")
    cache = MemoryCache()
    for n in numbers:
        cache.put(tm.NS_ACCOUNT, n, "sandbox-post")
    started = time.time()
    # The first passes page the whole account (no cursor yet), 3 pages of 2 each.
    news, firsts = _passes(sandbox, numbers, cache, "v2")
    assert len(firsts) > 1
    assert firsts == sorted(set(firsts))  # each pass goes on where the last one stopped
    assert sorted(news) == sorted(numbers)  # every number read once in the run of passes
    assert "Beyond the cap" in _described(news[numbers[-1]])
    assert sandbox.entries("trackingmore")  # the last pass asked
    cursor = cache.get(tm.NS_WATCH, "cursor")
    assert isinstance(cursor, float)
    assert cursor <= started + 1
    # The next pass pages what changed since the first pass of the run began.
    assert app.add_event(numbers[0], "Updated during the run", "Sandbox Hub")
    sandbox.reset_log()
    options = TrackOptions(watch=True)
    answers = _track(sandbox, [_q(n) for n in numbers], options, cache, "v2")
    (get,) = sandbox.entries("trackingmore")
    assert (get.params["page"], get.params["update_time_min"]) == ("1", str(int(cursor - 600)))
    assert "Updated during the run" in _described(answers[0])
    assert all(a.unchanged for a in answers[1:-1])  # the last one's news is inside the overlap


def test_v4_passes_past_the_cap_reach_every_update(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "MAX_PAGES", 3)
    monkeypatch.setattr(api, "PAGE_SIZE", 2)
    app = _app(sandbox)
    numbers = [synthetic_number(i, "CQ") for i in range(9)]
    app.preload(numbers)
    for tracking in app.account.values():
        tracking.updated = time.time() - 7200
    for n in numbers:
        assert app.add_event(n, f"News of {n}", "Sandbox Hub")
    cache = MemoryCache()
    cache.put(v4_adapter.NS_WATCH, "cursor", time.time() - 3600)
    for n in numbers:
        cache.put(v4_adapter.NS_ACCOUNT, n, "sandbox-post")
    news, firsts = _passes(sandbox, numbers, cache, "v4")
    assert firsts == [1, 3]  # 9 trackings, 2 a page, 3 pages a pass (its last one read again)
    assert sorted(news) == sorted(numbers)
    assert f"News of {numbers[-1]}" in _described(news[numbers[-1]])


@pytest.mark.parametrize(
    "kept",
    [
        None,
        "page 3",
        {"cursor": None, "page": 1, "started": 1.0},
        {"cursor": None, "page": True, "started": 1.0},
        {"cursor": None, "page": 3, "started": float("nan")},
        {"cursor": 5.0, "page": 3, "started": 1.0},  # another cursor's
    ],
)
def test_a_resume_point_that_does_not_fit_is_ignored(kept: object) -> None:
    cache = MemoryCache()
    cache.put(v2_adapter.NS_WATCH, paged.RESUME, kept)
    assert paged.Resume.load(cache, v2_adapter.NS_WATCH, None) is None
    cache.put(v2_adapter.NS_WATCH, paged.RESUME, {"cursor": None, "page": 3, "started": 1.0})
    resumed = paged.Resume.load(cache, v2_adapter.NS_WATCH, None)
    assert resumed is not None
    assert (resumed.page, resumed.started) == (3, 1.0)
