"""``track``'s lean path for TrackingMore API v4 numbers in the account: no pydantic, httpx or
asyncio (issue 20, whole-process speed; the reads of ``carriers/trackingmore/v4``).

Taken (from ``quick.track``, with its conditions: no ``--save``, ``--deadline`` or ``-v``, no
proxy, no PostgreSQL store, no journey leg) when every number goes to TrackingMore
alone, the configured API is v4 on an ``http://`` or ``https://`` URL (TLS with the model path's
verification rules, ``lean_tls``; a TLS fault is handed over as any other), and the state the
model path keeps says no request has to wait: no 429 pause stored and no read in the last second
(else the model path, which waits or reports). The requests are the model path's reads: ``GET
/trackings/get`` of 40 numbers, the same headers, at most ``get_rate`` (10) a second and never
above: each of the ``get_rate`` permits comes back a second after its read's answer was read,
which is after its request arrived (the rule ``http.RateLimiter`` follows too). Answers are read by
``carriers/trackingmore/lean`` (the rules the model path builds its models from) and printed as
the models would print them.

A read that is not clean (an HTTP error, a 429, an error code, a body that is not JSON, a
fault of the connection) or that shows a number not in the account (4102, or a number or
courier left out: it needs a create) stops further reads; every exchange is then handed to the
model path (``Handover``), which replays them as if httpx had received them, creates what is
missing, retries, reports and prints as it always does, asking nothing twice.
"""

from __future__ import annotations

import heapq
import http.client
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from waypost import lean_http, quick
from waypost.lean_httpclient import _Connection

if TYPE_CHECKING:
    from typing import Protocol

    from waypost.carriers.base import Query
    from waypost.carriers.trackingmore.lean import TrackingShipment
    from waypost.cli.env import Env
    from waypost.config import Config
    from waypost.lean_http import Exchange, Origin
    from waypost.render import Format, Terminal

    class Clock(Protocol):
        """What ``get_all``'s permits count on: the ``time`` module, or a test's virtual clock
        (whose ``sleep`` skips ahead). Sockets keep their own real-time deadlines."""

        def monotonic(self) -> float:
            """Seconds on this clock."""
            ...

        def sleep(self, seconds: float) -> None:
            """Let ``seconds`` pass on this clock."""
            ...


NAME = "trackingmore"
# ``carriers/trackingmore/v4``'s state namespaces (that module loads httpx and the models; a
# test pins these to it).
NS_ACCOUNT = "trackingmore4.account"
NS_LIMITS = "trackingmore4.limits"
# ``v4_api``'s facts the reads need before it is imported (it is imported while they are out;
# the same test pins these).
DEFAULT_BASE = "https://api.trackingmore.com/v4"
GET = "/trackings/get"
GET_RATE = 10.0
MAX_NUMBERS = 40
Planned = tuple[str, str | None]  # (number, courier) as the model path asks it


class Handover(quick.Handover):
    """``quick.Handover`` whose recorded exchanges are v4 reads (keyed by their numbers)."""

    def transport(self) -> Any:
        """An httpx transport that answers each recorded read with its exchange."""
        from waypost.lean_replay import Replay

        class Reads(Replay):
            def _recorded(self, request: Any) -> Exchange | None:
                if request.method != "GET" or not self.exchanges:
                    return None
                raw = request.url.params.get("tracking_numbers")
                if not raw:
                    return None
                return self.exchanges.pop(tuple(raw.split(",")), None)

        return Reads(self.exchanges)


def planned(queries: Sequence[Query]) -> list[Planned] | None:
    """Per query, the one (number, courier) the model path asks TrackingMore, or None when any
    query would go elsewhere too."""
    from waypost import carriers
    from waypost.carriers import detect

    infos = carriers.infos()
    out: list[Planned] = []
    for query in queries:
        targets = detect.targets(query.number, query.carrier, query.courier, infos)
        if len(targets) != 1 or targets[0][0] != NAME:
            return None
        out.append((query.number, targets[0][1] or query.courier))
    return out


