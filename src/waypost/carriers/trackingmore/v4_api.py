"""TrackingMore API v4, the pure part: paths, limits, code table, request bodies, answer parsing.

No I/O here; the strategy is ``v4``. Each fact, and the public source it comes
from (TrackingMore's own SDKs, read at the commits named; the support article by its URL):

* Base ``https://api.trackingmore.com/v4``, JSON both ways, header ``Tracking-Api-Key``:
  ``TrackingMore-API/trackingmore-sdk-python`` @ 2818507 (``trackingmore/request.py``:
  ``apiBaseUrl``, ``apiVersion = 'v4'``, ``get_request_header``) and
  ``TrackingMore-API/trackingmore-sdk-nodejs`` @ d58955e (``src/lib/request.js``).
* Paths: ``POST trackings/create``, ``GET trackings/get`` (query string), ``POST
  trackings/batch`` (a JSON list, at most 40: the SDKs refuse more), ``PUT
  trackings/update/{id}``, ``DELETE trackings/delete/{id}``, ``POST trackings/retrack/{id}``,
  ``GET couriers/all``, ``POST couriers/detect``: python SDK ``trackingmore/tracking.py`` and
  ``trackingmore/courier.py``; nodejs SDK ``src/tracking/trackings.js``.
* ``GET /trackings/get`` parameters ``tracking_numbers`` (comma-separated, as in the python
  SDK's README example), ``courier_code``, ``delivery_status``, ``archived_status``,
  ``created_date_min/max``, ``updated_date_min/max`` (ISO 8601 with offset, as in the README
  example ``2023-08-23T14:00:00+08:00``), ``items_amount``, ``pages_amount``, ``lang``:
  ``TrackingMore-API/trackingmore-sdk-java`` @ 9ceb233
  (``model/tracking/GetTrackingResultsParams.java``). At most 40 numbers a call: meta 4103.
* Tracking fields (``id``, ``tracking_number``, ``courier_code``, ``delivery_status``,
  ``substatus``, ``archived`` as a string, ``latest_event``, ``latest_checkpoint_time``,
  ``scheduled_delivery_date``, ``transit_time``, ``destination_track_number``,
  ``origin_info``/``destination_info`` with ``courier_code``, ``weblink``, ``trackinfo[]``;
  checkpoint ``checkpoint_date``, ``tracking_detail``, ``location``, ``country_iso2``,
  ``state``, ``city``, ``checkpoint_delivery_status``, ``checkpoint_delivery_substatus``): java
  SDK ``model/tracking/Tracking.java``, ``OriginInfo.java``, ``TrackInfo.java``; a recorded
  answer in ``tests/fixtures/trackingmore/v4/`` (``archived: "tracking"``).
* Batch answer ``data.success[]`` / ``data.error[]`` with ``errorCode``/``errorMessage``: java
  SDK ``model/tracking/BatchResults.java``, ``BatchItem.java``. Courier rows ``courier_name``,
  ``courier_code``, ``courier_url``...: java SDK ``model/courier/Courier.java``. Update body
  ``courier_code_new``: java SDK ``UpdateTrackingParams.java``.
* ``meta.code`` table (200; 400; 4101 exists; 4102 does not exist; 4103 more than 40; 4110 bad
  number; 4111 number missing; 4112 bad id; 4113 retrack only when expired; 4120 bad courier;
  4121 cannot detect; 4122 courier-specific field; 4130 bad field format; 4190 quota; 401; 403;
  404; 429; 511-513 with HTTP 500): python SDK ``README.md``, "Response Code".
* Rate limits per account: ``POST /trackings/create`` 3 requests/s, every other v4 endpoint 10
  requests/s; after a 429 send nothing for 120 s: TrackingMore's support article "TrackingMore
  API Request Rate Limit" (support.trackingmore.com, updated 30/05/2024).

Not found in a public source, and chosen here: the page size (``items_amount``) waypost asks
for is 100, and paging stops at a short or empty page, at a page that repeats the previous one,
or after ``MAX_PAGES`` (400: the 40,000 trackings of v2's cap); a checkpoint without its own
status is in transit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from waypost.carriers._parse import as_dict, as_list, merge_events, parse_time, text
from waypost.carriers.base import AnswerCodes
from waypost.carriers.trackingmore import shared
from waypost.errors import AuthError, CarrierError, ProtocolError, QuotaExceeded, RateLimited
from waypost.status import Status

if TYPE_CHECKING:
    from waypost.models import Event, Shipment

NAME = "trackingmore"
DEFAULT_BASE = "https://api.trackingmore.com/v4"
HEADER = "Tracking-Api-Key"

CREATE = "/trackings/create"
GET = "/trackings/get"
BATCH = "/trackings/batch"
UPDATE = "/trackings/update"
DELETE = "/trackings/delete"
RETRACK = "/trackings/retrack"
COURIERS = "/couriers/all"
DETECT = "/couriers/detect"
ENDPOINTS = (CREATE, GET, BATCH, UPDATE, DELETE, RETRACK, COURIERS, DETECT)

# Requests per second of each endpoint (the support article); create is the real-time one.
RATES: dict[str, float] = {CREATE: 3.0, **{e: 10.0 for e in ENDPOINTS if e != CREATE}}
MAX_NUMBERS = 40  # tracking_numbers= per GET /trackings/get
MAX_BATCH = 40  # items per POST /trackings/batch
PAGE_SIZE = 100  # items_amount= waypost asks for when paging
MAX_PAGES = 400  # pages of 100 per watch pass (v2: 20 of 2,000), whatever the answers say
PAUSE_429 = 120.0

SUCCESS = 200
EXISTS = 4101
NOT_EXISTS = 4102
TOO_MANY = 4103
BAD_NUMBER = 4110
MISSING_NUMBER = 4111
BAD_ID = 4112
BAD_COURIER = 4120
CANNOT_DETECT = 4121
COURIER_FIELDS = 4122
BAD_FIELD = 4130
QUOTA = 4190
AUTH_CODES = frozenset({401, 403})
SERVER_CODES = frozenset({500, 502, 503, 504, 511, 512, 513})

AUTH_HINT = (
    "check carriers.trackingmore.api_key (`waypost config show`); a key of an account on the "
    'older API needs api = "v2" (`waypost config set carriers.trackingmore.api v2`)'
)
COURIER_HINT = "name the courier: trackingmore:COURIER:NUMBER (e.g. trackingmore:usps:NUMBER)"

_CODE = re.compile(r"\d{1,6}")


def code_of(value: Any) -> int | None:
    """An integer code from a JSON number or digit string; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    raw = text(value)
    return int(raw) if raw is not None and _CODE.fullmatch(raw) else None


