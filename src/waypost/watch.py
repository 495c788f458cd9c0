"""One ``watch`` pass: refresh the watch list, find new events, deliver them, then store them.

Delivery is at least once: a shipment's new events are committed to the store only after
stdout and every ``--notify``/``--exec`` channel took them. A run killed at any point therefore
loses nothing (the next pass finds the same events new again); the price is that a run killed
between handing over and committing delivers that one shipment's news twice. A carrier's own
"updated since" cursor (TrackingMore's) moves last, after every shipment of that carrier was
delivered and stored, and not at all when one of its deliveries failed: otherwise the next pass
would not be told about the undelivered news again. A pass refreshes only the shipments it
claimed from the store (``WatchStore.claim``; SQLite: passes never overlap, the lock file next to
the database serialises them) and holds the claim until its last commit. A saved shipment whose
query cannot be read is reported (a failure line, exit 1), never skipped silently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from waypost.carriers.base import Query, TrackOptions
from waypost.errors import (
    AuthError,
    CarrierError,
    ConfigError,
    QuotaExceeded,
    StoreError,
    UsageError,
    WaypostError,
    carrier_said,
)
from waypost.status import Status
from waypost.store.claims import LOCK_NAME, exclusive
from waypost.store.protocols import Watched, WatchStore

# Errors every later pass would meet alike (usage, configuration, credentials: exit 2 and 3)
# end a watch loop; others are reported and the loop goes on.
ENDS_LOOP = (UsageError, ConfigError, AuthError)

if TYPE_CHECKING:
    from waypost.config import Config
    from waypost.models import Event, Shipment
    from waypost.notify import Notifier
    from waypost.render import NewsWriter
    from waypost.service import Report, Result

__all__ = ["LOCK_NAME", "News", "PassReport", "exclusive", "refresh", "run_pass"]


@dataclass
class News:
    """New events of one shipment (and it becoming stalled, or its ETA moving), to deliver."""

    row: Watched
    shipment: Shipment
    events: list[Event]
    stalled: bool = False
    eta: tuple[date, date] | None = None
    stored: bool = False  # ``shipment`` is the stored answer (the carrier said: unchanged)

    def view(self) -> Shipment:
        """The shipment as shown and handed over: only its new events."""
        return self.shipment.model_copy(update={"events": self.events})

    def notes(self) -> list[str]:
        """One line per news that is not an event (``stalled: ...``, ``ETA moved: ...``)."""
        from waypost import insights

        lines = []
        if self.stalled:
            since = self.row.last_event_time if not self.shipment.events else None
            newest = insights.newest_time(self.shipment) or insights.when(since)
            day = f" since {newest:%Y-%m-%d}" if newest is not None else ""
            lines.append(f"stalled: no new event{day}")
        if self.eta is not None:
            lines.append(insights.moved_text(self.eta))
        return lines


@dataclass
class PassReport:
    """What one pass did."""

    news: list[News] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    exit_code: int = 0
    hints: list[str] = field(default_factory=list)
    asked: dict[str, int] = field(default_factory=dict)
    failures: dict[str, list[CarrierError]] = field(default_factory=dict)
    unreadable: list[Watched] = field(default_factory=list)
    untouched: list[Watched] = field(default_factory=list)
    archived: list[Watched] = field(default_factory=list)

    def failure_lines(self) -> list[str]:
        """One line per carrier that failed this pass and per saved shipment that cannot be
        read (stderr, so that cron mails it)."""
        lines = [
            f"waypost: watch list: {row.carrier} {row.number} (row {row.id}) has no query to "
            "ask again; not checked this pass"
            for row in self.unreadable
        ]
        if self.unreadable:
            lines.append(
                "hint: `waypost remove` it, then save it again with `waypost track --save`"
            )
        for name, errors in self.failures.items():
            first = errors[0]
            message = carrier_said(name, first)
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
    delivered: int = 0

    def absorb(self, part: PassReport) -> None:
        """Add one chunk's report to this pass's (its news only as a count: memory)."""
        self.delivered += len(part.news)
        self.problems.extend(part.problems)
        self.hints.extend(h for h in part.hints if h not in self.hints)
        for name, count in part.asked.items():
            self.asked[name] = self.asked.get(name, 0) + count
        for name, errors in part.failures.items():
            self.failures.setdefault(name, []).extend(errors)


QueryKey = tuple[str, str | None, str | None]


def _queries(
    rows: list[Watched], unreadable: list[Watched]
) -> tuple[list[Query], dict[QueryKey, list[Watched]]]:
    """The queries that refresh ``rows`` (one per order for multi-parcel orders); rows without
    a saved query go to ``unreadable``."""
    by_key: dict[QueryKey, list[Watched]] = {}
    queries: list[Query] = []
    for row in rows:
        query = row.ask
        if query is None:
            unreadable.append(row)
            continue
        if query.key not in by_key:
            queries.append(query)
        by_key.setdefault(query.key, []).append(row)
    return queries, by_key


def refresh(
    store: WatchStore,
    config: Config,
    *,
    rows: list[Watched] | None = None,
    timeout: float,
    deadline: float | None = None,
    on_start: Callable[[dict[str, int]], None] | None = None,
    on_answered: Callable[[str, int], None] | None = None,
) -> tuple[PassReport, list[tuple[Watched, Shipment]]]:
    """Ask the carriers about ``rows`` (default: every non-final watched shipment); nothing is
    written yet."""
    from waypost import service

    report = PassReport()
    if rows is None:
        rows = store.watched(include_final=False)
    if not rows:
        return report, []
    queries, by_key = _queries(rows, report.unreadable)
    if report.unreadable:
        report.exit_code = 1
    options = TrackOptions(watch=True, on_answered=on_answered)
    result = service.run_blocking(
        queries,
        config,
        options,
        timeout=timeout,
        deadline=deadline,
        cache=store.cache,
        state=store.state,
        on_start=on_start,
    )
    return report, _sort(store, report, result, options, by_key)


def _sort(
    store: WatchStore,
    report: PassReport,
    result: Report,
    options: TrackOptions,
    by_key: dict[QueryKey, list[Watched]],
) -> list[tuple[Watched, Shipment]]:
    """Fill ``report`` from a run's ``result``; the answers that may bring news (the rest is
    touched as checked)."""
    report.exit_code = result.exit_code or report.exit_code
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
            if row is None or row.archived is not None:
                continue  # an archived parcel of a watched order stays as it was
            if _knows_less(s, row):
                untouched.append(row.id)
            else:
                answered.append((row, s))
    store.touch(untouched)
    seen = {r.id: r for rs in by_key.values() for r in rs}
    report.untouched = [seen[i] for i in dict.fromkeys(untouched) if i in seen]
    return answered


def _shipped(store: WatchStore, rows: list[Watched], parcel: Watched) -> None:
    """An order watched as one pending shipment (numbered by its order id) has shipped: its
    parcel takes the place of that stand-in (label, journey leg), which goes."""
    from waypost import journeys

    legs = journeys.backend(store)
    for stand_in in [r for r in rows if r.order_id and r.number == r.order_id]:
        if stand_in.id != parcel.id:
            if legs is not None:
                journeys.replace(legs, stand_in, parcel)
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


# Shipments refreshed, delivered and committed at a time: a pass holds one chunk's rows and
# answers in memory, however long the watch list is.
PASS_CHUNK = 2000


def run_pass(
    store: WatchStore,
    config: Config,
    notifier: Notifier,
    *,
    sink: NewsWriter,
    timeout: float,
    deadline: float | None = None,
    warn: Callable[[str], None],
    on_start: Callable[[dict[str, int]], None] | None = None,
    on_answered: Callable[[str, int], None] | None = None,
    on_answers: Callable[[], None] | None = None,
    chunk: int | None = None,
    on: frozenset[str] | None = None,
) -> PassReport:
    """Refresh what this pass claims, ``chunk`` shipments at a time (one HTTP session for all):
    have ``sink`` print only the news, hand it to every channel, then commit each shipment.
    ``on_answers`` runs once every carrier has answered a chunk, before it is printed; ``on``
    keeps only the news it names (``insights.wanted``). A carrier's deferred state (its cursor)
    moves after the last chunk, and only when every chunk that asked it handed one over and none
    of its news failed to go out. A sink that prints one document per pass (``whole_pass``) gets
    the pass as one chunk. Delivered shipments past ``archive_delivered_after`` are archived
    after the last chunk. ``[watch] import`` runs first (its failure is one warning)."""
    from waypost import service
    from waypost.imports import watch_import

    watch_import(store, config, timeout=timeout, warn=warn)

    total = PassReport()
    tally = service.Tally()
    moves: dict[str, list[Callable[[], None]] | None] = {}
    undelivered: set[str] = set()
    adopted: set[int] = set()
    current: dict[str, Any] = {}
    size = None if getattr(sink, "whole_pass", False) else (chunk or PASS_CHUNK)

    known: list[Any] = []

    def learned() -> Any:
        """What the delivered shipments teach about ETAs, read once per pass."""
        if not known:
            from waypost import insights

            known.append(insights.History.learn(store.deliveries()))
        return known[0]

    def batches() -> Iterator[service.Batch]:
        for found in _row_chunks(store, size):
            rows = [r for r in found if r.id not in adopted]  # joined this pass: the next one
            with store.claim(rows) as mine:
                queries, by_key = _queries(mine, total.unreadable)
                if not queries:
                    continue
                options = TrackOptions(watch=True, on_answered=on_answered)
                current.update(by_key=by_key, options=options, ids={r.id for r in mine})
                yield queries, options

    def on_report(_: object, result: Report) -> None:
        options: TrackOptions = current["options"]
        part = PassReport()
        answered = _sort(store, part, result, options, current["by_key"])
        adopted.update(row.id for row, _ in answered if row.id not in current["ids"])
        tally.add(result)
        if on_answers is not None:
            on_answers()
        with _interruptible():
            _deliver(
                store,
                config,
                notifier,
                part,
                answered,
                sink=sink,
                warn=warn,
                undelivered=undelivered,
                history=learned,
                on=on,
                follow_legs=bool(config.watch.get("follow_legs", False)),
            )
        handed: dict[str, list[Callable[[], None]]] = {}
        for carrier, action in options.deferred:
            handed.setdefault(carrier, []).append(action)
        for name in set(part.asked) | set(handed):
            if name not in moves:
                moves[name] = handed.get(name)
            elif name not in handed:
                moves[name] = None
        total.absorb(part)

    service.run_batches(
        batches(),
        config,
        on_report,
        timeout=timeout,
        deadline=deadline,
        cache=store.cache,
        state=store.state,
        on_start=on_start,
    )
    for name, actions in moves.items():
        if actions is not None and name not in undelivered:
            for action in actions:
                action()
    after = config.watch.get("archive_delivered_after")
    if after:
        from waypost import insights, manage

        total.archived = manage.auto_archive(
            store,
            config,
            insights.parse_span(str(after)),
            insights.clock(),
            timeout=timeout,
            warn=warn,
        )
    total.exit_code = tally.exit_code or (1 if total.unreadable else 0)
    if total.problems and total.exit_code == 0:
        total.exit_code = 1
    return total


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Inside, Ctrl-C raises KeyboardInterrupt at once, also under ``asyncio.run``: its handler
    only cancels the task, which a delivery holding the event loop (a hook, a notification, up to
    ``notify.HOOK_TIMEOUT`` each) would not see before it ended."""
    import signal
    import threading

    previous = signal.getsignal(signal.SIGINT)
    if (
        threading.current_thread() is not threading.main_thread()
        or not callable(previous)
        or previous is signal.default_int_handler
    ):
        yield  # ignored (a background job), the default, or already at once
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _row_chunks(store: WatchStore, size: int | None) -> Iterator[list[Watched]]:
    """The non-final rows, ``size`` at a time (None: all at once)."""
    if size is None:
        rows = store.watched(include_final=False)
        if rows:
            yield rows
        return
    yield from store.chunks(include_final=False, size=size)


