"""TrackingMore adapter: the docs' examples, status tables, error codes, and the request
strategy (account read, realtime, batch create, watch paging, 429) asserted on the sandbox's
request log; waypost reaches the sandbox in-process on a virtual clock (tests/inproc.py), so the
spacing asserted is the limiters' own while no test waits for it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import fixture, json_values
from tests.inproc import VirtualClock
from waypost.carriers import trackingmore as tm
from waypost.carriers._parse import epoch
from waypost.carriers.base import Answer, MemoryCache, Query, TrackOptions
from waypost.carriers.trackingmore import shared as tm_shared
from waypost.carriers.trackingmore import v2 as tm_v2
from waypost.carriers.trackingmore import v2_api as tm_api
from waypost.errors import AuthError, CarrierError, ProtocolError, QuotaExceeded, RateLimited
from waypost.http import Session
from waypost.models import Status
from waypost.sandbox import Sandbox
from waypost.sandbox.server import LogEntry
from waypost.sandbox.trackingmore import API_KEY, App, synthetic_number


@pytest.fixture(autouse=True)
def _api_v2(request: pytest.FixtureRequest) -> None:
    """These are the v2 adapter's tests: with the sandbox, waypost is set to ``api = "v2"``."""
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("tm_v2")


GET_PATH = "/v2/trackings/get"
REALTIME_PATH = "/v2/trackings/realtime"
BATCH_PATH = "/v2/trackings/batch"
DETECT_PATH = "/v2/carriers/detect"
SHANGHAI = ZoneInfo("Asia/Shanghai")


# -- the docs' examples and the tables ------------------------------------------------------


def test_realtime_example_of_the_docs_parses_to_the_expected_shipment() -> None:
    code, _, data = tm_api.read_envelope(fixture("trackingmore", "realtime_seed.json"))
    assert code == 200
    (item,) = tm_api.items_of(data)
    s = tm_api.parse_item(item, "LS912989618CN")
    assert (s.found, s.status, s.courier) == (True, Status.IN_TRANSIT, "china-ems")
    assert (s.origin, s.destination) == ("China", "United States")
    assert s.last_update == datetime(2018, 4, 17, 22, 30)
    # lastEvent glues the place to the words: the header shows the words alone.
    assert s.status_text == "Arrived at USPS Regional Destination Facility"
    assert s.transit_days == 11
    assert s.service is None
    assert len(s.events) == 10  # 3 origin + 7 destination checkpoints, none repeated
    assert [e.description for e in s.events[:2]] == [
        "Arrived at USPS Regional Destination Facility",
        "In Transit to Next Facility",
    ]
    chinese = [e for e in s.events if e.description == "离开郑州市 发往旧金山"]
    assert chinese[0].location == "郑州市"
    # The origin leg is China's (one zone), the destination leg the United States' (several).
    assert chinese[0].time == datetime(2018, 4, 7, 21, 18, 37, tzinfo=SHANGHAI)
    times = [epoch(e.time) for e in s.events if e.time is not None]
    assert times == sorted(times, reverse=True)
    assert all(e.status is Status.IN_TRANSIT for e in s.events)
    usps = [e for e in s.events if e.description and e.description.isascii()]
    assert len(usps) == 7
    # USPS's scans in the US stay naive; the two it reports from China ("CHINA") are China time.
    in_china = [e for e in usps if e.location and e.location.endswith("CHINA")]
    assert [e.location for e in in_china] == ["ZHENGZHOU EMS,CHINA", "CHINA"]
    assert all(e.time is not None and e.time.tzinfo == SHANGHAI for e in in_china)
    assert all(e.time is not None and e.time.tzinfo is None for e in usps if e not in in_china)
    # EMS's scan "arrived ... from China" happened in the US (美国): naive too.
    (arrived,) = [e for e in s.events if e.location == "美国"]
    assert arrived.time is not None
    assert arrived.time.tzinfo is None


def test_list_example_of_the_docs_parses_to_the_expected_shipments() -> None:
    code, _, data = tm_api.read_envelope(fixture("trackingmore", "list_seed.json"))
    assert code == 200
    assert data["total"] == "56"
    delivered, transit = (
        tm_api.parse_item(i, tm_api.item_number(i) or "") for i in tm_api.items_of(data)
    )
    assert delivered.tracking_number == "RR050349575PH"
    assert (delivered.status, delivered.courier) == (Status.DELIVERED, "phlpost")
    assert delivered.status_text == "Delivered"
    assert [e.description for e in delivered.events] == [
        "Delivered",
        "Arrived at Unit",
        "Receive at country of destination",
        "Prepare dispatch to destination country",
    ]
    # These checkpoints carry no checkpoint_status: each has its own words' status, never the
    # shipment's ("Delivered" says delivered, the rest are in transit).
    assert [e.status for e in delivered.events] == [Status.DELIVERED] + [Status.IN_TRANSIT] * 3
    assert (transit.status, transit.courier) == (Status.IN_TRANSIT, "lietuvos-pastas")
    assert (transit.origin, transit.destination) == ("Lithuania", "Korea, South")
    # The same step on both legs is one event; the destination leg's details win.
    (event,) = transit.events
    assert event.location == "HKHKGA,Dispatch number : KRSELB"
    assert transit.last_update == datetime(2015, 10, 29, 17, 26, tzinfo=ZoneInfo("Asia/Seoul"))


@pytest.mark.parametrize(
    ("raw", "status", "found"),
    [
        ("pending", Status.PENDING, True),
        ("notfound", Status.NOT_FOUND, False),
        ("transit", Status.IN_TRANSIT, True),
        ("pickup", Status.OUT_FOR_DELIVERY, True),
        ("delivered", Status.DELIVERED, True),
        ("undelivered", Status.FAILED_ATTEMPT, True),
        ("exception", Status.EXCEPTION, True),
        ("expired", Status.EXPIRED, True),
    ],
)
def test_every_documented_status_maps(raw: str, status: Status, found: bool) -> None:
    s = tm_api.parse_item({"status": raw, "carrier_code": "usps"}, "N1")
    assert (s.status, s.found, s.error) == (status, found, None)


