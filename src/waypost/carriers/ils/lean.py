"""ILS answers read without pydantic (``shared/seeds/ils-tracking-api.txt``, quirks in
``api``): the one place of the rules, into plain records with the models' field names and
order. ``track``'s lean path prints them as the models would (``tests/carriers/ils/test_lean.py``
compares); ``api`` builds the models from them.

``parse_response`` reads only clean answers: anything ``api.parse_response`` would turn into an
error (an error envelope, a number left out) gives None, and the caller hands the answer to the
model path instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from waypost.carriers._parse import as_dict, as_list, merge_events, parse_time, text
from waypost.carriers.ils import NAME
from waypost.carriers.ils.rules import STATUS_RULES, fold_key
from waypost.status import Status

EVENT_FIELDS = ("time", "location", "description", "status", "images", "description_local")
# Shipment's fields in the model's order (models.Shipment); the lean path sets only the first
# ones, the rest keep the models' defaults.
SHIPMENT_FIELDS = (
    "tracking_number",
    "carrier",
    "courier",
    "found",
    "status",
    "status_text",
    "service",
    "origin",
    "destination",
    "last_update",
    "events",
    "error",
    "order_id",
    "eta",
    "eta_source",
    "transit_days",
    "stalled",
    "last_mile",
    "link",
    "archived",
    "journey",
)


class _Record:
    """Attribute access, iteration as (field, value) and ``model_copy(update=...)``, as the
    models offer them to ``render``."""

    __slots__: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return ((name, getattr(self, name)) for name in self.__slots__)

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Any:
        """A shallow copy with ``update`` applied."""
        copy = object.__new__(type(self))
        for name in self.__slots__:
            setattr(copy, name, getattr(self, name))
        for name, value in (update or {}).items():
            setattr(copy, name, value)
        return copy


class LeanEvent(_Record):
    """``models.Event``'s fields (one record may be shared by several shipments: never
    changed in place, ``model_copy`` makes a changed one)."""

    __slots__ = EVENT_FIELDS

    def __init__(
        self,
        time: datetime | None,
        location: str | None,
        description: str | None,
        status: Status,
        images: list[str],
        description_local: str | None,
    ) -> None:
        self.time = time
        self.location = location
        self.description = description
        self.status = status
        self.images = images
        self.description_local = description_local

    def data(self) -> dict[str, Any]:
        """The event as ``model_dump(mode="json")`` gives it."""
        return {
            "time": iso(self.time),
            "location": self.location,
            "description": self.description,
            "status": self.status.value,
            "images": self.images,
            "description_local": self.description_local,
        }


class LeanShipment(_Record):
    """``models.Shipment``'s fields, with its defaults."""

    __slots__ = SHIPMENT_FIELDS

    def __init__(self, tracking_number: str, **values: Any) -> None:
        self.tracking_number = tracking_number
        self.carrier = NAME
        self.courier: str | None = None
        self.found: bool | None = False
        self.status = Status.NOT_FOUND
        self.status_text: str | None = None
        self.service: str | None = None
        self.origin: str | None = None
        self.destination: str | None = None
        self.last_update: datetime | None = None
        self.events: list[LeanEvent] = []
        self.error: str | None = None
        self.order_id: str | None = None
        self.eta: Any = None
        self.eta_source: str | None = None
        self.transit_days: int | None = None
        self.stalled = False
        self.last_mile: Any = None
        self.link: str | None = None
        self.archived = False
        self.journey: Any = None
        for name, value in values.items():
            setattr(self, name, value)

    def data(self) -> dict[str, Any]:
        """The shipment as ``model_dump(mode="json")`` gives it (the lean path sets no ETA, last
        mile nor journey: it leaves such shipments to the model path)."""
        return {
            "tracking_number": self.tracking_number,
            "carrier": self.carrier,
            "courier": self.courier,
            "found": self.found,
            "status": self.status.value,
            "status_text": self.status_text,
            "service": self.service,
            "origin": self.origin,
            "destination": self.destination,
            "last_update": iso(self.last_update),
            "events": [e.data() for e in self.events],
            "error": self.error,
            "order_id": self.order_id,
            "eta": None,
            "eta_source": self.eta_source,
            "transit_days": self.transit_days,
            "stalled": self.stalled,
            "last_mile": None,
            "link": self.link,
            "archived": self.archived,
            "journey": None,
        }


def iso(when: datetime | None) -> str | None:
    """A datetime as pydantic writes it: ISO 8601, ``Z`` for UTC, offsets in whole minutes."""
    if when is None:
        return None
    if when.tzinfo is not None:
        stamp = when.isoformat()
        if stamp[-6] in "+-":  # an offset of whole minutes, as almost always
            return stamp[:-6] + "Z" if stamp.endswith("+00:00") else stamp
    offset = when.utcoffset()
    stamp = when.replace(tzinfo=None).isoformat()
    if offset is None:
        return stamp
    seconds = int(offset.total_seconds())
    if seconds == 0:
        return stamp + "Z"
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{stamp}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


