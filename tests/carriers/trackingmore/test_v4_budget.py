"""TrackingMore v4, numbers not in the account: real-time creates within the run's budget
(``trackingmore.v4._Budget``: 30 s by default, else ``--deadline``), the rest batch-created and
answered ``pending`` with a hint, and every answer handed over as soon as it is known."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

import pytest

from waypost.carriers.base import Answer, Query, TrackOptions
from waypost.carriers.trackingmore import adapter as tm_adapter
from waypost.carriers.trackingmore import v4 as tm4
from waypost.carriers.trackingmore import v4_api as api
from waypost.http import Session
from waypost.models import Status
from waypost.sandbox import Sandbox
from waypost.sandbox.server import LogEntry
from waypost.sandbox.trackingmore import App, synthetic_number


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class _Limiter:
    size = 3
    hold = 1.0
    per_second = 3.0


def test_without_a_deadline_the_budget_is_its_seconds_at_the_create_rate() -> None:
    budget = tm4._Budget(30.0, _Limiter(), hard=False)  # type: ignore[arg-type]
    assert [budget.take() for _ in range(100)] == [True] * 90 + [False] * 10
    assert (budget.taken, budget.over) == (90, 10)


def test_under_a_deadline_the_budget_counts_waves_a_hold_and_a_round_trip_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock(100.0)
    monkeypatch.setattr(tm4.time, "monotonic", clock)
    budget = tm4._Budget(30.0, _Limiter(), hard=True)  # type: ignore[arg-type]
    clock.now = 100.1  # the first read took 0.1 s: each wave costs 1 s + that round trip
    taken = [budget.take() for _ in range(100)]
    # wave w is answered at 100.1 + 1.1 w + 0.1 <= 130: w <= 27, so 28 waves of 3
    assert taken == [True] * 84 + [False] * 16
    assert (budget.taken, budget.over) == (84, 16)
    hint = budget.hint(3.0)
    assert "16 number(s)" in hint
    assert "30 s" in hint
    assert "waypost watch" in hint
    assert "--deadline" in hint


def test_under_a_deadline_a_short_round_trip_spaces_the_waves_closer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock(100.0)
    monkeypatch.setattr(tm4.time, "monotonic", clock)
    budget = tm4._Budget(30.0, _Limiter(), hard=True)  # type: ignore[arg-type]
    clock.now = 100.02  # answers in 0.02 s: each permit is back 1 s after its answer
    taken = [budget.take() for _ in range(100)]
    # wave w is answered at 100.02 + 1.02 w + 0.02 <= 130: w <= 29, so 30 waves of 3
    assert taken == [True] * 90 + [False] * 10


def test_without_a_limiter_every_number_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    budget = tm4._Budget(0.0, None, hard=True)
    assert all(budget.take() for _ in range(500))
    assert budget.over == 0


def test_the_budget_is_30_s_or_what_the_deadline_leaves() -> None:
    async def budgets() -> tuple[float, float]:
        async with Session() as free, Session(deadline=10.0) as bounded:
            plain = tm4.Adapter({}, free).realtime_budget()
            return plain, tm4.Adapter({}, bounded).realtime_budget()

    plain, bounded = asyncio.run(budgets())
    assert plain == tm4.REALTIME_BUDGET == 30.0
    assert 8.5 < bounded <= 10.0 - tm4.BUDGET_MARGIN


# -- against the sandbox --------------------------------------------------------------------------


def _app(sandbox: Sandbox) -> App:
    app = sandbox.apps["trackingmore"]
    assert isinstance(app, App)
    return app


def _on(sandbox: Sandbox, path: str) -> list[LogEntry]:
    return [e for e in sandbox.entries("trackingmore") if e.path.startswith("/v4" + path)]


def _track(sandbox: Sandbox, queries: Sequence[Query], options: TrackOptions) -> list[Answer]:
    env = sandbox.env()
    settings = {
        "api_key": env["WAYPOST_TRACKINGMORE_API_KEY"],
        "base_url": env["WAYPOST_TRACKINGMORE_BASE_URL"],
    }

    async def go() -> list[Answer]:
        async with Session() as session:
            adapter = tm_adapter.Adapter(settings, session, None)
            assert isinstance(adapter, tm4.Adapter)
            return await adapter.track(queries, options)

    return asyncio.run(go())


def test_numbers_past_the_budget_are_batch_created_pending_with_a_hint(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1 s at 3 creates/s: the first 3 numbers found
    monkeypatch.setattr(tm4, "REALTIME_BUDGET", 1.0)
    known = [synthetic_number(i, "WK") for i in range(5)]
    new = [synthetic_number(i, "WN") for i in range(10)]
    _app(sandbox).preload(known)
    delivered: list[Answer] = []
    options = TrackOptions(on_answer=delivered.append)
    queries = [Query(n, "trackingmore", "sandbox-post") for n in known + new]
    answers = _track(sandbox, queries, options)
    creates, batches = _on(sandbox, api.CREATE), _on(sandbox, api.BATCH)
    assert len(creates) == 3
    assert [b.numbers for b in batches] == [7]
    assert sandbox.rejected() == 0
    by_number = {a.query.number: a.shipments[0] for a in answers}
    realtime = new[:3]
    assert all(by_number[n].events and by_number[n].status is not Status.PENDING for n in realtime)
    for number in new[3:]:
        shipment = by_number[number]
        assert shipment.status is Status.PENDING
        assert not shipment.events
        assert shipment.status_text == tm4.PENDING_WORDS
        assert shipment.failure is None
    assert all(by_number[n].events for n in known)
    account = {number for number, _ in _app(sandbox).account}
    assert set(new[3:]) <= account  # left there for TrackingMore to fetch
    assert not set(realtime) & account  # created in real time, deleted again (no --save)
    assert len(options.hints) == 1
    assert "7 number(s)" in options.hints[0]
    assert sorted(a.query.number for a in delivered) == sorted(known + new)


def test_real_time_answers_are_handed_over_while_later_creates_still_wait(
    sandbox: Sandbox,
) -> None:
    new = [synthetic_number(i, "WS") for i in range(6)]
    handed: dict[str, float] = {}

    def on_answer(answer: Answer) -> None:
        handed[answer.query.number] = time.monotonic() - sandbox.started

    options = TrackOptions(on_answer=on_answer)
    _track(sandbox, [Query(n, "trackingmore", "sandbox-post") for n in new], options)
    creates = _on(sandbox, api.CREATE)
    assert len(creates) == 6
    assert not options.hints  # 6 new numbers are well within 30 s
    first = min(handed.values())
    assert first < creates[-1].t  # the first events reached the caller before the last create
    assert sandbox.rejected() == 0


def test_track_jsonl_prints_the_hint_for_numbers_past_the_budget(
    sandbox: Sandbox, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tm4, "REALTIME_BUDGET", 1.0)
    new = [f"trackingmore:sandbox-post:{synthetic_number(i, 'WJ')}" for i in range(5)]
    outcome = cli("track", "--jsonl", *new)
    assert outcome.code == 0
    lines = [json.loads(line) for line in outcome.out.splitlines()]
    assert len(lines) == 5
    assert sum(1 for line in lines if line["status"] == "pending") == 2
    assert sum(1 for line in lines if line["events"]) == 3
    assert "hint: trackingmore: 2 number(s) not in the account" in outcome.err


def test_the_batches_of_track_save_share_one_real_time_budget(
    sandbox: Sandbox, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1 s at 3 creates/s, and batches of 4: the budget is the run's, not each batch's.
    monkeypatch.setattr(tm4, "REALTIME_BUDGET", 1.0)
    monkeypatch.setattr("waypost.cli.track.SAVE_BATCH", 4)
    new = [f"trackingmore:sandbox-post:{synthetic_number(i, 'WB')}" for i in range(10)]
    outcome = cli("track", "--save", "--jsonl", *new)
    assert outcome.code == 0
    lines = [json.loads(line) for line in outcome.out.splitlines()]
    assert len(lines) == 10
    assert sum(1 for line in lines if line["events"]) == 3
    assert sum(1 for line in lines if line["status"] == "pending") == 7
    assert len(_on(sandbox, api.CREATE)) == 3
    assert sum(b.numbers for b in _on(sandbox, api.BATCH)) == 7
    assert {number for number, _ in _app(sandbox).account} >= {n.rsplit(":", 1)[1] for n in new}
    assert sandbox.rejected() == 0
    assert "hint: trackingmore: 1 number(s) not in the account" in outcome.err  # batch 1: 4 - 3
    assert "hint: trackingmore: 4 number(s) not in the account" in outcome.err  # batch 2
    assert "hint: trackingmore: 2 number(s) not in the account" in outcome.err  # batch 3
