"""Parsers of user input: tracking numbers (argv and stdin) and durations.

Standard input may be a file of numbers: blank lines and ``#`` comments (whole lines or the rest
of a line) are skipped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from waypost.carriers.base import CarrierInfo, Query
from waypost.errors import UsageError

MAX_NUMBERS = 100_000
MIN_LEN, MAX_LEN = 4, 64
_VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_SPLIT = re.compile(r"[\s,;]+")
_SHOWN_ERRORS = 5


@dataclass(frozen=True)
class Token:
    """One raw number and where it came from (for error messages)."""

    text: str
    origin: str


def tokens(args: Iterable[str], stdin_text: str | None) -> list[Token]:
    """Split argv and (for ``-``) stdin into raw number tokens."""
    out: list[Token] = []
    for pos, arg in enumerate(args, 1):
        if arg == "-":
            if stdin_text is None:
                raise UsageError("`-` given but there is no standard input")
            # A UTF-8 byte-order mark (files saved by Windows editors) is not part of a number.
            text_in = stdin_text[1:] if stdin_text.startswith("\ufeff") else stdin_text
            for lineno, line in enumerate(text_in.splitlines(), 1):
                text = line.partition("#")[0]
                out.extend(Token(t, f"stdin line {lineno}") for t in _SPLIT.split(text) if t)
                if len(out) > MAX_NUMBERS:  # before the rest of a huge input becomes tokens
                    break
        else:
            # One argument is one number: "1Z 999 AA1 01" is how people copy them.
            joined = "".join(arg.split())
            if joined:
                out.append(Token(joined, f"argument {pos}"))
        if len(out) > MAX_NUMBERS:
            raise UsageError(f"too many numbers (more than {MAX_NUMBERS:,} in one run)")
    return out


def count(lines: str) -> int:
    """How many number tokens ``tokens`` finds in these lines of standard input (at most)."""
    return sum(
        len([t for t in _SPLIT.split(line.partition("#")[0]) if t]) for line in lines.split("\n")
    )


def _clean(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip()


def _show(raw: str) -> str:
    """``raw`` escaped once (``\\x1b``), cut at 40 characters, without quotes."""
    return _quoted(raw)[1:-1]


def _quoted(raw: str) -> str:
    """``raw`` escaped once and quoted (``'AB\\x1b[31mCD'``), cut at 40 characters."""
    return ascii(raw if len(raw) <= 40 else raw[:37] + "...")


def _prefix_hint(name: str, rest: str, infos: dict[str, CarrierInfo]) -> str:
    """A "did you mean" for an unknown prefix: a close carrier name, or the carrier that takes
    it as a courier code (``ups:1Z...`` is ``trackingmore:ups:1Z...``)."""
    import difflib

    close = difflib.get_close_matches(name, list(infos), n=1, cutoff=0.75)
    if close:
        return f"; did you mean {close[0]}:{_show(rest)}?"
    takers = [
        i.name
        for i in infos.values()
        if i.courier_regex and re.fullmatch(i.courier_regex, name) and ":" not in rest
    ]
    # A carrier that lists its few couriers word by word beats one that takes any code.
    takers.sort(key=lambda n: not re.fullmatch(r"[\w|]+", infos[n].courier_regex or ""))
    if takers:
        return f"; for a courier code, put the carrier first: {takers[0]}:{name}:{_show(rest)}"
    return ""


def parse_token(
    token: Token, infos: dict[str, CarrierInfo], default_carrier: str | None = None
) -> Query:
    """One token -> a Query; a UsageError says what is wrong with it."""
    raw = _clean(token.text)
    carrier = default_carrier
    courier: str | None = None
    number = raw
    if ":" in raw:
        head, _, rest = raw.partition(":")
        name = head.lower()
        if name not in infos:
            raise UsageError(
                f"{token.origin}: unknown carrier prefix {_quoted(head)} "
                f"(known: {', '.join(infos)})" + _prefix_hint(name, rest, infos)
            )
        carrier, number = name, rest
        info = infos[name]
        if ":" in rest:
            courier, _, number = rest.partition(":")
            if info.courier_regex is None:
                raise UsageError(f"{token.origin}: {name} takes no courier part in {_quoted(raw)}")
            courier = courier.lower()
            if not re.fullmatch(info.courier_regex, courier):
                raise UsageError(
                    f"{token.origin}: invalid {name} courier {_quoted(courier)}"
                    + (f" ({info.courier_help})" if info.courier_help else "")
                )
    if not _VALID.fullmatch(number):
        bad = next((c for c in number if not re.match(r"[A-Za-z0-9-]", c)), None)
        why = "is empty" if not number else f"contains {bad!r}" if bad else "is malformed"
        raise UsageError(
            f"{token.origin}: {_quoted(token.text)} {why}; numbers are letters, digits and '-'"
        )
    if not MIN_LEN <= len(number) <= MAX_LEN:
        raise UsageError(
            f"{token.origin}: {_quoted(number)} is {len(number)} characters long; "
            f"a tracking number has {MIN_LEN} to {MAX_LEN}"
        )
    target = infos.get(carrier) if carrier else None
    if target is None or not target.case_sensitive:
        number = number.upper()
    return Query(number=number, carrier=carrier, courier=courier, raw=token.text)


def parse_numbers(
    args: Iterable[str],
    stdin_text: str | None,
    infos: dict[str, CarrierInfo],
    default_carrier: str | None = None,
) -> list[Query]:
    """Every number of a run: validated, normalised, de-duplicated in first-seen order."""
    if default_carrier is not None and default_carrier not in infos:
        raise UsageError(f"unknown carrier {default_carrier!r} (known: {', '.join(infos)})")
    seen: dict[tuple[str, str | None, str | None], Query] = {}
    errors: list[str] = []
    for token in tokens(args, stdin_text):
        try:
            query = parse_token(token, infos, default_carrier)
        except UsageError as exc:
            errors.append(exc.message)
            continue
        # A user's number named for a carrier it cannot fit (stored ones are read as they are).
        target = infos.get(query.carrier) if query.carrier else None
        if target is not None and not target.admits(query.number):
            errors.append(
                f"{token.origin}: {_quoted(query.number)} cannot be a {target.name} number"
                + (f" ({target.number_help})" if target.number_help else "")
            )
            continue
        seen.setdefault(query.key, query)
    if errors:
        more = len(errors) - _SHOWN_ERRORS
        lines = errors[:_SHOWN_ERRORS] + ([f"... and {more} more"] if more > 0 else [])
        raise UsageError("invalid tracking number:\n  " + "\n  ".join(lines))
    if not seen:
        raise UsageError("no tracking numbers given", hint="pass NUMBER... or `-` to read stdin")
    return list(seen.values())


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?", re.I)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
MAX_DURATION = 7 * 86400


def parse_duration(raw: str) -> float:
    """``90s``, ``15m``, ``2h``, ``1h30m`` or plain seconds -> seconds (> 0, at most 7 days)."""
    cleaned = "".join(raw.split()).lower()
    pos, total = 0, 0.0
    if not cleaned:
        raise UsageError("empty duration; use e.g. 90s, 15m or 2h")
    while pos < len(cleaned):
        m = _DURATION.match(cleaned, pos)
        if not m or m.end() == pos:
            raise UsageError(f"invalid duration {_quoted(raw)}; use e.g. 90s, 15m or 2h")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if total <= 0:
        raise UsageError(f"duration {_quoted(raw)} must be greater than zero")
    if total > MAX_DURATION:
        raise UsageError(f"duration {_quoted(raw)} is longer than 7 days")
    return total
