"""The one HTTP layer: a shared ``httpx.AsyncClient`` per run, timeouts, retries, rate limits.

Every carrier request goes through ``Session.request``. It

* waits for the endpoint's rate limiter (requests spaced at exactly the documented rate,
  shared by every task of the run) and for one of the carrier's bounded connection slots;
* cuts each attempt at ``--timeout`` and the whole run at ``--deadline``;
* retries connect errors, timeouts, 5xx and (where the carrier allows) 429 with exponential
  backoff and full jitter, honouring ``Retry-After``; never other 4xx. Retries use tenacity;
* maps low-level httpx errors to ``waypost.errors`` raised ``from`` the cause;
* reads every answer body bounded: at most ``max_body`` bytes after decompression (gzip and
  deflate are inflated here, never more than the bound ahead), within the attempt's deadline.

``read_answer`` is the one "status + body -> payload or error" policy every carrier uses, read
by the carrier's declared ``AnswerCodes``: JSON (depth-bounded, text with broken UTF-8
replaced) whatever the status when it is the carrier's envelope, a bare status the carrier's
table lists as its stand-in envelope, else one clear error for HTML, empty, truncated or refused
answers.

TLS verification is always on; nothing in the config can turn it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import importlib
import json
import logging
import math
import random
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
)
from tenacity.stop import stop_base

from waypost import __version__
from waypost.errors import (
    AuthError,
    CarrierError,
    NetworkError,
    ProtocolError,
    RateLimited,
    Timeout,
)

if TYPE_CHECKING:
    from waypost.carriers.base import AnswerCodes
    from waypost.store.protocols import StateStore

log = logging.getLogger("waypost.http")

USER_AGENT = f"waypost/{__version__} (+https://github.com/waypost/waypost)"
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# A permit shared with other hosts (PostgreSQL's ``rate_slots``) is leased: a host that dies
# holding one frees it this long (plus the hold) after its request was sent; ARRIVAL_JITTER is
# the shortest such lease. Other hosts fill every gap of a shared budget, so the lease is long
# (measured: 3 hosts on 2 busy cores drew PandaPon 429s with 0.2 s); a host's own permits still
# wait for answers.
ARRIVAL_JITTER = 0.2
SHARED_JITTER = 1.5
# Bounds of one answer: its size after decompression, and the longest pause a carrier's
# Retry-After (or its documented pause) may impose (TrackingMore documents 120 s).
MAX_BODY = 32 << 20
# Answers grow past this one at a time per run, so concurrent large answers (a bomb on every
# connection) hold at most MAX_BODY + SMALL_BODY per connection, not MAX_BODY each.
SMALL_BODY = 4 << 20
MAX_PAUSE = 300.0
ACCEPT_ENCODING = "gzip, deflate"


class Paused(Exception):
    """The limiter is paused (after a carrier's 429) and the caller would rather not wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"paused for {seconds:.0f} s")
        self.seconds = seconds


class _Unlimited:
    """``sending()`` of an endpoint without a rate limit."""

    def __call__(self) -> None:
        """Nothing to count."""

    def answered(self) -> None:
        """Nothing to count."""


_unlimited = _Unlimited()


def now() -> float:
    """Monotonic seconds on the running event loop's clock (``time.monotonic`` outside one).

    Rate limits, 429 pauses and deadlines all read this clock and wait with ``asyncio.sleep``,
    so an event loop on a virtual clock (the tests') moves them together."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


# Sessions made without a transport use this one when set (the tests' in-process sandbox).
default_transport: Callable[[], httpx.AsyncBaseTransport] | None = None


class SharedBudget(Protocol):
    """Rate-limit permits and 429 pauses held across hosts (PostgreSQL's ``rate_slots``)."""

    def take(self, key: str, size: int, fallback: float) -> tuple[int | None, float, bool]:
        """One of ``size`` permits of ``key``, free again ``fallback`` s from now at the latest:
        ``(permit, 0, False)``, or ``(None, seconds to wait, paused)``."""

    def sent(self, key: str, permit: int, fallback: float) -> None:
        """The request left now: the permit is free ``fallback`` s from now at the earliest."""

    def give_back(self, key: str, permit: int, hold: float) -> None:
        """The answer came: the permit is free ``hold`` s from now (or earlier, as taken)."""

    def pause(self, key: str, seconds: float) -> None:
        """Every host holds ``key`` for ``seconds`` (a carrier's 429)."""


class RateLimiter:
    """Keeps one endpoint within "at most N requests per second", as the server counts them.

    A carrier counts *arrivals*, and a request reaches the server later than it was taken or
    sent whenever something comes between: a busy client descheduled between its permit and its
    write, a slow write, a loaded server that reads it late. Neither the send nor the write
    proves when the server counted it; its answer does (the server had the request before it
    answered). So the limiter hands out ``size`` permits, and a permit comes back ``hold``
    seconds after its request's answer came in (``answered()``, as the response head arrives),
    or ``hold`` after the attempt ended without one. The next request on that permit then
    leaves, and so arrives, at least ``hold`` after the one before arrived: no window of
    ``hold`` seconds sees more than ``size`` arrivals, however late each was counted. The price
    is one round trip per window (the lean v4 path's rule, ``quick_tm``).
    Shared by every task of a run; ``pause`` holds it after a 429.
    """

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        shared: SharedBudget | None = None,
        key: str = "",
    ) -> None:
        self.per_second = per_second
        self._shared, self._key = shared, key  # the same budget held by every host
        # "At most r in any second": r permits per second (a fractional part cannot be used
        # without exceeding some 1-second window); below 1/s, one permit per 1/r seconds.
        self.size = max(1, math.floor(per_second))
        self.hold = max(1.0, self.size / per_second)
        self._clock = clock
        self._sleep = sleep
        self._permits = asyncio.Semaphore(self.size)
        self._paused_until = float("-inf")
        self._not_before = float("-inf")
        self._returns: set[asyncio.Task[None]] = set()
        self.acquired = 0

    def defer(self, seconds: float) -> None:
        """Hand out no permit for ``seconds``; always waited out (e.g. spacing from the previous
        run, whose last request the server still counts)."""
        self._not_before = max(self._not_before, self._clock() + seconds)

    def pause(self, seconds: float) -> None:
        """Hand out no permit for ``seconds`` (a carrier's 429 pause)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        if self._shared is not None:
            self._shared.pause(self._key, seconds)

    def paused_for(self) -> float:
        """Seconds the pause still lasts (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    @contextlib.asynccontextmanager
    async def slot(self, *, wait_pause: bool = True) -> AsyncIterator[_Send]:
        """Hold a permit around one request; ``Paused`` instead of waiting out a pause.

        Yields ``sending``: ``sending()`` as the request leaves (a shared budget's lease counts
        from there), ``sending.answered()`` once the answer's head is in, from which the
        permit's ``hold`` counts; without an answer it counts from the end of the block."""
        await self._permits.acquire()
        try:
            if (early := self._not_before - self._clock()) > 0:
                await self._sleep(early)
            while (left := self.paused_for()) > 0:
                if not wait_pause:
                    raise Paused(left)
                await self._sleep(left)
            shared = await self._take_shared(wait_pause)
        except BaseException:
            self._permits.release()
            raise
        self.acquired += 1
        send = _Send(self, shared)
        try:
            yield send
        finally:
            if self._shared is not None and shared is not None:
                self._shared.give_back(self._key, shared, self.hold)
            send.answered()  # no answer (or never sent): counted from now

    async def _take_shared(self, wait_pause: bool) -> int | None:
        """A permit of the budget every host shares (None without one), after any wait."""
        while self._shared is not None:
            permit, wait, paused = self._shared.take(
                self._key, self.size, SHARED_JITTER + self.hold
            )
            if permit is not None:
                return permit
            if paused:  # another host drew a 429: this one holds off too
                self._paused_until = max(self._paused_until, self._clock() + wait)
                if not wait_pause:
                    raise Paused(wait)
            await self._sleep(wait)
        return None

    def _give_back(self, delay: float) -> None:
        # Counted from now, not from when the task first runs (a busy loop starts it later).
        task = asyncio.ensure_future(self._release_at(self._clock() + delay))
        self._returns.add(task)
        task.add_done_callback(self._returns.discard)

    async def _release_at(self, when: float) -> None:
        await self._sleep(max(0.0, when - self._clock()))
        self._permits.release()


class _Send:
    """``sending()`` of one permit, and ``answered()``: the moment its hold starts."""

    def __init__(self, limiter: RateLimiter, shared: int | None) -> None:
        self._limiter = limiter
        self._shared = shared
        self.returned = False

    def __call__(self) -> None:
        lim = self._limiter
        if lim._shared is not None and self._shared is not None:  # the lease counts from here
            lim._shared.sent(lim._key, self._shared, SHARED_JITTER + lim.hold)

    def answered(self) -> None:
        """The answer came in, so the server has counted the request: the permit is free again
        ``hold`` from now (once; later calls change nothing)."""
        if not self.returned:
            self.returned = True
            self._limiter._give_back(self._limiter.hold)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one request."""

    attempts: int = 4
    budget: float = 60.0
    base: float = 0.5
    cap: float = 8.0
    retry_429: bool = True
    max_pause: float = MAX_PAUSE


class _Cut(httpx.ReadTimeout):
    """An attempt cut by ``asyncio.timeout``; ``limit`` says whether --timeout or --deadline."""

    def __init__(self, limit: str) -> None:
        super().__init__(f"attempt cut by {limit}")
        self.limit = limit


class _Budget(stop_base):
    """``stop_before_delay(budget)``, less what replayed attempts took before the session (the
    lean path's, ``lean_replay``): a retried request keeps the time budget it always had."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.spent = 0.0

    def __call__(self, retry_state: RetryCallState) -> bool:
        return bool(stop_before_delay(self.budget - self.spent)(retry_state))


class _Retryable(Exception):
    """A response worth another attempt (5xx, or 429 where allowed)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def retry_after(
    headers: Mapping[str, str], now: float | None = None, cap: float = MAX_PAUSE
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), at most
    ``cap``."""
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    if raw.isascii() and raw.isdigit():
        # Compared as text first: int() of thousands of digits raises.
        return float(cap) if len(raw) > 9 else min(float(raw), cap)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return min(cap, max(0.0, when.timestamp() - now))


def _backoff(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable):
            hinted = retry_after(exc.response.headers, cap=policy.max_pause)
            if hinted is not None:
                return min(hinted, policy.budget)
        ceiling = min(policy.cap, policy.base * 2 ** (state.attempt_number - 1))
        return random.uniform(0, ceiling)

    return wait


class _SchemeTransport(httpx.AsyncBaseTransport):
    """The connection pools of a session, made on first use per scheme.

    HTTPS always verifies certificates against the system's CA store. Plain HTTP (the ILS
    endpoint, the sandbox) never touches TLS, so it does not pay for loading that store (about
    20 ms a run); its pool gets an unused context that would still require certificates.
    """

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._pools: dict[str, httpx.AsyncHTTPTransport] = {}

    def warm(self, scheme: str) -> None:
        """Make what the first request of ``scheme`` needs and httpx would make on first use:
        its pool (httpcore's import, the SSL context) and the event loop backend's modules."""
        self._pool(scheme)
        # httpcore connects through anyio, which imports its asyncio backend on first use.
        with contextlib.suppress(ImportError):
            importlib.import_module("anyio._backends._asyncio")

    def _pool(self, scheme: str) -> httpx.AsyncHTTPTransport:
        if scheme not in self._pools:
            import ssl

            context = (
                ssl.create_default_context()
                if scheme == "https"
                else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            )
            self._pools[scheme] = httpx.AsyncHTTPTransport(verify=context, limits=self._limits)
        return self._pools[scheme]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send through the pool of the request's scheme."""
        return await self._pool(request.url.scheme).handle_async_request(request)

    async def aclose(self) -> None:
        """Close every pool that was made."""
        for pool in self._pools.values():
            await pool.aclose()


def pool_transport() -> httpx.AsyncBaseTransport:
    """The transport of a Session made without one (the tests' ``default_transport`` if set)."""
    if default_transport is not None:
        return default_transport()
    return _SchemeTransport(httpx.Limits(max_connections=64, max_keepalive_connections=32))


class Session:
    """One run's HTTP session, shared by every adapter; use ``async with``.

    ``on_retry(carrier, n)`` hears of the n-th retry of a request (the progress display).
    """

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        deadline: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        secrets: Iterable[str] = (),
        retry: RetryPolicy | None = None,
        on_retry: Callable[[str, int], None] | None = None,
        max_body: int = MAX_BODY,
        shared: SharedBudget | None = None,
        accounts: Mapping[str, str] | None = None,
    ) -> None:
        self.shared, self.accounts = shared, dict(accounts or {})
        self.timeout = timeout
        self.on_retry = on_retry
        self.deadline_seconds = deadline
        self.max_body = max_body
        self.deadline = None if deadline is None else now() + deadline
        self.retry = retry or RetryPolicy()
        self.secrets = [s for s in secrets if s]
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._sender: httpx.AsyncBaseTransport | None = None
        self._limiters: dict[tuple[str, str], RateLimiter] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._big = asyncio.Semaphore(1)
        self._warm: set[str] = set()  # schemes whose pool is made (``_SchemeTransport.warm``)
        self.requests = 0
        self.retries = 0

    async def __aenter__(self) -> Session:
        self._sender = self._transport or pool_transport()
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
            limits=limits,
            transport=self._sender,
            follow_redirects=False,
            trust_env=True,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def limiter(self, carrier: str, endpoint: str, per_second: float | None) -> RateLimiter | None:
        """The run-wide limiter for one endpoint family (None: unlimited)."""
        if not per_second:
            return None
        key = (carrier, endpoint)
        if key not in self._limiters:
            account = f"{carrier}:{self.accounts.get(carrier, '')} {endpoint}"
            self._limiters[key] = RateLimiter(per_second, shared=self.shared, key=account)
        return self._limiters[key]

    def slots(self, carrier: str, size: int) -> asyncio.Semaphore:
        """The bound on requests in flight to one carrier."""
        if carrier not in self._slots:
            self._slots[carrier] = asyncio.Semaphore(size)
        return self._slots[carrier]

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced (the one rule: ``redaction.redact``)."""
        from waypost.redaction import redact

        return redact(text, self.secrets)

    def remaining(self) -> float:
        """Seconds left before ``--deadline`` (inf without one)."""
        if self.deadline is None:
            return float("inf")
        return self.deadline - now()

    async def request(
        self,
        carrier: str,
        method: str,
        url: str,
        *,
        limiter: RateLimiter | None = None,
        max_connections: int = 8,
        retry_429: bool = True,
        wait_pause: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request with limits and retries; network faults raise ``NetworkError``.

        ``retry_429=False`` hands a 429 back instead of retrying it (for carriers that pause the
        account after one). A paused ``limiter`` is waited out, or with ``wait_pause=False`` (or
        when the pause outlasts the run's deadline) raises ``RateLimited`` at once. A body over
        ``max_body`` raises ``ProtocolError`` (never retried).
        """
        policy = self.retry if retry_429 else dataclasses.replace(self.retry, retry_429=False)
        budget = min(policy.budget, max(0.0, self.remaining()))
        over_budget = _Budget(budget)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts) | over_budget,
            wait=_backoff(policy),
            retry=retry_if_exception_type((_Retryable, httpx.TransportError)),
            reraise=True,
        )
        tries = 0
        try:
            async for attempt in retrying:
                with attempt:
                    tries = attempt.retry_state.attempt_number
                    if attempt.retry_state.attempt_number > 1:
                        self.retries += 1
                        if self.on_retry is not None:
                            self.on_retry(carrier, tries - 1)
                        log.info(
                            "%s: retry %d of %s",
                            carrier,
                            attempt.retry_state.attempt_number - 1,
                            _path(url),
                        )
                    try:
                        response = await self._attempt(
                            carrier, method, url, limiter, max_connections, wait_pause, kwargs
                        )
                    except httpx.TransportError as exc:
                        over_budget.spent += float(getattr(exc, "spent", 0.0))
                        raise
                    if response.status_code in RETRY_STATUSES or (
                        response.status_code == 429 and policy.retry_429
                    ):
                        raise _Retryable(response)
                    return response
        except _Retryable as exc:
            return exc.response
        except Paused as exc:
            raise RateLimited(
                f"{carrier}: requests are paused for {exc.seconds:.0f} s after a rate-limit answer",
                carrier=carrier,
                retry_after=exc.seconds,
            ) from None
        except httpx.TimeoutException as exc:
            raise Timeout(self._timed_out(carrier, exc, tries), carrier=carrier) from exc
        except httpx.TransportError as exc:
            raise NetworkError(
                f"{carrier}: cannot reach {_host(url)} ({type(exc).__name__})", carrier=carrier
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _timed_out(self, carrier: str, exc: Exception, tries: int) -> str:
        """The message naming the limit that ended the wait: --deadline or --timeout."""
        if getattr(exc, "limit", "") == "deadline" or (
            self.deadline is not None and self.remaining() <= 0
        ):
            return f"{carrier}: no answer before --deadline {self.deadline_seconds:g}s"
        attempts = f" ({tries} attempts)" if tries > 1 else ""
        return f"{carrier}: no answer within --timeout {self.timeout:g}s{attempts}"

    async def _attempt(
        self,
        carrier: str,
        method: str,
        url: str,
        limiter: RateLimiter | None,
        max_connections: int,
        wait_pause: bool,
        kwargs: dict[str, Any],
    ) -> httpx.Response:
        assert self._client is not None, "use the Session with `async with`"
        left = self.remaining()
        if left <= 0:
            raise Timeout(
                f"{carrier}: no answer before --deadline {self.deadline_seconds:g}s",
                carrier=carrier,
            )
        if limiter is not None and limiter.paused_for() > left:
            # Waiting would outlive the run: report the pause instead of hanging on it.
            raise Paused(limiter.paused_for())
        scheme = url.partition(":")[0]
        if scheme not in self._warm:
            # Before the first attempt's --timeout counts: a fresh process would otherwise
            # spend part of it on imports and the SSL context, more so on a loaded machine.
            self._warm.add(scheme)
            if isinstance(self._sender, _SchemeTransport):
                self._sender.warm(scheme)
        # The rate permit first: a request queued behind its endpoint's limit must not hold
        # one of the carrier's connections that another endpoint could use meanwhile.
        async with (
            limiter.slot(wait_pause=wait_pause)
            if limiter
            else contextlib.nullcontext(_unlimited) as sending,
            self.slots(carrier, max_connections),
        ):
            sending()
            self.requests += 1
            started = time.monotonic()
            options = dict(kwargs)
            auth = options.pop("auth", httpx.USE_CLIENT_DEFAULT)
            target: str | httpx.URL = url
            if options.get("params") is not None:
                # One parse of URL and query instead of build_request's parse, merge, re-parse.
                target = httpx.URL(url, params=options.pop("params"))
            try:
                # One deadline for the whole answer, headers and body: an endless body ends here.
                async with asyncio.timeout(min(self.timeout, self.remaining())):
                    request = self._client.build_request(method, target, **options)
                    streamed = await self._client.send(request, auth=auth, stream=True)
                    sending.answered()  # the head is in: the request was counted
                    try:
                        body = await self._read_body(streamed, carrier)
                    finally:
                        await streamed.aclose()
            except TimeoutError as exc:
                raise _Cut("deadline" if left < self.timeout else "timeout") from exc
            except ssl.SSLError as exc:
                # httpcore passes a TLS fault after the handshake (a record that does not
                # decrypt, an alert) up unmapped: a read fault like a reset, retried alike.
                raise httpx.ReadError(f"TLS: {exc.reason or exc}") from exc
            response = _whole(streamed, body)
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "%s %s %s -> %d in %.0f ms",
                    carrier,
                    method,
                    _path(url),
                    response.status_code,
                    (time.monotonic() - started) * 1000,
                )
            return response

    async def _read_body(self, response: httpx.Response, carrier: str) -> bytes:
        """The decoded body, at most ``max_body`` bytes; ProtocolError past that."""
        limit = self.max_body
        if response.is_stream_consumed:
            # An in-memory answer (test transports) is already whole and decoded.
            body = response.content
            if len(body) > limit:
                raise _too_large(carrier, limit)
            return body
        inflate = _decoder(response.headers.get("content-encoding", ""), carrier)
        length = response.headers.get("content-length", "")
        if isinstance(inflate, _Identity) and length.isdigit() and int(length) > limit:
            raise _too_large(carrier, limit)  # announced: not even started
        out = bytearray()
        big = False  # holding the run's one permit to grow an answer past SMALL_BODY
        try:
            async for chunk in response.aiter_raw():
                pending = chunk
                while True:
                    cap = limit if big else min(limit, SMALL_BODY)
                    pending = inflate.feed(pending, out, cap)
                    if len(out) > limit:
                        # The error outlives this frame (its traceback): free the bytes now.
                        out.clear()
                        raise _too_large(carrier, limit)
                    if len(out) > cap:
                        await self._big.acquire()
                        big = True
                        continue
                    break
        finally:
            if big:
                self._big.release()
        return bytes(out)


