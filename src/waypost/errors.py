"""The one error tree of waypost; every error knows the exit code it ends a run with.

::

    WaypostError                 1  something failed
    ├── UsageError               2  bad option, bad number syntax, empty input
    ├── ConfigError              3  invalid or unreadable config file, unknown key
    │   ├── NoCarrierConfigured  3  nothing to ask: no carrier has credentials
    │   └── MissingExtra         3  an optional extra (e.g. ``waypost[notify]``) is not installed
    ├── StoreError               1  the watch-list database cannot be used
    │   └── StoreLocked          0  another ``watch`` holds the lock (a note, not a failure)
    └── CarrierError             4  a carrier could not answer (per number, see below)
        ├── AuthError            3  the carrier rejected the credentials
        │   └── MissingCredentials 3  the carrier has no credentials configured
        ├── RateLimited          4  the carrier said "too many requests"
        ├── QuotaExceeded        4  the account's balance or quota is used up
        ├── ProtocolError        4  an answer that is not what the API documents (HTML, bad JSON)
        └── NetworkError         4  connect error, reset, TLS failure
            └── Timeout          4  no answer within ``--timeout`` or ``--deadline``

``CarrierError`` rarely escapes: adapters turn it into ``Shipment.error`` for the numbers it
affects, and the run's exit code is then computed from all answers (see ``exit_code_for``).
Messages never contain secrets: adapters build them from carrier text and our own words only.
"""

from __future__ import annotations

from collections.abc import Iterable


class WaypostError(Exception):
    """Root of every error waypost raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(WaypostError):
    """The command line or its input is wrong."""

    exit_code = 2


class ConfigError(WaypostError):
    """The configuration cannot be used."""

    exit_code = 3


class NoCarrierConfigured(ConfigError):
    """No carrier that could answer has credentials."""


class MissingExtra(ConfigError):
    """An optional dependency group is not installed."""


class StoreError(WaypostError):
    """The SQLite store failed."""


class StoreLocked(StoreError):
    """Another process holds the watch lock."""

    exit_code = 0


class CarrierError(WaypostError):
    """A carrier could not answer for some numbers."""

    exit_code = 4

    def __init__(self, message: str, *, hint: str | None = None, carrier: str = "") -> None:
        super().__init__(message, hint=hint)
        self.carrier = carrier


class AuthError(CarrierError):
    """The carrier rejected our credentials."""

    exit_code = 3


class MissingCredentials(AuthError):
    """The carrier that should answer has no credentials configured."""


class RateLimited(CarrierError):
    """The carrier refused the request for exceeding its rate limit."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        carrier: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint, carrier=carrier)
        self.retry_after = retry_after


class QuotaExceeded(CarrierError):
    """The account has no balance or quota left."""


class ProtocolError(CarrierError):
    """The carrier answered something its documentation does not describe."""


class NetworkError(CarrierError):
    """The carrier could not be reached."""


class Timeout(NetworkError):
    """The carrier did not answer in time."""


def exit_code_for(failures: Iterable[CarrierError | None]) -> int:
    """Exit code of a run from one entry per answered number (None = answered).

    Rejected credentials win (the user must act), then "nothing answered" (4), then "some
    failed" (1).
    """
    items = list(failures)
    failed = [f for f in items if f is not None]
    if not failed:
        return 0
    if any(isinstance(f, AuthError) for f in failed):
        return AuthError.exit_code
    if len(failed) == len(items):
        return CarrierError.exit_code
    return 1