# Parsed times by (raw value, zone): the consignments of one container share their scans, and a
# zone-aware datetime costs ~1 µs to make and ~3 µs to write; one object per distinct time also
# lets ``lean_json`` write each once. Bounded like ``WordRules``.
_TIMES: dict[tuple[str, tzinfo | None], datetime | None] = {}
_TIMES_MAX = 8192
_MISSING: Any = object()


def _time(value: Any, tz: tzinfo | None) -> datetime | None:
    """``parse_time`` remembered for string values in no zone or a ``ZoneInfo`` (those compare
    by identity; equal fixed offsets of other names would share a key)."""
    if type(value) is not str or not (tz is None or type(tz) is ZoneInfo):
        return parse_time(value, tz)
    key = (value, tz)
    when = _TIMES.get(key, _MISSING)  # not a KeyError per new time: most times are new in
    if when is _MISSING:  # answers that repeat little
        when = _TIMES[key] = parse_time(value, tz)
        if len(_TIMES) > _TIMES_MAX:
            _TIMES.clear()
    return when  # type: ignore[no-any-return]


def _text(value: Any) -> str | None:
    """``text``, with the common case (an ASCII string) inline."""
    if type(value) is str and value.isascii():
        return value.strip() or None
    return text(value)


def parse_event(
    item: Any, tz: tzinfo | None, memo: dict[Any, Any] | None = None
) -> LeanEvent | None:
    """One ``billTrackList`` node; None when it carries nothing usable. With ``memo`` (one per
    answer), equal nodes give one shared record (one with images: a record of its own over the
    shared reading of the rest): the consignments of one container report the same steps, and
    records are never changed in place."""
    if not isinstance(item, dict):
        return None
    kept = _events([item], tz, memo)
    return kept[0] if kept else None


def _events(nodes: list[Any], tz: tzinfo | None, memo: dict[Any, Any] | None) -> list[LeanEvent]:
    """The events of ``billTrackList`` nodes, in their order (``parse_event`` of each, its
    memo step inline: most nodes of an answer repeat)."""
    kept: list[LeanEvent] = []
    for raw in nodes:
        if memo is not None and type(raw) is dict:
            get = raw.get
            date, desc, local, depot = get("date"), get("desc"), get("descCn"), get("deport")
            # Text or nothing only: 1, 1.0 and True are one key but not one text.
            if (
                (type(date) is str or date is None)
                and (type(desc) is str or desc is None)
                and (type(local) is str or local is None)
                and (type(depot) is str or depot is None)
            ):
                key = (date, desc, local, depot)
                event = memo.get(key, _MISSING)
                if event is _MISSING:
                    event = memo[key] = _event_of(date, desc, local, depot, None, tz)
                images = get("img")
                if images and event is not None:
                    event = _with_images(event, images)
            else:
                event = _parse_event(raw, tz)
        elif isinstance(raw, dict):
            event = _parse_event(raw, tz)
        else:
            continue
        if event is not None:
            kept.append(event)
    return kept


def _with_images(event: LeanEvent, raw_images: Any) -> LeanEvent:
    """``event`` with the images of ``raw_images`` (itself when there are none)."""
    images = [u for u in map(text, raw_images) if u] if isinstance(raw_images, list) else []
    if not images:
        return event
    return LeanEvent(
        event.time, event.location, event.description, event.status, images, event.description_local
    )


def _parse_event(item: dict[str, Any], tz: tzinfo | None) -> LeanEvent | None:
    get = item.get
    return _event_of(get("date"), get("desc"), get("descCn"), get("deport"), get("img"), tz)


def _event_of(
    date: Any, desc: Any, local_raw: Any, depot: Any, raw_images: Any, tz: tzinfo | None
) -> LeanEvent | None:
    local = _text(local_raw)
    description = _text(desc) or local
    when = _time(date, tz)
    if description is None and when is None:
        return None
    images = (
        [u for u in map(text, raw_images) if u]
        if raw_images and isinstance(raw_images, list)
        else []
    )
    return LeanEvent(
        when,
        _text(depot),
        description,
        STATUS_RULES.match(description) or Status.IN_TRANSIT,
        images,
        local if local != description else None,
    )


