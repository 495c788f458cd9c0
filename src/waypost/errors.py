"""The one error tree of waypost; every error knows the exit code it ends a run with.

::

    WaypostError                 1  something failed
    ├── UsageError               2  bad option, bad number syntax, empty input
    ├── ConfigError              3  invalid or unreadable config file, unknown key
    │   ├── NoCarrierConfigured  3  nothing to ask: no carrier has credentials
    │   └── MissingExtra         3  an optional extra (e.g. ``waypost[notify]``) is not installed
    ├── OutputError              1  standard output cannot be written (closed, I/O error)
    ├── StoreError               5  the local store cannot be used; the message names the file
    │   ├── StoreBusy            5  another waypost held the write lock past ``busy_timeout``
    │   ├── StoreCorrupt         5  the file is damaged or not a database (never overwritten)
    │   ├── StoreForeign         5  a database of another program or a newer waypost
    │   ├── StoreReadOnly        5  a write to a read-only file or directory (reads still work)
    │   ├── StoreFull            5  the disk (or ``ulimit -f``) is full; the write was undone
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


class OutputError(WaypostError):
    """Standard output is closed or cannot be written."""


class StoreError(WaypostError):
    """The SQLite store (or its directory or lock file) cannot be used; nothing was lost."""

    exit_code = 5


class StoreBusy(StoreError):
    """Another process kept the database's write lock for longer than ``busy_timeout``."""


class StoreCorrupt(StoreError):
    """The database file is damaged or is not an SQLite database."""


class StoreForeign(StoreError):
    """The database belongs to another program or to a newer waypost."""


class StoreReadOnly(StoreError):
    """A write was refused: the file or its directory is read-only."""


class StoreFull(StoreError):
    """The disk or the file-size limit is full; the transaction was rolled back."""


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


def carrier_said(name: str, err: WaypostError) -> str:
    """``err``'s message led by the carrier's name once (``ils: error code 500: ...``), as the
    one-line failure reports of ``track`` and ``watch`` give it."""
    if name == "-" or err.message.startswith(f"{name}:"):
        return err.message
    return f"{name}: {err.message}"


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
