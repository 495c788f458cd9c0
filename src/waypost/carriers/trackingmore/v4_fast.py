"""TrackingMore API v4 tracking objects as Shipments, the fast way: the rules of
``v4_api.parse_tracking`` (which names the public source of every field) with the
repeated work remembered.

Answers repeat themselves: the same checkpoint times, places, countries and status words come
back for many trackings. Each pure step (a time string in a zone, a place's zone, a status pair,
a leg's country) is computed once per distinct input and kept in a bounded table; only the
models are built anew for every tracking (they stay unshared, so nothing can alter one answer
through another). Values that are not plain JSON strings take the general readers of
``_parse``, so every input gives what ``parse_tracking`` gives (the tests prove it on the
recorded answers and on generated ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from waypost.carriers._parse import merge_events, parse_time, text
from waypost.carriers.trackingmore import shared
from waypost.carriers.trackingmore import v4_api as api
from waypost.models import Event, LastMile, Shipment, Status

MEMORY = 16384  # entries per table; a full table starts again empty

_MISSING = object()
_times: dict[tuple[str, tzinfo | None], datetime | None] = {}
_zones: dict[tuple[str | None, str | None, str | None], tzinfo | None] = {}
_states: dict[tuple[str | None, str | None], Status] = {}
_legs: dict[tuple[str | None, str | None], str | None] = {}
_Fields = tuple[datetime | None, str | None, str | None, Status]
_points: dict[tuple[Any, ...], _Fields | None] = {}


def _remember(table: dict[Any, Any], key: Any, value: Any) -> Any:
    if len(table) >= MEMORY:
        table.clear()
    table[key] = value
    return value


def _text(value: Any) -> str | None:
    """``_parse.text``, with plain ASCII strings read without the general path."""
    if type(value) is str:
        out = value.strip()
        if out.isascii():
            return out or None
    elif value is None:
        return None
    return text(value)


def _plain(value: Any) -> bool:
    return value is None or type(value) is str


def _time(value: Any, tz: tzinfo | None) -> datetime | None:
    if type(value) is not str:
        return parse_time(value, tz)
    key = (value, tz)
    found = _times.get(key, _MISSING)
    if found is _MISSING:
        found = _remember(_times, key, parse_time(value, tz))
    return found  # type: ignore[return-value]


def _zone(place: Any, country: Any, leg: str | None) -> tzinfo | None:
    if not (_plain(place) and _plain(country)):
        return api.checkpoint_zone({"location": place, "country_iso2": country}, leg)
    key = (place, country, leg)
    found = _zones.get(key, _MISSING)
    if found is _MISSING:
        point = {"location": place, "country_iso2": country}
        found = _remember(_zones, key, api.checkpoint_zone(point, leg))
    return found  # type: ignore[return-value]


def _state(main: Any, sub: Any) -> Status:
    if not (_plain(main) and _plain(sub)):
        return api._status(main, sub, shared.STATUS, shared.SUBSTATUS)
    key = (main, sub)
    found = _states.get(key)
    if found is None:
        found = _remember(_states, key, api._status(main, sub, shared.STATUS, shared.SUBSTATUS))
    return found


def _leg(country: Any, courier: Any) -> str | None:
    if not (_plain(country) and _plain(courier)):
        return shared.leg_country(country, courier)
    key = (country, courier)
    found = _legs.get(key, _MISSING)
    if found is _MISSING:
        found = _remember(_legs, key, shared.leg_country(country, courier))
    return found  # type: ignore[return-value]


def _checkpoint(node: Any, tz: tzinfo | None, leg: str | None) -> Event | None:
    """``api.parse_checkpoint`` with the shared status tables."""
    if not isinstance(node, dict):
        return api.parse_checkpoint(node, tz, shared.STATUS, shared.SUBSTATUS, leg)
    get = node.get
    key = (
        get("checkpoint_date"),
        get("tracking_detail"),
        get("location"),
        get("country_iso2"),
        get("city"),
        get("state"),
        get("checkpoint_delivery_status"),
        get("checkpoint_delivery_substatus"),
        tz,
        leg,
    )
    fields: _Fields | None
    if all(v is None or type(v) is str for v in key[:8]):
        found = _points.get(key, _MISSING)
        if found is _MISSING:
            found = _remember(_points, key, _point_fields(key))
        fields = found  # type: ignore[assignment]
    else:  # numbers, lists or objects where text belongs (1 == 1.0 == True): not remembered
        fields = _point_fields(key)
    if fields is None:
        return None
    when, where, words, status = fields
    return Event(time=when, location=where, description=words, status=status)


def _point_fields(key: tuple[Any, ...]) -> _Fields | None:
    """(time, location, description, status) of one checkpoint's values, or None."""
    date, detail, place, country, city, state, main, sub, tz, leg = key
    when = _time(date, tz or _zone(place, country, leg))
    words = _text(detail)
    if when is None and words is None:
        return None
    where = _text(place)
    if where is None:
        parts = [_text(city), _text(state), _text(country)]
        where = ", ".join(p for p in parts if p) or None
    return when, where, words, _state(main, sub)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_tracking(
    item: Any,
    number: str,
    tz: tzinfo | None,
    table: Mapping[str, Status] = shared.STATUS,
    subs: Mapping[str, Any] = shared.SUBSTATUS,
    courier: str | None = None,
) -> Shipment:
    """One v4 tracking object as a Shipment, equal to ``api.parse_tracking``'s; never raises."""
    if not isinstance(item, dict) or table is not shared.STATUS or subs is not shared.SUBSTATUS:
        return api.parse_tracking(item, number, tz, table, subs, courier)
    node: dict[str, Any] = item
    get = node.get
    origin = _dict(get("origin_info"))
    destination = _dict(get("destination_info"))
    dest = _leg(get("destination_country"), destination.get("courier_code"))
    home = _leg(get("origin_country"), origin.get("courier_code") or get("courier_code"))
    later = _list(destination.get("trackinfo"))
    earlier = _list(origin.get("trackinfo"))
    if later and earlier:
        # Both legs: v4's rule that one step in both takes the first copy's time.
        parsed = [(_checkpoint(p, tz, dest), _dict(p)) for p in later]
        parsed += [(_checkpoint(p, tz, home), _dict(p)) for p in earlier]
        found = [e for e, _ in shared.same_step_same_time(parsed) if e is not None]
    else:
        leg = dest if later else home
        found = [e for e in (_checkpoint(p, tz, leg) for p in later or earlier) if e is not None]
    events = merge_events(found) if len(found) > 1 else found
    main = (_text(get("delivery_status")) or "").lower()
    status = table.get(main, Status.IN_TRANSIT if events else Status.PENDING)
    refined = subs.get((_text(get("substatus")) or "").lower())
    if refined is not None and status not in (Status.PENDING, Status.EXPIRED):
        status = Status(refined[0])
    latest = _time(get("latest_checkpoint_time"), tz)
    last_mile_number = api.number_of(get("destination_track_number"))
    last_mile = None
    if last_mile_number and last_mile_number != number:
        last_mile = LastMile(
            courier=_text(destination.get("courier_code")), tracking_number=last_mile_number
        )
    eta = api._eta(get("scheduled_delivery_date"), tz)
    return Shipment(
        tracking_number=number,
        carrier=api.NAME,
        courier=_text(get("courier_code")) or courier,
        found=status is not Status.NOT_FOUND,
        status=status,
        status_text=api._latest_words(node, events, str(refined[1]) if refined else None),
        service=_text(get("service_code")),
        origin=_text(get("origin_country")),
        destination=_text(get("destination_country")),
        last_update=latest or (events[0].time if events else None),
        events=events,
        order_id=_text(get("order_id")),
        eta=eta,
        eta_source="carrier" if eta is not None else None,
        transit_days=api._days(get("transit_time")),
        last_mile=last_mile,
        link=api._link((origin, destination)),
        archived=(_text(get("archived")) or "").lower() in ("archived", "true"),
    )
