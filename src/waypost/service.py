"""Route numbers to carriers, run every carrier at once in one HTTP session, merge the answers.

This is the only module where concurrency and HTTP sessions live, and the only one that starts
an event loop (``run_blocking``, ``remove_remote``, ``remote_couriers``): the CLI and ``watch``
hand it queries and get back a ``Report`` (one entry per query, the shipments, hints and the
exit code).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from waypost import carriers
from waypost.carriers import detect
from waypost.carriers._parse import epoch
from waypost.carriers.base import Answer, Cache, Query, TrackOptions, state_of
from waypost.config import Config
from waypost.errors import (
    AuthError,
    CarrierError,
    MissingCredentials,
    NoCarrierConfigured,
    exit_code_for,
)
from waypost.http import RetryPolicy, Session
from waypost.models import Shipment

if TYPE_CHECKING:
    from waypost.store.protocols import StateStore, WatchStore

T = TypeVar("T")
log = logging.getLogger("waypost.service")


@dataclass
class Result:
    """Everything learnt about one query: the answers kept and why it may have failed."""

    query: Query
    answers: list[Answer]
    failure: CarrierError | None = None
    asked: list[str] = field(default_factory=list)

    @property
    def shipments(self) -> list[Shipment]:
        """The shipments to show for this query."""
        return [s for a in self.answers for s in a.shipments]

    @property
    def unchanged(self) -> bool:
        """True when the carrier said nothing changed since the last refresh."""
        return bool(self.answers) and all(a.unchanged for a in self.answers)


@dataclass(repr=False)
class Report:
    """The outcome of one run."""

    # Kept short on purpose: asyncio.run() formats the repr of its result when it restores the
    # SIGINT handler (CPython 3.11), and a repr of 1,000 shipments costs a fifth of a second.
    def __repr__(self) -> str:
        return f"Report({len(self.results)} results)"

    results: list[Result]
    hints: list[str] = field(default_factory=list)

    @property
    def shipments(self) -> list[Shipment]:
        """Every shipment to show, in input order."""
        return [s for r in self.results for s in r.shipments]

    @property
    def exit_code(self) -> int:
        """The SPEC's exit code for this run."""
        return exit_code_for(r.failure for r in self.results)


@dataclass
class Plan:
    """Which carriers to ask for which queries."""

    by_carrier: dict[str, list[Query]]
    asked: dict[tuple[str, str | None, str | None], list[str]]
    unconfigured: dict[str, list[str]]
    refused: dict[tuple[str, str | None, str | None], CarrierError]
    # Per query: the keys of the carrier queries planned for it (its answers are theirs only).
    planned: dict[tuple[str, str | None, str | None], list[tuple[str, str | None, str | None]]] = (
        field(default_factory=dict)
    )


def plan(queries: Sequence[Query], config: Config) -> Plan:
    """Decide the carriers for every query; unconfigured ones are skipped and remembered."""
    infos = {i.name: i for i in carriers.infos()}
    by_carrier: dict[str, dict[tuple[str, str | None, str | None], Query]] = {n: {} for n in infos}
    asked: dict[tuple[str, str | None, str | None], list[str]] = {}
    unconfigured: dict[str, list[str]] = {}
    refused: dict[tuple[str, str | None, str | None], CarrierError] = {}
    planned_for: dict[
        tuple[str, str | None, str | None], list[tuple[str, str | None, str | None]]
    ] = {}
    missing_of = {name: config.missing(name) for name in infos}
    for query in queries:
        targets = detect.targets(query.number, query.carrier, query.courier, infos.values())
        ready = []
        for name, courier in targets:
            missing = missing_of[name]
            if missing:
                unconfigured.setdefault(name, [s.key for s in missing])
                continue
            ready.append(name)
            planned = Query(query.number, name, courier or query.courier, query.raw)
            by_carrier[name].setdefault(planned.key, planned)
            mine = planned_for.setdefault(query.key, [])
            if planned.key not in mine:
                mine.append(planned.key)
        asked[query.key] = ready
        if not ready:
            names = ", ".join(dict.fromkeys(n for n, _ in targets))
            refused[query.key] = MissingCredentials(
                f"no configured carrier can answer this number (tried: {names})",
                hint="configure one with `waypost config init`",
            )
    todo = {name: list(qs.values()) for name, qs in by_carrier.items() if qs}
    return Plan(todo, asked, unconfigured, refused, planned_for)


