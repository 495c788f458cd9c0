"""PandaPon strategy: concurrency under the limiter, signing each attempt, routing, faults."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from tests.conftest import fixture
from waypost.carriers import pandapon
from waypost.carriers.base import Query, TrackOptions
from waypost.carriers.pandapon import adapter as pandapon_adapter
from waypost.carriers.pandapon import api as pandapon_api
from waypost.errors import AuthError, CarrierError, ProtocolError, RateLimited
from waypost.http import RetryPolicy, Session
from waypost.models import Status

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEX32 = re.compile(r"[0-9a-f]{32}")
NONCE = "0123456789abcdef0123456789abcdef"
SEED_ORDER = "2542285634920880794"
TWO_PARCELS = "3318459201774650021"
ENVELOPE_KEYS = {"requestId", "code", "developId", "msg", "data"}


# -- the docs' examples ---------------------------------------------------------------------


SETTINGS = {
    "user_id": "2100007341207",
    "access_key": "AK",
    "secret": "SK-secret-value",
    "base_url": "http://pandapon.test",
    "timezone": "Asia/Shanghai",
    "rate": 10_000.0,
}


def _ok(order: str) -> httpx.Response:
    item = {"logisticsBillNo": f"B{order}", "logisticsStatus": "TRANSPORT"}
    return httpx.Response(200, json={"requestId": "r", "code": 200, "msg": "成功", "data": [item]})


def _check_signed(request: httpx.Request) -> None:
    h = request.headers
    assert h["signature"] == pandapon_api.sign(
        "AK", "SK-secret-value", h["timestamp"], h["nonce-str"]
    )
    assert h["user-id"] == "2100007341207"
    assert "SK-secret-value" not in str(request.url)


def _run(queries: list[Query], options: TrackOptions, **session: Any) -> tuple[list[Any], Session]:
    async def go() -> tuple[list[Any], Session]:
        async with Session(**session) as s:
            adapter = pandapon_adapter.Adapter(SETTINGS, s)
            return list(await adapter.track(queries, options)), s

    return asyncio.run(go())


def test_orders_go_out_concurrently_bounded_by_max_connections_through_the_limiter() -> None:
    in_flight = 0
    peak = 0
    full = asyncio.Event()
    nonces: list[str] = []
    asked: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        _check_signed(request)
        nonces.append(request.headers["nonce-str"])
        asked.append(request.url.params["orderId"])
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == pandapon.INFO.max_connections:
            full.set()
        # Hold every answer until as many requests are in flight as the carrier allows.
        await asyncio.wait_for(full.wait(), 10)
        in_flight -= 1
        return _ok(request.url.params["orderId"])

    orders = [f"25422856349208807{i:02d}" for i in range(12)]
    answered: list[tuple[str, int]] = []
    options = TrackOptions(on_answered=lambda c, n: answered.append((c, n)))
    with respx.mock(assert_all_called=True) as mock:
        mock.get("http://pandapon.test/v2/alibaba/order/logistics").mock(side_effect=handler)
        answers, session = _run([Query(o, "pandapon") for o in orders], options)
    assert sorted(asked) == sorted(orders)
    assert peak == pandapon.INFO.max_connections
    assert len(set(nonces)) == len(orders)
    assert answered == [("pandapon", 1)] * len(orders)
    limiter = session.limiter("pandapon", "api", 10_000.0)
    assert limiter is not None
    assert limiter.acquired == len(orders)
    assert [a.shipments[0].tracking_number for a in answers] == [f"B{o}" for o in orders]


def test_a_retry_is_signed_again_with_a_fresh_nonce() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        _check_signed(request)
        seen.append(request.headers["nonce-str"])
        if len(seen) == 1:
            return httpx.Response(503, text="busy")
        return _ok(SEED_ORDER)

    with respx.mock() as mock:
        mock.get("http://pandapon.test/v2/alibaba/order/logistics").mock(side_effect=handler)
        (answer,), _ = _run(
            [Query(SEED_ORDER, "pandapon")], TrackOptions(), retry=RetryPolicy(base=0)
        )
    assert len(seen) == 2
    assert seen[0] != seen[1]
    assert answer.shipments[0].found


def test_taobao_queries_ask_the_taobao_endpoint() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get("http://pandapon.test/open/order/logistics/detail/get").mock(
            return_value=httpx.Response(200, json=fixture("pandapon", "taobao_example.json"))
        )
        (answer,), _ = _run([Query("200033789041", "pandapon", "taobao")], TrackOptions())
    assert route.calls.last.request.url.params["subPurchaseOrderId"] == "200033789041"
    assert answer.shipments[0].tracking_number == "78753196186473"


def test_a_number_that_is_not_an_order_id_is_unanswered_without_a_request() -> None:
    # The input refuses such a number for PandaPon; one that still comes (a watch list of an
    # older waypost) was never asked: unanswered, not PandaPon's "not found".
    with respx.mock(assert_all_mocked=True) as mock:
        (answer,), session = _run([Query("1Z999AA10123456784", "pandapon")], TrackOptions())
        assert not mock.calls
    (s,) = answer.shipments
    assert (s.found, s.status) == (None, Status.UNKNOWN)
    assert "digits only" in (s.error or "")
    assert session.requests == 0


@pytest.mark.parametrize(
    ("response", "kind", "words"),
    [
        (httpx.Response(401, text="Unauthorized"), AuthError, "credentials rejected"),
        (httpx.Response(502, text="<html>bad gateway</html>"), ProtocolError, "HTTP 502"),
        (httpx.Response(200, text="<html>login</html>"), ProtocolError, "HTML"),
        (
            httpx.Response(403, json=fixture("pandapon", "error_signature.json")),
            AuthError,
            "9b0f3c2e6d8a4f1b8e7c5a3d2f1e0b9c",
        ),
        (
            httpx.Response(429, json={"requestId": "q", "code": 429, "msg": "请求过于频繁"}),
            RateLimited,
            "too many requests",
        ),
    ],
)
def test_http_faults_become_failed_shipments(
    response: httpx.Response, kind: type[CarrierError], words: str
) -> None:
    with respx.mock() as mock:
        mock.get("http://pandapon.test/v2/alibaba/order/logistics").mock(return_value=response)
        (answer,), _ = _run(
            [Query(SEED_ORDER, "pandapon")], TrackOptions(), retry=RetryPolicy(attempts=1)
        )
    (s,) = answer.shipments
    assert isinstance(s.failure, kind)
    assert words in (s.error or "")
    assert s.order_id == SEED_ORDER
    assert "SK-secret-value" not in (s.error or "")


# -- envelopes -------------------------------------------------------------------------------
