"""Telling the user about news: Apprise URLs (``--notify``) and hooks (``--exec``).

A hook is split with ``shlex`` and run without a shell: carrier text reaches it only as data,
on stdin (the shipment JSON) and in ``WAYPOST_NUMBER``/``WAYPOST_CARRIER``/``WAYPOST_STATUS``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from waypost.errors import MissingExtra, UsageError

if TYPE_CHECKING:
    from waypost.models import Shipment

HOOK_TIMEOUT = 60.0


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
                    raise UsageError(
                        f"--notify: not a notification URL Apprise understands: {url!r}"
                    )
        return notifier

    @property
    def active(self) -> bool:
        """True when there is at least one channel besides stdout."""
        return bool(self.urls or self.command)

    def deliver(self, shipment: Shipment, payload: str, text: str) -> list[str]:
        """Hand one shipment's news to every channel; the failures, one line each."""
        problems = []
        if self._apprise is not None:
            title = f"waypost: {shipment.tracking_number} {shipment.status.value.replace('_', ' ')}"
            if not self._apprise.notify(title=title, body=text):
                problems.append(f"notification for {shipment.tracking_number} was not delivered")
        if self.command:
            problem = run_hook(self.command, shipment, payload)
            if problem:
                problems.append(problem)
        return problems


def run_hook(argv: list[str], shipment: Shipment, payload: str) -> str | None:
    """Run the hook once; None on success, else why it failed."""
    env = {
        **os.environ,
        "WAYPOST_NUMBER": shipment.tracking_number,
        "WAYPOST_CARRIER": shipment.carrier,
        "WAYPOST_STATUS": shipment.status.value,
    }
    try:
        done = subprocess.run(
            argv,
            input=payload.encode("utf-8"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=None,
            timeout=HOOK_TIMEOUT,
            check=False,
            shell=False,
        )
    except FileNotFoundError:
        return f"--exec: command not found: {argv[0]}"
    except PermissionError:
        return f"--exec: not executable: {argv[0]}"
    except subprocess.TimeoutExpired:
        return f"--exec for {shipment.tracking_number} timed out after {HOOK_TIMEOUT:g}s"
    if done.returncode != 0:
        return f"--exec for {shipment.tracking_number} exited with {done.returncode}"
    return None
