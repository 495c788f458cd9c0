"""ILS adapter: the seed example, key variants, status rules, chunking, error envelopes."""

from __future__ import annotations

import contextlib
import json
import string
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import fixture, json_values
from waypost.carriers.ils import api as ils_api
from waypost.errors import AuthError, CarrierError, ProtocolError
from waypost.models import Status

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_seed_example_parses_to_the_documented_shipments() -> None:
    found, missing = ils_api.parse_response(
        fixture("ils", "seed_example.json"), ["3676E4043665", "3676E4038434"], SHANGHAI
    )
    assert found.found is True
    assert found.service == "Sea Freight"
    assert found.status_text == "Shipment loaded into container..."
    assert found.status is Status.IN_TRANSIT
    assert found.last_update == datetime(2025, 2, 14, 10, 10, 35, tzinfo=SHANGHAI)
    assert [e.description for e in found.events] == [
        "Shipment loaded into container...",
        "Cargo received at origin warehouse",
    ]
    assert found.events[0].images == ["https://example.com/ils/pod-1.jpg"]
    assert found.events[0].location == "Shenzhen Yantian Port"
    assert missing.found is False
    assert missing.status is Status.NOT_FOUND
    assert missing.status_text == "Order information not found"
    assert missing.error is None


def test_documented_lower_case_keys_parse_like_title_case() -> None:
    (s,) = ils_api.parse_response(
        fixture("ils", "documented_keys.json"), ["3676E4038521"], SHANGHAI
    )
    assert (s.service, s.origin, s.destination) == ("Rail Freight", "Yiwu", "Birmingham")
    assert s.status is Status.DELIVERED
    assert s.events[0].status is Status.DELIVERED
    assert s.events[1].status is Status.OUT_FOR_DELIVERY
    assert s.events[2].status is Status.INFO_RECEIVED
    assert s.events[0].images == []


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("Despatch Depot", "origin"),
        ("DESPATCH_DEPOT", "origin"),
        ("despatch-depot", "origin"),
        ("Delivery Depot", "destination"),
        ("SERVICE", "service"),
    ],
)
def test_title_case_and_similar_variants_of_keys(key: str, field: str) -> None:
    item = {"consignment": "X1234", "orderStatus": {key: "Value"}, "billTrackList": []}
    s = ils_api.parse_item(item, "X1234", None)
    assert getattr(s, field) == "Value"


@pytest.mark.parametrize(
    ("words", "status"),
    [
        ("Delivered", Status.DELIVERED),
        ("Parcel delivered to neighbour", Status.DELIVERED),
        ("Not delivered: address closed", Status.FAILED_ATTEMPT),
        ("Delivery attempt failed", Status.FAILED_ATTEMPT),
        ("Out for delivery", Status.OUT_FOR_DELIVERY),
        ("Held by customs: documents missing", Status.EXCEPTION),
        ("Returned to sender", Status.EXCEPTION),
        ("Customs export clearance completed", None),
        ("Ready for collection at depot", Status.AVAILABLE_FOR_PICKUP),
        ("Shipment information received", Status.INFO_RECEIVED),
        ("Vessel departed", None),
    ],
)
def test_status_rules(words: str, status: Status | None) -> None:
    assert ils_api.STATUS_RULES.match(words) is status


@pytest.mark.parametrize(
    "key",
    [
        "Port Of Delivery",
        "Port of Delivery",
        "port of delivery",
        "PORT OF DELIVERY",
        "portOfDelivery",
        "PortOfDelivery",
        "port_of_delivery",
        "portofdelivery",
    ],
)
def test_port_of_delivery_is_the_destination(key: str) -> None:
    item = {"orderStatus": {key: "Felixstowe", "Status": "Vessel departed"}, "billTrackList": []}
    assert ils_api.parse_item(item, "N1", None).destination == "Felixstowe"


def test_port_of_delivery_wins_over_the_latest_delivery_depot() -> None:
    fields = {"Port Of Delivery": "Hamburg", "deliverydepot": "Shanghai Yangshan"}
    item = {"orderStatus": {**fields, "Status": "Loaded"}, "billTrackList": []}
    assert ils_api.parse_item(item, "N1", None).destination == "Hamburg"
    del fields["Port Of Delivery"]
    item = {"orderStatus": {**fields, "Status": "Loaded"}, "billTrackList": []}
    assert ils_api.parse_item(item, "N1", None).destination == "Shanghai Yangshan"


