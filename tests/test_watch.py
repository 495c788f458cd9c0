"""`track --save`, `watch --once`, `list`, `remove` against the sandbox; lock, crash safety,
hooks and notifications."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import Outcome, stop_soon
from waypost.errors import (
    AuthError,
    ConfigError,
    MissingCredentials,
    NetworkError,
    NoCarrierConfigured,
    OutputError,
    StoreBusy,
    UsageError,
    WaypostError,
)
from waypost.sandbox import Sandbox
from waypost.store import Store

NUMBERS = ["3676E4043665", "3676E4040017", "1234S5678901"]


def store(isolated: Path) -> Store:
    return Store.open(isolated / "data")


def add_event(sandbox: Sandbox, number: str, text: str, where: str = "Felixstowe") -> None:
    assert sandbox.apps["ils"].add_event(number, text, where)


def test_save_then_watch_prints_only_what_is_new(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--save", "--label", "spring", *NUMBERS)
    assert r.code == 0, r.err
    assert "watching 3 new shipment(s)" in r.err
    first = cli("watch", "--once")
    assert (first.code, first.out) == (0, "")
    add_event(sandbox, "3676E4040017", "Released by customs", "Rotterdam")
    second: Outcome = cli("watch", "--once")
    assert second.code == 0, second.err
    lines = second.out.splitlines()
    assert lines[0].startswith("3676E4040017  ils  in_transit")
    assert lines[0].endswith("[spring]")
    events = [x for x in lines[1:] if not x.startswith("  status:")]
    assert len(events) == 1
    assert events[0].endswith("  Rotterdam  Released by customs")
    assert cli("watch", "--once").out == ""


def test_watch_jsonl_and_json_print_only_shipments_with_news(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    cli("track", "--save", *NUMBERS)
    add_event(sandbox, "3676E4043665", "Arrived at Felixstowe")
    r = cli("watch", "--once", "--jsonl")
    (line,) = r.out.splitlines()
    item = json.loads(line)
    assert item["tracking_number"] == "3676E4043665"
    assert [e["description"] for e in item["events"]] == ["Arrived at Felixstowe"]
    add_event(sandbox, "1234S5678901", "Arrived at Hamburg")
    doc = cli("watch", "--once", "--json").json()
    assert [s["tracking_number"] for s in doc["shipments"]] == ["1234S5678901"]  # type: ignore[index]
    assert cli("watch", "--once", "--json").out == ""


def test_delivered_shipments_drop_out_of_refreshes(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    cli("track", "--save", "3676E4038521", "3676E4043665")
    sandbox.reset_log()
    assert cli("watch", "--once").code == 0
    (entry,) = sandbox.entries("ils")
    assert entry.numbers == 1  # only the one in transit was asked
    assert "3676E4038521" in cli("list", "--all").out
    assert "3676E4038521" not in cli("list").out


def test_a_failed_carrier_leaves_the_stored_state_untouched(
    sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    cli("track", "--save", *NUMBERS)
    with store(isolated) as s:
        before = [(r.status, r.last_checked, r.last_event) for r in s.watched()]
    sandbox.stop()
    r = cli("watch", "--once", "--timeout", "1")
    assert r.code == 4
    assert r.out == ""
    with store(isolated) as s:
        assert [(r.status, r.last_checked, r.last_event) for r in s.watched()] == before


def test_list_remove_and_their_exit_codes(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    cli("track", "--save", "--label", "a", *NUMBERS)
    rows = [line.split("\t") for line in cli("list").out.splitlines()]
    assert [r[1] for r in rows] == NUMBERS
    assert rows[0][0] == "a"
    assert rows[0][3] == "in_transit"
    assert len(rows[0]) == 7
    doc = cli("list", "--json").json()
    assert {w["number"] for w in doc["watched"]} == set(NUMBERS)  # type: ignore[index]
    assert cli("list", "--status", "exception", "--jsonl").out.count("\n") == 1
    assert cli("list", "--status", "bogus").code == 2
    r = cli("remove", "3676E4043665", "NOPE12345")
    assert r.code == 1
    assert "not on the watch list: NOPE12345" in r.err
    assert cli("remove", "ils:3676E4040017").code == 0
    assert [line.split("\t")[1] for line in cli("list").out.splitlines()] == ["1234S5678901"]


def test_notify_without_apprise_names_the_extra(sandbox: Sandbox, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "apprise", None)
    r = cli("watch", "--once", "--notify", "json://127.0.0.1:1/x")
    assert r.code == 3
    assert "pip install 'waypost[notify]'" in r.err


def test_notify_sends_one_message_per_shipment_with_news(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    cli("track", "--save", *NUMBERS)
    add_event(sandbox, "3676E4043665", "Arrived at Felixstowe")
    add_event(sandbox, "1234S5678901", "Arrived at Hamburg")
    url = f"json://127.0.0.1:{sandbox.port}/_sandbox/sink"
    r = cli("watch", "--once", "--notify", url)
    assert r.code == 0, r.err
    assert len(sandbox.sink) == 2
    assert "3676E4043665" in sandbox.sink[0]["title"]
    assert "Arrived at Felixstowe" in sandbox.sink[0]["message"]


HOOK = textwrap.dedent(
    """
    import json, os, sys
    data = sys.stdin.read()
    log, kill_mark = sys.argv[1:3]  # hooks get a clean environment: paths come as arguments
    if os.path.exists(kill_mark) and os.environ["WAYPOST_NUMBER"] == open(kill_mark).read():
        os.kill(os.getppid(), 9)
        sys.exit(0)
    with open(log, "a") as fh:
        fh.write(json.dumps({"env": [os.environ["WAYPOST_NUMBER"], os.environ["WAYPOST_CARRIER"],
                 os.environ["WAYPOST_STATUS"]], "stdin": json.loads(data)}) + "\\n")
    """
)


@pytest.fixture
def hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path, Path]:
    script = tmp_path / "hook.py"
    script.write_text(HOOK)
    log, mark = tmp_path / "hook.log", tmp_path / "kill.mark"
    # -S: no site import (the hook needs none), a third of a start-up per piece of news
    return f"{sys.executable} -S {script} {log} {mark}", log, mark


def delivered(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [json.loads(line)["env"][0] for line in log.read_text().splitlines()]


def waypost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "waypost", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )


def test_exec_gets_hostile_carrier_text_as_plain_data(
    sandbox: Sandbox, cli, hook, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    command, log, _ = hook
    cli("track", "--save", "3676E4043665")
    pwned = tmp_path / "pwned"
    hostile = f"$(touch {pwned}) `touch {pwned}` \"quoted\" 'single'; rm -rf ~\nsecond line"
    add_event(sandbox, "3676E4043665", hostile, "Depot $(id)")
    r = cli("watch", "--once", "--exec", command)
    assert r.code == 0, r.err
    (entry,) = [json.loads(x) for x in log.read_text().splitlines()]
    assert entry["env"] == ["3676E4043665", "ils", "in_transit"]
    assert entry["stdin"]["events"][0]["description"] == hostile
    assert entry["stdin"]["events"][0]["location"] == "Depot $(id)"
    assert not pwned.exists()


def test_a_failing_hook_is_reported_and_its_news_is_retried(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    cli("track", "--save", *NUMBERS)
    add_event(sandbox, "3676E4043665", "Arrived")
    r = cli("watch", "--once", "--exec", f"{sys.executable} -c 'import sys; sys.exit(3)'")
    assert r.code == 1
    assert "--exec for 3676E4043665 exited with 3" in r.err
    again = cli("watch", "--once")
    assert "Arrived" in again.out


def test_sigkill_during_a_pass_loses_and_duplicates_nothing(
    sandbox: Sandbox, cli, hook, forker
) -> None:  # type: ignore[no-untyped-def]
    command, log, mark = hook
    cli("track", "--save", *NUMBERS)
    for number in NUMBERS:
        add_event(sandbox, number, f"News for {number}")
    mark.write_text(NUMBERS[1])  # the hook kills waypost while handing over the 2nd shipment
    # A child process forked from a warm interpreter (tests/forked.py); the hook kills it.
    killed = forker.run("watch", "--once", "--exec", command)
    assert killed.code == -9
    assert delivered(log) == NUMBERS[:1]
    mark.unlink()
    # Only the killed pass needs to be a process of its own; the passes after it are in-process.
    clean = cli("watch", "--once", "--exec", command)
    assert clean.code == 0, clean.err
    assert delivered(log) == NUMBERS
    assert cli("watch", "--once", "--exec", command).out == ""
    assert delivered(log) == NUMBERS


def test_a_second_watch_waits_then_skips_with_a_note(sandbox: Sandbox, cli, isolated: Path) -> None:  # type: ignore[no-untyped-def]
    import fcntl

    cli("track", "--save", "3676E4043665")
    lock = isolated / "data" / "watch.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        sandbox.reset_log()
        # In-process: flock() excludes another open file description of the same process too.
        r = cli("watch", "--once", "--lock-wait", "0.1")
    finally:
        os.close(fd)
    assert r.code == 0
    assert "another `waypost watch` is running" in r.err
    assert r.out == ""
    assert sandbox.entries() == []


def test_overlapping_watch_runs_notify_once(isolated: Path, hook, monkeypatch, cli, forker) -> None:  # type: ignore[no-untyped-def]
    command, log, _ = hook
    box = Sandbox(port=0, latency_ms=100).start()
    try:
        for key, value in box.env().items():
            monkeypatch.setenv(key, value)
        assert cli("track", "--save", *NUMBERS).code == 0
        for number in NUMBERS:
            assert box.apps["ils"].add_event(number, f"News {number}", "X")
        # Two processes at once (forked from a warm interpreter: tests/forked.py).
        args = ["watch", "--once", "--exec", command]
        started = [forker.start(*args), forker.start(*args)]
        done = [forker.wait(child, timeout=60) for child in started]
        outs = [(d.out, d.err) for d in done]
        assert [d.code for d in done] == [0, 0]
    finally:
        stop_soon(box)
    assert sorted(delivered(log)) == sorted(NUMBERS)
    printed = sorted(o[0] for o in outs)
    assert printed[0] == ""  # the run that waited for the lock found nothing new
    assert sum(printed[1].count(f"X  News {n}") for n in NUMBERS) == 3


def _wait_for(predicate, what: str, limit: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Poll a condition (not a timing assertion: the limit only bounds a broken run)."""
    import time

    give_up = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < give_up, f"gave up waiting for {what}"
        time.sleep(0.02)


