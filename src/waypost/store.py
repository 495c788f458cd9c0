"""SQLite store under the data directory: the watch list, event history and small caches.

``$WAYPOST_DATA_DIR/waypost.db`` in WAL mode with foreign keys on. The schema is versioned with
``PRAGMA user_version``; ``MIGRATIONS[n]`` takes a database from version n to n + 1, so an old
file is brought forward on open and never rewritten from scratch. Events are de-duplicated by
a stable key of time + location + description, so a carrier re-sending the same timeline adds
nothing. This module imports no pydantic: ``waypost list`` reads plain rows.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from waypost.errors import StoreError
from waypost.status import Status

if TYPE_CHECKING:
    from waypost.models import Event, Shipment

DB_NAME = "waypost.db"

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the watch list and its events.
    """
    CREATE TABLE watched (
        id INTEGER PRIMARY KEY,
        number TEXT NOT NULL,
        carrier TEXT NOT NULL,
        courier TEXT,
        label TEXT,
        added REAL NOT NULL,
        last_checked REAL,
        status TEXT NOT NULL DEFAULT 'pending',
        final INTEGER NOT NULL DEFAULT 0,
        UNIQUE (number, carrier)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        shipment_id INTEGER NOT NULL REFERENCES watched (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        time TEXT,
        location TEXT,
        description TEXT,
        status TEXT,
        seen REAL NOT NULL,
        UNIQUE (shipment_id, key)
    );
    """,
    # 1 -> 2: how to ask again (query, order id), the latest answer, last event, and caches.
    """
    ALTER TABLE watched ADD COLUMN query TEXT;
    ALTER TABLE watched ADD COLUMN order_id TEXT;
    ALTER TABLE watched ADD COLUMN status_text TEXT;
    ALTER TABLE watched ADD COLUMN last_event TEXT;
    ALTER TABLE watched ADD COLUMN last_event_time TEXT;
    ALTER TABLE watched ADD COLUMN snapshot TEXT;
    ALTER TABLE watched ADD COLUMN remote INTEGER NOT NULL DEFAULT 0;
    UPDATE watched SET query = carrier || ':' || number WHERE query IS NULL;
    ALTER TABLE events ADD COLUMN images TEXT NOT NULL DEFAULT '[]';
    CREATE INDEX watched_final ON watched (final, carrier);
    CREATE INDEX watched_order ON watched (order_id);
    CREATE TABLE cache (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        stored REAL NOT NULL,
        PRIMARY KEY (namespace, key)
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def _norm(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()


def event_key(time_iso: str | None, location: str | None, description: str | None) -> str:
    """Stable identity of an event: time + location + description, case and spacing folded."""
    import hashlib

    raw = "\x1f".join((time_iso or "", _norm(location), _norm(description)))
    return hashlib.sha1(raw.encode("utf-8"), usedforsecurity=False).hexdigest()


def key_of(event: Event) -> str:
    """``event_key`` of a model Event."""
    return event_key(
        event.time.isoformat() if event.time else None, event.location, event.description
    )


@dataclass(frozen=True)
class Watched:
    """One row of the watch list."""

    id: int
    number: str
    carrier: str
    courier: str | None
    label: str | None
    added: float
    last_checked: float | None
    status: str
    final: bool
    query: str
    order_id: str | None
    status_text: str | None
    last_event: str | None
    last_event_time: str | None
    remote: bool

    @property
    def age_days(self) -> float:
        """Days since the number was added."""
        return (time.time() - self.added) / 86400


_WATCHED_COLUMNS = (
    "id, number, carrier, courier, label, added, last_checked, status, final, query, order_id, "
    "status_text, last_event, last_event_time, remote"
)


def _row(row: Sequence[Any]) -> Watched:
    return Watched(
        id=row[0],
        number=row[1],
        carrier=row[2],
        courier=row[3],
        label=row[4],
        added=row[5],
        last_checked=row[6],
        status=row[7],
        final=bool(row[8]),
        query=row[9] or f"{row[2]}:{row[1]}",
        order_id=row[10],
        status_text=row[11],
        last_event=row[12],
        last_event_time=row[13],
        remote=bool(row[14]),
    )


class Store:
    """The database of one data directory; use as a context manager."""

    def __init__(self, path: Path, *, timeout: float = 10.0) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use the database {path}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot create {path.parent}: {exc.strerror}") from exc

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        """The store of ``data_dir``."""
        return cls(data_dir / DB_NAME)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @property
    def version(self) -> int:
        """The schema version of the file."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.version
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this waypost knows "
                f"({SCHEMA_VERSION}); upgrade waypost"
            )
        for version in range(current, SCHEMA_VERSION):
            with self.transaction():
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- the watch list ---------------------------------------------------------------------

    def watched(
        self, *, include_final: bool = True, status: str | None = None, carrier: str | None = None
    ) -> list[Watched]:
        """Rows of the watch list, oldest first."""
        sql = f"SELECT {_WATCHED_COLUMNS} FROM watched WHERE 1=1"  # noqa: S608 (constant columns)
        args: list[Any] = []
        if not include_final:
            sql += " AND final = 0"
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        if carrier is not None:
            sql += " AND carrier = ?"
            args.append(carrier)
        return [_row(r) for r in self.db.execute(sql + " ORDER BY added, id", args)]

    def find(self, number: str, carrier: str | None = None) -> list[Watched]:
        """Rows whose number or order id is ``number``."""
        sql = f"SELECT {_WATCHED_COLUMNS} FROM watched WHERE (number = ? OR order_id = ?)"  # noqa: S608
        args: list[Any] = [number, number]
        if carrier:
            sql += " AND carrier = ?"
            args.append(carrier)
        return [_row(r) for r in self.db.execute(sql, args)]

    def numbers(self) -> list[str]:
        """Every watched number (for shell completion)."""
        return [r[0] for r in self.db.execute("SELECT number FROM watched ORDER BY number")]

    def add(
        self, shipments: Iterable[Shipment], query: str, label: str | None, now: float | None = None
    ) -> int:
        """Watch ``shipments`` (answers to ``query``) and store their events as already seen.

        Adding a watched number again updates its label (when one is given) and its state, never
        duplicates it. Returns how many rows were new.
        """
        now = time.time() if now is None else now
        added = 0
        with self.transaction():
            for s in shipments:
                fresh = self._insert(s, query, label, now)
                if fresh:
                    added += 1
                elif label is not None:
                    self.db.execute(
                        "UPDATE watched SET label = ? WHERE number = ? AND carrier = ?",
                        (label, s.tracking_number, s.carrier),
                    )
                row_id = self._id(s.tracking_number, s.carrier)
                if s.error is None and s.status is not Status.UNKNOWN:
                    self._record(row_id, s, list(s.events), now)
                elif fresh:
                    # Never answered yet: say so rather than claim the carrier's "pending".
                    self.db.execute(
                        "UPDATE watched SET status = ? WHERE id = ?", (Status.UNKNOWN.value, row_id)
                    )
        return added

    def _insert(self, s: Shipment, query: str, label: str | None, now: float) -> bool:
        """Insert a row unless (number, carrier) is already watched; True when inserted."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO watched (number, carrier, courier, label, added, query,"
            " order_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (s.tracking_number, s.carrier, s.courier, label, now, query, s.order_id),
        )
        return cur.rowcount > 0

    def _id(self, number: str, carrier: str) -> int:
        row = self.db.execute(
            "SELECT id FROM watched WHERE number = ? AND carrier = ?", (number, carrier)
        ).fetchone()
        return int(row[0])

    def _record(self, row_id: int, s: Shipment, events: Sequence[Event], now: float) -> None:
        latest = s.events[0] if s.events else None
        self.db.execute(
            "UPDATE watched SET status = ?, final = ?, status_text = ?, last_checked = ?,"
            " last_event = COALESCE(?, last_event), last_event_time = COALESCE(?, last_event_time),"
            " snapshot = ?, courier = COALESCE(?, courier) WHERE id = ?",
            (
                s.status.value,
                int(Status(s.status).final),
                s.status_text,
                now,
                latest.description if latest else None,
                latest.time.isoformat() if latest and latest.time else None,
                s.model_dump_json(),
                s.courier,
                row_id,
            ),
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO events (shipment_id, key, time, location, description, status,"
            " images, seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    row_id,
                    key_of(e),
                    e.time.isoformat() if e.time else None,
                    e.location,
                    e.description,
                    e.status.value,
                    json.dumps(e.images),
                    now,
                )
                for e in events
            ],
        )

    def known_keys(self, row_id: int) -> set[str]:
        """Keys of the events already stored for a row."""
        return {
            r[0] for r in self.db.execute("SELECT key FROM events WHERE shipment_id = ?", (row_id,))
        }

    def new_events(self, row: Watched, shipment: Shipment) -> list[Event]:
        """The events of ``shipment`` not yet stored for ``row``, newest first."""
        known = self.known_keys(row.id)
        seen: set[str] = set()
        fresh = []
        for e in shipment.events:
            k = key_of(e)
            if k not in known and k not in seen:
                seen.add(k)
                fresh.append(e)
        return fresh

    def refresh(self, row: Watched, shipment: Shipment, now: float | None = None) -> None:
        """Store one shipment's new answer and events (one transaction); an unanswered one
        (status ``unknown``) never replaces what is known, it changes nothing."""
        if shipment.status is Status.UNKNOWN or shipment.error is not None:
            return
        now = time.time() if now is None else now
        with self.transaction():
            self._record(row.id, shipment, shipment.events, now)

    def adopt(self, row: Watched, shipment: Shipment, now: float | None = None) -> Watched:
        """Watch a parcel that appeared in an already watched order (same query and label)."""
        with self.transaction():
            self._insert(shipment, row.query, row.label, time.time() if now is None else now)
        (adopted,) = self.find(shipment.tracking_number, shipment.carrier)
        return adopted

    def touch(self, ids: Iterable[int], now: float | None = None) -> None:
        """Record a successful check that brought nothing new."""
        now = time.time() if now is None else now
        with self.transaction():
            self.db.executemany(
                "UPDATE watched SET last_checked = ? WHERE id = ?", [(now, i) for i in ids]
            )

    def mark_remote(self, ids: Iterable[int]) -> None:
        """Remember that these rows were added to the carrier's account."""
        with self.transaction():
            self.db.executemany("UPDATE watched SET remote = 1 WHERE id = ?", [(i,) for i in ids])

    def remove(self, rows: Iterable[Watched]) -> int:
        """Delete rows and their events."""
        with self.transaction():
            cur = self.db.executemany("DELETE FROM watched WHERE id = ?", [(r.id,) for r in rows])
        return cur.rowcount

    def events(self, row_id: int) -> list[tuple[str | None, str | None, str | None]]:
        """(time, location, description) of a row's stored events, newest first."""
        return list(
            self.db.execute(
                "SELECT time, location, description FROM events WHERE shipment_id = ?"
                " ORDER BY time DESC, id DESC",
                (row_id,),
            )
        )

    # -- caches and metadata ----------------------------------------------------------------

    def get(self, namespace: str, key: str, max_age: float | None = None) -> Any | None:
        """A cached JSON value, or None when absent or older than ``max_age`` seconds."""
        row = self.db.execute(
            "SELECT value, stored FROM cache WHERE namespace = ? AND key = ?", (namespace, key)
        ).fetchone()
        if row is None or (max_age is not None and time.time() - row[1] > max_age):
            return None
        return json.loads(row[0])

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Cache a JSON-serialisable value now."""
        self.db.execute(
            "INSERT OR REPLACE INTO cache (namespace, key, value, stored) VALUES (?, ?, ?, ?)",
            (namespace, key, json.dumps(value, ensure_ascii=False), time.time()),
        )

    def meta(self, key: str) -> str | None:
        """A metadata value."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