def parse_item(
    item: Any, number: str, tz: tzinfo | None, memo: dict[Any, Any] | None = None
) -> LeanShipment:
    """One ``ILSBillEventVO`` (an unknown number: ``orderStatus`` null, a per-item ``msg``)."""
    node = as_dict(item)
    raw_status = node.get("orderStatus")
    nodes = node.get("billTrackList")
    events = merged(_events(nodes, tz, memo)) if isinstance(nodes, list) and nodes else []
    if isinstance(raw_status, dict):
        status_text, status, service, origin, destination, scanned = _fields(raw_status, tz, memo)
    elif events:
        status_text = status = service = origin = destination = scanned = None
    else:
        return LeanShipment(number, status_text=text(node.get("msg")))
    # LeanShipment(number, found=True, ...) without its call and a store per default twice.
    shipment = _new_shipment(LeanShipment)
    shipment.tracking_number = number
    shipment.carrier = NAME
    shipment.courier = None
    shipment.found = True
    shipment.status = status or (events[0].status if events else Status.INFO_RECEIVED)
    shipment.status_text = status_text
    shipment.service = service
    shipment.origin = origin
    shipment.destination = destination
    shipment.last_update = scanned or (events[0].time if events else None)
    shipment.events = events
    shipment.error = shipment.order_id = shipment.eta = shipment.eta_source = None
    shipment.transit_days = shipment.last_mile = shipment.link = shipment.journey = None
    shipment.stalled = shipment.archived = False
    return shipment


_new_shipment = object.__new__


_Fields = tuple[str | None, Status | None, str | None, str | None, str | None, datetime | None]
_FIELDS = object()  # tags the memo's keys of orderStatus readings (its other keys: nodes')


def _fields(raw: dict[Any, Any], tz: tzinfo | None, memo: dict[Any, Any] | None) -> _Fields:
    """``orderStatus`` read: (status text, the status it names or None, service, origin,
    destination, last scan); equal ones of text values read once per answer (``memo``)."""
    if memo is not None:
        pairs = tuple(raw.items())
        for _, value in pairs:
            if not (type(value) is str or value is None):
                break
        else:
            key = (_FIELDS, pairs)
            hit: _Fields | None = memo.get(key)
            if hit is None:
                hit = memo[key] = _read_fields(raw, tz)
            return hit
    return _read_fields(raw, tz)


def _read_fields(raw: dict[Any, Any], tz: tzinfo | None) -> _Fields:
    raw_text, scan, service, despatch, port, delivery = _order_fields(raw)
    status_text = _text(raw_text)
    return (
        status_text,
        STATUS_RULES.match(status_text),
        _text(service),
        _text(despatch),
        _text(port) or _text(delivery),
        _time(scan, tz),
    )


def merged(events: list[LeanEvent]) -> list[LeanEvent]:
    """``merge_events(events)``, without its work where ``events`` already are what it gives:
    dated in one zone, each strictly older than the one before (ILS lists nodes newest first),
    so no two share a time (nothing to merge) and the order stays."""
    if len(events) < 2:
        return events
    newer = events[0].time
    if newer is not None:
        zone = newer.tzinfo
        for event in events[1:]:
            when = event.time
            # One zone: compared as merge_events sorts them (wall clock, as datetimes do).
            if when is None or when.tzinfo is not zone or not when < newer:
                break
            newer = when
        else:
            return events
    loose: list[Any] = events
    out: list[Any] = merge_events(loose)
    return out


# Where the wanted ``orderStatus`` fields sit, by the answer's keys in their order (folded as
# ``rules.fields_of`` folds them, the last of equal folded keys winning as there): an answer's
# items repeat one spelling, so each spelling is folded once. Bounded like ``_TIMES``.
_WANTED = ("status", "lastscan", "service", "despatchdepot", "portofdelivery", "deliverydepot")
_PLACES: dict[tuple[Any, ...], tuple[int, ...]] = {}
_PLACES_MAX = 1024


def _order_fields(raw: dict[Any, Any]) -> list[Any]:
    """The values of ``_WANTED`` in ``fields_of(raw)`` (None where absent)."""
    keys = tuple(raw)
    places = _PLACES.get(keys)
    if places is None:
        folded = {fold_key(k): i for i, k in enumerate(keys) if isinstance(k, str)}
        if len(_PLACES) >= _PLACES_MAX:
            _PLACES.clear()
        places = _PLACES[keys] = tuple(folded.get(name, -1) for name in _WANTED)
    values = tuple(raw.values())
    return [None if i < 0 else values[i] for i in places]


def parse_response(
    payload: Any, numbers: Sequence[str], tz: tzinfo | None
) -> list[LeanShipment] | None:
    """One LeanShipment per asked number, or None where ``api.parse_response`` would report an
    error (no envelope, an error code, a number left out)."""
    envelope = as_dict(payload)
    if not envelope or "code" not in envelope or str(envelope.get("code")) != "200":
        return None
    items = by_number(envelope)
    out = []
    memo: dict[Any, Any] = {}
    for number in numbers:
        item = items.get(number.upper())
        if item is None:
            return None
        out.append(parse_item(item, number, tz, memo))
    return out


def by_number(envelope: dict[str, Any]) -> dict[str, Any]:
    """The answer's items by their consignment number (upper case; the first of a repeat)."""
    found: dict[str, Any] = {}
    for item in as_list(envelope.get("body")):
        consignment = text(as_dict(item).get("consignment"))
        if consignment:
            found.setdefault(consignment.upper(), item)
    return found