def _hint(unconfigured: dict[str, list[str]]) -> list[str]:
    return [
        f"{name} skipped: not configured (run `waypost config set carriers.{name}.{keys[0]}`)"
        for name, keys in unconfigured.items()
    ]


async def run(
    queries: Sequence[Query],
    config: Config,
    options: TrackOptions | None = None,
    *,
    timeout: float = 20.0,
    deadline: float | None = None,
    cache: Cache | None = None,
    state: StateStore | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    on_start: Callable[[dict[str, int]], None] | None = None,
    on_result: Callable[[int, Result], None] | None = None,
    on_retry: Callable[[str, int], None] | None = None,
) -> Report:
    """Ask every planned carrier concurrently and merge their answers per query.

    ``on_result(index, result)`` is called as soon as every carrier asked for ``queries[index]``
    has answered it (in answer order, not input order); the Report keeps input order.
    ``state``: adapters' durable state (default: the cache's own, see ``state_of``).
    """
    state = state_of(cache, state)
    session = _session(config, timeout, deadline, transport, on_retry, cache)
    async with session:
        report = await _run_in(session, queries, config, options, cache, state, on_start, on_result)
        log.info("%d requests sent, %d of them retries", session.requests, session.retries)
        return report


def _session(
    config: Config,
    timeout: float,
    deadline: float | None,
    transport: httpx.AsyncBaseTransport | None,
    on_retry: Callable[[str, int], None] | None,
    cache: Cache | None = None,
) -> Session:
    return Session(
        timeout=timeout,
        deadline=deadline,
        transport=transport,
        secrets=config.secrets(),
        retry=RetryPolicy(**config.retry_policy()),
        on_retry=on_retry,
        max_body=config.max_body(),
        # A store shared by several hosts shares the carriers' rate limits too.
        shared=getattr(cache, "shared_budget", lambda: None)(),
        accounts=_accounts(config),
    )


async def _run_in(
    session: Session,
    queries: Sequence[Query],
    config: Config,
    options: TrackOptions | None,
    cache: Cache | None,
    state: StateStore | None,
    on_start: Callable[[dict[str, int]], None] | None,
    on_result: Callable[[int, Result], None] | None,
) -> Report:
    """One ``run`` of ``queries`` inside an open ``session``."""
    with _frozen_heap():
        options = options or TrackOptions()
        the_plan = plan(queries, config)
        if not the_plan.by_carrier and not any(config.configured(n) for n in carriers.names()):
            raise NoCarrierConfigured(
                "no carrier is configured",
                hint="run `waypost config init`, or try `waypost sandbox` for a demo",
            )
        if on_start is not None:
            on_start({name: len(qs) for name, qs in the_plan.by_carrier.items()})
        merger = _Merger(queries, the_plan, on_result)
        jobs = [
            _ask(name, qs, config, session, cache, state, merger.options(name, options))
            for name, qs in the_plan.by_carrier.items()
        ]
        for name, per_carrier in zip(the_plan.by_carrier, await asyncio.gather(*jobs), strict=True):
            merger.finished(name, per_carrier)
        hints = _hint(the_plan.unconfigured) + list(dict.fromkeys(options.hints))
        return Report(merger.results(), hints)


Batch = tuple[Sequence[Query], TrackOptions]


class Tally:
    """Enough of many reports' failures to give their joint exit code, in constant memory."""

    def __init__(self) -> None:
        self.answered = False
        self.auth: CarrierError | None = None
        self.failed: CarrierError | None = None

    def add(self, report: Report) -> None:
        """Count one report's results."""
        for result in report.results:
            failure = result.failure
            if failure is None:
                self.answered = True
            elif isinstance(failure, AuthError):
                self.auth = failure
            else:
                self.failed = failure

    @property
    def exit_code(self) -> int:
        """``exit_code_for`` of every result counted."""
        marks = [None] if self.answered else []
        return exit_code_for([*marks, *(f for f in (self.auth, self.failed) if f is not None)])


