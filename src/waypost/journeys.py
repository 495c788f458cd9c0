"""Journeys: watched shipments linked as the ordered legs of one way (SPEC.md, "PandaPon orders
and journeys").

A 1688 buyer's parcel goes seller's courier -> forwarder (ILS) -> last-mile courier; each leg is
its own watch-list row, and a journey ties them together (store migration "journeys": the table
``journeys`` and the columns ``watched.journey``, ``watched.leg``, legs numbered from 1). Linking
is manual (``waypost link``) or automatic where a carrier names the next leg: TrackingMore's
last-mile number (``last_mile``), and a PandaPon parcel's domestic waybill, which TrackingMore
tracks under the courier's code (``COURIERS``). The current leg is the last one that has
news; its status is the journey's. The rows live in the store (``WatchStore``'s journey methods,
``waypost.store.legs``), so journeys work on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from waypost.errors import UsageError

if TYPE_CHECKING:
    from waypost.models import Event, Shipment
    from waypost.store.protocols import Watched
    from waypost.store.protocols import WatchStore as Store

# PandaPon's courier names -> TrackingMore courier codes: the codes waypost's TrackingMore
# adapter already knows (china-ems, sf-express, yto, zto, sto, yunda, bestex, deppon, jd) and
# jtexpress, as public courier tables spell J&T China (tests/fixtures/pandapon/README.md).
# The first name found in the text wins.
COURIERS: tuple[tuple[str, str], ...] = (
    ("顺丰", "sf-express"),
    ("韵达", "yunda"),
    ("中通", "zto"),
    ("圆通", "yto"),
    ("申通", "sto"),
    ("极兔", "jtexpress"),
    ("百世", "bestex"),
    ("汇通", "bestex"),
    ("德邦", "deppon"),
    ("京东", "jd"),
    ("邮政EMS", "china-ems"),
    ("EMS", "china-ems"),
    ("中国邮政", "china-post"),
)


def backend(store: object) -> Store | None:
    """The store as journeys use it (any backend with the journey methods), or None."""
    return store if callable(getattr(store, "journey_marks", None)) else None  # type: ignore[return-value]


def courier_code(name: str | None) -> str | None:
    """The TrackingMore code for a courier's Chinese name (``中通快递`` -> ``zto``), else None."""
    if not name:
        return None
    upper = name.upper()
    return next((code for word, code in COURIERS if word.upper() in upper), None)


def next_leg(shipment: Shipment) -> tuple[str | None, str] | None:
    """The (TrackingMore courier code, number) of the leg a carrier names after this one."""
    if shipment.last_mile is not None and shipment.last_mile.tracking_number:
        mile = shipment.last_mile
        number = mile.tracking_number.strip().upper()
        if number and number != shipment.tracking_number.upper():
            return (mile.courier.strip().lower() or None) if mile.courier else None, number
        return None
    if shipment.carrier != "pandapon" or not shipment.found:
        return None
    if shipment.order_id is None or shipment.tracking_number == shipment.order_id:
        return None  # not shipped yet: no waybill
    code = courier_code(shipment.courier)
    for event in reversed(shipment.events):  # the pickup scan names the courier
        code = code or courier_code(event.description)
    return (code, shipment.tracking_number.upper()) if code else None


def query_of(courier: str | None, number: str) -> str:
    """The watch-list query that asks TrackingMore for a leg."""
    return f"trackingmore:{courier}:{number}" if courier else f"trackingmore:{number}"


@dataclass
class Leg:
    """One leg of a journey: its row and the shipment to show (fresh, else the stored one)."""

    row: Watched
    shipment: Shipment | None = None


@dataclass
class Journey:
    """The legs of one journey, in order."""

    id: str
    legs: list[Leg] = field(default_factory=list)

    @property
    def label(self) -> str | None:
        """The first label a leg has."""
        return next((leg.row.label for leg in self.legs if leg.row.label), None)

    @property
    def current(self) -> int:
        """The index of the current leg: the last one with events (or past pending), else 0."""
        for index in range(len(self.legs) - 1, -1, -1):
            leg = self.legs[index]
            s = leg.shipment
            if (s is not None and s.events) or leg.row.last_event_time:
                return index
            if leg.row.status not in ("pending", "unknown", "not_found", "info_received"):
                return index
        return 0

    def timeline(self) -> list[tuple[int, Event]]:
        """Every leg's events, each with its leg number (from 1), newest first."""
        from waypost.carriers._parse import epoch

        marked = [
            (number, event)
            for number, leg in enumerate(self.legs, 1)
            if leg.shipment is not None
            for event in leg.shipment.events
        ]
        known = [(epoch(e.time), n, e) for n, e in marked if e.time is not None]
        known.sort(key=lambda m: (m[0], m[1]), reverse=True)
        return [(n, e) for _, n, e in known] + [(n, e) for n, e in marked if e.time is None]

    def mark(self, leg: int) -> dict[str, Any]:
        """The ``journey`` field of leg number ``leg``."""
        return {"id": self.id, "leg": leg, "legs": len(self.legs)}


