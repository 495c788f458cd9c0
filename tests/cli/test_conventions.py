"""What users expect of a CLI: -q, --color, --debug anywhere, one error style; `list` TSV for
scripts; `remove` names what it removed; `config init` says where keys come from and checks
them; `watch` says once that it is watching."""

from __future__ import annotations

import os
import select
import signal
from datetime import datetime
from pathlib import Path

import pytest

from tests.forked import ForkServer
from waypost.sandbox import Sandbox

NUMBERS = ["3676E4043665", "3676E4040017"]


def test_quiet_keeps_errors_and_drops_notes(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    loud = cli("track", "--save", NUMBERS[0])
    assert "watching 1 new shipment(s)" in loud.err
    quiet = cli("track", "-q", "--save", NUMBERS[1])
    assert quiet.code == 0
    assert quiet.err == ""
    assert cli("--quiet", "remove", NUMBERS[0]).err == ""
    bad = cli("-q", "track", "ups:1Z999AA10123456784")
    assert bad.code == 2
    assert bad.err.startswith("waypost: error: ")


def test_debug_and_color_are_accepted_after_the_subcommand(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", NUMBERS[0], "--debug", "--color", "never")
    assert r.code == 0, r.err
    assert "\x1b[" not in r.out
    assert cli("list", "--color", "always").code == 0
    assert cli("carriers", "--debug", "-q").code == 0


@pytest.mark.parametrize(
    "args",
    [
        ("track", "--bogus", "3676E4043665"),
        ("nope",),
        ("list", "--color", "sometimes"),
        ("track", "--timeout", "-1", "3676E4043665"),
        ("config", "set"),
    ],
)
def test_parser_errors_use_the_one_error_style(cli, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    r = cli(*args)
    assert r.code == 2
    lines = r.err.splitlines()
    assert lines[0].startswith("Usage: waypost")
    assert lines[1].startswith("waypost: error: ")
    assert lines[2].startswith("hint: see `waypost")
    assert "╭" not in r.err


def test_list_tsv_has_iso_times_and_days_since_the_first_event(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", NUMBERS[0]).code == 0
    (row,) = [line.split("\t") for line in cli("list").out.splitlines()]
    assert len(row) == 7
    checked = datetime.fromisoformat(row[5])
    assert checked.tzinfo is not None
    assert "ago" not in row[5]
    assert "just now" not in "\t".join(row)
    assert row[6] == "7"  # the sandbox's first ILS event is 7 days old; it was added just now
    item = cli("list", "--json").json()["watched"][0]  # type: ignore[index]
    assert item["days_since_first_event"] == pytest.approx(7, abs=0.1)
    assert item["age_days"] == pytest.approx(0, abs=0.1)


def test_remove_names_what_it_removed(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", "--label", "march", *NUMBERS).code == 0
    r = cli("remove", NUMBERS[0], "NOPE12345")
    assert r.code == 1
    assert "removed 3676E4043665 (ils, label 'march') from the watch list" in r.err
    assert "3676E4040017" not in r.err
    assert "not on the watch list: NOPE12345" in r.err


def _init_answers(ils_pdd: str) -> str:
    from waypost import carriers

    answers: list[str] = []
    for info in carriers.infos():
        for s in info.credentials:
            if info.name == "ils":
                answers.append("sandbox" if s.key == "user_id" else ils_pdd)
            else:
                answers.append("")
        answers.extend("" for s in info.settings if s.choices)  # e.g. TrackingMore's api: keep
    return "\n".join(answers) + "\n"


@pytest.mark.parametrize(
    ("pdd", "verdict"), [("sandbox-ils-pdd-5f1c9a7e", "accepted"), ("wrong-pdd-000000", "rejected")]
)
def test_config_init_says_where_keys_come_from_and_checks_them(
    sandbox: Sandbox, cli, monkeypatch, pdd: str, verdict: str
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("WAYPOST_ILS_USER_ID")
    monkeypatch.delenv("WAYPOST_ILS_PDD")
    r = cli("config", "init", "--check", stdin=_init_answers(pdd))
    assert "where to get them: your TrackingMore account: https://my.trackingmore.com" in r.err
    assert "where to get them: ILS support" in r.err
    assert f"ils: credentials {verdict}" in r.err
    assert pdd not in r.err
    assert len(sandbox.entries("ils")) == 1


def test_config_init_without_a_terminal_does_not_ask_to_check(
    sandbox: Sandbox, cli, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("WAYPOST_ILS_PDD")
    r = cli("config", "init", stdin=_init_answers("sandbox-ils-pdd-5f1c9a7e"))
    assert r.code == 0, r.err
    assert "hint: check them any time: `waypost track ils:3676E4043665`" in r.err
    assert "waypost config init --check" not in r.err  # that one asked every question again
    assert sandbox.entries("ils") == []


@pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")
def test_watch_loop_prints_one_start_line_on_a_terminal(
    sandbox: Sandbox, isolated: Path, forker: ForkServer
) -> None:
    master, slave = os.openpty()
    # A process of its own forked from the warm interpreter (tests/forked.py), its standard
    # error the terminal (held open here until it is gone: it opens it by its name).
    child = forker.start("watch", "--interval", "1h", stderr=os.ttyname(slave))
    seen = b""
    done = None
    try:
        while b"\n" not in seen:
            ready, _, _ = select.select([master], [], [], 20)
            assert ready, seen
            seen += os.read(master, 4096)
        os.kill(child.pid, signal.SIGTERM)
        done = forker.wait(child, timeout=20)
    finally:
        if done is None:
            os.kill(child.pid, signal.SIGKILL)
            forker.wait(child)
        os.close(slave)
        os.close(master)
    first = seen.decode().splitlines()[0]
    assert first == "waypost: watching the list every 1h; news prints as it comes (Ctrl-C stops)"