T = TypeVar("T")


class CarrierHandle:
    """One carrier's requests through the run's Session, for carriers that pause a whole account
    after a 429 (TrackingMore).

    It holds the carrier's name and connection bound, one limiter per endpoint (``rates``, keyed
    ``prefix + endpoint`` in the session), and a group pause: a 429 pauses every endpoint at once
    for its ``Retry-After``, else ``pause`` seconds, never longer than ``[http] max_pause``. The
    pause and each endpoint's last request are kept in ``state`` under ``namespace``, so the
    next run keeps both (carried spacing); a last request is written at once when the stored
    one is a second old, else when the handle's last call under way ends (one write per burst).
    ``call(..., wait=True)`` waits a pause out and tries once more; ``wait=False`` fails at once
    with ``pause_error(seconds left, pause length)`` (length None: a pause carried over from an
    earlier run).
    """

    def __init__(
        self,
        session: Session,
        name: str,
        *,
        max_connections: int,
        rates: Mapping[str, float],
        default_rate: float | None = None,
        prefix: str = "",
        state: StateStore | None = None,
        namespace: str,
        pause: float,
        pause_error: Callable[[float, float | None], CarrierError],
    ) -> None:
        self.session = session
        self.name = name
        self.max_connections = max_connections
        self.rates = dict(rates)
        self.default_rate = default_rate
        self.prefix = prefix
        self.state = state
        self.namespace = namespace
        self.pause_length: float | None = pause
        self._pause_default = pause
        self._pause_error = pause_error
        self._paused_until = 0.0
        self._primed = False
        self.log = logging.getLogger(f"waypost.{name}")
        # Each endpoint's last request: written at once when the stored one is a ``hold`` old,
        # else kept for ``flush()`` (one write per second, not one per request).
        self._written: dict[str, float] = {}
        self._unwritten: dict[str, float] = {}
        self._active = 0  # calls under way (waiting for a permit included)

    def rate(self, endpoint: str) -> float:
        """Configured requests per second of one endpoint."""
        if self.default_rate is None:
            return self.rates[endpoint]
        return self.rates.get(endpoint, self.default_rate)

    def limiter(self, endpoint: str) -> RateLimiter | None:
        """The session-wide limiter of one endpoint."""
        return self.session.limiter(self.name, self.prefix + endpoint, self.rate(endpoint))

    @property
    def max_pause(self) -> float:
        """The longest pause a 429 may impose (``[http] max_pause``)."""
        return self.session.retry.max_pause

    def paused(self) -> bool:
        """True while a 429's pause lasts."""
        return now() < self._paused_until

    def pause_error(self) -> CarrierError:
        """The error every request gets while the account is paused."""
        return self._pause_error(self._paused_until - now(), self.pause_length)

    def pause(self, seconds: float) -> None:
        """Hold every endpoint of this carrier for ``seconds``."""
        self._paused_until = max(self._paused_until, now() + seconds)
        for endpoint in self.rates:
            shared = self.limiter(endpoint)
            if shared is not None:
                shared.pause(seconds)

    def pause_429(self, hinted: float | None) -> float:
        """How long a 429 pauses the account: its (already capped) ``Retry-After``, else the
        carrier's documented pause, never longer than ``max_pause``."""
        cap = self.max_pause
        return min(self._pause_default, cap) if hinted is None else min(hinted, cap)

    def on_429(self, response: httpx.Response) -> None:
        """Pause every endpoint after a 429 and keep the pause for the next run."""
        seconds = self.pause_429(retry_after(response.headers, cap=self.max_pause))
        self.log.warning(
            "%s: 429 too many requests; pausing every request for %g s", self.name, seconds
        )
        self.pause_length = seconds
        self.pause(seconds)
        if self.state is not None:
            self.state.put(self.namespace, "paused_until", time.time() + seconds)

    def stored_pause(self, now: float) -> float | None:
        """Seconds left of a 429 pause an earlier run stored, or None; never more than
        ``max_pause``: a longer one (an older waypost, a larger cap) is stored again capped."""
        if self.state is None:
            return None
        until = _finite(self.state.get(self.namespace, "paused_until"))
        if until is None or until <= now:
            return None
        if until - now > self.max_pause:
            until = now + self.max_pause
            self.state.put(self.namespace, "paused_until", until)
        return until - now

    def carry_spacing(self, now: float) -> None:
        """Space each endpoint's first request a ``hold`` after an earlier run's last one (the
        server still counts it)."""
        if self.state is None:
            return
        for endpoint in self.rates:
            last = _finite(self.state.get(self.namespace, endpoint))
            lim = self.limiter(endpoint)
            if last is not None and lim is not None and now - last < lim.hold:
                lim.defer(lim.hold - (now - last))

    def prime(self) -> None:
        """Carry a 429 pause and each endpoint's last request over from earlier runs, once."""
        if self._primed or self.state is None:
            return
        self._primed = True
        now = time.time()
        left = self.stored_pause(now)
        if left is not None:
            self.pause_length = None
            self.pause(left)
        self.carry_spacing(now)

    async def call(
        self,
        endpoint: str,
        method: str,
        url: str,
        *,
        read: Callable[[httpx.Response], T],
        limited: Callable[[T], bool],
        wait: bool,
        **kwargs: Any,
    ) -> T:
        """One request -> ``read(response)``; where ``limited`` says it is a 429, pause every
        endpoint and, with ``wait``, try once more after the pause, else ``pause_error``."""
        self.prime()
        self._active += 1
        try:
            return await self._call(endpoint, method, url, read, limited, wait, kwargs)
        finally:
            self._active -= 1
            if not self._active:  # the last call of a burst: what it left unwritten, now
                self.flush()

    async def _call(
        self,
        endpoint: str,
        method: str,
        url: str,
        read: Callable[[httpx.Response], T],
        limited: Callable[[T], bool],
        wait: bool,
        kwargs: dict[str, Any],
    ) -> T:
        for attempt in (1, 2):
            try:
                response = await self.session.request(
                    self.name,
                    method,
                    url,
                    limiter=self.limiter(endpoint),
                    max_connections=self.max_connections,
                    retry_429=False,
                    wait_pause=wait,
                    **kwargs,
                )
            except RateLimited:
                raise self.pause_error() from None
            self._sent(endpoint)
            answer = read(response)
            if limited(answer):
                self.on_429(response)
                if wait and attempt == 1:
                    continue
                raise self.pause_error()
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _sent(self, endpoint: str) -> None:
        if self.state is None:
            return
        stamp = time.time()
        if stamp - self._written.get(endpoint, float("-inf")) >= 1.0:
            self.state.put(self.namespace, endpoint, stamp)
            self._written[endpoint] = stamp
            self._unwritten.pop(endpoint, None)
        else:
            self._unwritten[endpoint] = stamp

    def flush(self) -> None:
        """Store each endpoint's last request not stored yet, in one write."""
        if self.state is None or not self._unwritten:
            return
        rows = list(self._unwritten.items())
        many = getattr(self.state, "put_many", None)
        if many is not None:
            many(self.namespace, rows)
        else:
            for endpoint, stamp in rows:
                self.state.put(self.namespace, endpoint, stamp)
        self._written.update(self._unwritten)
        self._unwritten = {}