# -- the store ----------------------------------------------------------------------------------


def _new_id() -> str:
    return "j" + secrets.token_hex(4)


def of(store: Store, row: Watched) -> str | None:
    """The journey id of a watched row, or None."""
    return store.journey_of(row.id)


def index(store: Store) -> dict[int, dict[str, Any]]:
    """Row id -> its ``journey`` field, for every row that is a leg."""
    return {i: {"id": j, "leg": leg, "legs": n} for i, (j, leg, n) in store.journey_marks().items()}


def load(store: Store, journey_id: str) -> Journey:
    """A journey with its legs in order, each showing its stored answer."""
    from waypost.models import Shipment

    legs = []
    for row in store.journey_legs(journey_id):
        raw = store.snapshot(row.id)
        shipment = None
        if raw:
            try:
                shipment = Shipment.model_validate_json(raw)
            except ValueError:
                shipment = None
        legs.append(Leg(row, shipment))
    return Journey(journey_id, legs)


def link(store: Store, rows: Sequence[Watched], now: float | None = None) -> str:
    """Make ``rows`` the legs of one new journey, in this order (legs leave their old ones)."""
    unique = list({r.id: r for r in rows}.values())
    if len(unique) < 2:
        raise UsageError("a journey needs at least two different shipments")
    journey_id = _new_id()
    store.link_legs(journey_id, [r.id for r in unique], time.time() if now is None else now)
    return journey_id


def unlink(store: Store, row: Watched) -> list[Watched]:
    """Dissolve the journey ``row`` is a leg of; its legs, in order ([] when none)."""
    journey_id = of(store, row)
    if journey_id is None:
        return []
    return store.dissolve_journey(journey_id)


def replace(store: Store, old: Watched, new: Watched) -> None:
    """``new`` takes ``old``'s place in its journey (a shipped order's parcel for its stand-in)."""
    store.replace_leg(old.id, new.id)


def append(store: Store, row: Watched, after: Watched, now: float | None = None) -> bool:
    """Link ``after`` as the leg right after ``row`` (a new journey when ``row`` has none);
    False when it is already there or a leg of another journey (never taken from it)."""
    return store.insert_leg(row.id, after.id, _new_id(), time.time() if now is None else now)


# -- automatic links ---------------------------------------------------------------------------


def follow(
    store: Store, answered: Iterable[tuple[Watched, Shipment]], *, watch_new: bool
) -> list[str]:
    """Link each answered shipment to the next leg its carrier names. With ``watch_new``
    (``[watch] follow_legs``) a next leg not watched yet is added (asked on the next pass);
    without, only one already watched is linked. The queries of the legs added."""
    from waypost.carriers.base import Query
    from waypost.models import Shipment, Status

    added: list[str] = []
    for row, shipment in answered:
        leg = next_leg(shipment)
        if leg is None:
            continue
        courier, number = leg
        query = query_of(courier, number)
        found = [r for r in store.find(number, "trackingmore") if r.number == number]
        if not found and watch_new:
            stand_in = Shipment(
                tracking_number=number,
                carrier="trackingmore",
                courier=courier,
                found=None,
                status=Status.UNKNOWN,
                error="not asked yet",
            )
            store.add([stand_in], Query(number, "trackingmore", courier), row.label)
            found = [r for r in store.find(number, "trackingmore") if r.number == number]
            added.append(query)
        if found:
            append(store, row, found[0])
    return added


def follow_stored(
    store: Store, *, watch_new: bool, rows: Sequence[Watched] | None = None
) -> list[str]:
    """``follow`` for the legs whose stored answer names a next leg but that are in no journey
    yet (a carrier that answers "unchanged" is not asked again, so its answer is the stored
    one); only ``rows`` when given (a chunk's: the list is not read again for each chunk)."""
    from waypost.models import Shipment

    pairs = []
    ids = None if rows is None else [r.id for r in rows]
    for row, raw in store.unlinked_next_legs(ids):
        try:
            pairs.append((row, Shipment.model_validate_json(raw)))
        except ValueError:
            continue
    return follow(store, pairs, watch_new=watch_new)


# -- what the commands show ---------------------------------------------------------------------


def annotate(store: Store, shipments: Sequence[Shipment]) -> dict[str, Journey]:
    """Set ``journey`` on every shipment that is a watched leg; the journeys, by id, with the
    answers of this run in place of the stored ones."""
    journeys: dict[str, Journey] = {}
    for s in shipments:
        found = store.find(s.tracking_number, s.carrier)
        rows = [r for r in found if r.number == s.tracking_number]
        journey_id = of(store, rows[0]) if rows else None
        if journey_id is None:
            continue
        journey = journeys.get(journey_id) or load(store, journey_id)
        journeys[journey_id] = journey
        for number, leg in enumerate(journey.legs, 1):
            if leg.row.id == rows[0].id:
                leg.shipment = s
                s.journey = _model(journey.mark(number))
    for journey in journeys.values():
        for number, leg in enumerate(journey.legs, 1):
            if leg.shipment is not None:
                mark = _model(journey.mark(number))
                leg.shipment = leg.shipment.model_copy(update={"journey": mark})
    return journeys


