"""ETA, stalled shipments and alert filters (SPEC.md, "The watch list manages itself").

Pure functions over plain values (stored rows, Shipments, the config): no I/O, no pydantic at
import time, so that ``waypost list`` stays quick.

* ``eta``: the carrier's date where it gives one (``eta_source: "carrier"``), else learned
  from the user's own delivered shipments: once at least ``MIN_SAMPLES`` (3) of them share
  carrier, courier and route (origin and destination, both known), the median of their whole
  transit days (first event to delivery, floored) is added to this shipment's first event
  (``eta_source: "history"``). With an even count the lower middle value is taken: a day that
  really happened, never half of one.
* ``stalled``: not final and the newest event older than ``carriers.NAME.stalled_after``, else
  ``[watch] stalled_after``, else the carrier's default below, else ``7d``. Defaults: ILS
  ``21d`` (sea freight: weeks at sea without a scan are normal), PandaPon ``4d`` (1688/Taobao
  parcels travel with domestic Chinese couriers that scan daily); TrackingMore's couriers take
  the general ``7d``. A shipment without any dated event is never stalled (nothing to age).
* ``watch --on`` / ``[watch] on``: statuses, plus the words ``stalled`` and ``eta``.

Times without a zone are read as UTC: whole days are all these rules need.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from waypost.errors import UsageError
from waypost.status import FINAL_STATUSES, Status

if TYPE_CHECKING:
    from pathlib import Path

    from waypost.models import Shipment


class Config(Protocol):
    """What these rules read of the configuration (``config.Config``, ``LightSettings``)."""

    watch: dict[str, Any]

    def carrier(self, name: str) -> dict[str, Any]:
        """Settings of carrier ``name``."""


# The clock of every rule here (tests replace it).
clock: Callable[[], float] = time.time

MIN_SAMPLES = 3
DEFAULT_STALLED = "7d"
CARRIER_STALLED: Mapping[str, str] = {"ils": "21d", "pandapon": "4d"}
ON_WORDS = ("stalled", "eta")
MAX_SPAN_DAYS = 3650
DAY = 86400.0

_SPAN = re.compile(r"(\d+(?:\.\d+)?)(s|m|h|d|w)?")
_SPAN_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY, "w": 7 * DAY, None: 1.0}


def parse_span(raw: str) -> float:
    """``7d``, ``36h``, ``2w``, ``1d12h`` -> seconds (> 0, at most 10 years); ValueError else."""
    cleaned = "".join(str(raw).split()).lower()
    if not cleaned:
        raise ValueError("is empty; use e.g. 7d, 36h or 2w")
    pos, total = 0, 0.0
    while pos < len(cleaned):
        m = _SPAN.match(cleaned, pos)
        if m is None:
            raise ValueError(f"{raw!r} is not a duration; use e.g. 7d, 36h or 2w")
        total += float(m.group(1)) * _SPAN_UNITS[m.group(2)]
        pos = m.end()
    if total <= 0:
        raise ValueError(f"{raw!r} must be longer than zero")
    if total > MAX_SPAN_DAYS * DAY:
        raise ValueError(f"{raw!r} is longer than {MAX_SPAN_DAYS} days")
    return total


def when(raw: str | datetime | None) -> datetime | None:
    """A stored ISO time (or a datetime) as an aware datetime; naive ones read as UTC."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        parsed = raw
    else:
        try:
            parsed = datetime.fromisoformat(raw)
        except (TypeError, ValueError):
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def stalled_after(config: Config | None, carrier: str) -> float:
    """Seconds without a new event after which a shipment of ``carrier`` is stalled."""
    if config is not None:
        own = config.carrier(carrier).get("stalled_after")
        if own:
            return parse_span(str(own))
        general = config.watch.get("stalled_after")
        if general:
            return parse_span(str(general))
    return parse_span(CARRIER_STALLED.get(carrier, DEFAULT_STALLED))


