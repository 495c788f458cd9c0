"""The reliability suite is about faults, not rate limits: TrackingMore's limits are raised on
both sides (the sandbox and the client) so that its cases run as fast as the others'.
Rate-limit behaviour itself is tested in tests/carriers/trackingmore/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fast_trackingmore(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    monkeypatch.setenv("WAYPOST_HTTP_RETRIES", "1")  # one retry shows retrying; more only waits
    monkeypatch.setenv("WAYPOST_HTTP_BACKOFF", "0.01")
    for key in ("GET_RATE", "REALTIME_RATE", "DEFAULT_RATE"):
        monkeypatch.setenv(f"WAYPOST_TRACKINGMORE_{key}", "50")
    if "sandbox" in request.fixturenames:
        app = request.getfixturevalue("sandbox").apps.get("trackingmore")
        if app is not None:
            app.get_rate = app.realtime_rate = app.default_rate = 50.0
            app.v4.create_rate = app.v4.other_rate = 50.0
