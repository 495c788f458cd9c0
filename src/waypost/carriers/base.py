"""What a carrier adapter declares, and the protocol every adapter implements.

This module stays light (no httpx, no pydantic): the CLI reads the declarations for ``config``
and ``carriers`` without paying for the network stack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from waypost.errors import CarrierError
    from waypost.http import Session
    from waypost.models import Shipment
    from waypost.store.protocols import StateStore

SettingKind = Literal["str", "float", "int"]


@dataclass(frozen=True)
class Setting:
    """One key of a carrier's ``[carriers.NAME]`` config section."""

    key: str
    help: str
    kind: SettingKind = "str"
    secret: bool = False
    credential: bool = False
    default: str | float | int | None = None
    allow_zero: bool = False
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def env_var(self, carrier: str) -> str:
        """The environment variable that overrides this key."""
        return f"WAYPOST_{carrier.upper()}_{self.key.upper()}"


def base_url(default: str) -> Setting:
    """The ``base_url`` setting every carrier has."""
    return Setting("base_url", "API base URL (for the sandbox or a proxy)", default=default)


def timezone(default: str | None) -> Setting:
    """The zone of the carrier's naive timestamps."""
    return Setting("timezone", "IANA zone of the carrier's local times", default=default)


def rate(key: str, default: float | None, what: str) -> Setting:
    """A requests-per-second limit."""
    return Setting(key, f"max requests per second to {what}", kind="float", default=default)


@cache
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


@dataclass(frozen=True)
class Pattern:
    """A number format a carrier recognises, with an optional check-digit test."""

    name: str
    regex: str
    example: str
    confidence: float
    courier: str | None = None
    check: Callable[[str], bool] | None = None
    describe: str = ""
    courier_of: Callable[[str], str | None] | None = None

    def courier_for(self, number: str) -> str | None:
        """The underlying courier this pattern implies for ``number``."""
        if self.courier_of is not None:
            return self.courier_of(number)
        return self.courier

    @cached_property
    def match(self) -> Callable[[str], re.Match[str] | None]:
        """Full-match a number against this pattern (compiled on first use)."""
        return _compiled(self.regex).fullmatch


@dataclass(frozen=True)
class RateLimit:
    """A documented (or configured) request rate for one endpoint family."""

    name: str
    per_second: float


def _no_stand_in(status: int) -> Any:
    return None


@dataclass(frozen=True)
class AnswerCodes:
    """A carrier's declared answer envelope, the table ``http.read_answer`` reads answers by.

    ``envelope(payload)``: the body is the carrier's envelope, the answer whatever the HTTP
    status. ``bare``: HTTP statuses that, sent without an envelope, stand for the carrier's code
    of the same number; ``stand_in(status)`` is the envelope then read instead (so the carrier's
    one code table maps them), or raises the carrier's error. Other bare statuses: 401/403
    credentials rejected, 429 rate limited, the rest a one-line error.
    """

    envelope: Callable[[Any], bool]
    stand_in: Callable[[int], Any] = _no_stand_in
    bare: frozenset[int] = frozenset()


@dataclass(frozen=True)
class CarrierInfo:
    """The facts a carrier package declares in its ``__init__``.

    ``capabilities``: operations beyond ``track`` its adapter offers (``remove``: delete numbers
    from the carrier's account; ``couriers``: list the courier codes it knows; ``check``: one
    real call that says whether the credentials work). ``watch_cursor``: its ``watch`` reads
    what changed in the whole account since one cursor, so a pass shared by several hosts gives
    all its shipments to one of them.
    ``effective_settings``: the settings with version-dependent defaults filled in (display).
    ``number_form``: a full-match regex of every number the carrier can hold (None: any); a
    number without a prefix that no pattern detects is not asked of a carrier it does not fit,
    and one named for it (``pandapon:ABC``) is a usage error saying ``number_help``.
    """

    name: str
    title: str
    coverage: str
    settings: tuple[Setting, ...]
    max_batch: int
    patterns: tuple[Pattern, ...] = ()
    docs: str = ""
    docs_url: str = ""
    credentials_from: str = ""
    case_sensitive: bool = False
    courier_regex: str | None = None
    courier_help: str = ""
    max_connections: int = 8
    rate_notes: tuple[str, ...] = field(default_factory=tuple)
    capabilities: frozenset[str] = frozenset()
    watch_cursor: bool = False
    effective_settings: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    number_form: str | None = None
    number_help: str = ""

    def admits(self, number: str) -> bool:
        """True when ``number`` has the form of this carrier's numbers (``number_form``)."""
        return self.number_form is None or re.fullmatch(self.number_form, number) is not None

    @property
    def credentials(self) -> tuple[Setting, ...]:
        """The settings without which the carrier cannot be asked."""
        return tuple(s for s in self.settings if s.credential)

    @property
    def secrets(self) -> tuple[Setting, ...]:
        """The settings that must never be shown."""
        return tuple(s for s in self.settings if s.secret)

    def setting(self, key: str) -> Setting | None:
        """The declared setting called ``key``."""
        return next((s for s in self.settings if s.key == key), None)


