"""SQLite store under the data directory: the watch list, event history, adapter state, caches.

``$WAYPOST_DATA_DIR/waypost.db`` (created 0600) in WAL mode with foreign keys on; it implements
``waypost.store.protocols`` (WatchStore, with a StateStore and a Cache in their own tables). The
schema is versioned with ``PRAGMA user_version`` and brought forward on open by the named steps
of ``waypost.store.migrations``, never rewritten from scratch. Events are
de-duplicated by a stable key of time + location + description, so a carrier re-sending the same
timeline adds nothing. This module imports no pydantic: ``waypost list`` reads plain rows.

Every SQLite or file-system fault becomes a ``StoreError`` (exit 5, SPEC.md "Honest states")
that names the file and what to do: busy past ``busy_timeout``, damaged, foreign, read-only,
full. A database in a read-only place is opened read-only, so reads still work. Nothing is ever
half-written (one transaction per change) and a file that cannot be read is never rewritten.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from itertools import repeat
from operator import add
from pathlib import Path
from typing import TYPE_CHECKING, Any

from waypost.errors import (
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreForeign,
    StoreFull,
    StoreReadOnly,
)
from waypost.paths import BUSY_TIMEOUT
from waypost.status import Status
from waypost.store.legs import Legs
from waypost.store.migrations import MIGRATIONS, OUR_TABLES, SCHEMA_VERSION
from waypost.store.rows import BRIEF, CLAIM_LEASE, ListRow

if TYPE_CHECKING:
    from waypost.carriers.base import Query
    from waypost.http import SharedBudget
    from waypost.models import Event, Shipment
    from waypost.store.protocols import Watched

__all__ = ["DB_NAME", "MIGRATIONS", "SCHEMA_VERSION", "Store", "StoreCache", "Watched", "fault"]


def __getattr__(name: str) -> Any:
    # ``Watched`` is the protocols' dataclass: loaded on first use, so that ``list`` never
    # builds it (nor the protocols).
    if name == "Watched":
        from waypost.store import protocols

        return protocols.Watched
    raise AttributeError(f"module 'waypost.store.sqlite' has no attribute {name!r}")


DB_NAME = "waypost.db"


def fault(
    exc: BaseException,
    path: Path,
    busy_timeout: float = BUSY_TIMEOUT,
    *,
    what: str = "the database",
) -> StoreError:
    """The StoreError that explains an SQLite or OS error on ``path`` (``what`` names it)."""
    if isinstance(exc, StoreError):
        return exc
    where = f"cannot use {what} {path}"
    if isinstance(exc, OSError):
        return _os_fault(exc, path, where)
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreBusy(
            f"{where}: another waypost (or another program) is writing to it and did not "
            f"finish within {busy_timeout:g} s",
            hint="try again in a moment; if it stays busy, look for a stuck `waypost` process, "
            "or wait longer: `waypost config set store.busy_timeout 60`",
        )
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return StoreCorrupt(
            f"{where}: the file is damaged or not an SQLite database ({exc}); "
            "waypost has not changed it",
            hint=f"keep it for recovery and start afresh: mv {path} {path}.broken "
            f"(`sqlite3 {path}.broken .recover | sqlite3 {path}` may save the watch list)",
        )
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN):
        return StoreReadOnly(
            f"{where}: it (or its directory {path.parent}) is read-only or cannot be opened "
            "for writing; nothing was changed",
            hint=f"check the owner and mode: ls -ld {path.parent} {path} "
            "(reading the watch list still works)",
        )
    if code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
        return StoreFull(
            f"{where}: the write failed ({exc}): the disk is full, the file-size limit "
            "(ulimit -f) was reached, or the disk failed; the change was undone, nothing is lost",
            hint=f"free some space on the disk of {path.parent} and run again",
        )
    return StoreError(f"{where}: {exc}")


def _os_fault(exc: OSError, path: Path, where: str) -> StoreError:
    import errno

    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreReadOnly(
            f"{where}: {reason.lower()} (its directory {path.parent} is read-only); "
            "nothing was changed",
            hint=f"check the owner and mode: ls -ld {path.parent} (reading the watch list "
            "still works)",
        )
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return StoreFull(
            f"{where}: {reason.lower()}; nothing was changed",
            hint=f"free some space on the disk of {path.parent} and run again",
        )
    return StoreError(f"{where}: {reason}")


class _Cursor(sqlite3.Cursor):
    """A cursor whose every failure is a StoreError naming the file."""

    def _fault(self, exc: sqlite3.Error) -> StoreError:
        conn = self.connection
        assert isinstance(conn, _Connection)
        return fault(exc, conn.path, conn.busy_timeout)

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        """Run one statement."""
        try:
            super().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise self._fault(exc) from exc
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _Cursor:
        """Run one statement for each set of parameters."""
        try:
            super().executemany(sql, seq_of_parameters)
        except sqlite3.Error as exc:
            raise self._fault(exc) from exc
        return self

    def fetchone(self) -> Any:
        """The next row, or None."""
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            raise self._fault(exc) from exc

    def fetchall(self) -> list[Any]:
        """Every remaining row."""
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            raise self._fault(exc) from exc

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            raise self._fault(exc) from exc


class _Connection(sqlite3.Connection):
    """A connection that knows its file, so that its errors can name it."""

    path: Path = Path(DB_NAME)
    busy_timeout: float = BUSY_TIMEOUT

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        """Run one statement through a mapped cursor."""
        return self.cursor(_Cursor).execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> _Cursor:
        """Run one statement per parameter set through a mapped cursor."""
        return self.cursor(_Cursor).executemany(sql, parameters)


def _connect(path: Path, target: str, busy_timeout: float, *, uri: bool = False) -> _Connection:
    db = sqlite3.connect(
        target, timeout=busy_timeout, isolation_level=None, factory=_Connection, uri=uri
    )
    assert isinstance(db, _Connection)
    db.path, db.busy_timeout = path, busy_timeout
    return db


def prepare_data_dir(path: Path) -> None:
    """Make the data directory of ``path`` (0700); a file in its place, or a directory at
    ``path``, is a clear StoreError (also for the sandbox's state file beside the database)."""
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise StoreError(
            f"cannot use the data directory {parent}: it is a file, not a directory",
            hint=f"move the file away (mv {parent} {parent}.old) or set WAYPOST_DATA_DIR "
            "to a directory",
        )
    if path.is_dir():
        raise StoreError(
            f"cannot use the database {path}: it is a directory, not a database file",
            hint=f"move it away (mv {path} {path}.old)",
        )
    try:
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError as exc:
        raise StoreError(
            f"cannot create the data directory {parent}: {exc.filename} is a file",
            hint="set WAYPOST_DATA_DIR to a directory",
        ) from exc
    except OSError:
        pass  # read-only: opening the database says so, or reads an empty watch list


def _create(path: Path) -> None:
    """Create the database file with mode 0600 before SQLite does (it would use the umask)."""
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _readonly_code(exc: BaseException) -> bool:
    cause = exc.__cause__ if isinstance(exc, StoreError) else exc
    code = getattr(cause, "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM)


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


_WATCHED_COLUMNS = (
    "id, number, carrier, courier, label, added, last_checked, status, final, ask_number, "
    "ask_carrier, ask_courier, order_id, status_text, last_event, last_event_time, remote, "
    "archived, stalled_reported, eta, eta_source, origin, destination"
)


# ``ListRow``'s fields, in its order: the first ``BRIEF`` of them, then the others.
_BRIEF_COLUMNS = (
    "w.id, w.number, w.carrier, w.label, w.last_checked, w.status, w.last_event, w.journey,"
    " (SELECT MIN(e.time) FROM events e WHERE e.shipment_id = w.id)"
)
_LIST_COLUMNS = (
    f"{_BRIEF_COLUMNS}, w.courier, w.added, w.final, w.order_id, w.status_text,"
    " w.last_event_time, w.archived, w.eta, w.eta_source, w.origin, w.destination"
)
# What a brief row lacks of a ListRow.
_BRIEF_REST = (None,) * (len(ListRow._fields) - BRIEF)


# Rows ``listed`` reads from SQLite at a time.
_LIST_BATCH = 256


def _list_rows(found: Iterable[Any], brief: bool) -> Iterator[ListRow]:
    """The ``ListRow``s of ``listed``'s result rows (brief ones completed with None)."""
    if brief:
        found = map(add, found, repeat(_BRIEF_REST))
    return map(ListRow._make, found)


def _row(row: Sequence[Any]) -> Watched:
    from waypost.carriers.base import Query
    from waypost.store.protocols import Watched

    ask = None if row[9] is None else Query(number=row[9], carrier=row[10], courier=row[11])
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
        ask=ask,
        order_id=row[12],
        status_text=row[13],
        last_event=row[14],
        last_event_time=row[15],
        remote=bool(row[16]),
        archived=row[17],
        stalled_reported=row[18],
        eta=row[19],
        eta_source=row[20],
        origin=row[21],
        destination=row[22],
    )


class Store(Legs):
    """The database of one data directory; use as a context manager (journeys: ``Legs``)."""

    def __init__(self, path: Path, *, timeout: float = BUSY_TIMEOUT) -> None:
        self.path = path
        self.busy_timeout = timeout
        self.read_only = False
        self._depth = 0
        self.db: sqlite3.Connection = self._open_writable()

    def _open_writable(self) -> sqlite3.Connection:
        """Open read-write; in a read-only place, fall back to a read-only connection."""
        path = self.path
        prepare_data_dir(path)
        db = None
        try:
            if not path.exists():
                _create(path)
            db = _connect(path, str(path), self.busy_timeout)
            self._check_schema(db)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")
            self.db = db
            self._migrate()
            return db
        except (StoreReadOnly, OSError) as exc:
            if db is not None:
                db.close()
            if isinstance(exc, StoreReadOnly) and not _readonly_code(exc):
                raise
            if path.is_file():
                return self._open_read_only()
            if not path.exists():
                return self._open_empty()
            raise fault(exc, path, self.busy_timeout) from exc
        except (sqlite3.Error, StoreError) as exc:
            if db is not None:
                db.close()
            raise fault(exc, path, self.busy_timeout) from exc

    def _open_read_only(self) -> sqlite3.Connection:
        """The file as it is on disk, for reading only (no -wal/-shm can be made beside it)."""
        from urllib.parse import quote

        self.read_only = True
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro&immutable=1"
        db = _connect(self.path, uri, self.busy_timeout, uri=True)
        try:
            self._check_schema(db)
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
        except BaseException:
            db.close()
            raise
        if version != SCHEMA_VERSION:
            db.close()
            raise StoreReadOnly(
                f"cannot use the database {self.path}: it needs an upgrade (schema "
                f"{version} -> {SCHEMA_VERSION}) but it is read-only",
                hint=f"check the owner and mode: ls -ld {self.path.parent} {self.path}",
            )
        return db

    def _open_empty(self) -> sqlite3.Connection:
        """No database and no right to create one: an empty, read-only watch list."""
        self.read_only = True
        db = _connect(self.path, ":memory:", self.busy_timeout)
        self.db = db
        self._migrate()
        db.execute("PRAGMA query_only=ON")
        return db

    def _check_schema(self, db: sqlite3.Connection) -> None:
        """Refuse a database of another program or of a newer waypost before changing it."""
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        names = {
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].startswith("sqlite_")
        }
        if version > SCHEMA_VERSION:
            raise StoreForeign(
                f"cannot use the database {self.path}: it has schema version {version}, newer "
                f"than this waypost knows ({SCHEMA_VERSION}); upgrade waypost",
                hint="waypost has not changed the file; `pip install -U waypost` reads it",
            )
        foreign = sorted(names - OUR_TABLES)
        if (version == 0 and names) or (version > 0 and "watched" not in names) or foreign:
            shown = ", ".join(foreign or sorted(names)) or "none"
            raise StoreForeign(
                f"cannot use the database {self.path}: it is not a waypost database "
                f"(schema version {version}, tables: {shown}); waypost has not changed it",
                hint=f"move it away (mv {self.path} {self.path}.other) or point "
                "WAYPOST_DATA_DIR at another directory",
            )

    @classmethod
    def open(cls, data_dir: Path, *, timeout: float = BUSY_TIMEOUT) -> Store:
        """The store of ``data_dir``; ``timeout``: seconds to wait for another writer."""
        return cls(data_dir / DB_NAME, timeout=timeout)

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
        for version in range(current, SCHEMA_VERSION):
            with self.transaction():
                MIGRATIONS[version].apply(self.db)
                self.db.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error; an inner one joins the outer."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        finally:
            self._depth = 0

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already (it does on a full disk)."""
        if self.db.in_transaction:
            with suppress(StoreError):
                self.db.execute("ROLLBACK")

    @contextmanager
    def no_wait(self) -> Iterator[None]:
        """Statements inside fail at once instead of waiting for another writer."""
        self.db.execute("PRAGMA busy_timeout = 0")
        try:
            yield
        finally:
            self.db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")

    # -- the watch list ---------------------------------------------------------------------

    def watched(
        self,
        *,
        include_final: bool = True,
        status: str | None = None,
        carrier: str | None = None,
        archived: bool | None = False,
    ) -> list[Watched]:
        """Rows of the watch list, oldest first; archived ones only with ``archived`` True (None:
        both)."""
        where, args = _filters("", include_final, status, archived, carrier=carrier)
        sql = f"SELECT {_WATCHED_COLUMNS} FROM watched WHERE 1=1{where} ORDER BY added, id"  # noqa: S608 (constant columns)
        return [_row(r) for r in self.db.execute(sql, args)]

    def count(
        self,
        *,
        include_final: bool = True,
        status: str | None = None,
        carrier: str | None = None,
        archived: bool | None = False,
    ) -> int:
        """How many rows ``watched`` with the same filters would return, without reading them."""
        where, args = _filters("", include_final, status, archived, carrier=carrier)
        row = self.db.execute(f"SELECT COUNT(*) FROM watched WHERE 1=1{where}", args).fetchone()  # noqa: S608 (constant columns)
        return int(row[0])

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
        self,
        shipments: Iterable[Shipment],
        query: Query,
        label: str | None,
        now: float | None = None,
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
                    if fresh and s.stalled and s.events and s.events[0].time is not None:
                        # Stalled when added: the user saw it then; watch reports a new stall.
                        self.db.execute(
                            "UPDATE watched SET stalled_reported = ? WHERE id = ?",
                            (s.events[0].time.isoformat(), row_id),
                        )
                elif fresh:
                    # Never answered yet: say so rather than claim the carrier's "pending".
                    self.db.execute(
                        "UPDATE watched SET status = ? WHERE id = ?", (Status.UNKNOWN.value, row_id)
                    )
        return added

    def _insert(self, s: Shipment, query: Query, label: str | None, now: float) -> bool:
        """Insert a row unless (number, carrier) is already watched; True when inserted."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO watched (number, carrier, courier, label, added, ask_number,"
            " ask_carrier, ask_courier, order_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                s.tracking_number,
                s.carrier,
                s.courier,
                label,
                now,
                query.number,
                query.carrier,
                query.courier,
                s.order_id,
            ),
        )
        return cur.rowcount > 0

    def _id(self, number: str, carrier: str) -> int:
        row = self.db.execute(
            "SELECT id FROM watched WHERE number = ? AND carrier = ?", (number, carrier)
        ).fetchone()
        return int(row[0])

    def _record(self, row_id: int, s: Shipment, events: Sequence[Event], now: float) -> None:
        import json

        latest = s.events[0] if s.events else None
        self.db.execute(
            "UPDATE watched SET status = ?, final = ?, status_text = ?, last_checked = ?,"
            " last_event = COALESCE(?, last_event), last_event_time = COALESCE(?, last_event_time),"
            " snapshot = ?, courier = COALESCE(?, courier), origin = COALESCE(?, origin),"
            " destination = COALESCE(?, destination), eta = ?, eta_source = ? WHERE id = ?",
            (
                s.status.value,
                int(Status(s.status).final),
                s.status_text,
                now,
                latest.description if latest else None,
                latest.time.isoformat() if latest and latest.time else None,
                s.model_dump_json(),
                s.courier,
                s.origin,
                s.destination,
                s.eta.isoformat() if s.eta else None,
                s.eta_source if s.eta else None,
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
        from waypost.carriers.base import Query

        ask = row.ask or Query(row.number, row.carrier)
        with self.transaction():
            self._insert(shipment, ask, row.label, time.time() if now is None else now)
        # By number only: find() also matches the order id, which the order's other parcels share.
        number, carrier = shipment.tracking_number, shipment.carrier
        return next(r for r in self.find(number, carrier) if r.number == number)

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

    def first_event_times(self) -> dict[int, list[str]]:
        """The stored event times of every watched row (ISO text), for "first event" ages."""
        times: dict[int, list[str]] = {}
        for row_id, when in self.db.execute(
            "SELECT shipment_id, time FROM events WHERE time IS NOT NULL"
        ):
            times.setdefault(row_id, []).append(when)
        return times

    def listed(
        self,
        *,
        include_final: bool = True,
        status: str | None = None,
        archived: bool | None = False,
        ids: Sequence[int] | None = None,
        brief: bool = False,
    ) -> Iterator[ListRow]:
        """What ``list`` shows, row by row (oldest first): the first event time comes from the
        database (the earliest as stored text: one carrier writes one shipment's times alike),
        and nothing else is read; ``brief``: only the first ``rows.BRIEF`` fields (what the piped
        list shows), the others None. The rows come a few hundred at a time as the database
        steps through them (SQLite holds no result set; other queries may run on the connection
        between rows)."""
        where, args = _filters(
            "w.", include_final, status, None if ids is not None else archived, ids=ids
        )
        columns = _BRIEF_COLUMNS if brief else _LIST_COLUMNS
        sql = f"SELECT {columns} FROM watched w WHERE 1=1{where} ORDER BY w.added, w.id"  # noqa: S608 (constant columns)
        if not isinstance(self.db, sqlite3.Connection):  # the PostgreSQL subclass's connection
            yield from _list_rows(self.db.execute(sql, args), brief)
            return
        # A plain cursor read in batches: the mapped cursor's ``__next__`` is a Python call per
        # row; its faults are mapped here instead.
        cursor = self.db.cursor()
        try:
            cursor.execute(sql, args)
            while batch := cursor.fetchmany(_LIST_BATCH):
                yield from _list_rows(batch, brief)
        except sqlite3.Error as exc:
            raise fault(exc, self.path, self.busy_timeout) from exc

    def chunks(self, *, include_final: bool = False, size: int = 1000) -> Iterator[list[Watched]]:
        """The rows of ``watched(include_final=...)``, ``size`` at a time, oldest first."""
        sql = f"SELECT {_WATCHED_COLUMNS} FROM watched WHERE (added, id) > (?, ?)"  # noqa: S608
        if not include_final:
            sql += " AND final = 0"
        sql += " AND archived IS NULL"
        sql += " ORDER BY added, id LIMIT ?"
        after: tuple[float, int] = (float("-inf"), 0)
        while True:
            batch = [_row(r) for r in self.db.execute(sql, (*after, size))]
            if not batch:
                return
            yield batch
            if len(batch) < size:
                return
            after = (batch[-1].added, batch[-1].id)

    # -- the watch list manages itself (issue 19) -------------------------------------------

    def set_archived(self, ids: Iterable[int], when: float | None) -> None:
        """Archive rows at ``when`` (a Unix time), or bring them back (None)."""
        with self.transaction():
            self.db.executemany(
                "UPDATE watched SET archived = ? WHERE id = ?", [(when, i) for i in ids]
            )

    def set_stalled_reported(self, row_id: int, last_event_time: str | None) -> None:
        """Remember that the row was reported stalled at this newest event (None: forget)."""
        with self.transaction():
            self.db.execute(
                "UPDATE watched SET stalled_reported = ? WHERE id = ?", (last_event_time, row_id)
            )

    def relabel(self, row_id: int, label: str | None) -> None:
        """Give a row another label (None: none)."""
        with self.transaction():
            self.db.execute("UPDATE watched SET label = ? WHERE id = ?", (label, row_id))

    def recourier(self, row_id: int, courier: str) -> None:
        """Move a row to another courier: its events, ETA and stalled mark go (asked again)."""
        with self.transaction():
            self.db.execute("DELETE FROM events WHERE shipment_id = ?", (row_id,))
            self.db.execute(
                "UPDATE watched SET courier = ?, ask_courier = ?, eta = NULL, eta_source = NULL,"
                " stalled_reported = NULL, last_event = NULL, last_event_time = NULL,"
                " snapshot = NULL, status = ?, final = 0 WHERE id = ?",
                (courier, courier, Status.UNKNOWN.value, row_id),
            )

    def snapshot(self, row_id: int) -> str | None:
        """The last stored answer of a row (Shipment JSON), if any."""
        row = self.db.execute("SELECT snapshot FROM watched WHERE id = ?", (row_id,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def deliveries(self) -> list[tuple[Any, ...]]:
        """Every delivered row with events: (id, carrier, courier, origin, destination, first
        event time, delivery time, archived), times as stored ISO text."""
        return list(
            self.db.execute(
                "SELECT w.id, w.carrier, w.courier, w.origin, w.destination, MIN(e.time),"
                " COALESCE(MAX(CASE WHEN e.status = 'delivered' THEN e.time END),"
                " w.last_event_time), w.archived"
                " FROM watched w JOIN events e ON e.shipment_id = w.id"
                " WHERE w.status = 'delivered' AND e.time IS NOT NULL GROUP BY w.id"
            )
        )

    # -- claims -----------------------------------------------------------------------------

    def pass_lock(self, wait: float) -> AbstractContextManager[None]:
        """Hold the watch lock file beside the database (StoreLocked past ``wait`` seconds)."""
        from waypost.store.claims import exclusive

        return exclusive(self.path.parent, wait)

    def claim(
        self, rows: Sequence[Watched], *, lease: float = CLAIM_LEASE
    ) -> AbstractContextManager[list[Watched]]:
        """Every row, once this process holds the pass lock (taken here at once otherwise)."""
        from waypost.store.claims import whole_list

        return whole_list(self.path.parent, rows)

    def shared_budget(self) -> SharedBudget | None:
        """Rate limits held with other hosts: none, a file is one host's."""
        return None

    # -- caches, adapter state and metadata -------------------------------------------------

    @property
    def cache(self) -> Store:
        """The answer cache (``get``/``put`` of this store)."""
        return self

    @property
    def state(self) -> _State:
        """Adapters' durable state, in its own table."""
        return _State(self)

    def get(self, namespace: str, key: str, max_age: float | None = None) -> Any | None:
        """A cached JSON value, or None when absent or older than ``max_age`` seconds."""
        import json

        row = self.db.execute(
            "SELECT value, stored FROM cache WHERE namespace = ? AND key = ?", (namespace, key)
        ).fetchone()
        if row is None or (max_age is not None and time.time() - row[1] > max_age):
            return None
        return json.loads(row[0])

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Cache a JSON-serialisable value now."""
        import json

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


# Rows of one multi-row INSERT: four placeholders each, within SQLite's oldest limit of 999.
_ROWS_PER_INSERT = 249


class _State:
    """The ``state`` table of a Store as a StateStore."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, namespace: str, key: str) -> Any | None:
        """The stored value, or None when absent."""
        import json

        row = self._store.db.execute(
            "SELECT value FROM state WHERE namespace = ? AND key = ?", (namespace, key)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Store a JSON-serialisable value."""
        import json

        self._store.db.execute(
            "INSERT OR REPLACE INTO state (namespace, key, value, stored) VALUES (?, ?, ?, ?)",
            (namespace, key, json.dumps(value, ensure_ascii=False), time.time()),
        )

    def put_many(self, namespace: str, items: Iterable[tuple[str, Any]]) -> None:
        """Store several values in one transaction (one write instead of one per key)."""
        self.put_rows((namespace, k, v) for k, v in items)

    def put_rows(self, rows: Iterable[tuple[str, str, Any]]) -> None:
        """Store ``(namespace, key, value)`` rows in one transaction, a few statements of many
        rows each: ``executemany`` would let go of the interpreter's lock once per row, and
        each time wait to get it back from a thread that is printing."""
        import json

        now = time.time()
        values = [(n, k, json.dumps(v, ensure_ascii=False), now) for n, k, v in rows]
        if not values:
            return
        with self._store.transaction():
            for i in range(0, len(values), _ROWS_PER_INSERT):
                chunk = values[i : i + _ROWS_PER_INSERT]
                self._store.db.execute(
                    "INSERT OR REPLACE INTO state (namespace, key, value, stored) VALUES "  # noqa: S608 (placeholders only)
                    + ", ".join(["(?, ?, ?, ?)"] * len(chunk)),
                    [v for row in chunk for v in row],
                )


class StoreCache:
    """The store as a lookup cache that is never in the way (``track``, ``carriers --remote``).

    The database is opened on first use (a lookup that needs no cache never touches it), a
    write never waits for another process's lock, and any store fault only costs the cache:
    one warning, then the run goes on without it.
    """

    def __init__(
        self,
        data_dir: Path,
        store: Store | None = None,
        *,
        warn: Callable[[str], None] | None = None,
        opener: Callable[[], Store] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self._opener = opener  # the configured store (PostgreSQL); default the SQLite file
        self._store = store
        self._own = store is None
        self._broken = False
        self._warn = warn

    def _open(self) -> Store | None:
        if self._store is None and not self._broken:
            try:
                opened = self._opener() if self._opener else Store.open(self.data_dir, timeout=0)
                self._store = opened
            except StoreError as exc:
                self._fail(exc)
        return None if self._broken else self._store

    def _fail(self, exc: StoreError) -> None:
        if isinstance(exc, StoreBusy):
            return  # another waypost is writing: skip this write, try the next one
        if not self._broken and self._warn is not None:
            self._warn(f"warning: {exc.message}; going on without the cache")
        self._broken = True

    def get(self, namespace: str, key: str, max_age: float | None = None) -> Any | None:
        """The cached value, or None (also when the store cannot be read)."""
        return self._read(lambda store: store.get(namespace, key, max_age))

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Remember ``value`` unless the store is busy, read-only or broken."""
        self._write(lambda store: store.put(namespace, key, value))

    @property
    def state(self) -> _LenientState:
        """The store's adapter state, read and written as leniently as the cache."""
        return _LenientState(self)

    def _read(self, read: Callable[[Store], Any]) -> Any | None:
        store = self._open()
        if store is None:
            return None
        try:
            return read(store)
        except (StoreError, ValueError) as exc:
            self._fail(exc if isinstance(exc, StoreError) else StoreError(str(exc)))
            return None

    def _write(self, write: Callable[[Store], None]) -> None:
        store = self._open()
        if store is None or store.read_only:
            return
        try:
            with store.no_wait():
                write(store)
        except StoreError as exc:
            self._fail(exc)

    def shared_budget(self) -> SharedBudget | None:
        """The store's rate limits held with other hosts, if it has any (the SQLite file has
        none: it is not opened for this)."""
        if self._store is None and self._opener is None:
            return None
        store = self._open()
        return None if store is None else store.shared_budget()

    def close(self) -> None:
        """Close the store if this cache opened it."""
        if self._own and self._store is not None:
            self._store.close()
            self._store = None


class _LenientState:
    """A StoreCache's view of the ``state`` table: a fault costs the state, never the run."""

    def __init__(self, owner: StoreCache) -> None:
        self._owner = owner

    def get(self, namespace: str, key: str) -> Any | None:
        """The stored value, or None (also when the store cannot be read)."""
        return self._owner._read(lambda store: store.state.get(namespace, key))

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Store ``value`` unless the store is busy, read-only or broken."""
        self._owner._write(lambda store: store.state.put(namespace, key, value))

    def put_many(self, namespace: str, items: Iterable[tuple[str, Any]]) -> None:
        """``put`` of several values in one write, as leniently."""
        rows = list(items)
        self._owner._write(lambda store: store.state.put_many(namespace, rows))

    def put_rows(self, rows: Iterable[tuple[str, str, Any]]) -> None:
        """``(namespace, key, value)`` rows in one write, as leniently."""
        listed = list(rows)
        self._owner._write(lambda store: store.state.put_rows(listed))


def _filters(
    table: str,
    include_final: bool,
    status: str | None,
    archived: bool | None,
    *,
    carrier: str | None = None,
    ids: Sequence[int] | None = None,
) -> tuple[str, list[Any]]:
    """The ``AND ...`` conditions (columns prefixed by ``table``) and their arguments of a
    watch-list read: ``ids``, archived or not (None: both), not final, one status, one carrier."""
    sql, args = "", list[Any]()
    if ids is not None:
        sql += f" AND {table}id IN ({', '.join('?' * len(ids))})" if ids else " AND 1=0"
        args.extend(ids)
    if archived is not None:
        sql += f" AND {table}archived IS {'NOT ' if archived else ''}NULL"
    if not include_final:
        sql += f" AND {table}final = 0"
    if status is not None:
        sql += f" AND {table}status = ?"
        args.append(status)
    if carrier is not None:
        sql += f" AND {table}carrier = ?"
        args.append(carrier)
    return sql, args
