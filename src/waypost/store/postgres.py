"""The watch list in PostgreSQL (SPEC.md, "A watch list shared by several hosts"), via psycopg 3.

``[store] url`` / ``WAYPOST_DATABASE_URL`` = ``postgresql://user:password@host:port/db?...``
(libpq's URI form; ``sslmode`` and the other parameters pass through to libpq). psycopg is
imported only here, so a run without such a URL never loads it.

One description of the tables: the named migrations (``store.migrations``) are the schema;
``pg_ddl`` writes each statement in PostgreSQL's dialect and ``pg_sql`` the store's queries
(their Python steps run through the same translation), so both backends share every query of
``store.sqlite.Store``. ``PG_MIGRATIONS`` adds what only several
hosts need: the claim columns and the passes table. Versions live in ``waypost_schema``;
migrations run in one transaction each under an advisory lock, so hosts opening a new database
together migrate it once.

Passes across hosts: a ``watch`` pass joins the newest pass when it began less than
``[store] pass_window`` seconds ago (the server's clock) or when another live host is still
working on it, and opens a new one otherwise. A row is due in pass P while ``pass_id < P``.
A host claims due rows in batches (``FOR UPDATE SKIP LOCKED``), marking them with its token: a
session advisory lock the host holds while it lives, so the claims of a host that was killed
die with its connection (and ``claim_until`` bounds a host that hangs). The rows of a carrier
whose watch pages the whole account since a cursor (TrackingMore) are claimed together by one
host, or the cursor would skip another host's news. Only after delivery and commit does a
host mark its rows asked in P; a killed host's rows stay due and the next run asks them again
(at least once).
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from waypost.errors import StoreBusy, StoreError, StoreForeign, StoreFull, StoreReadOnly
from waypost.store.migrations import MIGRATIONS, OUR_TABLES
from waypost.store.protocols import CLAIM_LEASE, Watched
from waypost.store.sqlite import _WATCHED_COLUMNS, Store, _row

if TYPE_CHECKING:
    import psycopg

    from waypost.models import Shipment

ENV_URL = "WAYPOST_DATABASE_URL"
SCHEMES = ("postgresql://", "postgres://")
PASS_WINDOW = 60.0
CLAIM_BATCH = 500
CLAIM_TTL = CLAIM_LEASE
# Advisory lock classes (the first int of pg_advisory_lock(int, int)).
LOCK_MIGRATE, LOCK_HOST, LOCK_GROUP, LOCK_PASS = 0x57A1, 0x57A2, 0x57A3, 0x57A4

PG_MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: claims and passes.
    """
    ALTER TABLE watched ADD COLUMN pass_id BIGINT;
    ALTER TABLE watched ADD COLUMN claim_token BIGINT;
    ALTER TABLE watched ADD COLUMN claim_until DOUBLE PRECISION;
    CREATE INDEX watched_due ON watched (final, pass_id);
    CREATE TABLE passes (id BIGINT PRIMARY KEY, started DOUBLE PRECISION NOT NULL);
    """,
    # 1 -> 2: rate-limit permits and 429 pauses every host shares (``PgBudget``).
    """
    CREATE TABLE rate_slots (
        key TEXT NOT NULL,
        slot INTEGER NOT NULL,
        free_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (key, slot)
    );
    CREATE TABLE rate_pauses (key TEXT PRIMARY KEY, until DOUBLE PRECISION NOT NULL);
    """,
)
# Passes this process took part in, per database: a `watch` loop never joins one twice.
_JOINED: dict[str, set[int]] = {}
PG_TABLES = frozenset({"waypost_schema", "passes", "rate_slots", "rate_pauses"})


def whole_account() -> tuple[str, ...]:
    """Carriers whose watch reads what changed in the account since one cursor
    (``CarrierInfo.watch_cursor``): their rows of a pass go to one host, or the cursor would
    skip the news of another host's rows."""
    from waypost import carriers

    return tuple(i.name for i in carriers.infos() if i.watch_cursor)


