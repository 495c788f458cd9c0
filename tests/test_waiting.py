"""Waiting: the progress lines say what is still awaited and for how long; a timeout error names
the limit that ended the wait (--deadline or --timeout)."""

from __future__ import annotations

import io

import pytest

from tests.forked import ForkServer
from waypost.render import Terminal, progress
from waypost.sandbox import Sandbox

TM = "trackingmore:ups:1Z999AA10123456784"


def test_progress_names_the_carrier_still_awaited_and_for_how_long() -> None:
    now = [100.0]
    out = io.StringIO()
    term = Terminal(stderr_tty=True, width=100)
    bar = progress(term, enabled=True, deadline=30, delay=0, file=out, clock=lambda: now[0])
    bar.start({"trackingmore": 1, "ils": 2})
    bar.advance("ils", 2)
    bar.retrying("trackingmore", 2)
    now[0] = 112.4
    shown = bar.render()
    bar.stop()
    tm_line = next(line for line in shown.splitlines() if "trackingmore" in line)
    assert "0/1" in tm_line
    assert "waiting for trackingmore: 12 s, retry 2 (--deadline 30s)" in tm_line
    ils_line = next(line for line in shown.splitlines() if line.strip().startswith("ils"))
    assert "2/2" in ils_line
    assert "done" in ils_line
    assert "waiting" not in ils_line


def test_progress_waits_before_showing_and_stays_off_without_a_terminal() -> None:
    term = Terminal(stderr_tty=False)
    bar = progress(term, enabled=True)
    bar.start({"ils": 1})
    assert bar.render() == ""  # nothing was set up at all
    out = io.StringIO()
    shown = progress(Terminal(stderr_tty=True), enabled=True, delay=60, file=out)
    shown.start({"ils": 1})
    shown.stop()  # a quick run: stopped before the delay, never drawn
    assert out.getvalue() == ""


@pytest.fixture
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYPOST_HTTP_RETRIES", "0")


@pytest.mark.usefixtures("no_retries")
def test_a_hung_carrier_cut_by_the_deadline_says_deadline(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    sandbox.inject("hang@trackingmore")
    r = cli("track", "--json", "--deadline", "0.4", TM)
    assert r.code == 4
    (shipment,) = r.json()["shipments"]  # type: ignore[index]
    assert "no answer before --deadline 0.4s" in shipment["error"]
    assert "20s" not in shipment["error"]


@pytest.mark.usefixtures("no_retries")
def test_a_hung_carrier_cut_by_the_timeout_says_timeout(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    sandbox.inject("hang@trackingmore")
    r = cli("track", "--json", "--timeout", "0.3", "--deadline", "30", TM)
    assert r.code == 4
    (shipment,) = r.json()["shipments"]  # type: ignore[index]
    assert "no answer within --timeout 0.3s" in shipment["error"]


def test_retried_timeouts_say_how_many_attempts(sandbox: Sandbox, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_HTTP_RETRIES", "1")
    monkeypatch.setenv("WAYPOST_HTTP_BACKOFF", "0.01")
    sandbox.inject("hang@trackingmore")
    r = cli("track", "--json", "--timeout", "0.2", TM)
    (shipment,) = r.json()["shipments"]  # type: ignore[index]
    assert "no answer within --timeout 0.2s (2 attempts)" in shipment["error"]


def test_the_session_reports_each_retry() -> None:
    import asyncio

    import httpx

    from waypost.http import RetryPolicy, Session

    calls: list[tuple[str, int]] = []
    answers = iter([503, 502, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers))

    async def go() -> int:
        async with Session(
            transport=httpx.MockTransport(handler),
            retry=RetryPolicy(attempts=4, base=0.001),
            on_retry=lambda carrier, n: calls.append((carrier, n)),
        ) as session:
            response = await session.request("ils", "GET", "http://carrier.test/x")
            return response.status_code

    assert asyncio.run(go()) == 200
    assert calls == [("ils", 1), ("ils", 2)]


@pytest.mark.skipif(__import__("os").name != "posix", reason="needs a pseudo-terminal")
def test_a_terminal_sees_what_is_awaited_while_a_carrier_hangs(
    sandbox: Sandbox, forker: ForkServer
) -> None:
    import os
    import select
    import signal

    sandbox.inject("hang@trackingmore")
    import fcntl
    import struct
    import termios

    from tests import sigint

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    # A process of its own forked from the warm interpreter (tests/forked.py), its standard
    # error the terminal.
    child = forker.start(
        *("track", "--timeout", "60", "--deadline", "90", TM),
        env={**os.environ, "TERM": "xterm"},
        stderr=os.ttyname(slave),
        preexec=sigint.HEARD_IN_CHILD,
    )
    seen = b""
    done = None
    try:
        while b"waiting for trackingmore: " not in seen:
            ready, _, _ = select.select([master], [], [], 20)
            assert ready, seen
            seen += os.read(master, 4096)
        os.kill(child.pid, signal.SIGINT)
        done = forker.wait(child, timeout=20)
    finally:
        if done is None:
            os.kill(child.pid, signal.SIGKILL)
            forker.wait(child)
        os.close(slave)  # held until the child is gone: it opens the terminal by its name
        os.close(master)
    assert b"(--deadline 90s)" in seen
    assert done.code == 130
