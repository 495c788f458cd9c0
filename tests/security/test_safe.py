"""The sanitiser for human output (waypost.safe): properties, then the hostile classes."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from tests.hostile import ESCAPES, MARKUP, SHELL, SURROGATE, hostile_text
from waypost import safe

# What may never reach a terminal: C0 (tab and newline included, inside one field), DEL, C1.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# Printable text in every script (letters, marks, numbers, punctuation, symbols, spaces).
printable = st.text(
    st.characters(categories=["L", "M", "N", "P", "S", "Zs"], exclude_characters="\u2028\u2029"),
    max_size=40,
)
anything = st.text(max_size=60) | st.lists(
    st.sampled_from([*ESCAPES, *MARKUP, *SHELL, SURROGATE, "\x1b", "\x9b", "\x1b]", "a", "北"]),
    max_size=12,
).map("".join)


@given(anything)
def test_field_lets_no_control_through_and_is_idempotent(text: str) -> None:
    once = safe.field(text)
    assert CONTROL.search(once) is None
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in once)
    assert safe.field(once) == once


@given(anything)
def test_lines_keeps_only_newlines_and_is_idempotent(text: str) -> None:
    once = safe.lines(text)
    assert CONTROL.search(once.replace("\n", "")) is None
    assert safe.lines(once) == once
    assert once.count("\n") <= text.count("\n")


@given(printable)
def test_printable_text_is_unchanged(text: str) -> None:
    assert safe.field(text) == text
    assert safe.lines(text) == text


@given(printable, printable)
def test_text_around_a_sequence_survives(before: str, after: str) -> None:
    for escape, count in zip(ESCAPES[:4], (1, 1, 2, 1), strict=True):
        assert safe.field(before + escape + after) == before + safe.ESCAPE_MARK * count + after


def test_every_class_is_made_harmless_and_visible() -> None:
    for script in ("Sorting centre", "北京分拨中心", "Сортировочный центр", "📦✈️"):
        shown = safe.field(hostile_text(script))
        assert script in shown
        assert all(bad not in shown for bad in ("\x1b", "]52;", "]0;", "\n"))
        assert all(kept in shown for kept in ("␀", "FORGED", "[/]", "$(touch${IFS}/tmp/"))
    assert safe.field("a\r\n\tb") == "a b"
    assert safe.field("x\x00y") == "x␀y"
    assert safe.field("\x1b[2J\x1b[Hz") == "␛␛z"
    assert safe.field("\x9b31mred") == "␛red"
    assert safe.field("\x1bP1$r\x1b\\dcs") == "␛dcs"
    assert safe.field("\x9d0;title\x9ctext") == "␛text"
    # An unterminated control string is not eaten with the text after it.
    assert safe.field("\x1b]0;rest of the line") == "␛0;rest of the line"
    assert safe.field("a" + SURROGATE + "b") == "a\ufffdb"
    assert safe.field("\u202eevil") == "\ufffdevil"
    assert safe.field(None) == ""
    assert safe.lines("one\r\ntwo\x1b]52;c;x\x07\n") == "one\ntwo␛\n"


def test_links_only_for_clean_http_urls() -> None:
    assert safe.link("https://img.example.com/a/b.jpg?x=1") == "https://img.example.com/a/b.jpg?x=1"
    assert safe.link("http://127.0.0.1:8080/p.png") == "http://127.0.0.1:8080/p.png"
    for bad in (
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https://x.example/\x1b]52;c;QQ==\x07",
        "https://x.example/a b",
        "https://x.example:99999/",
        "https:///nohost",
        "https://exämple.com/",
        "",
        None,
    ):
        assert safe.link(bad) is None, bad
