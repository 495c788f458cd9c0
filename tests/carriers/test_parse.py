"""The shared defensive readers: timestamps and merged timelines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waypost.carriers._parse import epoch, merge_events, parse_time
from waypost.models import Event

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-23 10:04:00", datetime(2026, 11, 23, 10, 4, tzinfo=SHANGHAI)),
        ("2026-11-23T10:04", datetime(2026, 11, 23, 10, 4, tzinfo=SHANGHAI)),
        ("2026/11/23 10:04:05", datetime(2026, 11, 23, 10, 4, 5, tzinfo=SHANGHAI)),
        ("2026\\/11\\/23 10:04", datetime(2026, 11, 23, 10, 4, tzinfo=SHANGHAI)),
        ("2026/11/23", datetime(2026, 11, 23, tzinfo=SHANGHAI)),
        ("  2026-11-23 10:04:00.250 ", datetime(2026, 11, 23, 10, 4, 0, 250000, SHANGHAI)),
        ("2026-11-23T10:04:00+00:00", datetime(2026, 11, 23, 10, 4, tzinfo=UTC)),
        # Epoch seconds and milliseconds are instants; shown in the carrier's zone.
        ("1763892240", datetime(2025, 11, 23, 18, 4, tzinfo=SHANGHAI)),
        ("1763892240000", datetime(2025, 11, 23, 18, 4, tzinfo=SHANGHAI)),
        (1763892240, datetime(2025, 11, 23, 18, 4, tzinfo=SHANGHAI)),
    ],
)
def test_parse_time_reads_what_carriers_send(raw: object, expected: datetime) -> None:
    got = parse_time(raw, SHANGHAI)
    assert got == expected
    assert got is not None
    assert got.utcoffset() == expected.utcoffset()


def test_parse_time_keeps_naive_times_naive_without_a_zone() -> None:
    assert parse_time("2026-11-23 10:04:00") == datetime(2026, 11, 23, 10, 4)


@pytest.mark.parametrize("raw", [None, "", "  ", "yesterday", "2026-13-45", [], {}, True, "12345"])
def test_parse_time_gives_none_for_garbage(raw: object) -> None:
    assert parse_time(raw, SHANGHAI) is None


def _event(when: datetime | None, description: str, location: str | None = None) -> Event:
    return Event(time=when, description=description, location=location)


def test_merge_drops_repeats_keeps_the_one_with_a_location_and_puts_undated_last() -> None:
    t = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    merged = merge_events(
        [
            _event(None, "note"),
            _event(t, "Arrived  at hub"),
            _event(t + timedelta(hours=1), "Departed"),
            _event(t, "arrived at HUB", "Shenzhen"),
        ]
    )
    assert [(e.description, e.location) for e in merged] == [
        ("Departed", None),
        ("arrived at HUB", "Shenzhen"),
        ("note", None),
    ]


def test_merge_orders_by_real_time_across_zones() -> None:
    # 10:00 in Shanghai is 02:00 UTC: earlier than 09:00 UTC, though its clock reads later.
    shanghai = _event(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI), "a")
    utc = _event(datetime(2026, 11, 23, 9, 0, tzinfo=UTC), "b")
    assert [e.description for e in merge_events([shanghai, utc])] == ["b", "a"]


zones = st.sampled_from([None, UTC, SHANGHAI, timezone(timedelta(hours=-5))])
times = st.builds(
    lambda dt, tz: dt.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
    zones,
)


@given(st.lists(st.tuples(st.none() | times, st.sampled_from(["a", "b", "A ", "c"])), max_size=12))
def test_merge_is_newest_first_without_duplicates(items: list[tuple[datetime | None, str]]) -> None:
    merged = merge_events([_event(t, d) for t, d in items])
    dated = [epoch(e.time) for e in merged if e.time is not None]
    assert dated == sorted(dated, reverse=True)
    assert all(e.time is None for e in merged[len(dated) :])
    keys = [(e.time, " ".join((e.description or "").split()).casefold()) for e in merged]
    assert len(keys) == len(set(keys))
