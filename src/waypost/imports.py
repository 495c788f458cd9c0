"""``waypost import pandapon`` and ``carriers --check``: the account's orders onto the watch list.

Follows SPEC.md, "PandaPon orders and journeys". The order lists are paged through the adapter
(``carriers/pandapon/orders.py`` builds and parses them); every order in the window that is not
watched yet is added: a shipped one with its parcels (one logistics call, as ``track --save``
would, so its history counts as seen), an unshipped one as a single ``pending`` shipment
numbered by the order id that gains its parcels when the seller ships. Nothing here renders
tables: the summary is plain lines or one JSON document.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, TYPE_CHECKING, Any

from waypost.errors import CarrierError, MissingCredentials, UsageError

if TYPE_CHECKING:
    from waypost.carriers.base import Cache
    from waypost.carriers.pandapon.orders import Order
    from waypost.config import Config
    from waypost.store.protocols import WatchStore as Store

DEFAULT_SINCE = "30d"
MAX_SINCE_DAYS = 3660
# The state-store entry where ``[watch] import`` remembers its last complete import.
STATE_NAMESPACE = "pandapon.import"
# Each watch pass imports again from a little before the last complete import (orders can be
# listed late); the first pass looks back DEFAULT_SINCE.
OVERLAP = 86_400.0
PLATFORMS = ("1688", "taobao")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_since(raw: str, now: float) -> float:
    """``--since``: a duration back from now (``30d``, ``2w``, ``12h``, ``1d12h``) or a date or
    date-time (``2026-11-01``, ``2026-11-01T08:00``, UTC unless it carries an offset) -> Unix
    time. Anything else, a future time or more than ten years back is a UsageError."""
    cleaned = "".join(raw.split()).lower()
    if not cleaned:
        raise UsageError("--since is empty; use e.g. 30d, 2w or 2026-11-01")
    start: float | None = None
    if cleaned[0].isdigit() and "-" in cleaned:
        start = _date_time(raw.strip())
    else:
        pos, total = 0, 0.0
        while pos < len(cleaned):
            m = _DURATION.match(cleaned, pos)
            if m is None:
                raise UsageError(
                    f"invalid --since {raw.strip()[:40]!r}; use e.g. 30d, 2w, 12h or 2026-11-01"
                )
            total += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if total <= 0:
            raise UsageError("--since must reach back more than zero seconds")
        start = now - total
    if start > now:
        raise UsageError(f"--since {raw.strip()[:40]!r} is in the future")
    if now - start > MAX_SINCE_DAYS * 86400:
        raise UsageError(f"--since {raw.strip()[:40]!r} reaches back more than ten years")
    return start


def _date_time(raw: str) -> float:
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError(
            f"invalid --since date {raw[:40]!r}; use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def label_of(order: Order, limit: int = 60) -> str | None:
    """A label from the order: its first product's title and the shop, shortened."""
    parts = [p for p in (order.title, order.shop) if p]
    if not parts:
        return None
    text = " · ".join(parts)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass
class Summary:
    """What one import did."""

    new: list[dict[str, Any]] = field(default_factory=list)
    watched: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0
    pages: int = 0
    failed: list[str] = field(default_factory=list)
    returns: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "import": {
                "carrier": "pandapon",
                "new": self.new,
                "already_watched": self.watched,
                "skipped": self.skipped,
                "failed": self.failed,
                "returns": self.returns,
                "pages": self.pages,
                "requests": self.requests,
            }
        }

    def lines(self) -> list[str]:
        """The plain summary."""
        from waypost.safe import field as shown

        out = [
            f"pandapon: {len(self.new)} new, {len(self.watched)} already watched, "
            f"{len(self.skipped)} skipped ({self.pages} page(s), {self.requests} request(s))"
        ]
        for item in self.new:
            parcels = ", ".join(shown(n) for n in item["numbers"])
            label = f"  {shown(item['label'])}" if item.get("label") else ""
            out.append(
                f"new\t{item['platform']}:{item['order_id']}\t{item['status']}\t{parcels}{label}"
            )
        for order_id in self.watched:
            out.append(f"watched\t{order_id}")
        for item in self.skipped:
            out.append(f"skipped\t{item['order_id']}\t{shown(item['why'])}")
        for item in self.returns:
            out.append(
                f"return\t{item['order_id']}\t{shown(item['query'])}\tafter {shown(item['after'])}"
            )
        return out


