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

    @property
    def lines(self) -> list[str]:
        """The screen's lines with escape sequences removed."""
        return _ESCAPES.sub("", self.screen).replace("\r\n", "\n").split("\n")

    def widest(self) -> int:
        """The widest line, in terminal cells."""
        return max((cell_len(line) for line in self.lines), default=0)


def run_on_pty(*args: str, columns: int, rows: int = 50, timeout: float = 30.0) -> PtyOutcome:
    """``waypost ARGS`` with stdout on a pty of ``columns`` x ``rows``; stderr piped."""
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES", "NO_COLOR"}}
    env["TERM"] = "xterm-256color"
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "waypost", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
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
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    return PtyOutcome(code, b"".join(chunks).decode("utf-8", "replace"), err)