def _deliver(
    store: WatchStore,
    config: Config,
    notifier: Notifier,
    report: PassReport,
    answered: list[tuple[Watched, Shipment]],
    *,
    sink: NewsWriter,
    warn: Callable[[str], None],
    undelivered: set[str],
    history: Callable[[], Any],
    on: frozenset[str] | None = None,
    follow_legs: bool = False,
) -> None:
    """Deliver the news of ``answered``, committing each shipment after it went out; the
    carriers of failed deliveries go to ``undelivered``. Next legs the carriers name are linked
    first (``journeys.follow``), so that a journey's news goes out once."""
    from waypost import insights, journeys

    legs = journeys.backend(store)
    try:
        if legs is not None:
            journeys.follow(legs, answered, watch_new=follow_legs)
            journeys.follow_stored(legs, watch_new=follow_legs, rows=report.untouched)
    except StoreError as exc:
        warn(f"next legs not linked: {exc.message}")
    quiet: list[tuple[Watched, Shipment]] = []
    now = insights.clock()
    past = history() if answered else None
    thresholds: dict[str, float] = {}
    for row, shipment in answered:
        shipment = insights.annotate(
            shipment, config, past, now=now, row_id=row.id, thresholds=thresholds
        )
        fresh = store.new_events(row, shipment)
        item = News(row, shipment, fresh, _newly_stalled(row, shipment), _moved(row, shipment))
        if insights.wanted(
            on,
            before=row.status,
            after=shipment.status.value,
            events=bool(fresh),
            stalled=item.stalled,
            eta=item.eta is not None,
        ):
            report.news.append(item)
        else:
            quiet.append((row, shipment))
            _mark_stalled(store, item)
    report.news.extend(_stalled_unchanged(store, config, report.untouched, now, on))
    for row, shipment in quiet:
        store.refresh(row, shipment)
    groups = journeys.group_news(legs, report.news) if legs else [[n] for n in report.news]
    if report.news:
        sink.begin([n.view() for g in groups for n in g])
    for index, group in enumerate(groups):
        views = [item.view() for item in group]
        moved = journeys.moved(group)
        label = journeys.group_label(group)
        lead = group[moved]
        if len(group) == 1 and views[0].journey is None:
            shown = sink.show(index, views[0], label, lead.notes())
        else:
            header = journeys.news_line(group, moved) if views[moved].journey else None
            notes = [
                (f"[leg {view.journey.leg}] " if view.journey is not None else "") + line
                for item, view in zip(group, views, strict=True)
                for line in item.notes()
            ]
            shown = sink.show_group(index, views, moved, label, header, notes)
        problems = notifier.deliver(
            views[moved],
            shown.payload,
            shown.text,
            label=label,
            echo=shown.echo,
            state="stalled" if lead.stalled and not lead.events else None,
        )
        if problems:
            report.problems.extend(problems)
            undelivered.update(item.row.carrier for item in group)
            for problem in problems:
                warn(problem)
            continue
        for item in group:
            if not item.stored:
                store.refresh(item.row, item.shipment)
            _mark_stalled(store, item)


