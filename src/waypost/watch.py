"""One ``watch`` pass: refresh the watch list, find new events, deliver them, then store them.

Delivery is at least once: a shipment's new events are committed to the store only after
stdout and every ``--notify``/``--exec`` channel took them. A run killed at any point therefore
loses nothing (the next pass finds the same events new again); the price is that a run killed
between handing over and committing delivers that one shipment's news twice. A carrier's own
"updated since" cursor (TrackingMore's) moves last, after every shipment of that carrier was
delivered and stored, and not at all when one of its deliveries failed: otherwise the next pass
would not be told about the undelivered news again. Passes never overlap: an exclusive lock file
next to the database serialises them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from waypost.carriers.base import Query, TrackOptions
from waypost.errors import (
    AuthError,
    CarrierError,
    QuotaExceeded,
    StoreError,
    StoreLocked,
    UsageError,
)
from waypost.status import Status
from waypost.store import Store, Watched

if TYPE_CHECKING:
    from waypost.config import Config
    from waypost.models import Event, Shipment
    from waypost.notify import Notifier
    from waypost.render import Terminal
    from waypost.service import Result

LOCK_NAME = "watch.lock"


@contextlib.contextmanager
def exclusive(data_dir: Path, wait: float) -> Iterator[None]:
    """Hold the watch lock, waiting up to ``wait`` seconds; StoreLocked if it stays taken."""
    from waypost.paths import flock_within

    fd = _open_lock(data_dir / LOCK_NAME)
    try:
        if not flock_within(fd, wait, poll=0.1):
            raise StoreLocked(
                f"another `waypost watch` is running (lock {data_dir / LOCK_NAME}); "
                "skipping this pass"
            )
        yield
    finally:
        os.close(fd)


def _open_lock(path: Path) -> int:
    """The watch lock file, opened; a directory or a file in the way is a StoreError (exit 5)."""
    from waypost.store import fault

    if path.parent.exists() and not path.parent.is_dir():
        raise StoreError(
            f"cannot use the data directory {path.parent}: it is a file, not a directory",
            hint="move the file away or set WAYPOST_DATA_DIR to a directory",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except IsADirectoryError:
        raise StoreError(
            f"cannot use the watch lock {path}: it is a directory, not a file",
            hint=f"remove it (rmdir {path}); waypost creates the lock file itself",
        ) from None
    except OSError as exc:
        raise fault(exc, path, what="the watch lock") from None


@dataclass
class News:
    """New events of one shipment, ready to deliver."""

    row: Watched
    shipment: Shipment
    events: list[Event]

    def view(self) -> Shipment:
        """The shipment as shown and handed over: only its new events."""
        return self.shipment.model_copy(update={"events": self.events})


@dataclass
class PassReport:
    """What one pass did."""

    news: list[News] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    exit_code: int = 0
    hints: list[str] = field(default_factory=list)
    asked: dict[str, int] = field(default_factory=dict)
    failures: dict[str, list[CarrierError]] = field(default_factory=dict)

    def failure_lines(self) -> list[str]:
        """One line per carrier that failed this pass (stderr, so that cron mails it)."""
        lines = []
        for name, errors in self.failures.items():
            first = errors[0]
            message = (
                first.message
                if first.message.startswith(f"{name}:")
                else (f"{name}: {first.message}")
            )
            total = self.asked.get(name, len(errors))
            if len(errors) < total:
                effect = f"{len(errors)} of {total} watched shipment(s) not checked this pass"
            elif isinstance(first, AuthError | QuotaExceeded):
                effect = "watching is not working"
            else:
                effect = f"none of its {total} watched shipment(s) could be checked this pass"
            lines.append(f"waypost: {message}; {effect}")
            if first.hint:
                lines.append(f"hint: {first.hint}")
        return lines

    # (carrier, action) to run once that carrier's news is delivered and stored.
    deferred: list[tuple[str, Callable[[], None]]] = field(default_factory=list)


QueryKey = tuple[str, str | None, str | None]


def _queries(rows: list[Watched]) -> tuple[list[Query], dict[QueryKey, list[Watched]]]:
    """The queries that refresh ``rows`` (one per order for multi-parcel orders)."""
    from waypost import carriers
    from waypost.inputs import Token, parse_token

    infos = {i.name: i for i in carriers.infos()}
    by_key: dict[QueryKey, list[Watched]] = {}
    queries: list[Query] = []
    for row in rows:
        try:
            query = parse_token(Token(row.query, "watch list"), infos)
        except UsageError:
            continue
        if query.key not in by_key:
            queries.append(query)
        by_key.setdefault(query.key, []).append(row)
    return queries, by_key


def refresh(
    store: Store,
    config: Config,
    *,
    timeout: float,
    deadline: float | None = None,
    on_start: Callable[[dict[str, int]], None] | None = None,
    on_answered: Callable[[str, int], None] | None = None,
) -> tuple[PassReport, list[tuple[Watched, Shipment]]]:
    """Ask the carriers about every non-final watched shipment; nothing is written yet."""
    from waypost import service

    report = PassReport()
    rows = store.watched(include_final=False)
    if not rows:
        return report, []
    queries, by_key = _queries(rows)
    options = TrackOptions(watch=True, on_answered=on_answered)
    result = asyncio.run(
        service.run(
            queries,
            config,
            options,
            timeout=timeout,
            deadline=deadline,
            cache=store,
            on_start=on_start,
        )
    )
    report.exit_code = result.exit_code
    report.hints = result.hints
    for res in result.results:
        name = _carrier_of(res)
        report.asked[name] = report.asked.get(name, 0) + 1
        if res.failure is not None:
            report.failures.setdefault(name, []).append(res.failure)
    report.deferred = options.deferred
    answered: list[tuple[Watched, Shipment]] = []
    untouched: list[int] = []
    for res in result.results:
        mine = by_key.get(res.query.key, [])
        if res.failure is not None:
            continue
        if res.unchanged:
            untouched.extend(r.id for r in mine)
            continue
        for s in res.shipments:
            if s.failure is not None or s.status is Status.UNKNOWN:
                continue  # unanswered: the known history stays as it is, unchecked
            row = next(
                (r for r in mine if r.number == s.tracking_number and r.carrier == s.carrier), None
            )
            if row is None and mine and _placeholder(s):
                # An order whose parcels are watched now answers none: keep what is known.
                untouched.extend(r.id for r in mine)
                continue
            if row is None and mine:
                row = store.adopt(mine[0], s)
                _shipped(store, mine, row)
            if row is None:
                continue
            if _knows_less(s, row):
                untouched.append(row.id)
            else:
                answered.append((row, s))
    store.touch(untouched)
    return report, answered


def _shipped(store: Store, rows: list[Watched], parcel: Watched) -> None:
    """An order watched as one pending shipment (numbered by its order id) has shipped: its
    parcel takes the place of that stand-in (label, journey leg), which goes."""
    from waypost import journeys

    for stand_in in [r for r in rows if r.order_id and r.number == r.order_id]:
        if stand_in.id != parcel.id:
            journeys.replace(store, stand_in, parcel)
            store.remove([stand_in])
            rows.remove(stand_in)
    if all(r.id != parcel.id for r in rows):
        rows.append(parcel)  # the template for the order's other new parcels


def _carrier_of(result: Result) -> str:
    """The carrier a result came from (the one that failed, or the one asked)."""
    if result.failure is not None and result.failure.carrier:
        return result.failure.carrier
    return result.query.carrier or (result.asked[0] if result.asked else "-")


def _placeholder(shipment: Shipment) -> bool:
    """The "order known, no parcels yet" answer (numbered by the order id, pending, no events)."""
    from waypost.status import Status

    return (
        shipment.status is Status.PENDING
        and not shipment.events
        and shipment.order_id is not None
        and shipment.tracking_number == shipment.order_id
    )


def _knows_less(shipment: Shipment, row: Watched) -> bool:
    """A "pending, nothing yet" answer for a shipment that already has a history (TrackingMore's
    copy of a parcel that realtime answered, before it fetched it) tells nothing new."""
    return (
        shipment.status is Status.PENDING
        and not shipment.events
        and row.status not in ("pending", "unknown")
    )


def run_pass(
    store: Store,
    config: Config,
    notifier: Notifier,
    *,
    term: Terminal,
    out: IO[str],
    mode: str,
    timeout: float,
    deadline: float | None = None,
    warn: Callable[[str], None],
    on_start: Callable[[dict[str, int]], None] | None = None,
    on_answered: Callable[[str, int], None] | None = None,
    on_answers: Callable[[], None] | None = None,
) -> PassReport:
    """Refresh, print only the news, hand it to every channel, then commit each shipment.
    ``on_answers`` runs once every carrier has answered, before anything is printed."""
    from waypost import render
    from waypost.imports import watch_import

    watch_import(store, config, timeout=timeout, warn=warn)
    report, answered = refresh(
        store,
        config,
        timeout=timeout,
        deadline=deadline,
        on_start=on_start,
        on_answered=on_answered,
    )
    if on_answers is not None:
        on_answers()
    from waypost import journeys

    try:
        follow_legs = bool(config.watch.get("follow_legs", False))
        journeys.follow(store, answered, watch_new=follow_legs)
        journeys.follow_stored(store, watch_new=follow_legs)
    except StoreError as exc:
        warn(f"next legs not linked: {exc.message}")
    undelivered: set[str] = set()
    quiet: list[tuple[Watched, Shipment]] = []
    for row, shipment in answered:
        fresh = store.new_events(row, shipment)
        if fresh:
            report.news.append(News(row, shipment, fresh))
        else:
            quiet.append((row, shipment))
    for row, shipment in quiet:
        store.refresh(row, shipment)
    groups = journeys.group_news(store, report.news)
    if mode == "json" and report.news:
        out.write(render.json_document(n.view() for g in groups for n in g) + "\n")
        out.flush()
    for index, group in enumerate(groups):
        views = [item.view() for item in group]
        moved = journeys.moved(group)
        view, label = views[moved], journeys.group_label(group)
        payload = view.model_dump_json()
        if mode == "jsonl":
            out.writelines(v.model_dump_json() + "\n" for v in views)
        elif mode == "text":
            if index:
                out.write("\n")
            if view.journey is not None:
                out.write(journeys.news_line(group, moved) + "\n")
            render.track(views, term, out, marks={0: label} if label else None)
        out.flush()
        text = "\n".join(
            (f"[leg {v.journey.leg}] " if v.journey is not None and len(views) > 1 else "")
            + f"{render.absolute(e.time, term)}  {e.location or '-'}  {e.description or '-'}"
            for v in views
            for e in render.readable(v).events
        )
        # A hook's output goes to stdout (cron mails it), or to stderr beside JSON on stdout.
        problems = notifier.deliver(
            view, payload, text, label=label, echo=out.write if mode == "text" else warn
        )
        if problems:
            report.problems.extend(problems)
            undelivered.update(item.row.carrier for item in group)
            for problem in problems:
                warn(problem)
            continue
        for item in group:
            store.refresh(item.row, item.shipment)
    for carrier, action in report.deferred:
        if carrier not in undelivered:
            action()
    if report.problems and report.exit_code == 0:
        report.exit_code = 1
    return report