def _finite(value: Any) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value) if math.isfinite(value) else None


class _Identity:
    """No content coding."""

    def feed(self, data: bytes, out: bytearray, limit: int) -> bytes:
        """Append ``data`` as is; nothing is left over."""
        out += data
        return b""


class _Inflater:
    """gzip or deflate, inflated 1 MB at a time up to the bound (a bomb stops there).

    Concatenated gzip members are one stream; deflate may come with or without its zlib
    header (servers send both)."""

    def __init__(self, wbits: int, carrier: str) -> None:
        self.wbits = wbits
        self.carrier = carrier
        self._inflate = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes, out: bytearray, limit: int) -> bytes:
        """Inflate ``data`` onto ``out``, stopping once ``out`` holds more than ``limit``;
        returns the input not inflated yet (to go on with later)."""
        while True:
            asked = min(limit - len(out) + 1, _STEP)
            try:
                chunk = self._inflate.decompress(data, asked)
            except zlib.error:
                if self.wbits == zlib.MAX_WBITS and not self._started:
                    self.wbits = -zlib.MAX_WBITS
                    self._inflate = zlib.decompressobj(self.wbits)
                    continue
                raise ProtocolError(
                    f"{self.carrier}: a compressed answer that does not inflate",
                    carrier=self.carrier,
                ) from None
            self._started = True
            if self._inflate.eof:
                data = self._inflate.unused_data.lstrip(b"\0")
                self._inflate = zlib.decompressobj(self.wbits)
            else:
                data = self._inflate.unconsumed_tail
            out += chunk
            # Done when the input is used up and zlib holds no more output (a full step may).
            if len(out) > limit or (not data and len(chunk) < asked):
                return data