def _model(mark: Mapping[str, Any]) -> Any:
    from waypost.models import Journey as JourneyField

    return JourneyField(**mark)


# -- `waypost link` -----------------------------------------------------------------------------


def link_command(
    numbers: Sequence[str],
    undo: bool,
    store: Store,
    config: Any,
    *,
    timeout: float,
    say: Any,
) -> list[str]:
    """Link the watched shipments ``numbers`` name, in order (saving the ones not watched yet:
    asked as ``track --save`` would), or with ``undo`` dissolve their journeys; the lines to
    print."""
    from waypost import carriers, inputs, service
    from waypost.carriers.base import TrackOptions

    infos = {i.name: i for i in carriers.infos()}
    queries = inputs.parse_numbers(list(numbers), None, infos)
    legs_store = backend(store)
    if legs_store is None:
        raise UsageError("this watch list keeps no journeys")
    store = legs_store
    if undo:
        lines = []
        for q in queries:
            rows = store.find(q.number, q.carrier)
            if not rows:
                raise UsageError(f"not on the watch list: {q.raw or q.number}")
            gone = unlink(store, rows[0])
            if not gone:
                lines.append(f"{rows[0].number} is not a leg of any journey")
            else:
                lines.append("unlinked " + " -> ".join(r.number for r in gone))
        return lines
    if len(queries) < 2:
        raise UsageError("link needs at least two numbers, in the order the parcel travels")
    missing = [q for q in queries if not store.find(q.number, q.carrier)]
    if missing:
        report = service.run_blocking(
            missing, config, TrackOptions(save=True), timeout=timeout, cache=store
        )
        service.save(store, report, None)
        say(f"watching {len(missing)} more shipment(s) to link them")
    legs: list[Watched] = []
    for q in queries:
        rows = store.find(q.number, q.carrier)
        parcels = [r for r in rows if r.number == q.number] or rows
        if not parcels:
            raise UsageError(f"{q.raw or q.number}: could not be saved, so it cannot be linked")
        if len(parcels) > 1:
            shown = ", ".join(r.number for r in parcels)
            raise UsageError(
                f"{q.raw or q.number} is an order of {len(parcels)} parcels ({shown}): "
                "link one parcel"
            )
        legs.append(parcels[0])
    journey_id = link(store, legs)
    return [f"journey {journey_id}: " + " -> ".join(f"{r.number} ({r.carrier})" for r in legs)]


# -- `watch`: a journey's news once ---------------------------------------------------------------


def group_news(store: Store, news: Sequence[Any]) -> list[list[Any]]:
    """``watch``'s news, one group per journey (where its first leg with news stands) and one
    per other shipment; each leg's shipment gets its ``journey`` field."""
    marks = index(store) if news else {}
    groups: list[list[Any]] = []
    by_journey: dict[str, list[Any]] = {}
    for item in news:
        mark = marks.get(item.row.id)
        if mark is None:
            groups.append([item])
            continue
        item.shipment.journey = _model(mark)
        if mark["id"] in by_journey:
            by_journey[mark["id"]].append(item)
        else:
            by_journey[mark["id"]] = [item]
            groups.append(by_journey[mark["id"]])
    for group in groups:
        group.sort(key=lambda i: i.shipment.journey.leg if i.shipment.journey else 0)
    return groups


def moved(group: Sequence[Any]) -> int:
    """The index of the leg that moved last in a group (the one whose newest event is newest)."""
    from waypost.carriers._parse import epoch

    def newest(item: Any) -> float:
        times = [epoch(e.time) for e in item.events if e.time is not None]
        return max(times, default=float("-inf"))

    return max(range(len(group)), key=lambda i: (newest(group[i]), i))


def group_label(group: Sequence[Any]) -> str | None:
    """The label a group's news is sent under: the first leg's label that has one."""
    return next((item.row.label for item in group if item.row.label), None)


def news_line(group: Sequence[Any], moved_index: int) -> str:
    """``journey j1a2b3c4 LABEL: leg 2 of 3 moved (ils 3676E4043665)``."""
    from waypost import safe

    item = group[moved_index]
    mark = item.shipment.journey
    label = group_label(group)
    named = f" {safe.field(label)}" if label else ""
    return (
        f"journey {mark.id}{named}: leg {mark.leg} of {mark.legs} moved "
        f"({safe.field(item.row.carrier)} {safe.field(item.row.number)})"
    )
