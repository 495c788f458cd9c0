"""Plain HTTP to the tests' own loopback servers (the sandbox, the hostile proxy).

``httpx.get(...)`` and friends build a client per call, and with it a TLS context that loads
the CA bundle: ~30 ms of CPU each time, for servers that speak plain HTTP on 127.0.0.1. These
make the same request, one client per call as before, without loading certificates."""

from __future__ import annotations

from typing import Any

import httpx


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
