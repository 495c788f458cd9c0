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

from waypost.carriers._parse import as_dict, text
from waypost.carriers.base import AnswerCodes
from waypost.carriers.ils import NAME, lean
from waypost.carriers.ils.rules import STATUS_RULES as STATUS_RULES
from waypost.carriers.ils.rules import build_request as build_request
from waypost.errors import AuthError, CarrierError, ProtocolError
from waypost.models import Event, Shipment

_AUTH_WORDS = re.compile(r"user|key|pdd|auth|credential|sign|permission|forbidden", re.I)


def parse_event(item: Any, tz: tzinfo | None) -> Event | None:
    """One ``billTrackList`` node; None when it carries nothing usable (``lean``'s rules)."""
    event = lean.parse_event(item, tz)
    return None if event is None else Event(**dict(event))


def parse_item(
    item: Any, number: str, tz: tzinfo | None, memo: dict[Any, Any] | None = None
) -> Shipment:
    """One ``ILSBillEventVO`` as a Shipment (``lean``'s rules, as a model)."""
    record = lean.parse_item(item, number, tz, memo)
    events = [
        Event(
            time=e.time,
            location=e.location,
            description=e.description,
            status=e.status,
            images=e.images,
            description_local=e.description_local,
        )
        for e in record.events
    ]
    return Shipment(**{**dict(record), "events": events})


def parse_response(payload: Any, numbers: Sequence[str], tz: tzinfo | None) -> list[Shipment]:
    """A whole answer -> one Shipment per asked number; an error envelope raises CarrierError."""
    envelope = as_dict(payload)
    if not envelope or "code" not in envelope:
        raise ProtocolError(f"{NAME}: answer without a 'code' field", carrier=NAME)
    code = envelope.get("code")
    if str(code) != "200":
        raise envelope_error(code, text(envelope.get("msg")))
    by_number = lean.by_number(envelope)
    out = []
    memo: dict[Any, Any] = {}  # equal nodes read once (each shipment gets models of its own)
    for number in numbers:
        item = by_number.get(number.upper())
        if item is None:
            err = ProtocolError(f"{NAME}: the answer left out this number", carrier=NAME)
            out.append(Shipment.failed(number, NAME, err))
        else:
            out.append(parse_item(item, number, tz, memo))
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
