"""TrackingMore API v2 (``shared/seeds/trackingmore-api-v2-realtime.txt`` and
``shared/seeds/trackingmore-api-v2-list-ru.txt``; research notes in ``notes/trackingmore.md``).

``carriers.trackingmore.api`` picks the version: ``v4`` (the default) is answered by
``v4`` (``adapter`` chooses); this module is v2's strategy over ``v2_api`` (pure). What both
share is beside them: the facts (``INFO``, number patterns, S10 courier codes) in the package,
the status and substatus tables and zones in ``shared``.

Base ``https://api.trackingmore.com/v2``, header ``Trackingmore-Api-Key``. Every answer is
``{"meta": {"code", "type", "message"}, "data": ...}`` and the adapter branches on ``meta.code``,
never on the HTTP status alone (4016, 4021, 4031... arrive with HTTP 200).

Which path a number takes:

* ``track``: first ``GET /trackings/get?numbers=a,b,...`` (40 numbers per call, 1 call/s) reads
  what the account already holds; 4031/4017 or absence means "not in the account". The first
  ``realtime_max`` of those (in the order given) go to ``POST /trackings/realtime`` (3 calls/s,
  concurrent up to that rate) as soon as a read shows them missing; the numbers past
  ``realtime_max`` go to ``POST /trackings/batch`` (40 per call, as soon as 40 are known to be
  missing, while the reads go on) and are answered ``pending``. ``--save`` then batch-creates
  the realtime-answered numbers in the account.
* ``watch`` (``TrackOptions.watch``): numbers the cache does not know to be in the account are
  batch-created (``pending``); the account is paged with ``limit=2000`` and
  ``update_time_min`` = last successful refresh (``TrackOptions.since``, else the cursor kept in
  the cache) minus 10 minutes, until a short page (or ``total`` is reached). Watched numbers on
  no page are ``Answer(unchanged=True)``. Without a cursor (first refresh) or without a cache
  (membership unknown) the whole account is paged.
* ``realtime_max`` (20): realtime costs N/3 s and gives events now; creating costs about
  N/40 s (batch) and later N/40 s of list reads, but answers ``pending`` until TrackingMore has
  fetched the parcels (minutes to hours). 20 numbers keep ``track`` under 7 s of realtime; past
  that, waiting longer than that at a terminal buys less than the account refresh will, so the
  first 20 come with their events and only the rest wait for the account.

Decisions where the API or the brief is silent:

* A realtime answer is kept in the cache and reused for 2 hours (TrackingMore allows one
  realtime fetch per shipment per 2 hours) unless ``refresh``; what the API answers to a second
  call inside that window is undocumented.
* 429 (HTTP 429 or meta 429; no ``Retry-After`` is documented, one is honoured if sent) pauses
  every TrackingMore limiter of the session for 120 s, and never longer than ``[http]
  max_pause`` (300 s): a ``Retry-After`` of years is a broken server. With ``wait`` or ``watch``
  the request waits that out and is retried once (unless the pause outlasts ``--deadline``);
  otherwise it and every request still queued fail at once with ``RateLimited``.
* Paging stops at a short or empty page, a page seen before, the page count ``total`` implies,
  and at ``MAX_PAGES`` in any case. The watch cursor moves only after the pass's news has been
  delivered and stored (``TrackOptions.after_delivery``), and not at all when paging was cut
  short: a killed or failed pass reads the same updates again; a pass stopped at
  ``MAX_PAGES`` keeps where it stopped and the next one goes on from there (``paged.Resume``).
* The courier for realtime/create: ``Query.courier``, else this module's own sure pattern, else
  the cached ``/carriers/detect`` answer, else one detect call (cached; 5 calls cost one
  credit). Several candidates: the first wins, as TrackingMore's support advises (it also
  auto-corrects the courier on its side). None: the number fails, asking for
  ``trackingmore:COURIER:NUMBER``.
* ``notfound`` is a definite answer: ``found=False``, status ``not_found``, no error (exit 0);
  ``notfound001`` ("info received") is ``found=True``, ``info_received``. ``pending`` (created,
  not fetched yet) is ``found=True``.
* ``transit003`` stays ``in_transit``: every version of the docs files it under Transit ("arrived
  at delivery facility"); out-for-delivery and ready-for-pickup are the main status ``pickup``,
  told apart by the substatus (``pickup002`` ready for collection) or, without one, by the
  words (a locker, ``驿站``, ``入柜``: ``available_for_pickup``).
* ``status_text`` is ``lastEvent`` without its trailing ``,<lastUpdateTime>`` and the newest
  checkpoint's place; without one, the substatus' documented words.
* Times carry no zone: a checkpoint's time is local to where it happened. That is the country
  its place writes out in full (``ZHENGZHOU EMS,CHINA``, ``美国``), else its leg's country
  (origin leg: ``original_country``, destination leg: ``destination_country``; without one,
  the leg courier's home country, ``COURIER_COUNTRIES``; none for a consolidator such as
  Cainiao, whose one leg holds every country's scans). It gets that country's zone where the
  country has one zone (``COUNTRY_ZONES``) and stays naive where it has several (US, RU, CA,
  AU, BR...) or is unknown. A ``timezone`` setting holds for every checkpoint instead.
* Events of both legs are merged, destination leg first so that its details win on duplicates
  (as in ``lastEvent``); an event's status comes from that checkpoint alone: its
  ``checkpoint_status`` and ``substatus``, else its words (``EVENT_WORDS``: 2015-2017 answers
  carry no status field), else ``in_transit``; never the shipment's status.
* Every endpoint has its own limiter (``get_rate``, ``realtime_rate``, ``default_rate``;
  ``http.RateLimiter`` counts arrivals, not sends). The last request time of each endpoint and
  a 429 pause are kept in the cache, so back-to-back runs keep the spacing too.

Detection patterns: UPU S10 (country -> that country's post), UPS ``1Z``, FedEx 12/15/22
(``96``), USPS IMpb and 20-digit, DHL Express 10. Only checks that catch every single-digit
error may make detection sure (>= 0.9): S10 with a check digit other than 5 (5 stands for both
residues 0 and 6), USPS 22-digit. UPS doubles without digit sums (a 0<->5 change in a doubled
place passes), FedEx 12 folds mod 11 into mod 10, FedEx ``96`` checks only its serial, DHL's mod 7
misses +-7 changes, and bare 10/12/15/20-digit numbers are common to many couriers: those
rank below 0.9. FedEx SmartPost numbers are IMpb barcodes USPS delivers (the USPS pattern
takes them); FedEx door tags (``DT`` + 12 digits) have no check digit and are left to detect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from waypost.carriers._parse import (
    as_dict,
    text,
    zone,
)
from waypost.carriers.base import Answer, Query, TrackOptions, state_of
from waypost.carriers.trackingmore import (
    BATCH,
    CARRIERS,
    COURIERS_MAX_AGE,
    DEFAULT_BASE,
    DELETE,
    DETECT,
    DETECT_NONE_MAX_AGE,
    ENDPOINTS,
    GET,
    INFO,
    MAX_CREATE,
    MAX_LIMIT,
    MAX_NUMBERS,
    MAX_PAGES,
    NAME,
    NS_ACCOUNT,
    NS_COURIERS,
    NS_DETECT,
    NS_DETECT_NONE,
    NS_LIMITS,
    NS_REALTIME,
    NS_WATCH,
    PAUSE_429,
    REALTIME,
    REALTIME_MAX,
    REALTIME_REUSE,
    WATCH_OVERLAP,
    paged,
)
from waypost.carriers.trackingmore.shared import _float, limited, pause_error
from waypost.carriers.trackingmore.v2_api import (
    ALREADY_EXISTS,
    ANSWERS,
    CANNOT_DETECT,
    COURIER_HINT,
    NOT_IN_ACCOUNT,
    SUCCESS,
    _chunks,
    _code,
    _pick,
    build_create,
    envelope_error,
    item_number,
    items_of,
    parse_batch,
    parse_couriers,
    parse_detect,
    parse_item,
    read_envelope,
)
from waypost.errors import (
    CarrierError,
    ProtocolError,
    Timeout,
)
from waypost.models import Shipment

if TYPE_CHECKING:
    import httpx

    from waypost.carriers.base import Cache
    from waypost.http import Session
    from waypost.store.protocols import StateStore

log = logging.getLogger("waypost.trackingmore")


def _waits(options: TrackOptions) -> bool:
    """Whether a run waits out a 429's pause: ``--wait``, and every ``watch`` pass."""
    return options.wait or options.watch


