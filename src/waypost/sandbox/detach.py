"""Run the sandbox in the background (``waypost sandbox --detach``) and stop it again.

The state file (mode 0600) records the sandbox's pid, port, variables and a random token. Its
pid is trusted only once the process proves to be that sandbox: the server on the recorded port
must accept the token on ``/_sandbox/identity`` and name the same pid, and where ``/proc``
exists the pid must belong to this user and run ``waypost sandbox --state-file``. A pid <= 1,
a non-integer, a stale file or a stranger's process is never signalled.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from waypost.errors import UsageError

STATE_FILE = "sandbox.json"
IDENTITY_TIMEOUT = 5.0


def state_path(data_dir: Path) -> Path:
    """Where a detached sandbox records its pid, port and variables."""
    return data_dir / STATE_FILE


def new_token() -> str:
    """A random token for the state file and the sandbox's identity endpoint."""
    return secrets.token_hex(16)


def spawn(
    data_dir: Path, port: int, latency: float, faults: str = "", timeout: float = 10.0
) -> dict[str, Any]:
    """Start ``waypost sandbox`` as a detached process; its state once it listens."""
    from waypost.store.sqlite import prepare_data_dir

    path = state_path(data_dir)
    prepare_data_dir(path)  # 0700, as the store makes it (waypost.db lands there)
    if running(data_dir) is not None:
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
            why = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise _not_started(why)
        time.sleep(0.05)
    proc.kill()
    raise UsageError(f"the sandbox did not start within {timeout:g} s")


def _not_started(stderr: str) -> UsageError:
    """Why the child sandbox ended before listening: its error line, with its hint apart."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("waypost: error: ")]
    hints = [line.removeprefix("hint: ") for line in lines if line.startswith("hint: ")]
    if errors:
        reason = errors[-1].removeprefix("waypost: error: ")
    else:
        others = [line for line in lines if not line.startswith("hint: ")]
        reason = others[-1] if others else "no reason given"
    return UsageError(f"the sandbox did not start: {reason}", hint=hints[-1] if hints else None)


def write_state(path: Path, port: int, env: dict[str, str], token: str) -> None:
    """Record this process as the detached sandbox (written once it listens), mode 0600."""
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"pid": os.getpid(), "port": port, "env": env, "token": token}, fh)
    os.replace(tmp, path)


def release_stderr() -> None:
    """Stop writing to the launcher's stderr pipe, which it closes once the state file exists
    (a later write would end the detached sandbox with a broken pipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _why_untrusted(state: dict[str, Any]) -> str | None:
    """None when ``state`` names the live sandbox this user started, else why not."""
    pid, port, token = state.get("pid"), state.get("port"), state.get("token")
    if type(pid) is not int or pid <= 1:
        return f"its pid {pid!r} is not a process id waypost would signal"
    if type(port) is not int or not 0 < port < 65536 or not isinstance(token, str) or not token:
        return "it has no valid port and token"
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self").exists():
        try:
            owner = proc.stat().st_uid
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return f"process {pid} is not running"
        if owner != os.getuid():
            return f"process {pid} belongs to another user"
        if b"sandbox" not in cmdline or b"--state-file" not in cmdline:
            return f"process {pid} is not a waypost sandbox"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_sandbox/identity",
        data=json.dumps({"token": token}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    # Straight to loopback: a configured HTTP proxy must not answer for the sandbox.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=IDENTITY_TIMEOUT) as resp:
            answer = json.loads(resp.read())
    except (OSError, ValueError):
        return f"no sandbox on port {port} answers with its token"
    if not isinstance(answer, dict) or answer.get("pid") != pid:
        return f"the sandbox on port {port} is not process {pid}"
    return None


def _alive(pid: Any) -> bool:
    """True when ``pid`` is a live process (a stale state file names a dead one)."""
    if type(pid) is not int or pid <= 1:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(data_dir: Path) -> dict[str, Any] | None:
    """The state of the detached sandbox when one verifiably runs, else None."""
    state = _read(state_path(data_dir))
    if state is None or _why_untrusted(state) is not None:
        return None
    return state


def stop(data_dir: Path) -> bool:
    """Stop a detached sandbox; False when none was running.

    A state file that does not name a verified sandbox is removed and nothing is signalled;
    UsageError says why."""
    path = state_path(data_dir)
    state = _read(path)
    if state is None:
        if path.exists():
            path.unlink(missing_ok=True)
            raise UsageError(f"{path} is not a sandbox state file: removed it, signalled nothing")
        return False
    why = _why_untrusted(state)
    path.unlink(missing_ok=True)
    if why is not None and not _alive(state.get("pid")):
        return False
    if why is not None:
        raise UsageError(
            f"{path} does not name a running sandbox of yours ({why}): "
            "removed it, signalled nothing"
        )
    try:
        os.kill(state["pid"], signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    return True