def _lock_free(path: Path) -> bool:
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_watch_loop_stops_cleanly_on_sigterm_between_passes(
    sandbox: Sandbox, cli, isolated: Path, forker
) -> None:  # type: ignore[no-untyped-def]
    import signal

    cli("track", "--save", *NUMBERS)
    add_event(sandbox, "3676E4043665", "Arrived at Felixstowe")
    # A process of its own (forked from a warm interpreter: tests/forked.py), signalled.
    proc = forker.start("watch", "--interval", "1h", "--jsonl")
    _wait_for(lambda: proc.output().endswith("\n"), "the first pass's news")
    line = proc.output()  # the first pass printed its news and is sleeping
    assert json.loads(line)["tracking_number"] == "3676E4043665"
    _wait_for(lambda: _lock_free(isolated / "data" / "watch.lock"), "the pass to release its lock")
    os.kill(proc.pid, signal.SIGTERM)
    stopped = forker.wait(proc, timeout=30)
    err = stopped.err
    assert stopped.code == 0
    assert stopped.out == line  # no second pass after SIGTERM
    assert "watch stopped" in err
    assert "Traceback" not in err


def test_sigterm_during_a_pass_keeps_the_store_intact_and_loses_nothing(
    isolated: Path, monkeypatch, cli, forker
) -> None:  # type: ignore[no-untyped-def]
    import signal

    box = Sandbox(port=0).start()
    try:
        for key, value in box.env().items():
            monkeypatch.setenv(key, value)
        assert cli("track", "--save", *NUMBERS).code == 0
        assert box.apps["ils"].add_event(NUMBERS[0], "Arrived", "X")
        box.reset_log()
        box.latency = 1.5  # the pass is surely still waiting for its answer when SIGTERM comes
        # A process of its own (forked from a warm interpreter: tests/forked.py), signalled.
        proc = forker.start("watch", "--interval", "1h")
        _wait_for(lambda: len(box.entries("ils")) > 0, "the pass to reach the carrier")
        os.kill(proc.pid, signal.SIGTERM)
        stopped = forker.wait(proc, timeout=30)
        out, err = stopped.out, stopped.err
        assert stopped.code == 0, err
        assert out == ""
        assert "Traceback" not in err
        with store(isolated) as s:
            assert s.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        box.latency = 0
        again = cli("watch", "--once")
        assert "X  Arrived" in again.out
    finally:
        stop_soon(box)


