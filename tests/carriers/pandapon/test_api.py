"""PandaPon adapter and sandbox: docs examples, signing vectors, envelopes, parcels, statuses,
one signed request per order under the limiter, and parsers that never raise."""

from __future__ import annotations

import contextlib
import json
import re
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import fixture, json_values
from waypost.carriers import pandapon
from waypost.carriers.base import Query
from waypost.carriers.pandapon import api as pandapon_api
from waypost.errors import AuthError, CarrierError, ProtocolError, RateLimited
from waypost.models import Status

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEX32 = re.compile(r"[0-9a-f]{32}")
NONCE = "0123456789abcdef0123456789abcdef"
SEED_ORDER = "2542285634920880794"
TWO_PARCELS = "3318459201774650021"
ENVELOPE_KEYS = {"requestId", "code", "developId", "msg", "data"}


# -- the docs' examples ---------------------------------------------------------------------


def test_the_seed_example_parses_to_one_pending_shipment_for_the_order() -> None:
    (s,) = pandapon_api.parse_response(
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
    first, second = pandapon_api.parse_response(
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
    (s,) = pandapon_api.parse_response(
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
    assert pandapon_api.sign(access_key, secret, timestamp, nonce) == signature


def test_signed_headers_are_the_five_system_parameters_and_user_id_is_not_signed() -> None:
    headers = pandapon_api.signed_headers("AK", "SK", "2100007341207", "1700000000", NONCE)
    assert headers == {
        "access-key": "AK",
        "timestamp": "1700000000",
        "nonce-str": NONCE,
        "user-id": "2100007341207",
        "signature": "7841B09B3DB6C1AEB602DB2E9721B77E",
    }
    other_user = pandapon_api.signed_headers("AK", "SK", "1", "1700000000", NONCE)
    assert other_user["signature"] == headers["signature"]
    assert "SK" not in json.dumps(headers)


@pytest.mark.parametrize("field", ["access_key", "secret", "timestamp", "nonce"])
def test_every_signed_field_changes_the_signature(field: str) -> None:
    args = {"access_key": "AK", "secret": "SK", "timestamp": "1700000000", "nonce": NONCE}
    changed = {**args, field: args[field] + "0"}
    assert pandapon_api.sign(**changed) != pandapon_api.sign(**args)


def test_nonce_and_timestamp_have_the_documented_shape() -> None:
    nonces = {pandapon_api.new_nonce() for _ in range(50)}
    assert len(nonces) == 50
    assert all(HEX32.fullmatch(n) for n in nonces)
    stamp = pandapon_api.now_ms()
    assert re.fullmatch(r"\d{13}", stamp)
    assert abs(int(stamp) - time.time() * 1000) < 60_000


# -- concurrency, signing per attempt, HTTP faults (mocked transport) -------------------------


@pytest.mark.parametrize("code", [0, 200, "200", "0", 200.0])
def test_both_documented_success_codes_are_success(code: object) -> None:
    payload = {"code": code, "msg": "成功", "data": [{"logisticsBillNo": "B1"}]}
    (s,) = pandapon_api.parse_response(payload, "1", "1688", None)
    assert s.tracking_number == "B1"


def test_other_codes_fail_with_msg_and_request_id() -> None:
    with pytest.raises(CarrierError) as info:
        pandapon_api.parse_response(fixture("pandapon", "error_system.json"), "1", "1688", None)
    assert not isinstance(info.value, AuthError)
    assert "系统繁忙" in info.value.message
    assert "requestId 7e6d5c4b3a2f41e0d9c8b7a6f5e4d3c2" in info.value.message


def test_a_signature_rejection_is_an_auth_error_with_the_request_id() -> None:
    with pytest.raises(AuthError) as info:
        pandapon_api.parse_response(fixture("pandapon", "error_signature.json"), "1", "1688", None)
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
        pandapon_api.parse_response(
            {"requestId": "rid", "code": code, "msg": msg}, "1", "1688", None
        )
    assert type(info.value) is kind
    assert "requestId rid" in info.value.message


def test_a_stale_timestamp_hints_at_the_clock() -> None:
    err = pandapon_api.envelope_error("1004", "请求已过期 / timestamp expired", "rid")
    assert isinstance(err, AuthError)
    assert err.hint is not None
    assert "clock" in err.hint


@pytest.mark.parametrize("platform", ["1688", "taobao"])
def test_an_unknown_order_is_a_definite_not_found(platform: pandapon.Platform) -> None:
    (s,) = pandapon_api.parse_response(
        fixture("pandapon", "error_not_found.json"), "77", platform, None
    )
    assert (s.found, s.status, s.error, s.order_id) == (False, Status.NOT_FOUND, None, "77")
    assert s.failure is None


@pytest.mark.parametrize("payload", [None, [], "x", {"msg": "no code"}, 12])
def test_answers_without_an_envelope_are_protocol_errors(payload: object) -> None:
    with pytest.raises(ProtocolError):
        pandapon_api.parse_response(payload, "1", "1688", None)


@pytest.mark.parametrize(
    ("platform", "data"), [("1688", "text"), ("1688", 5), ("taobao", [1, 2]), ("taobao", "x")]
)
def test_data_of_the_wrong_shape_is_a_protocol_error(
    platform: pandapon.Platform, data: object
) -> None:
    with pytest.raises(ProtocolError):
        pandapon_api.parse_response({"code": 200, "data": data}, "1", platform, None)


@pytest.mark.parametrize(
    ("platform", "data"), [("1688", []), ("1688", None), ("taobao", None), ("taobao", {})]
)
def test_a_known_order_without_parcels_is_pending(
    platform: pandapon.Platform, data: object
) -> None:
    (s,) = pandapon_api.parse_response({"code": 200, "data": data}, "55", platform, None)
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
    assert set(pandapon_api.LOGISTICS_STATUS) == set(LOGISTICS_STATUSES)
    assert set(pandapon_api.LOGISTICS_WORDS) == set(LOGISTICS_STATUSES)


@pytest.mark.parametrize(("raw", "status"), sorted(LOGISTICS_STATUSES.items()))
def test_every_1688_logistics_status_maps(raw: str, status: Status) -> None:
    item = {"logisticsBillNo": "B1", "logisticsStatus": raw}
    (s,) = pandapon_api.parse_response({"code": 200, "data": [item]}, "1", "1688", None)
    assert s.status is status
    # The status line says what the code means, not the code.
    assert s.status_text == pandapon_api.LOGISTICS_WORDS[raw]
    assert s.status_text != raw
    (lower,) = pandapon_api.parse_response(
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
    (s,) = pandapon_api.parse_response({"code": 0, "data": data}, "2000", "taobao", SHANGHAI)
    assert s.status_text == "In transit"
    data["pnmLogisticsDetails"][0]["logisticsTraces"][0]["status"] = "DELIVERING"  # type: ignore[index]
    (s,) = pandapon_api.parse_response({"code": 0, "data": data}, "2000", "taobao", SHANGHAI)
    assert s.status_text == "Out for delivery"


@given(code=st.text(max_size=12))
def test_status_words_never_lose_a_code(code: str) -> None:
    words = pandapon_api.status_words(code)
    assert words == pandapon_api.LOGISTICS_WORDS.get(code.upper(), code)


def test_an_unknown_logistics_status_is_in_transit_with_its_text_kept() -> None:
    item = {"logisticsBillNo": "B1", "logisticsStatus": "HOLD_AT_PORT"}
    (s,) = pandapon_api.parse_response({"code": 200, "data": [item]}, "1", "1688", None)
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
    (s,) = pandapon_api.parse_response({"code": 200, "data": [item]}, "1", "1688", None)
    assert s.status is Status.OUT_FOR_DELIVERY
    signed = {**item, "logisticsStatus": "SIGN"}
    (d,) = pandapon_api.parse_response({"code": 200, "data": [signed]}, "1", "1688", None)
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
    assert pandapon_api.event_status(action, status, words) is expected


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
    by_id, by_order = pandapon_api.parse_response(
        {"code": 200, "data": items}, "9", "1688", SHANGHAI
    )
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
    (t,) = pandapon_api.parse_response({"code": 200, "data": taobao}, "8", "taobao", SHANGHAI)
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
    assert pandapon_api.platform_of(plain) == "1688"
    assert pandapon_api.platform_of(Query(SEED_ORDER, "pandapon", "1688")) == "1688"


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
        pandapon_api.parse_response({"code": code, "data": items}, "77", "1688", SHANGHAI), "77"
    )


@given(data=taobao_data)
def test_arbitrary_taobao_data_never_raises(data: object) -> None:
    _well_formed(
        pandapon_api.parse_response({"code": 200, "data": data}, "66", "taobao", SHANGHAI), "66"
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
        _well_formed(pandapon_api.parse_response(payload, "5", platform, None), "5")  # type: ignore[arg-type]
