"""The PandaPon emulator: it verifies the signature recipe written on its own, rejects bad requests, and serves waypost end to end."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import loopback
from waypost.carriers import pandapon
from waypost.carriers.pandapon import api as pandapon_api
from waypost.sandbox import Sandbox
from waypost.sandbox import pandapon as box

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEX32 = re.compile(r"[0-9a-f]{32}")
NONCE = "0123456789abcdef0123456789abcdef"
SEED_ORDER = "2542285634920880794"
TWO_PARCELS = "3318459201774650021"
ENVELOPE_KEYS = {"requestId", "code", "developId", "msg", "data"}


# -- the docs' examples ---------------------------------------------------------------------


@given(
    access_key=st.text(max_size=40),
    secret=st.text(max_size=40),
    timestamp=st.text(alphabet="0123456789", max_size=13),
    nonce=st.text(max_size=32),
)
def test_the_sandbox_verifies_the_same_recipe_written_independently(
    access_key: str, secret: str, timestamp: str, nonce: str
) -> None:
    assert box.expected_signature(access_key, secret, timestamp, nonce) == pandapon_api.sign(
        access_key, secret, timestamp, nonce
    )


# -- the sandbox as the server ---------------------------------------------------------------


def _get(sandbox: Sandbox, headers: dict[str, str], order: str = SEED_ORDER) -> httpx.Response:
    url = f"{sandbox.base_url}/pandapon{pandapon.PATH_1688}"
    return loopback.get(url, params={"orderId": order}, headers=headers, timeout=5)


def _headers(**override: str) -> dict[str, str]:
    values = {
        "access_key": box.ACCESS_KEY,
        "secret": box.SIGNING_KEY,
        "user_id": box.USER_ID,
        "timestamp": pandapon_api.now_ms(),
        "nonce": pandapon_api.new_nonce(),
        **override,
    }
    return pandapon_api.signed_headers(
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
    nonce = pandapon_api.new_nonce()
    assert _envelope(_get(sandbox, _headers(nonce=nonce, secret="x")))["code"] == 1003
    assert _envelope(_get(sandbox, _headers(nonce=nonce)))["code"] == 200


def test_the_sandbox_serves_the_taobao_path_and_knows_unknown_orders(sandbox: Sandbox) -> None:
    url = f"{sandbox.base_url}/pandapon{pandapon.PATH_TAOBAO}"
    ok = _envelope(
        loopback.get(url, params={"subPurchaseOrderId": "200033789041"}, headers=_headers())
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
