"""Check digits: published examples pass, and no single mistyped digit of a number is
reported as a sure detection with a passing check."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waypost import carriers
from waypost.carriers import _checkdigits as cd
from waypost.carriers import detect
from waypost.carriers import trackingmore as tm

# Published examples: the UPU/seed docs, UPS's own sample number, and the public test numbers of
# jkeen/tracking_number_data (FedEx, USPS, DHL); the second list holds published invalid ones.
PUBLISHED: dict[str, tuple[Callable[[str], bool], list[str], list[str]]] = {
    "s10": (
        cd.s10_ok,
        ["LS912989618CN", "RR050349575PH", "RN210552627LT", "EE123456785US", "RA123456785DE"],
        ["LS912989619CN", "RR050349574PH"],
    ),
    "ups": (
        cd.ups_ok,
        ["1Z999AA10123456784", "1Z5R89390357567127", "1Z879E930346834440", "1Z410E7W0392751591"],
        ["1Z1111111111111111"],
    ),
    "fedex12": (
        cd.fedex12_ok,
        ["986578788855", "477179081230", "799531274483", "790535312317", "974367662710"],
        ["996578788855"],
    ),
    "fedex15": (
        cd.fedex15_ok,
        ["041441760228964", "568283610012000", "568283610012734"],
        ["568283610012732"],
    ),
    "fedex96": (cd.fedex96_ok, ["9611020987654312345672"], ["9600000000000000000001"]),
    "usps": (
        cd.usps_ok,
        [
            "9400111201080805483016",
            "9405803699300124287899",
            "9361289878700317633795",
            "03071790000523483741",
            "71123456789123456787",
        ],
        ["03071790000523483742", "9200000000000000000000"],
    ),
    "dhl": (
        cd.dhl_express_ok,
        ["3318810025", "8487135506", "1099255990", "3821724944", "3318810036", "3318810014"],
        ["3318810010", "3318810034", "3318810011"],
    ),
}


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_examples(name: str) -> None:
    check, valid, invalid = PUBLISHED[name]
    assert all(check(n) for n in valid), [n for n in valid if not check(n)]
    assert not any(check(n) for n in invalid), [n for n in invalid if check(n)]


def test_the_spec_example_is_not_a_valid_impb_number() -> None:
    # SPEC.md's `trackingmore:usps:9400111899223197428490` fails the mod-10 check: detection
    # will not claim it, which is why the sandbox uses it as the not-found case.
    assert not cd.usps_ok("9400111899223197428490")


def test_check_functions_reject_the_wrong_shape() -> None:
    for check, _, _ in PUBLISHED.values():
        for bad in ("", "ABC", "12345678901234567890123", "LS91298961XCN", "１２３４５６７８９０"):
            assert check(bad) is False


def _corruptions(number: str) -> list[str]:
    return [
        number[:i] + d + number[i + 1 :]
        for i, c in enumerate(number)
        if c.isdigit()
        for d in "0123456789"
        if d != c
    ]


INFOS = carriers.infos()
EXAMPLES = [(p.name, p.example) for p in tm.INFO.patterns] + [
    (name, n) for name, (_, valid, _) in PUBLISHED.items() for n in valid
]


@pytest.mark.parametrize(("name", "example"), EXAMPLES)
def test_no_single_digit_typo_is_a_sure_detection_with_a_passing_check(
    name: str, example: str
) -> None:
    assert detect.candidates(example, INFOS)
    for typo in _corruptions(example):
        top = detect.sure(detect.candidates(typo, INFOS))
        assert top is None or top.check is not True, (example, typo, top)


def test_every_declared_example_passes_its_own_check_and_the_strong_ones_are_sure() -> None:
    for pattern in tm.INFO.patterns:
        assert pattern.check is not None
        assert pattern.check(pattern.example), pattern.name
        top = detect.sure(detect.candidates(pattern.example, INFOS))
        assert (top is not None) is (pattern.confidence >= detect.SURE), pattern.name
        if top is not None:
            assert top.carrier == "trackingmore"


@pytest.mark.parametrize(
    ("number", "courier"),
    [
        ("LS912989618CN", "china-post"),
        ("EE528374616CN", "china-ems"),
        ("RN210552627LT", "lietuvos-pastas"),
        ("EE123456785US", "usps"),
        ("9400111201080805483016", "usps"),
        ("1Z999AA10123456784", "ups"),
        ("3318810025", "dhl"),
    ],
)
def test_detection_names_the_courier(number: str, courier: str) -> None:
    (top, *_) = detect.candidates(number, INFOS)
    assert (top.carrier, top.courier, top.check) == ("trackingmore", courier, True)


digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
letters = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)


@given(
    service=letters,
    serial=st.text(alphabet="0123456789", min_size=8, max_size=8),
    country=letters,
    where=st.integers(0, 8),
    new=digits,
)
def test_any_s10_typo_never_passes_both_check_and_sureness(
    service: str, serial: str, country: str, where: int, new: str
) -> None:
    number = f"{service}{serial}{cd.s10_check_digit(serial)}{country}"
    assert cd.s10_ok(number)
    position = 2 + where
    typo = number[:position] + new + number[position + 1 :]
    if typo == number:
        return
    top = detect.sure(detect.candidates(typo, INFOS))
    assert top is None or not cd.s10_ok(typo)


@given(data=st.text(alphabet="0123456789", min_size=19, max_size=19), where=st.integers(0, 21))
def test_any_impb_typo_fails_the_check(data: str, where: int) -> None:
    number = "94" + data
    number += str(cd.mod10_31(number))
    typo = number[:where] + str((int(number[where]) + 1) % 10) + number[where + 1 :]
    assert cd.usps_ok(number)
    assert not cd.usps_ok(typo)