@pytest.mark.parametrize(
    ("raw", "substatus", "status", "words"),
    [
        ("notfound", "notfound001", Status.INFO_RECEIVED, "Info received"),
        ("notfound", "notfound002", Status.NOT_FOUND, "No tracking information"),
        ("transit", "transit003", Status.IN_TRANSIT, "delivery facility"),
        ("delivered", "delivered002", Status.DELIVERED, "Collected"),
        ("exception", "exception009", Status.EXCEPTION, "Refused"),
        ("exception", "exception010", Status.EXCEPTION, "Returned to the sender"),
        ("exception", "exception011", Status.EXCEPTION, "Being returned"),
        ("exception", "EXCEPTION006", Status.EXCEPTION, "customs"),
    ],
)
def test_substatus_refines_status_and_gives_words(
    raw: str, substatus: str, status: Status, words: str
) -> None:
    s = tm_api.parse_item({"status": raw, "substatus": substatus, "lastEvent": ""}, "N1")
    assert s.status is status
    assert s.status_text is not None
    assert words in s.status_text
    assert s.found is (status is not Status.NOT_FOUND)


def test_a_freshly_created_tracking_is_pending_without_events() -> None:
    created, errors = tm_api.parse_batch(
        tm_api.read_envelope(fixture("trackingmore", "batch_created.json"))[2]
    )
    assert len(created) == 3
    assert errors == {"RM121546267CN": (4016, "Tracking already exists.")}
    s = tm_api.parse_item(created["RM121546236CN"], "RM121546236CN")
    assert (s.status, s.found, s.events, s.courier) == (Status.PENDING, True, [], "china-post")


@pytest.mark.parametrize(
    ("name", "kind", "words"),
    [
        ("invalid_key.json", AuthError, "API key rejected"),
        ("quota.json", QuotaExceeded, "recharge"),
        ("rate_limited.json", RateLimited, "429"),
        ("detect_none.json", CarrierError, "cannot be detected"),
        ("already_exists.json", CarrierError, "4016"),
        ("batch_too_many.json", CarrierError, "202"),
    ],
)
def test_error_envelopes_become_the_right_errors(name: str, kind: type, words: str) -> None:
    code, message, _ = tm_api.read_envelope(fixture("trackingmore", name))
    err = tm_api.envelope_error(code, message)
    assert type(err) is kind
    assert words in err.message


@pytest.mark.parametrize("code", [401, 403, 4001, 4002])
def test_credential_codes_are_auth_errors(code: int) -> None:
    assert isinstance(tm_api.envelope_error(code, "x"), AuthError)


@pytest.mark.parametrize("code", [500, 503])
def test_server_codes_say_try_again_later(code: int) -> None:
    assert "try again later" in tm_api.envelope_error(code, "").message


def test_detect_and_courier_list_shapes() -> None:
    assert tm_api.parse_detect(tm_api.read_envelope(fixture("trackingmore", "detect.json"))[2]) == [
        {"name": "China post", "code": "china-post"}
    ]
    rows = tm_api.parse_couriers([{"name": "DHL", "code": "dhl", "type": "express"}, {"name": "x"}])
    assert rows == [
        {
            "name": "DHL",
            "code": "dhl",
            "phone": None,
            "homepage": None,
            "type": "express",
            "picture": None,
        }
    ]


# Published substatus codes (TrackingMore docs/logistics_status and its support article).
PUBLISHED_SUBSTATUS = (
    ["notfound001", "notfound002", "inforeceived001"]
    + [f"transit00{i}" for i in range(1, 8)]
    + [f"pickup00{i}" for i in range(1, 4)]
    + [f"delivered00{i}" for i in range(1, 5)]
    + [f"undelivered00{i}" for i in range(1, 5)]
    + [f"exception0{i:02d}" for i in range(1, 12)]
)


def test_the_substatus_table_has_every_published_code_in_its_family() -> None:
    assert set(PUBLISHED_SUBSTATUS) <= set(tm_shared.SUBSTATUS)
    family = {
        "transit": {Status.IN_TRANSIT},
        "pickup": {Status.OUT_FOR_DELIVERY, Status.AVAILABLE_FOR_PICKUP},
        "delivered": {Status.DELIVERED},
        "undelivered": {Status.FAILED_ATTEMPT},
        "exception": {Status.EXCEPTION},
        "inforeceived": {Status.INFO_RECEIVED},
        "notfound": {Status.INFO_RECEIVED, Status.NOT_FOUND},
    }
    for code, (status, words) in tm_shared.SUBSTATUS.items():
        assert status in family[code.rstrip("0123456789")], code
        assert words


def test_undelivered_substatuses_say_why() -> None:
    words = {
        c: tm_shared.SUBSTATUS[c][1].lower()
        for c in tm_shared.SUBSTATUS
        if c.startswith("undelivered")
    }
    assert "address" in words["undelivered001"]
    assert "not at home" in words["undelivered002"]
    assert "could not be found" in words["undelivered003"]
    assert "another reason" in words["undelivered004"]


@pytest.mark.parametrize(
    ("substatus", "last_event", "status"),
    [
        ("pickup001", "Out for delivery", Status.OUT_FOR_DELIVERY),
        ("pickup002", "", Status.AVAILABLE_FOR_PICKUP),
        ("PICKUP002", "Out for delivery", Status.AVAILABLE_FOR_PICKUP),  # the substatus wins
        ("pickup003", "", Status.OUT_FOR_DELIVERY),
        (None, "您的快件已入柜，请凭取件码取件", Status.AVAILABLE_FOR_PICKUP),
        (None, "快件已到达菜鸟驿站", Status.AVAILABLE_FOR_PICKUP),
        (None, "已入库，请及时领取", Status.AVAILABLE_FOR_PICKUP),
        (None, "Your item is ready for collection at the post office", Status.AVAILABLE_FOR_PICKUP),
        (None, "Available for Pickup,SHREVEPORT,71118", Status.AVAILABLE_FOR_PICKUP),
        (None, "Out for Delivery, Expected Delivery by 9:00pm", Status.OUT_FOR_DELIVERY),
        (None, "", Status.OUT_FOR_DELIVERY),
    ],
)
def test_pickup_is_out_for_delivery_or_ready_for_collection(
    substatus: str | None, last_event: str, status: Status
) -> None:
    s = tm_api.parse_item(
        {"status": "pickup", "substatus": substatus, "lastEvent": last_event}, "N1"
    )
    assert s.status is status