_NOT_AGING = frozenset({s.value for s in FINAL_STATUSES} | {Status.UNKNOWN.value})


def is_stalled(status: str, newest: str | datetime | None, threshold: float, now: float) -> bool:
    """Not final, and the newest event is older than ``threshold`` seconds."""
    if status in _NOT_AGING:
        return False
    latest = when(newest)
    return latest is not None and now - latest.timestamp() > threshold


def newest_time(shipment: Shipment) -> datetime | None:
    """The time of a shipment's newest dated event."""
    times = [t for t in (when(e.time) for e in shipment.events) if t is not None]
    return max(times, default=None)


def first_time(times: Iterable[str | datetime | None]) -> datetime | None:
    """The earliest of event times."""
    parsed = [t for t in (when(x) for x in times) if t is not None]
    return min(parsed, default=None)


class LightSettings:
    """The keys these rules read, without loading the whole configuration (``list``)."""

    # Plain classes here, not dataclasses: generating their methods (and importing dataclasses)
    # costs more start-up than `waypost list` has to spare.
    def __init__(self, watch: dict[str, Any], carriers: dict[str, dict[str, Any]]) -> None:
        self.watch, self.carriers = watch, carriers

    def carrier(self, name: str) -> dict[str, Any]:
        """The watch-list settings of carrier ``name``."""
        return self.carriers.get(name, {})


def light_settings(
    explicit: Path | None = None, env: Mapping[str, str] | None = None
) -> LightSettings | None:
    """``[watch] stalled_after`` and ``carriers.NAME.stalled_after`` (file and variables) read
    cheaply; None when anything is off, so that the caller loads (and reports) the config."""
    import os

    from waypost.paths import config_path, read_config_data

    env = os.environ if env is None else env
    if any(k.startswith("WAYPOST_WATCH_") and v.strip() for k, v in env.items()):
        return None  # [watch] from the environment: the full load reads and checks it
    data: dict[str, Any] = {}
    try:
        target = config_path(explicit, env)
        if explicit is not None and not target.is_file():
            return None
        data = read_config_data(target)
    except (OSError, UnicodeError, ValueError, RecursionError, MemoryError):
        return None
    watch = data.get("watch", {})
    sections = data.get("carriers", {})
    if not isinstance(watch, dict) or not isinstance(sections, dict):
        return None
    found: dict[str, dict[str, Any]] = {}
    for name, section in sections.items():
        if not isinstance(section, dict):
            return None
        if "stalled_after" in section:
            found[name] = {"stalled_after": section["stalled_after"]}
    for key, raw in env.items():  # WAYPOST_<CARRIER>_STALLED_AFTER wins (the registry unread)
        m = re.fullmatch(r"WAYPOST_([A-Z0-9]+)_STALLED_AFTER", key)
        if m and raw.strip():
            found[m.group(1).lower()] = {"stalled_after": raw.strip()}
    spans = [watch.get(k) for k in ("stalled_after", "archive_delivered_after")]
    try:
        for value in [*spans, *(c["stalled_after"] for c in found.values())]:
            if value is not None:
                parse_span(value if isinstance(value, str) else "")
        on = watch.get("on", [])
        parse_on(on if isinstance(on, list) else ["-"], source="watch.on")
    except (ValueError, UsageError):
        return None
    return LightSettings(dict(watch), found)


# -- ETA learned from history -----------------------------------------------------------------

RouteKey = tuple[str, str, str, str]


def route_key(
    carrier: str, courier: str | None, origin: str | None, destination: str | None
) -> RouteKey | None:
    """What shipments must share to teach each other an ETA; None when the route is unknown."""
    if not courier or not origin or not destination:
        return None
    return (
        carrier,
        courier.lower(),
        " ".join(origin.split()).casefold(),
        " ".join(destination.split()).casefold(),
    )


