"""Rank carrier candidates for a number from the patterns the adapters declare (no network)."""

from __future__ import annotations

from collections.abc import Iterable
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
    sure candidate, else every usable candidate, else every carrier."""
    if carrier:
        return [(carrier, courier)]
    infos = list(infos)
    ranked = candidates(number, infos)
    top = sure(ranked)
    if top is not None:
        return [(top.carrier, top.courier)]
    plausible = [(c.carrier, c.courier) for c in ranked if c.usable]
    return list(dict.fromkeys(plausible or [(info.name, None) for info in infos]))
