"""Check digits of common parcel number formats (pure functions, no network).

Each function takes the whole number, already upper-cased, and answers whether its check digit
is right; a number of the wrong shape is simply False. Sources: UPU S10 standard (weights
8 6 4 2 3 5 9 7, modulus 11), UPS "1Z" numbers (mod 10, odd positions x1, even x2, letters by
their ASCII code), FedEx Express 12-digit (weights 3 1 7 from the left, mod 11 then mod 10),
GS1-style mod 10 with weights 3 and 1 from the right (FedEx Ground, USPS IMpb), DHL Express
(the number without its check digit, mod 7).
"""

from __future__ import annotations

import re

S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
FEDEX12_WEIGHTS = (3, 1, 7)


def _digits(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


def s10_check_digit(serial: str) -> int:
    """The S10 check digit of 8 serial digits: 11 - sum % 11, where 10 -> 0 and 11 -> 5."""
    total = sum(int(d) * w for d, w in zip(serial, S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)


def s10_ok(number: str) -> bool:
    """UPU S10: 2 letters, 8 digits, check digit, 2-letter country (``LS912989618CN``)."""
    if not re.fullmatch(r"[A-Z]{2}\d{9}[A-Z]{2}", number):
        return False
    return s10_check_digit(number[2:10]) == int(number[10])


def mod10_31(data: str) -> int:
    """GS1-style mod 10 check digit: weights 3, 1, 3, ... from the rightmost data digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(data)))
    return (10 - total % 10) % 10


def _ups_value(char: str) -> int:
    # UPS maps letters by ASCII code: A -> 2, B -> 3, ... I -> 0, J -> 1, ...
    return int(char) if char.isdigit() else (ord(char) - 63) % 10


def ups_ok(number: str) -> bool:
    """UPS ``1Z`` + 15 data characters + check digit (``1Z999AA10123456784``)."""
    if not re.fullmatch(r"1Z[A-Z0-9]{15}\d", number):
        return False
    data = number[2:17]
    total = sum(_ups_value(c) * (1 if i % 2 == 0 else 2) for i, c in enumerate(data))
    return (10 - total % 10) % 10 == int(number[17])


def fedex12_ok(number: str) -> bool:
    """FedEx Express 12 digits: weights 3 1 7 from the left, sum % 11 % 10 (``986578788855``)."""
    if not _digits(number, 12):
        return False
    total = sum(int(d) * FEDEX12_WEIGHTS[i % 3] for i, d in enumerate(number[:11]))
    return total % 11 % 10 == int(number[11])


def fedex15_ok(number: str) -> bool:
    """FedEx Ground 15 digits: mod 10, weights 3/1 from the right (``041441760228964``)."""
    return _digits(number, 15) and mod10_31(number[:14]) == int(number[14])


def fedex96_ok(number: str) -> bool:
    """FedEx Ground ``96`` 22 digits: the mod-10 check covers the 14-digit serial only."""
    if not (_digits(number, 22) and number.startswith("96")):
        return False
    return mod10_31(number[7:21]) == int(number[21])


def usps_ok(number: str) -> bool:
    """USPS IMpb / 20-digit numbers: mod 10, weights 3/1 from the right over every digit."""
    if not (_digits(number, 20) or _digits(number, 22)):
        return False
    return mod10_31(number[:-1]) == int(number[-1])


def dhl_express_ok(number: str) -> bool:
    """DHL Express 10 digits: the first 9 as a number, mod 7 (``3318810025``)."""
    return _digits(number, 10) and int(number[:9]) % 7 == int(number[9])