def _key_ok(key: str) -> bool:
    return bool(key) and all(" " <= c <= "~" for c in key)


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
    from waypost.carriers import trackingmore as facts

    raw = cfg.carrier(NAME)
    if facts.api_version(raw) != "v4" or cfg.missing(NAME):
        return None
    asked = planned(queries)
    if asked is None:
        return None
    settings = facts.effective_settings(raw)
    key = str(settings.get("api_key") or "")
    base = str(settings.get("base_url") or DEFAULT_BASE).rstrip("/")
    try:
        origin = lean_http.Origin(base + GET, tls=True)
    except ValueError:
        return None
    if not _key_ok(key):
        return None
    chosen = settings.get("get_rate")  # as the adapter reads it: default_rate is not the reads'
    rate = float(chosen) if chosen else GET_RATE
    keeper = _Keeper(env, rate)
    keeper.start()
    if origin.tls:
        origin.context()  # the CA store loads while the keeper reads the stored state
    from waypost.carriers.trackingmore import INFO

    reads = math.ceil(len({number for number, _ in asked}) / MAX_NUMBERS)
    pool = open_pool(origin, key, env.timeout, INFO.max_connections, rate, reads)
    if keeper.wait():
        threading.Thread(target=_close, args=(pool,), daemon=True).start()  # none waits
        return None
    import gc

    # Every object of the answers lives until it is printed (as in ``quick.track``): the cyclic
    # collector would only walk them, and the whole heap, again and again.
    collecting = gc.isenabled()
    gc.disable()
    run = _Run(env, cfg, settings, queries, asked, fmt, term, show_progress)
    try:
        return run.run(origin, key, rate, keeper, pool)
    finally:
        _close(pool)
        keeper.finish()
        del run  # its records go first: the collector, on again, would walk them all at once
        if collecting:
            gc.enable()


def _close(pool: list[_GetConnection]) -> None:
    """Close ``pool``'s connections once each has opened (or failed to)."""
    for conn in pool:
        conn.opened()
        conn.close()


class _Keeper(threading.Thread):
    """The store, in a thread of its own (SQLite connections stay in the thread that opened
    them): it reads whether the first read must wait (``_must_wait``); once the first answer
    is read it stores that read's time, as the model path does at its first answer (so a run
    started meanwhile spaces its reads after it); at the run's end it writes what the model
    path's reads keep (account membership, the last read's time) in one short transaction,
    before the printing. A session's first write syncs the store's new WAL file (about a
    millisecond or two on a disk), which the first answer's write takes while the rest are
    read. The store's close, a checkpoint that waits for the disk, is nobody's wait: the
    run's state is committed before it."""

    def __init__(self, env: Env, rate: float) -> None:
        super().__init__(daemon=True)
        self.env, self.rate = env, rate
        self.checked = threading.Event()
        self.woken = threading.Event()  # the first answer was read, or the run ended
        self.done = threading.Event()
        self.written = threading.Event()
        self.held = True
        self.first_read: float | None = None
        self.members: dict[str, str] = {}
        self.last_read: float | None = None

    def run(self) -> None:
        """Check, wait, write, close."""
        cache = self.env.cache()
        try:
            try:
                self.held = _must_wait(cache.state, self.rate)
            finally:
                self.checked.set()
            if self.held:
                return
            self.woken.wait()
            if self.first_read is not None and not self.done.is_set():
                cache.state.put_rows([(NS_LIMITS, GET, self.first_read)])
            self.done.wait()
            rows: list[tuple[str, str, Any]] = [(NS_ACCOUNT, n, i) for n, i in self.members.items()]
            if self.last_read is not None:
                rows.append((NS_LIMITS, GET, self.last_read))
            if rows:
                cache.state.put_rows(rows)  # one write
            del rows
            self.members = {}  # nothing of the run stays alive while the store closes
        finally:
            self.written.set()
            cache.close()

    def wait(self) -> bool:
        """True when the stored state says the first read must wait."""
        self.checked.wait()
        return self.held

    def answered(self, when: float) -> None:
        """The first answer was read at ``when`` (``time.time()``)."""
        if self.first_read is None:
            self.first_read = when
            self.woken.set()

    def keep(self, members: dict[str, str], last_read: float | None) -> None:
        """Write these once the run has ended (``finish``)."""
        self.members, self.last_read = members, last_read

    def finish(self) -> None:
        """Let the thread write what it was given (nothing: a handover) and wait for the write;
        the store closes behind it."""
        self.done.set()
        self.woken.set()
        self.written.wait()


def _no_legs(numbers: Sequence[str]) -> bool:
    """True when none of ``numbers`` is a watched journey leg (``track`` would show journeys)."""
    from waypost.carriers.trackingmore.lean import TrackingShipment
    from waypost.cli.journeys import JourneyLegs

    legs = JourneyLegs(None)
    try:
        return not legs.annotate([TrackingShipment(n, carrier=NAME) for n in numbers])
    finally:
        legs.close()


