"""``list``'s plain lines (``render._plain_list``, its row loop written out for start-up speed)
are the ones the row helpers ``_first`` and ``_iso`` give, for any stored row: naive and aware
event times, unreadable ones, times just below a whole second, any display zone."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from waypost import render, safe
from waypost.render import Format, Terminal
from waypost.store.rows import ListRow

NOW = datetime(2026, 12, 1, 20, 0, 30, tzinfo=UTC)


def reference(rows: list[ListRow], term: Terminal) -> str:
    """The plain lines as the row helpers make them (the loop before it was written out)."""
    now = term.now.timestamp()
    lines = []
    for r in rows:
        first = render._first(r.first_event_time)
        days = "" if first is None else f"{round((now - first.timestamp()) / 86400, 1):.0f}"
        fields = (
            safe.field(r.label),
            safe.field(r.number),
            safe.field(r.carrier),
            safe.field(r.status),
            " ".join(safe.field(r.last_event).split()),
            render._iso(r.last_checked, term) or "",
            days,
        )
        lines.append("\t".join(fields) + "\n")
    return "".join(lines)


offsets = st.one_of(
    st.none(),
    st.just(UTC),
    st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)
event_times = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.builds(
        lambda when, tz, spec: when.replace(tzinfo=tz).isoformat(timespec=spec),
        st.datetimes(datetime(1971, 1, 2), datetime(2099, 12, 30)),
        offsets,
        st.sampled_from(["seconds", "minutes", "microseconds"]),
    ),
)
seconds = st.one_of(
    st.none(),
    st.floats(86_400, 4_000_000_000, allow_nan=False),
    st.integers(86_400, 4_000_000_000).map(lambda s: s - 0.0000004),  # rounds up to a second
)
texts = st.text(max_size=20)


def row(number: str, **fields: object) -> ListRow:
    """A stored row with ``fields`` given, the rest empty."""
    empty = dict.fromkeys(ListRow._fields)
    given = {"id": 1, "number": number, "carrier": "ils", "added": 0.0, "status": "in_transit"}
    values = {**empty, **given, "final": 0, **fields}
    return ListRow(**values)  # type: ignore[arg-type]


rows = st.builds(
    row,
    texts,
    id=st.integers(1, 10**6),
    label=st.one_of(st.none(), st.sampled_from(["", "gift", "bench\tmark"]), texts),
    carrier=st.sampled_from(["ils", "trackingmore", "pandapon"]),
    status=st.sampled_from(["in_transit", "delivered", "pending"]),
    last_event=st.one_of(st.none(), st.sampled_from(["Step 0", "two\nlines  here"]), texts),
    last_checked=seconds,
    first_event_time=event_times,
)
zones = st.sampled_from([None, UTC, ZoneInfo("Asia/Kolkata"), ZoneInfo("America/New_York")])


@given(st.lists(rows, max_size=8), zones)
def test_plain_lines_are_the_row_helpers_lines(listed: list[ListRow], tz: object) -> None:
    term = Terminal(now=NOW, tz=tz)  # type: ignore[arg-type]
    out = io.StringIO()
    render.watch_list(iter(listed), term, out, Format.PLAIN)
    assert out.getvalue() == reference(listed, term)


def test_a_naive_and_an_aware_first_event_count_the_same_days() -> None:
    naive = row("N1", first_event_time="2026-11-21T20:00:30")
    aware = naive._replace(number="N2", first_event_time="2026-11-22T04:00:30+08:00")
    bad = naive._replace(number="N3", first_event_time="not a time")
    out = io.StringIO()
    render.watch_list(iter([naive, aware, bad]), Terminal(now=NOW, tz=UTC), out, Format.PLAIN)
    assert [line.split("\t")[-1] for line in out.getvalue().splitlines()] == ["10", "10", ""]
