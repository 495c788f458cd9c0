"""The watch list's plain row types, apart from the protocols (``waypost.store.protocols``
re-exports them): ``list`` reads ``ListRow``s without building the ``Protocol`` classes or the
``Watched`` dataclass, which cost more at import than the rest of its store together."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from waypost.carriers.base import Query

__all__ = ["BRIEF", "CLAIM_LEASE", "ListRow", "query_text"]

# Seconds a claim outlives a host that was killed mid-pass (a pass renews nothing: keep it long).
CLAIM_LEASE = 900.0


def query_text(query: Query) -> str:
    """The prefixed form of a saved query (``carrier:number`` or ``carrier:courier:number``)."""
    parts = [query.carrier or "", query.courier or "", query.number]
    return ":".join(p for p in parts if p)


if TYPE_CHECKING:

    class ListRow(NamedTuple):
        """What ``list`` shows of one row (``WatchStore.listed``): no saved query, no snapshot;
        ``final`` is as stored (non-zero: final), ``first_event_time`` the earliest stored event
        time (ISO text, as stored). The fields the piped list shows come first (``BRIEF``)."""

        id: int
        number: str
        carrier: str
        label: str | None
        last_checked: float | None
        status: str
        last_event: str | None
        journey: str | None
        first_event_time: str | None
        courier: str | None
        added: float
        final: int
        order_id: str | None
        status_text: str | None
        last_event_time: str | None
        archived: float | None
        eta: str | None
        eta_source: str | None
        origin: str | None
        destination: str | None

else:
    # The same class made by ``collections.namedtuple`` (its fields as above, a test compares):
    # ``typing.NamedTuple`` compiles each of the twenty string annotations, which cost more
    # start-up than the rest of ``list``'s store together.
    from collections import namedtuple

    ListRow = namedtuple(
        "ListRow",
        "id number carrier label last_checked status last_event journey first_event_time"
        " courier added final order_id status_text last_event_time archived eta eta_source"
        " origin destination",
    )
    ListRow.__doc__ = (
        "What ``list`` shows of one row (``WatchStore.listed``): no saved query, no snapshot; "
        "``final`` is as stored (non-zero: final), ``first_event_time`` the earliest stored "
        "event time (ISO text, as stored). The fields the piped list shows come first "
        "(``BRIEF``)."
    )


# How many of ``ListRow``'s fields, from the first, the piped list reads (``listed(brief=True)``
# reads only these; the others are None).
BRIEF = 9