def _hold(rate: float) -> tuple[int, float]:
    """``http.RateLimiter``'s permits and hold for ``rate`` requests a second."""
    import math

    size = max(1, math.floor(rate))
    return size, max(1.0, size / rate)


def _must_wait(state: Any, rate: float) -> bool:
    """True when the stored state would hold the first read back: a 429 pause that lasts, or
    a read of an earlier run less than a hold ago (``http.CarrierHandle.prime``)."""
    import math

    now = time.time()
    for name in ("paused_until", GET):
        value = state.get(NS_LIMITS, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not math.isfinite(value):
            continue
        if name == "paused_until" and value > now:
            return True
        if name == GET and now - value < _hold(rate)[1]:
            return True
    return False


class _GetConnection(_Connection):
    """A kept-alive connection that sends v4 reads as ``http.Session`` sends them through httpx,
    in two steps (``begin`` sends, ``end`` reads the answer), so that one thread can have a
    wave of reads out at once."""

    def __init__(self, origin: Origin, timeout: float, key: str) -> None:
        super().__init__(origin, timeout)
        self.key = key
        self._out = lean_http.Exchange(None)
        self._payload = b""
        self._max_body = 0
        self._started = self._deadline = 0.0
        self._reused = False
        self._unsent: BaseException | None = None

    @property
    def unsent(self) -> bool:
        """True when ``begin`` did not get the read out."""
        return self._unsent is not None

    def send_request(self, payload: bytes) -> None:
        """GET the request target ``payload`` with the v4 headers."""
        self.putrequest("GET", payload.decode("ascii"), skip_host=True, skip_accept_encoding=True)
        self.putheader("Host", self.origin.authority)
        self.putheader("Accept", "application/json")
        self.putheader("Connection", "keep-alive")
        self.putheader("User-Agent", lean_http.USER_AGENT)
        self.putheader("Accept-Encoding", lean_http.ACCEPT_ENCODING)
        self.putheader("Tracking-Api-Key", self.key)
        self.putheader("Content-Type", "application/json")
        self.endheaders()

    def begin(self, key: Any, payload: bytes, max_body: int) -> None:
        """Send one read (``lean_http``'s ``send_by``); a fault waits for ``end``."""
        self._started = time.monotonic()
        self._deadline = self._started + self.budget
        self._out = lean_http.Exchange(key)
        self._payload, self._max_body = payload, max_body
        self.opened()
        self._reused = self.sock is not None and not self.fresh
        self._unsent = None
        try:
            self.send_by(payload, self._deadline)
        except (lean_http._Fault, OSError) as exc:
            self._unsent = exc

    def _response(self) -> http.client.HTTPResponse:
        if self._unsent is not None:
            raise self._unsent
        try:
            return self.getresponse()
        except http.client.RemoteDisconnected:
            raise lean_http._Fault("closed") from None  # not a byte of an answer

    def end(self) -> Exchange:
        """The exchange of the read ``begin`` sent, faults as ``lean_http`` records them."""
        out = self._out
        try:
            try:
                resp = self._response()
            except lean_http._Fault as fault:
                if not (self._reused and fault.kind in ("closed", "unsent")):
                    raise
                # A kept-alive connection the server had closed: httpx opens a new one too.
                self.close()
                resp = self._once(self._payload, self._deadline)
            try:
                self._read(out, resp, self._max_body)
            finally:
                resp.close()  # a kept-alive connection stays open for the next read
        except lean_http._Fault as fault:
            out.fault = {"closed": "protocol", "unsent": "read"}.get(fault.kind, fault.kind)
            self.close()
        except TimeoutError:
            out.fault = "timeout"
            self.close()
        except http.client.HTTPException:
            out.fault = "protocol"  # a RemoteProtocolError in httpx (h11) too
            self.close()
        except OSError:
            out.fault = "read"  # a reset: httpx's ReadError
            self.close()
        finally:
            out.elapsed = time.monotonic() - self._started
        return out


def get_all(
    origin: Origin,
    key: str,
    targets: Sequence[tuple[Any, bytes]],
    *,
    timeout: float,
    connections: int,
    max_body: int,
    rate: float,
    on_exchange: Callable[[Exchange], bool],
    meanwhile: Callable[[], bool] = lambda: True,
    pool: list[_GetConnection] | None = None,
    clock: Clock = time,
) -> None:
    """GET every ``(key, target)`` from this one thread, at most ``connections`` at once and
    ``rate`` a second, and call ``on_exchange`` with each exchange in the order sent (a wave's
    answers arrive together); once it returns False no further request is sent (those out are
    still read). ``meanwhile`` runs once the first wave is out (False: send no more). ``pool``:
    the first wave's connections, from ``open_pool`` (else opened here). ``clock``: what the
    permits count on.

    Each of the ``rate`` permits comes back a hold (1 s at 10/s) after its answer came, which
    is after its request arrived: no second of the server's sees more than ``rate`` arrivals,
    however late a request reaches it. While a permit is due before the oldest read's answer
    has come, this thread waits for whichever comes first (``_Waiting``), so a wave goes out
    as its permits come back, not one round trip after the first of them."""
    size, hold = _hold(rate)
    todo = list(reversed(targets))
    # When each permit may be used again, as one-item lists: a read's permit is unknown while
    # it is out, and comes back a hold after its answer (or at once if it never went out).
    permits = [[clock.monotonic()] for _ in range(size)]
    if pool is None:
        pool = open_pool(origin, key, timeout, connections, rate, len(targets))
    idle = list(pool)
    out: list[tuple[_GetConnection, list[float]]] = []
    waiting = _Waiting(hold, clock)
    stop = first = False
    try:
        while todo or out:
            while todo and idle and not stop and permits[0][0] <= clock.monotonic():
                heapq.heappop(permits)
                conn = idle.pop()
                item, target = todo.pop()
                conn.begin(item, target, max_body)
                # On a loaded machine a request can reach the server well after its write;
                # only its answer proves it arrived, so the permit waits for the answer.
                permit = [clock.monotonic() + hold if conn.unsent else math.inf]
                heapq.heappush(permits, permit)
                out.append((conn, permit))
            if not first:
                first = True
                stop = not meanwhile()
            if out:
                waiting.look(out, 0.0)
                heapq.heapify(permits)
                due = permits[0][0] if todo and idle and not stop else math.inf
                head = out[0][0]
                if due < math.inf and not waiting.settled(head):
                    left = due - clock.monotonic()
                    if left > 0:
                        waiting.look(out, left)  # an answer, or the next permit's time
                    heapq.heapify(permits)
                    continue
                conn, permit = out.pop(0)
                exchange = conn.end()
                waiting.forget(conn)
                if permit[0] == math.inf:
                    permit[0] = clock.monotonic() + hold
                heapq.heapify(permits)
                idle.append(conn)
                if not on_exchange(exchange):
                    stop = True
            elif todo and not stop:
                clock.sleep(max(0.0, permits[0][0] - clock.monotonic()))
            else:
                break
    finally:
        for conn in idle + [c for c, _ in out]:
            conn.close()


def open_pool(
    origin: Origin, key: str, timeout: float, connections: int, rate: float, reads: int
) -> list[_GetConnection]:
    """The connections of ``get_all``'s first wave of ``reads`` reads, opening meanwhile."""
    size, _ = _hold(rate)
    pool = [_GetConnection(origin, timeout, key) for _ in range(min(connections, size, reads))]
    if len(pool) > 1:
        address = None if origin.tls else _address(origin)
        for conn in pool:  # the first wave's connections open together, as httpx opens them
            conn.open_soon(address)
    return pool


def _address(origin: Origin) -> Any:
    """The first address of ``origin``'s host (None when it has none: each connection's own
    ``connect`` reports it)."""
    import socket

    try:
        return socket.getaddrinfo(
            origin.host.encode("ascii"), origin.port, type=socket.SOCK_STREAM
        )[0]
    except (OSError, UnicodeError):
        return None


class _Waiting:
    """Which reads out have an answer (or an end, a fault) waiting to be read, found without
    reading it: an answer's first bytes prove its read arrived, so its permit's hold starts
    then; an end or a fault proves nothing (its permit waits for ``end``)."""

    def __init__(self, hold: float, clock: Clock) -> None:
        self.hold, self.clock = hold, clock
        self.ready: set[int] = set()  # ids of connections ``end`` will not wait for

    def settled(self, conn: _GetConnection) -> bool:
        """True when ``end`` of ``conn`` reads what has come (or fails) without waiting."""
        return conn.sock is None or conn.unsent or id(conn) in self.ready

    def forget(self, conn: _GetConnection) -> None:
        """``conn``'s answer was read."""
        self.ready.discard(id(conn))

    def look(self, out: list[tuple[_GetConnection, list[float]]], timeout: float) -> None:
        """Wait up to ``timeout`` seconds for any read out to settle; stamp the permits of
        those whose answer started."""
        pending = [(c, p) for c, p in out if not self.settled(c)]
        if not pending:
            if timeout > 0:
                self.clock.sleep(timeout)
            return
        import select

        try:
            ready, _, _ = select.select([c.sock for c, _ in pending], [], [], timeout)
        except (OSError, ValueError):
            ready = [c.sock for c, _ in pending]  # a socket gone bad: ``end`` reports it
            for conn, _ in pending:
                self.ready.add(id(conn))
        now = self.clock.monotonic()
        for conn, permit in pending:
            if conn.sock not in ready:
                continue
            started = self._started(conn)
            if started is None:
                continue  # TLS session tickets only (now read): nothing to wait on yet
            self.ready.add(id(conn))
            if started and permit[0] == math.inf:
                permit[0] = now + self.hold

    @staticmethod
    def _started(conn: _GetConnection) -> bool | None:
        """Of a readable connection: True when an answer started, False for an end or a
        fault, None when nothing of an answer came (over TLS only decrypted bytes count:
        the raw ones may be the server's session tickets, sent before it read the request)."""
        import socket

        sock: Any = conn.sock
        if conn.origin.tls:
            if sock.answer_started():
                return True
            if sock.answer_ended():
                return False
            return None
        sock.settimeout(0)  # each read of ``end`` sets its own again
        try:
            return bool(sock.recv(1, socket.MSG_PEEK))
        except BlockingIOError:
            return None
        except OSError:
            return False


class _Run:
    def __init__(
        self,
        env: Env,
        cfg: Config,
        settings: dict[str, Any],
        queries: Sequence[Query],
        asked: list[Planned],
        fmt: Format,
        term: Terminal,
        show_progress: bool,
    ) -> None:
        from waypost.carriers._parse import text, zone

        self.env, self.cfg, self.queries, self.fmt, self.term = env, cfg, queries, fmt, term
        self.asked = asked
        self.show_progress = show_progress
        self.tz = zone(settings.get("timezone"))
        self.lang = text(settings.get("lang"))
        self.found: dict[Planned, TrackingShipment] = {}
        self.exchanges: dict[tuple[str, ...], Exchange] = {}
        self.members: dict[str, str] = {}
        self.unclean = False
        self.printed: set[int] = set()
        self.last_read: float | None = None
        self.by_number: dict[str, list[int]] = {}
        self.couriers: dict[str, list[str | None]] = {}
        for i, (number, courier) in enumerate(asked):
            self.by_number.setdefault(number, []).append(i)
            kinds = self.couriers.setdefault(number, [])
            if courier not in kinds:
                kinds.append(courier)
        self.mark: Callable[[list[Any]], None] = lambda shipments: None
        self.keeper: _Keeper | None = None
        self.reads = 0  # how many reads the run sends

    def meanwhile(self) -> bool:
        """What waits for no answer, while the reads are out: the imports the answers need and
        the journey check (a leg: the model path, which shows journeys); False to stop."""
        from waypost import lean_json  # noqa: F401
        from waypost.carriers.trackingmore import lean  # noqa: F401

        self.mark = quick._stalled_marker(self.cfg)
        if _no_legs(list(self.by_number)):
            return True
        self.unclean = True
        return False

    def run(
        self,
        origin: Origin,
        key: str,
        rate: float,
        keeper: _Keeper,
        pool: list[_GetConnection] | None = None,
    ) -> int | Handover:
        from urllib.parse import urlencode

        numbers = list(self.by_number)
        size = MAX_NUMBERS
        chunks = [tuple(numbers[i : i + size]) for i in range(0, len(numbers), size)]
        extra = {"lang": self.lang} if self.lang else {}
        targets = [
            (c, f"{origin.target}?{urlencode({'tracking_numbers': ','.join(c), **extra})}".encode())
            for c in chunks
        ]
        count = sum(len(kinds) for kinds in self.couriers.values())
        return self._run(origin, key, rate, targets, count, keeper, pool)

    def _run(
        self,
        origin: Origin,
        key: str,
        rate: float,
        targets: list[tuple[Any, bytes]],
        count: int,
        keeper: _Keeper,
        pool: list[_GetConnection] | None = None,
    ) -> int | Handover:
        from waypost import render
        from waypost.carriers.trackingmore import INFO

        self.keeper, self.reads = keeper, len(targets)
        with render.progress(self.term, enabled=self.show_progress) as bar:
            bar.start({NAME: count})
            try:
                get_all(
                    origin,
                    key,
                    targets,
                    timeout=self.env.timeout,
                    connections=INFO.max_connections,
                    max_body=self.cfg.max_body(),
                    rate=rate,
                    on_exchange=lambda ex: self._answered(ex, bar),
                    meanwhile=self.meanwhile,
                    pool=pool,
                    clock=self.env.clock,
                )
                if len(self.exchanges) < len(targets):
                    self.unclean = True  # not all sent: the model path sends the rest
            except KeyboardInterrupt:
                bar.stop()
                self._interrupted()
                raise
        if self.unclean:
            return Handover(self.exchanges, self.printed)
        keeper.keep(self.members, self.last_read)
        # Written before the printing (a write beside it would wait for the interpreter's lock
        # once per statement); the store's close goes beside it.
        keeper.finish()
        return self._print()

    def _answered(self, exchange: Exchange, bar: Any) -> bool:
        self.exchanges[exchange.key] = exchange
        if self.unclean:
            return False
        try:
            read = self._read(exchange)
        except Exception:  # a fault of the lean reader: the model path reads it (tests: never)
            read = None
        if read is None:
            self.unclean = True
            return False
        self.last_read = time.time()
        if self.keeper is not None and len(self.exchanges) < self.reads:
            self.keeper.answered(self.last_read)  # more answers to read: it writes meanwhile
        answered = 0
        for number in exchange.key:
            answered += len(self.couriers[number])
        bar.advance(NAME, answered)
        from waypost.render import Format

        if self.fmt is Format.JSONL:
            from waypost import render

            out = self.env.stdout
            for number in exchange.key:
                for index in self.by_number[number]:
                    if index in self.printed:
                        continue
                    self.printed.add(index)
                    shown = [self.found[self.asked[index]].model_copy()]
                    self.mark(shown)
                    out.write(render.data_lines([s.data() for s in shown]))
                    out.flush()
        return True

    def _read(self, exchange: Exchange) -> bool | None:
        """True when the read answered every number of its chunk from the account, else None."""
        from waypost.carriers.trackingmore import lean
        from waypost.carriers.trackingmore import v4_api as api

        value = quick.decoded(exchange, self.cfg.max_body())
        if value is None:
            return None
        code, _, data = api.read_envelope(value)
        if code != api.SUCCESS:
            return None  # 4102 (none in the account), an error: the model path
        held, members = api.held_trackings(data, exchange.key)
        found: dict[Planned, TrackingShipment] = {}
        for number in exchange.key:
            for courier in self.couriers[number]:
                picked = _pick(held.get(number, []), courier)
                if picked is None:
                    return None  # not in the account: a create, on the model path
                found[(number, courier)] = lean.parse_tracking(picked, number, self.tz, courier)
        self.found.update(found)
        self.members.update(members)
        return True

    def _shipments(self) -> list[Any]:
        # One record per query: a number asked twice is shown twice, as two models would be.
        return [self.found[p] for p in self.asked]

    def _interrupted(self) -> None:
        answered = {
            i: self.found[p].model_copy() for i, p in enumerate(self.asked) if p in self.found
        }
        count = len(self.queries)
        quick.print_partial(self.env, self.mark, answered, self.fmt, self.term, count, self.printed)

    def _print(self) -> int:
        from waypost import render
        from waypost.render import Format

        shipments = self._shipments()
        self.mark(shipments)
        out = self.env.stdout
        if self.fmt is Format.JSON:
            from waypost import lean_json

            out.write(lean_json.document(shipments) + "\n")
        elif self.fmt is Format.PLAIN:
            render.plain_track(shipments, self.term, out, {})
        elif self.fmt is Format.TABLE:
            render.rich_track(shipments, self.term, out, {})
        out.flush()
        return 0


def _pick(items: list[dict[str, Any]], courier: str | None) -> dict[str, Any] | None:
    """``v4._pick``: the first item, or the first of ``courier``."""
    from waypost.carriers._parse import text

    if courier is None:
        return items[0] if items else None
    return next((i for i in items if text(i.get("courier_code")) == courier), None)
