"""``track``'s lean path with no retry left: a broken answer it hands over is reported as httpx
would report it on the model path (the same error class in the message). Each run is a forked
``waypost`` process (tests/forked.py), whose ``__main__`` takes the lean path."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import stop_soon
from tests.forked import ForkServer
from tests.hostile import HostileServer, Raw, Seen
from waypost.sandbox import Sandbox

pytestmark = pytest.mark.real_clock

ANSWERS: dict[str, Callable[[Seen], Raw]] = {
    "truncated": lambda seen: Raw.truncated({"code": 200, "body": []}),
    "html": lambda seen: Raw.html(),
}


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_the_last_attempt_is_reported_alike_both_ways(
    forker: ForkServer, tmp_path: Path, kind: str
) -> None:
    box = Sandbox(port=0).start()
    server = HostileServer(box.base_url).start()
    outcomes = []
    try:
        server.answer(ANSWERS[kind])
        for lean in ("1", "0"):
            server.seen.clear()
            env = {**os.environ, **server.env(box.env())}
            env.update(
                WAYPOST_DATA_DIR=str(tmp_path / "data"),
                WAYPOST_CONFIG=str(tmp_path / "config.toml"),
                WAYPOST_LEAN=lean,
                WAYPOST_HTTP_RETRIES="0",
            )
            done = forker.run("track", "--json", "4747S0000000", env=env)
            outcomes.append((done.code, done.out, done.err, len(server.seen)))
    finally:
        stop_soon(server)
        stop_soon(box)
    assert outcomes[0] == outcomes[1]
    if kind == "truncated":
        assert "(RemoteProtocolError)" in outcomes[0][1]
