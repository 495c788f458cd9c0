"""``track``'s lean TrackingMore v4 path (``waypost.quick_tm``) run in process on a virtual clock
shared with the sandbox (``Env.clock``, ``Sandbox(clock=...)``): a run that needs one read
more than a second's ten permits keeps to ten a second as the sandbox counts them, over http
and https, and the wait for the eleventh permit is skipped, not slept; and a run's objects
are freed before the cyclic collector is turned on again."""

from __future__ import annotations

import gc
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import tls
from tests.cli.test_lean_track_v4 import numbers
from tests.conftest import stop_soon
from tests.inproc import VirtualClock
from waypost import carriers, config, inputs, quick
from waypost.cli.env import Env
from waypost.render import Format, Terminal
from waypost.sandbox import Sandbox


@pytest.fixture(params=["http", "https"])
def served(
    request: pytest.FixtureRequest,
    clock: VirtualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Sandbox]:
    """A sandbox on ``clock`` (over TLS with the tests' CA for "https"), waypost pointed at it."""
    context = tls.server_context() if request.param == "https" else None
    box = Sandbox(port=0, clock=clock.monotonic, tls=context).start()
    for key, value in box.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WAYPOST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WAYPOST_CONFIG", str(tmp_path / "config.toml"))
    if context is not None:
        monkeypatch.setenv("SSL_CERT_FILE", tls.ca_file(tmp_path))
    for proxy in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
        monkeypatch.delenv(proxy.upper(), raising=False)
    try:
        yield box
    finally:
        stop_soon(box)


def _lean_track(listed: list[str], clock: VirtualClock) -> tuple[int | object, str]:
    """(what ``quick.track`` returned, its ``--json`` output) of one in-process run on
    ``clock``."""
    out = io.StringIO()
    env = Env(stdout=out, stderr=io.StringIO())
    env.clock = clock
    infos = {i.name: i for i in carriers.infos()}
    queries = inputs.parse_numbers(listed, None, infos)
    code = quick.track(env, config.load(env=env.environ), queries, Format.JSON, Terminal(), False)
    return code, out.getvalue()


def test_more_than_ten_reads_keep_to_ten_a_second(served: Sandbox, clock: VirtualClock) -> None:
    # 11 reads: the 11th waits for a permit to come back (over TLS, a hold after its answer
    # was read, not at its first bytes).
    listed = numbers(440, preload=served)
    code, out = _lean_track(listed, clock)
    assert code == 0  # printed by the lean path: not handed over, not declined
    assert [s["tracking_number"] for s in json.loads(out)["shipments"]] == listed
    with served.lock:
        asked = [e for e in served.log if e.carrier == "trackingmore"]
        times = sorted(e.t for e in asked)
    assert len(asked) == 11
    assert {e.path for e in asked} == {"/v4/trackings/get"}
    assert served.rejected() == 0
    assert max(sum(1 for u in times if t <= u < t + 1.0) for t in times) <= 10
    assert times[-1] - times[0] >= 1.0
    # The second went by on the clock: skipped (about a hold), not waited for in real time.
    assert clock.skipped >= 0.9


def test_the_run_is_freed_before_the_collector_is_on_again(
    served: Sandbox, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The collector is off while the answers' objects live; turned on again with them still
    # alive, its next pass would walk every one of them at once, in the run's time.
    from waypost import quick_tm

    live: dict[str, int] = {}
    printing = quick_tm._Run._print

    def counted_print(run: quick_tm._Run) -> int:
        live["printing"] = len(gc.get_objects(generation=0))
        return printing(run)

    enable = gc.enable

    def counted_enable() -> None:
        live["enabled"] = len(gc.get_objects(generation=0))
        enable()

    # A first run imports what the path imports lazily: those modules' objects live on and
    # are not the run's (a test before this one in the same process may have imported them).
    # (In a data directory of its own: the run after it must not wait for its read.)
    data = os.environ["WAYPOST_DATA_DIR"]
    monkeypatch.setenv("WAYPOST_DATA_DIR", data + "-warm")
    assert _lean_track(numbers(3, preload=served), clock)[0] == 0
    monkeypatch.setenv("WAYPOST_DATA_DIR", data)
    # Only what the run makes counts: what lives when the collector goes off is set aside.
    disable = gc.disable

    def counted_disable() -> None:
        disable()
        gc.freeze()

    monkeypatch.setattr(gc, "disable", counted_disable)
    monkeypatch.setattr(quick_tm._Run, "_print", counted_print)
    monkeypatch.setattr(gc, "enable", counted_enable)
    listed = numbers(200, preload=served)
    assert gc.isenabled()
    try:
        code = _lean_track(listed, clock)[0]
    finally:
        gc.unfreeze()
    assert code == 0
    assert gc.isenabled()
    assert live["printing"] > 2000  # 200 records, their events and the answers' values
    assert live["enabled"] < live["printing"] / 4
