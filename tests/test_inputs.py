"""User input parsers: numbers from argv and stdin, prefixes, durations."""

from __future__ import annotations

import contextlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waypost import carriers
from waypost.errors import UsageError
from waypost.inputs import MAX_LEN, parse_duration, parse_numbers

INFOS = {i.name: i for i in carriers.infos()}


def numbers(
    *args: str, stdin: str | None = None, carrier: str | None = None
) -> list[tuple[str, str | None, str | None]]:
    return [(q.number, q.carrier, q.courier) for q in parse_numbers(args, stdin, INFOS, carrier)]


def test_prefix_trim_upper_and_dedupe_in_first_seen_order() -> None:
    assert numbers(" ils:3676e4043665 ", "abcd1234", "ABCD1234", "ils:3676E4043665") == [
        ("3676E4043665", "ils", None),
        ("ABCD1234", None, None),
    ]


def test_stdin_splits_on_lines_spaces_commas_and_semicolons() -> None:
    got = numbers("-", stdin="AAAA1111, BBBB2222\n\tCCCC3333;DDDD4444\n\n")
    assert [n for n, _, _ in got] == ["AAAA1111", "BBBB2222", "CCCC3333", "DDDD4444"]


def test_spaces_inside_one_argument_are_removed() -> None:
    assert numbers("1Z 999 AA1 01 2345 6784") == [("1Z999AA10123456784", None, None)]


def test_fullwidth_digits_are_normalised() -> None:
    assert numbers("ＡＢＣ１２３４") == [("ABC1234", None, None)]


def test_carrier_option_applies_to_unprefixed_numbers_only() -> None:
    assert numbers("ABCD1234", "ils:EFGH5678", carrier="ils") == [
        ("ABCD1234", "ils", None),
        ("EFGH5678", "ils", None),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "no tracking numbers given"),
        (("-",), "no tracking numbers given"),
        (("nope:ABCD1234",), "unknown carrier prefix 'nope'"),
        (("ils:usps:ABCD1234",), "ils takes no courier part"),
        (("AB\x00CD1234",), "contains '\\x00'"),
        (("ABC",), "is 3 characters long"),
        (("A" * (MAX_LEN + 1),), f"is {MAX_LEN + 1} characters long"),
        (("ABCD/1234",), "contains '/'"),
        (("-ABCD1234",), "malformed"),
        (("ils:",), "is empty"),
        (("pandapon:ABCDEF",), "'ABCDEF' cannot be a pandapon number (a PandaPon order id is"),
        (("pandapon:1688:12A4",), "cannot be a pandapon number"),
    ],
)
def test_bad_input_is_a_usage_error_with_a_reason(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_numbers(args, "" if "-" in args else None, INFOS)
    assert message in str(info.value)


def test_a_number_named_for_a_carrier_it_cannot_fit_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="'ABCDEF' cannot be a pandapon number"):
        parse_numbers(["ABCDEF"], None, INFOS, "pandapon")
    assert numbers("pandapon:2542285634920880794") == [("2542285634920880794", "pandapon", None)]


@given(
    st.text(string.digits, max_size=8),
    st.sampled_from(string.ascii_letters),
    st.text(string.ascii_letters + string.digits, min_size=3, max_size=20),
)
def test_no_number_with_a_letter_is_taken_for_pandapon(head: str, letter: str, tail: str) -> None:
    with pytest.raises(UsageError, match="cannot be a pandapon number"):
        parse_numbers([f"pandapon:{head}{letter}{tail}"], None, INFOS)


def test_unknown_carrier_option_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown carrier 'dhl'"):
        parse_numbers(["ABCD1234"], None, INFOS, "dhl")


def test_errors_name_their_stdin_line_and_are_capped() -> None:
    stdin = "\n".join(["GOOD1234"] + [f"bad!{i}" for i in range(9)])
    with pytest.raises(UsageError) as info:
        parse_numbers(["-"], stdin, INFOS)
    text = str(info.value)
    assert "stdin line 2" in text
    assert "... and 4 more" in text


def test_ten_thousand_numbers_from_stdin() -> None:
    stdin = "\n".join(f"{i:04d}S{i:07d}" for i in range(10_000))
    got = parse_numbers(["-"], stdin + "\n" + stdin, INFOS)
    assert len(got) == 10_000


@given(st.lists(st.text(max_size=70), max_size=20))
def test_parser_only_ever_raises_usage_errors(args: list[str]) -> None:
    try:
        got = parse_numbers(args, "x y", INFOS)
    except UsageError:
        return
    keys = [q.key for q in got]
    assert len(keys) == len(set(keys))
    for q in got:
        assert q.number == q.number.strip()
        assert 4 <= len(q.number) <= MAX_LEN


@given(
    st.lists(
        st.text(
            alphabet=string.ascii_letters + string.digits, min_size=4, max_size=20
        ),  # [A-Za-z0-9]{4,20}
        min_size=1,
        max_size=30,
    )
)
def test_valid_numbers_survive_in_order(raw: list[str]) -> None:
    got = [q.number for q in parse_numbers(raw, None, INFOS)]
    assert got == list(dict.fromkeys(n.upper() for n in raw))


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1h30m", 5400),
        ("45", 45),
        ("1.5h", 5400),
        (" 2 h ", 7200),
        ("500ms", 0.5),
    ],
)
def test_durations(raw: str, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["", "0s", "abc", "5x", "-5m", "8d", "1h-2m"])
def test_bad_durations(raw: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(raw)


@given(st.text(max_size=20))
def test_duration_parser_only_raises_usage_errors(raw: str) -> None:
    with contextlib.suppress(UsageError):
        assert 0 < parse_duration(raw) <= 7 * 86400


# [A-Z]{2}[0-9]{6,12}, built from its parts: the same strings as st.from_regex, at a fraction of
# its cost per draw (from_regex was 80% of this module's run time).
_NUMBER = st.builds(
    str.__add__,
    st.text(alphabet=string.ascii_uppercase, min_size=2, max_size=2),
    st.text(alphabet=string.digits, min_size=6, max_size=12),
)
# Any text but line breaks (str.splitlines also breaks at \x1c-\x1e, \x85, U+2028/9).
_COMMENT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=20
).map(lambda t: "#" + t.replace("\x85", " "))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["number", "comment", "blank", "number+comment"]),
            _NUMBER,
            _COMMENT,
        ),
        max_size=25,
    )
)
def test_number_files_skip_comments_and_blank_lines(lines: list[tuple[str, str, str]]) -> None:
    text_lines, expected = [], []
    for kind, number, comment in lines:
        if kind == "number":
            text_lines.append(number)
        elif kind == "comment":
            text_lines.append("  " + comment)
        elif kind == "blank":
            text_lines.append(" \t")
        else:
            text_lines.append(f"{number}  {comment}")
        if kind.startswith("number") and number not in expected:
            expected.append(number)
    stdin = "\n".join(text_lines)
    if not expected:
        with pytest.raises(UsageError, match="no tracking numbers"):
            numbers("-", stdin=stdin)
        return
    assert [n for n, _, _ in numbers("-", stdin=stdin)] == expected


def test_a_courier_code_as_prefix_suggests_the_carrier_that_takes_it() -> None:
    with pytest.raises(UsageError) as info:
        numbers("ups:1Z999AA10123456784", "taobao:200033789041", "trackingmor:LS912989618CN")
    message = info.value.message
    assert "trackingmore:ups:1Z999AA10123456784" in message
    assert "pandapon:taobao:200033789041" in message
    assert "did you mean trackingmore:LS912989618CN?" in message
