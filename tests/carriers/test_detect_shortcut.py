"""``detect.targets``' shortcut (issue 20): a number that one sure pattern without a check digit
matches, and no other pattern, goes to that carrier after two regex matches; for any number and
any set of patterns it gives what the whole ranking (``ranked_targets``) gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from waypost import carriers
from waypost.carriers import detect
from waypost.carriers.base import CarrierInfo, Pattern

INFOS = carriers.infos()
EXAMPLES = [p.example for info in INFOS for p in info.patterns]


def _edited(example: str, at: int, char: str) -> str:
    at %= len(example) + 1
    return example[:at] + char + example[at + 1 :]


numbers = st.one_of(
    st.from_regex(r"\d{4}[A-Z]\d{7}", fullmatch=True),  # ILS-shaped
    st.sampled_from(EXAMPLES),
    st.builds(_edited, st.sampled_from(EXAMPLES), st.integers(0, 30), st.sampled_from("0159AZS ")),
    st.from_regex(r"[0-9A-Z]{8,24}", fullmatch=True),
    st.text(alphabet="0123456789ASZE", max_size=24),
    st.text(max_size=24),
)


@settings(max_examples=400)
@given(numbers)
def test_the_shortcut_gives_what_the_ranking_gives(number: str) -> None:
    assert detect.targets(number, None, None, INFOS) == detect.ranked_targets(number, INFOS)


@given(numbers)
def test_the_shortcut_answers_only_for_one_sure_candidate(number: str) -> None:
    hit = detect.sole_detector(INFOS)(number)
    if hit is not None:
        (only,) = detect.candidates(number, INFOS)
        assert detect.sure([only]) == only
        assert (only.carrier, only.courier) == hit


def test_ils_consignments_take_the_shortcut_and_others_do_not() -> None:
    sole = detect.sole_detector(INFOS)
    assert sole("3676E4043665") == ("ils", None)
    assert sole("LS912989618CN") is None  # a check digit to test: the whole way
    assert sole("3676e4043665") is None  # not the declared form
    assert sole("986578788855") is None  # FedEx's form, confidence below sure


def info(name: str, *patterns: Pattern) -> CarrierInfo:
    return CarrierInfo(
        name=name, title=name, coverage="", settings=(), max_batch=1, patterns=patterns
    )


def pattern(regex: str, confidence: float = 0.9, **extra: object) -> Pattern:
    return Pattern(name=regex, regex=regex, example="", confidence=confidence, **extra)  # type: ignore[arg-type]


def test_a_rival_pattern_that_also_matches_sends_the_number_the_whole_way() -> None:
    infos = [info("a", pattern(r"\d{12}")), info("b", pattern(r"\d{10,14}", 0.5))]
    sole = detect.sole_detector(infos)
    assert sole("123456789012") is None
    assert sole("12345678901") is None  # only the rival matches
    assert detect.targets("123456789012", None, None, infos) == [("a", None)]


def test_a_pattern_two_carriers_declare_is_nobody_s_alone() -> None:
    shared = pattern(r"\d{4}[A-Z]\d{7}")
    infos = [info("a", shared), info("b", shared)]
    assert detect.sole_detector(infos)("3676E4043665") is None
    assert detect.targets("3676E4043665", None, None, infos) == [("a", None), ("b", None)]


def test_patterns_that_do_not_combine_leave_no_shortcut() -> None:
    grouped = [info("a", pattern(r"\d{4}[A-Z]\d{7}")), info("b", pattern(r"(\d)\d{3}", 0.5))]
    flagged = [info("a", pattern(r"\d{4}[A-Z]\d{7}")), info("b", pattern(r"(?i)x\d{3}", 0.5))]
    for infos in (grouped, flagged):
        assert detect.sole_detector(infos)("3676E4043665") is None
        assert detect.targets("3676E4043665", None, None, infos) == [("a", None)]


def test_a_courier_of_its_own_is_kept_and_a_courier_function_is_not_shortcut() -> None:
    fixed = [info("a", pattern(r"\d{4}[A-Z]\d{7}", courier="sea"))]
    assert detect.sole_detector(fixed)("3676E4043665") == ("a", "sea")
    mapped = [info("a", pattern(r"\d{4}[A-Z]\d{7}", courier_of=lambda n: n[:2]))]
    assert detect.sole_detector(mapped)("3676E4043665") is None
    assert detect.targets("3676E4043665", None, None, mapped) == [("a", "36")]


REGEXES = [
    r"\d{4}[A-Z]\d{7}",
    r"\d{12}",
    r"\d{10,14}",
    r"[A-Z]{2}\d{9}[A-Z]{2}",
    r"[0-9A-Z]{12}",
    r"1Z[A-Z0-9]{4}",
    r"(\d)\d{3}",
]
patterns = st.builds(
    pattern,
    st.sampled_from(REGEXES),
    st.sampled_from([0.5, 0.85, 0.9, 0.95]),
    check=st.sampled_from([None, None, lambda n: n.endswith("5")]),
    courier=st.sampled_from([None, "x"]),
)
pattern_sets = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.lists(patterns, max_size=3)),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
).map(lambda specs: [info(name, *ps) for name, ps in specs])
drawn_numbers = st.one_of(
    st.sampled_from(REGEXES).flatmap(lambda r: st.from_regex(r, fullmatch=True)), numbers
)


@settings(max_examples=300)
@given(pattern_sets, drawn_numbers)
def test_any_patterns_give_what_the_ranking_gives(infos: list[CarrierInfo], number: str) -> None:
    assert detect.targets(number, None, None, infos) == detect.ranked_targets(number, infos)