def _newest_mark(row: Watched, shipment: Shipment | None) -> str | None:
    """The newest event time as stored (the ``stalled_reported`` mark)."""
    if shipment is not None and shipment.events and shipment.events[0].time is not None:
        return shipment.events[0].time.isoformat()
    return row.last_event_time


def _newly_stalled(row: Watched, shipment: Shipment) -> bool:
    """Stalled now and not yet reported at this newest event."""
    return shipment.stalled and row.stalled_reported != _newest_mark(row, shipment)


def _moved(row: Watched, shipment: Shipment) -> tuple[date, date] | None:
    from waypost import insights

    return insights.eta_moved(row.eta, shipment.eta)


def _mark_stalled(store: WatchStore, item: News) -> None:
    """Remember that a stalled shipment was reported at its newest event."""
    if item.stalled:
        store.set_stalled_reported(item.row.id, _newest_mark(item.row, item.shipment))


def _stalled_unchanged(
    store: WatchStore,
    config: Config,
    rows: list[Watched],
    now: float,
    on: frozenset[str] | None,
) -> list[News]:
    """Shipments the carrier said did not change that have become stalled (their stored
    answer, no events); a filter without ``stalled`` only marks them reported."""
    from waypost import insights
    from waypost.models import Shipment

    news = []
    thresholds: dict[str, float] = {}
    for row in rows:
        if row.carrier not in thresholds:
            thresholds[row.carrier] = insights.stalled_after(config, row.carrier)
        threshold = thresholds[row.carrier]
        if row.final or not insights.is_stalled(row.status, row.last_event_time, threshold, now):
            continue
        if row.stalled_reported == row.last_event_time:
            continue
        raw = store.snapshot(row.id)
        if raw is None:
            continue
        try:
            shipment = Shipment.model_validate_json(raw)
        except ValueError:
            continue
        shipment = shipment.model_copy(update={"stalled": True})
        item = News(row, shipment, [], stalled=True, stored=True)
        if insights.wanted(
            on, before=row.status, after=row.status, events=False, stalled=True, eta=False
        ):
            news.append(item)
        else:
            _mark_stalled(store, item)
    return news


