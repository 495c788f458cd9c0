"""``waypost`` with its standard output on a real pseudo-terminal of a chosen size, as a child
forked from the warm interpreter of tests/forked.py instead of a fresh ``python -m waypost``
(tests/pty_run.py): the child opens the terminal's device as its stdout, so widths are read
from the terminal (no ``COLUMNS``) and Rich sees a terminal, as in a real start-up."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import termios
import time
from collections.abc import Mapping

from tests.forked import ForkServer
from tests.pty_run import PtyOutcome


def run_forked_on_pty(
    forker: ForkServer,
    *args: str,
    columns: int,
    rows: int = 50,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
) -> PtyOutcome:
    """``waypost ARGS`` with stdout on a pty of ``columns`` x ``rows``; stderr to a file."""
    base = os.environ if env is None else env
    child = {k: v for k, v in base.items() if k not in {"COLUMNS", "LINES", "NO_COLOR"}}
    child["TERM"] = "xterm-256color"
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    started = forker.start(*args, env=child, stdout=os.ttyname(slave))
    chunks: list[bytes] = []
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                chunks.append(os.read(master, 65536))
            elif _exited(started.pid):  # what it wrote is all in the terminal's buffer now
                while select.select([master], [], [], 0)[0]:
                    chunks.append(os.read(master, 65536))
                break
        done = forker.wait(started, timeout=max(0.1, end - time.monotonic()))
    finally:
        os.close(master)
        os.close(slave)
    raw = b"".join(chunks)
    err = done.err.encode("utf-8", "replace")
    return PtyOutcome(done.code, raw.decode("utf-8", "replace"), done.err, raw, err)


def _exited(pid: int) -> bool:
    """The child has exited (a zombie until the fork server collects it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in {"Z", "X"}
    except (OSError, IndexError):
        return True
