"""What ``track``'s lean TrackingMore v4 path keeps in the store, and when: the first answer's
read time is written while later answers are still to be read (the model path writes it at its
first answer too, and it takes the sync of a new WAL file off the run's end); the run's
account state is committed before ``quick.track`` returns, though the store's close, a
checkpoint, goes on behind it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_lean_track_v4 import numbers
from tests.cli.test_lean_track_v4_clock import _lean_track, served
from tests.inproc import VirtualClock
from waypost import quick_tm
from waypost.sandbox import Sandbox
from waypost.store import sqlite as store_sqlite

__all__ = ["served"]  # the fixture, shared with the clock tests


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[str, str, Any]]]:
    """Every ``put_rows`` of the state table, in order."""
    made: list[list[tuple[str, str, Any]]] = []
    put_rows = store_sqlite._State.put_rows

    def recorded(state: Any, rows: Any) -> None:
        listed = list(rows)
        made.append(listed)
        put_rows(state, listed)

    monkeypatch.setattr(store_sqlite._State, "put_rows", recorded)
    return made


def _stored(data: Path) -> dict[tuple[str, str], str]:
    db = sqlite3.connect(data / "waypost.db")
    try:
        rows = db.execute("SELECT namespace, key, value FROM state").fetchall()
    finally:
        db.close()
    return {(n, k): v for n, k, v in rows}


def _closed() -> None:
    """Wait for the keepers still closing their stores."""
    for thread in threading.enumerate():
        if isinstance(thread, quick_tm._Keeper):
            thread.join(5.0)


def test_first_answer_time_is_written_while_later_answers_wait(
    served: Sandbox,
    clock: VirtualClock,
    writes: list[list[tuple[str, str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read = quick_tm._Run._read
    seen: list[int] = []

    def slow_read(run: quick_tm._Run, exchange: Any) -> bool | None:
        if len(seen) == 1:  # the second answer is read once the first write was made
            for _ in range(500):
                if writes:
                    break
                threading.Event().wait(0.01)
        seen.append(len(writes))
        return read(run, exchange)

    monkeypatch.setattr(quick_tm._Run, "_read", slow_read)
    listed = numbers(81, preload=served)  # three reads
    code, _ = _lean_track(listed, clock)
    _closed()
    assert code == 0
    assert seen == [0, 1, 1]  # written after the first answer, before the second was read
    assert len(writes) == 2
    ((namespace, key, first),) = writes[0]
    assert (namespace, key) == (quick_tm.NS_LIMITS, quick_tm.GET)
    members = [r for r in writes[1] if r[0] == quick_tm.NS_ACCOUNT]
    assert sorted(r[1] for r in members) == sorted(listed)
    (last,) = [r[2] for r in writes[1] if r[:2] == (quick_tm.NS_LIMITS, quick_tm.GET)]
    assert first <= last


def test_one_read_writes_once(
    served: Sandbox, clock: VirtualClock, writes: list[list[tuple[str, str, Any]]]
) -> None:
    listed = numbers(5, preload=served)
    assert _lean_track(listed, clock)[0] == 0
    _closed()
    assert len(writes) == 1  # no answer left to read beside a first write
    assert {r[1] for r in writes[0] if r[0] == quick_tm.NS_ACCOUNT} == set(listed)


def test_state_is_committed_when_track_returns(
    served: Sandbox, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closing = threading.Event()
    leave = threading.Event()
    released: list[bool] = []
    close = store_sqlite.StoreCache.close

    def held_close(cache: Any) -> None:
        closing.set()
        released.append(leave.wait(2.0))  # until the test has read the store (after return)
        close(cache)

    monkeypatch.setattr(store_sqlite.StoreCache, "close", held_close)
    listed = numbers(45, preload=served)
    try:
        assert _lean_track(listed, clock)[0] == 0  # returned while the close is held
        assert closing.is_set()
        stored = _stored(tmp_path / "data")
    finally:
        leave.set()
        _closed()
    assert released == [True]  # track returned with the close still under way
    assert {k for n, k in stored if n == quick_tm.NS_ACCOUNT} == set(listed)
    assert (quick_tm.NS_LIMITS, quick_tm.GET) in stored
