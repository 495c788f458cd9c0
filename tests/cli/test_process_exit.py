"""Whole-process behaviour of the start-up and exit shortcuts (issue 20): httpx's command-line
module stays unloaded, and freezing the heap at exit loses no output and no exit code."""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import freeze_heap
from waypost import __main__ as entry

CLI_ONLY = ("click", "pygments", "rich")


def _loaded(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(','.join(m for m in {CLI_ONLY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


@pytest.mark.skipif(importlib.util.find_spec("click") is None, reason="needs click installed")
def test_httpx_alone_loads_its_cli_stack() -> None:
    # The control: without waypost's placeholder, importing httpx pulls click in.
    assert "click" in _loaded("import httpx")


@pytest.mark.skipif(importlib.util.find_spec("click") is None, reason="needs click installed")
def test_waypost_http_and_service_leave_httpx_cli_unloaded() -> None:
    assert _loaded("import waypost.http, waypost.service") == []
    assert _loaded("import waypost.service, httpx; assert callable(httpx.main)") == []


def _run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run(
        [sys.executable, "-m", "waypost", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_piped_track_json_is_complete_with_exit_code_0(sandbox: object) -> None:
    numbers = [f"4242S{i:07d}" for i in range(300)]
    done = _run(["track", "--json", "-"], "\n".join(numbers))
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("}\n")
    shipments = json.loads(done.stdout)["shipments"]
    assert [s["tracking_number"] for s in shipments] == numbers
    assert all(s["found"] and s["events"] for s in shipments)


def test_piped_track_keeps_a_failure_exit_code(sandbox: object) -> None:
    done = _run(["track", "3676E4000500"])  # the sandbox fails every request holding it
    assert done.returncode == 4
    assert "System busy" in done.stdout
    assert done.stdout.endswith("\n")


def test_track_into_a_closed_pipe_exits_quietly(sandbox: object) -> None:
    numbers = "\n".join(f"4343S{i:07d}" for i in range(200))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with subprocess.Popen(
        [sys.executable, "-m", "waypost", "track", "--json", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdin.write(numbers.encode())
        proc.stdin.close()
        assert proc.stdout.read(64).startswith(b"{")
        proc.stdout.close()  # the reader goes away, as `| head -c 64` does
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err
    assert "Exception ignored" not in err


@pytest.mark.parametrize(
    ("argv", "frozen"),
    [
        (["track", "X"], True),
        (["list"], True),
        (["config", "show"], True),
        (["carriers"], True),  # offline since the quota is kept; every path closes its cache
        (["--help"], True),
        (["watch"], False),
        (["sandbox"], False),
        ([], False),
    ],
)
def test_main_freezes_the_heap_only_after_safe_commands(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], frozen: bool
) -> None:
    monkeypatch.setattr(sys, "argv", ["waypost", *argv])
    monkeypatch.setattr("waypost.cli.main", lambda: 3)
    gc.unfreeze()  # the harness's freeze (tests/conftest.py), made again afterwards
    try:
        assert entry.main() == 3
        assert (gc.get_freeze_count() > 0) is frozen
    finally:
        gc.unfreeze()
        freeze_heap()


def test_config_set_as_a_process_still_writes_its_file(isolated: Path) -> None:
    done = _run(["config", "set", "carriers.ils.user_id", "abc"])
    assert done.returncode == 0, done.stderr
    written = (isolated / "config" / "config.toml").read_text()
    assert 'user_id = "abc"' in written
    shown = _run(["config", "show"])
    assert shown.returncode == 0
    assert 'user_id = "abc"' in shown.stdout
