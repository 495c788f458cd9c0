"""Run ``python -m waypost`` on a real pseudo-terminal of a chosen size (no ``COLUMNS``)."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping
from dataclasses import dataclass

from rich.cells import cell_len

# CSI sequences (colours, cursor moves) and OSC 8 hyperlinks.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\]8;[^\x1b\x07]*(?:\x1b\\|\x07)")


@dataclass
class PtyOutcome:
    """What a run printed on its terminal (stdout) and its pipe (stderr)."""

    code: int
    screen: str
    err: str
    raw: bytes = b""  # the screen's bytes as the program wrote them
    raw_err: bytes = b""

    @property
    def lines(self) -> list[str]:
        """The screen's lines with escape sequences removed."""
        return _ESCAPES.sub("", self.screen).replace("\r\n", "\n").split("\n")

    def widest(self) -> int:
        """The widest line, in terminal cells."""
        return max((cell_len(line) for line in self.lines), default=0)


def terminal(
    env: Mapping[str, str] | None, columns: int, rows: int, color: bool | None, keep_newlines: bool
) -> tuple[dict[str, str], int, int]:
    """(the child's environment, leader fd, follower fd) of a new pty of ``columns`` x ``rows``:
    no ``COLUMNS``/``LINES``, ``NO_COLOR`` when ``color`` is False, and with ``keep_newlines`` no
    ``\n`` -> ``\r\n`` translation."""
    base = os.environ if env is None else env
    child = {k: v for k, v in base.items() if k not in {"COLUMNS", "LINES", "NO_COLOR"}}
    child["TERM"] = "xterm-256color"
    if color is False:
        child["NO_COLOR"] = "1"
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    if keep_newlines:
        attrs = termios.tcgetattr(follower)
        attrs[1] &= ~termios.ONLCR
        termios.tcsetattr(follower, termios.TCSANOW, attrs)
    return child, leader, follower


def run_on_pty(
    *args: str,
    columns: int,
    rows: int = 50,
    timeout: float = 30.0,
    color: bool | None = None,
    env: Mapping[str, str] | None = None,
    keep_newlines: bool = False,
) -> PtyOutcome:
    """``waypost ARGS`` with stdout on a pty of ``columns`` x ``rows``; stderr piped.

    ``color`` False sets ``NO_COLOR``; ``keep_newlines`` turns the terminal's ``\n`` -> ``\r\n``
    translation off, so the bytes are exactly what waypost wrote."""
    child, master, slave = terminal(env, columns, rows, color, keep_newlines)
    proc = subprocess.Popen(
        [sys.executable, "-m", "waypost", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=child,
    )
    os.close(slave)
    chunks: list[bytes] = []
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its side
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(0.1, end - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    raw = b"".join(chunks)
    return PtyOutcome(
        code, raw.decode("utf-8", "replace"), err.decode("utf-8", "replace"), raw, err
    )
