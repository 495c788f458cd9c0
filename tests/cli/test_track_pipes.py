"""``track`` in pipes and terminals: duplicate spellings of one order, failing carriers on
stderr, ``--color always`` when piped, ``NO_COLOR=``, stdin's byte-order mark, escaped bad input,
and which carrier's "not found" a number nobody's pattern admits shows (README, "Output")."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli import test_lean_track, test_lean_track_v4
from tests.forked import ForkServer
from waypost.models import Shipment, Status
from waypost.render import Terminal, plain_track
from waypost.render_plain import list_tsv
from waypost.sandbox import Sandbox

ORDER = "3318459201774650021"  # a demo 1688 order shipped in two parcels
ILS = "3676E4043665"
FAILING = "3676E4000500"  # the sandbox's ILS "system busy" envelope


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _shipments(r) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return list(json.loads(r.out)["shipments"])


# -- 1. one order asked with and without its carrier prefix ---------------------------------


def test_an_order_with_and_without_its_prefix_shows_each_querys_parcels_once(
    sandbox: Sandbox, cli
) -> None:  # type: ignore[no-untyped-def]
    alone = _shipments(cli("track", "--json", ORDER))
    assert len(alone) == 2
    both = _shipments(cli("track", "--json", f"pandapon:{ORDER}", ORDER))
    assert len(both) == 4  # was 6: the unprefixed query also took the prefixed one's answer
    assert [s["tracking_number"] for s in both[2:]] == [s["tracking_number"] for s in alone]
    three = _shipments(cli("track", "--json", f"pandapon:{ORDER}", ORDER, f"pandapon:1688:{ORDER}"))
    assert len(three) == 6  # was 8


def test_trackingmore_and_ils_with_and_without_a_prefix_show_one_shipment_each(
    sandbox: Sandbox, cli
) -> None:  # type: ignore[no-untyped-def]
    tm = _shipments(cli("track", "--json", "LS912989618CN", "trackingmore:LS912989618CN"))
    assert [s["tracking_number"] for s in tm] == ["LS912989618CN"] * 2  # was 3
    ils = _shipments(cli("track", "--json", ILS, f"ils:{ILS}"))
    assert [s["tracking_number"] for s in ils] == [ILS] * 2


# -- 2. failing carriers get one error line on stderr ---------------------------------------


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("waypost: error:")]


def test_rejected_credentials_are_one_error_line_per_carrier_even_with_quiet(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_ILS_PDD", "wrong-pdd-value")
    r = cli("track", "--json", ILS)
    assert r.code == 3
    assert _errors(r.err) == [
        "waypost: error: ils: credentials rejected "
        "(code 401: Invalid userId or pdd: user authentication failed)"
    ]
    assert json.loads(r.out)["shipments"][0]["error"].startswith("ils: credentials rejected")
    quiet = cli("-q", "track", ILS, "3676E4038434")
    assert quiet.code == 3
    (line,) = _errors(quiet.err)  # one line for the carrier, not one per number
    assert line.endswith("; 2 numbers not answered")
    assert "hint:" not in quiet.err  # -q keeps the error, drops the hint
    assert "wrong-pdd-value" not in r.err + quiet.err


def test_a_carrier_error_is_on_stderr_for_exit_4_and_exit_1(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", f"ils:{FAILING}")
    assert r.code == 4
    assert _errors(r.err) == [
        "waypost: error: ils: error code 500: System busy, please try again later"
    ]
    assert "failed" in r.out  # the table's row stays
    mixed = cli("track", "--jsonl", f"ils:{FAILING}", "LS912989618CN")
    assert mixed.code == 1
    assert _errors(mixed.err) == [
        "waypost: error: ils: error code 500: System busy, please try again later"
    ]
    fine = cli("track", ILS)
    assert (fine.code, _errors(fine.err)) == (0, [])


def test_the_lean_ils_path_hands_a_failure_over_and_it_is_on_stderr(
    forker: ForkServer, box: Sandbox, tmp_path: Path
) -> None:
    code, out, err, _ = test_lean_track.run(
        forker, box, tmp_path, ["track", "--json", FAILING, ILS], lean=True
    )
    assert code == 4
    assert [s["status"] for s in json.loads(out)["shipments"]] == ["unknown", "unknown"]
    assert _errors(err) == [
        "waypost: error: ils: error code 500: System busy, please try again later; "
        "2 numbers not answered"
    ]


def test_the_lean_trackingmore_path_hands_a_rejected_key_over_and_it_is_on_stderr(
    forker: ForkServer, box: Sandbox, tmp_path: Path
) -> None:
    listed = test_lean_track_v4.numbers(2, preload=box)
    code, _, err, _, _ = test_lean_track_v4.run(
        forker, box, tmp_path, ["track", *listed], lean=True, WAYPOST_TRACKINGMORE_API_KEY="bad-k"
    )
    assert code == 3
    (line,) = _errors(err)
    assert line.startswith("waypost: error: trackingmore: API key rejected")
    assert "bad-k" not in err


# -- 3. colour when piped -------------------------------------------------------------------


def _hostile() -> Shipment:
    return Shipment(
        tracking_number=ILS,
        carrier="ils",
        found=True,
        status=Status.DELIVERED,
        status_text="Delivered \x1b[31mred\x1b[0m",
        last_update=datetime(2026, 11, 30, tzinfo=UTC),
    )


def test_color_always_colours_the_piped_status_word_and_keeps_carrier_text_inert() -> None:
    term = Terminal.detect(color="always", env={}, stdout=io.StringIO(), stderr=io.StringIO())
    assert (term.stdout_tty, term.color) == (False, True)
    out = io.StringIO()
    plain_track([_hostile()], term, out)
    text = out.getvalue()
    assert "\x1b[1;32mdelivered\x1b[0m" in text.splitlines()[0]
    assert "\x1b[31m" not in text  # the carrier's escape is neutralised, as without colour
    auto = Terminal.detect(env={}, stdout=io.StringIO(), stderr=io.StringIO())
    plain = io.StringIO()
    plain_track([_hostile()], auto, plain)
    assert "\x1b" not in plain.getvalue()


def test_color_always_through_track_and_list_when_piped(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--color", "always", ILS)
    assert r.out.splitlines()[0].split("  ")[2] == "\x1b[36min_transit\x1b[0m"
    assert "\x1b[" not in cli("track", ILS).out
    assert cli("track", "--save", ILS).code == 0
    listed = cli("list", "--color", "always").out
    assert "\t\x1b[36min_transit\x1b[0m\t" in listed
    assert "\x1b[" not in cli("list").out
    assert "\x1b[" not in cli("list", "--color", "always", "--no-color").out


def test_list_tsv_paints_only_the_status_column() -> None:
    class Row:
        label, number, carrier, status = "l", ILS, "ils", "exception"
        last_event, last_checked, first_event_time = "x\x1b[2J", None, None

    out = io.StringIO()
    list_tsv([Row()], datetime(2026, 12, 1, tzinfo=UTC), UTC, out, color=True)  # type: ignore[list-item]
    fields = out.getvalue().rstrip("\n").split("\t")
    assert fields[3] == "\x1b[1;31mexception\x1b[0m"
    assert "\x1b" not in "".join(fields[:3] + fields[4:])


@pytest.mark.parametrize(("value", "colored"), [("", True), ("1", False), ("0", False)])
def test_only_a_non_empty_no_color_turns_colour_off(value: str, colored: bool) -> None:
    term = Terminal.detect(env={"NO_COLOR": value}, stdout=_Tty(), stderr=_Tty())
    assert (term.stdout_tty, term.color) == (True, colored)


# -- 4. stdin's byte-order mark; bad input escaped once --------------------------------------


def test_a_byte_order_mark_at_the_start_of_stdin_is_skipped(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--json", "-", stdin=f"\ufeff{ILS}\n")
    assert r.code == 0, r.err
    assert _shipments(r)[0]["tracking_number"] == ILS
    twice = cli("track", "-", stdin=f"\ufeff\ufeff{ILS}\n")  # only one is a byte-order mark
    assert twice.code == 2
    assert f"stdin line 1: '\\ufeff{ILS}' contains '\\ufeff'" in twice.err


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("AB\x1b[31mCD", "argument 1: 'AB\\x1b[31mCD' contains '\\x1b'"),
        (f"{ILS}\x00", f"argument 1: '{ILS}\\x00' contains '\\x00'"),
        ("ab'c", 'argument 1: "ab\'c" contains "\'"'),
        ("zz\x07:123456", "unknown carrier prefix 'zz\\x07'"),
    ],
)
def test_a_bad_number_is_shown_escaped_once(cli, given: str, shown: str) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", given)
    assert r.code == 2
    assert shown in r.err
    assert "\\\\" not in r.err


# -- 5. a number no carrier's pattern admits ------------------------------------------------


def test_a_number_nobody_detects_shows_an_answer_of_a_carrier_that_was_asked(
    sandbox: Sandbox, cli
) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--json", "ABCDEF")
    assert r.code == 0, r.err
    (shipment,) = _shipments(r)
    # PandaPon's order ids are digits: it is not asked, and its local refusal ("not a PandaPon
    # order id") is not shown as the result; ILS, first in the detection order, answered.
    assert (shipment["carrier"], shipment["status"]) == ("ils", "not_found")
    assert "PandaPon" not in r.out
    (entry,) = sandbox.entries("ils")
    assert entry.numbers == 1


def test_a_number_nobody_detects_is_not_asked_of_a_carrier_it_cannot_fit(
    sandbox: Sandbox, cli
) -> None:  # type: ignore[no-untyped-def]
    sandbox.inject("shape@ils,shape@trackingmore")
    r = cli("track", "--json", "ABCDEF")
    # Both carriers that could have it failed: the run failed (was: PandaPon's local
    # "not a PandaPon order id" shown as a definite not-found, exit 0).
    assert r.code == 4, r.out
    assert {s["carrier"] for s in _shipments(r)} == {"ils", "trackingmore"}
    assert {s["status"] for s in _shipments(r)} == {"unknown"}
    assert not sandbox.entries("pandapon")


def test_a_number_only_unconfigured_carriers_fit_names_them(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("WAYPOST_ILS_PDD")
    monkeypatch.delenv("WAYPOST_TRACKINGMORE_API_KEY")
    r = cli("track", "ABCDEF")
    assert r.code == 3
    assert "not a PandaPon order id" not in r.out
    assert _errors(r.err) == [
        "waypost: error: no configured carrier can answer this number (tried: ils, trackingmore)"
    ]
    digits = cli("track", "--json", "12345678")  # digits fit PandaPon: it is asked
    assert {s["carrier"] for s in _shipments(digits)} == {"pandapon"}


def test_detect_names_only_the_carriers_a_number_fits(cli) -> None:  # type: ignore[no-untyped-def]
    doc = cli("carriers", "--detect", "--json", "ABCDEF", "12345678").json()
    letters, digits = doc["detect"]  # type: ignore[index]
    assert [a["carrier"] for a in letters["asked"]] == ["ils", "trackingmore"]
    assert [a["carrier"] for a in digits["asked"]] == ["ils", "trackingmore", "pandapon"]


def test_the_error_line_is_redacted_and_made_harmless() -> None:
    from waypost.carriers.base import Answer, Query
    from waypost.cli.env import Env
    from waypost.cli.track import _Failures
    from waypost.errors import NetworkError
    from waypost.service import Result

    err = NetworkError("cannot reach http://u:pw-in-url@host/x with key s3cr3t-value \x1b[2J")
    query = Query(ILS, "ils")
    failed = _Failures()
    failed.add(Result(query, [Answer(query, [Shipment.failed(ILS, "ils", err)])], err, ["ils"]))
    stderr = io.StringIO()
    failed.report(Env(stdout=io.StringIO(), stderr=stderr, secrets=["s3cr3t-value"]))
    (line,) = stderr.getvalue().splitlines()
    assert line.startswith("waypost: error: ils: cannot reach http://u:****@host/x with key ****")
    assert "s3cr3t-value" not in line
    assert "pw-in-url" not in line
    assert "\x1b" not in line


def test_a_number_named_for_a_carrier_it_cannot_fit_is_a_usage_error(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    # Was: a local "not found" with exit 0, though PandaPon was never asked.
    r = cli("track", "--json", "pandapon:ABCDEF", "2542285634920880794")
    assert r.code == 2
    assert r.out == ""
    assert "'ABCDEF' cannot be a pandapon number (a PandaPon order id is digits only)" in r.err
    assert not sandbox.entries("pandapon")
