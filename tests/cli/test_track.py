"""``waypost track`` end to end against the sandbox over real loopback HTTP."""

from __future__ import annotations

import pytest

from tests.conftest import Outcome
from waypost.models import Status, TrackDocument
from waypost.sandbox import Sandbox


def test_track_prints_a_block_per_shipment_newest_event_first(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r: Outcome = cli("track", "3676E4043665", "3676E4038434")
    assert r.code == 0, r.err
    blocks = r.out.split("\n\n")
    assert blocks[0].startswith(
        "3676E4043665  ils  in_transit  Sea Freight  Shenzhen -> Felixstowe"
    )
    assert "Vessel departed" in blocks[0].splitlines()[2]
    assert "Shipment information received" in blocks[0].splitlines()[-1]
    assert blocks[1].startswith("3676E4038434  ils  not_found")
    assert "\x1b[" not in r.out  # piped: no colour
    assert "─" not in r.out
    assert "│" not in r.out


def test_json_output_validates_against_the_model(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--json", "ils:3676E4043665", "3676E4038521", "3676E4038434")
    assert r.code == 0, r.err
    doc = TrackDocument.model_validate_json(r.out)
    assert [s.tracking_number for s in doc.shipments] == [
        "3676E4043665",
        "3676E4038521",
        "3676E4038434",
    ]
    assert [s.status for s in doc.shipments] == [
        Status.IN_TRANSIT,
        Status.DELIVERED,
        Status.NOT_FOUND,
    ]
    raw = r.json()
    assert raw["schema"] == 2  # type: ignore[index]
    first = raw["shipments"][0]  # type: ignore[index]
    assert first["last_update"].endswith("+08:00")
    assert set(first) >= {
        "tracking_number",
        "carrier",
        "courier",
        "found",
        "status",
        "status_text",
        "service",
        "origin",
        "destination",
        "last_update",
        "events",
        "error",
    }
    assert first["events"][0]["time"].endswith("+08:00")
    assert r.err == ""


def test_jsonl_prints_one_shipment_per_line(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--jsonl", "3676E4043665", "3676E4038434")
    lines = r.out.splitlines()
    assert len(lines) == 2
    assert [
        TrackDocument.model_validate({"shipments": [__import__("json").loads(x)]})
        .shipments[0]
        .tracking_number
        for x in lines
    ] == ["3676E4043665", "3676E4038434"]


def test_numbers_from_stdin_are_split_trimmed_uppercased_and_deduplicated(
    sandbox: Sandbox, cli
) -> None:  # type: ignore[no-untyped-def]
    r = cli(
        "track",
        "--jsonl",
        "-",
        "3676e4043665",
        stdin="3676E4038434, 3676e4043665\n\n 3676E4038521 ",
    )
    assert r.code == 0, r.err
    numbers = [__import__("json").loads(x)["tracking_number"] for x in r.out.splitlines()]
    assert numbers == ["3676E4038434", "3676E4043665", "3676E4038521"]
    (entry,) = sandbox.entries("ils")
    assert entry.numbers == 3


def test_exit_0_when_every_number_is_answered_even_not_found(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "3676E4038434").code == 0


def test_exit_1_when_some_numbers_failed_and_others_were_answered(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    numbers = [f"1000S{i:07d}" for i in range(100)] + ["3676E4000500"]
    r = cli("track", "--jsonl", *numbers)
    assert r.code == 1, r.err
    lines = [__import__("json").loads(x) for x in r.out.splitlines()]
    assert len(lines) == 101
    failed = [x for x in lines if x["error"]]
    assert [x["tracking_number"] for x in failed] == ["3676E4000500"]
    assert "System busy" in failed[0]["error"]
    assert sum(1 for x in lines if x["found"]) == 100


@pytest.mark.parametrize(
    "args",
    [
        ("track", "bad number!"),
        ("track", "nope:123456"),
        ("track", "--json", "--jsonl", "3676E4043665"),
        ("track",),
        ("track", "--bogus-option"),
        ("track", "x" * 500),
        ("track", "ab\x07cd1234"),
    ],
)
def test_exit_2_on_usage_errors_without_traceback(
    sandbox: Sandbox, cli, args: tuple[str, ...]
) -> None:  # type: ignore[no-untyped-def]
    r = cli(*args)
    assert r.code == 2
    assert "Traceback" not in r.err
    assert r.out == ""
    assert sandbox.entries() == []


def test_exit_3_when_the_carrier_rejects_the_credentials(
    sandbox: Sandbox, cli, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_ILS_PDD", "wrong-key-123456")
    r = cli("track", "3676E4043665")
    assert r.code == 3
    assert "credentials rejected" in r.out
    assert "wrong-key-123456" not in r.out + r.err


def test_exit_3_when_no_carrier_is_configured(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "3676E4043665")
    assert r.code == 3
    assert "no carrier is configured" in r.err
    assert "waypost config init" in r.err


def test_exit_3_on_an_invalid_config_file(cli, isolated) -> None:  # type: ignore[no-untyped-def]
    path = isolated / "config" / "config.toml"
    path.parent.mkdir()
    path.write_text("[carriers.ils]\nuser_id = true\n")
    r = cli("track", "3676E4043665")
    assert r.code == 3
    assert f"{path}, line 2: carriers.ils.user_id must be a string" in r.err


def test_exit_4_when_every_carrier_asked_was_unreachable(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    sandbox.stop()
    r = cli("track", "--timeout", "2", "3676E4043665", "3676E4038434")
    assert r.code == 4
    assert r.out.count("cannot reach 127.0.0.1") == 2
    assert "Traceback" not in r.err


def test_track_json_validates_against_the_published_schema(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    import json

    import jsonschema

    from waypost import carriers

    schema = cli("schema").json()
    jsonschema.Draft202012Validator.check_schema(schema)
    # One validator per schema, checked once (jsonschema.validate checks the schema each call).
    document = jsonschema.Draft202012Validator(schema)
    shipment = jsonschema.Draft202012Validator(
        schema["$defs"]["Shipment"] | {"$defs": schema["$defs"]}  # type: ignore[index,operator]
    )
    numbers = [
        f"{n}:{c['number']}" for n in carriers.names() for c in carriers.module(n).TEST_CASES
    ]
    doc = cli("track", "--json", *numbers).json()
    document.validate(doc)
    required = schema["$defs"]["Shipment"]["required"]  # type: ignore[index]
    assert "tracking_number" in required
    assert "error" in required
    for line in cli("track", "--jsonl", *numbers).out.splitlines():
        shipment.validate(json.loads(line))
    broken = dict(doc)  # type: ignore[arg-type]
    broken["shipments"] = [{"tracking_number": 5}]
    with pytest.raises(jsonschema.ValidationError):
        document.validate(broken)
