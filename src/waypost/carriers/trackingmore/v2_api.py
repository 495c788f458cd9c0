"""TrackingMore API v2, pure: envelopes, items, checkpoints, batches.

Follows ``shared/seeds/trackingmore-api-v2-realtime.txt`` (the quirks are listed in ``v2``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from waypost.carriers._parse import (
    as_dict,
    as_list,
    merge_events,
    parse_time,
    text,
    zone,
)
from waypost.carriers.base import AnswerCodes
from waypost.carriers.trackingmore import NAME
from waypost.carriers.trackingmore.shared import (
    COUNTRY_ZONES,
    EVENT_WORDS,
    PICKUP_WORDS,
    STATUS,
    SUBSTATUS,
    _place_zone,
    _status_text,
    leg_country,
    same_step_same_time,
)
from waypost.errors import (
    AuthError,
    CarrierError,
    ProtocolError,
    QuotaExceeded,
    RateLimited,
)
from waypost.models import Event, Shipment, Status

if TYPE_CHECKING:
    pass

SUCCESS = frozenset({200, 201})
AUTH_CODES = frozenset({401, 403, 4001, 4002})
QUOTA_CODES = frozenset({402, 4019, 4021})
BAD_REQUEST = frozenset({4012, 4013, 4014, 4015})
SERVER_CODES = frozenset({500, 502, 503, 504})
NOT_IN_ACCOUNT = frozenset({4017, 4031})
OVER_LIMIT = frozenset({202, 4020})  # 202 "successful but exceeding the limit", 4020 "up to 200"
BAD_STATUS = 4033  # the "status" filter value is invalid
WRONG_PATH = frozenset({404, 405})  # no such resource / method not allowed there
CONFLICT = 409
ALREADY_EXISTS = 4016
CANNOT_DETECT = 4032
AUTH_HINT = (
    "check carriers.trackingmore.api_key (`waypost config show`); a key of an account on the "
    'newer API needs api = "v4" (`waypost config set carriers.trackingmore.api v4`)'
)
COURIER_HINT = "name the courier: trackingmore:COURIER:NUMBER (e.g. trackingmore:usps:NUMBER)"


def _code(value: Any) -> int | None:
    raw = text(value)
    return int(raw) if raw is not None and re.fullmatch(r"\d{1,6}", raw) else None


def _number(value: Any) -> str | None:
    raw = text(value)
    return raw.upper() if raw else None


def read_envelope(payload: Any) -> tuple[int | None, str | None, Any]:
    """``(meta.code, meta.message, data)`` of one answer; a missing meta gives code None."""
    envelope = as_dict(payload)
    meta = as_dict(envelope.get("meta"))
    return _code(meta.get("code")), text(meta.get("message")), envelope.get("data")


def envelope_error(code: int | None, message: str | None) -> CarrierError:
    """The error for a ``meta.code`` that is neither success nor handled by the caller."""
    words = message or "no message"
    if code in AUTH_CODES:
        return AuthError(
            f"{NAME}: API key rejected (code {code}: {words}); "
            'a key of an account on the newer API needs api = "v4"',
            carrier=NAME,
            hint=AUTH_HINT,
        )
    if code in QUOTA_CODES:
        return QuotaExceeded(
            f"{NAME}: the account's balance or quota is used up, or its free trial has expired "
            f"(code {code}: {words}); recharge it to continue",
            carrier=NAME,
            hint="recharge the TrackingMore account (trackingmore.com, Billing), then run again",
        )
    if code == 429:
        return RateLimited(f"{NAME}: too many requests (code 429: {words})", carrier=NAME)
    if code == CANNOT_DETECT:
        return CarrierError(
            f"{NAME}: the courier of this number cannot be detected (code 4032)",
            carrier=NAME,
            hint=COURIER_HINT,
        )
    if code in BAD_REQUEST:
        return CarrierError(f"{NAME}: request refused (code {code}: {words})", carrier=NAME)
    if code == 4018:
        return CarrierError(
            f"{NAME}: this feature needs activation by TrackingMore (code 4018)",
            carrier=NAME,
            hint="ask service@trackingmore.org to activate it for the account",
        )
    if code in OVER_LIMIT:
        return CarrierError(
            f"{NAME}: the request asked for more than one call may (code {code}: {words})",
            carrier=NAME,
            hint="ask for fewer numbers at once; TrackingMore takes up to 40 per call",
        )
    if code == BAD_STATUS:
        return CarrierError(
            f"{NAME}: the status filter was refused as invalid (code 4033: {words})", carrier=NAME
        )
    if code in WRONG_PATH:
        what = "no such resource" if code == 404 else "method not allowed on this resource"
        return ProtocolError(
            f"{NAME}: {what} (code {code}: {words})",
            carrier=NAME,
            hint="check carriers.trackingmore.base_url (`waypost config show`)",
        )
    if code == CONFLICT:
        return CarrierError(
            f"{NAME}: the request conflicts with another change (code 409: {words}); "
            "try again in a moment",
            carrier=NAME,
        )
    if code in SERVER_CODES:
        return CarrierError(
            f"{NAME}: server error (code {code}: {words}); try again later", carrier=NAME
        )
    return CarrierError(f"{NAME}: error code {code}: {words}", carrier=NAME)


def pickup_status(substatus: str | None, words: str | None) -> Status:
    """What ``pickup`` means: its substatus where sent, else its words (a locker or pickup
    station is ``available_for_pickup``), else out for delivery."""
    refined = SUBSTATUS.get((substatus or "").lower())
    if refined is not None:
        return refined[0]
    return PICKUP_WORDS.match(words) or Status.OUT_FOR_DELIVERY


def _refine(raw: str | None, substatus: str | None, words: str | None) -> Status | None:
    """A main status word refined by its substatus (and, for ``pickup``, its words)."""
    main = (raw or "").lower()
    if main == "pickup":
        return pickup_status(substatus, words)
    refined = SUBSTATUS.get((substatus or "").lower())
    if refined is not None:
        return refined[0]
    return STATUS.get(main)


def _first(point: dict[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` with a text value."""
    for key in keys:
        value = point.get(key)
        if value is not None:
            found = text(value)
            if found is not None:
                return found
    return None


