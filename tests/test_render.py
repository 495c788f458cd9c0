"""Output modes: Rich on a terminal, plain when piped, colour rules, times."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

from waypost.models import Event, Shipment, Status
from waypost.render import Terminal, absolute, plain_track, relative, rich_track

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))


def shipment() -> Shipment:
    return Shipment(
        tracking_number="3676E4043665",
        carrier="ils",
        found=True,
        status=Status.DELIVERED,
        service="Sea Freight",
        origin="Shenzhen",
        destination="Felixstowe",
        last_update=datetime(2026, 11, 23, 17, 0, tzinfo=CST),
        events=[
            Event(
                time=datetime(2026, 11, 23, 17, 0, tzinfo=CST),
                location="Felixstowe",
                description="Delivered",
                status=Status.DELIVERED,
            ),
            Event(
                time=datetime(2026, 11, 20, 9, 0, tzinfo=CST),
                location="Shenzhen",
                description="Loaded",
                images=["https://x/1.jpg"],
            ),
        ],
    )


def test_terminal_detection_honours_no_color_and_pipes() -> None:
    tty = io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    assert Terminal.detect(env={}, stdout=tty).color is True
    assert Terminal.detect(env={"NO_COLOR": "1"}, stdout=tty).color is False
    assert Terminal.detect(env={}, stdout=tty, no_color=True).color is False
    assert Terminal.detect(env={"TERM": "dumb"}, stdout=tty).color is False
    piped = Terminal.detect(env={}, stdout=io.StringIO())
    assert (piped.stdout_tty, piped.color) == (False, False)
    assert Terminal.detect(env={"COLUMNS": "132"}, stdout=io.StringIO()).width == 132


def test_relative_and_absolute_times() -> None:
    term = Terminal(now=NOW, tz=UTC)
    assert relative(NOW - timedelta(hours=3, minutes=5), term) == "3 h ago"
    assert relative(NOW - timedelta(days=2), term) == "2 d ago"
    assert relative(NOW - timedelta(seconds=20), term) == "just now"
    assert relative(NOW + timedelta(hours=1), term) == "in 1 h"
    assert relative(datetime(2026, 1, 1), term) == ""  # naive: zone unknown
    assert absolute(datetime(2026, 11, 23, 17, 0, tzinfo=CST), term) == "2026-11-23 09:00 +0000"
    assert (
        absolute(datetime(2026, 11, 23, 17, 0, tzinfo=CST), Terminal(tz=CST))
        == "2026-11-23 17:00 +0800"
    )
    assert absolute(None, term) == "-"


def test_plain_output_is_one_record_per_line_without_ansi_or_boxes() -> None:
    out = io.StringIO()
    plain_track([shipment()], Terminal(now=NOW, tz=UTC), out)
    lines = out.getvalue().splitlines()
    assert (
        lines[0]
        == "3676E4043665  ils  delivered  Sea Freight  Shenzhen -> Felixstowe  updated 2026-11-23 09:00 +0000"
    )
    assert lines[1] == "  2026-11-23 09:00 +0000  Felixstowe  Delivered"
    assert lines[2] == "  2026-11-20 01:00 +0000  Shenzhen  Loaded"
    assert lines[3] == "    image: https://x/1.jpg"
    assert "\x1b" not in out.getvalue()


def test_rich_output_colours_status_and_shows_relative_times() -> None:
    out = io.StringIO()
    term = Terminal(stdout_tty=True, color=True, width=100, now=NOW, tz=UTC)
    rich_track([shipment()], term, out)
    text = out.getvalue()
    assert "\x1b[" in text
    assert "\x1b[1;32mdelivered" in text  # bold green
    assert "3 h ago" in text
    assert "Felixstowe" in text


def test_rich_output_without_colour_has_no_escape_codes() -> None:
    out = io.StringIO()
    rich_track([shipment()], Terminal(stdout_tty=True, color=False, now=NOW, tz=UTC), out)
    assert "\x1b[" not in out.getvalue()
    assert "delivered" in out.getvalue()


def test_importing_the_cli_does_not_pull_in_the_network_stack() -> None:
    code = (
        "import sys, waypost.cli\n"
        "heavy = [m for m in ('httpx', 'pydantic', 'rich', 'sqlite3', 'tenacity', 'waypost.carriers.ils')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_naive_time_says_local_time_and_an_aware_one_its_offset() -> None:
    term = Terminal(now=NOW, tz=UTC)
    assert absolute(datetime(2018, 4, 17, 22, 30), term) == "2018-04-17 22:30 local time"
    assert absolute(datetime(2018, 4, 17, 22, 30, tzinfo=CST), term) == "2018-04-17 14:30 +0000"
    s = Shipment(
        tracking_number="N1",
        carrier="trackingmore",
        found=True,
        status=Status.IN_TRANSIT,
        last_update=datetime(2018, 4, 17, 22, 30),
        events=[Event(time=datetime(2018, 4, 17, 22, 30), description="Arrived")],
    )
    out = io.StringIO()
    plain_track([s], term, out)
    header, line = out.getvalue().splitlines()
    assert header.endswith("updated 2018-04-17 22:30 local time")
    assert line.startswith("  2018-04-17 22:30 local time  -  Arrived")
    rich = io.StringIO()
    rich_track([s], Terminal(stdout_tty=True, color=False, width=100, now=NOW, tz=UTC), rich)
    assert "local time" in rich.getvalue()
    assert "ago" not in rich.getvalue()


def test_a_journey_on_a_narrow_ascii_terminal_is_a_list_of_whole_escapes() -> None:
    # Below 60 columns the four-column table left "Where" and "What" a few cells each.
    from tests.test_journeys import _journey
    from waypost import render_journeys

    out = io.StringIO()
    now = datetime(2026, 12, 1, tzinfo=UTC)
    term = Terminal(stdout_tty=True, width=40, tz=UTC, now=now, encoding="ascii")
    render_journeys.rich(_journey(), term, out)
    lines = out.getvalue().splitlines()
    assert "leg 2  2026-11-30 12:00 +0000  12 h ago" in lines
    assert "  Shenzhen" in lines
    assert "  \\u4e49\\u4e4c" in lines  # 义乌, escaped for the ASCII output
    assert any(line.startswith("  \\u5df2\\u7b7e\\u6536 [bold]x") for line in lines)
    assert max(len(line) for line in lines) <= 40, lines


def test_escaped_text_breaks_between_escapes_and_before_words() -> None:
    from waypost.render import _escape_breaks

    text = "\\u5e7f\\u5dde abc"
    assert _escape_breaks(text, 8) == [6, 13]  # '\u5e7f' | '\u5dde ' | 'abc'
    assert _escape_breaks(text, 12) == [13]
    assert _escape_breaks("ab\\u5e7f", 6) == [2]  # not 'ab\u5e' | '7f'
    assert _escape_breaks("ab\\u5e7f", 5) == [2, 7]  # an escape wider than a line: folded
    assert _escape_breaks(text, 0) == [*range(1, 12), 13, 14, 15]  # ends: a character a line
