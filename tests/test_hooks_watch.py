"""`watch` as cron runs it: hooks that leave a background job, hook output beside JSON, `-q`,
an empty or repeated `--exec`, why a notification failed; `edit --courier` messages; the
TrackingMore sandbox's events dated now."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from waypost.sandbox import Sandbox

ILS = "3676E4043665"
LS = "LS912989618CN"
FEDEX = "986578788855"


def news(sandbox: Sandbox, text: str) -> None:
    assert sandbox.apps["ils"].add_event(ILS, text, "Felixstowe")


def test_a_hook_that_leaves_a_background_job_is_done_when_it_exits(
    sandbox: Sandbox, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # The job outlives the (shortened) hook timeout and holds the hook's stdout and stderr.
    monkeypatch.setattr("waypost.notify.HOOK_TIMEOUT", 5.0)
    pid = tmp_path / "job.pid"
    hook = f"sh -c 'sleep 30 & echo $! > {pid}; echo started; echo to-stderr >&2; exit 0'"
    assert cli("track", "--save", ILS).code == 0
    news(sandbox, "Discharged")
    try:
        r = cli("watch", "--once", "--exec", hook)
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid.read_text()), signal.SIGKILL)
    assert "timed out" not in r.err
    assert r.code == 0, r.err
    assert "started" in r.out  # what it wrote before it exited is kept
    assert "to-stderr" in r.err
    assert cli("watch", "--once").out == ""  # delivered, so stored: not news again


def test_a_hook_still_times_out_itself(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("waypost.notify.HOOK_TIMEOUT", 0.2)
    assert cli("track", "--save", ILS).code == 0
    news(sandbox, "Discharged")
    r = cli("watch", "--once", "--exec", "sleep 30")
    assert r.code == 1
    assert f"--exec for {ILS} timed out after 0.2s" in r.err
    assert "Discharged" in cli("watch", "--once").out  # not delivered: still new


@pytest.mark.parametrize("fmt", ["--json", "--jsonl"])
def test_hook_output_beside_json_goes_to_stderr_as_it_is(sandbox: Sandbox, cli, fmt: str) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", ILS).code == 0
    news(sandbox, "Discharged")
    r = cli("watch", "--once", fmt, "--exec", "echo hi")
    assert r.code == 0, r.err
    assert r.err == "hi\n"  # not "waypost: error: hi", no blank line after it
    assert "Discharged" in r.out
    json.loads(r.out.splitlines()[0] if fmt == "--jsonl" else r.out)


def test_quiet_hides_the_another_watch_note(sandbox: Sandbox, cli, isolated: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", ILS).code == 0
    fd = os.open(isolated / "data" / "watch.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        quiet = cli("watch", "--once", "-q", "--lock-wait", "0")
        loud = cli("watch", "--once", "--lock-wait", "0")
    finally:
        os.close(fd)
    assert (quiet.code, quiet.out, quiet.err) == (0, "", "")
    assert loud.code == 0
    assert "waypost: note: another `waypost watch` is running" in loud.err


def test_an_empty_exec_is_a_usage_error_and_delivers_nothing(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", ILS).code == 0
    news(sandbox, "Discharged")
    r = cli("watch", "--once", "--exec", "")
    assert r.code == 2
    assert "--exec needs a command" in r.err
    assert "Discharged" in cli("watch", "--once").out  # still new


def test_a_repeated_exec_is_a_usage_error(sandbox: Sandbox, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", ILS).code == 0
    news(sandbox, "Discharged")
    ran = tmp_path / "ran"
    r = cli("watch", "--once", "--exec", f"touch {ran}", "--exec", f"touch {ran}")
    assert r.code == 2
    assert "--exec takes one command, given 2 times" in r.err
    assert not ran.exists()
    assert "Discharged" in cli("watch", "--once").out


def test_a_failed_notification_names_its_cause_without_secrets(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("apprise")
    assert cli("track", "--save", ILS).code == 0
    news(sandbox, "Discharged")
    r = cli("watch", "--once", "--notify", "json://someone:S3cretPass@127.0.0.1:1/x")
    assert r.code == 1
    (line,) = [x for x in r.err.splitlines() if "was not delivered" in x]
    assert line.startswith(f"waypost: error: notification for {ILS} was not delivered: ")
    assert "Connection error" in line
    assert "Connection refused" in line
    assert "S3cretPass" not in r.err


def test_edit_to_the_courier_it_has_says_so_and_sends_nothing(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", f"trackingmore:fedex:{FEDEX}").code == 0
    sandbox.reset_log()
    r = cli("edit", FEDEX, "--courier", "FedEx")
    assert r.code == 0, r.err
    assert f"{FEDEX}: courier already fedex; nothing sent" in r.err
    assert "moved from" not in r.err
    assert sandbox.entries("trackingmore") == []


def test_edit_to_a_refused_courier_hints_at_the_list_of_codes(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", f"trackingmore:fedex:{FEDEX}").code == 0
    r = cli("edit", FEDEX, "--courier", "nosuchcourier")
    assert r.code == 4
    assert "hint: `waypost carriers --remote trackingmore` lists the courier codes" in r.err
    assert "trackingmore:COURIER:NUMBER" not in r.err


NOW = datetime(2026, 12, 2, 4, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("number", "place", "zone"),
    [
        ("RN210552627LT", None, "Asia/Seoul"),  # the destination leg's country: Korea, South
        ("RN210552627LT", "SHANGHAI, CHINA", "Asia/Shanghai"),  # the place names its country
        ("1Z999AA10123456784", None, None),  # the US has several zones: UTC
    ],
)
def test_sandbox_trackingmore_events_added_now_are_dated_now_where_they_happen(
    number: str, place: str | None, zone: str | None
) -> None:
    box = Sandbox(port=0, now=lambda: NOW)
    app = box.apps["trackingmore"]
    assert app.add_event(number, "Arrived", place)
    known = app.world[number]
    point = (known.destination or known.origin)["trackinfo"][0]
    local = NOW.astimezone(ZoneInfo(zone) if zone else UTC)
    assert point["Date"] == local.strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize("api", ["v4", "v2"])
def test_a_trackingmore_event_added_now_reads_back_as_now(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch, api: str
) -> None:  # type: ignore[no-untyped-def]
    if api == "v2":
        monkeypatch.setenv("WAYPOST_TRACKINGMORE_API", "v2")
        v4 = sandbox.env()["WAYPOST_TRACKINGMORE_BASE_URL"]
        monkeypatch.setenv("WAYPOST_TRACKINGMORE_BASE_URL", v4.removesuffix("/v4") + "/v2")
    monkeypatch.setattr(sandbox, "now", lambda: NOW)
    assert cli("track", "--save", "trackingmore:korea-post:RN210552627LT").code == 0
    assert sandbox.apps["trackingmore"].add_event("RN210552627LT", "Arrived at Seoul", None)
    for tracking in sandbox.apps["trackingmore"].account.values():
        tracking.updated = tracking.updated + 1
    r = cli("watch", "--once", "--json")
    assert r.code == 0, r.err
    (shipment,) = json.loads(r.out)["shipments"]
    event = next(e for e in shipment["events"] if e["description"] == "Arrived at Seoul")
    assert datetime.fromisoformat(event["time"]) == NOW


def test_a_hook_the_os_cannot_run_is_reported_and_its_news_kept(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "no-shebang"
    script.write_bytes(b"\x7fELF not really\n")
    script.chmod(0o755)
    assert cli("track", "--save", ILS).code == 0
    news(sandbox, "Discharged")
    r = cli("watch", "--once", "--exec", str(script))
    assert r.code == 1, r.err
    assert f"--exec for {ILS} could not be started: Exec format error" in r.err
    assert "internal error" not in r.err
    assert "Discharged" in cli("watch", "--once").out


def test_a_watch_loops_skipped_pass_is_a_note_quiet_keeps_quiet() -> None:
    # ``watch`` without --once tells each failed pass itself (main() tells the last one).
    import io

    from waypost.cli.env import Env
    from waypost.cli.track import _tell_pass_failure
    from waypost.errors import StoreError, StoreLocked

    quiet, loud = Env(stderr=io.StringIO()), Env(stderr=io.StringIO())
    quiet.quiet = True
    for env in (quiet, loud):
        _tell_pass_failure(env, StoreLocked("another `waypost watch` is running"))
        _tell_pass_failure(env, StoreError("the store is read-only"))
    assert quiet.stderr.getvalue() == "waypost: error: the store is read-only\n"
    assert loud.stderr.getvalue() == (
        "waypost: note: another `waypost watch` is running\n"
        "waypost: error: the store is read-only\n"
    )
