"""A huge standard input of numbers (`yes NUMBER | waypost track -`) is refused once it holds
more numbers than a run takes (``inputs.MAX_NUMBERS``), without reading the rest of it or making
every line of it a token: the refusal costs what the numbers up to the bound cost, not what the
whole input does. An endless input without numbers (`yes ''`, /dev/zero) is refused at a size."""

from __future__ import annotations

import io
import subprocess
import sys
from typing import Any

import pytest

from waypost import inputs
from waypost.cli import env
from waypost.errors import UsageError, WaypostError


def test_stdin_past_the_bound_is_refused_before_the_rest_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[str] = []

    class Counted(inputs.Token):
        def __init__(self, text: str, origin: str) -> None:
            made.append(text)
            super().__init__(text, origin)

    monkeypatch.setattr(inputs, "MAX_NUMBERS", 10)
    monkeypatch.setattr(inputs, "Token", Counted)
    stdin = "3676E4043665 3676E4038521\n" * 100_000
    with pytest.raises(UsageError, match="too many numbers"):
        inputs.tokens(["-"], stdin)
    assert len(made) <= 12  # the bound and the rest of the line that passed it


def test_a_huge_stdin_is_a_usage_error_not_a_traceback(cli: Any) -> None:
    r = cli("track", "-", stdin="3676E4043665\n" * (inputs.MAX_NUMBERS + 1))
    assert r.code == 2
    assert "too many numbers (more than 100,000 in one run)" in r.err
    assert "Traceback" not in r.err


class Endless:
    """A standard input that never ends: ``line`` again and again; counts what was read."""

    def __init__(self, line: str) -> None:
        self.line, self.read_chars, self.closed = line, 0, False

    def read(self, size: int = -1) -> str:
        assert size > 0, "read to the end of an endless input"
        text = (self.line * (size // len(self.line) + 1))[:size]
        self.read_chars += len(text)
        return text


def test_endless_numbers_stop_being_read_past_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "MAX_NUMBERS", 1000)
    monkeypatch.setattr(env, "STDIN_CHUNK", 4096)
    stdin = Endless("3676E4043665\n")
    text = env.Env(stdin=stdin).read_stdin()
    assert stdin.read_chars <= 2 * 1000 * 13 + 2 * 4096  # the bound, and a chunk or two
    with pytest.raises(UsageError, match="too many numbers"):
        inputs.tokens(["-"], text)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("# only a comment\n", "standard input is longer than 1 MiB"),  # `yes '# x'`
        ("\n", "standard input is longer than 1 MiB"),  # `yes ''`
        ("\0", "standard input has a line longer than 0 MiB"),  # /dev/zero
    ],
)
def test_endless_input_without_numbers_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, line: str, message: str
) -> None:
    monkeypatch.setattr(env, "STDIN_CHUNK", 4096)
    monkeypatch.setattr(env, "MAX_STDIN", 1 << 20)
    monkeypatch.setattr(env, "MAX_STDIN_LINE", 1 << 16)
    stdin = Endless(line)
    with pytest.raises(UsageError, match=message):
        env.Env(stdin=stdin).read_stdin()
    assert stdin.read_chars <= (1 << 20) + 4096


def test_one_line_may_hold_every_number_a_run_takes() -> None:
    # `echo $(cat numbers)`: the most numbers, each as long as a number may be, on one line.
    line = " ".join(["X" * inputs.MAX_LEN] * inputs.MAX_NUMBERS) + "\n"
    text = env.Env(stdin=io.StringIO(line)).read_stdin()
    assert text == line
    assert len(inputs.tokens(["-"], text)) == inputs.MAX_NUMBERS


def test_yes_piped_into_track_ends_with_a_usage_error(sandbox: object) -> None:
    yes = subprocess.Popen(["yes", "3676E4043665"], stdout=subprocess.PIPE)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "waypost", "track", "-"],
            stdin=yes.stdout,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        yes.kill()
        yes.wait()
        assert yes.stdout is not None
        yes.stdout.close()
    assert done.returncode == 2
    assert "too many numbers (more than 100,000 in one run)" in done.stderr
    assert "Traceback" not in done.stderr


class Failing:
    """A standard input whose read fails (a terminal that hung up)."""

    closed = False

    def read(self, size: int = -1) -> str:
        raise OSError(5, "Input/output error")


def test_a_failing_stdin_is_a_clear_error() -> None:
    with pytest.raises(WaypostError, match="cannot read standard input: Input/output error"):
        env.Env(stdin=Failing()).read_stdin()
