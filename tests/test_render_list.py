"""``list``'s plain lines (``render_plain.list_tsv``, its row loop written out for start-up
speed, with its texts kept per first-event text and per checked second) are the ones the row
helpers ``_first`` and ``_iso`` give, for any stored rows: naive and aware event times,
unreadable ones, times just below a whole second, many rows checked in one second, any display
zone; and `waypost list` piped writes them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from waypost import render, render_plain, safe
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


# Rows of a watch pass: checked within a few seconds (fractions up to just below the next
# second, where rounding to microseconds carries into it), first events shared by many rows.
BASE = 1_796_173_475.0
same_seconds = st.one_of(
    st.none(),
    st.builds(
        lambda s, f: BASE + s + f,
        st.integers(-1, 2),
        st.sampled_from([0.0, 0.25, 0.5, 0.998, 0.999, 0.9991, 0.9999994, 0.9999996, 0.99999999]),
    ),
)
shared_firsts = st.sampled_from(
    [None, "2026-11-01T10:00:00", "2026-11-01T10:00:00+05:30", "2026-11-30T23:59:59.999999", "x"]
)
pass_rows = st.builds(
    row,
    st.sampled_from(["N1", "N2", "N3"]),
    label=st.sampled_from([None, "bench", "gift\x1b[31m"]),
    last_event=st.sampled_from([None, "Step 0", "two\nlines"]),
    last_checked=same_seconds,
    first_event_time=shared_firsts,
)


@given(st.lists(pass_rows, max_size=30), zones)
def test_rows_checked_in_one_second_and_sharing_first_events_keep_their_lines(
    listed: list[ListRow], tz: object
) -> None:
    term = Terminal(now=NOW, tz=tz)  # type: ignore[arg-type]
    out = io.StringIO()
    render_plain.list_tsv(iter(listed), NOW, tz, out)  # type: ignore[arg-type]
    assert out.getvalue() == reference(listed, term)
    again = io.StringIO()
    render.watch_list(iter(listed), term, again, Format.PLAIN)
    assert again.getvalue() == out.getvalue()


def test_a_time_just_below_a_second_is_not_taken_for_the_second_it_starts() -> None:
    below = row("N1", last_checked=BASE + 0.9999996)  # rounds up to BASE + 1
    start = row("N2", last_checked=BASE)
    out = io.StringIO()
    render_plain.list_tsv(iter([start, below]), NOW, UTC, out)
    first, second = (line.split("\t")[5] for line in out.getvalue().splitlines())
    assert first == datetime.fromtimestamp(BASE, UTC).isoformat(timespec="seconds")
    assert second == datetime.fromtimestamp(BASE + 1, UTC).isoformat(timespec="seconds")


@given(st.text(alphabet=st.characters(max_codepoint=0x3000), max_size=30))
def test_safe_fields_printable_ascii_shortcut_keeps_what_the_full_check_keeps(text: str) -> None:
    import re

    clean = re.search(safe._DANGER, text) is None  # the whole check, before the shortcut
    field = text if clean else safe._clean(text, safe._FOLD, safe._REST)
    kept = (safe._FOLD_KEEP_NL, safe._REST_KEEP_NL)
    lines = text if clean else safe._clean(text.replace("\r\n", "\n"), *kept)
    assert safe.field(text) == field
    assert safe.lines(text) == lines


def test_an_ascii_list_cuts_the_last_event_between_escapes_not_inside_one() -> None:
    # Cut inside one, '\u5e02' became '\u5e...', read as another escape.
    last = "\u3010\u6df1\u5733\u5e02\u3011\u5feb\u4ef6\u5df2\u9001\u8fbe"
    listed = [row("YT7512345678901", last_event=last, last_checked=NOW.timestamp())]
    for width in range(50, 80):
        out = io.StringIO()
        term = Terminal(now=NOW, width=width, stdout_tty=True, encoding="ascii")
        render.watch_list(iter(listed), term, out, Format.TABLE)
        line = next(x for x in out.getvalue().splitlines() if x.startswith("YT75"))
        start = line.index("\\u3010")
        assert "..." in line[start:], line
        shown = line[start : line.index("...", start)]
        assert len(line.rstrip()) <= width
        assert len(shown) % 6 == 0, line  # whole escapes only