class History:
    """Whole transit days of the user's delivered shipments, per carrier, courier and route."""

    def __init__(self, days: dict[RouteKey, list[tuple[int, int]]] | None = None) -> None:
        self.days: dict[RouteKey, list[tuple[int, int]]] = {} if days is None else days
        self._medians: dict[RouteKey, int | None] = {}
        self._ids: dict[RouteKey, set[int]] = {}

    @classmethod
    def learn(cls, deliveries: Iterable[Sequence[Any]]) -> History:
        """From ``Store.deliveries()`` rows: (id, carrier, courier, origin, destination, first
        event time, delivery time, ...)."""
        history = cls()
        for row in deliveries:
            key = route_key(row[1], row[2], row[3], row[4])
            first, done = when(row[5]), when(row[6])
            if key is None or first is None or done is None or done < first:
                continue
            days = int((done - first).total_seconds() // DAY)
            history.days.setdefault(key, []).append((int(row[0]), days))
        return history

    def transit_days(self, key: RouteKey | None, exclude: int | None = None) -> int | None:
        """The median whole transit days of the route, once ``MIN_SAMPLES`` shipments (other
        than ``exclude``, a row id) teach it."""
        if key is None:
            return None
        listed = self.days.get(key, [])
        if key not in self._ids:
            self._ids[key] = {row_id for row_id, _ in listed}
        mine = exclude in self._ids[key]
        if not mine and key in self._medians:
            return self._medians[key]
        samples = [d for row_id, d in listed if row_id != exclude]
        median = _median_low(samples) if len(samples) >= MIN_SAMPLES else None
        if not mine:
            self._medians[key] = median
        return median

    def eta(
        self, key: RouteKey | None, first_event: datetime | None, exclude: int | None = None
    ) -> date | None:
        """This shipment's first event plus the route's median transit days."""
        days = self.transit_days(key, exclude)
        if days is None or first_event is None:
            return None
        return (first_event + timedelta(days=days)).date()


def _median_low(values: list[int]) -> int:
    """The median, the lower middle value of an even count."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def annotate(
    shipment: Shipment,
    config: Config | None,
    history: History | None = None,
    *,
    now: float | None = None,
    row_id: int | None = None,
    thresholds: dict[str, float] | None = None,
) -> Shipment:
    """``shipment`` with ``stalled`` set and, without a carrier ETA, one learned from history;
    ``thresholds`` keeps each carrier's ``stalled_after`` across calls."""
    now = clock() if now is None else now
    update: dict[str, Any] = {}
    thresholds = {} if thresholds is None else thresholds
    if shipment.carrier not in thresholds:
        thresholds[shipment.carrier] = stalled_after(config, shipment.carrier)
    stalled = is_stalled(
        shipment.status.value, newest_time(shipment), thresholds[shipment.carrier], now
    )
    if stalled != shipment.stalled:
        update["stalled"] = stalled
    if (
        history is not None
        and shipment.eta is None
        and shipment.found
        and not Status(shipment.status).final
    ):
        key = route_key(shipment.carrier, shipment.courier, shipment.origin, shipment.destination)
        learned = history.eta(key, first_time(e.time for e in shipment.events), exclude=row_id)
        if learned is not None:
            update.update(eta=learned, eta_source="history")
    return shipment.model_copy(update=update) if update else shipment


def as_date(value: str | date | datetime | None) -> date | None:
    """An ETA (stored ISO text, a date or a date-time) as a calendar date."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None


def short_date(day: date) -> str:
    """``Dec 5`` (with the year when it is not ``year``)."""
    return f"{day:%b} {day.day}"


def eta_moved(
    old: str | date | None, new: str | date | datetime | None
) -> tuple[date, date] | None:
    """(old, new) when a known ETA moved by a day or more."""
    before, after = as_date(old), as_date(new)
    if before is None or after is None or before == after:
        return None
    return before, after


def moved_text(moved: tuple[date, date]) -> str:
    """``ETA moved: Dec 5 -> Dec 8``."""
    before, after = moved
    if before.year != after.year:
        return f"ETA moved: {short_date(before)} {before.year} -> {short_date(after)} {after.year}"
    return f"ETA moved: {short_date(before)} -> {short_date(after)}"


# -- alert filters ----------------------------------------------------------------------------


def parse_on(values: Iterable[str], *, source: str = "--on") -> frozenset[str] | None:
    """``watch --on`` values (comma lists, repeatable) -> the statuses and words; None: all."""
    chosen: list[str] = []
    for value in values:
        chosen.extend(p.strip().lower() for p in str(value).split(",") if p.strip())
    if not chosen:
        return None
    known = [s.value for s in Status if s is not Status.UNKNOWN]
    bad = [c for c in chosen if c not in known and c not in ON_WORDS]
    if bad:
        raise UsageError(
            f"{source}: unknown status or word {bad[0]!r}",
            hint=f"use any of: {', '.join(known + list(ON_WORDS))}",
        )
    return frozenset(chosen)


def wanted(
    on: frozenset[str] | None,
    *,
    before: str,
    after: str,
    events: bool,
    stalled: bool,
    eta: bool,
) -> bool:
    """Whether news passes the filter: an event that brought the shipment into one of the
    statuses, or a stalled / ETA news when those words are chosen."""
    if on is None:
        return events or stalled or eta
    return (
        (events and after in on and after != before)
        or (stalled and "stalled" in on)
        or (eta and "eta" in on)
    )


# -- the watch list's rows ------------------------------------------------------------------


class RowFacts:
    """The facts ``list`` shows of each row, one row at a time: ``stalled`` from the row alone,
    ``eta`` learned from ``deliveries()`` (read only once a row needs it), ``transit_days``."""

    def __init__(
        self,
        config: Config | None,
        deliveries: Callable[[], Iterable[Sequence[Any]]],
        now: float,
        history: History | None = None,
    ) -> None:
        self.config, self.now = config, now
        self._deliveries = deliveries
        self._history = history
        self._thresholds: dict[str, float] = {}

    def history(self) -> History:
        """What the user's delivered shipments teach (read on first use)."""
        if self._history is None:
            self._history = History.learn(self._deliveries())
        return self._history

    def stalled(self, row: Any) -> bool:
        """Not final and no event for longer than the carrier's ``stalled_after``."""
        if row.carrier not in self._thresholds:
            self._thresholds[row.carrier] = stalled_after(self.config, row.carrier)
        return is_stalled(row.status, row.last_event_time, self._thresholds[row.carrier], self.now)

    def of(self, row: Any, first_event: str | None) -> dict[str, Any]:
        """``eta``, ``eta_source``, ``stalled``, ``transit_days`` of ``row`` whose earliest
        stored event time is ``first_event``."""
        first = when(first_event)
        eta: date | None = as_date(row.eta)
        source = row.eta_source if eta is not None else None
        if eta is None and not row.final:
            key = route_key(row.carrier, row.courier, row.origin, row.destination)
            if key is not None:
                eta = self.history().eta(key, first, row.id)
                source = "history" if eta is not None else None
        done = when(row.last_event_time) if row.status == Status.DELIVERED.value else None
        return {
            "eta": eta.isoformat() if eta is not None else None,
            "eta_source": source,
            "stalled": self.stalled(row),
            "transit_days": int((done - first).total_seconds() // DAY)
            if done is not None and first is not None and done >= first
            else None,
        }


def summary(rows: Iterable[Any], stalled: Callable[[Any], bool], archived: int) -> dict[str, Any]:
    """Counts per status of the watch list, with the stalled (``stalled(row)``) and archived
    ones; ``rows`` are read once, as they come."""
    counts: dict[str, int] = {}
    total = stuck = 0
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
        total += 1
        stuck += bool(stalled(row))
    order = [s.value for s in Status]
    statuses = {
        k: counts[k]
        for k in sorted(counts, key=lambda s: (order.index(s) if s in order else 99, s))
    }
    return {"total": total, "statuses": statuses, "stalled": stuck, "archived": archived}
