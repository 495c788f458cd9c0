"""Store backends for the contract suite, and the reliability suite's fast TrackingMore limits
(the fault cases run the CLI against the sandbox).

A backend is a ``Backend``: it opens stores on one shared database and simulates what the
contract needs from outside (another writer, another pass, a read-only database). ``BACKENDS``
lists the file-based ones; PostgreSQL runs on the session's server (``pg_store_url``: skipped, with
the reason, where there is none).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import pytest

from tests.reliability.conftest import fast_trackingmore
from waypost.store.protocols import Watched, WatchStore

__all__ = ["BACKENDS", "Backend", "backend", "fast_trackingmore"]


class Backend(Protocol):
    """How the contract suite reaches one backend."""

    name: str

    def open(self, *, timeout: float = 5.0) -> WatchStore:
        """A store on the suite's database (a second call: a second connection to it)."""

    def read_only(self) -> WatchStore:
        """A store on the same database that may read but not write."""

    def other_writer(self) -> contextlib.AbstractContextManager[None]:
        """Another program holds the write lock while inside."""

    def other_pass(self, rows: Sequence[Watched]) -> contextlib.AbstractContextManager[None]:
        """Another host's ``watch`` pass holds ``rows`` (and its pass lock) while inside."""


class SQLiteBackend:
    """The embedded backend: one file in a temporary data directory."""

    name = "sqlite"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def open(self, *, timeout: float = 5.0) -> WatchStore:
        """A store on the file."""
        from waypost.store import open_store

        return open_store(data_dir=self.data_dir, timeout=timeout)

    def read_only(self) -> WatchStore:
        """The file through a connection SQLite refuses writes on (root ignores file modes)."""
        from waypost.store.sqlite import Store

        store = Store.open(self.data_dir, timeout=0)
        store.db.execute("PRAGMA query_only=ON")
        store.read_only = True
        return store

    @contextlib.contextmanager
    def other_writer(self) -> Iterator[None]:
        """A plain sqlite3 connection in a write transaction."""
        db = sqlite3.connect(self.data_dir / "waypost.db", isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            db.execute("ROLLBACK")
            db.close()

    @contextlib.contextmanager
    def other_pass(self, rows: Sequence[Watched]) -> Iterator[None]:
        """The lock file, locked through a descriptor of its own (as another process would)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / "watch.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            os.close(fd)


class PostgresBackend:
    """PostgreSQL: a database of its own on the session's throwaway cluster (``tests/pg.py``)."""

    name = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url

    def open(self, *, timeout: float = 5.0) -> WatchStore:
        """A store on the database (each call: a connection of its own)."""
        from waypost.store.postgres import PgStore

        return PgStore(self.url, timeout=timeout)

    def read_only(self) -> WatchStore:
        """A session whose transactions the server keeps read-only (a user without the right
        to write gets the same refusal)."""
        from waypost.store.postgres import PgStore

        store = PgStore(self.url)
        store.pg.raw("SET default_transaction_read_only = on")
        store.read_only = True
        return store

    @contextlib.contextmanager
    def other_writer(self) -> Iterator[None]:
        """Another session holds every table in EXCLUSIVE mode (reads go on, writes wait)."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("BEGIN")
            conn.execute("LOCK TABLE watched, events, cache, state, meta IN EXCLUSIVE MODE")
            try:
                yield
            finally:
                conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def other_pass(self, rows: Sequence[Watched]) -> Iterator[None]:
        """Another host's pass, with claims on ``rows``, while inside."""
        from waypost.store.postgres import PgStore

        other = PgStore(self.url)
        other._joined = set()  # another host: its own memory of the passes it joined
        other.pass_window = 0  # a later pass, not the one just done
        try:
            with other.pass_lock(0.0), other.claim(rows):
                yield
        finally:
            other.close()


BACKENDS: dict[str, Callable[[Path], Backend]] = {"sqlite": SQLiteBackend}


@pytest.fixture(params=[*sorted(BACKENDS), "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each backend in turn, on a database of its own (PostgreSQL skips where there is none)."""
    if request.param == "postgres":
        return PostgresBackend(request.getfixturevalue("pg_store_url"))
    return BACKENDS[request.param](tmp_path / "data")