def test_pickup_without_a_summary_reads_the_newest_checkpoint() -> None:
    item = {
        "status": "pickup",
        "destination_info": {
            "trackinfo": [
                {"Date": "2024-05-03 09:15", "StatusDescription": "【杭州】已放入快递柜"},
                {"Date": "2024-05-02 09:15", "StatusDescription": "派送中"},
            ]
        },
    }
    assert tm_api.parse_item(item, "N1").status is Status.AVAILABLE_FOR_PICKUP


def test_a_checkpoint_status_and_substatus_are_read_per_checkpoint() -> None:
    item = {
        "status": "pickup",
        "substatus": "pickup002",
        "origin_info": {
            "trackinfo": [
                {
                    "Date": "2024-05-03 09:15",
                    "StatusDescription": "Ready for collection at Aramex Dubai",
                    "checkpoint_status": "pickup",
                    "substatus": "pickup002",
                },
                {
                    "Date": "2024-05-02 20:00",
                    "StatusDescription": "Arrived in destination country",
                    "checkpoint_status": "transit",
                    "substatus": "transit004",
                },
                {
                    "Date": "2024-05-02 08:00",
                    "StatusDescription": "With the courier",
                    "checkpoint_status": "pickup",
                    "substatus": "pickup001",
                },
                {
                    "Date": "2024-04-29 08:00",
                    "StatusDescription": "Returned",
                    "substatus": "exception010",
                },
            ]
        },
    }
    s = tm_api.parse_item(item, "N1")
    assert [e.status for e in s.events] == [
        Status.AVAILABLE_FOR_PICKUP,
        Status.IN_TRANSIT,
        Status.OUT_FOR_DELIVERY,
        Status.EXCEPTION,
    ]


def test_an_expired_shipment_does_not_make_its_newest_event_expired() -> None:
    # China Post, 2017: checkpoints without checkpoint_status, the tracking long expired.
    item = {
        "status": "expired",
        "original_country": "China",
        "origin_info": {
            "trackinfo": [
                {"Date": "2017-03-10 10:00", "StatusDescription": "离开上海 发往美国"},
                {"Date": "2017-03-08 09:00", "StatusDescription": "收寄"},
            ]
        },
    }
    s = tm_api.parse_item(item, "RM121546236CN")
    assert s.status is Status.EXPIRED
    assert [e.status for e in s.events] == [Status.IN_TRANSIT, Status.IN_TRANSIT]


def test_the_status_line_has_no_place_glued_to_it() -> None:
    item = {
        "status": "delivered",
        "destination_info": {
            "trackinfo": [
                {
                    "Date": "2019-06-03 14:41",
                    "StatusDescription": "Delivered, In/At Mailbox",
                    "Details": "SHREVEPORT,71118",
                    "checkpoint_status": "delivered",
                }
            ]
        },
        "lastEvent": "Delivered, In/At Mailbox,SHREVEPORT,71118,2019-06-03 14:41",
        "lastUpdateTime": "2019-06-03 14:41",
    }
    s = tm_api.parse_item(item, "9400111899223197428490")
    assert s.status_text == "Delivered, In/At Mailbox"
    assert s.events[0].location == "SHREVEPORT,71118"


def test_location_fields_win_over_details() -> None:
    point = {
        "Date": "2024-05-03 09:15",
        "StatusDescription": "Arrived",
        "Details": "Dispatch number : KRSELB",
        "checkpoint_location": "Dubai, AE",
    }
    event = tm_api.parse_event(point, None)
    assert event is not None
    assert event.location == "Dubai, AE"
    event = tm_api.parse_event({**point, "location": "Shenzhen"}, None)
    assert event is not None
    assert event.location == "Shenzhen"


def test_a_status_line_that_does_not_start_with_the_newest_event_loses_only_the_place() -> None:
    item = {
        "status": "transit",
        "destination_info": {
            "trackinfo": [
                {"Date": "2019-06-03 14:41", "StatusDescription": "x", "Details": "PARIS"}
            ]
        },
        "lastEvent": "Arrivee sur le site,PARIS,2019-06-03 14:41",
        "lastUpdateTime": "2019-06-03 14:41",
    }
    assert tm_api.parse_item(item, "N1").status_text == "Arrivee sur le site"


@pytest.mark.parametrize(
    ("country", "zone"),
    [
        ("China", "Asia/Shanghai"),
        ("CN", "Asia/Shanghai"),
        ("cn", "Asia/Shanghai"),
        ("Hong Kong", "Asia/Hong_Kong"),
        ("Korea, South", "Asia/Seoul"),
        ("United Kingdom", "Europe/London"),
        ("  germany ", "Europe/Berlin"),
        ("France", "Europe/Paris"),
        ("Japan", "Asia/Tokyo"),
        ("Singapore", "Asia/Singapore"),
        ("Italy", "Europe/Rome"),
        ("Spain", "Europe/Madrid"),
        ("Netherlands", "Europe/Amsterdam"),
        ("United States", None),
        ("US", None),
        ("Russia", None),
        ("Canada", None),
        ("Australia", None),
        ("Brazil", None),
        ("Atlantis", None),
        (None, None),
    ],
)
def test_a_country_has_a_zone_only_when_it_has_one_zone(
    country: str | None, zone: str | None
) -> None:
    assert tm_shared.country_zone(country) == (ZoneInfo(zone) if zone else None)


@pytest.mark.parametrize(
    ("place", "country"),
    [
        ("ZHENGZHOU EMS,CHINA", "CN"),
        ("CHINA", "CN"),
        ("美国", "US"),
        ("United States of America (the)", "US"),
        ("SINGAPORE,SINGAPORE S06", "SG"),
        ("CO", None),  # a bare code is the item's destination, not the place
        ("SHREVEPORT,71118", None),
        ("郑州市", None),
        (None, None),
    ],
)
def test_a_place_that_writes_out_its_country_names_it(
    place: str | None, country: str | None
) -> None:
    assert tm_shared.place_country(place) == country


