"""Exchanges of ``track``'s lean path replayed to the model path's httpx client (``quick``).

Each recorded request (an ILS call, keyed by its numbers) is answered once with what the lean
path received: the same status, headers and body (still content-coded), or the same kind of
fault, raised as httpx raises it. ``http.Session`` then reads, retries and reports it exactly
as if httpx had received it; a retry, and any request not recorded, goes to the network.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx

from waypost.http import _Cut, pool_transport

if TYPE_CHECKING:
    from waypost.lean_http import Exchange


class Replay(httpx.AsyncBaseTransport):
    """Answer recorded requests from their exchanges, the rest through the session's pools."""

    def __init__(self, exchanges: dict[tuple[str, ...], Exchange]) -> None:
        self.exchanges = dict(exchanges)
        self.inner = pool_transport()

    def _recorded(self, request: httpx.Request) -> Exchange | None:
        if request.method != "POST" or not self.exchanges:
            return None
        try:
            numbers = json.loads(request.content).get("trackingNos")
            return self.exchanges.pop(tuple(numbers), None)
        except (ValueError, TypeError, AttributeError):
            return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The recorded exchange of ``request``, else the network's answer."""
        exchange = self._recorded(request)
        if exchange is None:
            return await self.inner.handle_async_request(request)
        if exchange.fault is not None:
            # The attempt's time counts against the retry budget, as it would have.
            raise _fault(exchange.fault, request, exchange.elapsed)
        return httpx.Response(
            exchange.status,
            headers=exchange.headers,
            stream=httpx.ByteStream(exchange.body),
            request=request,
        )

    async def aclose(self) -> None:
        """Close the pools."""
        await self.inner.aclose()


def _fault(kind: str, request: httpx.Request, spent: float) -> httpx.TransportError:
    """The httpx error of a recorded fault, carrying the time it took (``spent``)."""
    error: httpx.TransportError
    if kind == "connect":
        error = httpx.ConnectError("connection failed", request=request)
    elif kind == "timeout":
        error = _Cut("timeout")
    elif kind == "read":
        error = httpx.ReadError("connection closed while reading", request=request)
    else:
        error = httpx.RemoteProtocolError("malformed answer", request=request)
    vars(error)["spent"] = spent
    return error
