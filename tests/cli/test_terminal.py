"""Real terminals: widths read from a pty (no COLUMNS), nothing wider than the screen, content
whole; image URLs without colour; `carriers` wrapped between words."""

from __future__ import annotations

import io
import os
import re
from datetime import UTC

import pytest

from tests.forked import ForkServer
from tests.pty_forked import run_on_pty_forked
from tests.test_render import NOW, shipment
from waypost.render import Terminal, rich_track, terminal_width
from waypost.sandbox import Sandbox

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")

ILS = "3676E4043665"
URL = "https://img.ils-logistics.example/pod/3676E4043665-1.jpg"
NUMBERS = [ILS, "trackingmore:china-ems:LS912989618CN", "3318459201774650021"]
WIDTHS = [60, 100, 200]


def _column(lines: list[str], head: str) -> str:
    """The text of the last table column called ``head`` (ASCII tables), without spaces."""
    header = next(i for i, line in enumerate(lines) if re.match(rf"When\s.*\b{head}\b", line))
    start = lines[header].index(head)
    body = []
    for line in lines[header + 2 :]:
        if not line.strip():
            break
        body.append(line[start:].strip())
    return "".join(body).replace(" ", "")


@pytest.mark.parametrize("columns", WIDTHS)
def test_track_fits_the_real_terminal_width(
    sandbox: Sandbox, columns: int, forker: ForkServer
) -> None:
    r = run_on_pty_forked(forker, "track", *NUMBERS, columns=columns)
    assert r.code == 0, r.err
    assert r.widest() <= columns
    text = "\n".join(r.lines)
    for number in (ILS, "LS912989618CN", "YT7512345678901"):
        assert number in text  # never cut or folded
    # The ILS timeline's descriptions and image URL read whole down the "What" column.
    what = _column(r.lines, "What")
    for words in ("Vesseldepartedtranshipmentport", "Shipmentloadedintocontainer", URL):
        assert words in what
    if columns >= 100:
        assert "updated 20" in text
        assert " +0000 (" in text
    if columns == 200:
        assert f"image: {URL}" in text  # on one line where there is room


@pytest.mark.parametrize("columns", WIDTHS)
def test_list_gives_last_event_the_room_there_is(
    sandbox: Sandbox, cli, columns: int, forker: ForkServer
) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", "--label", "march", *NUMBERS).code == 0
    r = run_on_pty_forked(forker, "list", columns=columns)
    assert r.code == 0, r.err
    assert r.widest() <= columns
    rows = [line for line in r.lines if line.strip()]
    assert rows[0].split()[:1] == ["Label"] or rows[0].startswith("Number")
    body = rows[2:]
    assert len(body) == 4  # one line per shipment (the 1688 order has two parcels)
    for number in (ILS, "LS912989618CN", "YT7512345678901"):
        assert any(f" {number} " in f" {line} " for line in body)
    ils_line = next(line for line in body if ILS in line)
    if columns == 200:
        assert "Vessel departed transhipment port Singapore" in ils_line
        assert "First event" in rows[0]
        assert "Checked" in rows[0]
        assert "…" not in "\n".join(body)
    else:
        assert "Vessel departed" in ils_line
    if columns == 60:
        assert "…" in ils_line  # cut with an ellipsis, not wrapped


def test_carriers_wraps_between_words_on_a_narrow_terminal(forker: ForkServer) -> None:
    r = run_on_pty_forked(forker, "carriers", columns=60)
    assert r.code == 0, r.err
    assert r.widest() <= 60
    text = "\n".join(r.lines)
    for example in ("9400111201080805483016", "9611020987654312345672", "LS912989618CN"):
        assert example in text
    assert "https://www.trackingmore.com/api-index.html" in text
    assert "shared/seeds" not in text
    assert "check digit, check digit" not in " ".join(text.split())


def test_width_comes_from_columns_then_the_terminal_then_a_default() -> None:
    assert terminal_width({"COLUMNS": "132"}, io.StringIO()) == 132
    assert terminal_width({"COLUMNS": "junk"}, io.StringIO()) == 100
    assert terminal_width({}, io.StringIO()) == 100
    tty = io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    assert terminal_width({}, tty) == 80  # a terminal whose size cannot be read
    master, slave = os.openpty()
    try:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 77, 0, 0))
        with open(slave, "w", closefd=False) as stream:
            assert terminal_width({}, io.StringIO(), stream) == 77
            assert Terminal.detect(env={}, stdout=stream).width == 77
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("colour", [True, False])
def test_image_urls_are_printed_with_and_without_colour(colour: bool) -> None:
    out = io.StringIO()
    term = Terminal(stdout_tty=True, color=colour, width=120, now=NOW, tz=UTC)
    rich_track([shipment()], term, out)
    assert "https://x/1.jpg" in out.getvalue()


def test_color_option_beside_no_color() -> None:
    tty = io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    assert Terminal.detect(env={}, stdout=tty, color="never").color is False
    assert Terminal.detect(env={"NO_COLOR": "1"}, stdout=tty, color="always").color is True
    assert Terminal.detect(env={}, stdout=io.StringIO(), color="always").color is True
    assert Terminal.detect(env={}, stdout=tty, color="always", no_color=True).color is False


def test_a_very_narrow_terminal_gets_the_timeline_as_a_list(
    sandbox: Sandbox, forker: ForkServer
) -> None:
    r = run_on_pty_forked(forker, "track", ILS, columns=40)
    assert r.code == 0, r.err
    assert r.widest() <= 40
    assert "When" not in r.lines  # no table header
    squeezed = "".join(line.strip() for line in r.lines)
    assert URL in squeezed  # folded over lines, but whole once joined
    text = " ".join(" ".join(r.lines).split())
    assert "Vessel departed transhipment port Singapore" in text
    assert "Shenzhen Yantian Port" in text
