"""TrackingMore API v4 tracking objects as Shipments, the fast way: the rules of
``v4_api.parse_tracking`` (which names the public source of every field) as ``lean`` applies
them, with the repeated work remembered, built into models.

``lean`` is the one home of these rules (``track``'s lean path prints its records); here its
fields become a ``Shipment`` with ``Event`` and ``LastMile`` models, unshared, so nothing can
alter one answer through another. The tests prove that every input gives what
``parse_tracking`` gives (on the recorded answers and on generated ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from waypost.carriers.trackingmore import lean, shared
from waypost.carriers.trackingmore import v4_api as api
from waypost.carriers.trackingmore.lean import _legs, _points, _states, _times, _zones
from waypost.models import Event, LastMile, Shipment, Status

__all__ = ["_legs", "_points", "_states", "_times", "_zones", "parse_tracking"]


def _event(when: datetime | None, where: str | None, words: str | None, status: Status) -> Event:
    return Event(time=when, location=where, description=words, status=status)


def _last_mile(courier: str | None, number: str) -> LastMile:
    return LastMile(courier=courier, tracking_number=number)


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
    return Shipment(**lean.fields(item, number, tz, courier, _event, _last_mile))