def number_of(value: Any) -> str | None:
    """A tracking number as waypost keys it (upper case), or None."""
    raw = text(value)
    return raw.upper() if raw else None


def read_envelope(payload: Any) -> tuple[int | None, str | None, Any]:
    """``(meta.code, meta.message, data)`` of one answer; a missing meta gives code None."""
    envelope = as_dict(payload)
    meta = as_dict(envelope.get("meta"))
    return code_of(meta.get("code")), text(meta.get("message")), envelope.get("data")


def _has_code(payload: Any) -> bool:
    return read_envelope(payload)[0] is not None


def _stand_in(status: int) -> dict[str, Any]:
    return {"meta": {"code": status, "message": f"HTTP {status}"}}


# HTTP 401/403/404/429 without an envelope read as those meta.codes (the 429 pauses).
ANSWERS = AnswerCodes(envelope=_has_code, stand_in=_stand_in, bare=frozenset({401, 403, 404, 429}))


def error_for(code: int | None, message: str | None) -> CarrierError:
    """The error a ``meta.code`` other than success stands for."""
    words = message or "no message"
    if code in AUTH_CODES:
        return AuthError(
            f"{NAME}: API key rejected by API v4 (code {code}: {words}); "
            'a key of an account on the older API needs api = "v2"',
            carrier=NAME,
            hint=AUTH_HINT,
        )
    if code == QUOTA:
        return QuotaExceeded(
            f"{NAME}: the account's quota is used up (code 4190: {words})",
            carrier=NAME,
            hint="upgrade or renew the TrackingMore plan, then run again",
        )
    if code == 429:
        return RateLimited(f"{NAME}: too many requests (code 429: {words})", carrier=NAME)
    if code in (BAD_COURIER, CANNOT_DETECT, COURIER_FIELDS):
        return CarrierError(
            f"{NAME}: the courier was refused or cannot be detected (code {code}: {words})",
            carrier=NAME,
            hint=COURIER_HINT,
        )
    if code in (BAD_NUMBER, MISSING_NUMBER):
        return CarrierError(
            f"{NAME}: TrackingMore calls this tracking number invalid (code {code})", carrier=NAME
        )
    if code == 404:
        return CarrierError(
            f"{NAME}: API v4 has no such page (code 404: {words})",
            carrier=NAME,
            hint="check carriers.trackingmore.base_url and carriers.trackingmore.api",
        )
    if code in SERVER_CODES:
        return CarrierError(
            f"{NAME}: server error (code {code}: {words}); try again later", carrier=NAME
        )
    if code in (400, TOO_MANY, BAD_ID, BAD_FIELD):
        return ProtocolError(f"{NAME}: request refused (code {code}: {words})", carrier=NAME)
    return CarrierError(f"{NAME}: error code {code}: {words}", carrier=NAME)


