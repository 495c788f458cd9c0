"""``track``'s lean path for TrackingMore v4 numbers in the account (``waypost.quick_tm``)
against the model path, in forked ``waypost`` processes over the sandbox: the same output,
exit code, requests and kept state, faults included; and (in a fresh interpreter) what it
imports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.forked import ForkServer
from tests.lean_common import MODULES
from waypost.carriers.trackingmore import v4_api as api
from waypost.carriers.trackingmore.v4 import NS_ACCOUNT, NS_LIMITS
from waypost.sandbox import Sandbox
from waypost.sandbox.trackingmore import App, synthetic_number
from waypost.store import DB_NAME, Store

pytestmark = pytest.mark.real_clock

# Run in each child before ``main``: which way the lean path ended, written to ``mark``.
TAKEN = """
import waypost.quick_tm as q
def _ended(how, inner):
    def wrapped(*args, **kw):
        open({mark!r}, "w").write(how)
        return inner(*args, **kw)
    return wrapped
q._Run._print = _ended("printed", q._Run._print)
q.Handover.__init__ = _ended("handed over", q.Handover.__init__)
"""
TAKEN_BY: dict[bool, str] = {}


def _app(box: Sandbox) -> App:
    app = box.apps["trackingmore"]
    assert isinstance(app, App)
    return app


def numbers(count: int, prefix: str = "LV", *, preload: Sandbox | None = None) -> list[str]:
    found = [synthetic_number(80_000 + i, prefix) for i in range(count)]
    if preload is not None:
        _app(preload).preload(found)
    return found


def _env(box: Sandbox, data: Path, lean: bool, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(box.env())
    env.update(
        WAYPOST_DATA_DIR=str(data),
        WAYPOST_CONFIG=str(data.parent / "config.toml"),
        WAYPOST_LEAN="1" if lean else "0",
        WAYPOST_HTTP_BACKOFF="0.01",
        WAYPOST_HTTP_RETRIES="1",
    )
    env.update(extra)
    return env


def run(
    forker: ForkServer,
    box: Sandbox,
    tmp: Path,
    args: list[str],
    *,
    lean: bool,
    faults: str = "",
    **extra: str,
) -> tuple[int, str, str, list[str], dict[str, Any]]:
    """(exit code, stdout, stderr, the requests the sandbox saw, the account state kept) of one
    forked ``waypost`` process, each path with a data directory of its own."""
    data = tmp / ("lean" if lean else "model")
    box.reset_log()
    box.inject(faults)
    mark = tmp / "taken"
    mark.unlink(missing_ok=True)
    env = _env(box, data, lean, **extra)
    done = forker.run(*args, env=env, cwd=tmp, timeout=120, preexec=TAKEN.format(mark=str(mark)))
    TAKEN_BY[lean] = mark.read_text() if mark.exists() else "model path"
    with box.lock:
        # A created tracking's id is new each time: the delete is compared without it.
        paths = [(e, re.sub(r"/delete/\w+", "/delete/ID", e.path)) for e in box.log]
        asked = sorted(f"{e.method} {path} {e.status} {e.numbers}" for e, path in paths)
    kept: dict[str, Any] = {}
    if (data / DB_NAME).exists():
        with Store.open(data) as store:
            members = {n: store.state.get(NS_ACCOUNT, n) for n in args if n[:1].isalnum()}
            kept["members"] = sorted(n for n, v in members.items() if isinstance(v, str))
            kept["read kept"] = store.state.get(NS_LIMITS, api.GET) is not None
    return done.code, done.out, done.err, asked, kept


def same_both_ways(
    forker: ForkServer, box: Sandbox, tmp: Path, args: list[str], **kw: str
) -> tuple[int, str, str]:
    lean = run(forker, box, tmp, args, lean=True, **kw)
    model = run(forker, box, tmp, args, lean=False, **kw)
    if "--jsonl" in args:  # lines come in the order the answers do, on either path
        lean, model = (
            (code, "".join(sorted(out.splitlines(keepends=True))), err, asked, kept)
            for code, out, err, asked, kept in (lean, model)
        )
    assert lean == model
    assert TAKEN_BY[False] == "model path"
    return lean[0], lean[1], lean[2]


@pytest.mark.parametrize("fmt", [[], ["--json"], ["--jsonl"]])
def test_numbers_in_the_account_print_the_same_both_ways(
    forker: ForkServer, box: Sandbox, tmp_path: Path, fmt: list[str]
) -> None:
    listed = numbers(130, preload=box)
    asked = [*listed, listed[5]]  # a repeated number is asked once
    code, out, _ = same_both_ways(forker, box, tmp_path, ["track", *fmt, *asked])
    assert code == 0
    assert TAKEN_BY[True] == "printed"
    if fmt == ["--json"]:
        shipments = json.loads(out)["shipments"]
        assert len(shipments) == len(listed)
        assert all(s["carrier"] == "trackingmore" and s["events"] for s in shipments)


def test_the_lean_path_reads_40_a_call_and_keeps_the_models_state(
    forker: ForkServer, box: Sandbox, tmp_path: Path
) -> None:
    listed = numbers(90, preload=box)
    lean = run(forker, box, tmp_path, ["track", "--json", *listed], lean=True)
    assert lean[0] == 0
    assert lean[3] == sorted([f"GET /v4{api.GET} 200 40"] * 2 + [f"GET /v4{api.GET} 200 10"])
    assert TAKEN_BY[True] == "printed"
    assert lean[4] == {"members": sorted(listed), "read kept": True}


def test_a_courier_prefix_and_the_etas_and_last_miles_print_the_same(
    forker: ForkServer, box: Sandbox, tmp_path: Path
) -> None:
    listed = numbers(12, preload=box)
    args = ["track", "--json", *(f"trackingmore:sandbox-post:{n}" for n in listed)]
    code, out, _ = same_both_ways(forker, box, tmp_path, args)
    assert code == 0
    assert TAKEN_BY[True] == "printed"
    assert {s["courier"] for s in json.loads(out)["shipments"]} == {"sandbox-post"}


def test_numbers_not_in_the_account_are_created_on_the_model_path_asking_nothing_twice(
    forker: ForkServer, box: Sandbox, tmp_path: Path
) -> None:
    known = numbers(45, preload=box)
    new = numbers(2, "LN")
    args = ["track", "--json", *new, *known]
    lean = run(forker, box, tmp_path, args, lean=True)
    assert TAKEN_BY[True] == "handed over"
    assert lean == run(forker, box, tmp_path, args, lean=False)
    assert lean[0] == 0
    gets = [r for r in lean[3] if api.GET in r]
    assert len(gets) == 2  # each chunk read once, though the model path answered it
    assert sum(api.CREATE in r for r in lean[3]) == 2


@pytest.mark.parametrize(
    "faults",
    [
        "429@trackingmore:x1",
        "500@trackingmore:x1",
        "503@trackingmore:x9",
        "truncated@trackingmore:x1",
        "html200@trackingmore:x1",
        "shape@trackingmore:x1",
        "empty@trackingmore:x1",
    ],
)
def test_faulty_answers_go_to_the_model_path_asking_nothing_twice(
    forker: ForkServer, box: Sandbox, tmp_path: Path, faults: str
) -> None:
    listed = numbers(3, preload=box)
    same_both_ways(forker, box, tmp_path, ["track", "--json", *listed], faults=faults)
    assert TAKEN_BY[True] == "handed over"


def test_a_rejected_key_is_reported_as_before(
    forker: ForkServer, box: Sandbox, tmp_path: Path
) -> None:
    listed = numbers(3, preload=box)
    code, out, err = same_both_ways(
        forker, box, tmp_path, ["track", *listed], WAYPOST_TRACKINGMORE_API_KEY="wrong-key"
    )
    assert code != 0
    assert TAKEN_BY[True] == "handed over"
    assert "wrong-key" not in out + err


def test_a_stored_pause_or_a_read_just_now_leaves_the_run_to_the_model_path(
    forker: ForkServer, box: Sandbox, tmp_path: Path
) -> None:
    listed = numbers(3, preload=box)
    data = tmp_path / "lean"
    data.mkdir()
    with Store.open(data) as store:
        store.state.put(NS_LIMITS, "paused_until", 4e9)
    code, _, _, asked, _ = run(forker, box, tmp_path, ["track", *listed], lean=True)
    assert TAKEN_BY[True] == "model path"
    assert asked == []  # the model path reports the stored pause without asking
    assert code != 0


def test_the_lean_v4_path_loads_no_network_stack_no_models(box: Sandbox, tmp_path: Path) -> None:
    listed = numbers(3, preload=box)
    env = _env(box, tmp_path / "data", True)
    done = subprocess.run(
        [sys.executable, "-c", MODULES, "track", "--json", *listed],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["shipments"]) == 3
    modules = set(done.stderr.rsplit("MODULES ", 1)[1].split())
    heavy = {"httpx", "httpcore", "asyncio", "pydantic", "waypost.models", "rich", "tenacity"}
    assert modules & heavy == set()
    assert {"waypost.quick_tm", "waypost.carriers.trackingmore.lean"} <= modules


def test_the_lean_path_keeps_the_v4_facts_of_the_model_path() -> None:
    from waypost import quick_tm
    from waypost.carriers.trackingmore import v4

    assert (quick_tm.NS_ACCOUNT, quick_tm.NS_LIMITS) == (v4.NS_ACCOUNT, v4.NS_LIMITS)
    assert quick_tm.DEFAULT_BASE == api.DEFAULT_BASE
    assert (api.GET, api.RATES[api.GET]) == (quick_tm.GET, quick_tm.GET_RATE)
    assert quick_tm.MAX_NUMBERS == api.MAX_NUMBERS


def test_a_journey_leg_goes_to_the_model_path_with_the_reads_replayed(
    forker: ForkServer, box: Sandbox, tmp_path: Path
) -> None:
    first, second = numbers(2, preload=box)
    for lean in (True, False):  # each path's own watch list: the two numbers, linked
        assert run(forker, box, tmp_path, ["track", "--save", first, second], lean=lean)[0] == 0
        assert run(forker, box, tmp_path, ["link", first, second], lean=lean)[0] == 0
        with Store.open(tmp_path / ("lean" if lean else "model")) as store:
            store.state.put(NS_LIMITS, api.GET, 0.0)  # the last read long ago: no spacing
    lean, model = (
        run(forker, box, tmp_path, ["track", first, second], lean=lean) for lean in (True, False)
    )
    assert TAKEN_BY[True] == "handed over"
    # Each watch list named its journey: compared without the id.
    lean, model = ((r[0], re.sub(r"\bj[0-9a-f]{8}\b", "ID", r[1]), *r[2:]) for r in (lean, model))
    assert lean == model
    assert lean[0] == 0
    assert "journey ID" in lean[1]
