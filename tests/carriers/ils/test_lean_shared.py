"""The lean ILS reader's shortcuts (issue 20): equal nodes of one answer share one record, times
are remembered by (raw value, zone), a shared record is written once per document, and the
lean run leaves the cyclic collector as it found it; every output stays the models' own."""

from __future__ import annotations

import gc
import io
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waypost import lean_json, render
from waypost.carriers.ils import api as ils_api
from waypost.carriers.ils import lean
from waypost.errors import CarrierError
from waypost.render import Terminal

SHANGHAI = ZoneInfo("Asia/Shanghai")
TERM = Terminal(tz=ZoneInfo("Europe/Berlin"), now=datetime(2026, 12, 1, tzinfo=UTC))


def assert_same(payload: Any, numbers: list[str], tz: Any = SHANGHAI) -> None:
    """The lean records print as the models do (--json, --jsonl, plain), or the lean reader
    declines an answer the model path turns into errors."""
    quick = lean.parse_response(payload, numbers, tz)
    try:
        models: Any = ils_api.parse_response(payload, numbers, tz)
    except CarrierError as exc:
        models = exc
    if quick is None:
        assert isinstance(models, CarrierError) or any(s.error for s in models)
        return
    assert not isinstance(models, CarrierError)
    plain_lean, plain_models = io.StringIO(), io.StringIO()
    render.plain_track(quick, TERM, plain_lean, {})  # type: ignore[arg-type]
    render.plain_track(models, TERM, plain_models, {})
    assert plain_lean.getvalue() == plain_models.getvalue()
    assert lean_json.document(quick) == render.json_document(models)
    assert render.data_lines([s.data() for s in quick]) == render.json_lines(models)


STEP = {"date": "2026-11-20 10:00:00", "desc": "Vessel departed", "deport": "Ningbo"}


def answer(*items: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    numbers = [f"1234S{i:07d}" for i in range(len(items))]
    body = [
        {"consignment": n, "orderStatus": {"Status": "In transit"}, "billTrackList": nodes}
        for n, nodes in zip(numbers, items, strict=True)
    ]
    return {"code": 200, "msg": "", "body": body}, numbers


def test_equal_nodes_of_one_answer_share_one_record() -> None:
    payload, numbers = answer([dict(STEP)], [dict(STEP)], [{**STEP, "deport": "Shanghai"}])
    first, second, third = lean.parse_response(payload, numbers, SHANGHAI) or []
    assert first.events[0] is second.events[0]
    assert third.events[0] is not first.events[0]
    assert third.events[0].location == "Shanghai"


def test_answers_do_not_share_records() -> None:
    payload, numbers = answer([dict(STEP)])
    (one,) = lean.parse_response(payload, numbers, SHANGHAI) or []
    (two,) = lean.parse_response(payload, numbers, SHANGHAI) or []
    assert one.events[0] is not two.events[0]
    assert one.events[0].data() == two.events[0].data()


def test_nodes_with_images_get_records_of_their_own() -> None:
    node = {**STEP, "img": ["https://img.example/1.jpg"]}
    payload, numbers = answer([dict(node)], [dict(node)])
    first, second = lean.parse_response(payload, numbers, SHANGHAI) or []
    assert first.events[0] is not second.events[0]
    assert first.events[0].images == ["https://img.example/1.jpg"] == second.events[0].images


def test_unhashable_text_is_read_without_the_memo() -> None:
    payload, numbers = answer([{**STEP, "desc": ["not", "text"]}], [{**STEP, "deport": {"a": 1}}])
    first, second = lean.parse_response(payload, numbers, SHANGHAI) or []
    assert first.events[0].description is None
    assert first.events[0].location == "Ningbo"
    assert second.events[0].location is None
    assert second.events[0].description == "Vessel departed"


def test_equal_keys_of_other_types_are_not_one_node() -> None:
    nodes = [{**STEP, "desc": d} for d in ("1", 1, 1.0, True)]
    payload, numbers = answer(*[[dict(n)] for n in nodes])
    shipments = lean.parse_response(payload, numbers, SHANGHAI) or []
    assert [s.events[0].description for s in shipments] == ["1", "1", "1.0", None]
    assert_same(payload, numbers)


def test_times_in_fixed_offsets_keep_their_own_zone() -> None:
    gmt = timezone(timedelta(0), "GMT")
    payload, numbers = answer([dict(STEP)])
    (first,) = lean.parse_response(payload, numbers, gmt) or []
    (second,) = lean.parse_response(payload, numbers, UTC) or []
    assert first.events[0].time is not None
    assert second.events[0].time is not None
    assert first.events[0].time.tzinfo is gmt
    assert second.events[0].time.tzinfo is UTC


def test_the_same_time_in_two_zones_is_two_times() -> None:
    payload, numbers = answer([dict(STEP)])
    (east,) = lean.parse_response(payload, numbers, SHANGHAI) or []
    (west,) = lean.parse_response(payload, numbers, ZoneInfo("America/New_York")) or []
    assert east.events[0].time is not None
    assert west.events[0].time is not None
    assert west.events[0].time - east.events[0].time == timedelta(hours=13)
    document = lean_json.document([east, west])
    assert '"2026-11-20T10:00:00+08:00"' in document
    assert '"2026-11-20T10:00:00-05:00"' in document


def test_the_time_memo_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lean, "_TIMES", {})
    monkeypatch.setattr(lean, "_TIMES_MAX", 5)
    sizes = []
    for minute in range(12):
        lean._time(f"2026-11-20 10:{minute:02d}:00", SHANGHAI)
        sizes.append(len(lean._TIMES))
    assert max(sizes) == 5
    assert min(sizes) == 0
    again = lean._time("2026-11-20 10:30:00", SHANGHAI)
    assert again is lean._time("2026-11-20 10:30:00", SHANGHAI)


