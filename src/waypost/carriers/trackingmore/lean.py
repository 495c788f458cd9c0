"""TrackingMore API v4 tracking objects read without pydantic: the rules of
``v4_api.parse_tracking`` (which names the public source of every field) with the repeated work
remembered, into the lean records ``track``'s lean path prints (``quick_tm``) and from which
``v4_fast`` builds the models. The one home of the fast v4 rules: both paths take their fields
from ``fields``.

Answers repeat themselves: the same checkpoint times, places, countries and status words come
back for many trackings. Each pure step (a time string in a zone, a place's zone, a status pair,
a leg's country) is computed once per distinct input and kept in a bounded table; the records
are built anew for every tracking. Values that are not plain JSON strings take the general
readers of ``_parse``, so every input gives what ``parse_tracking`` gives
(``tests/carriers/trackingmore/test_v4_fast.py`` and ``test_lean.py`` prove it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from waypost.carriers._parse import merge_events, parse_time, text
from waypost.carriers.ils.lean import LeanEvent, LeanShipment, _Record, iso
from waypost.carriers.trackingmore import shared
from waypost.carriers.trackingmore import v4_api as api
from waypost.status import Status

MEMORY = 16384  # entries per table; a full table starts again empty

_MISSING = object()
_times: dict[tuple[str, tzinfo | None], datetime | None] = {}
_zones: dict[tuple[str | None, str | None, str | None], tzinfo | None] = {}
_states: dict[tuple[str | None, str | None], Status] = {}
_legs: dict[tuple[str | None, str | None], str | None] = {}
_Fields = tuple[datetime | None, str | None, str | None, Status]
_points: dict[tuple[Any, ...], _Fields | None] = {}
_links: dict[str, str | None] = {}

# (time, location, description, status) -> an event of the caller's kind.
MakeEvent = Callable[[datetime | None, str | None, str | None, Status], Any]
MakeLastMile = Callable[[str | None, str], Any]


class LeanLastMile(_Record):
    """``models.LastMile``'s fields."""

    __slots__ = ("courier", "tracking_number")

    def __init__(self, courier: str | None, tracking_number: str) -> None:
        self.courier = courier
        self.tracking_number = tracking_number

    def data(self) -> dict[str, Any]:
        """As ``model_dump(mode="json")`` gives it."""
        return {"courier": self.courier, "tracking_number": self.tracking_number}


class TrackingShipment(LeanShipment):
    """A lean shipment that may carry an ETA and a last mile (v4 sets both).

    No ``__slots__`` of its own: ``_Record`` iterates and copies ``LeanShipment``'s."""

    def data(self) -> dict[str, Any]:
        """The shipment as ``model_dump(mode="json")`` gives it."""
        out = super().data()
        eta = self.eta
        out["eta"] = (
            iso(eta) if isinstance(eta, datetime) else None if eta is None else eta.isoformat()
        )
        out["last_mile"] = None if self.last_mile is None else self.last_mile.data()
        return out


def lean_event(
    when: datetime | None, where: str | None, words: str | None, status: Status
) -> LeanEvent:
    """A lean event of one checkpoint."""
    return LeanEvent(when, where, words, status, [], None)


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


def _checkpoint(node: Any, tz: tzinfo | None, leg: str | None, event: MakeEvent) -> Any:
    """``api.parse_checkpoint`` with the shared status tables (a node that is not an object has
    neither time nor words: None)."""
    if not isinstance(node, dict):
        return None
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
    return event(*fields)


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


def http_link(value: str | None) -> str | None:
    """``models.Shipment``'s rule for ``link``: only http(s) links with a host, stripped."""
    if value is None:
        return None
    found = _links.get(value, _MISSING)
    if found is not _MISSING:
        return found  # type: ignore[return-value]
    return _remember(_links, value, _http_link(value))  # type: ignore[no-any-return]


def _http_link(value: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value.strip()


def fields(
    node: dict[str, Any],
    number: str,
    tz: tzinfo | None,
    courier: str | None,
    event: MakeEvent,
    last_mile_of: MakeLastMile,
) -> dict[str, Any]:
    """The Shipment fields of one v4 tracking object (with the shared status tables), events
    and last mile made by ``event`` and ``last_mile_of``; never raises."""
    get = node.get
    origin = _dict(get("origin_info"))
    destination = _dict(get("destination_info"))
    dest = _leg(get("destination_country"), destination.get("courier_code"))
    home = _leg(get("origin_country"), origin.get("courier_code") or get("courier_code"))
    later = _list(destination.get("trackinfo"))
    earlier = _list(origin.get("trackinfo"))
    if later and earlier:
        # Both legs: v4's rule that one step in both takes the first copy's time.
        parsed = [(_checkpoint(p, tz, dest, event), _dict(p)) for p in later]
        parsed += [(_checkpoint(p, tz, home, event), _dict(p)) for p in earlier]
        found = [e for e, _ in shared.same_step_same_time(parsed) if e is not None]
    else:
        leg = dest if later else home
        points = (_checkpoint(p, tz, leg, event) for p in later or earlier)
        found = [e for e in points if e is not None]
    events = merge_events(found) if len(found) > 1 else found
    table, subs = shared.STATUS, shared.SUBSTATUS
    main = (_text(get("delivery_status")) or "").lower()
    status = table.get(main, Status.IN_TRANSIT if events else Status.PENDING)
    refined = subs.get((_text(get("substatus")) or "").lower())
    if refined is not None and status not in (Status.PENDING, Status.EXPIRED):
        status = Status(refined[0])
    latest = _time(get("latest_checkpoint_time"), tz)
    last_mile_number = api.number_of(get("destination_track_number"))
    last_mile = None
    if last_mile_number and last_mile_number != number:
        last_mile = last_mile_of(_text(destination.get("courier_code")), last_mile_number)
    eta = api._eta(get("scheduled_delivery_date"), tz)
    return {
        "tracking_number": number,
        "carrier": api.NAME,
        "courier": _text(get("courier_code")) or courier,
        "found": status is not Status.NOT_FOUND,
        "status": status,
        "status_text": api._latest_words(node, events, str(refined[1]) if refined else None),
        "service": _text(get("service_code")),
        "origin": _text(get("origin_country")),
        "destination": _text(get("destination_country")),
        "last_update": latest or (events[0].time if events else None),
        "events": events,
        "order_id": _text(get("order_id")),
        "eta": eta,
        "eta_source": "carrier" if eta is not None else None,
        "transit_days": api._days(get("transit_time")),
        "last_mile": last_mile,
        "link": api._link((origin, destination)),
        "archived": (_text(get("archived")) or "").lower() in ("archived", "true"),
    }


def parse_tracking(
    item: dict[str, Any], number: str, tz: tzinfo | None, courier: str | None = None
) -> TrackingShipment:
    """One v4 tracking object as a lean record, equal to ``v4_fast.parse_tracking``'s model."""
    values = fields(item, number, tz, courier, lean_event, LeanLastMile)
    values["link"] = http_link(values.pop("link"))
    del values["tracking_number"]
    return TrackingShipment(number, **values)
