"""Plain HTTP to the tests' own loopback servers (the sandbox, the hostile proxy), and a wait
for a child process's first request to the sandbox.

``httpx.get(...)`` and friends build a client per call, and with it a TLS context that loads
the CA bundle: ~30 ms of CPU each time, for servers that speak plain HTTP on 127.0.0.1. These
make the same request, one client per call as before, without loading certificates."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

    from waypost.sandbox import Sandbox


def send_json(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    """A test server's 200 answer of ``body`` as JSON, with its length."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """``httpx.request`` for a loopback ``http://`` URL."""
    assert url.startswith(("http://127.0.0.1:", "http://localhost:")), url
    timeout = kwargs.pop("timeout", httpx.Timeout(5.0))
    with httpx.Client(verify=False, timeout=timeout) as client:  # noqa: S501 (plain HTTP)
        return client.request(method, url, **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    """``httpx.get`` for a loopback URL."""
    return request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    """``httpx.post`` for a loopback URL."""
    return request("POST", url, **kwargs)


def wait_for_request(sandbox: Sandbox, carrier: str, within: float = 30.0) -> None:
    """Until ``sandbox`` has logged a request to ``carrier`` (a child is then mid-run);
    fails after ``within`` seconds."""
    end = time.monotonic() + within
    while not sandbox.entries(carrier):
        assert time.monotonic() < end, f"{carrier} was never asked"
        time.sleep(0.01)