@pytest.mark.parametrize(
    ("country", "courier", "expected"),
    [
        ("China", "china-post", "CN"),
        ("Hong Kong [CN]", "hong-kong-post", "HK"),
        ("", "bestex", "CN"),
        (None, "bluedart", "IN"),
        ("China", "cainiao", None),  # one leg holds every country's scans
        ("", "some-new-courier", None),
    ],
)
def test_a_legs_country_comes_from_its_field_else_its_courier(
    country: str | None, courier: str, expected: str | None
) -> None:
    assert tm_shared.leg_country(country, courier) == expected


@pytest.mark.parametrize(
    ("words", "status"),
    [
        ("ENTREGADO", Status.DELIVERED),
        ("Delivered", Status.DELIVERED),
        ("Not delivered, addressee absent", Status.FAILED_ATTEMPT),
        ("Returned to sender", Status.EXCEPTION),
        ("电子信息已收到", Status.INFO_RECEIVED),
        ("快件已到达菜鸟驿站", Status.AVAILABLE_FOR_PICKUP),
        ("【吉林市】正在派件", Status.OUT_FOR_DELIVERY),
        ("【苏州】已收寄", None),
        ("DIGITALIZADO", None),
    ],
)
def test_a_checkpoint_without_a_status_field_is_read_by_its_words(
    words: str, status: Status | None
) -> None:
    assert tm_shared.EVENT_WORDS.match(words) is status
    event = tm_api.parse_event({"Date": "2015-10-22 20:52", "StatusDescription": words}, None)
    assert event is not None
    assert event.status is (status or Status.IN_TRANSIT)


def test_each_leg_gets_its_countrys_zone_and_converts() -> None:
    item = {
        "status": "transit",
        "original_country": "China",
        "destination_country": "United Kingdom",
        "origin_info": {"trackinfo": [{"Date": "2024-01-10 08:00", "StatusDescription": "收寄"}]},
        "destination_info": {
            "trackinfo": [{"Date": "2024-01-15 09:30", "StatusDescription": "Arrived at hub"}]
        },
        "lastUpdateTime": "2024-01-15 09:30",
    }
    s = tm_api.parse_item(item, "N1")
    gb, cn = s.events
    assert cn.time == datetime(2024, 1, 10, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert gb.time == datetime(2024, 1, 15, 9, 30, tzinfo=ZoneInfo("Europe/London"))
    assert s.last_update == gb.time
    # --tz can convert them now
    assert cn.time.astimezone(ZoneInfo("UTC")).hour == 0


def test_the_timezone_setting_holds_for_both_legs() -> None:
    item = {
        "original_country": "China",
        "destination_country": "United States",
        "origin_info": {"trackinfo": [{"Date": "2024-01-10 08:00", "StatusDescription": "a"}]},
        "destination_info": {"trackinfo": [{"Date": "2024-01-15 09:30", "StatusDescription": "b"}]},
    }
    tz = ZoneInfo("America/Chicago")
    s = tm_api.parse_item(item, "N1", tz)
    assert {e.time.tzinfo for e in s.events if e.time} == {tz}


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        (202, CarrierError, "more than one call may"),
        (4020, CarrierError, "more than one call may"),
        (4033, CarrierError, "status filter"),
        (404, ProtocolError, "no such resource"),
        (405, ProtocolError, "method not allowed"),
        (409, CarrierError, "conflicts"),
    ],
)
def test_documented_meta_codes_have_their_own_meaning(code: int, kind: type, words: str) -> None:
    err = tm_api.envelope_error(code, "x")
    assert type(err) is kind
    assert words in err.message
    assert f"code {code}" in err.message
    assert not err.message.startswith(f"{tm.NAME}: error code")  # not the generic fallback


def test_wrong_path_codes_point_at_the_base_url() -> None:
    assert "base_url" in (tm_api.envelope_error(404, "Not Found").hint or "")


checkpoints = st.fixed_dictionaries(
    {},
    optional={
        "Date": json_values | st.sampled_from(["2018-04-17 22:30", "2018-04-07 21:18:37", ""]),
        "StatusDescription": json_values,
        "Details": json_values,
        "checkpoint_status": json_values | st.sampled_from(list(tm_shared.STATUS)),
        "substatus": json_values | st.sampled_from(list(tm_shared.SUBSTATUS)),
        "location": json_values,
        "checkpoint_location": json_values,
    },
)
countries = json_values | st.sampled_from(
    ["China", "CN", "United States", "US", "Korea, South", "Russia", "gb", "Hong Kong"]
)
legs = st.fixed_dictionaries(
    {}, optional={"trackinfo": st.lists(checkpoints | json_values, max_size=4) | json_values}
)
items = st.fixed_dictionaries(
    {},
    optional={
        "tracking_number": json_values,
        "carrier_code": json_values,
        "status": json_values | st.sampled_from(list(tm_shared.STATUS)),
        "substatus": json_values | st.sampled_from(list(tm_shared.SUBSTATUS)),
        "original_country": countries,
        "destination_country": countries,
        "itemTimeLength": json_values,
        "service_code": json_values,
        "order_id": json_values,
        "origin_info": legs | json_values,
        "destination_info": legs | json_values,
        "lastEvent": json_values,
        "lastUpdateTime": json_values | st.just("2018-04-17 22:30"),
        "total": json_values,
    },
)


@given(item=items | json_values)
def test_parser_never_raises_on_arbitrary_items(item: object) -> None:
    s = tm_api.parse_item(item, "N1")
    assert s.tracking_number == "N1"
    assert s.status is not Status.UNKNOWN  # never a carrier's status
    json.loads(s.model_dump_json())


plain_checkpoints = st.fixed_dictionaries(
    {
        "Date": st.sampled_from(["2018-04-17 22:30", "2018-04-07 21:18:37"]),
        "StatusDescription": st.text(min_size=1, max_size=20).filter(str.strip),
    }
)


