"""The ILS reading rules spelt out plainly, one node and one item at a time, with no memo and no
shortcut: the oracle the lean reader's shortcuts are tested against (``test_lean_reference``).
The rules are ``carriers/ils/lean``'s (``shared/seeds/ils-tracking-api.txt``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

from waypost.carriers._parse import as_dict, as_list, merge_events, parse_time, text
from waypost.carriers.ils.lean import LeanEvent, LeanShipment
from waypost.carriers.ils.rules import STATUS_RULES, fields_of
from waypost.status import Status


def event(item: Any, tz: tzinfo | None) -> LeanEvent | None:
    """One ``billTrackList`` node."""
    if not isinstance(item, dict):
        return None
    local = text(item.get("descCn"))
    description = text(item.get("desc")) or local
    when = parse_time(item.get("date"), tz)
    if description is None and when is None:
        return None
    raw_images = item.get("img")
    images = [u for u in map(text, raw_images) if u] if isinstance(raw_images, list) else []
    return LeanEvent(
        when,
        text(item.get("deport")),
        description,
        STATUS_RULES.match(description) or Status.IN_TRANSIT,
        images,
        local if local != description else None,
    )


def shipment(item: Any, number: str, tz: tzinfo | None) -> LeanShipment:
    """One ``ILSBillEventVO``."""
    node = as_dict(item)
    raw_status = node.get("orderStatus")
    parsed = [event(i, tz) for i in as_list(node.get("billTrackList"))]
    events: list[Any] = merge_events([e for e in parsed if e is not None])  # type: ignore[misc]
    if not isinstance(raw_status, dict) and not events:
        return LeanShipment(number, status_text=text(node.get("msg")))
    fields = fields_of(raw_status)
    status_text = text(fields.get("status"))
    status = STATUS_RULES.match(status_text)
    if status is None:
        status = events[0].status if events else Status.INFO_RECEIVED
    return LeanShipment(
        number,
        found=True,
        status=status,
        status_text=status_text,
        service=text(fields.get("service")),
        origin=text(fields.get("despatchdepot")),
        destination=text(fields.get("portofdelivery")) or text(fields.get("deliverydepot")),
        last_update=parse_time(fields.get("lastscan"), tz) or (events[0].time if events else None),
        events=events,
    )


def response(payload: Any, numbers: Sequence[str], tz: tzinfo | None) -> list[LeanShipment] | None:
    """One record per asked number, or None for an answer the model path reports as an error."""
    envelope = as_dict(payload)
    if not envelope or "code" not in envelope or str(envelope.get("code")) != "200":
        return None
    items: dict[str, Any] = {}
    for item in as_list(envelope.get("body")):
        consignment = text(as_dict(item).get("consignment"))
        if consignment:
            items.setdefault(consignment.upper(), item)
    out = []
    for number in numbers:
        item = items.get(number.upper())
        if item is None:
            return None
        out.append(shipment(item, number, tz))
    return out
