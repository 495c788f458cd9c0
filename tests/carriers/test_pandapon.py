"""PandaPon adapter and sandbox: docs examples, signing vectors, envelopes, parcels, statuses,
one signed request per order under the limiter, and parsers that never raise."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import fixture, json_values
from waypost.carriers import pandapon
from waypost.carriers.base import Query, TrackOptions
from waypost.errors import AuthError, CarrierError, ProtocolError, RateLimited
from waypost.http import RetryPolicy, Session
from waypost.models import Status
from waypost.sandbox import Sandbox
from waypost.sandbox import pandapon as box

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEX32 = re.compile(r"[0-9a-f]{32}")
NONCE = "0123456789abcdef0123456789abcdef"
SEED_ORDER = "2542285634920880794"
TWO_PARCELS = "3318459201774650021"
ENVELOPE_KEYS = {"requestId", "code", "developId", "msg", "data"}


# -- the docs' examples ---------------------------------------------------------------------


def test_the_seed_example_parses_to_one_pending_shipment_for_the_order() -> None:
    (s,) = pandapon.parse_response(
        fixture("pandapon", "seed_example.json"), SEED_ORDER, "1688", SHANGHAI
    )
    # Every field of the docs' example is an empty string: the order is known, nothing shipped.
    assert s.found is True
    assert s.status is Status.PENDING
    assert s.tracking_number == SEED_ORDER
    assert s.order_id == SEED_ORDER
    assert s.service == "1688"
    assert s.events == []
    assert s.error is None


def test_the_filled_example_gives_one_shipment_per_parcel() -> None:
    first, second = pandapon.parse_response(
        fixture("pandapon", "filled_example.json"), SEED_ORDER, "1688", SHANGHAI
    )
    assert (first.tracking_number, second.tracking_number) == ("4318765290123", "773216549870123")
    assert {first.order_id, second.order_id} == {SEED_ORDER}
    assert first.status is Status.IN_TRANSIT
    assert first.status_text == "In transit"  # the words of TRANSPORT, not the code
    assert [e.location for e in first.events] == ["广州分拨中心", "330700", "义乌福田网点"]
    assert first.events[0].description == "【广州市】已到达 广州分拨中心"
    assert first.last_update == datetime(2025, 4, 21, 10, 5, 11, tzinfo=SHANGHAI)
    # No traceNodeList: the logisticsSteps are the timeline; the empty step is dropped.
    assert [e.description for e in second.events] == [
        "【上海市】已签收，签收人：本人",
        "【温州市】申通快递 温州瓯海公司 已揽件",
        "卖家已发货",
    ]
    assert [e.status for e in second.events] == [
        Status.DELIVERED,
        Status.IN_TRANSIT,
        Status.INFO_RECEIVED,
    ]
    assert second.status is Status.DELIVERED
    assert second.status_text == "【上海市】已签收，签收人：本人"


def test_the_taobao_example_parses() -> None:
    (s,) = pandapon.parse_response(
        fixture("pandapon", "taobao_example.json"), "200033789041", "taobao", SHANGHAI
    )
    assert s.tracking_number == "78753196186473"
    assert s.order_id == "200033789041"
    assert s.courier == "中通快递"
    assert s.service == "Taobao"
    assert s.status is Status.IN_TRANSIT
    assert s.status_text == "运输中"
    assert (s.origin, s.destination) == ("北京市", "广东省 广州市")
    assert [e.description for e in s.events] == [
        "【北京市】 快件已发往 广州中心",
        "【北京市】 快件已到达 北京",
    ]
    assert s.events[0].location == "北京"
    assert s.events[0].time == datetime(2023, 12, 14, 21, 39, 11, tzinfo=SHANGHAI)


# -- signing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("access_key", "secret", "timestamp", "nonce", "signature"),
    [
        # md5("access-key=AK&nonce-str=0123...cdef&timestamp=1700000000&secret=SK"), upper hex
        ("AK", "SK", "1700000000", NONCE, "7841B09B3DB6C1AEB602DB2E9721B77E"),
        ("AK", "SK", "1700000000000", "f" * 32, "15E9D5CF76C604832436BAB5CF7CC390"),
        (
            "58c0201dfdf148eca63cbf6bb5e7cf03",
            "pandapon-test-secret",
            "1715669977082",
            "5f2b9c0e7d4a4e1b8c3f6a9d2e1b0c7a",
            "A0098D0A8D0A86C2CAB8EC48F66E4EF5",
        ),
    ],
)
def test_signing_vectors(
    access_key: str, secret: str, timestamp: str, nonce: str, signature: str
) -> None:
    assert pandapon.sign(access_key, secret, timestamp, nonce) == signature


def test_signed_headers_are_the_five_system_parameters_and_user_id_is_not_signed() -> None:
    headers = pandapon.signed_headers("AK", "SK", "2100007341207", "1700000000", NONCE)
    assert headers == {
        "access-key": "AK",
        "timestamp": "1700000000",
        "nonce-str": NONCE,
        "user-id": "2100007341207",
        "signature": "7841B09B3DB6C1AEB602DB2E9721B77E",
    }
    other_user = pandapon.signed_headers("AK", "SK", "1", "1700000000", NONCE)
    assert other_user["signature"] == headers["signature"]
    assert "SK" not in json.dumps(headers)


@pytest.mark.parametrize("field", ["access_key", "secret", "timestamp", "nonce"])
def test_every_signed_field_changes_the_signature(field: str) -> None:
    args = {"access_key": "AK", "secret": "SK", "timestamp": "1700000000", "nonce": NONCE}
    changed = {**args, field: args[field] + "0"}
    assert pandapon.sign(**changed) != pandapon.sign(**args)


def test_nonce_and_timestamp_have_the_documented_shape() -> None:
    nonces = {pandapon.new_nonce() for _ in range(50)}
    assert len(nonces) == 50
    assert all(HEX32.fullmatch(n) for n in nonces)
    stamp = pandapon.now_ms()
    assert re.fullmatch(r"\d{13}", stamp)
    assert abs(int(stamp) - time.time() * 1000) < 60_000


@given(
    access_key=st.text(max_size=40),
    secret=st.text(max_size=40),
    timestamp=st.text(alphabet="0123456789", max_size=13),
    nonce=st.text(max_size=32),
)
def test_the_sandbox_verifies_the_same_recipe_written_independently(
    access_key: str, secret: str, timestamp: str, nonce: str
) -> None:
    assert box.expected_signature(access_key, secret, timestamp, nonce) == pandapon.sign(
        access_key, secret, timestamp, nonce
    )


# -- the sandbox as the server ---------------------------------------------------------------


def _get(sandbox: Sandbox, headers: dict[str, str], order: str = SEED_ORDER) -> httpx.Response:
    url = f"{sandbox.base_url}/pandapon{pandapon.PATH_1688}"
    return httpx.get(url, params={"orderId": order}, headers=headers, timeout=5)


def _headers(**override: str) -> dict[str, str]:
    values = {
        "access_key": box.ACCESS_KEY,
        "secret": box.SIGNING_KEY,
        "user_id": box.USER_ID,
        "timestamp": pandapon.now_ms(),
        "nonce": pandapon.new_nonce(),
        **override,
    }
    return pandapon.signed_headers(
        values["access_key"],
        values["secret"],
        values["user_id"],
        values["timestamp"],
        values["nonce"],
    )


def _envelope(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == ENVELOPE_KEYS
    assert HEX32.fullmatch(body["requestId"])
    return body  # type: ignore[no-any-return]


def test_the_sandbox_accepts_the_clients_signature(sandbox: Sandbox) -> None:
    body = _envelope(_get(sandbox, _headers()))
    assert (body["code"], body["msg"]) == (200, "成功")
    assert [p["logisticsBillNo"] for p in body["data"]] == ["4318765290123"]


def _ms(offset: int) -> str:
    return str(int(time.time() * 1000) + offset)


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (lambda: _headers(secret="wrong-secret"), 1003, "签名错误"),
        (lambda: _headers(timestamp=_ms(-601_000)), 1004, "timestamp expired"),
        (lambda: _headers(timestamp=_ms(+601_000)), 1004, "timestamp expired"),
        (lambda: _headers(timestamp=str(int(time.time()))), 1004, "timestamp expired"),
        (lambda: _headers(access_key="someone-else"), 1002, "invalid access-key"),
        (lambda: _headers(user_id="42"), 1002, "invalid access-key"),
        (lambda: _headers(nonce="short"), 1001, "32 characters"),
    ],
    ids=["wrong", "stale", "future", "seconds", "key", "user", "nonce"],
)
def test_the_sandbox_rejects_bad_requests_with_the_error_envelope(
    sandbox: Sandbox, make: Any, code: int, words: str
) -> None:
    response = _get(sandbox, make())
    assert response.status_code == 200
    body = _envelope(response)
    assert body["code"] == code
    assert words in body["msg"]
    assert body["data"] is None


@pytest.mark.parametrize("missing", box.HEADERS)
def test_the_sandbox_rejects_a_missing_header(sandbox: Sandbox, missing: str) -> None:
    headers = _headers()
    del headers[missing]
    body = _envelope(_get(sandbox, headers))
    assert body["code"] == 1001
    assert missing in body["msg"]


def test_the_sandbox_rejects_a_replayed_nonce(sandbox: Sandbox) -> None:
    headers = _headers()
    assert _envelope(_get(sandbox, headers))["code"] == 200
    replay = _envelope(_get(sandbox, headers, order=TWO_PARCELS))
    assert replay["code"] == 1005
    assert "nonce-str" in replay["msg"]


def test_a_rejected_signature_does_not_spend_the_nonce(sandbox: Sandbox) -> None:
    nonce = pandapon.new_nonce()
    assert _envelope(_get(sandbox, _headers(nonce=nonce, secret="x")))["code"] == 1003
    assert _envelope(_get(sandbox, _headers(nonce=nonce)))["code"] == 200


def test_the_sandbox_serves_the_taobao_path_and_knows_unknown_orders(sandbox: Sandbox) -> None:
    url = f"{sandbox.base_url}/pandapon{pandapon.PATH_TAOBAO}"
    ok = _envelope(
        httpx.get(url, params={"subPurchaseOrderId": "200033789041"}, headers=_headers())
    )
    assert ok["data"]["purchaseOrderOuterId"] == "3682557363260579405"
    (parcel,) = ok["data"]["pnmLogisticsDetails"]
    assert parcel["logisticsTraces"][0]["standerdDesc"] == "【北京市】 快件已发往 广州中心"
    unknown = _envelope(_get(sandbox, _headers(), order="2542285634920880000"))
    assert (unknown["code"], unknown["data"]) == (4004, None)
    bad = _envelope(_get(sandbox, _headers(), order="abc"))
    assert bad["code"] == 400


# -- the CLI against the sandbox -------------------------------------------------------------


def test_signature_rejected_is_exit_3_with_the_request_id_and_no_secret(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    wrong = "not-the-secret-but-still-secret-0042"
    monkeypatch.setenv("WAYPOST_PANDAPON_SECRET", wrong)
    r = cli("-vv", "track", f"pandapon:{SEED_ORDER}")
    assert r.code == 3, (r.out, r.err)
    # auto signing tried each recipe once; the error quotes the first "signature invalid"
    first, second = box_app(sandbox).request_ids
    assert first in r.out
    assert second not in r.out
    assert "credentials rejected" in r.out
    assert "signature" in r.out
    for secret in (wrong, box.SIGNING_KEY):
        assert secret not in r.out + r.err
    j = cli("track", "--json", f"pandapon:{SEED_ORDER}")
    assert j.code == 3
    (shipment,) = j.json()["shipments"]  # type: ignore[index]
    assert box_app(sandbox).request_ids[-2] in shipment["error"]
    assert shipment["order_id"] == SEED_ORDER
    assert wrong not in j.out + j.err


def box_app(sandbox: Sandbox) -> box.App:
    app = sandbox.apps["pandapon"]
    assert isinstance(app, box.App)
    return app


def test_a_two_parcel_order_is_two_shipments(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--json", f"pandapon:{TWO_PARCELS}")
    assert r.code == 0, r.err
    shipments = r.json()["shipments"]  # type: ignore[index]
    assert [s["tracking_number"] for s in shipments] == ["YT7512345678901", "SF1428765309214"]
    assert [s["order_id"] for s in shipments] == [TWO_PARCELS, TWO_PARCELS]
    assert [s["status"] for s in shipments] == ["out_for_delivery", "in_transit"]
    assert all(s["carrier"] == "pandapon" and s["service"] == "1688" for s in shipments)
    assert len(sandbox.entries("pandapon")) == 1


def test_prefixes_route_to_the_right_endpoint(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(
        "track",
        "--json",  # input order (--jsonl streams in answer order)
        "pandapon:taobao:200048859480",
        f"pandapon:1688:{SEED_ORDER}",
        "pandapon:1977364520886112043",
    )
    assert r.code == 0, r.err
    lines = r.json()["shipments"]  # type: ignore[index]
    assert [(s["tracking_number"], s["service"], s["status"]) for s in lines] == [
        ("YT8812003456712", "Taobao", "delivered"),
        ("4318765290123", "1688", "in_transit"),
        ("773216549870123", "1688", "in_transit"),
    ]
    assert lines[0]["courier"] == "圆通速递"
    paths = sorted((e.path, tuple(e.params.items())) for e in sandbox.entries("pandapon"))
    assert paths == [
        (pandapon.PATH_TAOBAO, (("subPurchaseOrderId", "200048859480"),)),
        (pandapon.PATH_1688, (("orderId", "1977364520886112043"),)),
        (pandapon.PATH_1688, (("orderId", SEED_ORDER),)),
    ]


def test_an_unprefixed_1688_order_id_is_asked_of_pandapon(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--jsonl", SEED_ORDER)
    assert r.code == 0, r.err
    (line,) = r.out.splitlines()
    assert json.loads(line)["carrier"] == "pandapon"
    assert sandbox.entries("ils") == []


def test_unknown_pending_and_failing_orders(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(
        "track",
        "--json",  # input order (--jsonl streams in answer order)
        "pandapon:2542285634920880000",
        "pandapon:2694057731265508832",
        f"pandapon:{box.FAILING}",
    )
    assert r.code == 1
    unknown, pending, failing = r.json()["shipments"]  # type: ignore[index]
    assert (unknown["found"], unknown["status"], unknown["error"]) == (False, "not_found", None)
    assert unknown["status_text"] == "订单不存在 / order does not exist"
    assert (pending["found"], pending["status"], pending["tracking_number"]) == (
        True,
        "pending",
        "2694057731265508832",
    )
    assert "系统繁忙" in failing["error"]
    quoted = re.search(r"requestId ([0-9a-f]{32})", failing["error"])
    assert quoted is not None
    assert quoted.group(1) in box_app(sandbox).request_ids


def test_add_event_ships_a_pending_order_and_extends_a_parcel(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    app = box_app(sandbox)
    assert app.add_event("2694057731265508832", "【杭州市】快递员 正在派件", "杭州滨江网点")
    assert app.add_event("SF1428765309214", "【杭州市】已签收，签收人：本人", None)
    assert app.add_event("taobao:200033789041", "【广州市】 快件已到达 广州中心", "广州中心")
    assert not app.add_event("2542285634920880000", "x", None)
    r = cli(
        "track",
        "--json",  # input order (--jsonl streams in answer order)
        "pandapon:2694057731265508832",
        f"pandapon:{TWO_PARCELS}",
        "pandapon:taobao:200033789041",
    )
    shipped, _, parcel, taobao = r.json()["shipments"]  # type: ignore[index]
    assert shipped["status"] == "out_for_delivery"
    assert shipped["tracking_number"] != "2694057731265508832"
    assert (parcel["tracking_number"], parcel["status"]) == ("SF1428765309214", "delivered")
    assert taobao["events"][0]["description"] == "【广州市】 快件已到达 广州中心"


def test_synthetic_orders_are_deterministic(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("track", "--json", "pandapon:9123456789012345678").json()
    again = cli("track", "--json", "pandapon:9123456789012345678").json()
    assert first == again
    assert all(s["found"] for s in first["shipments"])  # type: ignore[index]


def test_one_request_per_order_under_the_rate_limit(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # The sandbox allows 5 requests in any 1 s window: 8 orders sent at once would be refused.
    monkeypatch.setenv("WAYPOST_PANDAPON_RATE", "4")
    orders = [f"9{i:018d}" for i in range(1, 8)] + [SEED_ORDER]
    r = cli("track", "--jsonl", *[f"pandapon:{o}" for o in orders])
    assert r.code == 0, r.err
    entries = sandbox.entries("pandapon")
    assert sorted(e.params["orderId"] for e in entries) == sorted(orders)
    assert all(e.status == 200 for e in entries)
    assert sandbox.rejected("pandapon") == 0
    assert {json.loads(line)["order_id"] for line in r.out.splitlines()} == set(orders)


# -- concurrency, signing per attempt, HTTP faults (mocked transport) -------------------------

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
    assert h["signature"] == pandapon.sign("AK", "SK-secret-value", h["timestamp"], h["nonce-str"])
    assert h["user-id"] == "2100007341207"
    assert "SK-secret-value" not in str(request.url)


def _run(queries: list[Query], options: TrackOptions, **session: Any) -> tuple[list[Any], Session]:
    async def go() -> tuple[list[Any], Session]:
        async with Session(**session) as s:
            adapter = pandapon.Adapter(SETTINGS, s)
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


def test_a_number_that_is_not_an_order_id_is_not_found_without_a_request() -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        (answer,), session = _run([Query("1Z999AA10123456784", "pandapon")], TrackOptions())
        assert not mock.calls
    (s,) = answer.shipments
    assert (s.found, s.status, s.error) == (False, Status.NOT_FOUND, None)
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


@pytest.mark.parametrize("code", [0, 200, "200", "0", 200.0])
def test_both_documented_success_codes_are_success(code: object) -> None:
    payload = {"code": code, "msg": "成功", "data": [{"logisticsBillNo": "B1"}]}
    (s,) = pandapon.parse_response(payload, "1", "1688", None)
    assert s.tracking_number == "B1"


def test_other_codes_fail_with_msg_and_request_id() -> None:
    with pytest.raises(CarrierError) as info:
        pandapon.parse_response(fixture("pandapon", "error_system.json"), "1", "1688", None)
    assert not isinstance(info.value, AuthError)
    assert "系统繁忙" in info.value.message
    assert "requestId 7e6d5c4b3a2f41e0d9c8b7a6f5e4d3c2" in info.value.message


def test_a_signature_rejection_is_an_auth_error_with_the_request_id() -> None:
    with pytest.raises(AuthError) as info:
        pandapon.parse_response(fixture("pandapon", "error_signature.json"), "1", "1688", None)
    assert info.value.exit_code == 3
    assert "9b0f3c2e6d8a4f1b8e7c5a3d2f1e0b9c" in info.value.message


@pytest.mark.parametrize(
    ("code", "msg", "kind"),
    [
        (1001, "缺少或非法的请求头", AuthError),
        (1002, "access-key或user-id无效", AuthError),
        (1004, "请求已过期", AuthError),
        (777, "Signature invalid", AuthError),
        (777, "accessKey not exist", AuthError),
        (1005, "nonce-str重复", CarrierError),
        (429, "请求过于频繁", RateLimited),
        (500, "内部错误", CarrierError),
    ],
)
def test_error_codes_and_messages_are_classified(
    code: int, msg: str, kind: type[CarrierError]
) -> None:
    with pytest.raises(CarrierError) as info:
        pandapon.parse_response({"requestId": "rid", "code": code, "msg": msg}, "1", "1688", None)
    assert type(info.value) is kind
    assert "requestId rid" in info.value.message


def test_a_stale_timestamp_hints_at_the_clock() -> None:
    err = pandapon.envelope_error("1004", "请求已过期 / timestamp expired", "rid")
    assert isinstance(err, AuthError)
    assert err.hint is not None
    assert "clock" in err.hint


@pytest.mark.parametrize("platform", ["1688", "taobao"])
def test_an_unknown_order_is_a_definite_not_found(platform: pandapon.Platform) -> None:
    (s,) = pandapon.parse_response(
        fixture("pandapon", "error_not_found.json"), "77", platform, None
    )
    assert (s.found, s.status, s.error, s.order_id) == (False, Status.NOT_FOUND, None, "77")
    assert s.failure is None


@pytest.mark.parametrize("payload", [None, [], "x", {"msg": "no code"}, 12])
def test_answers_without_an_envelope_are_protocol_errors(payload: object) -> None:
    with pytest.raises(ProtocolError):
        pandapon.parse_response(payload, "1", "1688", None)


@pytest.mark.parametrize(
    ("platform", "data"), [("1688", "text"), ("1688", 5), ("taobao", [1, 2]), ("taobao", "x")]
)
def test_data_of_the_wrong_shape_is_a_protocol_error(
    platform: pandapon.Platform, data: object
) -> None:
    with pytest.raises(ProtocolError):
        pandapon.parse_response({"code": 200, "data": data}, "1", platform, None)


@pytest.mark.parametrize(
    ("platform", "data"), [("1688", []), ("1688", None), ("taobao", None), ("taobao", {})]
)
def test_a_known_order_without_parcels_is_pending(
    platform: pandapon.Platform, data: object
) -> None:
    (s,) = pandapon.parse_response({"code": 200, "data": data}, "55", platform, None)
    assert (s.found, s.status, s.tracking_number, s.order_id) == (True, Status.PENDING, "55", "55")


# -- statuses --------------------------------------------------------------------------------

LOGISTICS_STATUSES = {
    "WAITACCEPT": Status.INFO_RECEIVED,
    "CANCEL": Status.EXCEPTION,
    "ACCEPT": Status.IN_TRANSIT,
    "TRANSPORT": Status.IN_TRANSIT,
    "NOGET": Status.EXCEPTION,
    "SIGN": Status.DELIVERED,
    "UNSIGN": Status.EXCEPTION,
}


def test_the_table_covers_every_1688_logistics_status() -> None:
    assert set(pandapon.LOGISTICS_STATUS) == set(LOGISTICS_STATUSES)
    assert set(pandapon.LOGISTICS_WORDS) == set(LOGISTICS_STATUSES)


@pytest.mark.parametrize(("raw", "status"), sorted(LOGISTICS_STATUSES.items()))
def test_every_1688_logistics_status_maps(raw: str, status: Status) -> None:
    item = {"logisticsBillNo": "B1", "logisticsStatus": raw}
    (s,) = pandapon.parse_response({"code": 200, "data": [item]}, "1", "1688", None)
    assert s.status is status
    # The status line says what the code means, not the code.
    assert s.status_text == pandapon.LOGISTICS_WORDS[raw]
    assert s.status_text != raw
    (lower,) = pandapon.parse_response(
        {"code": 200, "data": [{**item, "logisticsStatus": raw.lower()}]}, "1", "1688", None
    )
    assert lower.status is status


def test_a_taobao_trace_without_status_words_says_what_its_code_means() -> None:
    trace = {"time": "2023-12-14 21:39:11", "standerdDesc": "快件已发往 广州中心"}
    data = {
        "pnmLogisticsDetails": [
            {"mailNo": "7875", "logisticsTraces": [{**trace, "status": "TRANSPORT"}]}
        ]
    }
    (s,) = pandapon.parse_response({"code": 0, "data": data}, "2000", "taobao", SHANGHAI)
    assert s.status_text == "In transit"
    data["pnmLogisticsDetails"][0]["logisticsTraces"][0]["status"] = "DELIVERING"  # type: ignore[index]
    (s,) = pandapon.parse_response({"code": 0, "data": data}, "2000", "taobao", SHANGHAI)
    assert s.status_text == "Out for delivery"


@given(code=st.text(max_size=12))
def test_status_words_never_lose_a_code(code: str) -> None:
    words = pandapon.status_words(code)
    assert words == pandapon.LOGISTICS_WORDS.get(code.upper(), code)


def test_an_unknown_logistics_status_is_in_transit_with_its_text_kept() -> None:
    item = {"logisticsBillNo": "B1", "logisticsStatus": "HOLD_AT_PORT"}
    (s,) = pandapon.parse_response({"code": 200, "data": [item]}, "1", "1688", None)
    assert (s.status, s.status_text) == (Status.IN_TRANSIT, "HOLD_AT_PORT")


def test_a_generic_in_transit_status_is_refined_by_the_newest_event() -> None:
    item = {
        "logisticsBillNo": "B1",
        "logisticsStatus": "TRANSPORT",
        "traceNodeList": [
            {"action": "TRANSPORT", "acceptTime": "2025-01-01 08:00:00", "remark": "已揽收"},
            {
                "action": "TRANSPORT",
                "acceptTime": "2025-01-02 08:00:00",
                "remark": "快递员 正在派件",
            },
        ],
    }
    (s,) = pandapon.parse_response({"code": 200, "data": [item]}, "1", "1688", None)
    assert s.status is Status.OUT_FOR_DELIVERY
    signed = {**item, "logisticsStatus": "SIGN"}
    (d,) = pandapon.parse_response({"code": 200, "data": [signed]}, "1", "1688", None)
    assert d.status is Status.DELIVERED


@pytest.mark.parametrize(
    ("action", "status", "words", "expected"),
    [
        ("TRANSPORT", None, "已到达 金华分拨中心", Status.IN_TRANSIT),
        ("SIGN", None, "", Status.DELIVERED),
        ("UNSIGN", None, "", Status.EXCEPTION),
        ("TMS_ACCEPT", "ACCEPT", "已揽件", Status.IN_TRANSIT),
        ("TMS_STATION_IN", "TRANSPORT", "快件已到达 北京", Status.IN_TRANSIT),
        ("TMS_STATION_OUT", "TRANSPORT", "快件已发往 广州中心", Status.IN_TRANSIT),
        ("TMS_DELIVERING", "TRANSPORT", "", Status.OUT_FOR_DELIVERY),
        ("TMS_SIGN", "SIGN", "", Status.DELIVERED),
        ("TMS_FAILED", None, "", Status.FAILED_ATTEMPT),
        ("TMS_REJECT", None, "", Status.EXCEPTION),
        ("TMS_ERROR", None, "", Status.EXCEPTION),
        (None, "SIGN", "", Status.DELIVERED),
        ("", "DELIVERING", "", Status.OUT_FOR_DELIVERY),
        ("TMS_SOMETHING_NEW", None, "", Status.IN_TRANSIT),
        ("TRANSPORT", None, "【上海市】已签收，签收人：本人", Status.DELIVERED),
        ("TRANSPORT", None, "派送失败，电话无人接听", Status.FAILED_ATTEMPT),
        ("TRANSPORT", None, "已放入菜鸟驿站，请凭取件码取件", Status.AVAILABLE_FOR_PICKUP),
        ("TRANSPORT", None, "收件人拒收，快件退回", Status.EXCEPTION),
        (None, None, "卖家已发货", Status.INFO_RECEIVED),
    ],
)
def test_event_status(action: str | None, status: str | None, words: str, expected: Status) -> None:
    assert pandapon.event_status(action, status, words) is expected


# -- empty strings are missing ---------------------------------------------------------------


def test_empty_strings_are_treated_as_missing() -> None:
    items = [
        {"logisticsBillNo": "", "logisticsId": "LP00123", "logisticsStatus": ""},
        {
            "logisticsBillNo": " ",
            "logisticsId": "",
            "logisticsStatus": "",
            "traceNodeList": [
                {"acceptTime": "", "remark": "", "facilityName": "", "areaCode": ""},
                {
                    "acceptTime": "2025-01-01 08:00:00",
                    "remark": "已揽收",
                    "facilityName": "",
                    "areaCode": "",
                    "action": "",
                },
            ],
        },
        {"logisticsBillNo": "", "logisticsId": "", "logisticsStatus": "", "logisticsSteps": [{}]},
    ]
    by_id, by_order = pandapon.parse_response({"code": 200, "data": items}, "9", "1688", SHANGHAI)
    assert by_id.tracking_number == "LP00123"
    assert (by_id.status, by_id.status_text) == (Status.INFO_RECEIVED, None)
    assert by_order.tracking_number == "9"
    (event,) = by_order.events
    assert (event.location, event.status, event.description) == (None, Status.IN_TRANSIT, "已揽收")
    taobao = {
        "purchaseOrderOuterId": "",
        "pnmLogisticsDetails": [
            {
                "mailNo": "",
                "logisticsPartner": [{"company": ""}, {"company": "申通快递"}],
                "logisticsTraces": [
                    {"time": "2025-01-01 08:00:00", "standerdDesc": "", "statusDesc": "已揽件",
                     "facilityName": "", "province": "", "city": "杭州市", "district": ""},
                ],
            },
            {"mailNo": "", "logisticsTraces": []},
        ],
    }  # fmt: skip
    (t,) = pandapon.parse_response({"code": 200, "data": taobao}, "8", "taobao", SHANGHAI)
    assert (t.tracking_number, t.courier) == ("8", "申通快递")
    assert (t.events[0].description, t.events[0].location) == ("已揽件", "杭州市")


# -- declarations ----------------------------------------------------------------------------


def test_the_1688_pattern_and_the_prefixes() -> None:
    from waypost import inputs

    infos = {"pandapon": pandapon.INFO}
    (pattern,) = pandapon.INFO.patterns
    assert pattern.match(SEED_ORDER)
    assert not pattern.match("3676E4043665")
    assert not pattern.match("12345678901234567")
    taobao = inputs.parse_token(inputs.Token("pandapon:taobao:200033789041", "argument 1"), infos)
    assert (taobao.number, taobao.courier) == ("200033789041", "taobao")
    plain = inputs.parse_token(inputs.Token(f"pandapon:{SEED_ORDER}", "argument 1"), infos)
    assert pandapon.platform_of(plain) == "1688"
    assert pandapon.platform_of(Query(SEED_ORDER, "pandapon", "1688")) == "1688"


def test_defaults_and_secret_settings() -> None:
    info = pandapon.INFO
    assert info.setting("base_url").default == "https://api.pandapon.com"  # type: ignore[union-attr]
    assert info.setting("timezone").default == "Asia/Shanghai"  # type: ignore[union-attr]
    assert info.setting("rate").default == 5.0  # type: ignore[union-attr]
    assert [s.key for s in info.credentials] == ["user_id", "access_key", "secret"]
    assert [s.key for s in info.secrets] == ["secret"]


# -- parsers never raise ---------------------------------------------------------------------

times = json_values | st.sampled_from(["2025-04-21 10:05:11", "", "2025-13-45 99:99:99"])
codes = st.sampled_from(["", "TRANSPORT", "SIGN", "TMS_SIGN", "UNSIGN", "WAITACCEPT", "x"])
nodes = st.fixed_dictionaries(
    {},
    optional={
        "action": codes | json_values,
        "areaCode": json_values,
        "encrypt": json_values,
        "acceptTime": times,
        "remark": json_values,
        "facilityType": json_values,
        "facilityNo": json_values,
        "facilityName": json_values,
    },
)
items_1688 = st.fixed_dictionaries(
    {},
    optional={
        "logisticsId": json_values,
        "orderId": json_values,
        "logisticsBillNo": json_values,
        "logisticsSteps": st.lists(nodes | json_values, max_size=3) | json_values,
        "traceNodeList": st.lists(nodes | json_values, max_size=3) | json_values,
        "logisticsStatus": codes | json_values,
    },
)
traces = st.fixed_dictionaries(
    {},
    optional={
        k: json_values | codes
        for k in ("statusDesc", "province", "city", "district", "action", "facilityName",
                  "standerdDesc", "status", "nextCity", "nextNodeName")
    }
    | {"time": times},
)  # fmt: skip
details = st.fixed_dictionaries(
    {},
    optional={
        "mailNo": json_values,
        "logisticsTraces": st.lists(traces | json_values, max_size=3) | json_values,
        "logisticsPartner": st.lists(
            st.fixed_dictionaries({}, optional={"company": json_values}) | json_values, max_size=2
        )
        | json_values,
        "receiver": st.fixed_dictionaries(
            {}, optional={"province": json_values, "city": json_values}
        )
        | json_values,
    },
)
taobao_data = st.fixed_dictionaries(
    {},
    optional={
        "purchaseOrderOuterId": json_values,
        "pnmLogisticsDetails": st.lists(details | json_values, max_size=3) | json_values,
    },
)


def _well_formed(shipments: list[Any], order: str) -> None:
    assert shipments
    for s in shipments:
        assert s.order_id == order
        assert s.carrier == "pandapon"
        json.loads(s.model_dump_json())


@given(items=st.lists(items_1688 | json_values, max_size=4), code=st.sampled_from([0, 200, "200"]))
def test_arbitrary_1688_items_never_raise(items: list[object], code: object) -> None:
    _well_formed(
        pandapon.parse_response({"code": code, "data": items}, "77", "1688", SHANGHAI), "77"
    )


@given(data=taobao_data)
def test_arbitrary_taobao_data_never_raises(data: object) -> None:
    _well_formed(
        pandapon.parse_response({"code": 200, "data": data}, "66", "taobao", SHANGHAI), "66"
    )


@given(
    payload=json_values
    | st.fixed_dictionaries(
        {"code": json_values | st.sampled_from([0, 200, 1003, 4004, 429])},
        optional={"msg": json_values, "requestId": json_values, "data": json_values | taobao_data},
    ),
    platform=st.sampled_from(["1688", "taobao"]),
)
def test_arbitrary_envelopes_raise_only_carrier_errors(payload: object, platform: str) -> None:
    with contextlib.suppress(CarrierError):
        _well_formed(pandapon.parse_response(payload, "5", platform, None), "5")  # type: ignore[arg-type]
