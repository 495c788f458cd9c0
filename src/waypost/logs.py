"""``-v`` logging to stderr, with every known secret masked (imported only when asked for).

Every record goes through the one redaction rule (``redaction.redact``, bound to the run's
secrets by the CLI) and through ``safe.lines``: carrier text in a log line acts on no terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

LOGGER = "waypost"


class _Redact(logging.Filter):
    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        from waypost import safe

        record.msg = safe.lines(self.redact(record.getMessage()))
        record.args = None
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup(verbose: int, redact: Callable[[str], str]) -> None:
    """INFO with ``-v``, DEBUG with ``-vv``; one handler, however often this is called, masking
    with the ``redact`` of the latest call (each run has its own secrets)."""
    logger = logging.getLogger(LOGGER)
    if not logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("waypost: %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_Redact(redact))
        logger.addHandler(handler)
    for each in logger.handlers:
        for rule in each.filters:
            if isinstance(rule, _Redact):
                rule.redact = redact
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)


def reset() -> None:
    """Back to warnings only (each in-process run starts quiet)."""
    logging.getLogger(LOGGER).setLevel(logging.WARNING)