# -- requests -------------------------------------------------------------------------------


def create_body(number: str, courier: str, lang: str | None = None) -> dict[str, str]:
    """One tracking to create (``/trackings/create`` body, one item of ``/trackings/batch``)."""
    body = {"tracking_number": number, "courier_code": courier}
    if lang:
        body["language"] = lang
    return body


def numbers_query(numbers: Iterable[str], lang: str | None = None) -> dict[str, str]:
    """``GET /trackings/get`` parameters for up to 40 numbers."""
    listed = list(numbers)
    if not 0 < len(listed) <= MAX_NUMBERS:
        raise ValueError(f"between 1 and {MAX_NUMBERS} numbers per call, not {len(listed)}")
    query = {"tracking_numbers": ",".join(listed)}
    if lang:
        query["lang"] = lang
    return query


def iso(epoch: float) -> str:
    """A Unix time as the ISO 8601 form the date filters take (UTC, with offset)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def page_query(since: float | None, page: int, lang: str | None = None) -> dict[str, str | int]:
    """``GET /trackings/get`` parameters for one page of trackings updated since ``since``."""
    query: dict[str, str | int] = {"items_amount": PAGE_SIZE, "pages_amount": page}
    if since is not None:
        query["updated_date_min"] = iso(since)
    if lang:
        query["lang"] = lang
    return query


def update_body(courier: str) -> dict[str, str]:
    """``PUT /trackings/update/{id}`` body that moves a tracking to another courier."""
    return {"courier_code_new": courier}


def item_path(endpoint: str, tracking_id: str) -> str:
    """``/trackings/delete/{id}`` and the like; ids are TrackingMore's hex strings."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tracking_id):
        raise ValueError("not a TrackingMore tracking id")
    return f"{endpoint}/{tracking_id}"


# -- answers ---------------------------------------------------------------------------------


def trackings_of(data: Any) -> list[dict[str, Any]]:
    """The tracking objects of a get answer (a list) or of a create answer (one object)."""
    if isinstance(data, dict):
        return [data] if data else []
    return [i for i in as_list(data) if isinstance(i, dict)]


def item_number(item: Any) -> str | None:
    """The upper-cased ``tracking_number`` of a tracking object."""
    return number_of(as_dict(item).get("tracking_number"))


