"""``list``'s reads (issue 20, start-up): the named step "indexes for list" adds the indexes
that a database of the previous layout gains on open (the earliest event time in one step, the
rows in their order without a sort), the rows' first event times read through them are the ones
a scan of every event gives, and ``ListRow`` (made by ``collections.namedtuple`` at run time)
has the typed class's fields."""

from __future__ import annotations

import ast
import gc
import sqlite3
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.store.conftest import Backend
from waypost.store import MIGRATIONS, SCHEMA_VERSION, Store
from waypost.store import rows as rows_module
from waypost.store.rows import BRIEF, ListRow
from waypost.store.sqlite import _LIST_COLUMNS

STEP = "indexes for list"


def previous_layout(path: Path, events: list[tuple[int, str | None]]) -> None:
    """A database made by every step before ``STEP``, with two shipments and ``events``."""
    db = sqlite3.connect(path, isolation_level=None)
    names = [m.name for m in MIGRATIONS]
    for version, step in enumerate(MIGRATIONS[: names.index(STEP)], 1):
        step.apply(db)
        db.execute(f"PRAGMA user_version = {version}")
    db.executemany(
        "INSERT INTO watched (id, number, carrier, added, status) VALUES (?, ?, 'ils', ?, ?)",
        [(1, "N1", 1.0, "in_transit"), (2, "N2", 2.0, "in_transit")],
    )
    db.executemany(
        "INSERT INTO events (shipment_id, key, time, seen) VALUES (?, ?, ?, 1.0)",
        [(sid, f"k{i}", when) for i, (sid, when) in enumerate(events)],
    )
    db.close()


def plan(store: Store) -> str:
    """How SQLite reads ``list``'s default rows (not final, not archived, oldest first)."""
    sql = (
        f"EXPLAIN QUERY PLAN SELECT {_LIST_COLUMNS} FROM watched w"  # noqa: S608
        " WHERE w.archived IS NULL AND w.final = 0 ORDER BY w.added, w.id"
    )
    return " ".join(str(r[-1]) for r in store.db.execute(sql))


def test_a_database_of_the_previous_layout_gains_the_index_and_keeps_its_events(
    tmp_path: Path,
) -> None:
    path = tmp_path / "waypost.db"
    times = [(1, "2026-11-02T08:00:00"), (1, "2026-11-01T09:30:00"), (1, None), (2, None)]
    previous_layout(path, times)
    with Store(path) as store:
        assert store.version == SCHEMA_VERSION
        assert MIGRATIONS[-1].name == STEP
        indexes = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
        assert {"events_time", "watched_listed"} <= indexes
        assert "watched_archived" not in indexes  # the new one serves its reads
        assert "COVERING INDEX events_time" in plan(store)
        assert "INDEX watched_listed" in plan(store)
        assert "TEMP B-TREE" not in plan(store)
        assert store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == len(times)
        listed = {r.number: r.first_event_time for r in store.listed()}
        assert listed == {"N1": "2026-11-01T09:30:00", "N2": None}


def test_a_new_database_reads_first_event_times_through_the_index(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert "COVERING INDEX events_time" in plan(store)
        assert "TEMP B-TREE" not in plan(store)


stored_times = st.one_of(
    st.none(),
    st.sampled_from(["2026-11-01T09:00:00", "2026-11-01T09:00:00+08:00", "", "not a time"]),
    st.text(alphabet="0123456789-:T+Z ", max_size=25),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 2]), stored_times), max_size=12))
def test_first_event_times_are_the_minimum_of_a_scan_of_every_event(
    events: list[tuple[int, str | None]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "waypost.db"
        previous_layout(path, events)
        with Store(path) as store:
            scan = dict(
                store.db.execute(
                    "SELECT w.number, (SELECT MIN(e.time) FROM events e NOT INDEXED"
                    " WHERE e.shipment_id = w.id) FROM watched w"
                )
            )
            assert {r.number: r.first_event_time for r in store.listed()} == scan


def test_list_row_has_the_typed_class_fields_in_order() -> None:
    tree = ast.parse(Path(rows_module.__file__).read_text(encoding="utf-8"))
    (typed,) = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "ListRow"]
    fields = [s.target.id for s in typed.body if isinstance(s, ast.AnnAssign)]  # type: ignore[union-attr]
    assert list(ListRow._fields) == fields
    selected = [
        "first_event_time" if c.startswith("(SELECT") else c.removeprefix("w.")
        for c in (c.strip() for c in _LIST_COLUMNS.split(","))
    ]
    assert selected == fields
    row = ListRow._make(range(len(fields)))
    assert row._replace(number="x").number == "x"
    assert row.first_event_time == fields.index("first_event_time")


def test_brief_rows_are_the_full_rows_first_fields_and_none_after(tmp_path: Path) -> None:
    path = tmp_path / "waypost.db"
    previous_layout(path, [(1, "2026-11-02T08:00:00"), (2, "2026-11-01T09:30:00")])
    with Store(path) as store:
        store.db.execute(
            "UPDATE watched SET label = 'gift', courier = 'dhl', last_event = 'Loaded',"
            " last_checked = 5.0, status_text = 'Loaded at hub' WHERE id = 1"
        )
        full, brief = list(store.listed()), list(store.listed(brief=True))
    assert [r[:BRIEF] for r in brief] == [r[:BRIEF] for r in full]
    assert full[0].courier == "dhl"
    assert full[0].added == 1.0
    assert all(set(r[BRIEF:]) == {None} for r in brief)
    assert ListRow._fields.index("first_event_time") + 1 == BRIEF


def test_a_listing_left_unread_after_the_store_closes_goes_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raised: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", raised.append)
    path = tmp_path / "waypost.db"
    previous_layout(path, [(1, None), (2, None)])
    store = Store(path)
    rows = store.listed()
    assert next(rows).number == "N1"
    store.close()  # as a broken pipe ends `list` with the rows half read
    del rows
    gc.collect()
    assert raised == []


def test_brief_rows_on_every_backend_are_the_full_rows_first_fields(backend: Backend) -> None:
    from tests.store.test_listed import seed

    seed(backend)
    with backend.open() as store:
        full, brief = list(store.listed()), list(store.listed(brief=True))
    assert len(brief) == len(full) == 3
    assert all(isinstance(r, ListRow) for r in brief)
    assert [r[:BRIEF] for r in brief] == [r[:BRIEF] for r in full]
    assert all(set(r[BRIEF:]) == {None} for r in brief)
