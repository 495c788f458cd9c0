"""A reader that goes away in the middle of a write, with standard output buffered or not
(``python -u``, ``PYTHONUNBUFFERED=1``): the quiet exit 141 of a process killed by SIGPIPE
(README, "Exit codes"), never an exit 0 over output that was cut short, and a ``watch`` pass
whose news did not all go out delivers it again.

Unbuffered, CPython's text layer hands each write to the raw file as one call and ignores how
much of it the file took: a pipe whose reader leaves mid-write takes part of it, and the rest
went nowhere without an error (``cli.env.Output`` writes such output itself, to the end).

The child's standard output is a FIFO of one page (``F_SETPIPE_SZ``) whose reader reads 64
bytes and leaves, as ``| head -c 64`` does; each output here is longer than the page and those
64 bytes (checked), so the child is inside a write, or past it, when the reader goes."""

from __future__ import annotations

import fcntl
import io
import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.forked import Forked, ForkServer
from waypost.cli.env import Output, PipeClosed
from waypost.sandbox import Sandbox

pytestmark = pytest.mark.skipif(
    not hasattr(fcntl, "F_SETPIPE_SZ"), reason="needs pipes of a set size"
)

ILS = "3676E4043665"
CHINESE = "pandapon:2542285634920880794"
PAGE = 4096
READ = 64
EVENTS = 120  # news of one shipment, ~8 kB as text: longer than the pipe

# Run by a forked child first: its standard output as a start-up makes it, buffered or not.
STDOUT = {
    "buffered": (
        "import io, sys\n"
        "sys.stdout = io.TextIOWrapper(io.open(1, 'wb', closefd=False),"
        " encoding=sys.stdout.encoding, errors=sys.stdout.errors)\n"
    ),
    # What `python -u` builds: the text layer straight over the raw file, writing through.
    "unbuffered": (
        "import io, sys\n"
        "sys.stdout = io.TextIOWrapper(io.FileIO(1, 'wb', closefd=False),"
        " encoding=sys.stdout.encoding, errors=sys.stdout.errors, write_through=True)\n"
    ),
}


class OnePage:
    """A FIFO the child opens as its standard output, and its reader's end (held by the test)."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = str(path)
        self.reader: int | None = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        fcntl.fcntl(self.reader, fcntl.F_SETPIPE_SZ, PAGE)
        assert fcntl.fcntl(self.reader, fcntl.F_GETPIPE_SZ) == PAGE

    def read_and_leave(self) -> bytes:
        """Read the first bytes the child writes, then close the reader's end (`head -c 64`)."""
        assert self.reader is not None
        try:
            return first_bytes(self.reader)
        finally:
            self.close()

    def close(self) -> None:
        """Close the reader's end (once)."""
        if self.reader is not None:
            os.close(self.reader)
            self.reader = None


def first_bytes(reader: int) -> bytes:
    """Up to the first 64 bytes written to ``reader``'s pipe."""
    got = b""
    while len(got) < READ:
        assert select.select([reader], [], [], 120)[0], "the child wrote nothing"
        chunk = os.read(reader, READ - len(got))
        if not chunk:
            break
        got += chunk
    return got


@pytest.fixture
def one_page(tmp_path: Path) -> Iterator[OnePage]:
    """A one-page pipe to give a child as its standard output."""
    pipe = OnePage(tmp_path / "stdout.fifo")
    try:
        yield pipe
    finally:
        pipe.close()


def cut_short(forker: ForkServer, pipe: OnePage, mode: str, *argv: str) -> tuple[Forked, bytes]:
    """``waypost ARGV`` into a pipe whose reader leaves after 64 bytes; its result and them."""
    child = forker.start(*argv, stdout=pipe.path, preexec=STDOUT[mode])
    first = pipe.read_and_leave()
    return forker.wait(child, timeout=120), first


def quiet_141(done: Forked) -> None:
    assert "Traceback" not in done.err
    assert "Exception ignored" not in done.err
    assert done.err == ""  # quietly: not even a note
    assert done.code == 141, "a write cut short was taken as written"


def numbers(count: int) -> list[str]:
    return [f"3676S{i:07d}" for i in range(count)]


