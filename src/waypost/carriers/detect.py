"""Rank carrier candidates for a number from the patterns the adapters declare (no network)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from waypost.carriers.base import CarrierInfo

SURE = 0.9


@dataclass(frozen=True)
class Candidate:
    """One carrier that could have a number, and why."""

    carrier: str
    courier: str | None
    confidence: float
    pattern: str
    check: bool | None

    @property
    def reason(self) -> str:
        """Pattern name and check-digit verdict, for ``carriers --detect``."""
        verdict = {True: "check digit ok", False: "check digit FAILED", None: "no check digit"}
        return f"{self.pattern} ({verdict[self.check]})"

    @property
    def usable(self) -> bool:
        """False when a check digit proves the number cannot be this carrier's."""
        return self.check is not False


def candidates(number: str, infos: Iterable[CarrierInfo]) -> list[Candidate]:
    """Every matching pattern of every carrier, most confident first."""
    found: list[Candidate] = []
    for info in infos:
        for pattern in info.patterns:
            if not pattern.match(number):
                continue
            ok = pattern.check(number) if pattern.check is not None else None
            found.append(
                Candidate(
                    carrier=info.name,
                    courier=pattern.courier_for(number),
                    confidence=0.0 if ok is False else pattern.confidence,
                    pattern=pattern.name,
                    check=ok,
                )
            )
    if len(found) > 1:
        found.sort(key=lambda c: c.confidence, reverse=True)
    return found


def sure(ranked: list[Candidate]) -> Candidate | None:
    """The candidate when detection is sure: confident and without a close rival carrier."""
    usable = [c for c in ranked if c.usable]
    if not usable or usable[0].confidence < SURE:
        return None
    top = usable[0]
    rivals = [c for c in usable[1:] if c.carrier != top.carrier and c.confidence >= SURE]
    return None if rivals else top


def targets(
    number: str, carrier: str | None, courier: str | None, infos: Iterable[CarrierInfo]
) -> list[tuple[str, str | None]]:
    """The (carrier, courier) pairs a run asks for one number: the prefix when given, else the
    sure candidate, else every usable candidate, else every carrier whose numbers it fits."""
    if carrier:
        return [(carrier, courier)]
    infos = list(infos)
    sole = sole_detector(infos)(number)
    if sole is not None:
        return [sole]
    return ranked_targets(number, infos)


def ranked_targets(number: str, infos: Sequence[CarrierInfo]) -> list[tuple[str, str | None]]:
    """``targets`` of a number without a prefix, the whole way: every candidate ranked."""
    ranked = candidates(number, infos)
    top = sure(ranked)
    if top is not None:
        return [(top.carrier, top.courier)]
    plausible = [(c.carrier, c.courier) for c in ranked if c.usable]
    anyone = [(info.name, None) for info in infos if info.admits(number)]
    return list(dict.fromkeys(plausible or anyone))


Target = tuple[str, str | None]
Sole = Callable[[str], Target | None]
# Detectors by the identities of the infos they were made for (kept alive beside them).
_SOLES: dict[tuple[int, ...], tuple[Sequence[CarrierInfo], Sole]] = {}
_NO_RIVAL = re.compile(r"(?!)").fullmatch  # matches nothing


def sole_detector(infos: Sequence[CarrierInfo]) -> Sole:
    """``targets``' shortcut for ``infos``: the (carrier, courier) of a number that matches one
    pattern alone, a sure one without a check digit (an ILS consignment), else None.

    Such a number has that one candidate, which ``sure`` takes; every other number goes the
    whole way. Two regex matches instead of a candidate per pattern and their ranking."""
    key = tuple(map(id, infos))
    hit = _SOLES.get(key)
    if hit is None:
        if len(_SOLES) > 16:
            _SOLES.clear()
        hit = _SOLES[key] = (infos, _make_sole(infos))
    return hit[1]


def _make_sole(infos: Sequence[CarrierInfo]) -> Sole:
    every = [(info, p) for info in infos for p in info.patterns]
    checks = []
    for at, (info, pattern) in enumerate(every):
        if pattern.check is not None or pattern.courier_of is not None:
            continue
        if pattern.confidence < SURE:
            continue
        rivals = _any_of([p.regex for i, (_, p) in enumerate(every) if i != at])
        if rivals is None:
            return _nothing
        checks.append((pattern.match, rivals, (info.name, pattern.courier)))

    def sole(number: str) -> Target | None:
        for match, rivals, target in checks:
            if match(number) and not rivals(number):
                return target
        return None

    return sole if checks else _nothing


def _any_of(regexes: list[str]) -> Callable[[str], object] | None:
    """One full match for "any of ``regexes``", or None when they do not combine safely (groups,
    which one combined pattern would number anew, or a bad pattern)."""
    if not regexes:
        return _NO_RIVAL
    try:
        if any(re.compile(r).groups for r in regexes):
            return None
        return re.compile("|".join(f"(?:{r})" for r in regexes)).fullmatch
    except re.error:
        return None


def _nothing(number: str) -> None:
    return None
