"""The sandbox's own rules: latency counted from arrival, rate limits counted at arrival."""

from __future__ import annotations

import json
import time

import pytest

from waypost.sandbox import Sandbox
from waypost.sandbox.server import Request


def _ils_request(box: Sandbox, arrived: float | None) -> Request:
    env = box.env()
    body = {
        "userId": env["WAYPOST_ILS_USER_ID"],
        "pdd": env["WAYPOST_ILS_PDD"],
        "method": "trackOrders",
        "trackingNos": ["3676E4043665"],
    }
    path = "/ils/oms/v2/event/getOrdersTrack"
    return Request("POST", path, {}, {}, json.dumps(body).encode(), arrived)


def test_latency_counts_from_arrival_not_from_when_the_request_got_its_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = Sandbox(latency_ms=80)
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    # A request that came in 80 ms ago (while other requests had the GIL) is already due.
    arrived = time.monotonic() - 0.08
    reply = box.dispatch(_ils_request(box, arrived))
    assert reply.status == 200
    assert slept == []
    (entry,) = box.entries()
    assert entry.t == pytest.approx(arrived - box.started)
    # One that has just come in waits out the rest of the latency.
    box.dispatch(_ils_request(box, time.monotonic()))
    assert len(slept) == 1
    assert 0.0 < slept[0] <= 0.08


def test_rate_limit_windows_count_arrival_times() -> None:
    box = Sandbox()
    t0 = 1000.0
    assert box.admit("x", "get", 1, at=t0)
    assert not box.admit("x", "get", 1, at=t0 + 0.999)
    assert box.admit("x", "get", 1, at=t0 + 1.0)
    # Admitted late, arrived early: still counted against the window it arrived in.
    assert box.admit("y", "get", 2, at=t0 + 0.5)
    assert box.admit("y", "get", 2, at=t0 + 0.2)
    assert not box.admit("y", "get", 2, at=t0 + 0.9)
    assert box.rejections == {("x", "get"): 1, ("y", "get"): 1}
