"""Archive, correct and account for watched shipments (SPEC.md, "The watch list manages itself").

``archive``/``auto_archive`` hide shipments from ``list`` and from refreshes, history kept; with
TrackingMore the account stops refreshing them too (``carriers/trackingmore/account.py``), so
they stop costing quota. ``edit`` changes a label or moves a TrackingMore number to the right
courier and asks it again, its history replaced. What the account has left is ``waypost.quota``.

A carrier call that fails never undoes the local change: the shipment is archived (or edited)
here and the failure is reported, so that the user can run the command again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from waypost.errors import UsageError

if TYPE_CHECKING:
    from waypost.carriers.base import Answer, Cache, Query
    from waypost.config import Config
    from waypost.store.protocols import Watched
    from waypost.store.protocols import WatchStore as Store

log = logging.getLogger("waypost.manage")

ACCOUNT = "trackingmore"


def _query(row: Watched) -> Query:
    if row.ask is not None:
        return row.ask
    from waypost import carriers
    from waypost.inputs import Token, parse_token

    infos = {i.name: i for i in carriers.infos()}
    return parse_token(Token(row.query, "watch list"), infos)


def _account(
    config: Config,
    call: Callable[[Any], Any],
    *,
    timeout: float,
    cache: Cache | None,
) -> Any:
    from waypost import service

    return service.call_adapter(ACCOUNT, config, call, timeout=timeout, cache=cache)


def archive(
    store: Store,
    rows: Sequence[Watched],
    config: Config,
    *,
    undo: bool = False,
    now: float | None = None,
    timeout: float = 20.0,
) -> list[str]:
    """Archive ``rows`` (or bring them back); the problems of the carrier account, one a line."""
    from waypost import insights

    when = None if undo else (insights.clock() if now is None else now)
    store.set_archived([r.id for r in rows], when)
    return _remote(store, rows, config, archived=not undo, timeout=timeout)


def _remote(
    store: Store, rows: Sequence[Watched], config: Config, *, archived: bool, timeout: float
) -> list[str]:
    """Archive TrackingMore rows in the account too (when it is configured)."""
    from waypost.carriers.trackingmore import account
    from waypost.errors import WaypostError

    mine = [r for r in rows if r.carrier == ACCOUNT]
    if not mine or not config.configured(ACCOUNT):
        return []
    queries = [_query(r) for r in mine]
    try:
        answers: list[Answer] = _account(
            config,
            lambda a: account.archive(a, queries, archived=archived),
            timeout=timeout,
            cache=store.cache,
        )
    except WaypostError as exc:
        return [f"{r.number}: not changed in the TrackingMore account: {exc.message}" for r in mine]
    problems = []
    for row, answer in zip(mine, answers, strict=True):
        shipment = answer.shipments[0]
        if answer.failure is not None:
            problems.append(
                f"{row.number}: not changed in the TrackingMore account: {shipment.error}"
            )
        else:
            log.info("%s: %s", row.number, shipment.status_text)
    return problems


def auto_archive(
    store: Store,
    config: Config,
    after: float,
    now: float,
    *,
    timeout: float = 20.0,
    warn: Callable[[str], None] | None = None,
) -> list[Watched]:
    """Archive delivered shipments whose delivery is more than ``after`` seconds old."""
    from waypost import insights

    due = set()
    for row in store.deliveries():
        delivered = insights.when(row[6])
        if row[7] is None and delivered is not None and now - delivered.timestamp() > after:
            due.add(int(row[0]))
    if not due:
        return []
    rows = [r for r in store.watched(status="delivered") if r.id in due]
    for problem in archive(store, rows, config, now=now, timeout=timeout):
        if warn is not None:
            warn(problem)
    log.info("archived %d delivered shipment(s)", len(rows))
    return rows


def edit(
    store: Store,
    row: Watched,
    config: Config,
    *,
    label: str | None = None,
    courier: str | None = None,
    timeout: float = 20.0,
) -> list[str]:
    """Relabel ``row`` and/or move it to ``courier``: the account is told, the shipment asked
    again and its history replaced. Returns what was done, one line each."""
    code = _courier_code(row, courier) if courier is not None else None
    done = []
    if label is not None:
        store.relabel(row.id, label or None)
        done.append(f"label {label!r}" if label else "label removed")
    if code is None:
        return done
    if row.carrier == ACCOUNT and config.configured(ACCOUNT):
        from waypost.carriers.trackingmore import account

        query = _query(row)
        answer = _account(
            config,
            lambda a: account.change_courier(a, query, code),
            timeout=timeout,
            cache=store.cache,
        )
        if answer.failure is not None:
            raise answer.failure
        done.append(str(answer.shipments[0].status_text))
    store.recourier(row.id, code)
    done.append(f"courier {code}")
    return done


def _courier_code(row: Watched, courier: str) -> str:
    """``courier`` checked against what the row's carrier accepts (UsageError: exit 2)."""
    import re

    from waypost import carriers

    info = carriers.info(row.carrier)
    if not info.courier_regex:
        raise UsageError(
            f"--courier: {row.carrier} has no couriers to choose from",
            hint="only trackingmore numbers name a courier (trackingmore:COURIER:NUMBER)",
        )
    code = courier.strip().lower()
    if not re.fullmatch(info.courier_regex, code):
        raise UsageError(
            f"--courier: {courier!r} is not a {row.carrier} courier code",
            hint=info.courier_help or None,
        )
    return code
