"""The SQLite store: migrations, de-duplicated events, save semantics, caches."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from waypost.carriers.base import Query
from waypost.errors import StoreError
from waypost.models import Event, Shipment, Status
from waypost.store import MIGRATIONS, SCHEMA_VERSION, Store, event_key

ILS_A1234 = Query("A1234", "ils")


def shipment(
    number: str = "3676E4043665", *descs: str, status: Status = Status.IN_TRANSIT
) -> Shipment:
    events = [
        Event(time=datetime(2026, 1, 10 - i, 12), location="Depot", description=d)
        for i, d in enumerate(descs)
    ]
    return Shipment(tracking_number=number, carrier="ils", found=True, status=status, events=events)


def test_a_new_database_is_at_the_latest_version_in_wal_mode(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as store:
        assert store.version == SCHEMA_VERSION == len(MIGRATIONS)
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_migration_from_version_1_keeps_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0].sql)
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO watched (number, carrier, label, added, status) VALUES ('A1234', 'ils', 'old', 1.0, 'in_transit')"
    )
    db.execute(
        "INSERT INTO events (shipment_id, key, description, seen) VALUES (1, 'k', 'Loaded', 1.0)"
    )
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.version == SCHEMA_VERSION
        (row,) = store.watched()
        assert (row.number, row.label, row.status, row.query) == (
            "A1234",
            "old",
            "in_transit",
            "ils:A1234",
        )
        assert store.known_keys(row.id) == {"k"}
        store.put("ns", "k", {"x": 1})
        assert store.get("ns", "k") == {"x": 1}


def test_a_newer_database_is_refused_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this waypost"):
        Store(path)


def test_garbage_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="cannot use the database"):
        Store(path)


def test_adding_again_updates_the_label_and_never_duplicates(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as store:
        assert store.add([shipment("A1234", "Loaded")], ILS_A1234, "first") == 1
        assert store.add([shipment("A1234", "Loaded")], ILS_A1234, "second") == 0
        assert store.add([shipment("A1234", "Loaded")], ILS_A1234, None) == 0
        (row,) = store.watched()
        assert row.label == "second"
        assert len(store.events(row.id)) == 1


def test_events_are_deduplicated_by_time_location_and_description(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as store:
        store.add([shipment("A1234", "Loaded", "Received")], ILS_A1234, None)
        (row,) = store.watched()
        again = shipment("A1234", "Arrived", "LOADED ", "Received")
        again.events[1] = again.events[1].model_copy(update={"time": datetime(2026, 1, 10, 12)})
        again.events[2] = again.events[2].model_copy(update={"time": datetime(2026, 1, 9, 12)})
        again.events[0] = again.events[0].model_copy(update={"time": datetime(2026, 1, 11, 12)})
        fresh = store.new_events(row, again)
        assert [e.description for e in fresh] == ["Arrived"]
        store.refresh(row, again)
        assert store.new_events(row, again) == []
        assert len(store.events(row.id)) == 3


def test_event_key_is_stable_and_folds_case_and_spacing() -> None:
    assert event_key("t", " Depot  A", "Loaded  Into") == event_key("t", "depot a", "loaded into")
    assert event_key("t", "a", "b") != event_key("u", "a", "b")


def test_final_shipments_are_left_out_of_due_rows(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as store:
        store.add(
            [shipment("A1234", "x"), shipment("B1234", "y", status=Status.DELIVERED)],
            ILS_A1234,
            None,
        )
        assert [r.number for r in store.watched(include_final=False)] == ["A1234"]
        assert [r.number for r in store.watched(status="delivered")] == ["B1234"]


def test_remove_deletes_events_too(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as store:
        store.add([shipment("A1234", "x", "y")], ILS_A1234, None)
        rows = store.find("A1234")
        assert store.remove(rows) == 1
        assert store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_failed_answers_are_watched_without_events(tmp_path: Path) -> None:
    from waypost.errors import NetworkError

    failed = Shipment.failed("A1234", "ils", NetworkError("down"))
    with Store(tmp_path / "w.db") as store:
        store.add([failed], ILS_A1234, None)
        (row,) = store.watched()
        # Schema 2: never answered is "unknown", not the carrier's "pending".
        assert row.status == "unknown"
        assert row.last_checked is None


def test_cache_expiry(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as store:
        store.put("tm", "n", [1, 2])
        assert store.get("tm", "n", max_age=60) == [1, 2]
        store.db.execute("UPDATE cache SET stored = stored - 120")
        assert store.get("tm", "n", max_age=60) is None
        assert store.get("tm", "n") == [1, 2]
        assert store.get("tm", "missing") is None


def test_state_put_many_writes_every_value_in_one_transaction(tmp_path: Path) -> None:
    from waypost.carriers.base import put_many
    from waypost.store.sqlite import StoreCache

    with Store.open(tmp_path) as store:
        statements: list[str] = []
        store.db.set_trace_callback(statements.append)
        put_many(store.state, "tm.account", [("N1", "id1"), ("N2", ""), ("N1", "id3")])
        store.db.set_trace_callback(None)
        assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == [
            "BEGIN IMMEDIATE",
            "COMMIT",
        ]
        assert store.state.get("tm.account", "N1") == "id3"  # the last value of a key wins
        assert store.state.get("tm.account", "N2") == ""
        put_many(store.state, "tm.account", [])
    lenient = StoreCache(tmp_path)
    put_many(lenient.state, "tm.account", iter([("N4", "id4")]))  # a one-shot iterable
    assert lenient.state.get("tm.account", "N4") == "id4"
    lenient.close()


def test_state_rows_go_in_a_few_many_row_statements_of_one_transaction(tmp_path: Path) -> None:
    from waypost.store.sqlite import StoreCache

    rows = [("tm.account", f"N{i}", f"id{i}") for i in range(600)]
    rows += [("tm.limits", "/get", 1.5), ("tm.account", "N0", "last")]  # a later value wins
    with Store.open(tmp_path) as store:
        statements: list[str] = []
        store.db.set_trace_callback(statements.append)
        store.state.put_rows(iter(rows))  # type: ignore[attr-defined]
        store.db.set_trace_callback(None)
        inserts = [s for s in statements if s.startswith("INSERT")]
        assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == [
            "BEGIN IMMEDIATE",
            "COMMIT",
        ]
        assert len(inserts) == 3  # 602 rows, at most 249 a statement (SQLite's 999 variables)
        assert store.state.get("tm.account", "N0") == "last"
        assert store.state.get("tm.account", "N599") == "id599"
        assert store.state.get("tm.limits", "/get") == 1.5
        count = store.db.execute("SELECT COUNT(*) FROM state WHERE namespace = 'tm.account'")
        assert count.fetchone()[0] == 600
    lenient = StoreCache(tmp_path)
    lenient.state.put_rows([("tm.account", "N4", {"id": 4})])
    lenient.state.put_rows([])
    assert lenient.state.get("tm.account", "N4") == {"id": 4}
    lenient.close()
