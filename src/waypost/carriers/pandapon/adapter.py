"""PandaPon strategy: one signed call per order id, all at once, under one limiter; the signing
recipe chosen by ``carriers.pandapon.signature`` (``signing``), the order lists (``orders``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from waypost.carriers._parse import as_dict, text, zone
from waypost.carriers.base import Answer, Query, TrackOptions
from waypost.carriers.pandapon import (
    DEFAULT_BASE_URL,
    DEFAULT_RATE,
    INFO,
    NAME,
    SERVICE,
    SUCCESS_CODES,
    Platform,
)
from waypost.carriers.pandapon import signing as pandapon_sign
from waypost.carriers.pandapon.api import (
    _DIGITS,
    ANSWERS,
    CHECK_ORDER,
    Kind,
    _code,
    build_request,
    envelope_error,
    new_nonce,
    parse_response,
    platform_of,
    rejection,
    signed_headers,
)
from waypost.errors import CarrierError, ProtocolError
from waypost.models import Shipment

if TYPE_CHECKING:
    import httpx

    from waypost.carriers.base import Cache
    from waypost.http import RateLimiter, Session


class Adapter:
    """Answers PandaPon order ids: one signed GET per order, all at once, under one limiter."""

    info = INFO

    def __init__(
        self,
        settings: Mapping[str, Any],
        session: Session,
        cache: Cache | None = None,
        state: Any = None,
    ):
        self.settings = settings
        self.session = session
        # Durable state (the accepted signing recipe): the state store where there is one.
        self.cache = state if state is not None else cache
        self.url = str(settings.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.tz = zone(settings.get("timezone"))
        self.rate = float(settings.get("rate") or DEFAULT_RATE)
        self.nonce: Callable[[], str] = new_nonce
        self.clock: Callable[[], float] = time.time
        self._chooser: pandapon_sign.Chooser | None = None

    @property
    def chooser(self) -> pandapon_sign.Chooser:
        """The signing recipe in use; ``auto`` starts from the one the state store remembers."""
        if self._chooser is None:
            setting = pandapon_sign.parse_setting(self.settings.get("signature"))
            remembered = None
            if setting == pandapon_sign.AUTO and self.cache is not None:
                value = self.cache.get(pandapon_sign.STATE_NAMESPACE, self._state_key())
                remembered = value if isinstance(value, str) else None
            self._chooser = pandapon_sign.Chooser(setting, remembered)
        return self._chooser

    def _state_key(self) -> str:
        return pandapon_sign.state_key(str(self.settings["access_key"]))

    def _signer(self, recipe: pandapon_sign.Recipe) -> Callable[[httpx.Request], httpx.Request]:
        def sign_request(request: httpx.Request) -> httpx.Request:
            # Signed as each attempt leaves (after the rate limiter): a retry gets a fresh nonce.
            request.headers.update(
                signed_headers(
                    str(self.settings["access_key"]),
                    str(self.settings["secret"]),
                    str(self.settings["user_id"]),
                    recipe.timestamp(self.clock),
                    self.nonce(),
                    recipe.name,
                )
            )
            return request

        return sign_request

    def _mismatch(self, kind: Kind | None, used: pandapon_sign.Recipe) -> bool:
        """Could this rejection mean the wrong recipe? "Signature invalid" always; a rejected
        timestamp only before any recipe was accepted and when another one writes it otherwise."""
        chooser = self.chooser
        if kind == "signature":
            return True
        if kind != "clock" or chooser.pinned or chooser.accepted is not None:
            return False
        untried = [n for n in chooser.order if n not in chooser.tried]
        return any(pandapon_sign.BY_NAME[n].unit != used.unit for n in untried)

    async def call(
        self,
        method: str,
        path: str,
        limiter: RateLimiter | None,
        **kwargs: Any,
    ) -> Any:
        """One signed call; returns the decoded answer (success or error envelope).

        With ``signature = "auto"``, an answer that says the signature is wrong is asked again
        with the next untried recipe (each at most once per call); the first recipe accepted
        is remembered in the state store.
        """
        from waypost.http import read_answer

        chooser = self.chooser
        payload: Any = None
        first: Any = None  # the first "wrong recipe" answer: the one to report if none works
        for _ in pandapon_sign.RECIPES:
            recipe = chooser.current
            response = await self.session.request(
                NAME,
                method,
                self.url + path,
                limiter=limiter,
                max_connections=INFO.max_connections,
                auth=self._signer(recipe),
                **kwargs,
            )
            payload = read_answer(response, NAME, ANSWERS)
            kind = rejection(payload)
            if self._mismatch(kind, recipe) or (first is not None and kind == "clock"):
                first = payload if first is None or rejection(first) != "signature" else first
                if chooser.rejected(recipe.name):
                    continue
                return first
            if kind in (None, "not_found"):
                self._accepted(recipe.name)
            return payload
        return first if first is not None else payload

    def _accepted(self, name: str) -> None:
        chooser = self.chooser
        if chooser.worked(name) and not chooser.pinned and name != chooser.remembered:
            if self.cache is not None:
                self.cache.put(pandapon_sign.STATE_NAMESPACE, self._state_key(), name)
            chooser.remembered = name

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
                # Not asked (the input refuses these): unanswered, not a carrier's "not found".
                raise CarrierError("not asked: a PandaPon order id is digits only")
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
        path, params = build_request(platform, order_id)
        payload = await self.call("GET", path, limiter, params=params)
        return parse_response(payload, order_id, platform, self.tz)

    async def orders(self, platform: Platform, start: float, end: float, page: int) -> Any:
        """One page of the 1688 or Taobao order list (``orders``); errors raise."""
        from waypost.carriers.pandapon import orders as lists

        path, body = lists.build_orders_request(platform, start, end, page)
        payload = await self.call(
            "POST", path, self.session.limiter(NAME, "api", self.rate), json=body
        )
        envelope = as_dict(payload)
        if "code" not in envelope:
            raise ProtocolError(f"{NAME}: answer without a 'code' field", carrier=NAME)
        code, msg = _code(envelope.get("code")), text(envelope.get("msg"))
        if code not in SUCCESS_CODES:
            err = envelope_error(code, msg, text(envelope.get("requestId")))
            err.message = self.session.redact(err.message)
            raise err
        return lists.parse_orders(envelope.get("data"), platform, page, tz=self.tz)

    async def returns(self, start: float, end: float, page: int) -> Any:
        """One page of the Taobao after-sales (reverse order) list: (returns, more pages?)."""
        from waypost.carriers.pandapon import orders as lists

        path, body = lists.build_returns_request(start, end, page)
        payload = await self.call(
            "POST", path, self.session.limiter(NAME, "api", self.rate), json=body
        )
        envelope = as_dict(payload)
        code, msg = _code(envelope.get("code")), text(envelope.get("msg"))
        if "code" not in envelope:
            raise ProtocolError(f"{NAME}: answer without a 'code' field", carrier=NAME)
        if code not in SUCCESS_CODES:
            err = envelope_error(code, msg, text(envelope.get("requestId")))
            err.message = self.session.redact(err.message)
            raise err
        return lists.parse_returns(envelope.get("data"), page)

    async def check(self) -> dict[str, Any]:
        """Which signing recipe the account accepts: one call per recipe until one is accepted
        (an unknown order id, so nothing real is read), whatever ``signature`` says."""
        from waypost.http import read_answer

        path, params = build_request("1688", CHECK_ORDER)
        tried: list[dict[str, Any]] = []
        for name in pandapon_sign.RECIPES:
            recipe = pandapon_sign.BY_NAME[name]
            response = await self.session.request(
                NAME,
                "GET",
                self.url + path,
                max_connections=1,
                params=params,
                auth=self._signer(recipe),
            )
            payload = read_answer(response, NAME, ANSWERS)
            kind = rejection(payload)
            envelope = as_dict(payload)
            tried.append(
                {
                    "recipe": name,
                    "accepted": kind in (None, "not_found"),
                    "code": _code(envelope.get("code")) or None,
                    "msg": text(envelope.get("msg")),
                    "request_id": text(envelope.get("requestId")),
                }
            )
            if kind in (None, "not_found"):
                self._chooser = None
                chooser = self.chooser
                if not chooser.pinned:
                    self._accepted(name)
                setting = pandapon_sign.parse_setting(self.settings.get("signature"))
                return {"accepted": name, "setting": setting, "tried": tried}
            if kind not in ("signature", "clock"):
                code, msg = _code(envelope.get("code")), text(envelope.get("msg"))
                raise envelope_error(code, msg, text(envelope.get("requestId")))
        setting = pandapon_sign.parse_setting(self.settings.get("signature"))
        return {"accepted": None, "setting": setting, "tried": tried}
