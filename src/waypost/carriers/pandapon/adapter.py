"""PandaPon strategy: one signed GET per order id, all at once, under one limiter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from waypost.carriers._parse import zone
from waypost.carriers.base import Answer, Query, TrackOptions
from waypost.carriers.pandapon import DEFAULT_BASE_URL, DEFAULT_RATE, INFO, NAME, SERVICE, Platform
from waypost.carriers.pandapon.api import (
    _DIGITS,
    ANSWERS,
    _not_found,
    build_request,
    new_nonce,
    now_ms,
    parse_response,
    platform_of,
    signed_headers,
)
from waypost.errors import CarrierError
from waypost.models import Shipment

if TYPE_CHECKING:
    import httpx

    from waypost.carriers.base import Cache
    from waypost.http import RateLimiter, Session
    from waypost.store.protocols import StateStore


class Adapter:
    """Answers PandaPon order ids: one signed GET per order, all at once, under one limiter."""

    info = INFO

    def __init__(
        self,
        settings: Mapping[str, Any],
        session: Session,
        cache: Cache | None = None,
        state: StateStore | None = None,
    ):
        self.settings = settings
        self.session = session
        self.url = str(settings.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.tz = zone(settings.get("timezone"))
        self.rate = float(settings.get("rate") or DEFAULT_RATE)
        self.nonce: Callable[[], str] = new_nonce
        self.clock: Callable[[], str] = now_ms

    def _sign_request(self, request: httpx.Request) -> httpx.Request:
        # Signed as each attempt leaves (after the rate limiter): a retry gets a fresh nonce.
        request.headers.update(
            signed_headers(
                str(self.settings["access_key"]),
                str(self.settings["secret"]),
                str(self.settings["user_id"]),
                self.clock(),
                self.nonce(),
            )
        )
        return request

    async def track(self, queries: Sequence[Query], options: TrackOptions) -> list[Answer]:
        """Answer every query, one request per order id, concurrently."""
        limiter = self.session.limiter(NAME, "api", self.rate)
        return list(await asyncio.gather(*(self._order(q, options, limiter) for q in queries)))

    async def _order(
        self, query: Query, options: TrackOptions, limiter: RateLimiter | None
    ) -> Answer:
        platform = platform_of(query)
        try:
            if not _DIGITS.fullmatch(query.number):
                shipments = [
                    _not_found(query.number, platform, "not a PandaPon order id (digits only)")
                ]
            else:
                shipments = await self._fetch(query.number, platform, limiter)
        except CarrierError as err:
            err.message = self.session.redact(err.message)
            failed = Shipment.failed(query.number, NAME, err)
            failed.order_id = query.number
            failed.service = SERVICE[platform]
            shipments = [failed]
        options.answered(NAME, 1)
        return options.deliver(Answer(query, shipments))

    async def _fetch(
        self, order_id: str, platform: Platform, limiter: RateLimiter | None
    ) -> list[Shipment]:
        from waypost.http import read_answer

        path, params = build_request(platform, order_id)
        response = await self.session.request(
            NAME,
            "GET",
            self.url + path,
            limiter=limiter,
            max_connections=INFO.max_connections,
            params=params,
            auth=self._sign_request,
        )
        payload = read_answer(response, NAME, ANSWERS)
        return parse_response(payload, order_id, platform, self.tz)