@given(
    status=st.sampled_from(list(tm_shared.STATUS)),
    substatus=st.sampled_from([None, *tm_shared.SUBSTATUS]),
    points=st.lists(plain_checkpoints, min_size=1, max_size=4),
)
def test_a_checkpoint_without_its_own_status_is_never_given_the_shipments(
    status: str, substatus: str | None, points: list[dict[str, str]]
) -> None:
    item = {"status": status, "substatus": substatus, "origin_info": {"trackinfo": points}}
    s = tm_api.parse_item(item, "N1")
    alone = tm_api.parse_item({"origin_info": {"trackinfo": points}}, "N1")
    assert [e.status for e in s.events] == [e.status for e in alone.events]
    assert all(
        e.status is (tm_shared.EVENT_WORDS.match(e.description) or Status.IN_TRANSIT)
        for e in s.events
    )


@given(payload=json_values | st.fixed_dictionaries({"meta": json_values, "data": json_values}))
def test_envelope_and_list_readers_never_raise(payload: object) -> None:
    code, message, data = tm_api.read_envelope(payload)
    assert code is None or isinstance(code, int)
    tm_api.items_of(data)
    tm_api.parse_batch(data)
    tm_api.parse_detect(data)
    tm_api.parse_couriers(data)
    tm_api.envelope_error(code, message)


# -- against the sandbox --------------------------------------------------------------------


def _app(sandbox: Sandbox) -> App:
    app = sandbox.apps["trackingmore"]
    assert isinstance(app, App)
    return app


def _settings(sandbox: Sandbox, **over: Any) -> dict[str, Any]:
    env = sandbox.env()
    return {
        "api_key": env["WAYPOST_TRACKINGMORE_API_KEY"],
        "base_url": env["WAYPOST_TRACKINGMORE_BASE_URL"].removesuffix("/v4") + "/v2",
        "api": "v2",
        "get_rate": 1.0,
        "realtime_rate": 3.0,
        "default_rate": 1.0,
        "realtime_max": 20,
        **over,
    }


def _track(
    sandbox: Sandbox,
    queries: Sequence[Query],
    options: TrackOptions | None = None,
    cache: MemoryCache | None = None,
    **over: Any,
) -> list[Answer]:
    async def go() -> list[Answer]:
        async with Session() as session:
            adapter = tm_v2.Adapter(_settings(sandbox, **over), session, cache)
            return await adapter.track(queries, options or TrackOptions())

    return asyncio.run(go())


def _on(sandbox: Sandbox, path: str) -> list[LogEntry]:
    return [e for e in sandbox.entries("trackingmore") if e.path == path]


def _gaps(entries: list[LogEntry], step: int = 1) -> list[float]:
    return [b.t - a.t for a, b in zip(entries, entries[step:], strict=False)]


def _q(number: str, courier: str | None = None) -> Query:
    return Query(number, "trackingmore", courier)


def test_200_numbers_in_the_account_are_read_in_5_list_calls_spaced_1_s(
    sandbox: Sandbox,
) -> None:
    numbers = [synthetic_number(i) for i in range(200)]
    _app(sandbox).preload(numbers)
    answers = _track(sandbox, [_q(n) for n in numbers])
    gets = _on(sandbox, GET_PATH)
    assert [e.numbers for e in gets] == [40] * 5
    assert min(_gaps(gets)) >= 1.0
    assert sandbox.rejected() == 0
    assert [e.path for e in sandbox.entries("trackingmore")] == [GET_PATH] * 5
    assert [a.query.number for a in answers] == numbers
    assert all(a.found and a.shipments[0].status is not Status.PENDING for a in answers)


def test_numbers_not_in_the_account_go_through_realtime_at_its_limit(sandbox: Sandbox) -> None:
    numbers = [synthetic_number(i, "RT") for i in range(7)]
    answers = _track(sandbox, [_q(n, "sandbox-post") for n in numbers])
    log = sandbox.entries("trackingmore")
    assert log[0].path == GET_PATH
    assert log[0].numbers == 7
    realtime = _on(sandbox, REALTIME_PATH)
    assert len(realtime) == 7
    assert len(log) == 8
    assert min(_gaps(realtime, 3)) >= 1.0  # never 4 in one second
    assert sandbox.rejected() == 0
    assert all(a.found and a.shipments[0].courier == "sandbox-post" for a in answers)


def test_half_in_the_account_costs_2_list_calls_and_realtime_for_the_rest(
    sandbox: Sandbox,
) -> None:
    app = _app(sandbox)
    app.get_rate, app.realtime_rate = 20.0, 30.0
    held = [synthetic_number(i, "HA") for i in range(30)]
    fresh = [synthetic_number(i, "HB") for i in range(30)]
    app.preload(held)
    queries = [_q(n, "sandbox-post") for pair in zip(held, fresh, strict=True) for n in pair]
    answers = _track(sandbox, queries, get_rate=20.0, realtime_rate=30.0, realtime_max=40)
    assert sorted(e.numbers for e in _on(sandbox, GET_PATH)) == [20, 40]
    assert len(_on(sandbox, REALTIME_PATH)) == 30
    assert sandbox.rejected() == 0
    assert all(a.found for a in answers)


def test_above_realtime_max_numbers_are_created_in_batches_and_answered_pending(
    sandbox: Sandbox,
) -> None:
    numbers = [synthetic_number(i, "BX") for i in range(5)]
    answers = _track(sandbox, [_q(n, "sandbox-post") for n in numbers], realtime_max=2)
    assert [e.path for e in sandbox.entries("trackingmore")] == [GET_PATH, BATCH_PATH]
    assert _on(sandbox, BATCH_PATH)[0].numbers == 5
    assert all(a.shipments[0].status is Status.PENDING for a in answers)
    assert all(a.found and a.failure is None for a in answers)