def _location(point: dict[str, Any]) -> str | None:
    """A checkpoint's place: ``location``/``checkpoint_location`` where sent, else ``Details``."""
    return _first(point, "location", "checkpoint_location", "Details")


def parse_event(node: Any, tz: tzinfo | None) -> Event | None:
    """One ``trackinfo`` checkpoint; None when it carries neither time nor words. Its status
    comes from the checkpoint only: ``checkpoint_status`` and its ``substatus``, else its
    words (``EVENT_WORDS``), else in transit."""
    point = as_dict(node)
    return _event(point, tz, _location(point))


def _event(point: dict[str, Any], tz: tzinfo | None, location: str | None) -> Event | None:
    when = parse_time(point.get("Date"), tz)
    description = text(point.get("StatusDescription"))
    if when is None and description is None:
        return None
    raw = _first(point, "checkpoint_status", "checkpoint_delivery_status")
    sub = _first(point, "substatus", "checkpoint_delivery_substatus")
    status = _refine(raw, sub, description)
    if status is None:
        status = EVENT_WORDS.match(description) or Status.IN_TRANSIT
    return Event(time=when, location=location, description=description, status=status)


def _int(value: Any) -> int | None:
    raw = text(value)
    return int(raw) if raw is not None and re.fullmatch(r"\d{1,5}", raw) else None


def parse_item(
    item: Any, number: str, tz: tzinfo | None = None, courier: str | None = None
) -> Shipment:
    """One tracking object (get, realtime, created) as a Shipment; never raises.

    ``tz`` (the ``timezone`` setting) holds for every checkpoint when given; else each gets the
    zone of the country it happened in (see the module docstring), or stays naive."""
    node = as_dict(item)
    dest_info, origin_info = as_dict(node.get("destination_info")), as_dict(node.get("origin_info"))
    dest = leg_country(node.get("destination_country"), dest_info.get("carrier_code"))
    origin = leg_country(
        node.get("original_country"), origin_info.get("carrier_code") or node.get("carrier_code")
    )
    legs = [(dest_info, dest), (origin_info, origin)]
    points = [(as_dict(n), c) for leg, c in legs for n in as_list(leg.get("trackinfo"))]
    parsed = []
    for point, leg in points:
        place = _location(point)
        parsed.append((_event(point, tz or _place_zone(place, leg), place), point))
    if as_list(dest_info.get("trackinfo")) and as_list(origin_info.get("trackinfo")):
        parsed = same_step_same_time(parsed)
    dest_zone = tz or zone(COUNTRY_ZONES.get(dest or ""))
    origin_zone = tz or zone(COUNTRY_ZONES.get(origin or ""))
    events = merge_events(e for e, _ in parsed if e is not None)
    raw_status = (text(node.get("status")) or "").lower()
    substatus = text(node.get("substatus"))
    refined = SUBSTATUS.get((substatus or "").lower())
    newest = next((p for e, p in parsed if events and e is events[0]), None)
    # An unknown (newer) status word: in transit when there are events, else still pending.
    status = STATUS.get(raw_status, Status.IN_TRANSIT if events else Status.PENDING)
    if raw_status == "pickup":
        words = text(node.get("lastEvent")) or (events[0].description if events else None)
        status = pickup_status(substatus, words)
    elif refined is not None and status not in (Status.PENDING, Status.EXPIRED):
        status = refined[0]
    return Shipment(
        tracking_number=number,
        carrier=NAME,
        courier=text(node.get("carrier_code")) or courier,
        found=status is not Status.NOT_FOUND,
        status=status,
        status_text=_status_text(node, newest, refined[1] if refined else None),
        service=text(node.get("service_code")),
        origin=text(node.get("original_country")),
        destination=text(node.get("destination_country")),
        last_update=_last_update(node.get("lastUpdateTime"), events, dest_zone, origin_zone),
        events=events,
        order_id=text(node.get("order_id")),
        transit_days=_int(node.get("itemTimeLength")),
    )


