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

Hostile kinds (``HOSTILE``, not in ``KINDS`` so the everyday fault suite stays fast): ``huge``
(a 200 MB JSON body), ``bomb`` (a ~1 MB gzip body inflating to 1 GB), ``endless`` (a body that
never finishes within any timeout), ``deep`` (JSON nested 100,000 deep), ``html200`` (an HTML
page with status 200), ``pause`` (429 with ``Retry-After: 99999999``), and three that rewrite
the real answer: ``dates`` (every date ``0001-01-01`` or ``9999-12-31``), ``surrogate`` (a lone
``\\ud800`` after every text) and ``nulls`` (every nested list ``null``).
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from waypost.errors import UsageError

KINDS = ("500", "502", "503", "429", "truncated", "shape", "empty", "slow", "hang")
HOSTILE = ("huge", "bomb", "endless", "deep", "html200", "pause", "dates", "surrogate", "nulls")
REWRITES = ("dates", "surrogate", "nulls")
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
        if not m or m["kind"] not in (*KINDS, *HOSTILE):
            raise UsageError(
                f"bad fault rule {part!r}: use KIND[@CARRIER[/PATH]][:RATE|:xCOUNT], "
                f"KIND one of {', '.join((*KINDS, *HOSTILE))}"
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


_JSON = {"Content-Type": "application/json"}
_DATE_KEYS = frozenset(
    {"date", "Date", "acceptTime", "time", "lastUpdateTime", "lastscan", "Lastscan"}
)
_ODD_DATES = ("0001-01-01 00:00:00", "9999-12-31 23:59:59", "9999999999999")
# Keys whose values identify a shipment: rewriting them would only make it unknown.
_IDS = frozenset({"consignment", "tracking_number", "carrier_code", "code", "orderId", "mailNo"})


@cache
def hostile_answer(kind: str) -> tuple[int, dict[str, str], bytes, float] | None:
    """``(status, headers, body, trickle seconds)`` of a hostile kind that ignores the real
    answer; None for the kinds that rewrite it (built once: the big bodies are reused)."""
    if kind == "huge":
        return 200, _JSON, b'{"padding": "' + b"x" * (200 << 20) + b'"}', 0.0
    if kind == "bomb":
        member = gzip.compress(b" " * (1 << 20), compresslevel=9)
        return 200, {**_JSON, "Content-Encoding": "gzip"}, member * 1024, 0.0
    if kind == "endless":
        return 200, _JSON, b'{"a":' * (1 << 20), HANG_SECONDS
    if kind == "deep":
        return 200, _JSON, b"[" * 100_000 + b"]" * 100_000, 0.0
    if kind == "html200":
        return 200, {"Content-Type": "text/html"}, html_page("502"), 0.0
    if kind == "pause":
        return 429, {"Content-Type": "text/html", "Retry-After": "99999999"}, html_page("429"), 0.0
    return None


def rewrite(kind: str, body: bytes) -> bytes:
    """The real answer ``body`` rewritten by a ``REWRITES`` kind (non-JSON stays as it is)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    dates = itertools.cycle(_ODD_DATES)

    def walk(node: Any, key: str | None, depth: int) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, k, depth + 1) for k, v in node.items()}
        if isinstance(node, list):
            if kind == "nulls" and depth >= 3:
                return None
            return [walk(v, key, depth + 1) for v in node]
        if kind == "dates" and key in _DATE_KEYS and isinstance(node, str | int):
            return next(dates)
        if kind == "surrogate" and isinstance(node, str) and key not in _IDS:
            return node + "\ud800"
        return node

    # ASCII escapes: a lone surrogate has no UTF-8 form, but "\\ud800" is valid JSON.
    return json.dumps(walk(payload, None, 0)).encode("ascii")
