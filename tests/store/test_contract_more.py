"""More of what every store backend promises, run against each one (``backend``: SQLite, then
PostgreSQL): journeys (SPEC.md "PandaPon orders and journeys"), the watch list that manages
itself (archive, edit, stalled marks, the delivered history ETAs are learnt from), the rows of
imported orders and adapter state written in bulk."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.store.conftest import Backend
from waypost.carriers.base import Query
from waypost.models import Event, LastMile, Shipment, Status
from waypost.store.protocols import Watched, WatchStore


def parcel(
    number: str,
    *descs: str,
    carrier: str = "ils",
    status: Status = Status.IN_TRANSIT,
    **fields: object,
) -> Shipment:
    events = [
        Event(
            time=datetime(2026, 1, len(descs) - i, 12),
            location="Depot",
            description=d,
            status=status if i == 0 else Status.IN_TRANSIT,
        )
        for i, d in enumerate(descs)
    ]
    return Shipment(
        tracking_number=number,
        carrier=carrier,
        found=True,
        status=status,
        events=events,
        **fields,  # type: ignore[arg-type]
    )


def watched(store: WatchStore, *numbers: str) -> list[Watched]:
    """Save ILS parcels ``numbers``; their rows, in that order."""
    for i, n in enumerate(numbers):
        store.add([parcel(n, "Loaded")], Query(n, "ils"), None, now=100.0 + i)
    by_number = {r.number: r for r in store.watched()}
    return [by_number[n] for n in numbers]


def legs(store: WatchStore, journey_id: str) -> list[str]:
    return [r.number for r in store.journey_legs(journey_id)]


# -- journeys ------------------------------------------------------------------------------------


def test_a_journey_keeps_its_legs_in_the_order_given(backend: Backend) -> None:
    with backend.open() as store:
        a, b, c = watched(store, "A1", "B1", "C1")
        store.link_legs("j00000001", [c.id, a.id, b.id], now=5.0)
        assert legs(store, "j00000001") == ["C1", "A1", "B1"]
        assert store.journey_marks() == {
            c.id: ("j00000001", 1, 3),
            a.id: ("j00000001", 2, 3),
            b.id: ("j00000001", 3, 3),
        }
        assert store.journey_of(a.id) == "j00000001"
        assert store.journey_legs("j-none") == []
    with backend.open() as again:  # committed: another connection (host) sees it
        assert legs(again, "j00000001") == ["C1", "A1", "B1"]


def test_a_relinked_leg_leaves_its_old_journey_renumbered_or_dissolved(backend: Backend) -> None:
    with backend.open() as store:
        a, b, c, d, e = watched(store, "A1", "B1", "C1", "D1", "E1")
        store.link_legs("j1", [a.id, b.id, c.id], now=1.0)
        store.link_legs("j2", [b.id, d.id], now=2.0)
        assert legs(store, "j1") == ["A1", "C1"]
        assert store.journey_marks()[c.id] == ("j1", 2, 2)
        store.link_legs("j3", [a.id, e.id], now=3.0)
        assert legs(store, "j1") == []  # one leg left: no journey any more
        assert store.journey_of(c.id) is None
        assert set(store.journey_marks()) == {a.id, b.id, d.id, e.id}


def test_dissolving_a_journey_frees_its_legs(backend: Backend) -> None:
    with backend.open() as store:
        a, b = watched(store, "A1", "B1")
        store.link_legs("j1", [b.id, a.id], now=1.0)
        gone = store.dissolve_journey("j1")
        assert [r.number for r in gone] == ["B1", "A1"]
        assert store.journey_marks() == {}
        assert store.dissolve_journey("j1") == []
        store.link_legs("j1", [a.id, b.id], now=2.0)  # the id is free again
        assert legs(store, "j1") == ["A1", "B1"]


def test_a_next_leg_goes_right_after_its_row_and_is_never_taken(backend: Backend) -> None:
    with backend.open() as store:
        a, b, c, x = watched(store, "A1", "B1", "C1", "X1")
        assert store.insert_leg(a.id, c.id, "j1", now=1.0)  # a new journey of the two
        assert legs(store, "j1") == ["A1", "C1"]
        assert store.insert_leg(a.id, b.id, "j-unused", now=2.0)  # into the middle
        assert legs(store, "j1") == ["A1", "B1", "C1"]
        assert store.journey_legs("j-unused") == []
        assert not store.insert_leg(x.id, b.id, "j2", now=3.0)  # a leg of j1 already
        assert not store.insert_leg(x.id, x.id, "j2", now=3.0)
        assert store.journey_of(x.id) is None
        assert store.journey_legs("j2") == []


def test_a_shipped_orders_parcel_takes_its_stand_ins_leg(backend: Backend) -> None:
    with backend.open() as store:
        stand_in, ils, parcel_row, other = watched(store, "S1", "I1", "P1", "O1")
        store.link_legs("j1", [stand_in.id, ils.id], now=1.0)
        assert store.replace_leg(stand_in.id, parcel_row.id)
        assert legs(store, "j1") == ["P1", "I1"]
        assert store.journey_of(stand_in.id) is None
        assert not store.replace_leg(stand_in.id, other.id)  # no leg to give
        store.link_legs("j2", [other.id, stand_in.id], now=2.0)
        assert not store.replace_leg(other.id, ils.id)  # ils is a leg already
        assert legs(store, "j2") == ["O1", "S1"]


def test_rows_whose_answer_names_a_next_leg_until_linked(backend: Backend) -> None:
    mile = LastMile(courier="usps", tracking_number="9400111201080805483016")
    with backend.open() as store:
        named = parcel("LS912989618CN", "Handed over", carrier="trackingmore", last_mile=mile)
        done = parcel(
            "RR050349575PH",
            "Delivered",
            carrier="trackingmore",
            status=Status.DELIVERED,
            last_mile=mile,
        )
        store.add([named], Query(named.tracking_number, "trackingmore"), None, now=1.0)
        store.add([done], Query(done.tracking_number, "trackingmore"), None, now=2.0)
        watched(store, "A1")
        ((row, raw),) = store.unlinked_next_legs()
        assert row.number == "LS912989618CN"
        assert Shipment.model_validate_json(raw).last_mile == mile
        (a,) = [r for r in store.watched() if r.number == "A1"]
        assert store.unlinked_next_legs([a.id]) == []  # a chunk's rows only
        assert [r.number for r, _ in store.unlinked_next_legs([a.id, row.id])] == [row.number]
        store.link_legs("j1", [row.id, a.id], now=3.0)
        assert store.unlinked_next_legs() == []


def test_a_failed_link_leaves_no_journey(backend: Backend) -> None:
    with backend.open() as store:
        a, b = watched(store, "A1", "B1")

        def half_done() -> None:
            with store.transaction():
                store.link_legs("j1", [a.id, b.id], now=1.0)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            half_done()
        assert store.journey_marks() == {}
        assert store.journey_legs("j1") == []


def test_removing_a_leg_keeps_the_others(backend: Backend) -> None:
    with backend.open() as store:
        a, b, c = watched(store, "A1", "B1", "C1")
        store.link_legs("j1", [a.id, b.id, c.id], now=1.0)
        assert store.remove([b]) == 1
        assert legs(store, "j1") == ["A1", "C1"]


# -- the watch list manages itself ---------------------------------------------------------------


def test_archived_rows_leave_the_list_and_come_back(backend: Backend) -> None:
    with backend.open() as store:
        a, _ = watched(store, "A1", "B1")
        store.set_archived([a.id], 1000.0)
        assert [r.number for r in store.watched()] == ["B1"]
        assert [(r.number, r.archived) for r in store.watched(archived=True)] == [("A1", 1000.0)]
        assert [r.number for r in store.watched(archived=None)] == ["A1", "B1"]
        assert [r.number for c in store.chunks(include_final=True) for r in c] == ["B1"]
        store.set_archived([a.id], None)
        assert [r.number for r in store.watched()] == ["A1", "B1"]


def test_edits_relabel_and_move_to_another_courier(backend: Backend) -> None:
    with backend.open() as store:
        shipment = parcel(
            "LS912989618CN",
            "Posted",
            carrier="trackingmore",
            courier="china-ems",
            eta=datetime(2026, 2, 1, 12),
            eta_source="carrier",
        )
        store.add([shipment], Query("LS912989618CN", "trackingmore", "china-ems"), "old", now=1.0)
        (row,) = store.watched()
        assert row.eta == "2026-02-01T12:00:00"
        snapshot = store.snapshot(row.id)
        assert snapshot is not None
        assert Shipment.model_validate_json(snapshot).tracking_number == "LS912989618CN"
        store.relabel(row.id, "new")
        store.set_stalled_reported(row.id, "2026-01-01T12:00:00")
        (row,) = store.watched()
        assert (row.label, row.stalled_reported) == ("new", "2026-01-01T12:00:00")
        store.recourier(row.id, "usps")
        (moved,) = store.watched()
        assert (moved.courier, moved.ask) == (
            "usps",
            Query("LS912989618CN", "trackingmore", "usps"),
        )
        assert (moved.status, moved.final, moved.eta, moved.stalled_reported) == (
            "unknown",
            False,
            None,
            None,
        )
        assert store.events(row.id) == []
        assert store.snapshot(row.id) is None
        assert store.snapshot(10**9) is None


def test_delivered_rows_are_the_history_etas_learn_from(backend: Backend) -> None:
    with backend.open() as store:
        done = parcel(
            "D1",
            "Delivered",
            "Sorted",
            "Loaded",
            status=Status.DELIVERED,
            origin="CN",
            destination="DE",
        )
        store.add([done], Query("D1", "ils"), None, now=1.0)
        watched(store, "A1")  # not delivered: not history
        ((row_id, carrier, courier, origin, dest, first, delivered, archived),) = store.deliveries()
        (row,) = [r for r in store.watched() if r.number == "D1"]
        assert (row_id, carrier, courier, origin, dest) == (row.id, "ils", None, "CN", "DE")
        assert (first, delivered, archived) == ("2026-01-01T12:00:00", "2026-01-03T12:00:00", None)
        store.set_archived([row.id], 50.0)
        assert store.deliveries()[0][7] == 50.0  # archived rows still teach


# -- imported orders and adapter state -----------------------------------------------------------


def test_an_imported_orders_parcels_are_found_by_order_id(backend: Backend) -> None:
    with backend.open() as store:
        order = Query("2542285634920880794", "pandapon")
        first = parcel("PP1", "Shipped", carrier="pandapon", order_id=order.number)
        assert store.add([first], order, "mug") == 1
        (row,) = store.find(order.number, "pandapon")
        assert (row.number, row.order_id, row.label) == ("PP1", order.number, "mug")
        second = store.adopt(
            row, parcel("PP2", "Shipped", carrier="pandapon", order_id=order.number)
        )
        assert second.order_id == order.number
        assert sorted(r.number for r in store.find(order.number)) == ["PP1", "PP2"]
        assert store.find(order.number, "ils") == []
        assert store.add([first], order, None) == 0  # imported again: nothing new


def test_adapter_state_written_together(backend: Backend) -> None:
    with backend.open() as store:
        store.state.put_many("pandapon.orders", [("a", {"n": 1}), ("b", [2])])  # type: ignore[attr-defined]
        store.state.put_many("pandapon.orders", [])  # type: ignore[attr-defined]
    with backend.open() as again:
        assert again.state.get("pandapon.orders", "a") == {"n": 1}
        assert again.state.get("pandapon.orders", "b") == [2]