async def _import(
    adapter: Any,
    store: Store,
    platforms: Sequence[str],
    start: float,
    end: float,
    label: str | None,
    summary: Summary,
) -> None:
    from waypost.carriers.base import Query, TrackOptions
    from waypost.carriers.pandapon.orders import MAX_PAGES

    mine = store.watched(carrier="pandapon")
    known = {r.order_id for r in mine if r.order_id} | {r.number for r in mine}
    orders: list[Order] = []
    for platform in platforms:
        page = 1
        while page <= MAX_PAGES:
            listed = await adapter.orders(platform, start, end, page)
            summary.pages += 1
            orders.extend(listed.orders)
            if not listed.more:
                break
            page += 1
    seen: set[tuple[str, str]] = set()
    to_ask: list[Order] = []
    for order in orders:
        if (order.platform, order.order_id) in seen:
            continue
        seen.add((order.platform, order.order_id))
        if order.created is not None and not start <= order.created <= end:
            summary.skipped.append({"order_id": order.order_id, "why": "outside the window"})
        elif order.order_id in known:
            summary.watched.append(order.order_id)
        elif order.skip:
            summary.skipped.append({"order_id": order.order_id, "why": order.skip})
        else:
            to_ask.append(order)
    shipped = [o for o in to_ask if o.shipped is not False]
    queries = [
        Query(o.order_id, "pandapon", "taobao" if o.platform == "taobao" else None) for o in shipped
    ]
    answers = await adapter.track(queries, TrackOptions(save=True))
    by_id = {o.order_id: a for o, a in zip(shipped, answers, strict=True)}
    with store.transaction():
        for order in to_ask:
            query = Query(order.order_id, "pandapon", order.platform)
            answer = by_id.get(order.order_id)
            shipments = answer.shipments if answer is not None else [order.pending()]
            if answer is not None and answer.failure is not None:
                summary.failed.append(f"{order.order_id}: {answer.failure.message}")
                shipments = [order.pending()]
            name = label if label is not None else label_of(order)
            store.add(shipments, query, name)
            summary.new.append(
                {
                    "platform": order.platform,
                    "order_id": order.order_id,
                    "status": shipments[0].status.value,
                    "numbers": [s.tracking_number for s in shipments],
                    "label": name,
                }
            )
    if "taobao" in platforms:
        await _returns(adapter, store, start, end, summary)


async def _returns(adapter: Any, store: Store, start: float, end: float, summary: Summary) -> None:
    """Taobao after-sales returns with a waybill: watched through TrackingMore beside the
    outbound parcel (the next leg of its journey). A failure here is a note, never fatal."""
    from waypost import journeys
    from waypost.carriers.base import Query
    from waypost.carriers.pandapon.orders import MAX_PAGES
    from waypost.models import Shipment, Status

    found = []
    try:
        for page in range(1, MAX_PAGES + 1):
            listed, more = await adapter.returns(start, end, page)
            summary.pages += 1
            found.extend(listed)
            if not more:
                break
    except CarrierError as exc:
        summary.notes.append(f"after-sales returns not read: {exc.message}")
    for ret in found:
        code = journeys.courier_code(ret.company)
        outbound = [r for r in store.find(ret.order_id, "pandapon") if r.number != ret.order_id]
        if code is None or not outbound:
            continue
        query = journeys.query_of(code, ret.waybill)
        rows = [r for r in store.find(ret.waybill, "trackingmore") if r.number == ret.waybill]
        if not rows:
            label = f"return · {outbound[0].label}" if outbound[0].label else "return"
            stand_in = Shipment(
                tracking_number=ret.waybill,
                carrier="trackingmore",
                courier=code,
                found=None,
                status=Status.UNKNOWN,
                error="not asked yet",
            )
            store.add([stand_in], Query(ret.waybill, "trackingmore", code), label)
            rows = [r for r in store.find(ret.waybill, "trackingmore") if r.number == ret.waybill]
            summary.returns.append(
                {"order_id": ret.order_id, "query": query, "after": outbound[-1].number}
            )
        legs = journeys.backend(store)
        if rows and legs is not None:
            journeys.append(legs, outbound[-1], rows[0])


def run_import(
    store: Store,
    config: Config,
    *,
    since: float,
    platforms: Sequence[str] = PLATFORMS,
    label: str | None = None,
    timeout: float,
    now: float | None = None,
    cache: Cache | None = None,
) -> Summary:
    """Import every order placed between ``since`` and now (see the module docstring)."""
    from waypost import service

    if config.missing("pandapon"):
        raise MissingCredentials(
            "pandapon is not configured, so its orders cannot be imported",
            hint=f"run `waypost config set carriers.pandapon.{config.missing('pandapon')[0].key}`",
        )
    end = time.time() if now is None else now
    summary = Summary()

    async def go(adapter: Any) -> None:
        try:
            await _import(adapter, store, platforms, since, end, label, summary)
        finally:
            summary.requests = adapter.session.requests

    service.with_adapter(
        "pandapon", config, go, timeout=timeout, cache=cache if cache is not None else store.cache
    )
    return summary