@dataclass(frozen=True)
class Query:
    """One number to ask a carrier, as the user gave it, normalised."""

    number: str
    carrier: str | None = None
    courier: str | None = None
    raw: str = ""

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        """Identity used to de-duplicate input."""
        return (self.number, self.carrier, self.courier)


@dataclass
class TrackOptions:
    """How a run wants numbers answered.

    ``refresh``: bypass caches of recent answers. ``save``: the numbers join the watch list (a
    carrier with an account, like TrackingMore, adds them there too). ``wait``: wait out a
    carrier's rate-limit pause instead of reporting it. ``watch``: a ``watch`` refresh of known
    numbers; an adapter may then answer ``Answer(unchanged=True)`` for numbers the carrier says
    did not change since ``since`` (a Unix time, the last successful refresh).

    ``after_delivery``: state that must not move before the news it covers is safe (a carrier's
    "updated since" cursor) is handed over as an action; ``watch`` runs it once the pass's news
    of that carrier has been delivered and stored, any other run at once.
    """

    refresh: bool = False
    save: bool = False
    wait: bool = False
    watch: bool = False
    since: float | None = None
    on_answered: Callable[[str, int], None] | None = None
    on_answer: Callable[[Answer], None] | None = None
    deferred: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)  # shown after the answers ("hint: ...")

    def after_delivery(self, carrier: str, action: Callable[[], None]) -> None:
        """Run ``action`` once ``carrier``'s news is delivered and stored (see above)."""
        if self.watch:
            self.deferred.append((carrier, action))
        else:
            action()

    def answered(self, carrier: str, count: int) -> None:
        """Tell the progress display that ``count`` more numbers of ``carrier`` are answered."""
        if self.on_answered is not None:
            self.on_answered(carrier, count)

    def deliver(self, answer: Answer) -> Answer:
        """Hand a complete answer to the run at once, before ``track`` returns (streaming)."""
        if self.on_answer is not None:
            self.on_answer(answer)
        return answer


@dataclass
class Answer:
    """What one carrier said about one query: usually one Shipment, several for multi-parcel
    orders, and a single failed Shipment when the carrier could not answer."""

    query: Query
    shipments: list[Shipment]
    unchanged: bool = False

    @property
    def failure(self) -> CarrierError | None:
        """The error when the carrier could not answer this query."""
        return next((s.failure for s in self.shipments if s.failure is not None), None)

    @property
    def found(self) -> bool:
        """True when the carrier knows the number."""
        return any(s.found for s in self.shipments)


class Cache(Protocol):
    """Key-value cache an adapter may use (the store provides it)."""

    def get(self, namespace: str, key: str, max_age: float | None = None) -> Any | None:
        """The cached value, or None when absent or older than ``max_age`` seconds."""

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Remember ``value``."""

    @property
    def state(self) -> StateStore:
        """Adapters' durable state kept beside this cache."""


def state_of(cache: Cache | None, state: StateStore | None = None) -> StateStore | None:
    """The adapters' durable state: ``state``, else the one kept beside ``cache``."""
    if state is not None or cache is None:
        return state
    return cache.state


class _Puts(Protocol):
    def put(self, namespace: str, key: str, value: Any) -> None: ...


def put_many(target: _Puts, namespace: str, items: Iterable[tuple[str, Any]]) -> None:
    """``target.put`` (a cache or a state store) of several values, in one write where the
    target offers ``put_many``."""
    many = getattr(target, "put_many", None)
    if many is not None:
        many(namespace, items)
        return
    for key, value in items:
        target.put(namespace, key, value)


class MemoryCache:
    """A Cache kept in memory (tests, and runs without a store)."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        import time

        self._clock = clock or time.time
        self._data: dict[tuple[str, str], tuple[float, Any]] = {}

    def get(self, namespace: str, key: str, max_age: float | None = None) -> Any | None:
        """The cached value, or None when absent or too old."""
        hit = self._data.get((namespace, key))
        if hit is None or (max_age is not None and self._clock() - hit[0] > max_age):
            return None
        return hit[1]

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Remember ``value`` now."""
        self._data[(namespace, key)] = (self._clock(), value)

    @property
    def state(self) -> MemoryCache:
        """The same memory: without a store, state lives as long as the cache."""
        return self


class Adapter(Protocol):
    """A carrier adapter: numbers in, one Shipment (or more) per number out."""

    info: CarrierInfo

    async def track(self, queries: Sequence[Query], options: TrackOptions) -> list[Answer]:
        """Answer every query; failures become ``Shipment.error``, never exceptions."""


AdapterFactory = Callable[
    [Mapping[str, Any], "Session", "Cache | None", "StateStore | None"], Adapter
]