def run_batches(
    batches: Iterable[Batch],
    config: Config,
    on_report: Callable[[Sequence[Query], Report], None],
    *,
    timeout: float = 20.0,
    deadline: float | None = None,
    cache: Cache | None = None,
    state: StateStore | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    on_start: Callable[[dict[str, int]], None] | None = None,
    on_result: Callable[[int, Result], None] | None = None,
    on_retry: Callable[[str, int], None] | None = None,
) -> None:
    """``run`` of each batch in turn, in one event loop and one HTTP session (so rate limits
    and connections carry over), handing each batch's Report to ``on_report`` before the next
    batch is read: memory stays that of one batch however many there are. ``on_result`` gets
    indexes counted across the batches."""
    offset = 0

    def counted(index: int, result: Result) -> None:
        assert on_result is not None
        on_result(offset + index, result)

    async def all_batches() -> None:
        nonlocal offset
        session = _session(config, timeout, deadline, transport, on_retry, cache)
        async with session:
            for queries, options in batches:
                report = await _run_in(
                    session,
                    queries,
                    config,
                    options,
                    cache,
                    state_of(cache, state),
                    on_start,
                    None if on_result is None else counted,
                )
                offset += len(queries)
                on_report(queries, report)
                del report
                gc.collect()  # the batch's cycles (answers, responses), before the next batch
            log.info("%d requests sent, %d of them retries", session.requests, session.retries)

    asyncio.run(all_batches())


def _accounts(config: Config) -> dict[str, str]:
    """Per carrier, a short digest of its credentials: the account whose budget hosts share."""
    import hashlib

    found = {}
    for info in carriers.infos():
        values = config.carrier(info.name)
        raw = "\x1f".join(str(values.get(s.key) or "") for s in info.credentials)
        found[info.name] = hashlib.sha256(raw.encode()).hexdigest()[:12]
    return found


class _Merger:
    """Collects answers as they arrive and merges each query once all its carriers answered."""

    def __init__(
        self,
        queries: Sequence[Query],
        the_plan: Plan,
        on_result: Callable[[int, Result], None] | None,
    ) -> None:
        self.queries = queries
        self.plan = the_plan
        self.on_result = on_result
        self.answers: dict[tuple[str, str | None, str | None], list[Answer]] = {}
        self.seen: set[tuple[str, tuple[str, str | None, str | None]]] = set()
        self.done: dict[int, Result] = {}
        # Per query: the carriers still to answer; per (carrier, number): the answers expected.
        self.pending = {i: set(the_plan.asked.get(q.key, [])) for i, q in enumerate(queries)}
        self.expected: dict[tuple[str, str], int] = {}
        for name, planned in the_plan.by_carrier.items():
            for q in planned:
                self.expected[(name, q.number)] = self.expected.get((name, q.number), 0) + 1
        self.by_number: dict[str, list[int]] = {}
        for i, q in enumerate(queries):
            self.by_number.setdefault(q.number, []).append(i)
        for i in list(self.pending):
            self._complete(i)

    def options(self, name: str, options: TrackOptions) -> TrackOptions:
        """``options`` with a per-answer hook for carrier ``name``."""
        if self.on_result is None:
            return options
        return dataclasses.replace(options, on_answer=lambda a: self.arrived(name, a))

    def arrived(self, name: str, answer: Answer) -> None:
        """One answer of carrier ``name``; the first per planned query counts."""
        marker = (name, answer.query.key)
        if marker in self.seen:
            return
        self.seen.add(marker)
        self.answers.setdefault(answer.query.key, []).append(answer)
        left = self.expected.get((name, answer.query.number), 0) - 1
        self.expected[(name, answer.query.number)] = left
        if left <= 0:
            self._carrier_done(name, self.by_number.get(answer.query.number, []))

    def finished(self, name: str, answers: Sequence[Answer]) -> None:
        """Carrier ``name`` returned: whatever it did not hand over early counts now."""
        for answer in answers:
            self.arrived(name, answer)
        self._carrier_done(name, list(self.pending))

    def _carrier_done(self, name: str, indexes: Sequence[int]) -> None:
        for i in indexes:
            waiting = self.pending.get(i)
            if waiting is not None and name in waiting:
                waiting.discard(name)
                self._complete(i)

    def _complete(self, i: int) -> None:
        if self.pending.get(i):
            return
        del self.pending[i]
        self.done[i] = result = _merge(self.queries[i], self.plan, self.answers)
        if self.on_result is not None:
            self.on_result(i, result)

    def results(self) -> list[Result]:
        """Every query's result, in input order."""
        for i in list(self.pending):
            self.pending[i] = set()
            self._complete(i)
        return [self.done[i] for i in range(len(self.queries))]