def test_a_shared_record_is_written_in_every_shipment() -> None:
    payload, numbers = answer([dict(STEP)], [dict(STEP), {**STEP, "date": "2026-11-21 08:00"}])
    shipments = lean.parse_response(payload, numbers, SHANGHAI) or []
    document = lean_json.document(shipments)
    data = [s.data() for s in shipments]
    assert document == json.dumps({"schema": 2, "shipments": data}, ensure_ascii=False, indent=2)
    assert document.count('"description": "Vessel departed"') == 3


def test_fields_past_the_events_are_written_when_set() -> None:
    payload, numbers = answer([dict(STEP)])
    (shipment,) = lean.parse_response(payload, numbers, SHANGHAI) or []
    changed = shipment.model_copy(
        update={"error": "x", "order_id": "o-1", "transit_days": 3, "link": "https://l.example"}
    )
    for record in (shipment, changed):
        written = json.loads(lean_json.document([record]))["shipments"][0]
        assert written == record.data()


# Answers drawn from a small pool of nodes, so that most nodes repeat within an answer.
pool = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "date": st.sampled_from(["2026-11-20 10:00:00", "2026-11-20T10:00:00+02:00", "", 7]),
            "desc": st.sampled_from(["Delivered", " delivered ", "Out for delivery", None, ""]),
            "descCn": st.sampled_from(["已签收", "Delivered", None]),
            "deport": st.sampled_from(["Ningbo", "", None, 3]),
            "img": st.sampled_from([[], None, ["https://img.example/a.jpg"], "x"]),
        },
    ),
    min_size=1,
    max_size=4,
)


@st.composite
def repeating(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    nodes = draw(pool)
    count = draw(st.integers(min_value=1, max_value=4))
    picks = st.lists(st.sampled_from(nodes), max_size=5)
    return answer(*[[dict(n) for n in draw(picks)] for _ in range(count)])


@settings(max_examples=150)
@given(repeating(), st.sampled_from([SHANGHAI, None, UTC, timezone(timedelta(hours=-3))]))
def test_answers_with_repeated_nodes_print_as_the_models_do(
    drawn: tuple[dict[str, Any], list[str]], tz: Any
) -> None:
    payload, numbers = drawn
    assert_same(payload, numbers, tz)


@pytest.mark.parametrize("was_enabled", [True, False])
def test_the_lean_run_leaves_the_collector_as_it_found_it(
    sandbox: Any, was_enabled: bool, tmp_path: Any
) -> None:
    from waypost import carriers, config, inputs, quick
    from waypost.cli.env import Env
    from waypost.render import Format, Terminal

    with open(os.devnull, "w") as out:
        env = Env(stdout=out, stderr=out)
        cfg = config.load(env=os.environ)
        infos = {i.name: i for i in carriers.infos()}
        queries = inputs.parse_numbers(["1234S0000001", "1234S0000002"], None, infos)
        (gc.enable if was_enabled else gc.disable)()
        try:
            code = quick.track(env, cfg, queries, Format.JSON, Terminal(), False)
            assert gc.isenabled() is was_enabled
        finally:
            gc.enable()
    assert code == 0


def test_the_models_carry_every_field_of_the_records() -> None:
    from tests.conftest import fixture
    from waypost.carriers.ils import api
    from waypost.models import Event

    payload = fixture("ils", "seed_example.json")
    numbers = ["3676E4043665", "3676E4038434"]
    records = lean.parse_response(payload, numbers, SHANGHAI) or []
    models = api.parse_response(payload, numbers, SHANGHAI)
    assert any(r.events for r in records)
    for record, model in zip(records, models, strict=True):
        assert model.events == [Event(**dict(e)) for e in record.events]
        assert model.model_dump() == {**dict(record), "events": [dict(e) for e in record.events]}


def test_without_a_watch_list_the_journey_check_makes_no_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from waypost import quick

    made: list[str] = []
    monkeypatch.setattr(lean, "LeanShipment", lambda number: made.append(number))
    assert quick._no_legs(["3676E4043665", "3676E4038521"]) is True
    assert made == []


@pytest.mark.parametrize("count", [0, 1, 64, 65, 130])
def test_the_document_in_pieces_is_the_whole_document(count: int) -> None:
    payload, numbers = answer(*[[{**STEP, "deport": f"Depot {i % 3}"}] for i in range(count)])
    shipments = lean.parse_response(payload, numbers, SHANGHAI) or []
    pieces = list(lean_json.pieces(shipments))
    data = [s.data() for s in shipments]
    expected = json.dumps({"schema": 2, "shipments": data}, ensure_ascii=False, indent=2)
    assert "".join(pieces) == lean_json.document(shipments) == expected
    assert len(pieces) == (1 if not count else 2 + -(-count // 64))
