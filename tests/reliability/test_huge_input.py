"""A huge standard input of numbers (`yes NUMBER | waypost track -`) is refused once it holds
more numbers than a run takes (``inputs.MAX_NUMBERS``), without first making every line of it a
token: the refusal costs what the numbers up to the bound cost, not what the whole input does."""

from __future__ import annotations

from typing import Any

import pytest

from waypost import inputs
from waypost.errors import UsageError


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
