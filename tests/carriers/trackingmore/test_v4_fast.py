"""The fast v4 tracking parser (``trackingmore.v4_fast``) gives exactly what the reference parser
(``trackingmore.v4_api.parse_tracking``) gives: on the recorded real answers, on every answer the
sandbox's v4 emulation renders, on generated trackings (both legs, zones, repeated checkpoints,
values of every JSON type) and on arbitrary JSON, with its tables cold, warm and overflowing."""

from __future__ import annotations

import json
from datetime import tzinfo
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, json_values
from waypost.carriers._parse import zone
from waypost.carriers.trackingmore import lean
from waypost.carriers.trackingmore import shared as tm
from waypost.carriers.trackingmore import v4_api as api
from waypost.carriers.trackingmore import v4_fast as fast
from waypost.sandbox import Sandbox
from waypost.sandbox.trackingmore import App, synthetic_number

ZONES = [None, zone("Asia/Shanghai"), zone("UTC"), zone("America/New_York")]


def _same(item: Any, number: str = "N1", tz: tzinfo | None = None) -> None:
    """Both parsers agree, field by field and in the JSON (zones and offsets included), twice:
    once possibly cold, once with everything remembered."""
    want = api.parse_tracking(item, number, tz, tm.STATUS, tm.SUBSTATUS, "fallback-courier")
    for _ in range(2):
        got = fast.parse_tracking(item, number, tz, courier="fallback-courier")
        assert got == want
        assert got.model_dump_json() == want.model_dump_json()
        assert [e.time for e in got.events] == [e.time for e in want.events]
        assert [e.time.tzinfo if e.time else None for e in got.events] == [
            e.time.tzinfo if e.time else None for e in want.events
        ]


@pytest.fixture(autouse=True)
def cold_tables() -> None:
    for table in (fast._times, fast._zones, fast._states, fast._legs, fast._points):
        table.clear()


def _recorded() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted((FIXTURES / "trackingmore" / "v4").glob("*.json")):
        payload: Any = json.loads(path.read_text(encoding="utf-8"))
        item = dict((payload.get("data") or [payload])[0])
        if "track_info" in item:  # see tests/fixtures/trackingmore/v4/README.md
            item["origin_info"] = {**item["origin_info"], "trackinfo": item.pop("track_info")}
        out.append((path.name, item))
    return out


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(("name", "item"), _recorded(), ids=[n for n, _ in _recorded()])
def test_recorded_real_answers_parse_the_same(name: str, item: dict[str, Any], tz: Any) -> None:
    _same(item, str(item.get("tracking_number") or "N1"), tz)


def test_every_answer_the_sandbox_renders_parses_the_same() -> None:
    app = Sandbox(port=0).apps["trackingmore"]  # its answers, without serving them
    assert isinstance(app, App)
    app.preload([synthetic_number(i, "FA") for i in range(25)])
    app.preload([n.rsplit(":", 1)[-1] for n, _ in app.demo_numbers()])
    for tracking in app.account.values():
        tracking.fetched = True
    items = [app.v4.item(t) for t in app.account.values()]
    assert len(items) >= 25
    assert any(i["destination_info"]["trackinfo"] for i in items)  # both legs are covered
    for item in items:
        for tz in ZONES:
            _same(item, str(item["tracking_number"]).upper(), tz)


# -- generated trackings ----------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.sampled_from([True, False, 1, 0, 1.0, 0.0, -0.0]),  # equal as keys, not as text
    st.integers(-3, 3),
    st.floats(-65504.0, 65504.0, width=16),  # every finite float16, none rejected by a downcast
    st.text(max_size=6),
    st.sampled_from(["", "  ", "\ud800x", "Ünïcode", "北京"]),
)
dates = st.one_of(
    st.sampled_from(
        [
            "2024-05-01 10:00",
            "2024-05-01 10:00:00",
            "2024-05-01T10:00:00+08:00",
            "2024-05-01T02:00:00Z",
            "2024/05/01 10:00",
            "1715000000",
            "1715000000000",
            "0001-01-01",
            "not a date",
            " 2024-05-01 10:00 ",
        ]
    ),
    scalars,
)
places = st.one_of(
    st.sampled_from(
        ["ZHENGZHOU EMS,CHINA", "Renton, WA", "美国", "Berlin Germany", "Hong Kong [CN]", "HK"]
    ),
    scalars,
)
countries = st.one_of(st.sampled_from(["US", "CN", "DE", "Germany", "ru", "XX"]), scalars)
statuses = st.one_of(
    st.sampled_from(["transit", "delivered", "pickup", "exception", "pending", "expired"]), scalars
)
substatuses = st.one_of(
    st.sampled_from(["delivered001", "pickup002", "exception010", "transit004", "notfound001"]),
    scalars,
)
couriers = st.one_of(
    st.sampled_from(["usps", "china-post", "cainiao", "dhl", "sf-express"]), scalars
)

