"""One ``watch`` pass: refresh the watch list, find new events, deliver them, then store them.

Delivery is at least once: a shipment's new events are committed to the store only after
stdout and every ``--notify``/``--exec`` channel took them. A run killed at any point therefore
loses nothing (the next pass finds the same events new again); the price is that a run killed
between handing over and committing delivers that one shipment's news twice. Passes never
overlap: an exclusive lock file next to the database serialises them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from waypost.carriers.base import Query, TrackOptions
from waypost.errors import StoreLocked, UsageError
from waypost.status import Status
from waypost.store import Store, Watched

if TYPE_CHECKING:
    from waypost.config import Config
    from waypost.models import Event, Shipment
    from waypost.notify import Notifier
    from waypost.render import Terminal

LOCK_NAME = "watch.lock"


@contextlib.contextmanager
def exclusive(data_dir: Path, wait: float) -> Iterator[None]:
    """Hold the watch lock, waiting up to ``wait`` seconds; StoreLocked if it stays taken."""
    import fcntl

    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        give_up = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= give_up:
                    raise StoreLocked(
                        f"another `waypost watch` is running (lock {data_dir / LOCK_NAME}); "
                        "skipping this pass"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


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
            if row is None and mine:
                row = store.adopt(mine[0], s)
            if row is None:
                continue
            if _knows_less(s, row):
                untouched.append(row.id)
            else:
                answered.append((row, s))
    store.touch(untouched)
    return report, answered


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
    quiet: list[tuple[Watched, Shipment]] = []
    for row, shipment in answered:
        fresh = store.new_events(row, shipment)
        if fresh:
            report.news.append(News(row, shipment, fresh))
        else:
            quiet.append((row, shipment))
    for row, shipment in quiet:
        store.refresh(row, shipment)
    if mode == "json" and report.news:
        out.write(render.json_document(n.view() for n in report.news) + "\n")
        out.flush()
    for index, item in enumerate(report.news):
        view = item.view()
        payload = view.model_dump_json()
        if mode == "jsonl":
            out.write(payload + "\n")
        elif mode == "text":
            if index:
                out.write("\n")
            render.track([view], term, out, marks={0: item.row.label} if item.row.label else None)
        out.flush()
        text = "\n".join(
            f"{render.absolute(e.time, term)}  {e.location or '-'}  {e.description or '-'}"
            for e in item.events
        )
        problems = notifier.deliver(view, payload, text)
        if problems:
            report.problems.extend(problems)
            for problem in problems:
                warn(problem)
            continue
        store.refresh(item.row, item.shipment)
    if report.problems and report.exit_code == 0:
        report.exit_code = 1
    return report
