"""What the TrackingMore account has left (SPEC.md, "The watch list manages itself": quota).

``read`` asks the account (API v2 ``GET /trackings/getuserinfo``; v4 does not tell, so it proves
the key with ``GET /couriers/all`` instead) for ``carriers --check trackingmore`` and keeps the
answer, with the time it was read, in the store's state table; ``kept`` is that value and its
age, which ``carriers`` shows without a request (it answers from declarations, offline), and
``track`` and ``watch`` warn from it while it is younger than ``MAX_AGE``. ``watch`` reads it
again once it is that old (``refresh``: one request a day, not one per cron pass); ``track``
spends no request on it. Importing this module costs nothing: no pydantic, no httpx, no store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from waypost.carriers.base import Cache
    from waypost.config import Config
    from waypost.store.protocols import StateStore

ACCOUNT = "trackingmore"
MAX_AGE = 86400.0
NAMESPACE = "trackingmore.quota"
KEY = "v2"
COMMAND = "`waypost carriers --check trackingmore`"
V4_WHY = "TrackingMore API v4 does not tell the remaining quota"


def told(config: Config) -> bool:
    """True where the configured API tells the quota (v2; v4 does not)."""
    from waypost.carriers import trackingmore as tm

    return tm.api_version(config.carrier(ACCOUNT)) == "v2"


def kept(config: Config, state: StateStore | None, *, now: float | None = None) -> dict[str, Any]:
    """What the TrackingMore account had left when waypost last read it, with ``read_at`` and
    ``age_seconds``: ``{"told", "remaining", "balance", "read_at", "age_seconds"}`` (``told``
    False, with ``why``, where nothing is kept or the API does not say). No request is made."""
    if not told(config):
        return {"told": False, "why": V4_WHY}
    value = _stored(state)
    if value is None:
        return {"told": False, "why": f"not read yet ({COMMAND} reads it)"}
    at = _read_time(value)
    current = _clock() if now is None else now
    return {**value, "age_seconds": None if at is None else max(0.0, round(current - at, 1))}


def read(
    config: Config, cache: Cache | None, state: StateStore | None, *, timeout: float
) -> dict[str, Any]:
    """Ask the TrackingMore account what it has left now (``carriers --check trackingmore``)
    and keep the answer with its time in ``state``; a refused read raises (WaypostError).
    On v4, which tells no quota, one call that needs the key checks it all the same."""
    from waypost import service
    from waypost.carriers.trackingmore import account

    if not told(config):
        service.call_adapter(ACCOUNT, config, account.check, timeout=timeout, cache=cache)
        return kept(config, state)

    call: Callable[[Any], Any] = account.quota
    value = service.call_adapter(ACCOUNT, config, call, timeout=timeout, cache=cache)
    stored = {"told": True, **(value or {}), "read_at": _iso(_clock())}
    if state is not None:
        state.put(NAMESPACE, KEY, stored)
    return {**stored, "age_seconds": 0.0}


def refresh(
    config: Config, cache: Cache | None, state: StateStore | None, *, timeout: float
) -> None:
    """Read the quota again (one request) when the kept value is missing or a day old, for
    ``watch``: a cron line then keeps its warning current at one request a day; a refused or
    failed read keeps the last value and says nothing here (``carriers --check`` reports)."""
    if not told(config) or not config.configured(ACCOUNT):
        return
    at = _read_time(_stored(state) or {})
    if at is not None and _clock() - at < MAX_AGE:
        return
    from waypost.errors import WaypostError

    try:
        read(config, cache, state, timeout=timeout)
    except WaypostError:
        return


def warning(config: Config, needed: int, cache: Cache | None, *, timeout: float) -> str | None:
    """One warning line when the TrackingMore account had fewer trackings left than ``needed``
    when last read (within ``MAX_AGE``)."""
    if needed <= 0 or not config.configured(ACCOUNT):
        return None
    if not told(config):
        return None
    known = kept(config, cache.state if cache is not None else None)
    left, age = known.get("remaining"), known.get("age_seconds")
    if not isinstance(left, int) or left >= needed:
        return None
    if not isinstance(age, float) or age > MAX_AGE:
        return None
    return (
        f"warning: the TrackingMore account has {left} tracking(s) left and this run may need "
        f"up to {needed}; numbers past that fail (4021)"
    )


def _clock() -> float:
    from waypost import insights

    return insights.clock()


def _iso(at: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _stored(state: StateStore | None) -> dict[str, Any] | None:
    """The last successful read kept in ``state`` (None: none, or unreadable)."""
    value = state.get(NAMESPACE, KEY) if state is not None else None
    if not isinstance(value, dict) or value.get("told") is not True:
        return None
    return value


def _read_time(kept: dict[str, Any]) -> float | None:
    from waypost import insights

    at = insights.when(kept.get("read_at"))
    return None if at is None else at.timestamp()
