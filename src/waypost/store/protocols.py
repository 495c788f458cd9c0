"""What a store backend provides: the watch list (``WatchStore``), adapters' durable state
(``StateStore``) and the disposable answer cache (``Cache``).

``watch``, ``service`` and the CLI use only these protocols; ``waypost.store.sqlite`` is the
embedded backend and a second one (PostgreSQL, SPEC.md "A watch list shared by several hosts")
implements the same methods and passes the same contract suite (``tests/store/test_contract.py``).
This module imports nothing heavy: no sqlite3, no pydantic.

Faults: every method raises ``waypost.errors.StoreError`` (or a subclass) and nothing else when
the backend cannot be used; a change is all or nothing (one transaction).

Claims: a ``watch`` pass first holds ``pass_lock(wait)`` (SQLite: the lock file beside the
database, so passes never overlap; a backend that claims per shipment may make it a no-op),
then refreshes only the rows ``claim(rows)`` yields, and keeps the claim until every one of them
is delivered and committed. A host that dies keeps its claims at most ``lease`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from waypost.store.rows import CLAIM_LEASE, ListRow, query_text

if TYPE_CHECKING:
    from waypost.carriers.base import Cache, Query
    from waypost.models import Event, Shipment

__all__ = ["CLAIM_LEASE", "Cache", "ListRow", "StateStore", "WatchStore", "Watched", "query_text"]


def __getattr__(name: str) -> Any:
    # ``Cache`` is the carriers' protocol: loaded on first use, so that ``list`` never loads
    # the carrier declarations.
    if name in ("Cache", "Query"):
        from waypost.carriers import base

        return getattr(base, name)
    raise AttributeError(f"module 'waypost.store.protocols' has no attribute {name!r}")


@dataclass(frozen=True)
class Watched:
    """One row of the watch list; ``ask`` is None when the row's saved query cannot be read."""

    id: int
    number: str
    carrier: str
    courier: str | None
    label: str | None
    added: float
    last_checked: float | None
    status: str
    final: bool
    ask: Query | None
    order_id: str | None
    status_text: str | None
    last_event: str | None
    last_event_time: str | None
    remote: bool
    archived: float | None = None
    stalled_reported: str | None = None
    eta: str | None = None
    eta_source: str | None = None
    origin: str | None = None
    destination: str | None = None

    @property
    def query(self) -> str:
        """The saved query as text (what to ask again), or the row's own number."""
        if self.ask is None:
            return f"{self.carrier}:{self.number}"
        return query_text(self.ask)

    @property
    def age_days(self) -> float:
        """Days since the number was added."""
        return (time.time() - self.added) / 86400


