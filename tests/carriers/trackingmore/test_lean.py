"""The lean v4 records (``trackingmore.lean``, printed by ``track``'s lean path) agree with the
reference parser's models (``v4_api.parse_tracking``) in every output: ``--json`` (through
``lean_json``), ``--jsonl`` and plain text, on the recorded real answers, the sandbox's answers
and generated trackings (the strategies of ``test_v4_fast``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.carriers.trackingmore.test_v4_fast import ZONES, _recorded, tracking
from tests.lean_common import outputs
from waypost.carriers.trackingmore import lean
from waypost.carriers.trackingmore import shared as tm
from waypost.carriers.trackingmore import v4_api as api
from waypost.sandbox import Sandbox
from waypost.sandbox.trackingmore import App, synthetic_number


def _same(item: Any, number: str = "N1", tz: Any = None) -> None:
    want = api.parse_tracking(item, number, tz, tm.STATUS, tm.SUBSTATUS, "fallback-courier")
    got = lean.parse_tracking(item, number, tz, "fallback-courier")
    assert got.data() == want.model_dump(mode="json")
    assert [e.time for e in got.events] == [e.time for e in want.events]
    assert outputs([got], models=False) == outputs([want], models=True)


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(("name", "item"), _recorded(), ids=[n for n, _ in _recorded()])
def test_recorded_real_answers_print_the_same(name: str, item: dict[str, Any], tz: Any) -> None:
    _same(item, str(item.get("tracking_number") or "N1").upper(), tz)


def test_every_answer_the_sandbox_renders_prints_the_same() -> None:
    with Sandbox(port=0) as box:
        app = box.apps["trackingmore"]
        assert isinstance(app, App)
        app.preload([synthetic_number(i, "LA") for i in range(25)])
        for t in app.account.values():
            t.fetched = True
        items = [app.v4.item(t) for t in app.account.values()]
    assert len(items) >= 25
    for item in items:
        _same(item, str(item["tracking_number"]).upper(), None)


@settings(max_examples=300, deadline=None)
@given(tracking, st.sampled_from(ZONES))
def test_generated_trackings_print_the_same(item: dict[str, Any], tz: Any) -> None:
    _same(item, "N1", tz)


def test_an_eta_and_a_last_mile_print_as_the_models_do() -> None:
    item = {
        "delivery_status": "transit",
        "scheduled_delivery_date": "2024-05-06",
        "destination_track_number": "9400111201080805483016",
        "destination_info": {"courier_code": "usps", "weblink": " https://t.example/x "},
        "origin_info": {
            "trackinfo": [{"checkpoint_date": "2024-05-01 10:00", "tracking_detail": "x"}]
        },
    }
    _same(item)
    got = lean.parse_tracking(item, "N1", None)
    assert got.data()["eta"] == "2024-05-06"
    assert got.data()["last_mile"] == {
        "courier": "usps",
        "tracking_number": "9400111201080805483016",
    }
    assert got.link == "https://t.example/x"