def held_trackings(
    data: Any, asked: Iterable[str]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """A get answer's tracking objects of the ``asked`` numbers, by number (a number may be held
    under several couriers), and each held number's account id (``""`` when none is given)."""
    wanted = set(asked)
    held: dict[str, list[dict[str, Any]]] = {}
    members: dict[str, str] = {}
    for item in trackings_of(data):
        number = item_number(item)
        if number is not None and number in wanted:
            held.setdefault(number, []).append(item)
            members[number] = text(item.get("id")) or ""
    return held, members


def parse_batch(data: Any) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int | None, str]]]:
    """A batch answer -> (created items by number, ``(errorCode, errorMessage)`` by number)."""
    body = as_dict(data)
    made: dict[str, dict[str, Any]] = {}
    for item in as_list(body.get("success")):
        number = item_number(item)
        if number:
            made[number] = as_dict(item)
    failed: dict[str, tuple[int | None, str]] = {}
    for item in as_list(body.get("error")):
        node = as_dict(item)
        number = number_of(node.get("tracking_number"))
        if number:
            failed[number] = (code_of(node.get("errorCode")), text(node.get("errorMessage")) or "")
    return made, failed


def parse_couriers(data: Any) -> list[dict[str, Any]]:
    """``GET /couriers/all`` -> rows in the v2 adapter's shape (name, code, phone, homepage...)."""
    out = []
    for item in as_list(data):
        node = as_dict(item)
        code = text(node.get("courier_code"))
        if code:
            out.append(
                {
                    "name": text(node.get("courier_name")),
                    "code": code,
                    "phone": text(node.get("courier_phone")),
                    "homepage": text(node.get("courier_url")),
                    "type": text(node.get("courier_type")),
                    "picture": text(node.get("courier_logo")),
                }
            )
    return out


def parse_detect(data: Any) -> list[dict[str, str]]:
    """``POST /couriers/detect`` -> ``[{"name", "code"}]`` candidates, best first."""
    out = []
    for item in as_list(data):
        node = as_dict(item)
        code = text(node.get("courier_code"))
        if code:
            out.append({"name": text(node.get("courier_name")) or code, "code": code.lower()})
    return out


def _status(main: Any, sub: Any, table: Mapping[str, Status], subs: Mapping[str, Any]) -> Status:
    refined = subs.get((text(sub) or "").lower())
    status = table.get((text(main) or "").lower())
    if refined is not None and status not in (Status.PENDING, Status.EXPIRED):
        return Status(refined[0])
    return status if status is not None else Status.IN_TRANSIT


def _location(point: Mapping[str, Any]) -> str | None:
    where = text(point.get("location"))
    if where:
        return where
    parts = [text(point.get(k)) for k in ("city", "state", "country_iso2")]
    return ", ".join(p for p in parts if p) or None


def checkpoint_zone(point: Mapping[str, Any], leg: str | None) -> tzinfo | None:
    """A checkpoint's zone, as v2 reads it: the country its place names, else its own
    ``country_iso2``, else its leg's; None (naive) for a country with several zones."""
    place = text(point.get("location"))
    country = shared.place_country(place) or shared.country_code(point.get("country_iso2"))
    return shared.country_zone(country or leg)


def parse_checkpoint(
    node: Any,
    tz: tzinfo | None,
    table: Mapping[str, Status],
    subs: Mapping[str, Any],
    leg: str | None = None,
) -> Event | None:
    """One ``trackinfo`` checkpoint; None when it has neither time nor words. Without ``tz``
    (the ``timezone`` setting) its time gets the zone of the country it happened in
    (``checkpoint_zone``, of the leg country ``leg``)."""
    from waypost.models import Event  # lazily: the lean path reads v4 without pydantic

    point = as_dict(node)
    when = parse_time(point.get("checkpoint_date"), tz or checkpoint_zone(point, leg))
    words = text(point.get("tracking_detail"))
    if when is None and words is None:
        return None
    status = _status(
        point.get("checkpoint_delivery_status"),
        point.get("checkpoint_delivery_substatus"),
        table,
        subs,
    )
    return Event(time=when, location=_location(point), description=words, status=status)


