"""Shared by the benchmarks: run `waypost sandbox` in a process of its own and talk to it."""

from __future__ import annotations

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
        from waypost.sandbox import detach

        self._dir = tempfile.TemporaryDirectory()
        info = detach.spawn(Path(self._dir.name), 0, latency_ms, faults, timeout=15)
        self.env: dict[str, str] = info["env"]
        self.base = f"http://127.0.0.1:{info['port']}"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """A control request (`/_sandbox/...`)."""
        import httpx

        response = httpx.request(method, self.base + path, json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def prewarm_ils(self, numbers: list[str]) -> None:
        """Ask ILS for every number once, so the sandbox has made its synthetic shipments (~8 ms
        of its CPU per 100 new numbers) before anything is timed."""
        import httpx

        url = self.env["WAYPOST_ILS_BASE_URL"] + "/oms/v2/event/getOrdersTrack"
        auth = {"userId": self.env["WAYPOST_ILS_USER_ID"], "pdd": self.env["WAYPOST_ILS_PDD"]}
        with httpx.Client(timeout=60) as client:
            for i in range(0, len(numbers), 100):
                body = {**auth, "method": "trackOrders", "trackingNos": numbers[i : i + 100]}
                client.post(url, json=body).raise_for_status()

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
        from waypost.sandbox import detach

        detach.stop(Path(self._dir.name))
        self._dir.cleanup()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run(args: list[str], env: dict[str, str], stdin: str = "") -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS in MB, exit code, stderr) of one `waypost` process."""
    waypost = str(Path(sys.executable).parent / "waypost")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [waypost, *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stderr is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode, err
