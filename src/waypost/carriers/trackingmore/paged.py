"""A watch pass's pages of account updates (``updated_date_min`` / ``update_time_min``), read
once per pass and kept on disk, so that memory stays flat in pages (issue 20: ``watch --once``
over 100,000 watched shipments under 200 MB).

A pass refreshes its watch list in chunks (``watch.PASS_CHUNK``), all in one HTTP session.
The account's pages are read once, by the first chunk that needs them (``PassPages`` per
session); each page goes to a temporary file as it comes (``Spool``: the items' JSON and, in
memory, only where each number's items are), and every chunk picks its own numbers from there.
"""

from __future__ import annotations

import json
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from waypost.errors import CarrierError


class Spool:
    """Tracking items by number, written to a temporary file page by page."""

    def __init__(self) -> None:
        import tempfile

        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the pass)
        self._index: dict[str, list[tuple[int, int]]] = {}
        self._end = 0
        self.items = 0

    def add(self, items: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Keep one page's ``(number, item)`` pairs."""
        parts: list[bytes] = []
        for number, item in items:
            raw = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()
            self._index.setdefault(number, []).append((self._end, len(raw)))
            self._end += len(raw)
            parts.append(raw)
        if parts:
            self._file.seek(0, 2)
            self._file.write(b"".join(parts))
            self.items += len(parts)

    def get(self, number: str) -> list[dict[str, Any]]:
        """The items kept for ``number``, in the order they came."""
        out = []
        for offset, size in self._index.get(number, ()):
            self._file.seek(offset)
            out.append(json.loads(self._file.read(size)))
        return out

    def close(self) -> None:
        """Drop the file."""
        self._file.close()


class PassPages:
    """The pages one pass read since ``since``: kept items, whether paging reached the end
    (``complete``), the error that ended it, and when it started (the next cursor)."""

    def __init__(self, since: float | None, spool: Spool | None = None) -> None:
        self.since = since
        self.started = time.time()
        self.spool = spool or Spool()
        self.complete = True
        self.error: CarrierError | None = None

    def get(self, number: str) -> list[dict[str, Any]]:
        """The items of ``number`` on any page."""
        return self.spool.get(number)


_PASSES: weakref.WeakKeyDictionary[Any, dict[str, PassPages]] = weakref.WeakKeyDictionary()


def of_session(
    session: Any, name: str, since: float | None, spool: Callable[[], Spool] | None = None
) -> tuple[PassPages, bool]:
    """The pages of ``session`` (one pass) for adapter ``name`` and ``since``, and whether they
    still have to be read (made now). The file goes with the session."""
    kept = _PASSES.get(session)
    if kept is None:
        kept = _PASSES[session] = {}
        weakref.finalize(session, _close_all, kept)
    found = kept.get(name)
    if found is not None and found.since == since:
        return found, False
    if found is not None:
        found.spool.close()
    found = kept[name] = PassPages(since, (spool or Spool)())
    return found, True


async def read_once(
    session: object, name: str, since: float | None, read: Callable[[PassPages], Awaitable[None]]
) -> PassPages:
    """The session's pages of ``name`` since ``since``: read (``read``) by its first chunk only,
    a carrier error kept for every later chunk to raise."""
    pages, unread = of_session(session, name, since)
    if unread:
        try:
            await read(pages)
        except CarrierError as err:
            pages.error = err
    return pages


def _close_all(kept: dict[str, PassPages]) -> None:
    for pages in kept.values():
        pages.spool.close()
