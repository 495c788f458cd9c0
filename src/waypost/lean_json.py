"""The ``--json`` document of lean records (``carriers/ils/lean``,
``carriers/trackingmore/lean``), written as ``json.dumps(..., indent=2, ensure_ascii=False)``
writes it (and pydantic, for the models).

``json.dumps`` uses its C encoder only without ``indent``; indented, 1,000 shipments cost it
about 150 ms in pure Python. The document's shape is fixed (the Shipment and Event fields), so
it is written here from templates, each string through the C string encoder: about 10x faster,
byte for byte the same (``tests/carriers/ils/test_lean.py`` and
``tests/carriers/trackingmore/test_lean.py`` compare).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

_SHIPMENT = 4 * " "
_FIELD = _SHIPMENT + "  "


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _flag(value: bool | None) -> str:
    return "null" if value is None else ("true" if value else "false")


def _eta(value: Any) -> str:
    """A date or datetime as pydantic writes it (TrackingMore v4 sets ``eta``)."""
    if value is None:
        return "null"
    from datetime import datetime

    from waypost.carriers.ils.lean import iso

    stamp = iso(value) if isinstance(value, datetime) else value.isoformat()
    return encode_basestring(str(stamp))


def _last_mile(value: Any, pad: str) -> str:
    """A last mile record as an indented object (TrackingMore v4 sets ``last_mile``)."""
    if value is None:
        return "null"
    inner = pad + "  "
    return (
        f'{{\n{inner}"courier": {_text(value.courier)},\n'
        f'{inner}"tracking_number": {_text(value.tracking_number)}\n{pad}}}'
    )


class _Times:
    """Each datetime written once per document: the lean reader gives one object per distinct
    time (``carriers/ils/lean``), and writing an aware datetime costs ~3 µs. Keyed by identity
    (equal aware datetimes in two zones are written differently), holding each object so that
    its id stays its own while the document is written."""

    def __init__(self) -> None:
        from waypost.carriers.ils.lean import iso

        self.iso = iso
        self.seen: dict[int, str] = {}
        self.kept: list[datetime] = []

    def __call__(self, when: datetime | None) -> str:
        if when is None:
            return "null"
        written = self.seen.get(id(when))
        if written is None:
            self.kept.append(when)
            written = self.seen[id(when)] = _text(self.iso(when))
        return written


# Each status as a JSON string (statuses are few, and ``Status`` members are ``str``s).
_STATUSES: dict[str, str] = {}


def _status(value: str) -> str:
    written = _STATUSES.get(value)
    if written is None:
        written = encode_basestring(value)
        if len(_STATUSES) < 64:
            _STATUSES[value] = written
    return written


def _event(e: Any, times: _Times) -> str:
    head, tail = _event_parts(e, times)
    return head + (_images(e.images) if e.images else "[]") + tail


def _event_parts(e: Any, times: _Times) -> tuple[str, str]:
    """An event's text before and after its images."""
    # Indents as literals: 8 spaces for the event, 10 for its fields.
    location, description, local = e.location, e.description, e.description_local
    return (
        "        {\n"
        f'          "time": {times(e.time)},\n'
        f'          "location": {"null" if location is None else encode_basestring(location)},\n'
        '          "description": '
        f"{'null' if description is None else encode_basestring(description)},\n"
        f'          "status": {_status(e.status)},\n'
        '          "images": '
    ), (
        ',\n          "description_local": '
        f"{'null' if local is None else encode_basestring(local)}\n"
        "        }"
    )


def _images(items: Sequence[str]) -> str:
    inner = ",\n".join([f"            {encode_basestring(u)}" for u in items])
    return f"[\n{inner}\n          ]"


