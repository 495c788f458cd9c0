"""TrackingMore v2 api: the docs' examples, status and substatus tables, places and zones,
error codes, and the parsers' properties; pure, no sandbox (strategy: test_adapter.py)."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import fixture, json_values
from waypost.carriers import trackingmore as tm
from waypost.carriers._parse import epoch
from waypost.carriers.trackingmore import shared as tm_shared
from waypost.carriers.trackingmore import v2_api as tm_api
from waypost.errors import AuthError, CarrierError, ProtocolError, QuotaExceeded, RateLimited
from waypost.models import Status

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


def test_a_country_named_inside_a_longer_or_dirty_place_is_still_read() -> None:
    assert tm_shared.place_country("\x1b]0;x\x07United States of America (the)\x00[bold]") == "US"
    assert tm_shared.place_country("中国 郑州") == "CN"
    assert tm_shared.place_country("INDIANAPOLIS IN") is None  # a word, not part of one
