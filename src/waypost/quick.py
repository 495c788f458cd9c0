"""``track``'s lean path for ILS numbers: no pydantic, httpx or asyncio (issue 20, start-up and
whole-process speed).

Taken only by the ``waypost`` process itself (``__main__`` sets ``ENABLED``), for a ``track``
without ``--save``, ``--deadline`` or ``-v`` (a table too: Rich prints it), whose every number
goes to ILS alone, with ILS configured on a plain ``http://`` URL, no proxy in the environment,
no PostgreSQL store and no journey leg among the numbers. The requests are the model path's
(``carriers/ils/adapter``: 100 numbers per POST, at most ``max_connections`` at once, the same
headers and body), sent by ``lean_http``; clean answers are read by ``carriers/ils/lean`` and
printed as the models would print them (``lean_json``). Any other answer (an HTTP error, an
error envelope, a fault of the connection) is handed, with every other exchange of the run, to
the model path as if httpx had received it (``Handover``): it retries, reports and prints
exactly as it always did, and nothing is asked twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from waypost.carriers.base import Query
    from waypost.carriers.ils.lean import LeanShipment
    from waypost.cli.env import Env
    from waypost.config import Config
    from waypost.lean_http import Exchange
    from waypost.render import Format, Terminal

# Set by the console entry point: in-process callers (tests, embedding) keep the model path.
ENABLED = False
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


class Handover:
    """What the model path needs to go on from here: every exchange, to replay, and the input
    indexes already printed (JSONL)."""

    # Plain classes, not dataclasses: making a dataclass costs start-up `track` has not to spare.
    def __init__(self, exchanges: dict[tuple[str, ...], Exchange], printed: set[int]) -> None:
        self.exchanges = exchanges
        self.printed = printed

    def transport(self) -> Any:
        """An httpx transport that answers each recorded request with its exchange."""
        from waypost.lean_replay import Replay

        return Replay(self.exchanges)


def _proxied(environ: Any) -> bool:
    return any(environ.get(v) or environ.get(v.upper()) for v in _PROXY_VARIABLES)


def planned(queries: Sequence[Query], cfg: Config) -> list[str] | None:
    """The ILS numbers the model path would ask, in its order, or None when any query would go
    elsewhere too (or nowhere)."""
    from waypost import carriers
    from waypost.carriers import detect

    infos = carriers.infos()
    if cfg.missing("ils"):
        return None
    numbers: dict[str, None] = {}
    sole = detect.sole_detector(infos)
    ils = ("ils", None)
    for query in queries:
        if query.courier is not None:
            return None
        number = query.number
        if (query.carrier is not None or sole(number) != ils) and detect.targets(
            number, query.carrier, None, infos
        ) != [ils]:
            return None
        numbers.setdefault(number)
    return list(numbers)


# ``store.sqlite.DB_NAME`` and ``store.migrations.SCHEMA_VERSION``, without importing the
# store (a test pins them): a stale version only sends every run to the full check.
_DB_NAME = "waypost.db"
_SCHEMA_VERSION = 7


def _no_legs(numbers: Sequence[str]) -> bool:
    """True when none of ``numbers`` is a watched journey leg (``track`` would show journeys)."""
    from waypost.paths import data_dir

    path = data_dir() / _DB_NAME
    if not path.is_file():
        return True  # no watch list (the lean path has no [store] url): no record to make
    if _no_leg_rows(path, numbers):
        return True
    from waypost.carriers.ils.lean import LeanShipment
    from waypost.cli.journeys import JourneyLegs

    legs = JourneyLegs(None)
    try:
        return not legs.annotate([LeanShipment(n) for n in numbers])
    finally:
        legs.close()


def _no_leg_rows(path: Any, numbers: Sequence[str]) -> bool:
    """True when the watch list, read as it is, has no journey leg of ILS by any of
    ``numbers``; False (the full check decides) when it has one, or when opening it as a store
    would change it (a migration, the journal mode) or it cannot be read so."""
    import sqlite3
    from urllib.parse import quote

    try:
        db = sqlite3.connect(f"file:{quote(str(path))}?mode=rw", uri=True, timeout=0)
    except sqlite3.Error:
        return False
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        if version != _SCHEMA_VERSION or str(mode).lower() != "wal":
            return False
        rows = db.execute(
            "SELECT number FROM watched WHERE journey IS NOT NULL AND carrier = 'ils'"
        ).fetchall()
    except sqlite3.Error:
        return False
    finally:
        db.close()
    wanted = set(numbers)
    return not any(row[0] in wanted for row in rows)


def track(
    env: Env,
    cfg: Config,
    queries: Sequence[Query],
    fmt: Format,
    term: Terminal,
    show_progress: bool,
) -> int | Handover | None:
    """Answer ``queries`` the lean way: the exit code, a ``Handover`` to the model path, or None
    when the lean path does not apply (nothing was sent)."""
    if not queries or env.verbose or cfg.store.get("url"):
        return None  # -v logs every request; PostgreSQL shares the limits
    if _proxied(env.environ):
        return None
    numbers = planned(queries, cfg)
    if numbers is None:
        from waypost import quick_tm  # TrackingMore v4 numbers in the account

        return quick_tm.track(env, cfg, queries, fmt, term, show_progress)
    settings = cfg.carrier("ils")
    from waypost.carriers.ils import ENDPOINT, INFO, MAX_BATCH

    url = str(settings.get("base_url") or INFO.setting("base_url").default).rstrip("/")  # type: ignore[union-attr]
    from waypost.lean_http import Origin

    try:
        Origin(url + ENDPOINT)
    except ValueError:
        return None
    if not _no_legs(numbers):
        return None
    import gc

    # Every object of the answers lives until it is printed: the cyclic collector would only
    # walk them (and the whole heap) again and again: up to ~20% of a 1,000-number run's CPU.
    collecting = gc.isenabled()
    gc.disable()
    try:
        run = _Run(env, cfg, queries, numbers, fmt, term, show_progress)
        return run.run(url + ENDPOINT, MAX_BATCH)
    finally:
        if collecting:
            gc.enable()


class _Run:
    def __init__(
        self,
        env: Env,
        cfg: Config,
        queries: Sequence[Query],
        numbers: list[str],
        fmt: Format,
        term: Terminal,
        show_progress: bool,
    ) -> None:
        from waypost.carriers._parse import zone

        self.env, self.cfg, self.queries, self.fmt, self.term = env, cfg, queries, fmt, term
        self.numbers = numbers
        self.show_progress = show_progress
        self.tz = zone(cfg.carrier("ils").get("timezone"))
        self.found: dict[str, LeanShipment] = {}
        self.exchanges: dict[tuple[str, ...], Exchange] = {}
        self.unclean = False
        self.printed: set[int] = set()
        self.by_number: dict[str, list[int]] = {}
        for i, q in enumerate(queries):
            self.by_number.setdefault(q.number, []).append(i)
        self.mark = _stalled_marker(cfg)

    def run(self, url: str, batch: int) -> int | Handover:
        from waypost import lean_http, render

        chunks = [tuple(self.numbers[i : i + batch]) for i in range(0, len(self.numbers), batch)]
        settings = self.cfg.carrier("ils")
        auth = (str(settings["user_id"]), str(settings["pdd"]))
        from waypost.carriers.ils.rules import build_request

        bodies = [(c, build_request(*auth, c)) for c in chunks]
        from waypost.carriers.ils import INFO, NAME

        with render.progress(self.term, enabled=self.show_progress) as bar:
            bar.start({NAME: len(self.numbers)})
            try:
                lean_http.post_all(
                    url,
                    bodies,
                    timeout=self.env.timeout,
                    connections=INFO.max_connections,
                    max_body=self.cfg.max_body(),
                    on_exchange=lambda ex: self._answered(ex, bar),
                )
            except KeyboardInterrupt:
                bar.stop()
                self._interrupted()
                raise
        if self.unclean:
            return Handover(self.exchanges, self.printed)
        return self._print()

    def _answered(self, exchange: Exchange, bar: Any) -> None:
        from waypost.carriers.ils import NAME

        self.exchanges[exchange.key] = exchange
        shipments = None if self.unclean else _read(exchange, self.tz, self.cfg.max_body())
        if shipments is None:
            self.unclean = True
            return
        for number, shipment in zip(exchange.key, shipments, strict=True):
            self.found[number] = shipment
        bar.advance(NAME, len(exchange.key))
        from waypost.render import Format

        if self.fmt is Format.JSONL:
            from waypost import render

            out = self.env.stdout
            for number in exchange.key:
                for index in self.by_number.get(number, []):
                    if index in self.printed:
                        continue
                    self.printed.add(index)
                    shown = [self.found[number]]
                    self.mark(shown)
                    out.write(render.data_lines([s.data() for s in shown]))
                    out.flush()

    def _interrupted(self) -> None:
        answered = {
            i: self.found[q.number] for i, q in enumerate(self.queries) if q.number in self.found
        }
        print_partial(
            self.env, self.mark, answered, self.fmt, self.term, len(self.queries), self.printed
        )

    def _print(self) -> int:
        from waypost import render
        from waypost.render import Format

        shipments = [self.found[q.number] for q in self.queries]
        self.mark(shipments)
        out = self.env.stdout
        if self.fmt is Format.JSON:
            from waypost import lean_json

            # One write, as the model path writes: a reader gone mid-document is then taken
            # as it always was.
            out.write(lean_json.document(shipments, "\n"))
        elif self.fmt is Format.PLAIN:
            render.plain_track(shipments, self.term, out, {})  # type: ignore[arg-type]
        elif self.fmt is Format.TABLE:
            render.rich_track(shipments, self.term, out, {})  # type: ignore[arg-type]
        out.flush()
        return 0


def print_partial(
    env: Env,
    mark: Callable[[list[Any]], None],
    answered: dict[int, Any],
    fmt: Format,
    term: Terminal,
    total: int,
    printed: set[int],
) -> None:
    """``cli.track._print_partial`` (after Ctrl-C) for lean records by input index: stalled
    marked by the run's ``mark`` as the model path marks each answer, the JSON document written
    the lean way, and the JSON lines of answers not streamed yet."""
    from waypost import render
    from waypost.render import Format

    shown = [s for _, s in sorted(answered.items())]
    mark(shown)
    out = env.stdout
    if fmt is Format.JSON:
        from waypost import lean_json

        out.write(lean_json.document(shown, "\n"))
    elif fmt is Format.JSONL:
        rest = [s.data() for i, s in sorted(answered.items()) if i not in printed]
        out.write(render.data_lines(rest))
    elif shown and fmt is Format.TABLE:
        render.rich_track(shown, term, out, {})
    elif shown:
        render.plain_track(shown, term, out, {})
    out.flush()
    env.say(f"waypost: note: {len(answered)} of {total} number(s) answered before the interrupt")


def _read(exchange: Exchange, tz: Any, max_body: int) -> list[LeanShipment] | None:
    """The shipments of one clean answer (HTTP 200, JSON, code 200, every number), else None."""
    value = decoded(exchange, max_body)
    if value is None:
        return None
    from waypost.carriers.ils.lean import parse_response

    try:
        return parse_response(value, exchange.key, tz)
    except (ValueError, RecursionError):
        return None


def decoded(exchange: Exchange, max_body: int) -> Any | None:
    """The JSON value of an HTTP 200 answer as the model path decodes it, else None."""
    if exchange.fault or exchange.too_large or exchange.status != 200:
        return None
    body = exchange.body
    coding = exchange.header("content-encoding").strip().lower()
    if coding in ("gzip", "x-gzip"):
        import zlib

        inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
        try:
            body = inflate.decompress(body, max_body + 1)
        except zlib.error:
            return None
        if len(body) > max_body or not inflate.eof or inflate.unused_data.strip(b"\0"):
            return None  # too large, cut short or several members: the model path says which
    elif coding not in ("", "identity"):
        return None
    if not body.strip():
        return None
    import json

    from waypost.safe import no_surrogates

    try:
        try:
            value = json.loads(body)
        except UnicodeDecodeError:
            value = json.loads(body.decode("utf-8", "replace"))
        return no_surrogates(body, value)
    except (ValueError, RecursionError):
        return None


def _stalled_marker(cfg: Config) -> Any:
    """``cli.watchlist.insights_marker`` without a store: ``stalled`` set on each shipment
    (``insights.newest_time`` in one pass, once per run of shared event records)."""
    from datetime import UTC, datetime

    from waypost import insights

    now = insights.clock()
    thresholds: dict[str, float] = {}
    newest_of: dict[tuple[Any, ...], Any] = {}  # records hash by identity; keys keep them
    when = insights.when

    def newest_time(events: tuple[Any, ...]) -> Any:
        newest = None
        for e in events:
            t = e.time
            if t is None:
                continue
            if not isinstance(t, datetime):
                t = when(t)
                if t is None:
                    continue
            elif t.tzinfo is None:
                t = t.replace(tzinfo=UTC)
            if newest is None or t > newest:
                newest = t
        return newest

    def mark(shipments: list[Any]) -> None:
        for s in shipments:
            threshold = thresholds.get(s.carrier)
            if threshold is None:
                threshold = thresholds[s.carrier] = insights.stalled_after(cfg, s.carrier)
            key = tuple(s.events)
            newest = newest_of.get(key, _UNSEEN)
            if newest is _UNSEEN:
                newest = newest_of[key] = newest_time(key)
            s.stalled = newest is not None and insights.is_stalled(s.status, newest, threshold, now)

    return mark


_UNSEEN: Any = object()


def enabled() -> bool:
    """True in the ``waypost`` process (not for in-process callers), unless
    ``WAYPOST_LEAN=0``."""
    return ENABLED and os.environ.get("WAYPOST_LEAN", "") != "0"