def run_blocking(
    queries: Sequence[Query],
    config: Config,
    options: TrackOptions | None = None,
    **kwargs: Any,
) -> Report:
    """``run`` from synchronous code (the CLI, ``watch``): starts and ends the event loop."""
    return asyncio.run(run(queries, config, options, **kwargs))


# Set by a host process that froze its own heap before running waypost in-process (the tests).
heap_frozen = False


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """The objects alive before a run (imported modules, schemas: ~50,000) cannot become garbage
    during it; frozen, a full collection in the middle of parsing skips them (25 ms -> 1 ms).
    With ``heap_frozen`` set, the host keeps its heap frozen itself and it is left as it is."""
    if heap_frozen:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def _ask(
    name: str,
    queries: list[Query],
    config: Config,
    session: Session,
    cache: Cache | None,
    state: StateStore | None,
    options: TrackOptions,
) -> list[Answer]:
    adapter = carriers.adapter(name, config.carrier(name), session, cache, state)
    try:
        answers: list[Answer] = await adapter.track(queries, options)
    except CarrierError as err:
        answers = [Answer(q, [Shipment.failed(q.number, name, err)]) for q in queries]
    return answers


def _merge(
    query: Query,
    the_plan: Plan,
    answers: dict[tuple[str, str | None, str | None], list[Answer]],
) -> Result:
    key = query.key
    asked = the_plan.asked.get(key, [])
    if key in the_plan.refused:
        err = the_plan.refused[key]
        refused = Answer(query, [Shipment.failed(query.number, query.carrier or "-", err)])
        return Result(query, [refused], err, asked)
    mine = [
        a
        for planned in the_plan.planned.get(key, [key])
        for a in answers.get(planned, [])
        if a.query.carrier in asked
    ]
    found = [a for a in mine if a.found]
    if found:
        if len(found) > 1:
            found.sort(key=_newest, reverse=True)
        return Result(query, found, None, asked)
    definite = [a for a in mine if a.failure is None]
    if definite:
        return Result(query, definite[:1], None, asked)
    failures = [a.failure for a in mine if a.failure is not None]
    failure = next(
        (f for f in failures if isinstance(f, AuthError)), failures[0] if failures else None
    )
    return Result(query, mine, failure, asked)


def _newest(answer: Answer) -> float:
    """Sort key: the answer's latest update (carriers that found a number, newest first)."""
    stamps = [epoch(s.last_update) for s in answer.shipments if s.last_update is not None]
    return max(stamps, default=float("-inf"))


def canonical(answer: Answer, shipment: Shipment) -> Query:
    """The query that asks the same carrier the same thing again (``watch`` uses it)."""
    planned = answer.query
    carrier = shipment.carrier
    courier = planned.courier
    regex = carriers.info(carrier).courier_regex if carrier in carriers.names() else None
    if courier is None and shipment.courier and regex and re.fullmatch(regex, shipment.courier):
        courier = shipment.courier
    return Query(number=planned.number, carrier=carrier, courier=courier)


def save(store: WatchStore, report: Report, label: str | None) -> int:
    """Put every answered (or temporarily failed) shipment of ``report`` on the watch list."""
    known = set(carriers.names())
    added = 0
    with store.transaction():  # all or nothing: a full disk leaves the watch list as it was
        for result in report.results:
            for answer in result.answers:
                shipments = [s for s in answer.shipments if s.carrier in known]
                if shipments:
                    added += store.add(shipments, canonical(answer, shipments[0]), label)
    return added