def test_save_creates_the_tracking_which_reads_back_pending_until_fetched(
    sandbox: Sandbox,
) -> None:
    number = synthetic_number(7, "SV")
    cache = MemoryCache()
    first = _track(sandbox, [_q(number, "sandbox-post")], TrackOptions(save=True), cache)
    assert first[0].shipments[0].events  # realtime gave real events
    assert [e.path for e in sandbox.entries("trackingmore")] == [
        GET_PATH,
        REALTIME_PATH,
        BATCH_PATH,
    ]
    assert cache.get(tm.NS_ACCOUNT, number) == "sandbox-post"
    (again,) = _track(sandbox, [_q(number)], cache=cache)
    assert (again.shipments[0].status, again.shipments[0].events) == (Status.PENDING, [])
    assert again.found
    _app(sandbox).fetch([number])
    (fetched,) = _track(sandbox, [_q(number)], cache=cache)
    assert fetched.shipments[0].status is first[0].shipments[0].status
    assert fetched.shipments[0].events
    gets = _on(sandbox, GET_PATH)
    assert len(gets) == 3
    assert min(_gaps(gets)) >= 1.0  # separate runs keep the spacing through the cache
    assert sandbox.rejected() == 0


def test_a_realtime_answer_is_reused_for_2_hours_unless_refresh(sandbox: Sandbox) -> None:
    number = synthetic_number(3, "RU")
    cache = MemoryCache()
    for options in (TrackOptions(), TrackOptions(), TrackOptions(refresh=True)):
        (answer,) = _track(sandbox, [_q(number, "sandbox-post")], options, cache)
        assert answer.found
    assert len(_on(sandbox, REALTIME_PATH)) == 2
    assert sandbox.rejected() == 0


def test_the_courier_is_detected_once_and_the_answer_cached(sandbox: Sandbox) -> None:
    number = synthetic_number(11, "DT")  # country ZZ: no post known locally
    cache = MemoryCache()
    for _ in range(2):
        (answer,) = _track(sandbox, [_q(number)], TrackOptions(refresh=True), cache)
        assert answer.shipments[0].courier == "sandbox-post"
    assert len(_on(sandbox, DETECT_PATH)) == 1
    assert cache.get(tm.NS_DETECT, number) == [{"name": "Sandbox Post", "code": "sandbox-post"}]


def test_a_sure_pattern_names_the_courier_without_a_detect_call(sandbox: Sandbox) -> None:
    (answer,) = _track(sandbox, [_q("LS912989618CN")])  # S10, CN: china-post; auto-corrected
    assert answer.shipments[0].courier == "china-ems"
    assert len(answer.shipments[0].events) == 10
    assert _on(sandbox, DETECT_PATH) == []


def test_an_undetectable_number_fails_asking_for_the_courier(sandbox: Sandbox) -> None:
    (answer,) = _track(sandbox, [_q("ABCD-1234")])
    assert isinstance(answer.failure, CarrierError)
    assert answer.failure.hint is not None
    assert "trackingmore:COURIER:NUMBER" in answer.failure.hint
    assert _on(sandbox, REALTIME_PATH) == []


def test_watch_refresh_of_2000_parcels_is_one_paged_call(sandbox: Sandbox) -> None:
    numbers = [synthetic_number(i, "WA") for i in range(2000)]
    _app(sandbox).preload(numbers)
    cache = MemoryCache()
    for n in numbers:
        cache.put(tm.NS_ACCOUNT, n, "sandbox-post")
    since = time.time() - 3600
    options = TrackOptions(watch=True, since=since)
    answers = _track(sandbox, [_q(n) for n in numbers], options, cache)
    (call,) = sandbox.entries("trackingmore")
    assert call.path == GET_PATH
    assert call.params["limit"] == "2000"
    assert call.params["update_time_min"] == str(int(since - 600))
    assert len(answers) == 2000
    assert all(a.found and not a.unchanged for a in answers)
    # The cursor moves only once the pass's news is delivered (watch runs the deferred step).
    assert cache.get(tm.NS_WATCH, "cursor") is None
    for _carrier, action in options.deferred:
        action()
    assert cache.get(tm.NS_WATCH, "cursor") is not None


def test_watch_answers_unchanged_for_numbers_on_no_page(sandbox: Sandbox) -> None:
    app = _app(sandbox)
    numbers = [synthetic_number(i, "UC") for i in range(3)]
    app.preload(numbers)
    for tracking in app.account.values():
        tracking.updated = time.time() - 7200
    assert app.add_event(numbers[1], "Arrived at the sorting center", "Sandbox Hub")
    cache = MemoryCache()
    for n in numbers:
        cache.put(tm.NS_ACCOUNT, n, "sandbox-post")
    options = TrackOptions(watch=True, since=time.time() - 3600)
    answers = _track(sandbox, [_q(n) for n in numbers], options, cache)
    assert [a.unchanged for a in answers] == [True, False, True]
    assert answers[0].shipments == []
    assert answers[1].shipments[0].events[0].description == "Arrived at the sorting center"
    assert len(sandbox.entries("trackingmore")) == 1


def test_first_watch_pages_the_account_and_creates_new_numbers_pending(
    sandbox: Sandbox,
) -> None:
    number = synthetic_number(5, "NW")
    cache = MemoryCache()
    options = TrackOptions(watch=True)
    answers = _track(sandbox, [_q("RR050349575PH"), _q(number, "sandbox-post")], options, cache)
    first, created = sandbox.entries("trackingmore")
    assert (first.path, first.params.get("update_time_min")) == (GET_PATH, None)
    assert (created.path, created.numbers) == (BATCH_PATH, 1)
    assert answers[0].shipments[0].status is Status.DELIVERED
    assert answers[1].shipments[0].status is Status.PENDING
    assert cache.get(tm.NS_ACCOUNT, number) == "sandbox-post"


def test_a_rate_limit_answer_fails_fast_with_a_clear_message(sandbox: Sandbox) -> None:
    fault = {"code": 429, "times": 1, "path": "/trackings/realtime"}
    httpx.post(f"{sandbox.base_url}/_sandbox/trackingmore/fail", json=fault)
    numbers = [synthetic_number(i, "RL") for i in range(5)]
    # At 1/s the next request waits for 1 s after this answer: it is surely still queued.
    answers = _track(sandbox, [_q(n, "sandbox-post") for n in numbers], realtime_rate=1.0)
    assert len(_on(sandbox, REALTIME_PATH)) == 1  # the queued ones were not sent
    for answer in answers:
        assert isinstance(answer.failure, RateLimited)
        assert "paused the account for 2 minutes" in answer.failure.message
        assert "--wait" in answer.failure.message
        assert answer.failure.retry_after is not None
        assert answer.failure.retry_after > 100


