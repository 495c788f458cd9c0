"""Schema 2, honest states: a number that could not be answered is ``found: null``, status
``unknown`` and a header that says ``failed``; ``not_found`` only when the carrier answered;
``unknown`` never replaces a known history in the store."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waypost import carriers
from waypost.carriers.base import Query
from waypost.errors import AuthError, CarrierError, NetworkError
from waypost.models import SCHEMA_VERSION, Event, Shipment, Status, TrackDocument
from waypost.render import Terminal, json_document, plain_track, rich_track
from waypost.sandbox import Sandbox
from waypost.sandbox.faults import KINDS
from waypost.store import Store

NEW_FIELDS = {
    "eta",
    "eta_source",
    "transit_days",
    "stalled",
    "last_mile",
    "link",
    "archived",
    "journey",
}
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def failed(err: CarrierError | None = None) -> Shipment:
    return Shipment.failed("3676E4043665", "ils", err or NetworkError("ils: cannot reach it"))


def test_a_failed_number_is_unknown_with_found_null_and_its_reason() -> None:
    raw = json.loads(failed().model_dump_json())
    assert (raw["found"], raw["status"], raw["error"]) == (None, "unknown", "ils: cannot reach it")


def test_every_new_field_is_always_in_the_json_null_or_false() -> None:
    raw = json.loads(Shipment(tracking_number="N", carrier="ils").model_dump_json())
    assert set(raw) >= NEW_FIELDS
    assert {k: raw[k] for k in NEW_FIELDS} == {
        "eta": None,
        "eta_source": None,
        "transit_days": None,
        "stalled": False,
        "last_mile": None,
        "link": None,
        "archived": False,
        "journey": None,
    }
    event = json.loads(Event(description="x").model_dump_json())
    assert "description_local" in event
    assert event["description_local"] is None


def test_the_new_fields_round_trip() -> None:
    s = Shipment(
        tracking_number="N",
        carrier="pandapon",
        eta=date(2026, 12, 1),
        eta_source="history",
        transit_days=9,
        stalled=True,
        last_mile={"courier": "usps", "tracking_number": "9400"},  # type: ignore[arg-type]
        link="https://example.com/track?n=N",
        archived=True,
        journey={"id": "j1", "leg": 2, "legs": 3},  # type: ignore[arg-type]
    )
    again = Shipment.model_validate_json(s.model_dump_json())
    assert again == s
    assert again.eta == date(2026, 12, 1)
    assert again.last_mile is not None
    assert again.last_mile.tracking_number == "9400"
    assert again.journey is not None
    assert (again.journey.leg, again.journey.legs) == (2, 3)
    stamped = Shipment(tracking_number="N", carrier="x", eta="2026-12-01T10:00:00+01:00")  # type: ignore[arg-type]
    assert isinstance(stamped.eta, datetime)


@pytest.mark.parametrize(
    "link",
    ["javascript:alert(1)", "file:///etc/passwd", "ftp://x/y", "data:text/html,x", "http://", ""],
)
def test_a_link_that_is_not_http_with_a_host_is_dropped(link: str) -> None:
    assert Shipment(tracking_number="N", carrier="x", link=link).link is None


@given(st.text(max_size=60))
def test_a_kept_link_is_always_http_or_https(link: str) -> None:
    kept = Shipment(tracking_number="N", carrier="x", link=link).link
    assert kept is None or kept.lower().startswith(("http://", "https://"))


def test_the_document_is_schema_2() -> None:
    assert SCHEMA_VERSION == 2
    doc = json.loads(json_document([failed()]))
    assert doc["schema"] == 2
    assert TrackDocument.model_validate(doc).shipments[0].status is Status.UNKNOWN


def test_unknown_is_a_status_but_not_a_final_one() -> None:
    assert Status("unknown") is Status.UNKNOWN
    assert not Status.UNKNOWN.final


def test_the_published_schema_allows_null_found_and_requires_the_new_fields(cli) -> None:  # type: ignore[no-untyped-def]
    schema = cli("schema").json()
    assert "schema 2" in schema["title"]  # type: ignore[index]
    assert schema["properties"]["schema"]["const"] == 2  # type: ignore[index]
    shipment = schema["$defs"]["Shipment"]  # type: ignore[index]
    assert set(shipment["required"]) >= NEW_FIELDS | {"found", "status", "error"}
    found_types = {t.get("type") for t in shipment["properties"]["found"]["anyOf"]}
    assert found_types == {"boolean", "null"}
    assert "unknown" in schema["$defs"]["Status"]["enum"]  # type: ignore[index]
    assert "description_local" in schema["$defs"]["Event"]["required"]  # type: ignore[index]


# -- what people read ------------------------------------------------------------------------


def test_the_plain_header_says_failed_not_not_found() -> None:
    out = io.StringIO()
    plain_track([failed()], Terminal(now=NOW, tz=UTC), out)
    header, reason = out.getvalue().splitlines()
    assert header == "3676E4043665  ils  failed"
    assert reason == "  error: ils: cannot reach it"
    assert "not found" not in out.getvalue()
    assert "not_found" not in out.getvalue()


def test_the_rich_header_says_failed_not_not_found() -> None:
    out = io.StringIO()
    rich_track([failed()], Terminal(stdout_tty=True, color=False, now=NOW, tz=UTC), out)
    text = out.getvalue()
    assert text.splitlines()[0].split() == ["3676E4043665", "ils", "failed"]
    assert "not found" not in text


def test_a_definite_not_found_still_says_not_found() -> None:
    out = io.StringIO()
    s = Shipment(tracking_number="X1", carrier="ils", found=False, status=Status.NOT_FOUND)
    plain_track([s], Terminal(now=NOW, tz=UTC), out)
    assert out.getvalue().splitlines()[0] == "X1  ils  not_found"
    assert "failed" not in out.getvalue()


# -- end to end: every way of not being answered ---------------------------------------------


@pytest.mark.parametrize("name", carriers.names())
def test_an_unreachable_carrier_gives_unknown_not_not_found(
    name: str, sandbox: Sandbox, cli
) -> None:  # type: ignore[no-untyped-def]
    sandbox.stop()
    number = carriers.module(name).TEST_CASES[0]["number"]
    r = cli("track", "--timeout", "1", "--json", f"{name}:{number}")
    assert r.code == 4
    (s,) = r.json()["shipments"]  # type: ignore[index]
    assert (s["found"], s["status"]) == (None, "unknown")
    assert "cannot reach" in s["error"]
    plain = cli("track", "--timeout", "1", f"{name}:{number}")
    assert plain.out.splitlines()[0].split()[2] == "failed"


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("slow", "hang")])
def test_a_carrier_fault_gives_unknown_and_the_exit_code_is_unchanged(
    kind: str, sandbox: Sandbox, cli
) -> None:  # type: ignore[no-untyped-def]
    sandbox.inject(f"{kind}@ils")
    r = cli("track", "--timeout", "1", "--jsonl", "ils:3676E4043665", "ils:3676E4038434")
    assert r.code == 4, (r.out, r.err)
    shipments = [json.loads(line) for line in r.out.splitlines()]
    assert [(s["found"], s["status"]) for s in shipments] == [(None, "unknown")] * 2
    assert all(s["error"] for s in shipments)


def test_rejected_credentials_give_unknown_and_exit_3(sandbox: Sandbox, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_ILS_PDD", "wrong-key-123456")
    r = cli("track", "--json", "ils:3676E4043665")
    assert r.code == 3
    (s,) = r.json()["shipments"]  # type: ignore[index]
    assert (s["found"], s["status"]) == (None, "unknown")
    assert "credentials rejected" in s["error"]


def test_a_number_the_carrier_does_not_know_is_still_not_found(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--json", "ils:3676E4038434")
    assert r.code == 0
    (s,) = r.json()["shipments"]  # type: ignore[index]
    assert (s["found"], s["status"], s["error"]) == (False, "not_found", None)


# -- the store keeps what it knows -----------------------------------------------------------


def known() -> Shipment:
    return Shipment(
        tracking_number="3676E4043665",
        carrier="ils",
        found=True,
        status=Status.IN_TRANSIT,
        status_text="Vessel departed",
        events=[Event(time=NOW, description="Vessel departed")],
    )


def test_the_store_never_writes_unknown_over_a_known_history(isolated: Path) -> None:
    with Store.open(isolated / "data") as store:
        store.add([known()], Query("3676E4043665", "ils"), None, now=1000.0)
        (row,) = store.watched()
        store.refresh(row, failed(), now=2000.0)
        store.add(
            [failed(AuthError("ils: credentials rejected"))], Query("3676E4043665", "ils"), None
        )
        (after,) = store.watched()
        assert (after.status, after.status_text, after.last_event) == (
            "in_transit",
            "Vessel departed",
            "Vessel departed",
        )
        assert after.last_checked == 1000.0
        assert len(store.events(row.id)) == 1


def test_an_unknown_answer_without_an_error_is_not_stored_either(isolated: Path) -> None:
    odd = Shipment(tracking_number="3676E4043665", carrier="ils", status=Status.UNKNOWN)
    with Store.open(isolated / "data") as store:
        store.add([known()], Query("3676E4043665", "ils"), None, now=1000.0)
        (row,) = store.watched()
        store.refresh(row, odd, now=2000.0)
        assert store.watched()[0].status == "in_transit"


def test_watch_keeps_the_history_when_the_carrier_fails(
    sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", "ils:3676E4043665").code == 0
    with Store.open(isolated / "data") as store:
        (before,) = store.watched()
    sandbox.inject("500@ils")
    r = cli("watch", "--once", "--timeout", "1")
    assert r.code == 4, (r.out, r.err)
    with Store.open(isolated / "data") as store:
        (after,) = store.watched()
    assert after.status == before.status != "unknown"
    assert (after.last_event, after.last_checked) == (before.last_event, before.last_checked)


def test_list_json_is_schema_2_with_the_shipment_fields(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", "ils:3676E4043665").code == 0
    doc = cli("list", "--json").json()
    assert doc["schema"] == 2  # type: ignore[index]
    (item,) = doc["watched"]  # type: ignore[index]
    assert set(item) >= NEW_FIELDS | {"number", "tracking_number", "carrier", "status", "label"}
    assert (item["tracking_number"], item["stalled"], item["archived"]) == (
        "3676E4043665",
        False,
        False,
    )


def test_a_number_never_answered_is_watched_as_unknown_until_answered(isolated: Path) -> None:
    with Store.open(isolated / "data") as store:
        store.add([failed()], Query("3676E4043665", "ils"), None, now=1000.0)
        (row,) = store.watched()
        assert (row.status, row.last_checked) == ("unknown", None)
        store.refresh(row, known(), now=2000.0)
        (after,) = store.watched()
        assert (after.status, after.last_checked) == ("in_transit", 2000.0)


def test_a_pending_answer_is_news_for_a_row_that_was_never_answered(isolated: Path) -> None:
    from waypost.watch import _knows_less

    pending = Shipment(tracking_number="3676E4043665", carrier="ils", status=Status.PENDING)
    with Store.open(isolated / "data") as store:
        store.add([failed()], Query("3676E4043665", "ils"), None)
        (row,) = store.watched()
        assert not _knows_less(pending, row)
        store.refresh(row, known())
        assert _knows_less(pending, store.watched()[0])


def test_an_unanswered_shipment_without_a_reason_still_says_failed() -> None:
    odd = Shipment(tracking_number="X1", carrier="ils", found=None, status=Status.UNKNOWN)
    plain, rich = io.StringIO(), io.StringIO()
    plain_track([odd], Terminal(now=NOW, tz=UTC), plain)
    rich_track([odd], Terminal(stdout_tty=True, color=False, now=NOW, tz=UTC), rich)
    for out in (plain, rich):
        assert "failed" in out.getvalue()
        assert "not found" not in out.getvalue()
