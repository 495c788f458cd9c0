"""`watch --once` speaks on stderr whenever watching did not fully work, so that cron mails it:
one line per failing carrier, naming it and what it means; the exit codes stay as documented
(3 credentials, 4 nothing answered, 1 some failed). Quiet only when everything worked and
nothing is new."""

from __future__ import annotations

import re

import pytest

from waypost import carriers
from waypost.sandbox import Sandbox

NAMES = carriers.names()


def numbers_of(name: str) -> list[str]:
    return [f"{name}:{c['number']}" for c in carriers.module(name).TEST_CASES if c["found"]]


@pytest.fixture
def watched(sandbox: Sandbox, cli) -> list[str]:  # type: ignore[no-untyped-def]
    numbers = [n for name in NAMES for n in numbers_of(name)]
    r = cli("track", "--save", *numbers)
    assert r.code == 0, r.err
    first = cli("watch", "--once")  # whatever was pending is now known
    assert first.code == 0, first.err
    return numbers


def failure_lines(err: str) -> dict[str, str]:
    lines = {}
    for line in err.splitlines():
        for name in NAMES:
            if line.startswith(f"waypost: {name}: "):
                assert name not in lines, err  # one line per carrier
                lines[name] = line
    return lines


def test_quiet_when_everything_worked_and_nothing_is_new(watched: list[str], cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("watch", "--once")
    assert (r.code, r.out, r.err) == (0, "", "")


def test_rejected_credentials_are_exit_3_with_a_line_saying_watching_is_broken(
    watched: list[str], cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_API_KEY", "not-the-right-key-000")
    r = cli("watch", "--once")
    assert r.code == 3, r.err
    lines = failure_lines(r.err)
    assert list(lines) == ["trackingmore"]
    assert "rejected" in lines["trackingmore"]
    assert lines["trackingmore"].endswith("; watching is not working")
    assert "hint: " in r.err
    assert "not-the-right-key-000" not in r.err
    assert "Traceback" not in r.err


def test_every_carrier_down_is_exit_4_with_one_line_each(
    watched: list[str], sandbox: Sandbox, cli
) -> None:  # type: ignore[no-untyped-def]
    sandbox.inject("500")
    r = cli("watch", "--once", "--timeout", "2")
    assert r.code == 4, r.err
    lines = failure_lines(r.err)
    assert sorted(lines) == sorted(NAMES)
    for line in lines.values():
        assert re.search(r"; none of its [1-9]\d* watched shipment\(s\) could be checked", line)
    assert r.out == ""


@pytest.mark.parametrize("name", NAMES)
def test_one_carrier_down_is_exit_1_with_a_line_for_it_alone(
    name: str, watched: list[str], sandbox: Sandbox, cli
) -> None:  # type: ignore[no-untyped-def]
    sandbox.inject(f"500@{name}")
    r = cli("watch", "--once", "--timeout", "2")
    assert r.code == 1, r.err
    lines = failure_lines(r.err)
    assert list(lines) == [name]
    assert "could be checked" in lines[name] or "not checked" in lines[name]