def _eta(value: Any, tz: tzinfo | None) -> date | datetime | None:
    raw = text(value)
    if raw is None:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            return None
    return parse_time(raw, tz)


def _days(value: Any) -> int | None:
    days = code_of(value)
    return days if days is not None and 0 <= days < 10_000 else None


def _link(legs: Iterable[Mapping[str, Any]]) -> str | None:
    for leg in legs:
        link = text(leg.get("weblink"))
        if link and re.match(r"(?i)https?://[^\s/]", link):
            return link
    return None


def parse_tracking(
    item: Any,
    number: str,
    tz: tzinfo | None,
    table: Mapping[str, Status],
    subs: Mapping[str, Any],
    courier: str | None = None,
) -> Shipment:
    """One v4 tracking object as a Shipment; never raises.

    ``table`` maps ``delivery_status`` words and ``subs`` substatus codes to ``(Status, words)``
    (the version-independent tables of ``shared``).
    """
    from waypost.models import LastMile, Shipment

    node = as_dict(item)
    origin = as_dict(node.get("origin_info"))
    destination = as_dict(node.get("destination_info"))
    dest = shared.leg_country(node.get("destination_country"), destination.get("courier_code"))
    home = shared.leg_country(
        node.get("origin_country"), origin.get("courier_code") or node.get("courier_code")
    )
    legs = ((destination, dest), (origin, home))
    points = [(p, c) for leg, c in legs for p in as_list(leg.get("trackinfo"))]
    parsed = [(parse_checkpoint(p, tz, table, subs, c), as_dict(p)) for p, c in points]
    if as_list(destination.get("trackinfo")) and as_list(origin.get("trackinfo")):
        parsed = shared.same_step_same_time(parsed)
    events = merge_events(e for e, _ in parsed if e is not None)
    main = (text(node.get("delivery_status")) or "").lower()
    status = table.get(main, Status.IN_TRANSIT if events else Status.PENDING)
    refined = subs.get((text(node.get("substatus")) or "").lower())
    if refined is not None and status not in (Status.PENDING, Status.EXPIRED):
        status = Status(refined[0])
    latest = parse_time(node.get("latest_checkpoint_time"), tz)
    last_mile_number = number_of(node.get("destination_track_number"))
    last_mile = None
    if last_mile_number and last_mile_number != number:
        last_mile = LastMile(
            courier=text(destination.get("courier_code")), tracking_number=last_mile_number
        )
    eta = _eta(node.get("scheduled_delivery_date"), tz)
    return Shipment(
        tracking_number=number,
        carrier=NAME,
        courier=text(node.get("courier_code")) or courier,
        found=status is not Status.NOT_FOUND,
        status=status,
        status_text=_latest_words(node, events, str(refined[1]) if refined else None),
        service=text(node.get("service_code")),
        origin=text(node.get("origin_country")),
        destination=text(node.get("destination_country")),
        last_update=latest or (events[0].time if events else None),
        events=events,
        order_id=text(node.get("order_id")),
        eta=eta,
        eta_source="carrier" if eta is not None else None,
        transit_days=_days(node.get("transit_time")),
        last_mile=last_mile,
        link=_link((origin, destination)),
        archived=(text(node.get("archived")) or "").lower() in ("archived", "true"),
    )


def _latest_words(
    node: Mapping[str, Any], events: Sequence[Event], fallback: str | None
) -> str | None:
    """``latest_event`` ("description,place,time" as v2's ``lastEvent``) without the place and
    time glued on, read with v2's rule."""
    newest = (
        {"StatusDescription": events[0].description, "location": events[0].location}
        if events
        else None
    )
    item = {
        "lastEvent": node.get("latest_event"),
        "lastUpdateTime": node.get("latest_checkpoint_time"),
    }
    return shared._status_text(item, newest, fallback)
