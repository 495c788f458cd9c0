"""What every store backend promises (``waypost.store.protocols``), run against each one of
``BACKENDS``: saving, listing, removing, events and news, commit semantics, adapter state apart
from the cache, claims, a busy database and a read-only one."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.store.conftest import Backend
from waypost.carriers.base import Query
from waypost.errors import StoreBusy, StoreError, StoreLocked, StoreReadOnly
from waypost.models import Event, Shipment, Status
from waypost.store.protocols import Watched

ILS = Query("3676E4043665", "ils")
TM = Query("LS912989618CN", "trackingmore", "china-ems")


def parcel(
    number: str, *descs: str, carrier: str = "ils", status: Status = Status.IN_TRANSIT
) -> Shipment:
    events = [
        # The oldest (last) event is on 1 January, each newer one a day later.
        Event(time=datetime(2026, 1, len(descs) - i, 12), location="Depot", description=d)
        for i, d in enumerate(descs)
    ]
    return Shipment(
        tracking_number=number, carrier=carrier, found=True, status=status, events=events
    )


def test_saved_shipments_keep_their_query_label_and_state(backend: Backend) -> None:
    with backend.open() as store:
        assert store.add([parcel(ILS.number, "Loaded")], ILS, "spring") == 1
        assert store.add([parcel(TM.number, "Posted", carrier="trackingmore")], TM, None) == 1
        rows = store.watched()
        assert [(r.number, r.carrier, r.label, r.status) for r in rows] == [
            (ILS.number, "ils", "spring", "in_transit"),
            (TM.number, "trackingmore", None, "in_transit"),
        ]
        assert [r.ask for r in rows] == [
            Query(ILS.number, "ils", None),
            Query(TM.number, "trackingmore", "china-ems"),
        ]
        assert rows[1].query == "trackingmore:china-ems:LS912989618CN"
        assert store.numbers() == sorted([ILS.number, TM.number])
        assert [r.number for r in store.find(TM.number)] == [TM.number]
        assert store.find(TM.number, "ils") == []
        assert [r.number for r in store.watched(carrier="ils")] == [ILS.number]
    with backend.open() as again:  # another connection sees the committed rows
        assert len(again.watched()) == 2


def test_saving_again_updates_the_label_never_duplicates(backend: Backend) -> None:
    with backend.open() as store:
        store.add([parcel(ILS.number, "Loaded")], ILS, "first")
        assert store.add([parcel(ILS.number, "Sorted", "Loaded")], ILS, "second") == 0
        assert store.add([parcel(ILS.number, "Loaded")], ILS, None) == 0
        (row,) = store.watched()
        assert row.label == "second"
        assert len(store.events(row.id)) == 2


def test_final_rows_leave_the_due_list_and_chunks_match_it(backend: Backend) -> None:
    with backend.open() as store:
        for i in range(7):
            store.add([parcel(f"A{i:04d}", "x")], Query(f"A{i:04d}", "ils"), None, now=100.0 + i)
        done = parcel("B0000", "y", status=Status.DELIVERED)
        store.add([done], Query("B0000", "ils"), None, now=50.0)
        due = store.watched(include_final=False)
        assert [r.number for r in due] == [f"A{i:04d}" for i in range(7)]
        chunks = list(store.chunks(size=3))
        assert [len(c) for c in chunks] == [3, 3, 1]
        assert [r for c in chunks for r in c] == due
        everything = [r for c in store.chunks(include_final=True, size=100) for r in c]
        assert [r.number for r in everything] == ["B0000", *(f"A{i:04d}" for i in range(7))]


def test_remove_forgets_rows_and_their_events(backend: Backend) -> None:
    with backend.open() as store:
        store.add([parcel(ILS.number, "Loaded"), parcel("A0001", "x")], ILS, None)
        gone = store.find(ILS.number)
        assert store.remove(gone) == 1
        assert [r.number for r in store.watched()] == ["A0001"]
        assert store.events(gone[0].id) == []
        assert gone[0].id not in store.first_event_times()


def test_events_are_stored_newest_first_and_deduplicated(backend: Backend) -> None:
    with backend.open() as store:
        store.add([parcel(ILS.number, "Sorted", "Loaded")], ILS, None)
        (row,) = store.watched()
        assert [e[2] for e in store.events(row.id)] == ["Sorted", "Loaded"]
        assert sorted(store.first_event_times()[row.id]) == [
            "2026-01-01T12:00:00",
            "2026-01-02T12:00:00",
        ]


def test_news_is_what_was_not_committed_yet(backend: Backend) -> None:
    with backend.open() as store:
        store.add([parcel(ILS.number, "Loaded")], ILS, None)
        (row,) = store.watched()
        newer = parcel(ILS.number, "Out for delivery", "Loaded")
        # The same event twice in one answer (spacing and case differ) is one piece of news.
        doubled = newer.model_copy(
            update={
                "events": [
                    *newer.events,
                    newer.events[0].model_copy(update={"description": "  OUT for   delivery "}),
                ]
            }
        )
        fresh = store.new_events(row, doubled)
        assert [e.description for e in fresh] == ["Out for delivery"]
        assert [e.description for e in store.new_events(row, newer)] == ["Out for delivery"]
        store.refresh(row, newer, now=500.0)
        assert store.new_events(row, newer) == []
        (after,) = store.watched()
        assert after.last_checked == 500.0
        assert after.last_event == "Out for delivery"


def test_an_unanswered_refresh_changes_nothing(backend: Backend) -> None:
    with backend.open() as store:
        store.add([parcel(ILS.number, "Loaded")], ILS, None)
        (row,) = store.watched()
        unknown = Shipment(tracking_number=ILS.number, carrier="ils", status=Status.UNKNOWN)
        store.refresh(row, unknown, now=900.0)
        assert store.watched() == [row]
        store.touch([row.id], now=901.0)
        (touched,) = store.watched()
        assert (touched.last_checked, touched.status) == (901.0, "in_transit")


def test_a_failed_transaction_leaves_nothing_behind(backend: Backend) -> None:
    with backend.open() as store:

        def half_done() -> None:
            with store.transaction():
                store.add([parcel(ILS.number, "Loaded")], ILS, None)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            half_done()
        assert store.watched() == []


def test_adopt_and_mark_remote(backend: Backend) -> None:
    with backend.open() as store:
        order = Query("42", "pandapon")
        store.add([parcel("PP1", "a", carrier="pandapon")], order, "gift")
        (first,) = store.watched()
        second = store.adopt(first, parcel("PP2", "b", carrier="pandapon"))
        assert (second.number, second.ask, second.label) == ("PP2", order, "gift")
        store.mark_remote([second.id])
        assert {r.number: r.remote for r in store.watched()} == {"PP1": False, "PP2": True}


def test_adapter_state_is_durable_and_apart_from_the_cache(backend: Backend) -> None:
    with backend.open() as store:
        store.state.put("tm.watch", "cursor", 1.7e9)
        store.cache.put("tm.realtime", "N1", {"item": [1, 2]})
        assert store.state.get("tm.watch", "cursor") == 1.7e9
        assert store.cache.get("tm.watch", "cursor") is None
        assert store.state.get("tm.realtime", "N1") is None
        assert store.cache.get("tm.realtime", "N1", max_age=3600) == {"item": [1, 2]}
        assert store.cache.get("tm.realtime", "N1", max_age=-1) is None
        store.state.put("tm.watch", "cursor", 1.8e9)
    with backend.open() as again:
        assert again.state.get("tm.watch", "cursor") == 1.8e9
        assert again.state.get("tm.watch", "missing") is None


def test_a_pass_claims_every_row_nobody_else_holds(backend: Backend) -> None:
    with backend.open() as store:
        store.add([parcel(ILS.number, "a"), parcel("A0001", "b")], ILS, None)
        rows = store.watched(include_final=False)
        with store.pass_lock(0.0), store.claim(rows) as mine:
            assert mine == rows
        with backend.other_pass(rows):
            taken: list[Watched] | None = None
            locked: StoreLocked | None = None
            try:
                with store.pass_lock(0.0), store.claim(rows) as claimed:
                    taken = claimed
            except StoreLocked as exc:
                locked = exc
            # Either the whole pass is refused (SQLite) or it claims none of the held rows.
            if locked is None:
                assert taken == []
            else:
                assert "another `waypost watch` is running" in locked.message
        with store.pass_lock(0.0), store.claim(rows) as mine:  # released: all again
            assert mine == rows


def test_a_busy_database_is_store_busy_and_changes_nothing(backend: Backend) -> None:
    with backend.open(timeout=0) as store:
        store.add([parcel(ILS.number, "a")], ILS, None)
        with backend.other_writer():
            with pytest.raises(StoreBusy):
                store.add([parcel("A0001", "b")], Query("A0001", "ils"), None)
            with store.no_wait(), pytest.raises(StoreBusy):
                store.state.put("ns", "k", 1)
            assert [r.number for r in store.watched()] == [ILS.number]  # reads go on
        assert store.add([parcel("A0001", "b")], Query("A0001", "ils"), None) == 1


def test_a_read_only_database_reads_but_refuses_writes(backend: Backend) -> None:
    with backend.open() as store:
        store.add([parcel(ILS.number, "a")], ILS, "kept")
    with backend.read_only() as reader:
        assert reader.read_only
        (row,) = reader.watched()
        assert row.label == "kept"
        with pytest.raises(StoreReadOnly):
            reader.add([parcel("A0001", "b")], Query("A0001", "ils"), None)
        with pytest.raises(StoreError):
            reader.remove([row])
    with backend.open() as store:
        assert [r.number for r in store.watched()] == [ILS.number]
