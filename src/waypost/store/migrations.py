"""The SQLite schema as named, ordered steps (``PRAGMA user_version`` counts those applied).

``MIGRATIONS[n]`` takes a database from version n to n + 1: its SQL, then its Python step, in
one transaction, so an old file is brought forward on open and never rewritten from scratch.
A step is never edited once released; a change is a new step at the end.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable


class Migration:
    """One schema step: a name, its SQL statements, then an optional Python step."""

    # A plain class, not a dataclass: generating a dataclass's methods costs more start-up
    # than opening the store for `waypost list` does.
    __slots__ = ("name", "sql", "step")

    def __init__(
        self, name: str, sql: str = "", step: Callable[[sqlite3.Connection], None] | None = None
    ) -> None:
        self.name, self.sql, self.step = name, sql, step

    def __repr__(self) -> str:
        return f"Migration({self.name!r})"

    def apply(self, db: sqlite3.Connection) -> None:
        """Run the step on ``db`` (inside the caller's transaction)."""
        for statement in self.sql.split(";"):
            if statement.strip():
                db.execute(statement)
        if self.step is not None:
            self.step(db)


def _split_queries(db: sqlite3.Connection) -> None:
    """Backfill the query columns from the ``carrier:courier:number`` text, parsed as every
    pass used to; a row whose text no longer parses keeps them empty (the pass reports it)."""
    from waypost import carriers
    from waypost.errors import UsageError
    from waypost.inputs import Token, parse_token

    infos = {i.name: i for i in carriers.infos()}
    updates = []
    for row_id, text in db.execute("SELECT id, query FROM watched").fetchall():
        try:
            query = parse_token(Token(text or "", "watch list"), infos)
        except UsageError:
            continue
        updates.append((query.carrier, query.courier, query.number, row_id))
    db.executemany(
        "UPDATE watched SET ask_carrier = ?, ask_courier = ?, ask_number = ? WHERE id = ?", updates
    )
    if sqlite3.sqlite_version_info >= (3, 35):  # older SQLite keeps the unused text column
        db.execute("ALTER TABLE watched DROP COLUMN query")


# Namespaces whose rows were durable adapter state kept in the cache table before step 4.
STATE_NAMESPACES = (
    "trackingmore.account",
    "trackingmore.watch",
    "trackingmore.limits",
    "trackingmore4.account",
    "trackingmore4.watch",
    "trackingmore4.limits",
)


def _move_state(db: sqlite3.Connection) -> None:
    """Move adapters' durable state out of the answer cache into its own table."""
    marks = ", ".join("?" * len(STATE_NAMESPACES))
    db.execute(
        "INSERT OR REPLACE INTO state (namespace, key, value, stored)"  # noqa: S608 (placeholders)
        f" SELECT namespace, key, value, stored FROM cache WHERE namespace IN ({marks})",
        STATE_NAMESPACES,
    )
    db.execute(f"DELETE FROM cache WHERE namespace IN ({marks})", STATE_NAMESPACES)  # noqa: S608


# "The watch list manages itself" (issue 19): when a row was archived (NULL: it is not), the
# newest event time at which it was last reported stalled, the ETA last known (to report a
# move) and the route, so that delivered shipments teach ETAs. Existing rows take their route
# and ETA from the stored answer.
WATCHLIST_MANAGES_ITSELF = """
    ALTER TABLE watched ADD COLUMN archived REAL;
    ALTER TABLE watched ADD COLUMN stalled_reported TEXT;
    ALTER TABLE watched ADD COLUMN eta TEXT;
    ALTER TABLE watched ADD COLUMN eta_source TEXT;
    ALTER TABLE watched ADD COLUMN origin TEXT;
    ALTER TABLE watched ADD COLUMN destination TEXT;
    CREATE INDEX watched_archived ON watched (archived, final)
    """


def _routes_from_snapshots(db: sqlite3.Connection) -> None:
    """Fill route and ETA from each row's stored answer (in Python, so that PostgreSQL runs the
    same step); an answer that is not a JSON object is skipped."""
    import json

    keys = ("origin", "destination", "eta", "eta_source")
    updates = []
    for row_id, snapshot in db.execute(
        "SELECT id, snapshot FROM watched WHERE snapshot IS NOT NULL"
    ).fetchall():
        try:
            answer = json.loads(snapshot)
        except (TypeError, ValueError):
            continue
        if not isinstance(answer, dict):
            continue
        values = [answer.get(k) if isinstance(answer.get(k), str) else None for k in keys]
        updates.append((*values, row_id))
    db.executemany(
        "UPDATE watched SET origin = ?, destination = ?, eta = ?, eta_source = ? WHERE id = ?",
        updates,
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "watch list and events",
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
    ),
    Migration(
        "query text, order id, latest answer, caches",
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
    ),
    Migration(
        "query as columns",
        """
        ALTER TABLE watched ADD COLUMN ask_carrier TEXT;
        ALTER TABLE watched ADD COLUMN ask_courier TEXT;
        ALTER TABLE watched ADD COLUMN ask_number TEXT;
        """,
        _split_queries,
    ),
    Migration(
        "adapter state apart from the cache",
        """
        CREATE TABLE state (
            namespace TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            stored REAL NOT NULL,
            PRIMARY KEY (namespace, key)
        );
        """,
        _move_state,
    ),
    Migration("the watch list manages itself", WATCHLIST_MANAGES_ITSELF, _routes_from_snapshots),
    Migration(
        "journeys",
        """
        CREATE TABLE journeys (id TEXT PRIMARY KEY, created REAL NOT NULL);
        ALTER TABLE watched ADD COLUMN journey TEXT REFERENCES journeys (id) ON DELETE SET NULL;
        ALTER TABLE watched ADD COLUMN leg INTEGER;
        CREATE INDEX watched_journey ON watched (journey, leg);
        """,
    ),
    # ``list`` reads each row's earliest event time with one step into ``events_time`` instead
    # of reading every event of the row, and the rows in their order from ``watched_listed``
    # (no sort; it serves ``watched_archived``'s reads too).
    Migration(
        "indexes for list",
        """
        CREATE INDEX events_time ON events (shipment_id, time);
        CREATE INDEX watched_listed ON watched (archived, final, added, id);
        DROP INDEX watched_archived
        """,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
OUR_TABLES = frozenset(
    m.group(1)
    for m in re.finditer(
        r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", "".join(m.sql for m in MIGRATIONS)
    )
)