def test_desc_cn_is_kept_as_the_local_description() -> None:
    node = {"desc": "Vessel departed", "descCn": "船已开航", "date": "2025-02-14 10:10:35"}
    event = ils_api.parse_event(node, SHANGHAI)
    assert event is not None
    assert (event.description, event.description_local) == ("Vessel departed", "船已开航")
    only_cn = ils_api.parse_event({"descCn": "已签收", "date": "2025-02-14 10:10:35"}, SHANGHAI)
    assert only_cn is not None
    assert (only_cn.description, only_cn.description_local) == ("已签收", None)
    same = ils_api.parse_event({"desc": "OK", "descCn": "OK"}, SHANGHAI)
    assert same is not None
    assert same.description_local is None


def test_found_without_status_words_defaults_to_in_transit_when_it_has_events() -> None:
    item = {
        "orderStatus": {"Status": "Vessel departed"},
        "billTrackList": [{"desc": "Vessel departed", "date": "2025-01-01 10:00:00"}],
    }
    assert ils_api.parse_item(item, "N1", None).status is Status.IN_TRANSIT


def test_naive_times_stay_naive_without_a_zone() -> None:
    item = {"orderStatus": {}, "billTrackList": [{"desc": "x", "date": "2025-01-01 10:00:00"}]}
    s = ils_api.parse_item(item, "N1", None)
    assert s.events[0].time == datetime(2025, 1, 1, 10, 0)
    assert s.events[0].time is not None
    assert s.events[0].time.tzinfo is None


def test_error_envelope_is_an_auth_error_when_it_talks_about_credentials() -> None:
    with pytest.raises(AuthError, match="credentials rejected"):
        ils_api.parse_response(fixture("ils", "auth_error.json"), ["A1234"], None)


@pytest.mark.parametrize("code", [401, 403, "403"])
def test_401_and_403_codes_are_auth_errors(code: object) -> None:
    with pytest.raises(AuthError):
        ils_api.parse_response({"code": code, "msg": "nope"}, ["A1234"], None)


def test_other_error_codes_are_carrier_errors_with_the_message() -> None:
    with pytest.raises(CarrierError, match="code 500: Internal error") as info:
        ils_api.parse_response({"code": 500, "msg": "Internal error"}, ["A1234"], None)
    assert not isinstance(info.value, AuthError)


@pytest.mark.parametrize("payload", [None, [], "x", {"msg": "no code"}, 12])
def test_answers_without_an_envelope_are_protocol_errors(payload: object) -> None:
    with pytest.raises(ProtocolError):
        ils_api.parse_response(payload, ["A1234"], None)


def test_a_number_missing_from_the_answer_is_a_failed_result_not_an_exception() -> None:
    (s,) = ils_api.parse_response({"code": 200, "body": []}, ["A1234"], None)
    assert s.error is not None
    assert "left out" in s.error
    assert s.failure is not None


def test_build_request_matches_the_documented_body() -> None:
    assert ils_api.build_request("1", "abc", ["A", "B"]) == {
        "userId": "1",
        "pdd": "abc",
        "method": "trackOrders",
        "trackingNos": ["A", "B"],
    }


def _case_variants(key: str) -> st.SearchStrategy[str]:
    return st.tuples(*[st.sampled_from([c.lower(), c.upper()]) for c in key]).map("".join)


order_keys = st.sampled_from(
    [
        "service",
        "Service",
        "status",
        "Status",
        "despatchdate",
        "Despatch Date",
        "lastscan",
        "Lastscan",
        "deliverydepot",
        "Delivery Depot",
        "despatchdepot",
        "Port Of Delivery",
        "portOfDelivery",
    ]
).flatmap(_case_variants)
ils_items = st.fixed_dictionaries(
    {},
    optional={
        "consignment": st.text(alphabet=string.ascii_uppercase + string.digits, max_size=14)
        | json_values,
        "orderStatus": st.none()
        | st.dictionaries(order_keys, json_values, max_size=6)
        | json_values,
        "msg": json_values,
        "billTrackList": st.none()
        | st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "deport": json_values,
                    "desc": json_values,
                    "descCn": json_values,
                    "date": json_values | st.just("2025-02-14 10:10:35"),
                    "img": json_values | st.lists(st.text(max_size=20) | st.none(), max_size=3),
                },
            )
            | json_values,
            max_size=5,
        )
        | json_values,
    },
)


@given(items=st.lists(ils_items | json_values, max_size=4), code=st.sampled_from([200, "200"]))
def test_parser_never_raises_on_arbitrary_items(items: list[object], code: object) -> None:
    shipments = ils_api.parse_response(
        {"code": code, "msg": "", "body": items}, ["A1234", "B5678"], SHANGHAI
    )
    assert [s.tracking_number for s in shipments] == ["A1234", "B5678"]
    for s in shipments:
        json.loads(s.model_dump_json())


@given(payload=json_values)
def test_parser_raises_only_carrier_errors(payload: object) -> None:
    with contextlib.suppress(CarrierError):
        ils_api.parse_response(payload, ["A1234"], None)
