"""Children that hear Ctrl-C: a test runner started in the background by a shell without job
control (``cmd &``, nohup) ignores SIGINT, and an ignored signal stays ignored in the children
it starts, so a SIGINT test's child would never be interrupted (and the test time out)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def heard() -> Iterator[None]:
    """Inside, children started get SIGINT's default action (Python's KeyboardInterrupt)."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)  # reset to SIG_DFL by exec
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# Run first by a child forked from the warm interpreter (tests/forked.py, ``preexec``): SIGINT's
# default action there too, whatever the server started with.
HEARD_IN_CHILD = "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
