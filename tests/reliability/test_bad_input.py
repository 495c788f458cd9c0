"""Bad user input end to end: a clear message, the documented exit code, nothing sent,
nothing rewritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.forked import ForkServer
from waypost.sandbox import Sandbox


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["track", "-"], "", "no tracking numbers given"),
        (["track", "-"], " \n\t\n,,", "no tracking numbers given"),
        (["track", "ab\u0000cd1234"], "", "contains '\\x00'"),
        (["track", "ab\u001bcd1234"], "", "contains '\\x1b'"),
        (["track", "ÄBC12345"], "", "contains 'Ä'"),
        (["track", "包裹123456"], "", "contains '包'"),
        (["track", "X" * 10_000], "", "is 10000 characters long"),
        (["track", "fedex:123456789012"], "", "unknown carrier prefix 'fedex'"),
        (["track", "--carrier", "dhl", "ABCD1234"], "", "unknown carrier 'dhl'"),
        (["track", "-"], "GOOD1234\nbad/one\n", "stdin line 2"),
        (["watch", "--once", "--interval", "soon"], "", "invalid duration"),
        (["list", "--status", "lost"], "", "unknown status 'lost'"),
        (["track", "--tz", "Mars/Olympus", "ABCD1234"], "", "unknown time zone"),
    ],
)
def test_bad_input_is_exit_2_with_a_reason_and_sends_nothing(
    sandbox: Sandbox, cli, args: list[str], stdin: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    r = cli(*args, stdin=stdin)
    assert r.code == 2, (r.out, r.err)
    assert message in r.err
    assert "Traceback" not in r.err
    assert r.out == ""
    assert sandbox.entries() == []


def test_ten_thousand_numbers_from_stdin_are_batched(sandbox: Sandbox, forker: ForkServer) -> None:
    # A `waypost` process (forked, tests/forked.py), as a user runs it: it takes the lean path
    # (test_lean_track.py shows it asks and prints what the model path does).
    numbers = [f"{i:04d}S{i:07d}" for i in range(10_000)]
    stdin = (
        "\n".join(numbers[:5000])
        + "\n"
        + ", ".join(numbers[5000:])
        + "\n"
        + "\n".join(numbers[:100])
    )
    r = forker.run("track", "--carrier", "ils", "--jsonl", "-", stdin=stdin)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert len(lines) == 10_000
    # --jsonl prints each answer as it arrives, so batches may finish in any order.
    assert sorted(json.loads(x)["tracking_number"] for x in lines) == numbers
    entries = sandbox.entries("ils")
    assert len(entries) == 100
    assert {e.numbers for e in entries} == {100}


def test_duplicates_and_spacing_collapse_to_one_request_each(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(
        "track", "--jsonl", "3676 E404 3665", "ils:3676e4043665", "3676E4043665", " 3676E4043665 "
    )
    assert r.code == 0, r.err
    assert (
        len(r.out.splitlines()) == 2
    )  # detected and explicitly prefixed: same carrier, kept once each
    (entry,) = sandbox.entries("ils")
    assert entry.numbers == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[carriers.ils\n", "invalid TOML"),
        ('[carriers.ils]\npdd = ["a"]\n', "carriers.ils.pdd must be a string"),
        ('[carriers.fedex]\nkey = "x"\n', "unknown carrier 'fedex'"),
        ("[http]\nretries = -1\n", "http.retries must be 0 or more"),
    ],
)
def test_invalid_config_is_exit_3_and_never_rewritten(
    cli, isolated: Path, text: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    path = isolated / "config" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    for args in (
        ["track", "3676E4043665"],
        ["config", "set", "carriers.ils.user_id", "1"],
        ["config", "unset", "carriers.ils.pdd"],
        ["watch", "--once"],
    ):
        r = cli(*args)
        assert r.code == 3, (args, r.err)
        assert message in r.err
        assert str(path) in r.err
        assert "Traceback" not in r.err
        assert path.read_text() == text


def test_missing_file_with_explicit_config_is_exit_3(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--config", str(tmp_path / "nope.toml"), "3676E4043665")
    assert r.code == 3
    assert "config file not found" in r.err