def is_url(value: str | None) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL."""
    return bool(value) and str(value).strip().lower().startswith(SCHEMES)


def check_url(value: str) -> str:
    """``value`` when it is a PostgreSQL URL libpq can parse; ValueError saying what is wrong."""
    from urllib.parse import urlsplit

    if not is_url(value):
        raise ValueError("must be a postgresql:// URL (unset it to use the SQLite file)")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if any(c.isspace() for c in value):
        raise ValueError("must not contain white space")
    return value


def password_of(url: str) -> str | None:
    """The password inside ``url`` (to be masked wherever text is shown), if any."""
    from urllib.parse import unquote, urlsplit

    try:
        secret = urlsplit(url).password
    except ValueError:
        return None
    if not secret:
        return None
    return unquote(secret)


def shown(url: str) -> str:
    """``url`` as it may be printed: the password masked."""
    from waypost.redaction import redact

    secret = password_of(url)
    return redact(url, [secret] if secret else [])


def configured_url(
    explicit: Path | None = None, env: Mapping[str, str] | None = None
) -> str | None:
    """``WAYPOST_DATABASE_URL``, else ``[store] url`` of the config file, read lightly (as
    ``paths.busy_timeout`` reads its key); None for SQLite."""
    from waypost.paths import config_path, read_config_data

    env = os.environ if env is None else env
    raw = env.get(ENV_URL, "").strip()
    if raw:
        return raw
    try:
        data = read_config_data(config_path(explicit, env))
    except (OSError, UnicodeError, ValueError, RecursionError, MemoryError):
        return None
    store = data.get("store")
    value = store.get("url") if isinstance(store, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


# -- one description, two dialects ---------------------------------------------------------


def pg_ddl(statement: str) -> str:
    """One SQLite migration statement in PostgreSQL's dialect."""
    sql = re.sub(
        r"\bINTEGER PRIMARY KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement
    )
    sql = re.sub(r"\bINTEGER\b", "BIGINT", sql)
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)


