"""Journeys in the store (SPEC.md, "PandaPon orders and journeys"; migration "journeys": the
table ``journeys`` and the columns ``watched.journey``, ``watched.leg``, legs numbered from 1).

``Legs`` gives ``sqlite.Store`` the journey methods of ``WatchStore``; ``postgres.PgStore``
inherits them, its connection translating the queries, and locks the rows a change reads first
(``_lock_rows``), so hosts linking at the same time never give a leg to two journeys. Every
change is one transaction and re-reads what it depends on inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from waypost.store.protocols import Watched

# A stored answer (Shipment JSON) that names the next leg.
NAMES_NEXT_LEG = '%"last_mile":{%'


class Legs:
    """The journey methods of a store whose ``db`` speaks SQLite's dialect."""

    if TYPE_CHECKING:
        db: Any

        def transaction(self) -> AbstractContextManager[Any]: ...

    def _lock_rows(self, ids: Sequence[int]) -> None:
        """Hold these rows until the transaction ends (SQLite: its write lock already does)."""

    def journey_of(self, row_id: int) -> str | None:
        """The journey a row is a leg of, or None."""
        found = self.db.execute("SELECT journey FROM watched WHERE id = ?", (row_id,)).fetchone()
        return None if found is None or found[0] is None else str(found[0])

    def journey_marks(self) -> dict[int, tuple[str, int, int]]:
        """Row id -> (journey id, leg number, legs in it), for every row that is a leg."""
        rows = list(
            self.db.execute(
                "SELECT id, journey, leg FROM watched WHERE journey IS NOT NULL"
                " ORDER BY journey, leg, id"
            )
        )
        sizes: dict[str, int] = {}
        for _, journey, _ in rows:
            sizes[str(journey)] = sizes.get(str(journey), 0) + 1
        return {int(i): (str(j), int(leg), sizes[str(j)]) for i, j, leg in rows}

    def journey_legs(self, journey_id: str) -> list[Watched]:
        """The rows of a journey, in leg order ([] when there is none by that id)."""
        from waypost.store.sqlite import _WATCHED_COLUMNS, _row

        sql = f"SELECT {_WATCHED_COLUMNS} FROM watched WHERE journey = ? ORDER BY leg, id"  # noqa: S608
        return [_row(r) for r in self.db.execute(sql, (journey_id,))]

    def link_legs(self, journey_id: str, row_ids: Sequence[int], now: float) -> None:
        """Make the rows the legs 1..n of a new journey ``journey_id``, in this order; a row that
        was a leg elsewhere leaves that journey (renumbered; dissolved when one leg is left)."""
        ids = list(dict.fromkeys(row_ids))
        with self.transaction():
            self._lock_rows(ids)
            old = {j for j in (self.journey_of(i) for i in ids) if j is not None}
            self.db.execute(
                "INSERT INTO journeys (id, created) VALUES (?, ?)", (journey_id, float(now))
            )
            self.db.executemany(
                "UPDATE watched SET journey = ?, leg = ? WHERE id = ?",
                [(journey_id, n, i) for n, i in enumerate(ids, 1)],
            )
            for gone in sorted(old):
                self._renumber(gone)

    def dissolve_journey(self, journey_id: str) -> list[Watched]:
        """Undo a journey; its legs as they were, in order ([] when there is none)."""
        with self.transaction():
            legs = self.journey_legs(journey_id)
            self._lock_rows([r.id for r in legs])
            self._dissolve(journey_id)
        return legs

    def replace_leg(self, old_id: int, new_id: int) -> bool:
        """Row ``new_id`` takes row ``old_id``'s place in its journey (a shipped order's parcel
        for its stand-in); False when ``old_id`` is no leg or ``new_id`` is one already."""
        with self.transaction():
            self._lock_rows([old_id, new_id])
            journey_id = self.journey_of(old_id)
            if journey_id is None or self.journey_of(new_id) is not None:
                return False
            self.db.execute(
                "UPDATE watched SET journey = ?, leg = (SELECT leg FROM watched WHERE id = ?)"
                " WHERE id = ?",
                (journey_id, old_id, new_id),
            )
            self.db.execute("UPDATE watched SET journey = NULL, leg = NULL WHERE id = ?", (old_id,))
        return True

    def insert_leg(self, row_id: int, after_id: int, journey_id: str, now: float) -> bool:
        """Make row ``after_id`` the leg right after row ``row_id`` (a new journey
        ``journey_id`` of the two when ``row_id`` is in none); False when ``after_id`` is
        already a leg of a journey (never taken from it) or is ``row_id`` itself."""
        if row_id == after_id:
            return False
        with self.transaction():
            self._lock_rows([row_id, after_id])
            if self.journey_of(after_id) is not None:
                return False
            mine = self.journey_of(row_id)
            if mine is None:
                self.link_legs(journey_id, [row_id, after_id], now)
                return True
            leg = self.db.execute("SELECT leg FROM watched WHERE id = ?", (row_id,)).fetchone()[0]
            self.db.execute(
                "UPDATE watched SET leg = leg + 1 WHERE journey = ? AND leg > ?", (mine, leg)
            )
            self.db.execute(
                "UPDATE watched SET journey = ?, leg = ? WHERE id = ?", (mine, leg + 1, after_id)
            )
        return True

    def unlinked_next_legs(self, ids: Sequence[int] | None = None) -> list[tuple[Watched, str]]:
        """Rows not delivered and in no journey whose stored answer names a next leg
        (``last_mile``), each with that answer (Shipment JSON); only rows ``ids`` when given."""
        from waypost.store.sqlite import _WATCHED_COLUMNS, _row

        sql = (
            f"SELECT {_WATCHED_COLUMNS}, snapshot FROM watched"  # noqa: S608 (constant columns)
            " WHERE journey IS NULL AND final = 0 AND snapshot LIKE ?"
        )
        if ids is None:
            found = list(self.db.execute(sql + " ORDER BY added, id", (NAMES_NEXT_LEG,)))
        else:
            found = []
            wanted = list(dict.fromkeys(ids))
            for at in range(0, len(wanted), 500):
                part = wanted[at : at + 500]
                marks = ", ".join("?" * len(part))
                found += self.db.execute(f"{sql} AND id IN ({marks})", (NAMES_NEXT_LEG, *part))
            found.sort(key=lambda r: (r[5], r[0]))  # added, id
        return [(_row(r), str(r[-1])) for r in found]

    def _dissolve(self, journey_id: str) -> None:
        self.db.execute(
            "UPDATE watched SET journey = NULL, leg = NULL WHERE journey = ?", (journey_id,)
        )
        self.db.execute("DELETE FROM journeys WHERE id = ?", (journey_id,))

    def _renumber(self, journey_id: str) -> None:
        """Legs 1..n in their order; a journey left with one leg or none is dissolved."""
        ids = [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM watched WHERE journey = ? ORDER BY leg, id", (journey_id,)
            )
        ]
        if len(ids) < 2:
            self._dissolve(journey_id)
            return
        self.db.executemany(
            "UPDATE watched SET leg = ? WHERE id = ?", [(n, i) for n, i in enumerate(ids, 1)]
        )