def test_a_pending_answer_never_overwrites_a_known_history(
    sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    # Realtime answers LS912989618CN with its events; --save creates it in the TrackingMore
    # account, whose copy stays "pending" until TrackingMore fetches it.
    assert cli("track", "--save", "trackingmore:china-ems:LS912989618CN").code == 0
    r = cli("watch", "--once")
    assert (r.code, r.out) == (0, "")
    with store(isolated) as s:
        (row,) = s.watched()
        assert row.status == "in_transit"
        assert row.last_checked is not None


def test_progress_is_off_the_screen_before_news_is_printed(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    """The bars live on stderr; news printed under a live bar gets overwritten by its redraw."""
    import io

    from waypost import config
    from waypost import watch as watching
    from waypost.notify import Notifier
    from waypost.render import Format, NewsWriter, Terminal

    cli("track", "--save", *NUMBERS)
    add_event(sandbox, "3676E4043665", "Arrived at Felixstowe")
    out = io.StringIO()
    seen: list[str] = []
    with Store.open(Path(os.environ["WAYPOST_DATA_DIR"])) as db:
        result = watching.run_pass(
            db,
            config.load(env=os.environ),
            Notifier(),
            sink=NewsWriter(Format.PLAIN, Terminal(), out, print),
            timeout=10,
            warn=print,
            on_answers=lambda: seen.append(out.getvalue()),
        )
    assert result.exit_code == 0
    assert seen == [""]
    assert "Arrived at Felixstowe" in out.getvalue()


@pytest.mark.parametrize(
    ("fatal", "ends"),
    [
        (UsageError("bad number"), True),
        (ConfigError("bad config"), True),
        (NoCarrierConfigured("no carrier"), True),
        (AuthError("key rejected"), True),
        (MissingCredentials("no key"), True),
        (NetworkError("unreachable"), False),
        (StoreBusy("busy"), False),
        (OutputError("closed"), False),
    ],
)
def test_the_watch_loop_ends_on_errors_every_pass_would_meet_by_their_class(
    fatal: WaypostError, ends: bool
) -> None:
    import signal

    from waypost import watch

    raised = iter([NetworkError("first pass failed"), fatal])
    heard: list[WaypostError] = []

    def one_pass() -> watch.PassReport:
        error = next(raised, None)
        if error is None:
            raise KeyboardInterrupt  # a third pass: the loop went on past ``fatal``
        raise error

    previous = signal.getsignal(signal.SIGTERM)
    try:
        if ends:
            with pytest.raises(type(fatal)):
                watch.loop(one_pass, seconds=0, once=False, on_failure=heard.append)
            assert [str(e) for e in heard] == ["first pass failed"]
        else:
            with pytest.raises(KeyboardInterrupt):
                watch.loop(one_pass, seconds=0, once=False, on_failure=heard.append)
            assert [str(e) for e in heard] == ["first pass failed", str(fatal)]
    finally:
        signal.signal(signal.SIGTERM, previous)
