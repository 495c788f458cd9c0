"""The sandbox over https, for benchmarks: a process of its own serving TLS with a certificate of
a throwaway CA (``trustme``, a dev dependency) that every client child trusts through
``SSL_CERT_FILE`` (waypost's lean and model paths, and httpx in a hand-written script, alike).

    python bench/_tls_sandbox.py DIR LATENCY_MS   (run by TLSSandboxProcess; writes DIR/state.json)
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


class TLSSandboxProcess:
    """``SandboxProcess``'s interface (``env``, ``call``, ``reset``, ``rejections``) over https."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        import trustme

        self._dir = tempfile.TemporaryDirectory()
        where = Path(self._dir.name)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = where / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert.private_key_and_cert_chain_pem.write_to_path(str(where / "server.pem"))
        self._proc = subprocess.Popen(
            [sys.executable, __file__, str(where), str(latency_ms)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        state = where / "state.json"
        deadline = time.monotonic() + 30
        while not state.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the TLS sandbox did not start")
            time.sleep(0.05)
        info = json.loads(state.read_text())
        self.base = f"https://127.0.0.1:{info['port']}"
        self.env: dict[str, str] = {**info["env"], "SSL_CERT_FILE": str(self.ca_file)}
        self._context = ssl.create_default_context(cafile=str(self.ca_file))

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """A control request (``/_sandbox/...``)."""
        import httpx

        response = httpx.request(
            method, self.base + path, json=body, timeout=30, verify=self._context
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def log(self) -> list[dict[str, Any]]:
        """The request log since the last reset."""
        return list(self.call("GET", "/_sandbox/log"))

    def apply_env(self) -> None:
        """Point this process's waypost (and httpx) at the sandbox, trusting its CA."""
        os.environ.update(self.env)

    def prewarm_ils(self, numbers: list[str]) -> None:
        """``SandboxProcess.prewarm_ils`` over https."""
        import httpx

        url = self.env["WAYPOST_ILS_BASE_URL"] + "/oms/v2/event/getOrdersTrack"
        auth = {"userId": self.env["WAYPOST_ILS_USER_ID"], "pdd": self.env["WAYPOST_ILS_PDD"]}
        with httpx.Client(timeout=60, verify=self._context) as client:
            for i in range(0, len(numbers), 100):
                body = {**auth, "method": "trackOrders", "trackingNos": numbers[i : i + 100]}
                client.post(url, json=body).raise_for_status()

    def rejections(self) -> int:
        """Requests the emulated rate limits refused since the last reset."""
        return sum(self.call("GET", "/_sandbox/stats")["rejections"].values())

    def reset(self) -> None:
        """Forget the log and the rate-limit windows."""
        self.call("POST", "/_sandbox/reset", {})

    def close(self) -> None:
        """Stop the child."""
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._dir.cleanup()

    def __enter__(self) -> TLSSandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _serve(where: Path, latency_ms: float) -> None:
    from waypost.sandbox import Sandbox

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(where / "server.pem"))
    box = Sandbox(port=0, latency_ms=latency_ms, tls=context)
    box.start()
    tmp = where / "state.tmp"
    tmp.write_text(json.dumps({"port": box.port, "env": box.env()}))
    os.replace(tmp, where / "state.json")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        box.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()


if __name__ == "__main__":
    _serve(Path(sys.argv[1]), float(sys.argv[2]))
