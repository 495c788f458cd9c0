"""Telling the user about news: Apprise URLs (``--notify``) and hooks (``--exec``).

A hook is split with ``shlex`` and run without a shell: carrier text reaches it only as data,
on stdin (the shipment JSON, exactly as the carrier sent it) and, made harmless by
``safe.field``, in ``WAYPOST_NUMBER``/``WAYPOST_CARRIER``/``WAYPOST_STATUS``/``WAYPOST_LABEL``.
Its environment is a clean one (SPEC.md, "Carrier data is data"): the basics a program needs to
run (``PATH``, ``HOME``, locale, zone, the desktop session for ``notify-send``) and those four,
never a credential. What it prints (stdout to stdout, stderr to stderr) is passed on, made
harmless too.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
        if command:
            try:
                argv = shlex.split(command)
            except ValueError as exc:
                raise UsageError(f"--exec: cannot split {command!r}: {exc}") from None
            if not argv:
                raise UsageError("--exec needs a command")
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
        if self._apprise is not None and not self._apprise.notify(
            title=title(shipment, label, state), body=body
        ):
            problems.append(f"notification for {number} was not delivered")
        if self.command:
            problem = run_hook(self.command, shipment, payload, label=label, echo=echo)
            if problem:
                problems.append(problem)
        return problems


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
    try:
        done = subprocess.run(
            argv,
            input=payload.encode("utf-8", "replace"),
            env=hook_env(shipment, label),
            capture_output=True,
            timeout=HOOK_TIMEOUT,
            check=False,
            shell=False,
        )
    except FileNotFoundError:
        return f"--exec: command not found: {argv[0]}"
    except PermissionError:
        return f"--exec: not executable: {argv[0]}"
    except subprocess.TimeoutExpired:
        return f"--exec for {number} timed out after {HOOK_TIMEOUT:g}s"
    except (ValueError, UnicodeError) as exc:
        # An environment value or argument the OS cannot take (a NUL byte, say).
        return f"--exec for {number} could not be started: {exc}"
    if done.stdout and echo is not None:
        echo(safe.lines(done.stdout.decode("utf-8", "replace")))
    if done.stderr:
        sys.stderr.write(safe.lines(done.stderr.decode("utf-8", "replace")))
    if done.returncode != 0:
        return f"--exec for {number} exited with {done.returncode}"
    return None
