"""Named migrations bring a database of the previous layout forward: saved queries become
columns (backfilled from the old ``carrier:courier:number`` text: a property test reads back
every query that layout wrote), adapters' durable state moves out of the answer cache, and a
row whose query cannot be read is reported by ``watch``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from waypost.carriers.base import Query
from waypost.sandbox import Sandbox
from waypost.store import MIGRATIONS, SCHEMA_VERSION, Store
from waypost.store.protocols import query_text

# The schema as the previous release created it (user_version 2), written out independently of
# waypost.store.migrations so that an edit of a released step is caught here.
OLD_SCHEMA = """
CREATE TABLE watched (
    id INTEGER PRIMARY KEY, number TEXT NOT NULL, carrier TEXT NOT NULL, courier TEXT,
    label TEXT, added REAL NOT NULL, last_checked REAL, status TEXT NOT NULL DEFAULT 'pending',
    final INTEGER NOT NULL DEFAULT 0, query TEXT, order_id TEXT, status_text TEXT,
    last_event TEXT, last_event_time TEXT, snapshot TEXT, remote INTEGER NOT NULL DEFAULT 0,
    UNIQUE (number, carrier)
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    shipment_id INTEGER NOT NULL REFERENCES watched (id) ON DELETE CASCADE,
    key TEXT NOT NULL, time TEXT, location TEXT, description TEXT, status TEXT,
    seen REAL NOT NULL, images TEXT NOT NULL DEFAULT '[]', UNIQUE (shipment_id, key)
);
CREATE INDEX watched_final ON watched (final, carrier);
CREATE INDEX watched_order ON watched (order_id);
CREATE TABLE cache (
    namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, stored REAL NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version = 2;
"""

ROWS = [
    ("3676E4043665", "ils", "ils:3676E4043665", "spring"),
    ("LS912989618CN", "trackingmore", "trackingmore:china-ems:LS912989618CN", None),
    ("PP000001", "pandapon", "pandapon:PO123456", "gift"),
    ("3676E4040017", "ils", "nosuch:3676E4040017", None),  # a prefix no carrier has any more
    ("1234S5678901", "ils", None, None),  # never had a query text
]


def old_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    for i, (number, carrier, query, label) in enumerate(ROWS, 1):
        db.execute(
            "INSERT INTO watched (id, number, carrier, label, added, status, query)"
            " VALUES (?, ?, ?, ?, ?, 'in_transit', ?)",
            (i, number, carrier, label, float(i), query),
        )
    db.execute(
        "INSERT INTO events (shipment_id, key, description, seen) VALUES (1, 'k1', 'Loaded', 1)"
    )
    cache = [
        ("trackingmore4.watch", "cursor", 1.7e9),
        ("trackingmore.limits", "paused_until", 1.8e9),
        ("trackingmore4.account", "LS912989618CN", "abc"),
        ("trackingmore4.created", "LS912989618CN", {"asked": "china-ems"}),
        ("trackingmore.couriers", "en", [{"code": "dhl"}]),
    ]
    db.executemany(
        "INSERT INTO cache (namespace, key, value, stored) VALUES (?, ?, ?, 1.0)",
        [(ns, key, json.dumps(value)) for ns, key, value in cache],
    )
    db.commit()
    db.close()


def test_every_migration_has_a_distinct_name() -> None:
    names = [m.name for m in MIGRATIONS]
    assert len(set(names)) == len(names) == SCHEMA_VERSION
    assert all(names)


def test_an_old_database_gets_query_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "waypost.db"
    old_database(path)
    with Store(path) as store:
        assert store.version == SCHEMA_VERSION
        rows = store.watched()
        assert [(r.number, r.label) for r in rows] == [(n, label) for n, _, _, label in ROWS]
        assert [r.ask for r in rows] == [
            Query("3676E4043665", "ils"),
            Query("LS912989618CN", "trackingmore", "china-ems"),
            Query("PO123456", "pandapon"),
            None,
            None,
        ]
        assert store.known_keys(rows[0].id) == {"k1"}
        columns = {r[1] for r in store.db.execute("PRAGMA table_info(watched)")}
        assert {"ask_carrier", "ask_courier", "ask_number"} <= columns
        assert "query" not in columns


def test_an_old_database_moves_adapter_state_out_of_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "waypost.db"
    old_database(path)
    with Store(path) as store:
        assert store.state.get("trackingmore4.watch", "cursor") == 1.7e9
        assert store.state.get("trackingmore.limits", "paused_until") == 1.8e9
        assert store.state.get("trackingmore4.account", "LS912989618CN") == "abc"
        assert store.cache.get("trackingmore4.watch", "cursor") is None
        assert store.cache.get("trackingmore4.created", "LS912989618CN") == {"asked": "china-ems"}
        assert store.cache.get("trackingmore.couriers", "en") == [{"code": "dhl"}]
        assert store.state.get("trackingmore.couriers", "en") is None


def test_watch_reports_a_row_it_cannot_read_and_checks_the_others(
    sandbox: Sandbox,
    cli,
    isolated: Path,  # type: ignore[no-untyped-def]
) -> None:
    path = isolated / "data" / "waypost.db"
    old_database(path)
    with Store(path) as store:
        readable = [r for r in store.watched() if r.ask is not None]
        store.remove(readable[1:])  # keep the ILS row and the two unreadable ones
    r = cli("watch", "--once")
    assert r.code == 1, r.err
    assert "3676E4040017 (row 4) has no query to ask again" in r.err
    assert "1234S5678901 (row 5) has no query to ask again" in r.err
    assert "Traceback" not in r.err
    with Store(path) as store:
        (checked,) = [row for row in store.watched() if row.number == "3676E4043665"]
        assert checked.last_checked is not None


queries = st.builds(
    Query,
    number=st.from_regex(r"[A-Z0-9][A-Z0-9-]{3,30}", fullmatch=True),
    carrier=st.sampled_from(["ils", "trackingmore", "pandapon"]),
    courier=st.none(),
) | st.builds(
    Query,
    number=st.from_regex(r"[A-Z0-9][A-Z0-9-]{3,30}", fullmatch=True),
    carrier=st.just("trackingmore"),
    courier=st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(queries, min_size=1, max_size=5))
def test_the_backfill_reads_back_every_query_the_old_layout_wrote(saved: list[Query]) -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    for step in MIGRATIONS[:2]:
        step.apply(db)
    for i, query in enumerate(saved):
        db.execute(
            "INSERT INTO watched (number, carrier, added, query) VALUES (?, ?, 1.0, ?)",
            (f"N{i:04d}", query.carrier, query_text(query)),
        )
    MIGRATIONS[2].apply(db)
    back = db.execute("SELECT ask_number, ask_carrier, ask_courier FROM watched ORDER BY id")
    assert [Query(*row) for row in back] == [Query(q.number, q.carrier, q.courier) for q in saved]