class StateStore(Protocol):
    """Adapters' durable state (a carrier's cursor, 429 pauses, its account mirror): never
    expires and is never dropped to save space, unlike ``Cache``; values are JSON-serialisable."""

    def get(self, namespace: str, key: str) -> Any | None:
        """The stored value, or None when absent."""

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Store ``value`` (None deletes nothing: it is stored as null)."""


class WatchStore(Protocol):
    """The watch list of one data directory or database: saved shipments, their event history,
    labels and what news was already delivered; use as a context manager."""

    read_only: bool

    @property
    def cache(self) -> Cache:
        """The disposable answer cache kept beside the watch list."""

    @property
    def state(self) -> StateStore:
        """Adapters' durable state kept beside the watch list."""

    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> WatchStore: ...

    def __exit__(self, *exc: object) -> None: ...

    def transaction(self) -> AbstractContextManager[Any]:
        """All or nothing for the calls inside (an inner one joins the outer)."""

    def no_wait(self) -> AbstractContextManager[None]:
        """Calls inside fail at once (StoreBusy) instead of waiting for another writer."""

    # -- reading the watch list -------------------------------------------------------------

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

    def count(
        self,
        *,
        include_final: bool = True,
        status: str | None = None,
        carrier: str | None = None,
        archived: bool | None = False,
    ) -> int:
        """How many rows ``watched`` with the same filters would return."""

    def chunks(self, *, include_final: bool = False, size: int = 1000) -> Iterator[list[Watched]]:
        """The same rows as ``watched(include_final=...)``, ``size`` at a time, oldest first."""

    def find(self, number: str, carrier: str | None = None) -> list[Watched]:
        """Rows whose number or order id is ``number``."""

    def numbers(self) -> list[str]:
        """Every watched number, sorted (shell completion)."""

    def events(self, row_id: int) -> list[tuple[str | None, str | None, str | None]]:
        """(time, location, description) of a row's stored events, newest first."""

    def first_event_times(self) -> dict[int, list[str]]:
        """The stored event times (ISO text) of every row that has any."""

    def listed(
        self,
        *,
        include_final: bool = True,
        status: str | None = None,
        archived: bool | None = False,
        ids: Sequence[int] | None = None,
        brief: bool = False,
    ) -> Iterator[ListRow]:
        """What ``list`` shows, row by row as the database yields them (oldest first; the
        filters as ``watched``; ``ids``: only those rows, archived or not; ``brief``: only the
        fields the piped list shows, the others None)."""

    # -- changing it ------------------------------------------------------------------------

    def add(
        self,
        shipments: Iterable[Shipment],
        query: Query,
        label: str | None,
        now: float | None = None,
    ) -> int:
        """Watch ``shipments`` (answers to ``query``), their events stored as already seen; a
        watched one again gets the new label (when given) and state. Returns how many are new."""

    def adopt(self, row: Watched, shipment: Shipment, now: float | None = None) -> Watched:
        """Watch a parcel that appeared in ``row``'s order (same query and label)."""

    def remove(self, rows: Iterable[Watched]) -> int:
        """Forget rows and their events; returns how many were removed."""

    def mark_remote(self, ids: Iterable[int]) -> None:
        """Remember that these rows were added to the carrier's account."""

    # -- the watch list manages itself (issue 19) -------------------------------------------

    def set_archived(self, ids: Iterable[int], when: float | None) -> None:
        """Archive rows at ``when`` (a Unix time), or bring them back (None)."""

    def set_stalled_reported(self, row_id: int, last_event_time: str | None) -> None:
        """Remember that the row was reported stalled at this newest event (None: forget)."""

    def relabel(self, row_id: int, label: str | None) -> None:
        """Give a row another label (None: none)."""

    def recourier(self, row_id: int, courier: str) -> None:
        """Move a row to another courier: its events, ETA and stalled mark go (asked again)."""

    def snapshot(self, row_id: int) -> str | None:
        """The last stored answer of a row (Shipment JSON), if any."""

    def deliveries(self) -> list[tuple[Any, ...]]:
        """Every delivered row with events: (id, carrier, courier, origin, destination, first
        event time, delivery time, archived), times as stored ISO text."""

    # -- journeys (SPEC.md "PandaPon orders and journeys"; ``waypost.store.legs``) -----------

    def journey_of(self, row_id: int) -> str | None:
        """The journey a row is a leg of, or None."""

    def journey_marks(self) -> dict[int, tuple[str, int, int]]:
        """Row id -> (journey id, leg number, legs in it), for every row that is a leg."""

    def journey_legs(self, journey_id: str) -> list[Watched]:
        """The rows of a journey, in leg order ([] when there is none by that id)."""

    def link_legs(self, journey_id: str, row_ids: Sequence[int], now: float) -> None:
        """Make the rows the legs of a new journey, in this order (they leave their old ones)."""

    def dissolve_journey(self, journey_id: str) -> list[Watched]:
        """Undo a journey; its legs as they were, in order."""

    def replace_leg(self, old_id: int, new_id: int) -> bool:
        """Row ``new_id`` takes row ``old_id``'s place in its journey (False: nothing to do)."""

    def insert_leg(self, row_id: int, after_id: int, journey_id: str, now: float) -> bool:
        """Make ``after_id`` the leg right after ``row_id`` (a new journey ``journey_id`` when
        ``row_id`` is in none); False when ``after_id`` is a leg already."""

    def unlinked_next_legs(self, ids: Sequence[int] | None = None) -> list[tuple[Watched, str]]:
        """Rows in no journey, not final, whose stored answer names a next leg, with it (only
        rows ``ids`` when given)."""

    # -- news bookkeeping -------------------------------------------------------------------

    def new_events(self, row: Watched, shipment: Shipment) -> list[Event]:
        """The events of ``shipment`` not yet stored for ``row``, newest first, de-duplicated."""

    def refresh(self, row: Watched, shipment: Shipment, now: float | None = None) -> None:
        """Commit one shipment's answer and events (its news is then delivered); an unanswered
        one (status ``unknown`` or an error) changes nothing."""

    def touch(self, ids: Iterable[int], now: float | None = None) -> None:
        """Record a successful check that brought nothing new."""

    # -- claims -----------------------------------------------------------------------------

    def pass_lock(self, wait: float) -> AbstractContextManager[None]:
        """Be the pass that may claim rows, waiting up to ``wait`` s (StoreLocked otherwise)."""

    def claim(
        self, rows: Sequence[Watched], *, lease: float = CLAIM_LEASE
    ) -> AbstractContextManager[list[Watched]]:
        """The rows of ``rows`` this pass now owns (others' live claims are left out), held
        until the context ends or ``lease`` seconds pass."""
