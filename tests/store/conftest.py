"""Store backends for the contract suite, and the reliability suite's fast TrackingMore limits
(the fault cases run the CLI against the sandbox).

A backend is a ``Backend``: it opens stores on one shared database and simulates what the
contract needs from outside (another writer, another pass, a read-only database). ``BACKENDS``
lists them; a second backend adds itself there (skipped with a reason where it cannot run).
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


BACKENDS: dict[str, Callable[[Path], Backend]] = {"sqlite": SQLiteBackend}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each backend in turn, on a database of its own."""
    return BACKENDS[request.param](tmp_path / "data")