_STEP = 1 << 20  # inflated per step: the bound is checked every MB, not after a bomb's GB


def _decoder(coding: str, carrier: str) -> _Identity | _Inflater:
    coding = coding.strip().lower()
    if coding in ("", "identity"):
        return _Identity()
    if coding in ("gzip", "x-gzip"):
        return _Inflater(zlib.MAX_WBITS | 16, carrier)
    if coding == "deflate":
        return _Inflater(zlib.MAX_WBITS, carrier)
    raise ProtocolError(
        f"{carrier}: an answer in an unasked content coding ({coding[:20]!r})", carrier=carrier
    )


def _too_large(carrier: str, limit: int) -> ProtocolError:
    return ProtocolError(
        f"{carrier}: the answer is larger than {limit / (1 << 20):g} MB; not read further "
        "(raise [http] max_body_mb if this is expected)",
        carrier=carrier,
    )


_DROPPED = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _whole(streamed: httpx.Response, body: bytes) -> httpx.Response:
    """A plain response holding the decoded ``body`` of a streamed one."""
    headers = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in _DROPPED]
    return httpx.Response(
        streamed.status_code, headers=headers, content=body, request=streamed.request
    )


def _host(url: str) -> str:
    return httpx.URL(url).host


def _path(url: str) -> str:
    return httpx.URL(url).path