class Stopper:
    """Sleeps between passes; SIGTERM ends the loop cleanly (Ctrl-C too, via KeyboardInterrupt)."""

    def __init__(self) -> None:
        import signal
        import threading

        self.event = threading.Event()
        signal.signal(signal.SIGTERM, self._term)

    def _term(self, *_: object) -> None:
        self.event.set()
        raise KeyboardInterrupt

    def wait(self, seconds: float) -> bool:
        """Sleep; True when asked to stop."""
        return self.event.wait(seconds)


def loop(
    one_pass: Callable[[], PassReport],
    *,
    seconds: float,
    once: bool,
    on_failure: Callable[[WaypostError], None],
) -> PassReport | None:
    """Run ``one_pass`` every ``seconds`` (or once); the last report, or None when stopped.

    In a loop, a failed pass goes to ``on_failure`` and the loop goes on; usage and
    configuration errors end it (every later pass would fail alike), as does any error of a
    single pass. SIGTERM stops it between or during passes; Ctrl-C interrupts it.
    """
    stop = Stopper()
    last: PassReport | None = None
    try:
        while True:
            try:
                last = one_pass()
            except WaypostError as exc:
                if once or isinstance(exc, ENDS_LOOP):
                    raise
                on_failure(exc)
            if once or stop.wait(seconds):
                return last
    except KeyboardInterrupt:
        if not stop.event.is_set():
            raise
        return None
