"""The ``--json`` document of lean records (``carriers/ils/lean``), written as
``json.dumps(..., indent=2, ensure_ascii=False)`` writes it (and pydantic, for the models).

``json.dumps`` uses its C encoder only without ``indent``; indented, 1,000 shipments cost it
about 150 ms in pure Python. The document's shape is fixed (the Shipment and Event fields), so
it is written here from templates, each string through the C string encoder: about 10x faster,
byte for byte the same (``tests/carriers/ils/test_lean.py`` compares).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

_EVENT = 8 * " "  # document -> shipments -> shipment -> events -> event
_EVENT_FIELD = _EVENT + "  "
_SHIPMENT = 4 * " "
_FIELD = _SHIPMENT + "  "


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _flag(value: bool | None) -> str:
    return "null" if value is None else ("true" if value else "false")


def _texts(items: Sequence[str], pad: str) -> str:
    if not items:
        return "[]"
    inner = ",\n".join(pad + "  " + encode_basestring(u) for u in items)
    return f"[\n{inner}\n{pad}]"


class _Times:
    """Each datetime written once per document: the lean reader gives one object per distinct
    time (``carriers/ils/lean``), and writing an aware datetime costs ~3 µs. Keyed by identity
    (equal aware datetimes in two zones are written differently), holding each object so that
    its id stays its own while the document is written."""

    def __init__(self) -> None:
        from waypost.carriers.ils.lean import iso

        self.iso = iso
        self.seen: dict[int, tuple[datetime, str]] = {}

    def __call__(self, when: datetime | None) -> str:
        if when is None:
            return "null"
        hit = self.seen.get(id(when))
        if hit is None or hit[0] is not when:
            hit = self.seen[id(when)] = (when, _text(self.iso(when)))
        return hit[1]


def _event(e: Any, times: _Times) -> str:
    f = _EVENT_FIELD
    location, description, local = e.location, e.description, e.description_local
    return (
        f"{_EVENT}{{\n"
        f'{f}"time": {times(e.time)},\n'
        f'{f}"location": {"null" if location is None else encode_basestring(location)},\n'
        f'{f}"description": '
        f"{'null' if description is None else encode_basestring(description)},\n"
        f'{f}"status": {encode_basestring(e.status)},\n'
        f'{f}"images": {_texts(e.images, f) if e.images else "[]"},\n'
        f'{f}"description_local": {"null" if local is None else encode_basestring(local)}\n'
        f"{_EVENT}}}"
    )


def _shipment(s: Any, times: _Times) -> str:
    f = _FIELD  # eta, last_mile and journey: never set by the lean reader (see LeanShipment)
    events = (
        "[\n" + ",\n".join([_event(e, times) for e in s.events]) + f"\n{f}]" if s.events else "[]"
    )
    days = "null" if s.transit_days is None else str(int(s.transit_days))
    return (
        f"{_SHIPMENT}{{\n"
        f'{f}"tracking_number": {_text(s.tracking_number)},\n'
        f'{f}"carrier": {_text(s.carrier)},\n'
        f'{f}"courier": {_text(s.courier)},\n'
        f'{f}"found": {_flag(s.found)},\n'
        f'{f}"status": {encode_basestring(s.status)},\n'
        f'{f}"status_text": {_text(s.status_text)},\n'
        f'{f}"service": {_text(s.service)},\n'
        f'{f}"origin": {_text(s.origin)},\n'
        f'{f}"destination": {_text(s.destination)},\n'
        f'{f}"last_update": {times(s.last_update)},\n'
        f'{f}"events": {events},\n'
        f'{f}"error": {_text(s.error)},\n'
        f'{f}"order_id": {_text(s.order_id)},\n'
        f'{f}"eta": null,\n'
        f'{f}"eta_source": {_text(s.eta_source)},\n'
        f'{f}"transit_days": {days},\n'
        f'{f}"stalled": {_flag(s.stalled)},\n'
        f'{f}"last_mile": null,\n'
        f'{f}"link": {_text(s.link)},\n'
        f'{f}"archived": {_flag(s.archived)},\n'
        f'{f}"journey": null\n'
        f"{_SHIPMENT}}}"
    )


def document(shipments: Sequence[Any]) -> str:
    """The ``--json`` document (schema 2) of lean shipment records, without the final newline."""
    if not shipments:
        return '{\n  "schema": 2,\n  "shipments": []\n}'
    times = _Times()
    body = ",\n".join([_shipment(s, times) for s in shipments])
    return f'{{\n  "schema": 2,\n  "shipments": [\n{body}\n  ]\n}}'