def decode_json(response: httpx.Response, carrier: str) -> Any:
    """The JSON body, or a ProtocolError that says in one line what came instead.

    Invalid UTF-8 is replaced rather than refused; nesting deeper than the interpreter can
    follow is a ProtocolError, not a RecursionError."""
    body = response.content
    status = response.status_code
    if not body.strip():
        raise ProtocolError(f"{carrier}: empty answer (HTTP {status})", carrier=carrier)
    try:
        try:
            value = json.loads(body)
        except UnicodeDecodeError:
            value = json.loads(body.decode("utf-8", "replace"))
    except RecursionError:
        raise ProtocolError(
            f"{carrier}: HTTP {status} with JSON nested too deeply to read", carrier=carrier
        ) from None
    except ValueError as exc:
        if body.lstrip()[:1] == b"<":
            kind = "an HTML page instead of JSON"
        elif isinstance(exc, json.JSONDecodeError) and exc.pos >= len(body.rstrip()):
            kind = "a body that is not JSON: it breaks off (a truncated answer)"
        else:
            kind = "a body that is not JSON"
        raise ProtocolError(f"{carrier}: HTTP {status} with {kind}", carrier=carrier) from None
    from waypost.safe import no_surrogates

    return no_surrogates(body, value)


def read_answer(response: httpx.Response, carrier: str, codes: AnswerCodes) -> Any:
    """The decoded JSON answer of one call, or the one error that says what came instead.

    The one "status + body -> envelope or error" policy of every carrier. A 2xx answer must be
    JSON (any shape: the carrier's parser judges it). Any other status counts as an answer only
    when its body is the carrier's envelope (carriers that send their error codes with HTTP
    4xx); without one, a status the carrier's table lists in ``codes.bare`` reads as its
    ``stand_in`` envelope, 401/403 become an AuthError, 429 a RateLimited, and the rest a
    one-line ProtocolError."""
    status = response.status_code
    if 200 <= status < 300:
        return decode_json(response, carrier)
    try:
        payload = decode_json(response, carrier)
    except ProtocolError:
        payload = None
    if payload is not None and codes.envelope(payload):
        return payload
    if status in codes.bare:
        return codes.stand_in(status)
    if status in (401, 403):
        raise AuthError(f"{carrier}: credentials rejected (HTTP {status})", carrier=carrier)
    if status == 429:
        seconds = retry_after(response.headers)
        raise RateLimited(
            f"{carrier}: too many requests (HTTP 429)", carrier=carrier, retry_after=seconds
        )
    raise http_failure(response, carrier)


def http_failure(response: httpx.Response, carrier: str) -> CarrierError:
    """A one-line error for an HTTP status the carrier's API does not use for answers."""
    status = response.status_code
    what = "server error, try again later" if status >= 500 else "unexpected answer"
    return ProtocolError(f"{carrier}: HTTP {status} ({what})", carrier=carrier)
