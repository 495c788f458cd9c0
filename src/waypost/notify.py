"""Telling the user about news: Apprise URLs (``--notify``) and hooks (``--exec``).

A hook is split with ``shlex`` and run without a shell: carrier text reaches it only as data,
on stdin (the shipment JSON, exactly as the carrier sent it, from a file) and, made harmless by
``safe.field``, in ``WAYPOST_NUMBER``/``WAYPOST_CARRIER``/``WAYPOST_STATUS``/``WAYPOST_LABEL``.
Its environment is a clean one (SPEC.md, "Carrier data is data"): the basics a program needs to
run (``PATH``, ``HOME``, locale, zone, the desktop session for ``notify-send``) and those four,
never a credential. What it prints (stdout to stdout, stderr to stderr) is passed on, made
harmless too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from waypost import safe
from waypost.errors import MissingExtra, UsageError

if TYPE_CHECKING:
    from waypost.models import Shipment

HOOK_TIMEOUT = 60.0
# The only variables a hook inherits: enough to find programs, speak the locale and reach the
# desktop session; no WAYPOST_* setting, no credential of any other tool.
HOOK_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "TERM",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XDG_RUNTIME_DIR",
    "DBUS_SESSION_BUS_ADDRESS",
)


@dataclass
class Notifier:
    """Every channel of one ``watch`` run."""

    urls: Sequence[str] = ()
    command: list[str] | None = None
    _apprise: Any = None

    @classmethod
    def build(cls, urls: Sequence[str], command: str | None) -> Notifier:
        """Validate the channels up front: a missing extra or a bad URL stops the run early."""
        argv = None
        if command is not None:
            try:
                argv = shlex.split(command)
            except ValueError as exc:
                raise UsageError(f"--exec: cannot split {command!r}: {exc}") from None
            if not argv:
                raise UsageError(
                    f"--exec needs a command, not {command!r}",
                    hint="leave --exec out to run no hook",
                )
        notifier = cls(urls=list(urls), command=argv)
        if urls:
            try:
                import apprise
            except ImportError:
                raise MissingExtra(
                    "--notify needs Apprise, which is not installed",
                    hint="install the extra: pip install 'waypost[notify]' "
                    "(in a clone of the source: pip install '.[notify]')",
                ) from None
            notifier._apprise = apprise.Apprise()
            for url in urls:
                if not notifier._apprise.add(url):
                    from waypost.redaction import redact

                    raise UsageError(
                        f"--notify: not a notification URL Apprise understands: {redact(url)!r}"
                    )
        return notifier

    @property
    def active(self) -> bool:
        """True when there is at least one channel besides stdout."""
        return bool(self.urls or self.command)

    def deliver(
        self,
        shipment: Shipment,
        payload: str,
        text: str,
        *,
        label: str | None = None,
        echo: Callable[[str], object] | None = None,
        state: str | None = None,
    ) -> list[str]:
        """Hand one shipment's news to every channel; the failures, one line each.

        ``text`` is the notification body (already safe); ``echo`` takes the hook's output;
        ``state`` names the news in the title instead of the status (``stalled``)."""
        problems = []
        number = safe.field(shipment.tracking_number)
        body = safe.lines(text)
        if self._apprise is not None:
            with _apprise_log() as heard:
                sent = self._apprise.notify(title=title(shipment, label, state), body=body)
            if not sent:
                cause = failure_cause(heard)
                problems.append(
                    f"notification for {number} was not delivered" + (f": {cause}" if cause else "")
                )
        if self.command:
            problem = run_hook(self.command, shipment, payload, label=label, echo=echo)
            if problem:
                problems.append(problem)
        return problems


# Apprise says why a notification failed only in its log: a warning ("A Connection error
# occurred sending JSON notification to HOST.") and, at debug level, the exception itself.
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^\"'()\]]+)")


@contextlib.contextmanager
def _apprise_log() -> Iterator[list[logging.LogRecord]]:
    """The records Apprise logs meanwhile, every level, kept out of every other handler."""
    heard: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            heard.append(record)

    logger = logging.getLogger("apprise")
    handler, level, propagate = Keep(logging.DEBUG), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield heard
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def failure_cause(records: Sequence[logging.LogRecord]) -> str:
    """Why Apprise failed, one line: its warnings and errors, with the OS's reason where it
    logged one ("Connection refused"); secrets masked, control characters made harmless."""
    from waypost.redaction import redact

    said = [r.getMessage().strip().rstrip(".") for r in records if r.levelno >= logging.WARNING]
    reasons = [m.group(1).strip() for r in records for m in _ERRNO.finditer(r.getMessage())]
    parts = list(dict.fromkeys(said))
    if reasons:
        parts.append(reasons[-1])
    return safe.field(redact("; ".join(parts)))


def title(shipment: Shipment, label: str | None = None, state: str | None = None) -> str:
    """``waypost: LABEL (NUMBER) delivered, ils``: label, new status (or ``state``) and
    carrier on one line, carrier text made harmless."""
    number = safe.field(shipment.tracking_number)
    who = f"{safe.field(label)} ({number})" if label else number
    word = state or shipment.status.value.replace("_", " ")
    return f"waypost: {who} {word}, {safe.field(shipment.carrier)}"


def hook_env(
    shipment: Shipment, label: str | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The whole environment of one hook run (see the module docstring)."""
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items() if k in HOOK_ENV or k.startswith("LC_")}
    env["WAYPOST_NUMBER"] = safe.field(shipment.tracking_number)
    env["WAYPOST_CARRIER"] = safe.field(shipment.carrier)
    env["WAYPOST_STATUS"] = safe.field(shipment.status.value)
    env["WAYPOST_LABEL"] = safe.field(label)
    return env