@cache
def primary_keys() -> dict[str, tuple[str, ...]]:
    """Each table's primary key, read from the migrations (the one description)."""
    keys: dict[str, tuple[str, ...]] = {}
    text = "".join(m.sql for m in MIGRATIONS)
    for m in re.finditer(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+) \(", text):
        table, depth, end = m.group(1), 1, m.end()
        while depth and end < len(text):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        body = text[m.end() : end - 1]
        composite = re.search(r"PRIMARY KEY \(([^)]*)\)", body)
        if composite:
            keys[table] = tuple(c.strip() for c in composite.group(1).split(","))
            continue
        single = re.search(r"(\w+) \w+ PRIMARY KEY", body)
        if single:
            keys[table] = (single.group(1),)
    return keys


_INSERT = re.compile(r"^\s*INSERT OR (IGNORE|REPLACE) INTO (\w+) \(([^)]*)\)(.*)$", re.S)


@cache
def pg_sql(sql: str) -> str:
    """One of the store's SQLite queries in PostgreSQL's dialect."""
    out = sql.replace("%", "%%").replace("?", "%s")
    out = re.sub(r"\b(\w+) DESC\b", r"\1 DESC NULLS LAST", out)
    m = _INSERT.match(out)
    if m:
        verb, table, columns, rest = m.groups()
        head = f"INSERT INTO {table} ({columns}){rest}"
        if verb == "IGNORE":
            return head + " ON CONFLICT DO NOTHING"
        key = primary_keys()[table]
        update = [c.strip() for c in columns.split(",") if c.strip() not in key]
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
        return head + f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"
    return out


# -- errors ---------------------------------------------------------------------------------


def fault(exc: BaseException, url: str) -> StoreError:
    """The StoreError (exit 5) that explains a psycopg error; the URL's password masked."""
    if isinstance(exc, StoreError):
        return exc
    from waypost.redaction import redact

    where = shown(url)
    secret = password_of(url)
    reason = redact(" ".join(str(exc).split()) or type(exc).__name__, [secret] if secret else [])
    state = str(getattr(exc, "sqlstate", "") or "")
    if state.startswith("08") or (state == "" and "connect" in reason.lower()):
        return StoreError(
            f"cannot reach the database {where}: {reason}",
            hint="check that the server runs and the URL's host, port and database are right "
            "(`waypost config show` prints it, the password masked)",
        )
    if state in ("28P01", "28000"):
        return StoreError(
            f"cannot use the database {where}: the server refused the login ({reason})",
            hint="check the user and password in [store] url / WAYPOST_DATABASE_URL",
        )
    if state == "3D000":
        return StoreError(
            f"cannot use the database {where}: it does not exist",
            hint="create it first, e.g. `createdb waypost`, then run again",
        )
    if state in ("42501", "25006"):
        return StoreReadOnly(
            f"cannot use the database {where}: this user may not write to it ({reason}); "
            "nothing was changed",
            hint="grant the user the rights on its tables, or use another database",
        )
    if state in ("53100", "53200"):
        return StoreFull(
            f"cannot use the database {where}: the server is out of space ({reason}); "
            "the change was undone, nothing is lost",
            hint="free some space on the database server and run again",
        )
    if state in ("55P03", "40P01", "40001", "57014"):
        return StoreBusy(
            f"cannot use the database {where}: another waypost held it too long ({reason})",
            hint="try again in a moment",
        )
    return StoreError(f"cannot use the database {where}: {reason}")


class _Cursor:
    """The few cursor features the store's queries use, over a psycopg cursor."""

    def __init__(self, cursor: psycopg.Cursor[Any], url: str) -> None:
        self._cursor = cursor
        self._url = url
        self.rowcount = cursor.rowcount

    def fetchone(self) -> Any:
        """The next row, or None."""
        try:
            return self._cursor.fetchone()
        except Exception as exc:
            raise fault(exc, self._url) from None

    def fetchall(self) -> list[Any]:
        """Every remaining row."""
        try:
            return self._cursor.fetchall()
        except Exception as exc:
            raise fault(exc, self._url) from None

    def __iter__(self) -> Iterator[Any]:
        # The result is in libpq's memory already; rows become Python tuples a page at a time.
        while True:
            try:
                rows = self._cursor.fetchmany(1000)
            except Exception as exc:
                raise fault(exc, self._url) from None
            if not rows:
                return
            yield from rows


class _Gather:
    """Stands in for the connection while Store's writes are gathered into batches."""

    def __init__(self) -> None:
        self.calls: dict[str, list[Sequence[Any]]] = {}

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> None:
        """Keep one statement's parameters."""
        self.calls.setdefault(sql, []).append(parameters)

    def executemany(self, sql: str, parameters: Any, /) -> None:
        """Keep every parameter set of one statement."""
        self.calls.setdefault(sql, []).extend(parameters)


class _Connection:
    """A psycopg connection speaking the store's SQLite queries; every error a StoreError."""

    def __init__(self, conn: psycopg.Connection[Any], url: str) -> None:
        self.conn = conn
        self.url = url

    def _ok(self) -> None:
        if self.conn.closed:
            raise StoreError(f"cannot use the database {shown(self.url)}: the connection closed")

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> _Cursor:
        """Run one statement (written for SQLite)."""
        return self.raw(pg_sql(sql), parameters)

    def raw(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = (), /) -> _Cursor:
        """Run one statement written for PostgreSQL."""
        self._ok()
        try:
            return _Cursor(self.conn.execute(sql, parameters or None), self.url)
        except Exception as exc:
            raise fault(exc, self.url) from None

    def executemany(self, sql: str, parameters: Any, /) -> _Cursor:
        """Run one statement (written for SQLite) per parameter set."""
        return self.executemany_raw(pg_sql(sql), parameters)

    def executemany_raw(self, sql: str, parameters: Any, /) -> _Cursor:
        """Run one statement written for PostgreSQL per parameter set."""
        self._ok()
        rows = list(parameters)
        try:
            cursor = self.conn.cursor()
            if rows:
                cursor.executemany(sql, rows)
            return _Cursor(cursor, self.url)
        except Exception as exc:
            raise fault(exc, self.url) from None

    @property
    def in_transaction(self) -> bool:
        """True inside BEGIN ... COMMIT."""
        from psycopg.pq import TransactionStatus

        return self.conn.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def connect(url: str, timeout: float) -> _Connection:
    """A connection to ``url`` (autocommit; the store opens its own transactions)."""
    from waypost.errors import MissingExtra

    try:
        import psycopg
    except ImportError:
        raise MissingExtra(
            f"[store] url is a PostgreSQL database ({shown(url)}) but psycopg is not installed",
            hint="pip install 'waypost[postgres]'",
        ) from None
    try:
        conn = psycopg.connect(
            url, autocommit=True, connect_timeout=max(1, round(timeout)) if timeout else 10
        )
    except Exception as exc:
        raise fault(exc, url) from None
    return _Connection(conn, url)


class PgStore(Store):
    """The watch list in a PostgreSQL database; the queries are ``Store``'s, in PG's dialect."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.path = Path(shown(url))
        self.busy_timeout = timeout
        self.read_only = False
        self._depth = 0
        self._token: int | None = None
        self._pass: int | None = None
        self._joined = _JOINED.setdefault(url, set())
        self._groups_done = False
        self._budget: PgBudget | None = None
        self._keys: dict[int, set[str]] = {}
        self._mine: dict[int, None] = {}
        self._candidates: list[int] | None = None
        # Rows of a whole-account carrier this host holds for the pass, handed out chunk by
        # chunk (so a pass never holds 28,000 TrackingMore answers at once).
        self._reserved: set[int] = set()
        self._quiet: list[tuple[int, Shipment, float]] = []
        self.claim_batch = CLAIM_BATCH
        self.pass_window = PASS_WINDOW
        self.claim_ttl = CLAIM_TTL
        self.pg = connect(url, timeout)
        self.db = self.pg  # type: ignore[assignment]
        try:
            # Another writer's lock is waited for ``busy_timeout`` at most (then StoreBusy).
            self.pg.raw(f"SET lock_timeout = '{self._lock_ms}ms'")
            self._check_schema_pg()
            self._migrate()
        except BaseException:
            self.pg.close()
            raise

    @classmethod
    def open_url(cls, url: str, *, timeout: float = 10.0) -> PgStore:
        """The store at ``url``."""
        return cls(url, timeout=timeout)

    def __enter__(self) -> PgStore:
        return self

    @property
    def _lock_ms(self) -> int:
        return max(1, int(self.busy_timeout * 1000))

    def shared_budget(self) -> PgBudget:
        """The rate-limit budget every host of this database shares (its own connection)."""
        if self._budget is None:
            self._budget = PgBudget(self.url, timeout=self.busy_timeout)
        return self._budget

    def close(self) -> None:
        """Close the connection (its claims and locks end with it)."""
        with suppress(StoreError):
            self.flush()
        if self._budget is not None:
            self._budget.close()
        self.pg.close()

    # -- schema -----------------------------------------------------------------------------

    def _tables(self) -> set[str]:
        rows = self.pg.raw(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
        return {str(r[0]) for r in rows}

    def _versions(self) -> dict[str, int]:
        if "waypost_schema" not in self._tables():
            return {}
        rows = self.pg.raw("SELECT name, version FROM waypost_schema").fetchall()
        return {str(n): int(v) for n, v in rows}

    def _check_schema_pg(self) -> None:
        names = self._tables()
        versions = self._versions()
        shared = versions.get("shared", 0)
        if shared > len(MIGRATIONS) or versions.get("postgres", 0) > len(PG_MIGRATIONS):
            raise StoreForeign(
                f"cannot use the database {shown(self.url)}: its schema is newer than this "
                "waypost knows; upgrade waypost",
                hint="waypost has not changed it; `pip install -U 'waypost[postgres]'` reads it",
            )
        ours = OUR_TABLES | PG_TABLES
        if names & ours and not versions:
            raise StoreForeign(
                f"cannot use the database {shown(self.url)}: it holds tables of another program "
                f"({', '.join(sorted(names & ours))}) without waypost's schema table; "
                "waypost has not changed it",
                hint="use a database (or a schema: ?options=-csearch_path%3Dwaypost) of its own",
            )

    @property
    def version(self) -> int:
        """The shared schema version of the database."""
        return self._versions().get("shared", 0)

    def _migrate(self) -> None:
        if self._current():
            return
        with self.transaction():
            self.pg.raw("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_MIGRATE,))
            self.pg.raw(
                "CREATE TABLE IF NOT EXISTS waypost_schema "
                "(name TEXT PRIMARY KEY, version BIGINT NOT NULL)"
            )
            versions = self._versions()
            steps: list[tuple[str, int, str, Any]] = [
                ("shared", n, m.sql, m.step) for n, m in enumerate(MIGRATIONS)
            ]
            steps += [("postgres", n, sql, None) for n, sql in enumerate(PG_MIGRATIONS)]
            for name, version, sql, step in steps:
                if version < versions.get(name, 0):
                    continue
                for statement in sql.split(";"):
                    if statement.strip():
                        self.pg.raw(pg_ddl(statement))
                if step is not None:
                    step(self.pg)  # its SQLite statements, translated by the connection
                self.pg.raw(
                    "INSERT INTO waypost_schema (name, version) VALUES (%s, %s) "
                    "ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version",
                    (name, version + 1),
                )

    def _current(self) -> bool:
        versions = self._versions()
        return versions.get("shared") == len(MIGRATIONS) and versions.get("postgres") == len(
            PG_MIGRATIONS
        )

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """BEGIN ... COMMIT, rolled back on any error; an inner one joins the outer."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        self.pg.raw("BEGIN")
        self._depth = 1
        try:
            yield self.db
            self.pg.raw("COMMIT")
        except BaseException:
            self._rollback()
            raise
        finally:
            self._depth = 0

    def _rollback(self) -> None:
        if not self.pg.conn.closed and self.pg.in_transaction:
            with suppress(StoreError):
                self.pg.raw("ROLLBACK")

    @contextmanager
    def no_wait(self) -> Iterator[None]:
        """Statements inside give up on a row lock at once instead of waiting."""
        self.pg.raw("SET lock_timeout = '1ms'")
        try:
            yield
        finally:
            self.pg.raw(f"SET lock_timeout = '{self._lock_ms}ms'")

    # -- fewer round trips in a pass: its rows are this host's until it ends -------------------

    def known_keys(self, row_id: int) -> set[str]:
        """Keys of a row's stored events; for claimed rows read 1,000 rows at a time."""
        if row_id not in self._keys and row_id in self._mine:
            wanted = [i for i in self._mine if i not in self._keys][:1000]
            if row_id not in wanted:
                wanted.append(row_id)
            found: dict[int, set[str]] = {i: set() for i in wanted}
            for shipment_id, key in self.pg.raw(
                "SELECT shipment_id, key FROM events WHERE shipment_id = ANY(%s)", (wanted,)
            ):
                found[int(shipment_id)].add(str(key))
            self._keys.update(found)
        if row_id in self._keys:
            return set(self._keys[row_id])
        return super().known_keys(row_id)

    def refresh(self, row: Watched, shipment: Shipment, now: float | None = None) -> None:
        """Store one shipment's new answer and events in one transaction, sent as one batch
        (pipeline mode: one round trip instead of four); unanswered ones change nothing. In a
        pass, an answer without new events is written with the next 500 such answers (a host
        killed before that only loses "checked", and the next pass asks again)."""
        from waypost.status import Status
        from waypost.store.sqlite import key_of

        if shipment.status is Status.UNKNOWN or shipment.error is not None:
            return
        when = time.time() if now is None else now
        if self._depth:
            self._record(row.id, shipment, shipment.events, when)
            return
        keys = {key_of(e) for e in shipment.events}
        known = self._keys.get(row.id)
        if self._pass is not None and known is not None and keys <= known:
            self._quiet.append((row.id, shipment, when))
            if len(self._quiet) >= 500:
                self.flush()
            return
        self._write([(row.id, shipment, when)])
        if known is not None:
            known |= keys

    def flush(self) -> None:
        """Write the answers without news held back by ``refresh``."""
        held, self._quiet = self._quiet, []
        if held:
            self._write(held)

    def _write(self, answers: list[tuple[int, Shipment, float]]) -> None:
        """Record ``answers`` in one transaction: Store's statements, gathered, each sent once
        for every answer (``executemany`` in a pipeline)."""
        gathered = _Gather()
        self.db = gathered  # type: ignore[assignment]
        try:
            for row_id, shipment, when in answers:
                self._record(row_id, shipment, shipment.events, when)
        finally:
            self.db = self.pg  # type: ignore[assignment]
        try:
            with self.pg.conn.pipeline():
                self.pg.raw("BEGIN")
                self._depth = 1
                for sql, rows in gathered.calls.items():
                    if rows:
                        self.pg.conn.cursor().executemany(pg_sql(sql), rows)
                self.pg.raw("COMMIT")
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, Exception):
                raise fault(exc, self.url) from None
            raise
        finally:
            self._depth = 0

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Cache a JSON-serialisable value now (shared by every host)."""
        self.pg.raw(
            "INSERT INTO cache (namespace, key, value, stored) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value, "
            "stored = EXCLUDED.stored",
            (namespace, key, json.dumps(value, ensure_ascii=False), time.time()),
        )

    def _lock_rows(self, ids: Sequence[int]) -> None:
        """Hold these rows until the transaction ends (journeys: another host's link waits)."""
        if ids:
            self.pg.raw(
                "SELECT id FROM watched WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (list(ids),)
            )

    # -- passes and claims ------------------------------------------------------------------

    def _host_token(self) -> int:
        """This host's token: an advisory lock held for as long as the connection lives."""
        while self._token is None:
            token = random.randint(1, 2**31 - 1)
            row = self.pg.raw("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_HOST, token)).fetchone()
            if row and row[0]:
                self._token = token
        return self._token

    def _live_tokens(self) -> list[int]:
        rows = self.pg.raw(
            "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid::bigint = %s AND objsubid = 2 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (LOCK_HOST,),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def begin_pass(self) -> int:
        """Join the current pass of every host, or open a new one; its id."""
        token = self._host_token()
        with self.transaction():
            self.pg.raw("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_PASS,))
            now = float(self.pg.raw("SELECT extract(epoch FROM clock_timestamp())").fetchone()[0])
            latest = self.pg.raw(
                "SELECT id, started FROM passes ORDER BY id DESC LIMIT 1"
            ).fetchone()
            chosen: int | None = None
            if latest is not None and int(latest[0]) not in self._joined:
                pass_id, started = int(latest[0]), float(latest[1])
                live = [t for t in self._live_tokens() if t != token]
                working = (
                    bool(live)
                    and self.pg.raw(
                        "SELECT EXISTS (SELECT 1 FROM watched WHERE claim_token = ANY(%s) "
                        "AND claim_until > %s)",
                        (live, time.time()),
                    ).fetchone()[0]
                )
                if now - started < self.pass_window or working:
                    chosen = pass_id
            if chosen is None:
                chosen = (int(latest[0]) if latest else 0) + 1
                self.pg.raw("INSERT INTO passes (id, started) VALUES (%s, %s)", (chosen, now))
                self.pg.raw("DELETE FROM passes WHERE id < %s", (chosen - 10,))
                self.pg.raw("UPDATE watched SET pass_id = 0 WHERE pass_id IS NULL")
        self._pass = chosen
        self._joined.add(chosen)
        self._groups_done = False
        return chosen

    # -- the claim protocol (``WatchStore``) ---------------------------------------------------

    @contextmanager
    def pass_lock(self, wait: float) -> Iterator[None]:
        """Join or open the pass of every host (never waits: hosts work side by side); on a
        clean exit this host's rows count as asked, on an error they are released unasked."""
        self.begin_pass()
        try:
            yield
        except BaseException:
            with suppress(StoreError):
                self.end_pass(done=False)
            raise
        self.end_pass()

    @contextmanager
    def claim(
        self, rows: Sequence[Watched], *, lease: float = CLAIM_LEASE
    ) -> Iterator[list[Watched]]:
        """The rows of ``rows`` this host now owns (and, on its first claim of a pass, every due
        row of a ``watch_cursor`` carrier); other hosts' live claims are left out. Held until
        the pass ends (``pass_lock``)."""
        implicit = self._pass is None
        if implicit:
            self.begin_pass()
        self.claim_ttl = lease
        self._candidates = [r.id for r in rows]
        try:
            yield self._claim_next()
        except BaseException:
            if implicit:
                with suppress(StoreError):
                    self.end_pass(done=False)
            raise
        if implicit:
            self.end_pass()

    def claim_more(self) -> list[Watched]:
        """The next batch of this pass's rows for this host ([] when none is left)."""
        if self._pass is None:
            return []
        return self._claim_next()

    def _claim_next(self) -> list[Watched]:
        """The next batch of due rows, claimed for this host ([] when none is left)."""
        if self._pass is None:
            self.begin_pass()
        assert self._pass is not None
        assert self._token is not None
        now = time.time()
        until = now + self.claim_ttl
        rows: list[Watched] = []
        with self.transaction():
            live = self._live_tokens()
            free = (
                "final = 0 AND (pass_id IS NULL OR pass_id < %(pass)s) AND (claim_token IS NULL "
                "OR claim_token <> ALL(%(live)s) OR claim_until < %(now)s)"
            )
            args = {"pass": self._pass, "live": live, "now": now, "until": until}
            anywhere = free  # a whole-account carrier's due rows, in whatever chunk they are
            if self._candidates is not None:
                free += " AND id = ANY(%(candidates)s)"
                args["candidates"] = self._candidates
            args["token"] = self._token
            # Keep this host's claims alive while it works.
            self.pg.raw(
                "UPDATE watched SET claim_until = %(until)s WHERE claim_token = %(token)s", args
            )
            whole = whole_account()
            if not self._groups_done:
                self._groups_done = True
                for carrier in whole:
                    self._reserved.update(self._claim_group(carrier, anywhere, args))
            if self._candidates is None:
                handed = sorted(self._reserved)
            else:
                handed = [i for i in self._candidates if i in self._reserved]
            self._reserved.difference_update(handed)
            rows.extend(self._read(handed))
            # A chunk the pass read is claimed whole (hosts reading the same chunks split them).
            limit = len(self._candidates) if self._candidates is not None else self.claim_batch
            picked = self.pg.raw(
                f"SELECT id FROM watched WHERE {free} AND carrier <> ALL(%(whole)s) "  # noqa: S608
                "ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED",
                {**args, "limit": max(limit, 1), "whole": list(whole)},
            ).fetchall()
            ids = [int(r[0]) for r in picked]
            rows.extend(self._take(ids, args))
        return rows

    def _claim_group(self, carrier: str, free: str, args: dict[str, Any]) -> list[int]:
        """Claim every due row of ``carrier`` (ids), unless another live host works on it."""
        self.pg.raw(
            "SELECT pg_advisory_xact_lock(%s, %s)",
            (LOCK_GROUP, zlib.crc32(carrier.encode()) & 0x7FFFFFFF),
        )
        taken = self.pg.raw(
            "SELECT EXISTS (SELECT 1 FROM watched WHERE carrier = %(carrier)s AND final = 0 "
            "AND claim_token = ANY(%(live)s) AND claim_token <> %(token)s "
            "AND claim_until >= %(now)s)",
            {**args, "carrier": carrier},
        ).fetchone()[0]
        if taken:
            return []
        picked = self.pg.raw(
            f"SELECT id FROM watched WHERE {free} AND carrier = %(carrier)s "  # noqa: S608
            "ORDER BY id FOR UPDATE",
            {**args, "carrier": carrier},
        ).fetchall()
        ids = [int(r[0]) for r in picked]
        self._mark(ids, args)
        return ids

    def _mark(self, ids: list[int], args: dict[str, Any]) -> None:
        if ids:
            self.pg.raw(
                "UPDATE watched SET claim_token = %(token)s, claim_until = %(until)s "
                "WHERE id = ANY(%(ids)s)",
                {**args, "ids": ids},
            )

    def _take(self, ids: list[int], args: dict[str, Any]) -> list[Watched]:
        self._mark(ids, args)
        return self._read(ids)

    def _read(self, ids: list[int]) -> list[Watched]:
        if not ids:
            return []
        rows = self.pg.raw(
            f"SELECT {_WATCHED_COLUMNS} FROM watched WHERE id = ANY(%(ids)s) ORDER BY added, id",  # noqa: S608
            {"ids": ids},
        ).fetchall()
        self._mine.update(dict.fromkeys(ids))
        return [_row(r) for r in rows]

    def end_pass(self, *, done: bool = True) -> None:
        """Release this host's claims; ``done``: its rows count as asked in this pass."""
        if self._token is None or self._pass is None:
            return
        self.flush()
        self._keys.clear()
        self._mine.clear()
        self._reserved.clear()
        self._candidates = None
        if done:
            self.pg.raw(
                "UPDATE watched SET pass_id = %s, claim_token = NULL, claim_until = NULL "
                "WHERE claim_token = %s",
                (self._pass, self._token),
            )
        else:
            self.pg.raw(
                "UPDATE watched SET claim_token = NULL, claim_until = NULL WHERE claim_token = %s",
                (self._token,),
            )
        self._pass = None


def open_url(url: str, *, timeout: float, settings: Mapping[str, Any] | None = None) -> PgStore:
    """The store at ``url`` (``[store] url``), tuned by ``[store]`` ``settings``; a URL that is
    not one is a StoreError (exit 5) saying what is wrong, its password masked."""
    try:
        check_url(url)
    except ValueError as exc:
        raise StoreError(
            f"cannot use the database {shown(url)}: [store] url {exc}",
            hint="e.g. postgresql://waypost:PASSWORD@db.example.org:5432/waypost?sslmode=require",
        ) from None
    store = PgStore(url, timeout=timeout)
    if settings:
        store.pass_window = float(settings.get("pass_window", PASS_WINDOW))
    return store


def _columns_sqlite(store: Store, table: str) -> list[str]:
    return [str(r[1]) for r in store.db.execute(f"PRAGMA table_info({table})")]


def _columns_pg(store: PgStore, table: str) -> list[str]:
    rows = store.pg.raw(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def copy_store(source: Store, target: PgStore) -> dict[str, tuple[int, int]]:
    """Copy every row of an SQLite store into PostgreSQL, in one transaction; per table
    ``(rows read, rows new)``. Rows the target already holds are kept as they are (the watch
    list by number and carrier, events by their key), so a second copy adds nothing."""
    counts: dict[str, tuple[int, int]] = {}
    with target.transaction():
        # Before the watch list: its rows name their journey (a foreign key).
        counts["journeys"] = _copy_table(source, target, "journeys", "(id)")
        ids: dict[int, int] = {}
        cols = [
            c
            for c in _columns_sqlite(source, "watched")
            if c != "id" and c in _columns_pg(target, "watched")
        ]
        listed = ", ".join(cols)
        marks = ", ".join(["%s"] * len(cols))
        read = new = 0
        for row in source.db.execute(f"SELECT id, {listed} FROM watched ORDER BY id"):  # noqa: S608
            read += 1
            got = target.pg.raw(
                f"INSERT INTO watched ({listed}) VALUES ({marks}) "  # noqa: S608
                "ON CONFLICT (number, carrier) DO NOTHING RETURNING id",
                tuple(row[1:]),
            ).fetchone()
            if got is None:
                values = dict(zip(cols, row[1:], strict=True))
                got = target.pg.raw(
                    "SELECT id FROM watched WHERE number = %s AND carrier = %s",
                    (values["number"], values["carrier"]),
                ).fetchone()
            else:
                new += 1
            ids[int(row[0])] = int(got[0])
        counts["watched"] = (read, new)
        for table, conflict in (
            ("events", "(shipment_id, key)"),
            ("cache", "(namespace, key)"),
            ("state", "(namespace, key)"),
            ("meta", "(key)"),
        ):
            counts[table] = _copy_table(
                source, target, table, conflict, ids if table == "events" else None
            )
    return counts


def _copy_table(
    source: Store, target: PgStore, table: str, conflict: str, ids: dict[int, int] | None = None
) -> tuple[int, int]:
    """Copy one table's rows the target lacks; ``ids`` maps ``shipment_id`` to the target's."""
    cols = [c for c in _columns_sqlite(source, table) if c != "id" or table == "journeys"]
    cols = [c for c in cols if c in _columns_pg(target, table)]
    listed = ", ".join(cols)
    marks = ", ".join(["%s"] * len(cols))
    rows = [list(r) for r in source.db.execute(f"SELECT {listed} FROM {table}")]  # noqa: S608
    if ids is not None:
        at = cols.index("shipment_id")
        for r in rows:
            r[at] = ids[int(r[at])]
    before = int(target.pg.raw(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
    target.pg.executemany_raw(
        f"INSERT INTO {table} ({listed}) VALUES ({marks}) "  # noqa: S608
        f"ON CONFLICT {conflict} DO NOTHING",
        rows,
    )
    after = int(target.pg.raw(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
    return len(rows), after - before


class PgBudget:
    """``http.SharedBudget`` in the database: ``size`` rows per endpoint key in ``rate_slots``,
    each free from ``free_at`` on, taken with ``FOR UPDATE SKIP LOCKED`` (the same permits
    ``http.RateLimiter`` hands out, counted across hosts), and ``rate_pauses`` for a 429. A
    permit is taken as free again ``fallback`` s later, so a host killed while holding one
    blocks nobody for longer than that. Times are the hosts' wall clocks (``clock``)."""

    def __init__(
        self, url: str, *, timeout: float = 10.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._clock = clock
        self._conn: _Connection | None = None
        self._ready: set[tuple[str, int]] = set()

    def _db(self) -> _Connection:
        if self._conn is None:
            self._conn = connect(self.url, self.timeout)
        return self._conn

    def take(self, key: str, size: int, fallback: float) -> tuple[int | None, float, bool]:
        """One of ``size`` permits of ``key``, or how long to wait (and whether paused)."""
        db = self._db()
        if (key, size) not in self._ready:
            db.raw(
                "INSERT INTO rate_slots (key, slot, free_at) "
                "SELECT %s, g, 0 FROM generate_series(0, %s) AS g ON CONFLICT DO NOTHING",
                (key, size - 1),
            )
            self._ready.add((key, size))
        now = self._clock()
        paused = db.raw("SELECT until FROM rate_pauses WHERE key = %s", (key,)).fetchone()
        if paused is not None and float(paused[0]) > now:
            return None, float(paused[0]) - now, True
        args = {"key": key, "size": size, "now": now, "until": now + fallback}
        got = db.raw(
            "UPDATE rate_slots SET free_at = %(until)s WHERE key = %(key)s AND free_at <= %(now)s "
            "AND slot = (SELECT slot FROM rate_slots WHERE key = %(key)s AND slot < %(size)s "
            "AND free_at <= %(now)s ORDER BY free_at, slot LIMIT 1 FOR UPDATE SKIP LOCKED) "
            "RETURNING slot",
            args,
        ).fetchone()
        if got is not None:
            return int(got[0]), 0.0, False
        soonest = db.raw(
            "SELECT min(free_at) FROM rate_slots WHERE key = %(key)s AND slot < %(size)s", args
        ).fetchone()
        wait = float(soonest[0]) - now if soonest and soonest[0] is not None else 0.0
        return None, max(wait, 0.001), False

    def sent(self, key: str, permit: int, fallback: float) -> None:
        """The request left now (it may have waited for a connection since it took the permit):
        the permit is not free before ``fallback`` s from now."""
        self._db().raw(
            "UPDATE rate_slots SET free_at = GREATEST(free_at, %s) WHERE key = %s AND slot = %s",
            (self._clock() + fallback, key, permit),
        )

    def give_back(self, key: str, permit: int, hold: float) -> None:
        """Free the permit ``hold`` s from now, unless it was due back earlier anyway."""
        self._db().raw(
            "UPDATE rate_slots SET free_at = LEAST(free_at, %s) WHERE key = %s AND slot = %s",
            (self._clock() + hold, key, permit),
        )

    def pause(self, key: str, seconds: float) -> None:
        """Hold ``key`` on every host for ``seconds`` (the longest pause wins)."""
        self._db().raw(
            "INSERT INTO rate_pauses (key, until) VALUES (%s, %s) ON CONFLICT (key) "
            "DO UPDATE SET until = GREATEST(rate_pauses.until, EXCLUDED.until)",
            (key, self._clock() + seconds),
        )

    def close(self) -> None:
        """Close its connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
