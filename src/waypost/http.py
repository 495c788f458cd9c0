"""The one HTTP layer: a shared ``httpx.AsyncClient`` per run, timeouts, retries, rate limits.

Every carrier request goes through ``Session.request``. It

* waits for the endpoint's rate limiter (requests spaced at exactly the documented rate,
  shared by every task of the run) and for one of the carrier's bounded connection slots;
* cuts each attempt at ``--timeout`` and the whole run at ``--deadline``;
* retries connect errors, timeouts, 5xx and (where the carrier allows) 429 with exponential
  backoff and full jitter, honouring ``Retry-After``; never other 4xx. Retries use tenacity;
* maps low-level httpx errors to ``waypost.errors`` raised ``from`` the cause.

TLS verification is always on; nothing in the config can turn it off.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
)

from waypost import __version__
from waypost.errors import CarrierError, NetworkError, ProtocolError, Timeout

log = logging.getLogger("waypost.http")

USER_AGENT = f"waypost/{__version__} (+https://github.com/waypost/waypost)"
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# Keep a little air between requests: a server measures arrival times, and the event loop
# or the network can bunch two requests together by a few milliseconds.
RATE_MARGIN = 0.02
RATE_SLACK = 0.005


class RateLimiter:
    """Spaces acquisitions ``1/per_second`` apart (plus a small margin), FIFO, shared by tasks."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.per_second = per_second
        self.interval = (1.0 / per_second) * (1 + RATE_MARGIN) + RATE_SLACK
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = asyncio.Lock()
        self.acquired = 0

    async def acquire(self) -> None:
        """Wait until the next request may go out."""
        async with self._lock:
            wait = self._next - self._clock()
            if wait > 0:
                await self._sleep(wait)
            self._next = self._clock() + self.interval
            self.acquired += 1

    def pause(self, seconds: float) -> None:
        """Push the next slot ``seconds`` into the future (e.g. after a carrier's 429)."""
        self._next = max(self._next, self._clock() + seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one request."""

    attempts: int = 4
    budget: float = 60.0
    base: float = 0.5
    cap: float = 8.0
    retry_429: bool = True


class _Retryable(Exception):
    """A response worth another attempt (5xx, or 429 where allowed)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def _backoff(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable):
            hinted = retry_after(exc.response.headers)
            if hinted is not None:
                return min(hinted, policy.budget)
        ceiling = min(policy.cap, policy.base * 2 ** (state.attempt_number - 1))
        return random.uniform(0, ceiling)

    return wait


class Session:
    """One run's HTTP session, shared by every adapter; use ``async with``."""

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        deadline: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        secrets: Iterable[str] = (),
        retry: RetryPolicy | None = None,
    ) -> None:
        self.timeout = timeout
        self.deadline = None if deadline is None else time.monotonic() + deadline
        self.retry = retry or RetryPolicy()
        self.secrets = [s for s in secrets if s]
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._limiters: dict[tuple[str, str], RateLimiter] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self.requests = 0
        self.retries = 0

    async def __aenter__(self) -> Session:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            transport=self._transport,
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
            self._limiters[key] = RateLimiter(per_second)
        return self._limiters[key]

    def slots(self, carrier: str, size: int) -> asyncio.Semaphore:
        """The bound on requests in flight to one carrier."""
        if carrier not in self._slots:
            self._slots[carrier] = asyncio.Semaphore(size)
        return self._slots[carrier]

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, "****")
        return text

    def remaining(self) -> float:
        """Seconds left before ``--deadline`` (inf without one)."""
        if self.deadline is None:
            return float("inf")
        return self.deadline - time.monotonic()

    async def request(
        self,
        carrier: str,
        method: str,
        url: str,
        *,
        limiter: RateLimiter | None = None,
        max_connections: int = 8,
        retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request with limits and retries; network faults raise ``NetworkError``."""
        policy = retry or self.retry
        budget = min(policy.budget, max(0.0, self.remaining()))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts) | stop_before_delay(budget),
            wait=_backoff(policy),
            retry=retry_if_exception_type((_Retryable, httpx.TransportError)),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.retries += 1
                        log.info(
                            "%s: retry %d of %s",
                            carrier,
                            attempt.retry_state.attempt_number - 1,
                            _path(url),
                        )
                    response = await self._attempt(
                        carrier, method, url, limiter, max_connections, kwargs
                    )
                    if response.status_code in RETRY_STATUSES or (
                        response.status_code == 429 and policy.retry_429
                    ):
                        raise _Retryable(response)
                    return response
        except _Retryable as exc:
            return exc.response
        except httpx.TimeoutException as exc:
            raise Timeout(
                f"{carrier}: no answer within {self.timeout:g}s", carrier=carrier
            ) from exc
        except httpx.TransportError as exc:
            raise NetworkError(
                f"{carrier}: cannot reach {_host(url)} ({type(exc).__name__})", carrier=carrier
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self,
        carrier: str,
        method: str,
        url: str,
        limiter: RateLimiter | None,
        max_connections: int,
        kwargs: dict[str, Any],
    ) -> httpx.Response:
        assert self._client is not None, "use the Session with `async with`"
        left = self.remaining()
        if left <= 0:
            raise Timeout(f"{carrier}: run deadline reached", carrier=carrier)
        async with self.slots(carrier, max_connections):
            if limiter is not None:
                await limiter.acquire()
            self.requests += 1
            started = time.monotonic()
            try:
                async with asyncio.timeout(min(self.timeout, left)):
                    response = await self._client.request(method, url, **kwargs)
                    await response.aread()
            except TimeoutError as exc:
                raise httpx.ReadTimeout("attempt timed out") from exc
            log.debug(
                "%s %s %s -> %d in %.0f ms",
                carrier,
                method,
                _path(url),
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
            return response


def _host(url: str) -> str:
    return httpx.URL(url).host


def _path(url: str) -> str:
    return httpx.URL(url).path


def decode_json(response: httpx.Response, carrier: str) -> Any:
    """The JSON body, or a ProtocolError that says in one line what came instead."""
    body = response.content
    status = response.status_code
    if not body.strip():
        raise ProtocolError(f"{carrier}: empty answer (HTTP {status})", carrier=carrier)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        kind = "an HTML page" if body.lstrip()[:1] == b"<" else "a body that is not JSON"
        raise ProtocolError(
            f"{carrier}: HTTP {status} with {kind} instead of JSON", carrier=carrier
        ) from None


def http_failure(response: httpx.Response, carrier: str) -> CarrierError:
    """A one-line error for an HTTP status the carrier's API does not use for answers."""
    status = response.status_code
    what = "server error, try again later" if status >= 500 else "unexpected answer"
    return ProtocolError(f"{carrier}: HTTP {status} ({what})", carrier=carrier)
