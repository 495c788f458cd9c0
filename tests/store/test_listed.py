"""``WatchStore.listed``, what ``waypost list`` reads (issue 19/20: a cheap list), against every
backend: the same rows, order and filters as ``watched``, the earliest event time from the
database, and rows yielded one by one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from tests.store.conftest import Backend
from waypost.carriers.base import Query
from waypost.models import Event, Shipment, Status
from waypost.store.protocols import ListRow


def parcel(number: str, days: list[int], status: Status = Status.IN_TRANSIT) -> Shipment:
    events = [Event(time=datetime(2026, 3, d, 9), description=f"day {d}") for d in days]
    return Shipment(tracking_number=number, carrier="ils", found=True, status=status, events=events)


def seed(backend: Backend) -> None:
    with backend.open() as store:
        store.add([parcel("A0001", [4, 2, 9])], Query("A0001", "ils"), "boots", now=10.0)
        store.add([parcel("B0002", [])], Query("B0002", "ils"), None, now=20.0)
        done = parcel("C0003", [5, 7], Status.DELIVERED)
        store.add([done], Query("C0003", "ils"), None, now=30.0)
        store.add([parcel("D0004", [1])], Query("D0004", "ils"), None, now=40.0)
        (gone,) = store.find("D0004")
        store.set_archived([gone.id], 50.0)


def test_listed_yields_the_rows_watched_does_with_the_first_event_time(backend: Backend) -> None:
    seed(backend)
    with backend.open() as store:
        rows = store.listed()
        assert isinstance(rows, Iterator)  # yielded one by one, not a list built first
        listed = list(rows)
        assert all(isinstance(r, ListRow) for r in listed)
        watched = store.watched()
        assert [(r.id, r.number, r.label, r.status) for r in listed] == [
            (w.id, w.number, w.label, w.status) for w in watched
        ]
        firsts = {r.number: r.first_event_time for r in listed}
        assert firsts == {
            "A0001": "2026-03-02T09:00:00",
            "B0002": None,
            "C0003": "2026-03-05T09:00:00",
        }
        assert [bool(r.final) for r in listed] == [False, False, True]
        assert [r.journey for r in listed] == [None, None, None]


def test_listed_filters_as_watched_does(backend: Backend) -> None:
    seed(backend)
    with backend.open() as store:

        def numbers(rows: Iterator[ListRow]) -> list[str]:
            return [r.number for r in rows]

        assert numbers(store.listed(include_final=False)) == ["A0001", "B0002"]
        assert numbers(store.listed(status="delivered")) == ["C0003"]
        assert numbers(store.listed(archived=True)) == ["D0004"]
        assert numbers(store.listed(archived=None)) == ["A0001", "B0002", "C0003", "D0004"]
        for include_final, status, archived in [
            (False, None, False),
            (True, "in_transit", False),
            (True, None, True),
            (True, None, None),
        ]:
            assert numbers(
                store.listed(include_final=include_final, status=status, archived=archived)
            ) == [
                w.number
                for w in store.watched(
                    include_final=include_final, status=status, archived=archived
                )
            ]
        (archived_row,) = store.find("D0004")
        (a,) = store.find("A0001")
        by_id = list(store.listed(ids=[archived_row.id, a.id]))  # archived or not
        assert [r.number for r in by_id] == ["A0001", "D0004"]
        assert list(store.listed(ids=[])) == []


def test_listed_lets_other_queries_run_between_rows(backend: Backend) -> None:
    with backend.open() as store:
        for i in range(5):  # the same `added` for all: the id orders them
            store.add([parcel(f"P{i}", [i + 1])], Query(f"P{i}", "ils"), None, now=7.0)
        seen = []
        for row in store.listed():
            seen.append((row.number, [e[2] for e in store.events(row.id)]))
        assert seen == [(f"P{i}", [f"day {i + 1}"]) for i in range(5)]
        assert [r.number for r in store.listed(include_final=False)] == [f"P{i}" for i in range(5)]