odd = st.one_of(
    scalars, st.lists(scalars, max_size=2), st.dictionaries(st.text(max_size=2), scalars)
)
checkpoint = st.fixed_dictionaries(
    {},
    optional={
        "checkpoint_date": st.one_of(dates, odd),
        "tracking_detail": st.one_of(
            st.sampled_from(["Arrived", "Delivered", "arrived "]), scalars
        ),
        "location": places,
        "country_iso2": countries,
        "city": st.one_of(places, odd),
        "state": st.one_of(st.sampled_from(["WA", "Bavaria"]), odd),
        "checkpoint_delivery_status": statuses,
        "checkpoint_delivery_substatus": substatuses,
    },
)
# A list of checkpoints drawn from a small pool, so that steps repeat within and across legs.
trackinfo = st.lists(checkpoint, min_size=1, max_size=3).flatmap(
    lambda pool: st.lists(st.sampled_from(pool), min_size=1, max_size=5)
)
plain_leg = st.fixed_dictionaries(
    {"trackinfo": trackinfo},
    optional={
        "courier_code": couriers,
        "weblink": st.one_of(
            st.sampled_from(["https://t.example/x", "javascript:alert(1)", "http://", " "]),
            scalars,
        ),
    },
)
leg = st.one_of(plain_leg, plain_leg, st.fixed_dictionaries({"trackinfo": json_values}), scalars)
tracking = st.fixed_dictionaries(
    {"origin_info": leg, "destination_info": leg},
    optional={
        "tracking_number": st.sampled_from(["N1", "n1", "LS912989618CN"]),
        "courier_code": couriers,
        "delivery_status": statuses,
        "substatus": substatuses,
        "origin_country": countries,
        "destination_country": countries,
        "latest_event": st.one_of(
            st.sampled_from(["Arrived,Renton, WA,2024-05-01 10:00", "Delivered"]), scalars
        ),
        "latest_checkpoint_time": dates,
        "scheduled_delivery_date": st.one_of(st.sampled_from(["2024-05-06", "2024-13-40"]), dates),
        "transit_time": scalars,
        "destination_track_number": st.one_of(
            st.sampled_from(["N1", "9400111201080805483016"]), scalars
        ),
        "service_code": scalars,
        "order_id": scalars,
        "archived": st.one_of(st.sampled_from(["tracking", "archived", "TRUE"]), scalars),
    },
)


@settings(max_examples=400, deadline=None)
@given(tracking, st.sampled_from(ZONES))
def test_generated_trackings_parse_the_same(item: dict[str, Any], tz: Any) -> None:
    _same(item, "N1", tz)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_parses_the_same(value: Any) -> None:
    _same(value)


@settings(max_examples=100, deadline=None)
@given(st.lists(tracking, min_size=2, max_size=6))
def test_full_tables_start_again_and_still_agree(items: list[dict[str, Any]]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lean, "MEMORY", 2)
        for item in items:
            _same(item)
        for table in (fast._times, fast._zones, fast._states, fast._legs, fast._points):
            assert len(table) <= 2


def test_other_status_tables_take_the_reference_path() -> None:
    item = {"delivery_status": "transit", "origin_info": {"trackinfo": [{"tracking_detail": "x"}]}}
    table = {**tm.STATUS, "transit": tm.STATUS["delivered"]}
    got = fast.parse_tracking(item, "N1", None, table, tm.SUBSTATUS)
    assert got == api.parse_tracking(item, "N1", None, table, tm.SUBSTATUS)
    assert got.status == tm.STATUS["delivered"]


@pytest.mark.parametrize("both", [True, False])
def test_each_leg_keeps_its_own_country_zone(both: bool) -> None:
    step = {"checkpoint_date": "2024-05-01 10:00", "tracking_detail": "Arrived"}
    other = {"checkpoint_date": "2024-05-02 10:00", "tracking_detail": "Departed"}
    item = {
        "origin_country": "CN",
        "destination_country": "DE",
        "origin_info": {"trackinfo": [other] if both else []},
        "destination_info": {"trackinfo": [step]},
    }
    _same(item)
    got = fast.parse_tracking(item, "N1", None)
    offsets = {e.description: e.time.utcoffset() if e.time else None for e in got.events}
    assert str(offsets["Arrived"]) == "2:00:00"  # Germany in May
    if both:
        assert str(offsets["Departed"]) == "8:00:00"  # China