def run_hook(
    argv: list[str],
    shipment: Shipment,
    payload: str,
    *,
    label: str | None = None,
    echo: Callable[[str], object] | None = None,
) -> str | None:
    """Run the hook once; None on success, else why it failed (the pass goes on either way)."""
    number = safe.field(shipment.tracking_number)
    # Files, not pipes: a background job the hook starts inherits them, and a pipe would see
    # EOF (and a full one room to write) only when that job ends; the hook is done when its own
    # process exits.
    with (
        tempfile.TemporaryFile() as data,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        data.write(payload.encode("utf-8", "replace"))
        data.seek(0)
        try:
            proc = subprocess.Popen(
                argv, stdin=data, stdout=out, stderr=err, env=hook_env(shipment, label), shell=False
            )
        except FileNotFoundError:
            return f"--exec: command not found: {argv[0]}"
        except PermissionError:
            return f"--exec: not executable: {argv[0]}"
        except (ValueError, UnicodeError) as exc:
            # An environment value or argument the OS cannot take (a NUL byte, say).
            return f"--exec for {number} could not be started: {exc}"
        except OSError as exc:
            # A script without its #! line (ENOEXEC), arguments too long (E2BIG), ...
            return f"--exec for {number} could not be started: {exc.strerror or exc}"
        try:
            proc.wait(timeout=HOOK_TIMEOUT)
        except subprocess.TimeoutExpired:
            _stop(proc)
            return f"--exec for {number} timed out after {HOOK_TIMEOUT:g}s"
        except BaseException:
            _stop(proc)
            raise
        stdout, stderr = _read(out), _read(err)
    if stdout and echo is not None:
        echo(safe.lines(stdout.decode("utf-8", "replace")))
    if stderr:
        sys.stderr.write(safe.lines(stderr.decode("utf-8", "replace")))
    if proc.returncode != 0:
        return f"--exec for {number} exited with {proc.returncode}"
    return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill a hook that overran or was interrupted, and reap it."""
    proc.kill()
    proc.wait()


def _read(file: IO[bytes]) -> bytes:
    """All a hook wrote to ``file`` by the time it exited (read at offset 0: a background job
    of the hook shares the file's position and may still write)."""
    fd = file.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0)