def watch_import(store: Store, config: Config, *, timeout: float, warn: Any) -> Summary | None:
    """``[watch] import = ["pandapon"]``: import what is new since the last pass; a failure is
    one warning and never stops the refresh."""
    from waypost.errors import WaypostError

    wanted = [str(n).lower() for n in config.watch.get("import", [])]
    if "pandapon" not in wanted:
        return None
    now = time.time()
    last = store.state.get(STATE_NAMESPACE, "last")
    if isinstance(last, int | float) and last <= now:
        since = max(float(last) - OVERLAP, now - MAX_SINCE_DAYS * 86400)
    else:
        since = parse_since(DEFAULT_SINCE, now)
    try:
        summary = run_import(store, config, since=since, timeout=timeout, now=now)
    except (WaypostError, CarrierError) as exc:
        warn(f"import from pandapon failed: {exc.message}; refreshing the watch list anyway")
        return None
    if not summary.failed:
        with store.transaction():
            store.state.put(STATE_NAMESPACE, "last", now)
    for problem in [*summary.failed, *summary.notes]:
        warn(f"import from pandapon: {problem}")
    return summary


def import_command(
    carrier: str,
    store: Store,
    config: Config,
    *,
    since: str,
    platform: str | None,
    label: str | None,
    timeout: float,
    as_json: bool,
    out: IO[str],
    warn: Any,
) -> int:
    """``waypost import CARRIER``: check the arguments, import, print the summary; the exit code
    (1 when some orders' logistics could not be read: they are watched as pending)."""
    from waypost import render

    if carrier.lower() != "pandapon":
        raise UsageError(f"cannot import from {carrier!r}: only pandapon has order lists")
    if platform is not None and platform.lower() not in PLATFORMS:
        raise UsageError(f"--platform {platform!r}: use 1688 or taobao")
    if label is not None and not label.strip():
        raise UsageError("--label is empty")
    now = time.time()
    start = parse_since(since, now)
    platforms = [platform.lower()] if platform else list(PLATFORMS)
    summary = run_import(
        store, config, since=start, platforms=platforms, label=label, timeout=timeout, now=now
    )
    if as_json:
        out.write(render.dumps(summary.document()) + "\n")
    else:
        out.writelines(line + "\n" for line in summary.lines())
    for problem in summary.failed:
        warn(f"waypost: warning: {problem} (watched as pending; `watch` asks again)")
    for note in summary.notes:
        warn(f"waypost: note: {note}")
    return 1 if summary.failed else 0


def check_command(
    name: str, config: Config, timeout: float, cache: Cache, as_json: bool, out: IO[str]
) -> int:
    """``carriers --check NAME``: print what the one real call showed; the exit code."""
    from waypost import carriers, quota, render, service

    carrier = name.lower()
    if carrier not in carriers.names() or not service.supports(carrier, "check"):
        # TrackingMore's check (its quota) is answered before this, by `carriers` itself.
        checked = (n for n in carriers.names() if service.supports(n, "check"))
        known = sorted({quota.ACCOUNT, *checked})
        raise UsageError(f"--check: {name!r} cannot be checked (try: {', '.join(known)})")
    try:
        result = service.check(carrier, config, timeout=timeout, cache=cache)
    finally:
        close = getattr(cache, "close", None)
        if close is not None:
            close()
    if as_json:
        out.write(render.dumps({"carrier": carrier, **result}) + "\n")
    else:
        source = config.sources.get(f"carriers.{carrier}.signature", "")
        out.writelines(line + "\n" for line in check_lines(carrier, result, source))
    accepted, setting = result.get("accepted"), result.get("setting")
    if accepted is None or setting not in ("auto", accepted):
        return 3
    return 0


def check_lines(carrier: str, result: dict[str, Any], source: str = "") -> list[str]:
    """The plain answer of ``carriers --check``; ``source``: where the signature setting came
    from (``Config.sources``: ``file``, ``env WAYPOST_...``)."""
    from waypost.carriers.pandapon.signing import BY_NAME
    from waypost.safe import field as shown

    accepted, setting = result.get("accepted"), result.get("setting")
    tried = [
        f"{t['recipe']}: {'accepted' if t['accepted'] else 'rejected'}"
        + (f" (code {shown(t['code'])}: {shown(t['msg'])})" if not t["accepted"] else "")
        for t in result.get("tried", [])
    ]
    if accepted is None:
        return [
            f"{carrier}: credentials rejected: no signing recipe was accepted",
            *(f"  {line}" for line in tried),
            f"hint: check carriers.{carrier}.access_key, secret and user_id "
            "(`waypost config show`)",
        ]
    how = BY_NAME[accepted].describe
    lines = [f"{carrier}: the account accepts the signing recipe {accepted!r} ({how})"]
    lines.extend(f"  {line}" for line in tried)
    if setting == "auto":
        lines.append(f"carriers.{carrier}.signature is auto: {accepted!r} is remembered and used")
    elif setting != accepted and source.startswith("env "):
        variable = source.removeprefix("env ")
        lines.append(
            f"{variable} pins {setting!r}, which the account refuses: "
            f"set {variable}={accepted} (or auto), or unset it"
        )
    elif setting != accepted:
        lines.append(
            f"carriers.{carrier}.signature pins {setting!r}, which the account refuses: "
            f"`waypost config set carriers.{carrier}.signature {accepted}` (or auto)"
        )
    return lines
