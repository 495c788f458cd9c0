"""A watch pass's pages of account updates (``updated_date_min`` / ``update_time_min``), read
once per pass and kept on disk, so that memory stays flat in pages (issue 20: ``watch --once``
over 100,000 watched shipments under 200 MB).

A pass refreshes its watch list in chunks (``watch.PASS_CHUNK``), all in one HTTP session.
The account's pages are read once, by the first chunk that needs them (``PassPages`` per
session); each page goes to a temporary file as it comes (``Spool``: the items' JSON and, in
memory, only where each number's items are), and every chunk picks its own numbers from there.

A pass stops at its page cap (v2: 20 pages of 2,000; v4: 400 of 100). It then keeps where it
stopped (``Resume``, beside the cursor, once its news is delivered): the next pass asks the same
``since`` from the last page read on (one page read again: the API does not say how it orders
the pages, and the account's own order, by creation, moves a page's items up by one for each
tracking deleted meanwhile), and so on until a pass reaches the end; the cursor then moves to
when the first pass of that run of passes started, so that an update on a page read early in
it is read again, not lost. Numbers on no page of a pass that did not read every page from
the first are "unchanged" when the account holds them (their news was read by an earlier pass
of the run, or will be by a later one).
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
    """The pages one pass read since ``since`` from page ``first`` on: kept items, whether
    paging reached the end (``complete``; else ``next_page`` is where the next pass starts), the
    error that ended it, and when it started (the next cursor)."""

    def __init__(self, since: float | None, spool: Spool | None = None, first: int = 1) -> None:
        self.since = since
        self.first = first
        self.started = time.time()
        self.spool = spool or Spool()
        self.complete = True
        self.next_page = first
        self.error: CarrierError | None = None

    def capped(self, last: int) -> None:
        """Paging stopped at the cap after page ``last``: the next pass reads it again first."""
        self.complete = False
        self.next_page = last

    @property
    def partial(self) -> bool:
        """True when this pass did not read every page from the first."""
        return self.first > 1 or not self.complete

    def get(self, number: str) -> list[dict[str, Any]]:
        """The items of ``number`` on any page."""
        return self.spool.get(number)


RESUME = "resume"  # the state key (beside "cursor") of a pass that stopped at the cap


class Resume:
    """Where the last pass stopped at the page cap, kept in the watch state: the cursor it
    paged from, the page to start at, and when the first pass of this run of passes started."""

    def __init__(self, cursor: float | None, page: int, started: float) -> None:
        self.cursor, self.page, self.started = cursor, page, started

    @classmethod
    def load(cls, state: Any, namespace: str, cursor: float | None) -> Resume | None:
        """The kept resume point when it belongs to ``cursor``, else None."""
        import math

        raw = state.get(namespace, RESUME) if state is not None else None
        if not isinstance(raw, dict):
            return None
        page, started, kept = raw.get("page"), raw.get("started"), raw.get("cursor")
        if isinstance(page, bool) or not isinstance(page, int) or page < 2:
            return None
        if isinstance(started, bool) or not isinstance(started, int | float):
            return None
        if not math.isfinite(started) or kept != cursor:
            return None
        return cls(cursor, page, float(started))

    @staticmethod
    def after(
        state: Any,
        namespace: str,
        cursor: float | None,
        pages: PassPages,
        resumed: Resume | None,
    ) -> Callable[[], None]:
        """What to keep once the pass's news is delivered: a complete pass moves the cursor
        (to when the run of passes began) and forgets the resume point; a capped one keeps
        the cursor and where the next pass starts."""
        began = resumed.started if resumed is not None else pages.started
        if pages.complete:

            def move() -> None:
                state.put(namespace, "cursor", began)
                if resumed is not None:
                    state.put(namespace, RESUME, None)

            return move
        kept = {"cursor": cursor, "page": pages.next_page, "started": began}
        return lambda: state.put(namespace, RESUME, kept)


_PASSES: weakref.WeakKeyDictionary[Any, dict[str, PassPages]] = weakref.WeakKeyDictionary()


def of_session(
    session: Any,
    name: str,
    since: float | None,
    spool: Callable[[], Spool] | None = None,
    first: int = 1,
) -> tuple[PassPages, bool]:
    """The pages of ``session`` (one pass) for adapter ``name``, ``since`` and page ``first``
    on, and whether they still have to be read (made now). The file goes with the session."""
    kept = _PASSES.get(session)
    if kept is None:
        kept = _PASSES[session] = {}
        weakref.finalize(session, _close_all, kept)
    found = kept.get(name)
    if found is not None and (found.since, found.first) == (since, first):
        return found, False
    if found is not None:
        found.spool.close()
    found = kept[name] = PassPages(since, (spool or Spool)(), first)
    return found, True


async def read_once(
    session: object,
    name: str,
    since: float | None,
    read: Callable[[PassPages], Awaitable[None]],
    first: int = 1,
) -> PassPages:
    """The session's pages of ``name`` since ``since`` from page ``first`` on: read (``read``)
    by its first chunk only, a carrier error kept for every later chunk to raise."""
    pages, unread = of_session(session, name, since, first=first)
    if unread:
        try:
            await read(pages)
        except CarrierError as err:
            pages.error = err
    return pages


def _close_all(kept: dict[str, PassPages]) -> None:
    for pages in kept.values():
        pages.spool.close()