class Adapter:
    """Answers numbers from the TrackingMore account first, then by realtime or creation."""

    info = INFO

    def __init__(
        self,
        settings: Mapping[str, Any],
        session: Session,
        cache: Cache | None = None,
        state: StateStore | None = None,
    ) -> None:
        self.settings = settings
        self.session = session
        self.cache = cache
        self.state = state_of(cache, state)
        self.url = str(settings.get("base_url") or DEFAULT_BASE).rstrip("/")
        self.tz = zone(settings.get("timezone"))
        self.rates = {
            GET: float(settings.get("get_rate") or 1.0),
            REALTIME: float(settings.get("realtime_rate") or 3.0),
        }
        self.default_rate = float(settings.get("default_rate") or 1.0)
        self.realtime_max = int(settings.get("realtime_max") or REALTIME_MAX)
        self.headers = {
            "Trackingmore-Api-Key": str(settings.get("api_key") or ""),
            "Content-Type": "application/json",
        }
        from waypost.http import CarrierHandle

        rates = {e: self.rates.get(e, self.default_rate) for e in ENDPOINTS}
        self.http = CarrierHandle(
            session,
            NAME,
            max_connections=INFO.max_connections,
            rates=rates,
            default_rate=self.default_rate,
            state=self.state,
            namespace=NS_LIMITS,
            pause=PAUSE_429,
            pause_error=pause_error,
        )
        self._complete = True

    # -- the one call -------------------------------------------------------------------

    def limiter(self, endpoint: str) -> Any:
        """The session-wide limiter of one endpoint."""
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
        """One API call -> ``(meta.code, data)`` for success codes and ``accept``.

        Any other code raises its CarrierError; a 429 pauses the account (``http.CarrierHandle``)
        and, with ``wait``, is retried once after the pause.
        """
        accepted = frozenset(accept)
        headers = {**self.headers, **kwargs.pop("headers", {})}
        code, message, data = await self.http.call(
            endpoint,
            method,
            self.url + path,
            read=self._envelope,
            limited=limited,
            wait=wait,
            headers=headers,
            **kwargs,
        )
        if code is not None and (code in SUCCESS or code in accepted):
            return code, data
        raise envelope_error(code, message)

    def _envelope(self, response: httpx.Response) -> tuple[int | None, str | None, Any]:
        """``(meta.code, meta.message, data)`` by ``http.read_answer`` and v2's code table."""
        from waypost.http import read_answer

        code, message, data = read_envelope(read_answer(response, NAME, ANSWERS))
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
                answers = await self._track(queries, options)
        except CarrierError as err:
            return [self._failed(q, err) for q in queries]
        return [answers[q.key] for q in queries]

    def _failed(self, query: Query, err: CarrierError) -> Answer:
        err.message = self.session.redact(err.message)
        return Answer(query, [Shipment.failed(query.number, NAME, err, courier=query.courier)])

    def _answer(self, query: Query, item: dict[str, Any]) -> Answer:
        return Answer(query, [parse_item(item, query.number, self.tz, query.courier)])

    async def _track(self, queries: Sequence[Query], options: TrackOptions) -> dict[Any, Answer]:
        """Read the account 40 numbers at a time; ask the first ``realtime_max`` missing numbers
        (in the order given) by realtime as soon as a read shows them missing, and create the
        rest in batches of 40 as soon as a batch is full, while the account is still being read.
        """
        wait = _waits(options)
        out: dict[Any, Answer] = {}
        by_number: dict[str, list[Query]] = {}
        for q in queries:
            by_number.setdefault(q.number, []).append(q)
        reads = [
            asyncio.ensure_future(self._read_chunk(chunk, wait=wait))
            for chunk in _chunks(list(by_number), MAX_NUMBERS)
        ]
        asked: list[Query] = []
        asking: list[asyncio.Future[Answer]] = []
        queued: list[Query] = []
        creating: list[asyncio.Future[dict[Any, Answer]]] = []
        # In the order given (not as the reads complete), so that "the first realtime_max" is
        # the same whichever read answers first; the reads are sent in that order anyway.
        for next_read in reads:
            chunk, held = await next_read
            fresh: list[Query] = []
            for number in chunk:
                for q in by_number[number]:
                    if isinstance(held, CarrierError):
                        out[q.key] = self._failed(q, held)
                    elif (item := _pick(held.get(number, []), q.courier)) is not None:
                        out[q.key] = self._answer(q, item)
                    else:
                        fresh.append(q)
            options.answered(NAME, sum(len(by_number[n]) for n in chunk) - len(fresh))
            for q in fresh:
                if len(asked) < self.realtime_max:
                    asked.append(q)
                    asking.append(asyncio.ensure_future(self._realtime(q, options)))
                else:
                    queued.append(q)
            while len(queued) >= MAX_CREATE:
                batch, queued = queued[:MAX_CREATE], queued[MAX_CREATE:]
                creating.append(asyncio.ensure_future(self._create(batch, options)))
        if queued:
            creating.append(asyncio.ensure_future(self._create(queued, options)))
        realtime, created = await asyncio.gather(asyncio.gather(*asking), asyncio.gather(*creating))
        out.update((q.key, a) for q, a in zip(asked, realtime, strict=True))
        for answers in created:
            out.update(answers)
        if options.save and asked:
            await self._save([out[q.key] for q in asked], wait=wait)
        return out

    async def _read_account(
        self, queries: Sequence[Query], *, wait: bool = False
    ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, CarrierError]]:
        """What the account holds for these numbers: items by number, failures by number."""
        numbers = list(dict.fromkeys(q.number for q in queries))
        held: dict[str, list[dict[str, Any]]] = {}
        failures: dict[str, CarrierError] = {}
        chunks = _chunks(numbers, MAX_NUMBERS)
        for chunk, result in await asyncio.gather(
            *(self._read_chunk(c, wait=wait) for c in chunks)
        ):
            if isinstance(result, CarrierError):
                failures.update((n, result) for n in chunk)
            else:
                held.update(result)
        return held, failures

    async def _read_chunk(
        self, numbers: Sequence[str], *, wait: bool
    ) -> tuple[Sequence[str], dict[str, list[dict[str, Any]]] | CarrierError]:
        """One ``GET /trackings/get?numbers=`` call: the account's items by number, or why not."""
        try:
            items = await self._get_numbers(numbers, wait=wait)
        except CarrierError as err:
            return numbers, err
        held: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            number = item_number(item)
            if number is not None and number in numbers:
                held.setdefault(number, []).append(item)
                self._remember(number, text(item.get("carrier_code")))
        return numbers, held

    async def _get_numbers(self, numbers: Sequence[str], *, wait: bool) -> list[dict[str, Any]]:
        params = {"numbers": ",".join(numbers)}
        code, data = await self.call(
            GET, "GET", GET, params=params, accept=NOT_IN_ACCOUNT, wait=wait
        )
        return [] if code in NOT_IN_ACCOUNT else items_of(data)

    async def _realtime(self, query: Query, options: TrackOptions) -> Answer:
        try:
            answer = await self._realtime_answer(query, options)
        except CarrierError as err:
            answer = self._failed(query, err)
        options.answered(NAME, 1)
        return options.deliver(answer)

    async def _realtime_answer(self, query: Query, options: TrackOptions) -> Answer:
        if self.cache is not None and not options.refresh:
            hit = as_dict(self.cache.get(NS_REALTIME, query.number, REALTIME_REUSE))
            item = as_dict(hit.get("item"))
            if item and query.courier in (None, hit.get("asked"), item.get("carrier_code")):
                return self._answer(query, item)
        wait = _waits(options)
        courier = await self._courier(query, wait=wait)
        _, data = await self.call(
            REALTIME, "POST", REALTIME, json=build_create(query.number, courier), wait=wait
        )
        items = items_of(data)
        mine = [i for i in items if item_number(i) == query.number]
        item = (mine or items or [{"status": "notfound", "carrier_code": courier}])[0]
        if self.cache is not None:
            self.cache.put(NS_REALTIME, query.number, {"asked": courier, "item": item})
        return Answer(query, [parse_item(item, query.number, self.tz, courier)])

    # -- couriers -------------------------------------------------------------------------

    async def _courier(self, query: Query, *, wait: bool = False) -> str:
        """The courier code realtime and create need for ``query``."""
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
                hint=COURIER_HINT,
            )
        if len(found) > 1:
            log.info(
                "%s: %s could be %s; asking as %s",
                NAME,
                query.number,
                ", ".join(c["code"] for c in found),
                found[0]["code"],
            )
        return found[0]["code"]

    async def detect_courier(self, number: str, *, wait: bool = False) -> list[dict[str, str]]:
        """TrackingMore's courier candidates for ``number`` (cached; each call costs credit)."""
        number = number.upper()
        if self.cache is not None:
            hit = self.cache.get(NS_DETECT, number)
            if isinstance(hit, list) and hit:
                return parse_detect(hit)
            if self.cache.get(NS_DETECT_NONE, number, DETECT_NONE_MAX_AGE) is not None:
                return []
        code, data = await self.call(
            DETECT,
            "POST",
            DETECT,
            json={"tracking_number": number},
            accept={CANNOT_DETECT},
            wait=wait,
        )
        found = [] if code == CANNOT_DETECT else parse_detect(data)
        if self.cache is not None:
            if found:
                self.cache.put(NS_DETECT, number, found)
            else:
                self.cache.put(NS_DETECT_NONE, number, True)
        return found

    async def couriers(self, lang: str | None = None) -> list[dict[str, Any]]:
        """TrackingMore's courier list (``GET /carriers``), cached for a day."""
        key = lang or "en"
        if self.cache is not None:
            hit = self.cache.get(NS_COURIERS, key, COURIERS_MAX_AGE)
            if isinstance(hit, list):
                return hit
        headers = {"Lang": lang} if lang else {}
        _, data = await self.call(CARRIERS, "GET", CARRIERS, headers=headers)
        rows = parse_couriers(data)
        if self.cache is not None:
            self.cache.put(NS_COURIERS, key, rows)
        return rows

    # -- the account ------------------------------------------------------------------------

    def _remember(self, number: str | None, courier: str | None) -> None:
        if self.state is not None and number:
            self.state.put(NS_ACCOUNT, number, courier or "")

    def _forget(self, number: str) -> None:
        if self.state is not None:
            self.state.put(NS_ACCOUNT, number, None)

    def _member(self, number: str) -> str | None:
        """The courier under which the cache saw ``number`` in the account ("" unknown)."""
        if self.state is None:
            return None
        hit = self.state.get(NS_ACCOUNT, number)
        return hit if isinstance(hit, str) else None

    async def _batch(
        self, pairs: Sequence[tuple[str, str]], *, wait: bool
    ) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int | None, str]]]:
        """Create ``(number, courier)`` pairs, 40 per call; a failed call fails its chunk."""
        created: dict[str, dict[str, Any]] = {}
        errors: dict[str, tuple[int | None, str]] = {}
        chunks = _chunks(pairs, MAX_CREATE)

        async def one(chunk: Sequence[tuple[str, str]]) -> None:
            body = [build_create(n, c) for n, c in chunk]
            _, data = await self.call(BATCH, "POST", BATCH, json=body, wait=wait)
            made, failed = parse_batch(data)
            created.update(made)
            errors.update(failed)
            for number, courier in chunk:
                if number in made or failed.get(number, (None,))[0] == ALREADY_EXISTS:
                    self._remember(
                        number, text(made.get(number, {}).get("carrier_code")) or courier
                    )

        await asyncio.gather(*(one(c) for c in chunks))
        return created, errors

    async def _create(self, queries: Sequence[Query], options: TrackOptions) -> dict[Any, Answer]:
        """Add numbers to the account and answer them ``pending`` (4016: read them back)."""
        out: dict[Any, Answer] = {}
        wait = _waits(options)
        couriers = await asyncio.gather(
            *(self._courier(q, wait=wait) for q in queries), return_exceptions=True
        )
        todo: list[tuple[Query, str]] = []
        for q, courier in zip(queries, couriers, strict=True):
            if isinstance(courier, CarrierError):
                out[q.key] = self._failed(q, courier)
            elif isinstance(courier, BaseException):
                raise courier
            else:
                todo.append((q, courier))
        try:
            created, errors = await self._batch([(q.number, c) for q, c in todo], wait=wait)
        except CarrierError as err:
            out.update((q.key, self._failed(q, err)) for q, _ in todo)
            options.answered(NAME, len(queries))
            return out
        existing: list[Query] = []
        for q, _courier in todo:
            if q.number in created:
                out[q.key] = self._answer(q, created[q.number])
            elif errors.get(q.number, (None,))[0] == ALREADY_EXISTS:
                existing.append(q)
            else:
                code, message = errors.get(q.number, (None, "left out of the batch answer"))
                error = (
                    envelope_error(code, message)
                    if code
                    else ProtocolError(f"{NAME}: {message}", carrier=NAME)
                )
                out[q.key] = self._failed(q, error)
        if existing:
            out.update(await self._read_back(existing, wait=wait))
        options.answered(NAME, len(queries))
        return out

    async def _read_back(self, queries: Sequence[Query], *, wait: bool) -> dict[Any, Answer]:
        held, failures = await self._read_account(queries, wait=wait)
        out = {}
        for q in queries:
            item = _pick(held.get(q.number, []), q.courier) or _pick(held.get(q.number, []), None)
            if q.number in failures:
                out[q.key] = self._failed(q, failures[q.number])
            elif item is not None:
                out[q.key] = self._answer(q, item)
            else:
                item = {"status": "pending", "carrier_code": q.courier}
                out[q.key] = self._answer(q, item)
        return out

    async def _save(self, answers: Sequence[Answer], *, wait: bool) -> None:
        """``--save``: add the realtime-answered numbers to the account (4016 is fine)."""
        pairs = [
            (a.query.number, a.shipments[0].courier or a.query.courier or "")
            for a in answers
            if a.failure is None and a.shipments
        ]
        pairs = [(n, c) for n, c in pairs if c]
        if not pairs:
            return
        try:
            _, errors = await self._batch(pairs, wait=wait)
        except CarrierError as err:
            log.warning("%s: could not add the numbers to the account: %s", NAME, err.message)
            return
        for number, (code, message) in errors.items():
            if code != ALREADY_EXISTS:
                log.warning("%s: %s not added to the account: %s", NAME, number, message)

    # -- watch --------------------------------------------------------------------------

    async def _watch(self, queries: Sequence[Query], options: TrackOptions) -> dict[Any, Answer]:
        cursor: float | None = None
        if self.state is not None:
            saved = self.state.get(NS_WATCH, "cursor")
            cursor = options.since if options.since is not None else _float(saved)
        resumed = None
        if options.since is None:
            resumed = paged.Resume.load(self.state, NS_WATCH, cursor)
        try:
            pages = await self._pass_pages(cursor, wait=True, first=resumed.page if resumed else 1)
        except CarrierError as err:
            options.answered(NAME, len(queries))
            return {q.key: self._failed(q, err) for q in queries}
        out: dict[Any, Answer] = {}
        new: list[Query] = []
        for q in queries:
            picked = _pick(pages.get(q.number), q.courier)
            if picked is not None:
                self._remember(q.number, text(picked.get("carrier_code")))
                out[q.key] = self._answer(q, picked)
            elif (cursor is not None or pages.partial) and self._member(q.number) is not None:
                out[q.key] = Answer(q, [], unchanged=True)
            else:
                new.append(q)
        options.answered(NAME, len(queries) - len(new))
        if new:
            out.update(await self._create(new, options))
        if self.state is not None:
            keep = paged.Resume.after(self.state, NS_WATCH, cursor, pages, resumed)
            options.after_delivery(NAME, keep)
        return out

    async def _pass_pages(
        self, cursor: float | None, *, wait: bool, first: int = 1
    ) -> paged.PassPages:
        """The pass's account items since ``cursor`` from page ``first`` on: read once per
        session (its first chunk), kept on disk page by page (``paged``), picked from by every
        chunk."""
        pages = await paged.read_once(
            self.session, NAME + " v2", cursor, lambda p: self._pages(p, wait=wait), first
        )
        self._complete = pages.complete
        if pages.error is not None:
            raise pages.error
        return pages

    async def _pages(self, pages: paged.PassPages, *, wait: bool) -> None:
        """Every account item updated since ``pages.since`` (minus the overlap), page by page
        into ``pages``."""
        cursor = pages.since
        params: dict[str, Any] = {"limit": MAX_LIMIT}
        if cursor is not None:
            params["update_time_min"] = int(cursor - WATCH_OVERLAP)
        seen: set[tuple[str, ...]] = set()
        for page in range(pages.first, pages.first + MAX_PAGES):
            if self.session.remaining() <= 0:
                raise Timeout(
                    f"{NAME}: run deadline reached while paging the account", carrier=NAME
                )
            code, data = await self.call(
                GET, "GET", GET, params={**params, "page": page}, accept=NOT_IN_ACCOUNT, wait=wait
            )
            batch = [] if code in NOT_IN_ACCOUNT else items_of(data)
            signature = tuple(str(i.get("id") or item_number(i)) for i in batch)
            if not batch or signature in seen:
                return
            seen.add(signature)
            pages.spool.add((n, i) for i in batch if (n := item_number(i)))
            total = _code(as_dict(data).get("total"))
            if len(batch) < MAX_LIMIT or (total is not None and page * MAX_LIMIT >= total):
                return
        log.warning(
            "%s: the account has more than %d pages of updates; the rest waits for the next pass",
            NAME,
            MAX_PAGES,
        )
        pages.capped(pages.first + MAX_PAGES - 1)

    # -- remove -------------------------------------------------------------------------

    async def remove(self, queries: Sequence[Query], *, wait: bool = False) -> list[Answer]:
        """Delete numbers from the TrackingMore account (4017: already gone, fine)."""
        couriers = {q.key: q.courier or self._member(q.number) or None for q in queries}
        unknown = [q for q in queries if not couriers[q.key]]
        held, failures = await self._read_account(unknown, wait=wait) if unknown else ({}, {})
        answers = []
        for q in queries:
            if q.number in failures:
                answers.append(self._failed(q, failures[q.number]))
                continue
            item = _pick(held.get(q.number, []), None)
            courier = couriers[q.key] or (text(item.get("carrier_code")) if item else None)
            answers.append(await self._delete(q, courier, wait=wait))
        return answers

    async def _delete(self, query: Query, courier: str | None, *, wait: bool) -> Answer:
        words = "was not in the TrackingMore account"
        if courier:
            try:
                code, _ = await self.call(
                    DELETE,
                    "DELETE",
                    f"/trackings/{courier}/{query.number}",
                    accept={4017},
                    wait=wait,
                )
            except CarrierError as err:
                return self._failed(query, err)
            if code in SUCCESS:
                words = "deleted from the TrackingMore account"
        self._forget(query.number)
        shipment = Shipment(
            tracking_number=query.number, carrier=NAME, courier=courier, status_text=words
        )
        return Answer(query, [shipment])