def _last_update(
    value: Any, events: Sequence[Event], dest_zone: tzinfo | None, origin_zone: tzinfo | None
) -> datetime | None:
    """``lastUpdateTime`` in the zone of the checkpoint it names (same wall-clock time), else
    of the destination leg; the newest event's time when it is missing."""
    naive = parse_time(value)
    if naive is None:
        return events[0].time if events else None
    for ev in events:
        if ev.time is not None and ev.time.replace(tzinfo=None) == naive.replace(tzinfo=None):
            return ev.time
    zone_of = dest_zone or origin_zone
    return naive if zone_of is None or naive.tzinfo else naive.replace(tzinfo=zone_of)


def item_number(item: Any) -> str | None:
    """The upper-cased ``tracking_number`` of a tracking object."""
    return _number(as_dict(item).get("tracking_number"))


def items_of(data: Any) -> list[dict[str, Any]]:
    """``data.items`` of a get/realtime answer, dicts only."""
    return [i for i in as_list(as_dict(data).get("items")) if isinstance(i, dict)]


def build_create(number: str, courier: str) -> dict[str, str]:
    """One create object for ``/trackings/post`` and ``/trackings/batch``."""
    return {"tracking_number": number, "carrier_code": courier}


def parse_batch(data: Any) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int | None, str]]]:
    """A batch answer -> (created objects by number, ``(code, message)`` errors by number)."""
    body = as_dict(data)
    created: dict[str, dict[str, Any]] = {}
    for item in as_list(body.get("trackings")):
        number = item_number(item)
        if number:
            created[number] = as_dict(item)
    errors: dict[str, tuple[int | None, str]] = {}
    for item in as_list(body.get("errors")):
        node = as_dict(item)
        number = _number(node.get("tracking_number"))
        if number:
            errors[number] = (_code(node.get("code")), text(node.get("message")) or "")
    return created, errors


def parse_couriers(data: Any) -> list[dict[str, Any]]:
    """``GET /carriers`` -> courier dicts (name, code, phone, homepage, type, picture)."""
    out = []
    for item in as_list(data):
        node = as_dict(item)
        if text(node.get("code")):
            keys = ("name", "code", "phone", "homepage", "type", "picture")
            out.append({k: text(node.get(k)) for k in keys})
    return out


def parse_detect(data: Any) -> list[dict[str, str]]:
    """``POST /carriers/detect`` -> ``[{"name", "code"}]`` candidates, best first."""
    out = []
    for item in as_list(data):
        node = as_dict(item)
        code = text(node.get("code"))
        if code:
            out.append({"name": text(node.get("name")) or code, "code": code.lower()})
    return out


def _pick(items: Iterable[dict[str, Any]], courier: str | None) -> dict[str, Any] | None:
    """The account's tracking for a number: the one of ``courier`` when one is asked."""
    items = list(items)
    if courier is None:
        return items[0] if items else None
    return next((i for i in items if text(i.get("carrier_code")) == courier), None)


def _chunks(values: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _has_code(payload: Any) -> bool:
    return read_envelope(payload)[0] is not None


def _stand_in(status: int) -> dict[str, Any]:
    return {"meta": {"code": status, "message": f"HTTP {status}"}}


# HTTP 401/403/429 without an envelope read as meta.code 401/403/429 (the 429 pauses).
ANSWERS = AnswerCodes(envelope=_has_code, stand_in=_stand_in, bare=frozenset({401, 403, 429}))
