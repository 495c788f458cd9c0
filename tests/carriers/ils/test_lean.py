"""The lean ILS reader prints what the models print: JSON document, JSON lines, plain text and
the stalled mark, over the fixtures and generated answers; answers it does not take are the
ones the model path turns into errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, fixture, json_values
from tests.lean_common import outputs
from waypost import lean_json
from waypost.carriers.ils import api as ils_api
from waypost.carriers.ils import lean
from waypost.config import load
from waypost.errors import CarrierError
from waypost.models import Event, Shipment, TrackDocument
from waypost.quick import _stalled_marker

SHANGHAI = ZoneInfo("Asia/Shanghai")


def both(payload: Any, numbers: list[str], tz: Any = SHANGHAI) -> tuple[Any, Any]:
    """(model shipments or the CarrierError, lean shipments or None)."""
    try:
        model: Any = ils_api.parse_response(payload, numbers, tz)
    except CarrierError as exc:
        model = exc
    return model, lean.parse_response(payload, numbers, tz)


TAKEN: list[bool] = []


def assert_same(payload: Any, numbers: list[str], tz: Any = SHANGHAI) -> None:
    model, quick = both(payload, numbers, tz)
    TAKEN.append(quick is not None)
    if quick is None:
        # Left to the model path: only answers that become errors there.
        assert isinstance(model, CarrierError) or any(s.error for s in model)
        return
    assert not isinstance(model, CarrierError)
    assert outputs(quick, models=False) == outputs(model, models=True)
    mark = _stalled_marker(load())
    from waypost.cli.watchlist import insights_marker

    mark(quick)
    insights_marker(load(), None)(model)
    assert [s.stalled for s in quick] == [s.stalled for s in model]
    assert outputs(quick, models=False) == outputs(model, models=True)


FIXTURE_NUMBERS = {
    "seed_example.json": ["3676E4043665", "3676E4038434"],
    "documented_keys.json": ["3676E4038521"],
    "auth_error.json": ["3676E4043665"],
}


def test_every_ils_fixture_is_listed() -> None:
    assert sorted(p.name for p in (FIXTURES / "ils").glob("*.json")) == sorted(FIXTURE_NUMBERS)


@pytest.mark.parametrize(("name", "numbers"), sorted(FIXTURE_NUMBERS.items()))
def test_fixtures_print_the_same_both_ways(name: str, numbers: list[str]) -> None:
    assert_same(fixture("ils", name), numbers)


def test_the_seed_example_is_taken_and_the_auth_error_is_not() -> None:
    assert lean.parse_response(fixture("ils", "seed_example.json"), ["3676E4043665"], SHANGHAI)
    assert lean.parse_response(fixture("ils", "auth_error.json"), ["3676E4043665"], None) is None


def test_a_number_left_out_goes_to_the_model_path() -> None:
    payload = fixture("ils", "seed_example.json")
    assert lean.parse_response(payload, ["3676E4043665", "3676E4099999"], SHANGHAI) is None


# -- generated answers ---------------------------------------------------------------------------

offsets = st.integers(min_value=-14 * 3600, max_value=14 * 3600).map(
    lambda s: timezone(timedelta(seconds=s))
)
stamps = st.datetimes(
    min_value=datetime(1960, 1, 1), max_value=datetime(2300, 1, 1), timezones=st.none() | offsets
)
dates = st.one_of(
    st.none(),
    st.just(""),
    stamps.map(lambda d: d.isoformat()),
    stamps.map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    stamps.map(lambda d: d.strftime("%Y/%m/%d %H:%M")),
    st.integers(min_value=0, max_value=10**13).map(str),
    json_values,
)
words = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "Delivered",
            "not delivered",
            "Out for delivery",
            "Ready for collection",
            "Shipment information received",
            "Returned to sender",
            "In transit",
            " Delivered ",
            "",
        ]
    ),
    st.text(max_size=20),
    json_values,
)
events = st.fixed_dictionaries(
    {},
    optional={
        "date": dates,
        "desc": words,
        "descCn": words,
        "deport": words,
        "img": st.one_of(st.lists(words, max_size=3), json_values),
    },
)
order_keys = st.sampled_from(
    [
        "Service",
        "service",
        "Status",
        "status",
        "Despatch Depot",
        "despatchdepot",
        "Delivery Depot",
        "deliverydepot",
        "Port Of Delivery",
        "port_of_delivery",
        "Lastscan",
        "lastscan",
        "Despatch Date",
    ]
)
order_status = st.one_of(
    st.none(), st.dictionaries(order_keys, st.one_of(words, dates), max_size=6), json_values
)


# The strategies an answer is drawn from, made once: one built inside ``answers`` is built (and
# validated) again at every draw.
NUMBER_LISTS = st.lists(
    st.sampled_from(["3676E4043665", "1234A1234567", "7777S0000001"]), min_size=1
)
SPELLINGS = st.sampled_from([str, str.lower, lambda number: f" {number} "])
EVENT_LISTS = st.one_of(st.lists(events, max_size=5), json_values)
CODES = st.sampled_from([200, 200, 200, "200", 500, 401, None])


@st.composite
def answers(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    numbers = draw(NUMBER_LISTS)
    items = []
    extra = draw(st.lists(st.sampled_from([*numbers, "9999Z9999999"]), max_size=3))
    for number in ([*dict.fromkeys(numbers)] if draw(st.booleans()) else []) + extra:
        item: dict[str, Any] = {"consignment": draw(SPELLINGS)(number)}
        item["orderStatus"] = draw(order_status)
        item["billTrackList"] = draw(EVENT_LISTS)
        if draw(st.booleans()):
            item["msg"] = draw(words)
        items.append(item)
    code = draw(CODES)
    envelope: dict[str, Any] = {"code": code, "body": items}
    if draw(st.booleans()):
        envelope["msg"] = draw(words)
    return envelope, numbers


@settings(max_examples=300)
@given(answers(), st.sampled_from([SHANGHAI, None, UTC]))
def print_the_same_both_ways(answer: tuple[dict[str, Any], list[str]], tz: Any) -> None:
    payload, numbers = answer
    assert_same(payload, numbers, tz)


# Whether the lean path took each answer, over the last whole run of the generated answers.
GENERATED: list[bool] = []


def test_generated_answers_print_the_same_both_ways() -> None:
    TAKEN.clear()
    GENERATED.clear()
    print_the_same_both_ways()
    GENERATED.extend(TAKEN)


def test_generated_answers_were_mostly_taken_by_the_lean_path() -> None:
    if not GENERATED:  # run without the test above (alone, or it ran on another worker)
        test_generated_answers_print_the_same_both_ways()
    assert sum(GENERATED) > len(GENERATED) / 4


@given(json_values)
def test_any_json_is_taken_only_where_the_models_take_it(payload: Any) -> None:
    assert_same(payload, ["3676E4043665"])


@given(stamps)
def test_times_are_written_as_pydantic_writes_them(when: datetime) -> None:
    assert f'"{lean.iso(when)}"' == Event(time=when).model_dump_json()[8:].split(",")[0]


def test_the_document_matches_an_empty_one() -> None:
    assert lean_json.document([]) == TrackDocument(shipments=[]).model_dump_json(indent=2)


def test_records_copy_and_iterate_like_models() -> None:
    (s,) = lean.parse_response(fixture("ils", "documented_keys.json"), ["3676E4038521"], None) or []
    copy = s.model_copy(update={"service": "x"})
    assert (copy.service, s.service) == ("x", "Rail Freight")
    assert [name for name, _ in s] == list(lean.SHIPMENT_FIELDS)
    assert list(lean.SHIPMENT_FIELDS) == list(Shipment.model_fields)
    assert list(lean.EVENT_FIELDS) == list(Event.model_fields)
