"""ILS Logistics Tracking API (``shared/seeds/ils-tracking-api.txt``).

One POST to ``{base_url}/oms/v2/event/getOrdersTrack`` answers up to 100 numbers. Quirks:

* The docs name the ``orderStatus`` fields ``service``, ``despatchdepot``, ``despatchdate``,
  ``deliverydepot``, ``lastscan``, ``status``; their own example answers ``Service``,
  ``Status``, ``Despatch Date``, ``Lastscan``. Keys are matched case- and space-insensitively.
* An unknown number comes back with ``orderStatus: null`` and a per-item ``msg``.
* Real answers name the destination ``Port Of Delivery`` (also ``port of delivery``,
  ``portOfDelivery``, ``port_of_delivery``: one folded key), read before ``deliverydepot``
  (the docs' "latest delivery location"). Events may carry ``descCn``, the Chinese text beside
  ``desc``: it is kept as ``description_local``.
* Errors are ``code != 200`` with ``msg``; the docs give no error table.
* Times carry no zone; they are Asia/Shanghai unless ``timezone`` is configured.
* The documented endpoint is plain HTTP: the private key crosses the network unencrypted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

from waypost.carriers._parse import (
    as_dict,
    as_list,
    merge_events,
    parse_time,
    text,
)
from waypost.carriers.base import AnswerCodes
from waypost.carriers.ils import NAME
from waypost.carriers.ils.rules import STATUS_RULES, fields_of
from waypost.carriers.ils.rules import build_request as build_request
from waypost.errors import AuthError, CarrierError, ProtocolError
from waypost.models import Event, Shipment, Status

_AUTH_WORDS = re.compile(r"user|key|pdd|auth|credential|sign|permission|forbidden", re.I)


def parse_event(item: Any, tz: tzinfo | None) -> Event | None:
    """One ``billTrackList`` node; None when it carries nothing usable."""
    if not isinstance(item, dict):
        return None
    local = text(item.get("descCn"))
    description = text(item.get("desc")) or local
    when = parse_time(item.get("date"), tz)
    if description is None and when is None:
        return None
    raw_images = item.get("img")
    images = [u for u in map(text, raw_images) if u] if isinstance(raw_images, list) else []
    return Event(
        time=when,
        location=text(item.get("deport")),
        description=description,
        status=STATUS_RULES.match(description) or Status.IN_TRANSIT,
        images=images,
        description_local=local if local != description else None,
    )


def parse_item(item: Any, number: str, tz: tzinfo | None) -> Shipment:
    """One ``ILSBillEventVO`` as a Shipment."""
    node = as_dict(item)
    raw_status = node.get("orderStatus")
    parsed = [parse_event(i, tz) for i in as_list(node.get("billTrackList"))]
    events = merge_events([e for e in parsed if e is not None])
    if not isinstance(raw_status, dict) and not events:
        return Shipment(
            tracking_number=number,
            carrier=NAME,
            found=False,
            status=Status.NOT_FOUND,
            status_text=text(node.get("msg")),
        )
    fields = fields_of(raw_status)
    status_text = text(fields.get("status"))
    status = STATUS_RULES.match(status_text)
    if status is None:
        status = events[0].status if events else Status.INFO_RECEIVED
    last_update = parse_time(fields.get("lastscan"), tz) or (events[0].time if events else None)
    return Shipment(
        tracking_number=number,
        carrier=NAME,
        found=True,
        status=status,
        status_text=status_text,
        service=text(fields.get("service")),
        origin=text(fields.get("despatchdepot")),
        destination=text(fields.get("portofdelivery")) or text(fields.get("deliverydepot")),
        last_update=last_update,
        events=events,
    )


def parse_response(payload: Any, numbers: Sequence[str], tz: tzinfo | None) -> list[Shipment]:
    """A whole answer -> one Shipment per asked number; an error envelope raises CarrierError."""
    envelope = as_dict(payload)
    if not envelope or "code" not in envelope:
        raise ProtocolError(f"{NAME}: answer without a 'code' field", carrier=NAME)
    code = envelope.get("code")
    if str(code) != "200":
        raise envelope_error(code, text(envelope.get("msg")))
    by_number: dict[str, Any] = {}
    for item in as_list(envelope.get("body")):
        consignment = text(as_dict(item).get("consignment"))
        if consignment:
            by_number.setdefault(consignment.upper(), item)
    out = []
    for number in numbers:
        item = by_number.get(number.upper())
        if item is None:
            err = ProtocolError(f"{NAME}: the answer left out this number", carrier=NAME)
            out.append(Shipment.failed(number, NAME, err))
        else:
            out.append(parse_item(item, number, tz))
    return out


def envelope_error(code: Any, msg: str | None) -> CarrierError:
    """The error for a ``code != 200`` envelope (auth-looking ones are AuthError)."""
    words = msg or "no message"
    if str(code) in {"401", "403"} or (msg and _AUTH_WORDS.search(msg)):
        return AuthError(
            f"{NAME}: credentials rejected (code {code}: {words})",
            carrier=NAME,
            hint="check carriers.ils.user_id and carriers.ils.pdd (`waypost config show`)",
        )
    return CarrierError(f"{NAME}: error code {code}: {words}", carrier=NAME)


def _is_envelope(payload: Any) -> bool:
    return isinstance(payload, dict) and "code" in payload


def _stand_in(status: int) -> dict[str, Any]:
    return {"code": status, "msg": f"HTTP {status}"}


# HTTP 401/403 without an envelope read as ILS's codes 401/403 (credentials rejected).
ANSWERS = AnswerCodes(envelope=_is_envelope, stand_in=_stand_in, bare=frozenset({401, 403}))