def test_a_pause_is_remembered_by_the_next_run(sandbox: Sandbox) -> None:
    sandbox.penalize("trackingmore", 120)
    cache = MemoryCache()
    (first,) = _track(sandbox, [_q("RR050349575PH")], cache=cache)
    (second,) = _track(sandbox, [_q("RR050349575PH")], cache=cache)
    assert isinstance(first.failure, RateLimited)
    assert isinstance(second.failure, RateLimited)
    assert len(sandbox.entries("trackingmore")) == 1  # the second run sent nothing


@pytest.mark.parametrize("options", [TrackOptions(wait=True), TrackOptions(watch=True)])
def test_wait_and_watch_wait_out_the_pause_and_retry_once(
    sandbox: Sandbox, options: TrackOptions
) -> None:
    _app(sandbox).retry_after = True
    sandbox.penalize("trackingmore", 2.0)
    (answer,) = _track(sandbox, [_q("RR050349575PH")], options)
    assert answer.failure is None
    assert answer.shipments[0].status is Status.DELIVERED
    rejected, accepted = _on(sandbox, GET_PATH)[:2]
    assert (rejected.status, rejected.rejected, accepted.status) == (429, True, 200)
    assert accepted.t - rejected.t >= 1.0  # the Retry-After of what was left of 2 s


def test_quota_used_up_is_a_clear_error_for_every_number(sandbox: Sandbox) -> None:
    httpx.post(f"{sandbox.base_url}/_sandbox/trackingmore/fail", json={"code": 4021})
    answers = _track(sandbox, [_q("RR050349575PH"), _q("RN210552627LT")])
    for answer in answers:
        assert isinstance(answer.failure, QuotaExceeded)
        assert "recharge" in answer.failure.message


def test_remove_deletes_from_the_account_and_4017_is_fine(sandbox: Sandbox) -> None:
    async def go() -> list[Answer]:
        async with Session() as session:
            adapter = tm_v2.Adapter(_settings(sandbox), session, MemoryCache())
            removed = await adapter.remove([_q("RR050349575PH")])
            gone = await adapter.remove([_q("RR050349575PH", "phlpost")])
            return removed + gone

    removed, gone = asyncio.run(go())
    assert removed.shipments[0].status_text == "deleted from the TrackingMore account"
    assert gone.shipments[0].status_text == "was not in the TrackingMore account"
    assert gone.failure is None
    deletes = [e for e in sandbox.entries("trackingmore") if e.method == "DELETE"]
    assert [e.path for e in deletes] == ["/v2/trackings/phlpost/RR050349575PH"] * 2
    assert [e.status for e in deletes] == [200, 200]
    assert ("RR050349575PH", "phlpost") not in _app(sandbox).account


def test_courier_list_is_fetched_once_a_day(sandbox: Sandbox) -> None:
    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with Session() as session:
            adapter = tm_v2.Adapter(_settings(sandbox), session, MemoryCache())
            return await adapter.couriers(), await adapter.couriers()

    first, second = asyncio.run(go())
    assert first == second
    assert {"usps", "china-ems", "sandbox-post"} <= {c["code"] for c in first}
    assert set(first[0]) == {"name", "code", "phone", "homepage", "type", "picture"}
    assert len(sandbox.entries("trackingmore")) == 1


def test_adapter_works_without_a_cache(sandbox: Sandbox) -> None:
    answers = _track(sandbox, [_q("RR050349575PH"), _q("ZZ-UNKNOWN-1", "usps")])
    assert answers[0].shipments[0].status is Status.DELIVERED
    assert (answers[1].found, answers[1].failure) == (False, None)
    assert answers[1].shipments[0].status is Status.NOT_FOUND


# -- the emulator answers like TrackingMore --------------------------------------------------


