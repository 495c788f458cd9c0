"""The test harness's virtual clock and in-process transport (tests/inproc.py) behave like the
real thing: waits are skipped but still counted, concurrent answers overlap, faults play out on
the clock, and a request reaches the sandbox exactly as it would over a socket."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest

from tests import loopback
from tests.inproc import SandboxTransport, VirtualClock
from waypost.errors import Timeout
from waypost.http import RateLimiter, Session, now
from waypost.sandbox import Sandbox


def _ils_body(box: Sandbox, numbers: list[str]) -> dict[str, object]:
    env = box.env()
    return {
        "userId": env["WAYPOST_ILS_USER_ID"],
        "pdd": env["WAYPOST_ILS_PDD"],
        "method": "trackOrders",
        "trackingNos": numbers,
    }


def test_a_long_sleep_is_skipped_but_counted(clock: VirtualClock) -> None:
    async def go() -> float:
        started = now()
        await asyncio.sleep(3600)
        return now() - started

    real = time.monotonic()
    assert asyncio.run(go()) >= 3600
    assert time.monotonic() - real < 30  # an hour of the clock, not of the test
    assert clock.skipped > 3599  # less what the test took for real


def test_a_rate_limiter_spaces_permits_on_the_clock(clock: VirtualClock) -> None:
    async def go() -> list[float]:
        limiter = RateLimiter(2.0)
        sent: list[float] = []
        for _ in range(6):
            async with limiter.slot() as sending:
                sending()
                sent.append(now())
        return sent

    sent = asyncio.run(go())
    # 2 per second: never a third within one second of the first of a pair.
    assert all(b - a >= 1.0 for a, b in zip(sent, sent[2:], strict=False))
    assert sent[-1] - sent[0] >= 2.0


def test_a_real_socket_in_flight_is_waited_for_not_skipped(clock: VirtualClock) -> None:
    """While real I/O is registered the loop does not skip: a timeout cannot fire early."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    async def go() -> bool:
        reader, writer = await asyncio.open_connection(*server.getsockname())
        peer, _ = server.accept()
        try:
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, peer.sendall, b"x")  # answers after 50 ms of real time
            async with asyncio.timeout(5):
                return await reader.read(1) == b"x"
        finally:
            writer.close()
            peer.close()

    try:
        assert asyncio.run(go())
    finally:
        server.close()
    assert clock.skipped < 5


def test_concurrent_answers_overlap_their_latency(sandbox: Sandbox, clock: VirtualClock) -> None:
    sandbox.latency = 0.4
    url = sandbox.env()["WAYPOST_ILS_BASE_URL"] + "/oms/v2/event/getOrdersTrack"

    async def go() -> float:
        async with httpx.AsyncClient(transport=SandboxTransport(sandbox)) as client:
            started = now()
            bodies = [_ils_body(sandbox, [f"{i:04d}S{i:07d}"]) for i in range(5)]
            answers = await asyncio.gather(*(client.post(url, json=b) for b in bodies))
            assert [a.status_code for a in answers] == [200] * 5
            return now() - started

    took = asyncio.run(go())
    assert 0.4 <= took < 0.8  # five answers in one latency, as from a server with cores
    entries = sandbox.entries("ils")
    assert len(entries) == 5
    assert all(e.done - e.t >= 0.4 for e in entries)


def test_a_request_is_logged_the_same_in_process_and_over_the_socket(
    sandbox: Sandbox,
) -> None:
    url = sandbox.env()["WAYPOST_ILS_BASE_URL"] + "/oms/v2/event/getOrdersTrack?lang=en&x="
    body = _ils_body(sandbox, ["3676E4043665"])
    headers = {"X-Test": "1"}
    over_socket = loopback.post(url, json=body, headers=headers)

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=SandboxTransport(sandbox)) as client:
            response = await client.post(url, json=body, headers=headers)
            await response.aread()
            return response

    in_process = asyncio.run(go())
    assert in_process.status_code == over_socket.status_code == 200
    assert in_process.json() == over_socket.json()
    assert in_process.headers["content-length"] == over_socket.headers["content-length"]
    first, second = sandbox.entries("ils")
    assert (first.method, first.path, first.params, first.digest, first.numbers) == (
        second.method,
        second.path,
        second.params,
        second.digest,
        second.numbers,
    )
    assert first.params == {"lang": "en", "x": ""}


@pytest.mark.parametrize(("fault", "error"), [("hang", "--timeout 2s"), ("slow", "--timeout 2s")])
def test_hanging_and_trickled_answers_are_cut_by_the_timeout_on_the_clock(
    fault: str, error: str, sandbox: Sandbox, clock: VirtualClock
) -> None:
    sandbox.inject(f"{fault}@ils")
    url = sandbox.env()["WAYPOST_ILS_BASE_URL"] + "/oms/v2/event/getOrdersTrack"

    async def go() -> str:
        async with Session(timeout=2.0) as session:  # the fixture's in-process transport
            try:
                await session.request("ils", "POST", url, json=_ils_body(sandbox, ["N1"]))
            except Timeout as exc:
                return str(exc)
        return "answered"

    real = time.monotonic()
    assert error in asyncio.run(go())
    assert time.monotonic() - real < 20
    assert clock.skipped >= 2.0  # the 2 s were the clock's


def test_a_stopped_sandbox_refuses_the_connection(sandbox: Sandbox) -> None:
    sandbox.stop()
    url = sandbox.env()["WAYPOST_ILS_BASE_URL"] + "/oms/v2/event/getOrdersTrack"

    async def go() -> None:
        async with httpx.AsyncClient(transport=SandboxTransport(sandbox)) as client:
            await client.post(url, json={})

    with pytest.raises(httpx.ConnectError):
        asyncio.run(go())


def test_the_log_is_json_serialisable_with_virtual_times(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--jsonl", "ils:3676E4043665").code == 0
    (entry,) = sandbox.entries("ils")
    assert entry.done >= entry.t >= 0
    json.dumps(loopback.get(f"{sandbox.base_url}/_sandbox/log").json())


@pytest.mark.real_clock
def test_the_real_clock_mark_keeps_loopback_http(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    import waypost.http

    assert waypost.http.default_transport is None
    assert sandbox.clock is time.monotonic
    assert cli("track", "--jsonl", "ils:3676E4043665").code == 0
    (entry,) = sandbox.entries("ils")
    assert entry.numbers == 1