async def _with_adapter(
    name: str,
    config: Config,
    call: Callable[[Any], Awaitable[T]],
    *,
    timeout: float,
    cache: Cache | None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> T:
    """Run one adapter operation inside a session of its own."""
    session = Session(
        timeout=timeout,
        transport=transport,
        secrets=config.secrets(),
        retry=RetryPolicy(**config.retry_policy()),
        max_body=config.max_body(),
    )
    async with session:
        adapter = carriers.adapter(name, config.carrier(name), session, cache, state_of(cache))
        return await call(adapter)


def call_adapter(
    name: str,
    config: Config,
    call: Callable[[Any], Awaitable[T]],
    *,
    timeout: float,
    cache: Cache | None,
) -> T:
    """Run one adapter operation from synchronous code (``archive``, ``edit``, the quota)."""
    return asyncio.run(_with_adapter(name, config, call, timeout=timeout, cache=cache))


def supports(name: str, operation: str) -> bool:
    """True when carrier ``name``'s adapter offers ``operation`` (``remove``, ``couriers``)."""
    return carriers.supports(name, operation)


def remove_remote(
    name: str, queries: Sequence[Query], config: Config, *, timeout: float, cache: Cache | None
) -> list[Answer]:
    """Delete ``queries`` from the carrier's own account (``remove --remote``)."""
    if config.missing(name):
        raise MissingCredentials(
            f"{name} is not configured, so nothing can be removed there",
            hint=f"run `waypost config set carriers.{name}.{config.missing(name)[0].key}`",
        )
    return asyncio.run(
        _with_adapter(name, config, lambda a: a.remove(queries), timeout=timeout, cache=cache)
    )


def remote_couriers(
    name: str, config: Config, *, lang: str | None, timeout: float, cache: Cache | None
) -> list[dict[str, Any]]:
    """The courier codes a carrier knows (``carriers --remote``)."""
    if config.missing(name):
        raise MissingCredentials(
            f"{name} is not configured, so its courier list cannot be read",
            hint=f"run `waypost config set carriers.{name}.{config.missing(name)[0].key}`",
        )
    return asyncio.run(
        _with_adapter(name, config, lambda a: a.couriers(lang), timeout=timeout, cache=cache)
    )


@dataclass
class Removal:
    """``remove --remote`` for one carrier: each row with its answer, or None when the carrier
    keeps no account of its own."""

    carrier: str
    answers: list[tuple[Any, Answer]] | None


def remove_everywhere(
    rows: Sequence[Any], config: Config, *, timeout: float, cache: Cache | None
) -> Iterator[Removal]:
    """Delete watched ``rows`` from their carriers' accounts, one carrier at a time."""
    from waypost.inputs import Token, parse_token

    infos = {i.name: i for i in carriers.infos()}
    by_carrier: dict[str, list[Any]] = {}
    for row in rows:
        by_carrier.setdefault(row.carrier, []).append(row)
    for name, mine in by_carrier.items():
        if not supports(name, "remove"):
            yield Removal(name, None)
            continue
        queries = [parse_token(Token(r.query, "watch list"), infos) for r in mine]
        answers = remove_remote(name, queries, config, timeout=timeout, cache=cache)
        yield Removal(name, list(zip(mine, answers, strict=True)))


def with_adapter(
    name: str,
    config: Config,
    call: Callable[[Any], Awaitable[T]],
    *,
    timeout: float,
    cache: Cache | None,
) -> T:
    """Run one operation of carrier ``name``'s adapter in a session of its own (``import``)."""
    return asyncio.run(_with_adapter(name, config, call, timeout=timeout, cache=cache))


def check(name: str, config: Config, *, timeout: float, cache: Cache | None) -> dict[str, Any]:
    """One real call that says whether the credentials work (``carriers --check``)."""
    if config.missing(name):
        raise MissingCredentials(
            f"{name} is not configured, so its credentials cannot be checked",
            hint=f"run `waypost config set carriers.{name}.{config.missing(name)[0].key}`",
        )
    result: dict[str, Any] = asyncio.run(
        _with_adapter(name, config, lambda a: a.check(), timeout=timeout, cache=cache)
    )
    return result
