"""``sandbox --stop`` and ``--detach`` trust the state file's pid only once it proves to be the
sandbox this user started; nothing else is ever signalled."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.forked import ForkServer
from waypost.sandbox import detach


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A process of this user that must survive every attempt."""
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def state_file(isolated: Path) -> Path:
    return detach.state_path(isolated / "data")


def write(isolated: Path, state: object) -> None:
    path = state_file(isolated)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state))


@pytest.mark.parametrize("pid", [-1, 0, 1, "1234", 3.5, None, True], ids=lambda p: f"pid={p!r}")
def test_bad_pids_are_never_signalled(isolated: Path, cli, pid: object, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    signalled: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda p, s: signalled.append((p, s)))
    write(isolated, {"pid": pid, "port": 1, "token": "x"})
    r = cli("sandbox", "--stop")
    assert r.code != 0
    assert "signalled nothing" in r.err
    assert "Traceback" not in r.err
    assert [s for s in signalled if s[1] != 0] == []
    assert not state_file(isolated).exists()


def test_a_strangers_process_is_never_signalled(isolated: Path, cli, bystander) -> None:  # type: ignore[no-untyped-def]
    for state in (
        {"pid": bystander.pid},
        {"pid": bystander.pid, "port": 9, "token": "guess"},
        {"pid": os.getpid(), "port": 9, "token": "guess"},
    ):
        write(isolated, state)
        r = cli("sandbox", "--stop")
        assert r.code == 2, r.err
        assert "signalled nothing" in r.err
        assert bystander.poll() is None
    write(isolated, "not a dict")
    assert "signalled nothing" in cli("sandbox", "--stop").err
    assert cli("sandbox", "--stop").err.strip() == "no detached sandbox is running"


def test_a_sandbox_with_the_wrong_token_is_not_signalled(isolated: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = isolated / "data"
    state = detach.spawn(data, 0, 0.0, timeout=20)
    try:
        forged = {**state, "token": "0" * 32}
        write(isolated, forged)
        r = cli("sandbox", "--stop")
        assert "signalled nothing" in r.err
        os.kill(state["pid"], 0)  # still alive
    finally:
        os.kill(state["pid"], 15)


def test_detach_twice_reuses_and_stop_stops(isolated: Path, forker: ForkServer) -> None:
    # The three commands are processes of their own forked from a warm interpreter
    # (tests/forked.py); the detached sandbox they start and stop is a fresh `python -m waypost`.
    first = forker.run("sandbox", "--detach", timeout=60)
    assert first.code == 0, first.err
    state = json.loads(state_file(isolated).read_text())
    try:
        assert oct(state_file(isolated).stat().st_mode & 0o777) == "0o600"
        assert len(state["token"]) == 32
        second = forker.run("sandbox", "--detach", timeout=60)
        assert second.code == 0, second.err
        assert "already runs" in second.err
        assert f"port {state['port']}" in second.err
        assert second.out == first.out
        assert json.loads(state_file(isolated).read_text())["pid"] == state["pid"]
    finally:
        stopped = forker.run("sandbox", "--stop", timeout=60)
    assert stopped.code == 0, stopped.err
    assert "sandbox stopped" in stopped.err
    for _ in range(200):  # the sandbox is not our child: poll until it is gone (10 s at most)
        try:
            os.kill(state["pid"], 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the sandbox is still running after --stop")
