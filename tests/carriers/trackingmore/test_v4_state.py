"""TrackingMore v4's durable state is written in few writes: the account membership a run
learns in one write per operation (not one per number or per read), each endpoint's last
request at once when the stored one is a second old, else once the burst of calls ends; what
is stored is the same as with one write per change (the next run's spacing and membership).
On the virtual clock (tests/inproc.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from waypost.carriers.base import Answer, Query, TrackOptions
from waypost.carriers.trackingmore import v4 as tm4
from waypost.http import Session
from waypost.sandbox import Sandbox
from waypost.sandbox.trackingmore import App, synthetic_number


class _Counted:
    """A StateStore that counts its writes (``put`` and ``put_many`` calls)."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], Any] = {}
        self.writes: list[tuple[str, int]] = []

    def get(self, namespace: str, key: str) -> Any | None:
        return self.data.get((namespace, key))

    def put(self, namespace: str, key: str, value: Any) -> None:
        self.writes.append((namespace, 1))
        self.data[(namespace, key)] = value

    def put_many(self, namespace: str, items: Iterable[tuple[str, Any]]) -> None:
        rows = list(items)
        self.writes.append((namespace, len(rows)))
        self.data.update(((namespace, k), v) for k, v in rows)


def _track(
    sandbox: Sandbox, numbers: list[str], state: _Counted, save: bool = False
) -> list[Answer]:
    env = sandbox.env()
    settings = {
        "api_key": env["WAYPOST_TRACKINGMORE_API_KEY"],
        "base_url": env["WAYPOST_TRACKINGMORE_BASE_URL"],
    }
    queries = [Query(n, "trackingmore", "sandbox-post") for n in numbers]

    async def go() -> list[Answer]:
        async with Session() as session:
            adapter = tm4.Adapter(settings, session, None, state)  # type: ignore[arg-type]
            return await adapter.track(queries, TrackOptions(save=save))

    return asyncio.run(go())


def _app(sandbox: Sandbox) -> App:
    app = sandbox.apps["trackingmore"]
    assert isinstance(app, App)
    return app


def test_300_numbers_in_the_account_cost_one_membership_write_and_two_spacing_writes(
    sandbox: Sandbox,
) -> None:
    numbers = [synthetic_number(i, "SW") for i in range(300)]
    _app(sandbox).preload(numbers)
    state = _Counted()
    answers = _track(sandbox, numbers, state)
    assert all(a.shipments[0].found for a in answers)
    account = [w for w in state.writes if w[0] == tm4.NS_ACCOUNT]
    limits = [w for w in state.writes if w[0] == tm4.NS_LIMITS]
    assert account == [(tm4.NS_ACCOUNT, 300)]  # 8 reads, one write
    assert len(limits) == 2  # the first read's stamp at once, the rest at the end of the burst
    ids = {n: state.get(tm4.NS_ACCOUNT, n) for n in numbers}
    assert all(isinstance(v, str) and v for v in ids.values())
    # The stored stamp is the last request's: the next run's spacing counts from it.
    last = state.get(tm4.NS_LIMITS, "/trackings/get")
    assert isinstance(last, float)


def test_save_of_new_numbers_writes_their_membership_once(
    sandbox: Sandbox, monkeypatch: Any
) -> None:
    monkeypatch.setattr(tm4, "REALTIME_BUDGET", 2.0)  # 6 in real time, the rest batch-created
    numbers = [synthetic_number(i, "SN") for i in range(50)]
    state = _Counted()
    answers = _track(sandbox, numbers, state, save=True)
    assert len(answers) == 50
    account = [w for w in state.writes if w[0] == tm4.NS_ACCOUNT]
    assert sum(n for _, n in account) >= 50
    assert len(account) <= 2  # the reads' (none held) and the creates', not 50 writes
    assert all(isinstance(state.get(tm4.NS_ACCOUNT, n), str) for n in numbers)
    assert sandbox.rejected() == 0


def test_a_deleted_number_is_stored_gone(sandbox: Sandbox) -> None:
    numbers = [synthetic_number(i, "SD") for i in range(3)]
    _app(sandbox).preload(numbers)
    state = _Counted()
    _track(sandbox, numbers, state)
    assert all(isinstance(state.get(tm4.NS_ACCOUNT, n), str) for n in numbers)

    async def remove() -> list[Answer]:
        env = sandbox.env()
        settings = {
            "api_key": env["WAYPOST_TRACKINGMORE_API_KEY"],
            "base_url": env["WAYPOST_TRACKINGMORE_BASE_URL"],
        }
        async with Session() as session:
            adapter = tm4.Adapter(settings, session, None, state)  # type: ignore[arg-type]
            return await adapter.remove([Query(numbers[0], "trackingmore", None)])

    before = len(state.writes)
    (answer,) = asyncio.run(remove())
    assert answer.shipments[0].status_text == "deleted from the TrackingMore account"
    assert state.get(tm4.NS_ACCOUNT, numbers[0]) is None
    assert len([w for w in state.writes[before:] if w[0] == tm4.NS_ACCOUNT]) == 1
