"""Whole-process behaviour of the start-up and exit shortcuts (issue 20): httpx's command-line
module stays unloaded, and freezing the heap at exit loses no output and no exit code."""

from __future__ import annotations

import fcntl
import gc
import importlib.util
import json
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.forked import Forked, ForkServer
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


def _run(forker: ForkServer, args: list[str], stdin: str | None = None) -> Forked:
    """``waypost ARGS`` as a process of its own that exits through ``__main__`` (the freeze
    at exit, flushing, the exit status), forked from a warm interpreter (tests/forked.py)."""
    return forker.wait(forker.start(*args, stdin=stdin), timeout=120)


def test_piped_track_json_is_complete_with_exit_code_0(sandbox: object, forker: ForkServer) -> None:
    numbers = [f"4242S{i:07d}" for i in range(300)]
    done = _run(forker, ["track", "--json", "-"], "\n".join(numbers))
    assert done.code == 0, done.err
    assert done.out.endswith("}\n")
    shipments = json.loads(done.out)["shipments"]
    assert [s["tracking_number"] for s in shipments] == numbers
    assert all(s["found"] and s["events"] for s in shipments)


def test_piped_track_keeps_a_failure_exit_code(sandbox: object, forker: ForkServer) -> None:
    done = _run(forker, ["track", "3676E4000500"])  # the sandbox fails every request holding it
    assert done.code == 4
    assert "System busy" in done.out
    assert done.out.endswith("\n")


# Run by a forked child first: standard output buffered, as a start-up without
# PYTHONUNBUFFERED makes it (unbuffered, and the other commands: tests/reliability/test_unbuffered.py).
BUFFERED = (
    "import io, sys\n"
    "sys.stdout = io.TextIOWrapper(io.open(1, 'wb', closefd=False),"
    " encoding=sys.stdout.encoding, errors=sys.stdout.errors)\n"
)


@pytest.mark.skipif(not hasattr(fcntl, "F_SETPIPE_SZ"), reason="needs pipes of a set size")
@pytest.mark.parametrize("fmt", ["--json", "--jsonl"])  # one write; a write a line
def test_track_into_a_closed_pipe_exits_quietly(
    sandbox: object, forker: ForkServer, tmp_path: Path, fmt: str
) -> None:
    numbers = "\n".join(f"4343S{i:07d}" for i in range(200))
    pipe = tmp_path / "stdout.fifo"
    os.mkfifo(pipe)  # a pipe the child opens as its standard output
    # The reader's end first, holding one page: the output (~100 pages) cannot all be written
    # before the reader goes away, so the child's writes meet a pipe without a reader.
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    try:
        fcntl.fcntl(reader, fcntl.F_SETPIPE_SZ, 4096)
        child = forker.start("track", fmt, "-", stdin=numbers, stdout=str(pipe), preexec=BUFFERED)
        assert select.select([reader], [], [], 120)[0]
        first = os.read(reader, 64)
    finally:
        os.close(reader)  # the reader went away, as `| head -c 64` does
    assert first.startswith(b"{")
    done = forker.wait(child, timeout=120)
    assert "Traceback" not in done.err
    assert "Exception ignored" not in done.err
    assert done.err == ""  # quietly: not even a note
    assert done.code == 141  # as a process killed by SIGPIPE (README)


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
        gc.freeze()  # the harness's freeze again (a collection of its whole heap: ~0.3 s)


def test_config_set_as_a_process_still_writes_its_file(isolated: Path, forker: ForkServer) -> None:
    done = _run(forker, ["config", "set", "carriers.ils.user_id", "abc"])
    assert done.code == 0, done.err
    written = (isolated / "config" / "config.toml").read_text()
    assert 'user_id = "abc"' in written
    shown = _run(forker, ["config", "show"])
    assert shown.code == 0
    assert 'user_id = "abc"' in shown.out
