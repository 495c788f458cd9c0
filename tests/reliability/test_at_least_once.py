"""At-least-once for TrackingMore's account cursor: a `watch` pass killed (SIGKILL) at any point,
or whose hook fails, delivers that news again in a later pass; none is lost.

The news is dated well before the pass (its ``updated_at`` 5,000 s ago, the stored cursor older
still), so a cursor moved to "now" before delivery would hide it from every later pass: the
10-minute overlap of ``update_time_min`` cannot cover it. Every case runs against both API
versions (``api``: v2's ``update_time_min``, v4's ``updated_date_min``).

Only the pass that is killed is a process of its own (forked from a warm interpreter:
tests/forked.py); the passes that set the news up and the ones that check it arrives afterwards
run in-process (``cli``): the same code on the same store, without paying an interpreter
start-up each.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import textwrap
import time
from pathlib import Path

import pytest

from tests.forked import ForkServer
from tests.hostile import HostileServer, Seen
from tests.inproc import VirtualClock, hold_passed
from waypost.sandbox import Sandbox
from waypost.sandbox.trackingmore import synthetic_number
from waypost.store import Store

NUMBERS = [synthetic_number(i, "AL") for i in (0, 1, 4)]  # none of them delivered yet
QUERIES = [f"trackingmore:sandbox-post:{n}" for n in NUMBERS]

# Logs each delivery (the number, a tab, the JSON on one line); kills waypost, its parent,
# before (``before:N``) or after (``after:N``) handing over N. A shell script: a hook run costs
# a few milliseconds instead of an interpreter start-up each.
HOOK = textwrap.dedent(
    """\
    number=$WAYPOST_NUMBER
    # Hooks get a clean environment: the log and the kill mark come as arguments and a file.
    log=$1
    mark=$(cat "$2" 2>/dev/null)
    if [ "$mark" = "before:$number" ]; then
        kill -9 "$PPID"
        exit 0
    fi
    { printf '%s\\t' "$number"; tr -d '\\n'; echo; } >> "$log"
    if [ "$mark" = "after:$number" ]; then
        kill -9 "$PPID"
    fi
    """
)


# Where each API version's adapter keeps its watch cursor.
CURSOR = {"v2": "trackingmore.watch", "v4": "trackingmore4.watch"}


@pytest.fixture(params=sorted(CURSOR))
def api(request: pytest.FixtureRequest) -> str:
    """The TrackingMore API version waypost speaks (``carriers.trackingmore.api``)."""
    return str(request.param)


@pytest.fixture
def news(
    api: str,
    hostile: HostileServer,
    sandbox: Sandbox,
    isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli,  # type: ignore[no-untyped-def]
) -> Path:
    """Three watched TrackingMore numbers, a first pass done, then one old piece of news each;
    returns the hook log."""
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_API", api)
    base = os.environ["WAYPOST_TRACKINGMORE_BASE_URL"].removesuffix("/v4")
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_BASE_URL", f"{base}/{api}")
    app = sandbox.apps["trackingmore"]
    app.preload(NUMBERS, "sandbox-post")
    assert cli("track", "--save", *QUERIES).code == 0
    first = cli("watch", "--once")
    assert first.code == 0, first.err
    for number in NUMBERS:
        assert app.add_event(number, f"News for {number}", "Hub")
    long_ago = time.time() - 5000
    for tracking in app.account.values():
        tracking.updated = long_ago
    with Store.open(isolated / "data") as store:
        assert store.state.get(CURSOR[api], "cursor") is not None
        store.state.put(CURSOR[api], "cursor", long_ago - 5000)
    script = isolated / "hook.sh"
    script.write_text(HOOK)
    log = isolated / "hook.log"
    monkeypatch.setenv("HOOK", f"/bin/sh {script} {log} {isolated / 'kill-at'}")
    return log


def delivered(log: Path) -> list[tuple[str, str]]:
    """(number, event description) for each event each hook run was handed."""
    if not log.exists():
        return []
    got = []
    for line in log.read_text().splitlines():
        number, payload = line.split("\t", 1)
        got += [(number, event["description"]) for event in json.loads(payload)["events"]]
    return got


def everything_arrives(log: Path, isolated: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """A clean pass delivers what is missing, a third one nothing; the store is intact."""
    clean = cli("watch", "--once", "--exec", os.environ["HOOK"])
    assert clean.code == 0, clean.err
    assert "Traceback" not in clean.err
    wanted = {(n, f"News for {n}") for n in NUMBERS}
    assert wanted <= set(delivered(log))
    count = len(delivered(log))
    quiet = cli("watch", "--once", "--exec", os.environ["HOOK"])
    assert (quiet.code, quiet.out) == (0, "")
    assert len(delivered(log)) == count
    with sqlite3.connect(isolated / "data" / "waypost.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


KILL_POINTS = [
    *(f"before:{n}" for n in NUMBERS),
    *(f"after:{n}" for n in NUMBERS),
]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_while_delivering_loses_nothing(
    point: str, news: Path, isolated: Path, cli, forker: ForkServer, clock: VirtualClock
) -> None:  # type: ignore[no-untyped-def]
    (isolated / "kill-at").write_text(point)
    hold_passed(isolated / "data", clock)  # the child would first wait out the spacing
    # A child process forked from a warm interpreter (tests/forked.py); the hook kills it.
    killed = forker.run("watch", "--once", "--exec", os.environ["HOOK"])
    assert killed.code == -signal.SIGKILL
    (isolated / "kill-at").unlink()
    index = NUMBERS.index(point.split(":")[1])
    got = {n for n, _ in delivered(news)}
    assert got == set(NUMBERS[: index + point.startswith("after")])
    everything_arrives(news, isolated, cli)


def test_sigkill_while_asking_the_carrier_loses_nothing(
    news: Path,
    hostile: HostileServer,
    isolated: Path,
    cli,
    clock: VirtualClock,
    forker: ForkServer,
) -> None:  # type: ignore[no-untyped-def]
    """Killed while TrackingMore's account page is still on its way."""
    pid: queue.Queue[int] = queue.Queue()
    kills: list[int] = []

    def kill(seen: Seen) -> None:
        if seen.carrier == "trackingmore" and not kills:
            kills.append(pid.get(timeout=60))  # known as soon as the child runs
            os.kill(kills[0], signal.SIGKILL)  # the answer never goes out: the child is gone

    hostile.answer(kill)  # type: ignore[arg-type]
    hold_passed(isolated / "data", clock)
    # A child process forked from a warm interpreter (tests/forked.py), killed by the server.
    killed = forker.run("watch", "--once", "--exec", os.environ["HOOK"], started=pid.put)
    hostile.answer(None)
    assert killed.code == -signal.SIGKILL
    assert delivered(news) == []
    everything_arrives(news, isolated, cli)


def test_a_failing_hook_gets_the_news_again_next_pass(news: Path, isolated: Path, cli) -> None:  # type: ignore[no-untyped-def]
    failed = cli("watch", "--once", "--exec", "/bin/false")
    assert failed.code == 1
    assert "Traceback" not in failed.err
    again = cli("watch", "--once", "--jsonl")
    assert again.code == 0, again.err
    shown = {json.loads(line)["tracking_number"] for line in again.out.splitlines()}
    assert shown == set(NUMBERS)
    assert cli("watch", "--once").out == ""