@pytest.mark.parametrize("mode", STDOUT)
@pytest.mark.parametrize("fmt", ["--json", "--jsonl", "plain"])
@pytest.mark.parametrize("path", ["lean", "model"])  # ILS alone goes the lean path (quick.py)
def test_track_cut_short_is_exit_141(
    sandbox: Sandbox,
    cli: Any,
    forker: ForkServer,
    one_page: OnePage,
    mode: str,
    fmt: str,
    path: str,
) -> None:
    asked = numbers(20) + ([CHINESE] if path == "model" else [])
    argv = ["track", *([] if fmt == "plain" else [fmt]), *asked]
    whole = cli(*argv)
    assert whole.code == 0
    assert len(whole.out.encode()) > PAGE + READ  # the output cannot fit before the reader goes
    done, first = cut_short(forker, one_page, mode, *argv)
    assert first == whole.out.encode()[: len(first)] or fmt == "--jsonl"  # answer order
    quiet_141(done)


@pytest.mark.parametrize("mode", STDOUT)
def test_list_json_cut_short_is_exit_141(
    sandbox: Sandbox, cli: Any, forker: ForkServer, one_page: OnePage, mode: str
) -> None:
    assert cli("track", "--save", *numbers(12)).code == 0
    whole = cli("list", "--json")
    assert whole.code == 0
    assert len(whole.out.encode()) > PAGE + READ
    done, first = cut_short(forker, one_page, mode, "list", "--json")
    assert first == whole.out.encode()[:READ]
    quiet_141(done)


@pytest.mark.parametrize("mode", STDOUT)
@pytest.mark.parametrize("fmt", ["--json", "--jsonl", "plain"])
def test_watch_news_cut_short_comes_again(
    sandbox: Sandbox,
    cli: Any,
    forker: ForkServer,
    one_page: OnePage,
    mode: str,
    fmt: str,
) -> None:
    # One shipment's news, longer than the pipe: it cannot all go out before the reader goes.
    assert cli("track", "--save", ILS).code == 0
    for step in range(EVENTS):
        assert sandbox.apps["ils"].add_event(ILS, f"Sorted at hub {step:03d}", "Rotterdam")
    argv = ["watch", "--once", *([] if fmt == "plain" else [fmt])]
    done, first = cut_short(forker, one_page, mode, *argv)
    quiet_141(done)
    assert first
    again = cli(*argv)  # not committed: it was not delivered
    assert again.code == 0
    assert len(again.out.encode()) > PAGE + READ
    assert again.out.encode().startswith(first)
    for step in range(EVENTS):
        assert f"Sorted at hub {step:03d}" in again.out
    assert cli(*argv).out == ""  # and once delivered, delivered once


def test_python_u_track_json_cut_short_is_exit_141(sandbox: Sandbox, cli: Any) -> None:
    # The user's case, in a fresh interpreter: `PYTHONUNBUFFERED=1 waypost track --json ... |
    # head -c 64` exited 0.
    asked = numbers(20)
    assert len(cli("track", "--json", *asked).out.encode()) > PAGE + READ
    r, w = os.pipe()
    try:
        fcntl.fcntl(r, fcntl.F_SETPIPE_SZ, PAGE)
        child = subprocess.Popen(
            [sys.executable, "-m", "waypost", "track", "--json", *asked],
            stdout=w,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        os.close(w)
        w = -1
        first = first_bytes(r)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    _, err = child.communicate(timeout=120)
    assert first.startswith(b"{")
    assert b"Traceback" not in err
    assert err == b""
    assert child.returncode == 141


class Trickle(io.RawIOBase):
    """A raw file that takes at most ``step`` bytes a call, then breaks after ``limit``."""

    def __init__(self, step: int, limit: int | None = None) -> None:
        self.step, self.limit, self.got = step, limit, bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.limit is not None and len(self.got) >= self.limit:
            raise BrokenPipeError(32, "Broken pipe")
        taken = bytes(data[: self.step])
        self.got += taken
        return len(taken)


def unbuffered(raw: io.RawIOBase) -> io.TextIOWrapper:
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True)  # type: ignore[arg-type]


def test_partial_raw_writes_are_written_to_the_end() -> None:
    raw = Trickle(7)
    out = Output(unbuffered(raw))
    text = json.dumps({"description": "广州 " * 50, "n": list(range(100))}) + "\n"
    assert out.write(text) == len(text)
    out.write("ok\n")
    assert raw.got.decode() == text + "ok\n"


def test_a_raw_pipe_breaking_mid_write_is_pipe_closed() -> None:
    raw = Trickle(7, limit=20)
    out = Output(unbuffered(raw))
    with pytest.raises(PipeClosed):
        out.write("x" * 100)
    assert bytes(raw.got) == b"x" * 21
