"""Fault injection for the sandbox: make any endpoint misbehave, by rate or for the next K requests.

A rule is ``KIND[@CARRIER[/PATH]][:RATE|:xCOUNT]``; several are joined with commas::

    500@ils            every ILS request answers 500 with an HTML page
    429@trackingmore:x2   the next two TrackingMore requests answer 429 + Retry-After
    hang@pandapon:0.5  half of PandaPon's requests never answer
    truncated          every request of every carrier: JSON cut in the middle

Kinds: ``500``, ``502``, ``503`` (HTML error page), ``429`` (with ``Retry-After``), ``truncated``
(the real answer cut in half), ``shape`` (valid JSON of the wrong shape), ``empty`` (200 with
no body), ``slow`` (the real answer trickled out over ``SLOW_SECONDS``), ``hang`` (no answer;
the connection is held until the client gives up).
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field

from waypost.errors import UsageError

KINDS = ("500", "502", "503", "429", "truncated", "shape", "empty", "slow", "hang")
SLOW_SECONDS = 3.0
HANG_SECONDS = 120.0
RETRY_AFTER = "1"

_RULE = re.compile(
    r"(?P<kind>[a-z0-9]+)(?:@(?P<carrier>[a-z*]+)(?P<path>/[^:]*)?)?(?::(?:x(?P<count>\d+)|(?P<rate>[0-9.]+)))?"
)

_PAGES = {
    "500": "500 Internal Server Error",
    "502": "502 Bad Gateway",
    "503": "503 Service Temporarily Unavailable",
    "429": "429 Too Many Requests",
}


def html_page(kind: str) -> bytes:
    """The kind of error page a reverse proxy in front of an API sends."""
    title = _PAGES[kind]
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1>"
        "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


@dataclass
class Fault:
    """One rule."""

    kind: str
    carrier: str | None = None
    path: str | None = None
    rate: float = 1.0
    count: int | None = None

    def matches(self, carrier: str, path: str) -> bool:
        """True when this rule covers the request."""
        if self.carrier not in (None, "*", carrier):
            return False
        return self.path is None or path.startswith(self.path)


def parse(spec: str) -> list[Fault]:
    """``--faults`` text -> rules; a UsageError says what is wrong."""
    faults = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        m = _RULE.fullmatch(part)
        if not m or m["kind"] not in KINDS:
            raise UsageError(
                f"bad fault rule {part!r}: use KIND[@CARRIER[/PATH]][:RATE|:xCOUNT], "
                f"KIND one of {', '.join(KINDS)}"
            )
        rate = float(m["rate"]) if m["rate"] else 1.0
        if not 0 < rate <= 1:
            raise UsageError(f"bad fault rule {part!r}: the rate must be in (0, 1]")
        faults.append(
            Fault(m["kind"], m["carrier"], m["path"], rate, int(m["count"]) if m["count"] else None)
        )
    return faults


@dataclass
class Faults:
    """The active rules of one sandbox (thread-safe)."""

    rules: list[Fault] = field(default_factory=list)
    seed: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def set(self, rules: list[Fault]) -> None:
        """Replace every rule."""
        with self._lock:
            self.rules = list(rules)

    def pick(self, carrier: str, path: str) -> str | None:
        """The fault to play for this request, if any (consumes one of a rule's COUNT)."""
        with self._lock:
            for rule in self.rules:
                if not rule.matches(carrier, path):
                    continue
                if rule.count is not None:
                    if rule.count <= 0:
                        continue
                    rule.count -= 1
                    return rule.kind
                if self._rng.random() < rule.rate:
                    return rule.kind
        return None
