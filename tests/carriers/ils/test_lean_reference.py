"""The lean ILS reader's shortcuts (issue 20: orderStatus read once per answer and spelling, a
node with images sharing the reading of the rest, event lists already newest first kept as they
are) give what the plain rules give (``lean_reference``) for any answer, and ``merged`` what
``merge_events`` gives for any events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.carriers.ils import lean_reference
from tests.carriers.ils.test_lean import answers
from tests.carriers.ils.test_lean_shared import repeating
from tests.conftest import json_values
from waypost.carriers._parse import merge_events
from waypost.carriers.ils import lean
from waypost.status import Status

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZONES = st.sampled_from([SHANGHAI, None, UTC, timezone(timedelta(hours=-3))])


def assert_as_the_rules_read(payload: Any, numbers: list[str], tz: Any) -> None:
    quick = lean.parse_response(payload, numbers, tz)
    plain = lean_reference.response(payload, numbers, tz)
    if plain is None or quick is None:
        assert quick is plain is None
        return
    assert [s.data() for s in quick] == [s.data() for s in plain]
    for fast, slow in zip(quick, plain, strict=True):
        assert {**dict(fast), "events": None} == {**dict(slow), "events": None}
        assert [type(e) for e in fast.events] == [type(e) for e in slow.events]
        zones = [(e.time.tzinfo if e.time else None) for e in fast.events]
        assert zones == [(e.time.tzinfo if e.time else None) for e in slow.events]


# orderStatus spellings and values an answer repeats (values of other types among them).
keys = st.sampled_from(["Status", "status", "STATUS", "Lastscan", "last_scan", "Service"])
values = st.one_of(
    st.sampled_from(["Delivered", " in transit ", "2026-11-20 10:00:00", "", None]),
    st.sampled_from([1, 1.0, True, 0, False, ["x"], {"a": 1}]),
)
statuses = st.lists(st.dictionaries(keys, values, max_size=4), min_size=1, max_size=3)
# Nodes from a small pool, with images or not: equal readings of the rest, in any order.
dates = st.sampled_from(
    ["2026-11-20 10:00:00", "2026-11-21 08:00", "2026-11-21T08:00:00+02:00", "1700000000", "", 7]
)
nodes = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "date": dates,
            "desc": st.sampled_from(["Delivered", "Vessel departed", " delivered ", None, 1]),
            "descCn": st.sampled_from(["已签收", None]),
            "deport": st.sampled_from(["Ningbo", None]),
            "img": st.one_of(
                st.lists(st.sampled_from(["https://img.example/a.jpg", "", 3, None]), max_size=2),
                json_values,
            ),
        },
    ),
    min_size=1,
    max_size=4,
)


@st.composite
def repeated_answers(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    pool_status, pool_nodes = draw(statuses), draw(nodes)
    count = draw(st.integers(min_value=1, max_value=5))
    numbers = [f"1234S{i:07d}" for i in range(count)]
    body = []
    for number in numbers:
        item: dict[str, Any] = {"consignment": number}
        if draw(st.booleans()):
            item["orderStatus"] = dict(draw(st.sampled_from(pool_status)))
        picked = draw(st.lists(st.sampled_from(pool_nodes), max_size=5))
        item["billTrackList"] = [dict(n) for n in picked]
        body.append(item)
    return {"code": 200, "body": body}, numbers


@settings(max_examples=300)
@given(repeated_answers(), ZONES)
def test_repeated_answers_read_as_the_plain_rules_read_them(
    drawn: tuple[dict[str, Any], list[str]], tz: Any
) -> None:
    assert_as_the_rules_read(*drawn, tz)


@settings(max_examples=200)
@given(answers(), ZONES)
def test_any_answer_reads_as_the_plain_rules_read_it(
    drawn: tuple[dict[str, Any], list[str]], tz: Any
) -> None:
    assert_as_the_rules_read(*drawn, tz)


@settings(max_examples=100)
@given(repeating(), ZONES)
def test_answers_of_repeated_nodes_read_as_the_plain_rules_read_them(
    drawn: tuple[dict[str, Any], list[str]], tz: Any
) -> None:
    assert_as_the_rules_read(*drawn, tz)


# Times of one zone object, of equal offsets in other objects, naive, or none.
BASE = datetime(2026, 11, 20, 10)
times = st.one_of(
    st.none(),
    st.integers(0, 5).map(lambda h: BASE - timedelta(hours=h)),
    st.integers(0, 5).map(lambda h: (BASE - timedelta(hours=h)).replace(tzinfo=SHANGHAI)),
    st.integers(0, 5).map(lambda h: (BASE - timedelta(hours=h)).replace(tzinfo=UTC)),
    st.integers(0, 5).map(
        lambda h: (BASE - timedelta(hours=h)).replace(tzinfo=timezone(timedelta(hours=8)))
    ),
)
records = st.builds(
    lambda when, words, where: lean.LeanEvent(when, where, words, Status.IN_TRANSIT, [], None),
    times,
    st.sampled_from(["Delivered", "delivered", "Departed", None]),
    st.sampled_from(["Ningbo", None]),
)


@settings(max_examples=500)
@given(st.lists(records, max_size=6))
def test_merged_gives_what_merge_events_gives(events: list[lean.LeanEvent]) -> None:
    expected: list[Any] = merge_events(list(events))  # type: ignore[arg-type]
    assert [id(e) for e in lean.merged(list(events))] == [id(e) for e in expected]


def test_newest_first_lists_are_kept_and_others_merged() -> None:
    older, newer = (
        lean.LeanEvent(BASE - timedelta(hours=h), None, "x", Status.IN_TRANSIT, [], None)
        for h in (2, 1)
    )
    kept = [newer, older]
    assert lean.merged(kept) is kept
    assert lean.merged([older, newer]) == [newer, older]
    twin = lean.LeanEvent(newer.time, "Ningbo", "X", Status.IN_TRANSIT, [], None)
    assert lean.merged([newer, twin]) == [twin]  # one step twice: the one with a place
