"""Run the sandbox in the background (``waypost sandbox --detach``) and stop it again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from waypost.errors import UsageError

STATE_FILE = "sandbox.json"


def state_path(data_dir: Path) -> Path:
    """Where a detached sandbox records its pid, port and variables."""
    return data_dir / STATE_FILE


def spawn(
    data_dir: Path, port: int, latency: float, faults: str = "", timeout: float = 10.0
) -> dict[str, Any]:
    """Start ``waypost sandbox`` as a detached process; its state once it listens."""
    path = state_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    stop(data_dir)
    path.unlink(missing_ok=True)
    args = [
        sys.executable,
        "-m",
        "waypost",
        "sandbox",
        "--port",
        str(port),
        "--latency",
        str(latency),
    ]
    args += ["--state-file", str(path)] + (["--faults", faults] if faults else [])
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if proc.stderr is not None:
                proc.stderr.close()
            return state
        if proc.poll() is not None:
            why = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
            raise UsageError(
                f"the sandbox did not start: {why.splitlines()[-1] if why else 'no reason given'}"
            )
        time.sleep(0.05)
    proc.kill()
    raise UsageError(f"the sandbox did not start within {timeout:g} s")


def write_state(path: Path, port: int, env: dict[str, str]) -> None:
    """Record this process as the detached sandbox (written once it listens)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "port": port, "env": env}), encoding="utf-8")
    os.replace(tmp, path)


def stop(data_dir: Path) -> bool:
    """Stop a detached sandbox; False when none was running."""
    path = state_path(data_dir)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    path.unlink(missing_ok=True)
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    return True
