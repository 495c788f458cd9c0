"""How a ``watch`` pass owns the shipments it refreshes (see ``protocols`` for the contract).

The SQLite backend's claim mechanism is one lock file beside the database: a pass holds it from
before the store opens until its last commit, so passes on one host never overlap and every row
it reads is its own. Holding it again in the same process (the CLI takes it, then the pass asks
the store) only counts up, it never waits for itself.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from waypost.errors import StoreError, StoreLocked
from waypost.store.protocols import Watched

LOCK_NAME = "watch.lock"

# Lock files this process holds, with how many holders each.
_held: dict[Path, int] = {}


@contextlib.contextmanager
def exclusive(data_dir: Path, wait: float) -> Iterator[None]:
    """Hold the watch lock, waiting up to ``wait`` seconds; StoreLocked if it stays taken."""
    from waypost.paths import flock_within

    path = data_dir / LOCK_NAME
    key = path.absolute()
    if _held.get(key):
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    fd = _open_lock(path)
    try:
        if not flock_within(fd, wait, poll=0.1):
            raise StoreLocked(
                f"another `waypost watch` is running (lock {data_dir / LOCK_NAME}); "
                "skipping this pass"
            )
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
    finally:
        os.close(fd)


def _open_lock(path: Path) -> int:
    """The watch lock file, opened; a directory or a file in the way is a StoreError (exit 5)."""
    from waypost.store.sqlite import fault

    if path.parent.exists() and not path.parent.is_dir():
        raise StoreError(
            f"cannot use the data directory {path.parent}: it is a file, not a directory",
            hint="move the file away or set WAYPOST_DATA_DIR to a directory",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except IsADirectoryError:
        raise StoreError(
            f"cannot use the watch lock {path}: it is a directory, not a file",
            hint=f"remove it (rmdir {path}); waypost creates the lock file itself",
        ) from None
    except OSError as exc:
        raise fault(exc, path, what="the watch lock") from None


def held(data_dir: Path) -> bool:
    """True when this process holds the watch lock of ``data_dir``."""
    return bool(_held.get((data_dir / LOCK_NAME).absolute()))


@contextlib.contextmanager
def whole_list(data_dir: Path, rows: Sequence[Watched]) -> Iterator[list[Watched]]:
    """The SQLite claim: under the pass lock every row is this pass's; without it, none is
    taken for granted, so the lock is taken here (at once, or StoreLocked)."""
    if held(data_dir):
        yield list(rows)
        return
    with exclusive(data_dir, 0.0):
        yield list(rows)