class _Parts:
    """What one document writes once and repeats (by identity, or by equal values for plain
    ones): each event record, the rest of events that differ in their images alone, each run of
    events (the consignments of one container share theirs), each set of the fields from
    ``carrier`` to ``destination``."""

    def __init__(self) -> None:
        self.times = _Times()
        self.events: dict[Any, str] = {}  # records hash by identity; the keys keep them alive
        self.around: dict[tuple[Any, ...], tuple[str, str]] = {}
        self.runs: dict[tuple[Any, ...], str] = {}
        self.middles: dict[tuple[Any, ...], str] = {}

    def event(self, e: Any) -> str:
        """One event, indented as an item of a shipment's ``events``."""
        if not e.images:
            written = self.events[e] = _event(e, self.times)
            return written
        # Equal times in two zones are written differently: the time by identity.
        when = e.time
        key = (id(when), when, e.location, e.description, e.status, e.description_local)
        parts = self.around.get(key)
        if parts is None:
            parts = self.around[key] = _event_parts(e, self.times)
        written = self.events[e] = parts[0] + _images(e.images) + parts[1]
        return written

    def run(self, events: list[Any]) -> str:
        """The ``events`` array, indented as a shipment's field."""
        key = tuple(events)
        written = self.runs.get(key)
        if written is None:
            seen = self.events
            inner = ",\n".join([seen.get(e) or self.event(e) for e in events])
            written = self.runs[key] = f"[\n{inner}\n      ]"
        return written

    def middle(self, s: Any) -> str:
        """The fields from ``carrier`` to ``destination``: equal values write alike (True and
        1 as flags too), so equal ones share one string."""
        key: tuple[Any, ...] = (
            s.carrier,
            s.courier,
            s.found,
            s.status,
            s.status_text,
            s.service,
            s.origin,
        )
        key += (s.destination,)
        written = self.middles.get(key)
        if written is None:
            written = self.middles[key] = (
                f'      "carrier": {_text(s.carrier)},\n'
                f'      "courier": {_text(s.courier)},\n'
                f'      "found": {_flag(s.found)},\n'
                f'      "status": {_status(s.status)},\n'
                f'      "status_text": {_text(s.status_text)},\n'
                f'      "service": {_text(s.service)},\n'
                f'      "origin": {_text(s.origin)},\n'
                f'      "destination": {_text(s.destination)},\n'
            )
        return written


def _shipment(s: Any, parts: _Parts) -> str:
    # journey: never set by the lean readers (they leave journey legs alone). The field names
    # and indents are literals (6 spaces: document -> shipments -> shipment).
    number, when, events = s.tracking_number, s.last_update, s.events
    head = (
        "    {\n"
        f'      "tracking_number": {"null" if number is None else encode_basestring(number)},\n'
        f"{parts.middle(s)}"
        f'      "last_update": {"null" if when is None else parts.times(when)},\n'
        f'      "events": {parts.run(events) if events else "[]"},\n'
    )
    if (
        s.error is None
        and s.order_id is None
        and s.eta is None
        and s.last_mile is None
        and s.eta_source is None
        and s.transit_days is None
        and s.link is None
        and s.archived is False
        and type(s.stalled) is bool
    ):
        return head + _TAILS[s.stalled]
    return head + _tail(s)


def _tail(s: Any) -> str:
    days = "null" if s.transit_days is None else str(int(s.transit_days))
    return (
        f'      "error": {_text(s.error)},\n'
        f'      "order_id": {_text(s.order_id)},\n'
        f'      "eta": {_eta(s.eta)},\n'
        f'      "eta_source": {_text(s.eta_source)},\n'
        f'      "transit_days": {days},\n'
        f'      "stalled": {_flag(s.stalled)},\n'
        f'      "last_mile": {_last_mile(s.last_mile, _FIELD)},\n'
        f'      "link": {_text(s.link)},\n'
        f'      "archived": {_flag(s.archived)},\n'
        '      "journey": null\n'
        "    }"
    )


class _Defaults:
    """A shipment whose fields after ``events`` are the defaults (but ``stalled``)."""

    def __init__(self, stalled: bool) -> None:
        self.error = self.order_id = self.eta_source = self.transit_days = self.link = None
        self.eta = self.last_mile = None
        self.archived = False
        self.stalled = stalled


# What _tail writes for shipments that set none of those fields (the lean reader's), by stalled.
_TAILS = {flag: _tail(_Defaults(flag)) for flag in (False, True)}


def document(shipments: Sequence[Any], end: str = "") -> str:
    """The ``--json`` document (schema 2) of lean shipment records, then ``end``."""
    return "".join(pieces(shipments, end))


# Shipments per piece: joined once into the document, with no intermediate copy of it (a 2 MB
# document, its copy with the newline and its UTF-8 bytes each needed fresh pages).
_PIECE = 64


def pieces(shipments: Sequence[Any], end: str = "") -> Iterator[str]:
    """``document(shipments, end)`` in pieces of a few shipments each."""
    if not shipments:
        yield '{\n  "schema": 2,\n  "shipments": []\n}' + end
        return
    parts = _Parts()
    yield '{\n  "schema": 2,\n  "shipments": [\n'
    for start in range(0, len(shipments), _PIECE):
        written = [_shipment(s, parts) for s in shipments[start : start + _PIECE]]
        yield (",\n" if start else "") + ",\n".join(written)
    yield "\n  ]\n}" + end
