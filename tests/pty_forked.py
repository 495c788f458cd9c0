"""``waypost`` on a real pseudo-terminal, in a child forked from the warm interpreter of
tests/forked.py instead of a fresh ``python -m waypost`` (tests/pty_run.py).

The child's standard output is the follower side of a new pty of the chosen size (set up by the
child itself, before waypost runs: ``isatty``, the window size and the terminal's line
discipline are the real ones); a thread here reads the leader side while it runs. What the
child does not get is a fresh interpreter: its streams' encoding is the server's (UTF-8), so
tests about an encoding or a locale keep ``run_on_pty``.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from tests.forked import ForkServer
from tests.pty_run import PtyOutcome, terminal


def run_on_pty_forked(
    forker: ForkServer,
    *args: str,
    columns: int,
    rows: int = 50,
    timeout: float = 30.0,
    color: bool | None = None,
    env: Mapping[str, str] | None = None,
    keep_newlines: bool = False,
    preexec: str = "",
) -> PtyOutcome:
    """As ``run_on_pty`` (same arguments and outcome), the child forked by ``forker``;
    ``preexec``: Python source the child runs first, after its streams are set up."""
    child, leader, follower = terminal(env, columns, rows, color, keep_newlines)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: every follower descriptor is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, name="pty-reader", daemon=True)
    reader.start()
    with tempfile.TemporaryDirectory(prefix="waypost-pty-") as tmp:
        stderr = Path(tmp) / "stderr"  # the bytes as written, not decoded by the fork server
        preexec = (
            "import os\n"
            f"fd = os.open({os.ttyname(follower)!r}, os.O_RDWR | os.O_NOCTTY)\n"
            "os.dup2(fd, 1)\n"
            "os.close(fd)\n"
            f"fd = os.open({str(stderr)!r}, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n"
            "os.dup2(fd, 2)\n"
            "os.close(fd)\n"
        ) + preexec
        try:
            done = forker.run(*args, env=child, timeout=timeout, preexec=preexec)
        finally:
            os.close(follower)  # the child's copy is gone too: the reader sees the end
            reader.join(timeout)
            os.close(leader)
        err = stderr.read_bytes()
    raw = b"".join(chunks)
    return PtyOutcome(
        done.code, raw.decode("utf-8", "replace"), err.decode("utf-8", "replace"), raw, err
    )
