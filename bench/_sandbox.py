"""Shared by the benchmarks: run `waypost sandbox` in a process of its own and talk to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


class SandboxProcess:
    """`waypost sandbox` on a free port in a child process (so it never shares our GIL)."""

    def __init__(self, latency_ms: float = 0.0, faults: str = "") -> None:
        self._dir = tempfile.TemporaryDirectory()
        state = Path(self._dir.name) / "sandbox.json"
        args = [
            sys.executable,
            "-m",
            "waypost",
            "sandbox",
            "--port",
            "0",
            "--latency",
            str(latency_ms),
        ]
        args += ["--state-file", str(state)] + (["--faults", faults] if faults else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not state.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.05)
        info = json.loads(state.read_text())
        self.env: dict[str, str] = info["env"]
        self.base = f"http://127.0.0.1:{info['port']}"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """A control request (`/_sandbox/...`)."""
        import httpx

        response = httpx.request(method, self.base + path, json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def log(self) -> list[dict[str, Any]]:
        """The request log since the last reset."""
        return list(self.call("GET", "/_sandbox/log"))

    def rejections(self) -> int:
        """Requests the emulated rate limits refused since the last reset."""
        return sum(self.call("GET", "/_sandbox/stats")["rejections"].values())

    def reset(self) -> None:
        """Forget the log and the rate-limit windows."""
        self.call("POST", "/_sandbox/reset", {})

    def apply_env(self) -> None:
        """Point this process's waypost at the sandbox."""
        os.environ.update(self.env)

    def close(self) -> None:
        """Stop the child."""
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self._dir.cleanup()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
