"""TrackingMore API v4 adapter: the strategy over ``v4_api`` (whose docstring names the public
source of every API fact). Patterns, courier codes (the package) and status tables (``shared``)
are shared with the v2 adapter (``v2``); ``carriers.trackingmore.api`` picks the version.

Which path a number takes:

* ``track``: ``GET /trackings/get?tracking_numbers=`` reads the account 40 numbers a call at
  10 calls/s. As soon as a read comes back, its numbers that are not in the account are created
  one by one with ``POST /trackings/create`` (3 calls/s, concurrently with the reads still
  going): v4's create answers with the tracking's checkpoints, so the user gets events, not
  ``pending``. 4101 (it exists after all) reads the number back. Without ``--save`` each created
  tracking is deleted again (``DELETE /trackings/delete/{id}``, 10/s, beside the creates), so
  that only ``--save`` leaves numbers in the account, as with v2.
  Real-time creates last as long as the run's budget (``_Budget``: ``REALTIME_BUDGET`` 30 s at
  3/s = 90 numbers, or what ``--deadline`` leaves; one per session, so the batches of ``track
  --save`` share it instead of each spending 30 s); the numbers past it go to ``POST
  /trackings/batch`` (40 a call, beside the creates), stay in the account (TrackingMore fetches
  them) and are answered ``pending`` with a hint to ``watch``. Every answer is handed over
  (``TrackOptions.deliver``) as soon as its read or create returns.
* ``watch``: without a cursor (first pass, or no cache) the watched numbers are read by number.
  With one, ``GET /trackings/get?updated_date_min=`` (cursor minus 10 minutes) pages through
  what changed: ``items_amount`` 100, ``pages_amount`` 1, 2, ... until a page shorter than asked,
  an empty page, a page repeating the one before, or ``MAX_PAGES`` (400 pages of 100: the
  40,000 trackings v2's 20 pages of 2,000 read, 40 s at 10 calls/s). The pages are read once
  per pass, by its first chunk, and each page goes to a temporary file as it comes
  (``paged``): memory stays flat in pages, and every chunk picks its numbers from there. The
  run's deadline ends paging with a ``Timeout`` for every number. Watched numbers on no page
  that the cache knows to be in the account are ``Answer(unchanged=True)``; others are read by
  number, and created when still absent. ``watch`` keeps what it creates. The cursor moves
  only after the pass's news has been delivered and stored (``TrackOptions.after_delivery``),
  and not at all when a number the account holds failed: a killed or failed pass reads the
  same updates again. A pass stopped at ``MAX_PAGES`` keeps where it stopped and the next one
  goes on from there; the cursor moves once a pass reaches the end (``paged.Resume``).
* Couriers for create: ``Query.courier``, else the shared patterns, else ``POST
  /couriers/detect`` (cached), as with v2.
* Limits: one ``http.RateLimiter`` per endpoint at the documented rate (``get_rate``,
  ``realtime_rate`` for create, ``default_rate`` for the rest; the documented rates unless
  configured: TrackingMore negotiates higher ones with larger plans). A 429 pauses every
  endpoint of the session for 120 s (or ``Retry-After``), never longer than ``[http]
  max_pause`` (300 s), a pause stored by an earlier run included; ``--wait``/``watch`` wait it
  out and retry once (unless it outlasts ``--deadline``: then it is reported), otherwise the
  numbers fail with ``RateLimited``, whose message says how long the pause really lasts.
* ``lang`` (``carriers.trackingmore.lang``) is sent as ``lang`` on reads and ``language`` on
  creates; TrackingMore then sends checkpoint texts in that language. No public source shows it
  sending the original text beside the translation, so ``Event.description_local`` stays empty.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from waypost.carriers import trackingmore as facts
from waypost.carriers._parse import as_dict, text, zone
from waypost.carriers.base import Answer, Query, TrackOptions, put_many, state_of
from waypost.carriers.trackingmore import paged, shared
from waypost.carriers.trackingmore import v4_api as api
from waypost.carriers.trackingmore import v4_fast as fast
from waypost.errors import CarrierError, ProtocolError, Timeout
from waypost.http import now as http_now
from waypost.models import Shipment

if TYPE_CHECKING:
    import httpx

    from waypost.carriers.base import Cache
    from waypost.http import RateLimiter, Session
    from waypost.store.protocols import StateStore

log = logging.getLogger("waypost.trackingmore")

NAME = api.NAME
INFO = facts.INFO
WATCH_OVERLAP = 600.0
CREATE_REUSE = 2 * 3600.0
NS_CREATED = "trackingmore4.created"
NS_ACCOUNT = "trackingmore4.account"
NS_WATCH = "trackingmore4.watch"
NS_DETECT = "trackingmore4.detect"
NS_LIMITS = "trackingmore4.limits"


FLUSH_EVERY = 500  # account changes kept before they are written
REALTIME_BUDGET = 30.0  # s of real-time creates without --deadline: 90 numbers at 3/s
YIELD_EVERY = 8  # answers parsed between two turns of the event loop
BUDGET_MARGIN = 1.0  # s kept back from --deadline for the last answers
PENDING_WORDS = "created in the TrackingMore account; its events follow (`waypost watch`)"


class _Budget:
    """Which numbers not in the account a run creates in real time, the first ones found
    first. Without --deadline (``hard`` False) the budget is a count: ``seconds`` times the
    create rate (30 s at 3/s: 90). Under --deadline it is what the create limiter can have
    answered by then: waves of its permits, each a permit hold and a round trip (as long as the
    first account read took: a permit comes back a hold after its answer, ``http.RateLimiter``)
    after the one before, the last one answered a round trip later."""

    def __init__(self, seconds: float, limiter: RateLimiter | None, *, hard: bool) -> None:
        self.seconds = seconds
        self.started = http_now()
        self.limiter = limiter
        self.hard = hard
        self.first: float | None = None
        self.taken = 0
        self.over = 0

    def take(self) -> bool:
        """True when one more real-time create fits; else it is counted as over budget."""
        now = http_now()
        if self.first is None:
            self.first = now
        fits = True
        if self.limiter is not None and not self.hard:
            fits = self.taken < math.floor(self.seconds * self.limiter.per_second)
        elif self.limiter is not None:
            trip = max(0.0, self.first - self.started)
            wave = self.taken // self.limiter.size
            step = self.limiter.hold + trip
            done = self.first + wave * step + trip
            fits = done <= self.started + self.seconds
        if fits:
            self.taken += 1
        else:
            self.over += 1
        return fits

    def hint(self, rate: float, over: int | None = None) -> str:
        """What the user can do about the ``over`` numbers (default: all) past the budget."""
        return (
            f"trackingmore: {self.over if over is None else over} number(s) not in the account "
            "were past the real-time "
            f"budget ({self.seconds:.0f} s, {rate:g} creates/s) and were created without events "
            "(pending); `waypost watch` shows their events once TrackingMore has fetched them "
            "(with `track --save` to watch them), or allow more time with --deadline"
        )


_BUDGETS: weakref.WeakKeyDictionary[Session, _Budget] = weakref.WeakKeyDictionary()


def _chunks(values: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _pick(items: Iterable[dict[str, Any]], courier: str | None) -> dict[str, Any] | None:
    listed = list(items)
    if courier is None:
        return listed[0] if listed else None
    return next((i for i in listed if text(i.get("courier_code")) == courier), None)


class Adapter:
    """Answers numbers from the TrackingMore v4 account, creating the missing ones in real time."""

    info = INFO

    def __init__(
        self,
        settings: Mapping[str, Any],
        session: Session,
        cache: Cache | None = None,
        state: StateStore | None = None,
    ) -> None:
        self.session = session
        self.cache = cache
        self.state = state_of(cache, state)
        self.url = str(settings.get("base_url") or api.DEFAULT_BASE).rstrip("/")
        self.tz = zone(settings.get("timezone"))
        self.lang = text(settings.get("lang"))
        configured = {
            api.GET: settings.get("get_rate"),
            api.CREATE: settings.get("realtime_rate"),
        }
        other = settings.get("default_rate")
        self.rates: dict[str, float] = {}
        for endpoint, documented in api.RATES.items():
            chosen = configured.get(endpoint, other)
            self.rates[endpoint] = float(chosen) if chosen else documented
        self.headers = {
            api.HEADER: str(settings.get("api_key") or ""),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        from waypost.http import CarrierHandle

        self.http = CarrierHandle(
            session,
            NAME,
            max_connections=INFO.max_connections,
            rates=self.rates,
            prefix="v4 ",
            state=self.state,
            namespace=NS_LIMITS,
            pause=api.PAUSE_429,
            pause_error=shared.pause_error,
        )
        self._complete = True
        # Account membership learnt this run, written in one transaction (``_flush``) at the
        # end of each operation or every FLUSH_EVERY changes, instead of one write per number.
        self._account: dict[str, str | None] = {}

    # -- the one call -------------------------------------------------------------------

    def limiter(self, endpoint: str) -> RateLimiter | None:
        """The session-wide limiter of one v4 endpoint."""
        return self.http.limiter(endpoint)

    async def call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        accept: Iterable[int] = (),
        wait: bool = False,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        """One API call -> ``(meta.code, data)`` for 200 and ``accept``; other codes raise (a 429
        pauses the account, and ``wait`` waits it out: ``http.CarrierHandle``)."""
        accepted = frozenset(accept)
        code, message, data = await self.http.call(
            endpoint,
            method,
            self.url + path,
            read=self._envelope,
            limited=shared.limited,
            wait=wait,
            headers=self.headers,
            **kwargs,
        )
        if code == api.SUCCESS or code in accepted:
            return code, data
        raise api.error_for(code, message)

    def _envelope(self, response: httpx.Response) -> tuple[int, str | None, Any]:
        """``(meta.code, meta.message, data)`` by ``http.read_answer`` and v4's code table."""
        from waypost.http import read_answer

        code, message, data = api.read_envelope(read_answer(response, NAME, api.ANSWERS))
        if code is None:
            status = response.status_code
            raise ProtocolError(f"{NAME}: answer without meta.code (HTTP {status})", carrier=NAME)
        return code, message, data

    # -- track --------------------------------------------------------------------------

    async def track(self, queries: Sequence[Query], options: TrackOptions) -> list[Answer]:
        """Answer every query; failures become failed Shipments, never exceptions."""
        try:
            if options.watch:
                answers = await self._watch(queries, options)
            else:
                answers = await self._track(queries, options, keep=options.save)
        except CarrierError as err:
            return [self._failed(q, err) for q in queries]
        finally:
            self._flush()
        return [answers[q.key] for q in queries]

    def _failed(self, query: Query, err: CarrierError) -> Answer:
        err.message = self.session.redact(err.message)
        return Answer(query, [Shipment.failed(query.number, NAME, err, courier=query.courier)])

    def _answer(self, query: Query, item: Mapping[str, Any]) -> Answer:
        return Answer(
            query, [fast.parse_tracking(item, query.number, self.tz, courier=query.courier)]
        )

    async def _track(
        self, queries: Sequence[Query], options: TrackOptions, *, keep: bool
    ) -> dict[Any, Answer]:
        """Reads of 40 at 10/s; each read's missing numbers go to create at once (3/s) while
        the run's real-time budget lasts, the rest to batch create (``pending``)."""
        wait = options.wait or options.watch
        by_number: dict[str, list[Query]] = {}
        for q in queries:
            by_number.setdefault(q.number, []).append(q)
        out: dict[Any, Answer] = {}
        creating: list[asyncio.Future[None]] = []
        budget = self._budget()
        over_before = budget.over
        queued: list[Query] = []

        async def create(q: Query) -> None:
            answer, tracking_id = await self._create(
                q, keep=keep, refresh=options.refresh, wait=wait
            )
            out[q.key] = options.deliver(answer)
            options.answered(NAME, 1)
            if tracking_id is not None:
                await self._delete_id(tracking_id, q.number, wait=wait)

        async def batch(chunk: list[Query]) -> None:
            for q, answer in (await self._create_batch(chunk, wait=wait)).items():
                out[q.key] = options.deliver(answer)
            options.answered(NAME, len(chunk))

        reads = [
            asyncio.ensure_future(self._read_chunk(chunk, wait=wait))
            for chunk in _chunks(list(by_number), api.MAX_NUMBERS)
        ]
        for next_read in asyncio.as_completed(reads):
            chunk, held = await next_read
            answered = 0
            for i, number in enumerate(chunk):
                if i % YIELD_EVERY == YIELD_EVERY - 1:
                    # Let the other requests go out meanwhile: a long parse would hold them
                    # back (and the answers that give their permits back).
                    await asyncio.sleep(0)
                for q in by_number[number]:
                    if isinstance(held, CarrierError):
                        out[q.key] = options.deliver(self._failed(q, held))
                        answered += 1
                    elif (item := _pick(held.get(number, []), q.courier)) is not None:
                        out[q.key] = options.deliver(self._answer(q, item))
                        answered += 1
                    elif (reused := self._reused(q, options.refresh)) is not None:
                        out[q.key] = options.deliver(reused)
                        answered += 1
                    elif budget.take():
                        creating.append(asyncio.ensure_future(create(q)))
                    else:
                        queued.append(q)
            options.answered(NAME, answered)
            while len(queued) >= api.MAX_BATCH:
                creating.append(asyncio.ensure_future(batch(queued[: api.MAX_BATCH])))
                del queued[: api.MAX_BATCH]
        if queued:
            creating.append(asyncio.ensure_future(batch(queued)))
        await asyncio.gather(*creating)
        if budget.over > over_before:
            options.hints.append(budget.hint(self.rates[api.CREATE], budget.over - over_before))
        return out

    def _budget(self) -> _Budget:
        """The session's real-time budget: one per run, however many batches ``track --save``
        hands this carrier in it."""
        budget = _BUDGETS.get(self.session)
        if budget is None:
            hard = self.session.remaining() != float("inf")
            budget = _Budget(self.realtime_budget(), self.limiter(api.CREATE), hard=hard)
            _BUDGETS[self.session] = budget
        return budget

    def realtime_budget(self) -> float:
        """Seconds of real-time creates this run may spend: ``--deadline`` when given (less
        the last answer's round trip), else ``REALTIME_BUDGET``."""
        left = self.session.remaining()
        if left == float("inf"):
            return REALTIME_BUDGET
        return max(0.0, left - BUDGET_MARGIN)

    async def _read_chunk(
        self, numbers: Sequence[str], *, wait: bool
    ) -> tuple[Sequence[str], dict[str, list[dict[str, Any]]] | CarrierError]:
        """One ``GET /trackings/get?tracking_numbers=``: items by number, or why not."""
        try:
            _, data = await self.call(
                api.GET,
                "GET",
                api.GET,
                params=api.numbers_query(numbers, self.lang),
                accept={api.NOT_EXISTS},
                wait=wait,
            )
        except CarrierError as err:
            return numbers, err
        held, members = api.held_trackings(data, numbers)
        if members:
            self._account.update(members)
            self._flush_some()
        return numbers, held

    async def _create(
        self, query: Query, *, keep: bool, refresh: bool = False, wait: bool = False
    ) -> tuple[Answer, str | None]:
        """Create one tracking and answer it from the real-time answer; with it the id to
        delete afterwards (``keep`` False), else None. A recent answer is reused unless
        ``refresh``."""
        reused = self._reused(query, refresh)
        if reused is not None:
            return reused, None
        try:
            courier = await self._courier(query, wait=wait)
            code, data = await self.call(
                api.CREATE,
                "POST",
                api.CREATE,
                json=api.create_body(query.number, courier, self.lang),
                accept={api.EXISTS},
                wait=wait,
            )
        except CarrierError as err:
            return self._failed(query, err), None
        if code == api.EXISTS:
            _, held = await self._read_chunk([query.number], wait=wait)
            if isinstance(held, CarrierError):
                return self._failed(query, held), None
            found = _pick(held.get(query.number, []), None)
            return self._answer(query, found or {"delivery_status": "pending"}), None
        items = api.trackings_of(data)
        mine = [i for i in items if api.item_number(i) == query.number]
        item = mine[0] if mine else {"delivery_status": "pending", "courier_code": courier}
        if self.cache is not None:
            self.cache.put(NS_CREATED, query.number, {"asked": courier, "item": item})
        tracking_id = text(item.get("id"))
        if keep or not tracking_id:
            self._remember(query.number, tracking_id)
            return self._answer(query, item), None
        return self._answer(query, item), tracking_id

    def _reused(self, query: Query, refresh: bool) -> Answer | None:
        """The answer of a recent create of this number (``CREATE_REUSE``), unless ``refresh``."""
        if self.cache is None or refresh:
            return None
        hit = as_dict(self.cache.get(NS_CREATED, query.number, CREATE_REUSE))
        item = as_dict(hit.get("item"))
        if item and query.courier in (None, hit.get("asked"), item.get("courier_code")):
            return self._answer(query, item)
        return None

    async def _create_batch(self, queries: Sequence[Query], *, wait: bool) -> dict[Query, Answer]:
        """``POST /trackings/batch`` (at most 40): the numbers join the account without
        events yet, answered ``pending`` (4101: read back instead)."""
        out: dict[Query, Answer] = {}
        todo: list[tuple[Query, str]] = []
        for q in queries:
            try:
                todo.append((q, await self._courier(q, wait=wait)))
            except CarrierError as err:
                out[q] = self._failed(q, err)
        if not todo:
            return out
        body = [api.create_body(q.number, courier, self.lang) for q, courier in todo]
        try:
            _, data = await self.call(api.BATCH, "POST", api.BATCH, json=body, wait=wait)
        except CarrierError as err:
            out.update((q, self._failed(q, err)) for q, _ in todo)
            return out
        made, failed = api.parse_batch(data)
        existing: list[Query] = []
        for q, courier in todo:
            if q.number in made:
                item = made[q.number]
                self._remember(q.number, text(item.get("id")))
                shipment = fast.parse_tracking(
                    {"delivery_status": "pending", "courier_code": courier, **item},
                    q.number,
                    self.tz,
                    courier=courier,
                )
                shipment.status_text = PENDING_WORDS
                out[q] = Answer(q, [shipment])
            elif failed.get(q.number, (None, ""))[0] == api.EXISTS:
                existing.append(q)
            else:
                code, message = failed.get(q.number, (None, "left out of the batch answer"))
                error = (
                    api.error_for(code, message)
                    if code is not None
                    else ProtocolError(f"{NAME}: {message}", carrier=NAME)
                )
                out[q] = self._failed(q, error)
        for chunk in _chunks(existing, api.MAX_NUMBERS):
            _, held = await self._read_chunk([q.number for q in chunk], wait=wait)
            for q in chunk:
                if isinstance(held, CarrierError):
                    out[q] = self._failed(q, held)
                else:
                    found = _pick(held.get(q.number, []), q.courier)
                    out[q] = self._answer(q, found or {"delivery_status": "pending"})
        return out

    async def _delete_id(self, tracking_id: str, number: str, *, wait: bool) -> bool:
        """Delete one tracking by id (4102: already gone); False when the call failed."""
        try:
            await self.call(
                api.DELETE,
                "DELETE",
                api.item_path(api.DELETE, tracking_id),
                accept={api.NOT_EXISTS, api.BAD_ID},
                wait=wait,
            )
        except (CarrierError, ValueError) as err:
            log.warning("%s: %s stays in the account: %s", NAME, number, err)
            return False
        self._forget(number)
        return True

    # -- couriers -------------------------------------------------------------------------

    async def _courier(self, query: Query, *, wait: bool = False) -> str:
        if query.courier:
            return query.courier
        from waypost.carriers import detect

        top = detect.sure(detect.candidates(query.number, [INFO]))
        if top is not None and top.courier:
            return top.courier
        found = await self.detect_courier(query.number, wait=wait)
        if not found:
            raise CarrierError(
                f"{NAME}: TrackingMore cannot tell the courier of this number",
                carrier=NAME,
                hint=api.COURIER_HINT,
            )
        return found[0]["code"]

    async def detect_courier(self, number: str, *, wait: bool = False) -> list[dict[str, str]]:
        """TrackingMore's courier candidates for ``number`` (cached)."""
        number = number.upper()
        if self.cache is not None:
            hit = self.cache.get(NS_DETECT, number, 86400.0)
            if isinstance(hit, list):
                return [c for c in hit if isinstance(c, dict)]
        code, data = await self.call(
            api.DETECT,
            "POST",
            api.DETECT,
            json={"tracking_number": number},
            accept={api.CANNOT_DETECT},
            wait=wait,
        )
        found = [] if code == api.CANNOT_DETECT else api.parse_detect(data)
        if self.cache is not None:
            self.cache.put(NS_DETECT, number, found)
        return found

    async def couriers(self, lang: str | None = None) -> list[dict[str, Any]]:
        """TrackingMore's courier list (``GET /couriers/all``), cached for a day."""
        key = "v4"
        if self.cache is not None:
            hit = self.cache.get(facts.NS_COURIERS, key, facts.COURIERS_MAX_AGE)
            if isinstance(hit, list):
                return hit
        _, data = await self.call(api.COURIERS, "GET", api.COURIERS)
        rows = api.parse_couriers(data)
        if self.cache is not None:
            self.cache.put(facts.NS_COURIERS, key, rows)
        return rows

    # -- the account ----------------------------------------------------------------------

    def _remember(self, number: str, tracking_id: str | None) -> None:
        self._account[number] = tracking_id or ""
        self._flush_some()

    def _forget(self, number: str) -> None:
        self._account[number] = None
        self._flush_some()

    def _member(self, number: str) -> bool:
        if number in self._account:
            return self._account[number] is not None
        return self.state is not None and isinstance(self.state.get(NS_ACCOUNT, number), str)

    def _flush_some(self) -> None:
        if len(self._account) >= FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        """Write the membership learnt so far and the endpoints' last requests, one write each."""
        if self.state is not None and self._account:
            put_many(self.state, NS_ACCOUNT, self._account.items())
        self._account = {}
        self.http.flush()

    # -- watch --------------------------------------------------------------------------

    async def _watch(self, queries: Sequence[Query], options: TrackOptions) -> dict[Any, Answer]:
        started = time.time()
        cursor: float | None = None
        if self.state is not None:
            saved = shared._float(self.state.get(NS_WATCH, "cursor"))
            cursor = options.since if options.since is not None else saved
        resumed = None
        if cursor is None:
            out = await self._track(queries, options, keep=True)
        else:
            if options.since is None:
                resumed = paged.Resume.load(self.state, NS_WATCH, cursor)
            first = resumed.page if resumed is not None else 1
            try:
                pages = await self._pass_pages(cursor - WATCH_OVERLAP, wait=True, first=first)
            except CarrierError as err:
                options.answered(NAME, len(queries))
                return {q.key: self._failed(q, err) for q in queries}
            started = pages.started
            out = {}
            rest: list[Query] = []
            for q in queries:
                item = _pick(pages.get(q.number), q.courier)
                if item is not None:
                    self._remember(q.number, text(item.get("id")))
                    out[q.key] = self._answer(q, item)
                elif self._member(q.number):
                    out[q.key] = Answer(q, [], unchanged=True)
                else:
                    rest.append(q)
            options.answered(NAME, len(queries) - len(rest))
            if rest:
                out.update(await self._track(rest, options, keep=True))
        # A failed number the account holds would be "unchanged" on every later page read.
        missed = any(a.failure is not None and self._member(a.query.number) for a in out.values())
        if self.state is not None and not missed:
            if cursor is None:
                if self._complete:
                    cache = self.state
                    options.after_delivery(NAME, lambda: cache.put(NS_WATCH, "cursor", started))
            else:
                keep = paged.Resume.after(self.state, NS_WATCH, cursor, pages, resumed)
                options.after_delivery(NAME, keep)
        return out

    async def _pass_pages(self, since: float, *, wait: bool, first: int = 1) -> paged.PassPages:
        """The pass's pages of trackings updated since ``since`` from page ``first`` on: read by
        its first chunk (one session), kept on disk page by page, picked from by every chunk."""
        pages = await paged.read_once(
            self.session, NAME, since, lambda p: self._pages(p, wait=wait), first
        )
        self._complete = pages.complete
        if pages.error is not None:
            raise pages.error
        return pages

    async def _pages(self, pages: paged.PassPages, *, wait: bool) -> None:
        """Every tracking updated since ``pages.since``, page by page into ``pages`` (no page
        kept in memory), with a hard stop."""
        previous: list[str] | None = None
        for page in range(pages.first, pages.first + api.MAX_PAGES):
            if self.session.remaining() <= 0:
                raise Timeout(
                    f"{NAME}: run deadline reached while paging the account", carrier=NAME
                )
            _, data = await self.call(
                api.GET,
                "GET",
                api.GET,
                params=api.page_query(pages.since, page, self.lang),
                accept={api.NOT_EXISTS},
                wait=wait,
            )
            items = api.trackings_of(data)
            del data
            keys = [f"{api.item_number(i)}/{i.get('courier_code')}" for i in items]
            if not items or keys == previous:
                return
            pages.spool.add((n, i) for i in items if (n := api.item_number(i)))
            if len(items) < api.PAGE_SIZE:
                return
            previous = keys
        log.warning(
            "%s: the account has more than %d pages of updates; the rest waits for the next pass",
            NAME,
            api.MAX_PAGES,
        )
        pages.capped(pages.first + api.MAX_PAGES - 1)

    # -- remove -------------------------------------------------------------------------

    async def remove(self, queries: Sequence[Query], *, wait: bool = False) -> list[Answer]:
        """Delete numbers from the account by id (read by number first); absent is fine."""
        try:
            return await self._remove(queries, wait=wait)
        finally:
            self._flush()

    async def _remove(self, queries: Sequence[Query], *, wait: bool) -> list[Answer]:
        numbers = list(dict.fromkeys(q.number for q in queries))
        held: dict[str, list[dict[str, Any]]] = {}
        failures: dict[str, CarrierError] = {}
        for chunk, result in await asyncio.gather(
            *(self._read_chunk(c, wait=wait) for c in _chunks(numbers, api.MAX_NUMBERS))
        ):
            if isinstance(result, CarrierError):
                failures.update((n, result) for n in chunk)
            else:
                held.update(result)

        async def one(q: Query) -> Answer:
            if q.number in failures:
                return self._failed(q, failures[q.number])
            items = [
                i for i in held.get(q.number, []) if q.courier in (None, i.get("courier_code"))
            ]
            words = "was not in the TrackingMore account"
            courier = q.courier
            for item in items:
                tracking_id = text(item.get("id"))
                courier = text(item.get("courier_code")) or courier
                if tracking_id and await self._delete_id(tracking_id, q.number, wait=wait):
                    words = "deleted from the TrackingMore account"
                elif tracking_id:
                    return self._failed(
                        q, CarrierError(f"{NAME}: the delete call failed", carrier=NAME)
                    )
            self._forget(q.number)
            shipment = Shipment(
                tracking_number=q.number, carrier=NAME, courier=courier, status_text=words
            )
            return Answer(q, [shipment])

        return list(await asyncio.gather(*(one(q) for q in queries)))

    async def update_courier(self, tracking_id: str, courier: str) -> dict[str, Any]:
        """Move a tracking to another courier (``PUT /trackings/update/{id}``)."""
        _, data = await self.call(
            api.UPDATE,
            "PUT",
            api.item_path(api.UPDATE, tracking_id),
            json=api.update_body(courier),
        )
        return as_dict(data)
