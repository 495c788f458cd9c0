"""Streaming: `--jsonl` prints each shipment once its answer is complete, `--json` and tables keep
input order, Ctrl-C prints what was answered and exits 130."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
from pathlib import Path

import httpx
import pytest

from tests import sigint
from tests.forked import ForkServer, Started
from tests.loopback import wait_for_request
from waypost import config as cfg
from waypost import service
from waypost.carriers.base import Query, TrackOptions
from waypost.sandbox import Sandbox

ILS = "3676E4043665"
TM = "trackingmore:ups:1Z999AA10123456784"
PANDAPON = "2542285634920880794"


class _Held(httpx.AsyncBaseTransport):
    """Forwards to the sandbox; TrackingMore's requests wait until ``release`` is set."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.release = asyncio.Event()
        self.held = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/trackingmore"):
            self.held += 1
            await asyncio.wait_for(self.release.wait(), 10)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_results_are_handed_over_as_they_complete_and_the_report_keeps_input_order(
    sandbox: Sandbox,
) -> None:
    queries = [
        Query("1Z999AA10123456784", "trackingmore", "ups"),
        Query(ILS, "ils"),
        Query(PANDAPON, "pandapon"),
    ]
    seen: list[tuple[int, str]] = []

    async def go() -> service.Report:
        transport = _Held()

        def on_result(index: int, result: service.Result) -> None:
            seen.append((index, result.query.number))
            if len(seen) == 2:  # ILS and PandaPon answered while TrackingMore is held
                transport.release.set()

        return await service.run(
            queries,
            cfg.load(),
            TrackOptions(),
            transport=transport,
            on_result=on_result,
        )

    report = asyncio.run(go())
    assert sorted(i for i, _ in seen[:2]) == [1, 2]
    assert seen[2] == (0, "1Z999AA10123456784")
    assert [r.query.number for r in report.results] == [q.number for q in queries]
    assert [s.carrier for s in report.shipments] == ["trackingmore", "ils", "pandapon"]


def _start(forker: ForkServer, fifo: Path, *args: str) -> Started:
    """``waypost ARGS`` as a process of its own (forked from a warm interpreter,
    tests/forked.py), its standard output the FIFO ``fifo``: read as it is written."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return forker.start(*args, env=env, stdout=str(fifo), preexec=sigint.HEARD_IN_CHILD)


def _line(reader: int, within: float = 20.0) -> bytes:
    """The next stdout line, read as soon as it is written (nothing after it is read)."""
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([reader], [], [], within)
        assert ready, "no line in time"
        byte = os.read(reader, 1)
        assert byte, f"the output ended after {line!r}"
        line += byte
    return line


def _rest(reader: int, within: float = 20.0) -> bytes:
    """What is left on stdout once the child is gone."""
    rest = b""
    while True:
        ready, _, _ = select.select([reader], [], [], within)
        assert ready, "the output never ended"
        chunk = os.read(reader, 65536)
        if not chunk:
            return rest
        rest += chunk


def _running(pid: int) -> bool:
    """The child has not exited (a zombie until its fork server waits for it)."""
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] not in "ZX"


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child")
def test_jsonl_streams_before_a_hung_carrier_answers_and_ctrl_c_exits_130(
    sandbox: Sandbox, forker: ForkServer, tmp_path: Path
) -> None:
    sandbox.inject("hang@trackingmore")
    fifo = tmp_path / "stdout.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # before the child opens its end
    done = None
    try:
        child = _start(forker, fifo, "track", "--jsonl", "--timeout", "60", TM, ILS)
        try:
            first = json.loads(_line(reader))
            assert first["tracking_number"] == ILS  # TrackingMore (first in input) still hangs
            assert _running(child.pid)
            wait_for_request(sandbox, "trackingmore")
            os.kill(child.pid, signal.SIGINT)
            done = forker.wait(child, timeout=20)
        finally:
            if done is None:
                os.kill(child.pid, signal.SIGKILL)
                forker.wait(child)
        out = _rest(reader)
    finally:
        os.close(reader)
    assert done.code == 130
    assert out == b""  # nothing more: the hung number was never answered
    text = done.err
    assert "1 of 2 number(s) answered before the interrupt" in text
    assert "waypost: interrupted" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("mode", ["--json", "--plain"])
def test_ctrl_c_prints_the_answered_part_in_input_order(
    sandbox: Sandbox, cli, monkeypatch, mode: str
) -> None:  # type: ignore[no-untyped-def]
    real_run = service.run

    async def interrupted(queries, config, options=None, **kwargs):  # type: ignore[no-untyped-def]
        # The real run for the last two numbers, then Ctrl-C while the first is awaited.
        report = await real_run(queries[1:], config, options, **{**kwargs, "on_result": None})
        for index, result in reversed(list(enumerate(report.results, 1))):
            kwargs["on_result"](index, result)
        raise KeyboardInterrupt

    monkeypatch.setattr(service, "run", interrupted)
    args = ["track", TM, ILS, PANDAPON]
    r = cli(*([*args, "--json"] if mode == "--json" else args))
    assert r.code == 130
    assert "2 of 3 number(s) answered before the interrupt" in r.err
    if mode == "--json":
        shipments = r.json()["shipments"]  # type: ignore[index]
        assert [s["carrier"] for s in shipments] == ["ils", "pandapon"]
    else:
        assert r.out.index(ILS) < r.out.index("pandapon")
        assert "1Z999AA10123456784" not in r.out
