"""The first request of a fresh process does not spend its ``--timeout`` on imports: httpx makes
the scheme's pool (importing httpcore, building the SSL context) and httpcore's anyio backend
imports its asyncio half on first use, which ``Session`` now does before the first attempt's
timeout starts; a session that sends nothing makes none of it. Each case runs in a fresh
interpreter (the test process has all of it imported already) against a loopback server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

CHILD = textwrap.dedent(
    """
    import asyncio, http.server, json, sys, threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/x"

    from waypost import http

    WATCHED = ("httpcore", "h11", "anyio", "anyio._backends._asyncio")
    seen = []
    real_timeout = asyncio.timeout

    def timeout(delay):
        session = SESSION[0]
        transport = session._client._transport  # the session's own (_SchemeTransport)
        seen.append({
            "imported": [m for m in WATCHED if m in sys.modules],
            "pools": sorted(transport._pools),
        })
        return real_timeout(delay)

    asyncio.timeout = timeout
    SESSION = []

    async def main(send):
        async with http.Session(timeout=5.0) as session:
            SESSION.append(session)
            if send:
                for _ in range(2):
                    response = await session.request("c", "GET", url)
                    assert response.status_code == 200
        return [m for m in WATCHED if m in sys.modules]

    after = asyncio.run(main(sys.argv[1] == "send"))
    print(json.dumps({"at_timeouts": seen, "after": after}))
    """
)


def _child(mode: str) -> dict[str, Any]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_first_attempts_timeout_starts_after_the_pool_and_backend_are_made() -> None:
    result = _child("send")
    first, second = result["at_timeouts"]
    # Today's code made the pool and imported these inside the first attempt's timeout.
    assert first["pools"] == ["http"]
    assert first["imported"] == ["httpcore", "h11", "anyio", "anyio._backends._asyncio"]
    assert second == first


def test_a_session_that_sends_nothing_imports_none_of_it() -> None:
    result = _child("quiet")
    assert result["at_timeouts"] == []
    assert result["after"] == []