def _call(sandbox: Sandbox, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Trackingmore-Api-Key": API_KEY, **kwargs.pop("headers", {})}
    url = f"{sandbox.base_url}/trackingmore/v2{path}"
    return httpx.request(method, url, headers=headers, **kwargs)


def _meta(response: httpx.Response) -> tuple[int, int]:
    return response.status_code, response.json()["meta"]["code"]


def test_sandbox_envelopes_and_codes(sandbox: Sandbox) -> None:
    _app(sandbox).default_rate = _app(sandbox).get_rate = 100.0
    wrong = _call(sandbox, "GET", "/trackings/get", headers={"Trackingmore-Api-Key": "nope"})
    assert _meta(wrong) == (401, 4001)
    assert wrong.json()["meta"]["message"] == "Invalid API key."
    assert _meta(_call(sandbox, "GET", "/trackings/get", params={"numbers": "X1234"})) == (
        200,
        4031,
    )
    assert _meta(_call(sandbox, "GET", "/trackings/get", params={"status": "lost"})) == (200, 4033)
    too_many = [{"tracking_number": f"N{i:05d}", "carrier_code": "usps"} for i in range(41)]
    big = _call(sandbox, "POST", "/trackings/batch", json=too_many)
    assert _meta(big) == (200, 202)
    assert big.json()["meta"]["message"] == "The largest number of 40 each operation."
    twice = [{"tracking_number": "N00001", "carrier_code": "usps"}] * 2
    batch = _call(sandbox, "POST", "/trackings/batch", json=twice).json()
    assert batch["meta"]["code"] == 201
    assert (batch["data"]["submitted"], batch["data"]["added"]) == (2, 1)
    assert batch["data"]["trackings"][0]["status"] == "pending"
    assert batch["data"]["errors"][0]["code"] == 4016
    assert _meta(_call(sandbox, "DELETE", "/trackings/usps/N99999")) == (200, 4017)
    assert _meta(_call(sandbox, "GET", "/trackings/usps/N99999")) == (200, 4017)
    none = _call(sandbox, "POST", "/carriers/detect", json={"tracking_number": "ABCD-1234"})
    assert _meta(none) == (200, 4032)
    page = _call(sandbox, "GET", "/trackings/get", params={"limit": "1"}).json()["data"]
    assert isinstance(page["total"], str)
    assert page["count"] == len(page["items"]) == 1


def test_sandbox_enforces_the_get_limit_and_pauses_the_account(sandbox: Sandbox) -> None:
    first = _call(sandbox, "GET", "/trackings/get")
    second = _call(sandbox, "GET", "/trackings/get")
    third = _call(sandbox, "POST", "/carriers/detect", json={"tracking_number": "LS912989618CN"})
    assert first.status_code == 200
    assert _meta(second) == (429, 429)
    assert second.json()["meta"]["message"] == (
        "Exceeded API limits. Pause requests, wait two minute, and try again."
    )
    assert "retry-after" not in second.headers
    assert _meta(third) == (429, 429)  # the whole account is paused
    assert sandbox.rejected("trackingmore") == 2


def test_sandbox_realtime_twice_in_2_hours_returns_the_first_answer(sandbox: Sandbox) -> None:
    body = {"tracking_number": "RR050349575PH", "carrier_code": "phlpost"}
    first = _call(sandbox, "POST", "/trackings/realtime", json=body).json()["data"]["items"][0]
    assert _app(sandbox).add_event("RR050349575PH", "Late scan", None)
    again = _call(sandbox, "POST", "/trackings/realtime", json=body).json()["data"]["items"][0]
    assert again == first


# -- through the CLI ------------------------------------------------------------------------


def test_cli_tracks_the_docs_example_detected_from_the_number(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--jsonl", "LS912989618CN", "trackingmore:RN210552627LT")
    assert r.code == 0, r.err
    realtime, held = (json.loads(line) for line in r.out.splitlines())
    assert (realtime["carrier"], realtime["courier"], realtime["status"]) == (
        "trackingmore",
        "china-ems",
        "in_transit",
    )
    assert realtime["events"][0]["description"] == "Arrived at USPS Regional Destination Facility"
    assert realtime["events"][0]["time"] == "2018-04-17T22:30:00"
    assert (held["courier"], held["origin"], held["destination"]) == (
        "lietuvos-pastas",
        "Lithuania",
        "Korea, South",
    )
    assert [e.path for e in sandbox.entries("trackingmore")] == [GET_PATH, REALTIME_PATH]


def test_cli_invalid_key_is_exit_3(sandbox: Sandbox, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_API_KEY", "not-the-key-0123456789")
    r = cli("track", "--jsonl", "trackingmore:RR050349575PH", "trackingmore:usps:ZZ-X-1")
    assert r.code == 3
    for line in r.out.splitlines():
        assert "API key rejected (code 4001: Invalid API key.)" in json.loads(line)["error"]
    assert "not-the-key-0123456789" not in r.out + r.err


def test_cli_reports_a_rate_limit_pause_without_waiting(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    sandbox.penalize("trackingmore", 120)
    r = cli("track", "--jsonl", "trackingmore:RR050349575PH")
    assert r.code == 4
    error = json.loads(r.out)["error"]
    assert "TrackingMore paused the account for 2 minutes" in error
    assert "--wait" in error
    assert len(sandbox.entries("trackingmore")) == 1


def test_a_late_arriving_request_does_not_squeeze_the_next_one_into_its_second(
    clock: VirtualClock,
) -> None:
    arrivals: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if not arrivals:
            await asyncio.sleep(0.15)  # the first request is slow on its way (cold connection)
        arrivals.append(clock.monotonic())
        return httpx.Response(200, json=fixture("trackingmore", "not_in_account.json"))

    async def go() -> None:
        transport = httpx.MockTransport(handler)
        async with Session(transport=transport) as session:
            adapter = tm_v2.Adapter({"api_key": "k", "base_url": "http://tm.test/v2"}, session)
            queries = [_q(synthetic_number(i)) for i in range(41)]  # two calls: 40 + 1
            held, failures = await adapter._read_account(queries)
            assert (held, failures) == ({}, {})

    asyncio.run(go())
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 1.0


def test_many_new_numbers_are_created_in_full_batches_while_the_account_is_still_read(
    sandbox: Sandbox,
) -> None:
    app = _app(sandbox)
    app.get_rate, app.default_rate = 2.0, 10.0
    numbers = [synthetic_number(i, "PL") for i in range(200)]
    answers = _track(
        sandbox, [_q(n, "sandbox-post") for n in numbers], get_rate=2.0, default_rate=10.0
    )
    gets, batches = _on(sandbox, GET_PATH), _on(sandbox, BATCH_PATH)
    assert [e.numbers for e in gets] == [40] * 5
    assert sorted(e.numbers for e in batches) == [40] * 5  # the fewest calls 200 numbers allow
    assert batches[0].t < gets[-1].t  # pipelined: creation began before the last read
    assert {a.shipments[0].status for a in answers} == {Status.PENDING}
    assert sandbox.rejected("trackingmore") == 0


def test_a_few_new_numbers_among_many_known_ones_still_go_to_realtime(sandbox: Sandbox) -> None:
    app = _app(sandbox)
    app.get_rate, app.realtime_rate = 20.0, 30.0
    known = [synthetic_number(i, "KN") for i in range(100)]
    new = [synthetic_number(i, "NW") for i in range(5)]
    app.preload(known)
    answers = _track(
        sandbox, [_q(n, "sandbox-post") for n in known + new], get_rate=20.0, realtime_rate=30.0
    )
    assert len(_on(sandbox, REALTIME_PATH)) == 5
    assert _on(sandbox, BATCH_PATH) == []
    assert all(a.shipments[0].events for a in answers[-5:])


def test_a_country_named_inside_a_longer_or_dirty_place_is_still_read() -> None:
    assert tm_shared.place_country("\x1b]0;x\x07United States of America (the)\x00[bold]") == "US"
    assert tm_shared.place_country("中国 郑州") == "CN"
    assert tm_shared.place_country("INDIANAPOLIS IN") is None  # a word, not part of one
