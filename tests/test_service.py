"""Routing across carriers: one batch per carrier, all carriers at once; merge and marks;
`carriers` and `carriers --detect`; TrackingMore's account operations from the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from waypost import render
from waypost.carriers.base import Answer, Query
from waypost.models import Shipment, Status
from waypost.sandbox import Sandbox
from waypost.sandbox.trackingmore import synthetic_number
from waypost.service import Plan, Report, _merge


def test_thirty_numbers_over_three_carriers_go_out_as_one_batch_each_all_at_once(
    cli, sandbox: Sandbox
) -> None:  # type: ignore[no-untyped-def]
    box = sandbox  # on the virtual clock: the latency and PandaPon's 5/s cost no real time
    box.latency = 0.4
    try:
        ils = [f"{i:04d}S{i:07d}" for i in range(10)]
        tm = [synthetic_number(i, "FO") for i in range(10)]
        box.apps["trackingmore"].preload(tm)
        pandapon = [f"9{i:018d}" for i in range(10)]
        mixed = [n for trio in zip(ils, tm, pandapon, strict=True) for n in trio]
        r = cli("track", "--jsonl", *mixed)
        assert r.code == 0, r.err
        shipments = [json.loads(line) for line in r.out.splitlines()]
        assert {s["order_id"] or s["tracking_number"] for s in shipments} == set(mixed)
        assert {s["carrier"] for s in shipments} == {"ils", "trackingmore", "pandapon"}
        log = box.entries()
    finally:
        box.stop()
    by_carrier = {
        c: [e for e in log if e.carrier == c] for c in ("ils", "trackingmore", "pandapon")
    }
    assert [e.numbers for e in by_carrier["ils"]] == [10]
    assert [(e.path, e.numbers) for e in by_carrier["trackingmore"]] == [("/v4/trackings/get", 10)]
    assert len(by_carrier["pandapon"]) == 10  # the API takes one order per request
    assert sorted(e.params.get("orderId") for e in by_carrier["pandapon"]) == pandapon
    # All three carriers were asked before any of them had answered.
    first_arrivals = [min(e.t for e in entries) for entries in by_carrier.values()]
    first_answer = min(e.done for e in log)
    assert max(first_arrivals) < first_answer


def _shipment(carrier: str, hours_ago: int, found: bool = True) -> Shipment:
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    return Shipment(
        tracking_number="AB123456789",
        carrier=carrier,
        found=found,
        status=Status.IN_TRANSIT if found else Status.NOT_FOUND,
        last_update=now - timedelta(hours=hours_ago) if found else None,
    )


def _plan(query: Query, asked: list[str]) -> Plan:
    return Plan({c: [query] for c in asked}, {query.key: asked}, {}, {})


def test_several_carriers_that_found_a_number_are_shown_newest_first_and_marked() -> None:
    query = Query("AB123456789")
    answers = {
        query.key: [
            Answer(Query("AB123456789", "ils"), [_shipment("ils", 30)]),
            Answer(Query("AB123456789", "trackingmore"), [_shipment("trackingmore", 2)]),
            Answer(Query("AB123456789", "pandapon"), [_shipment("pandapon", 0, found=False)]),
        ]
    }
    result = _merge(query, _plan(query, ["ils", "trackingmore", "pandapon"]), answers)
    assert [s.carrier for s in result.shipments] == ["trackingmore", "ils"]
    assert result.failure is None
    report = Report([result])
    assert render.marks(report.results) == {0: "also found by ils", 1: "also found by trackingmore"}
    assert report.exit_code == 0


def test_a_definite_not_found_beats_a_failure_and_a_found_beats_both() -> None:
    from waypost.errors import NetworkError

    query = Query("AB123456789")
    failed = Answer(
        Query("AB123456789", "ils"), [Shipment.failed("AB123456789", "ils", NetworkError("down"))]
    )
    missing = Answer(
        Query("AB123456789", "trackingmore"), [_shipment("trackingmore", 0, found=False)]
    )
    result = _merge(query, _plan(query, ["ils", "trackingmore"]), {query.key: [failed, missing]})
    assert ([s.carrier for s in result.shipments], result.failure) == (["trackingmore"], None)
    only_failed = _merge(query, _plan(query, ["ils"]), {query.key: [failed]})
    assert isinstance(only_failed.failure, NetworkError)
    assert Report([only_failed]).exit_code == 4


def test_unconfigured_carriers_are_skipped_with_one_hint(
    sandbox: Sandbox, cli, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("WAYPOST_TRACKINGMORE_API_KEY")
    monkeypatch.delenv("WAYPOST_PANDAPON_SECRET")
    r = cli(
        "track", "99999999", "88888888", "77777777"
    )  # no pattern: every carrier could have them (PandaPon's order ids are digits)
    hints = [line for line in r.err.splitlines() if line.startswith("hint:")]
    assert hints == [
        "hint: trackingmore skipped: not configured (run `waypost config set carriers.trackingmore.api_key`)",
        "hint: pandapon skipped: not configured (run `waypost config set carriers.pandapon.secret`)",
    ]
    assert r.code == 0  # ILS answered all three (not found)


def test_carriers_lists_configured_and_unconfigured(sandbox: Sandbox, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("WAYPOST_PANDAPON_SECRET")
    doc = cli("carriers", "--json").json()
    rows = {c["name"]: c for c in doc["carriers"]}  # type: ignore[index]
    assert rows["ils"]["configured"] is True
    assert rows["pandapon"]["configured"] is False
    assert rows["pandapon"]["missing"] == ["secret"]
    assert rows["ils"]["max_batch"] == 100
    assert rows["trackingmore"]["rates_per_second"]["get_rate"] == 10.0
    assert any(p["example"] == "LS912989618CN" for p in rows["trackingmore"]["patterns"])
    text = cli("carriers").out
    assert "pandapon  PandaPon OpenAPI  [not configured: missing secret]" in text
    assert "ils  ILS Logistics  [configured]" in text


def test_carriers_detect_explains_the_ranking(cli) -> None:  # type: ignore[no-untyped-def]
    doc = cli(
        "carriers", "--detect", "--json", "LS912989618CN", "LS912989619CN", "3676E4043665"
    ).json()
    good, typo, ils = doc["detect"]  # type: ignore[index]
    assert (
        good["sure"],
        good["candidates"][0]["courier"],
        good["candidates"][0]["check_digit"],
    ) == (
        "trackingmore",
        "china-post",
        "ok",
    )
    assert typo["sure"] is None
    assert typo["candidates"][0]["check_digit"] == "failed"
    assert ils["sure"] == "ils"
    text = cli("carriers", "--detect", "LS912989619CN").out
    assert "check digit FAILED" in text
    assert cli("carriers", "LS912989618CN").code == 2


def test_remove_remote_deletes_from_the_trackingmore_account(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    app = sandbox.apps["trackingmore"]
    assert cli("track", "--save", "trackingmore:RR050349575PH", "3676E4043665").code == 0
    assert any(t.number == "RR050349575PH" for t in app.account.values())
    r = cli("remove", "--remote", "RR050349575PH", "3676E4043665")
    assert r.code == 0, r.err
    assert "RR050349575PH: deleted from the TrackingMore account" in r.err
    assert "ils keeps no account of its own" in r.err
    assert not any(t.number == "RR050349575PH" for t in app.account.values())
    assert cli("list", "--all").out == ""


def test_carriers_remote_lists_trackingmore_couriers_and_caches_them(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("carriers", "--remote", "trackingmore", "--json").json()
    codes = {c["code"] for c in first["couriers"]}  # type: ignore[index]
    assert {"usps", "china-ems"} <= codes
    plain = cli("carriers", "--remote", "trackingmore")  # piped: "code<TAB>name", one a line
    assert plain.code == 0, plain.err
    assert plain.out.splitlines() == [f"{c['code']}\t{c['name']}" for c in first["couriers"]]  # type: ignore[index]
    calls = [e for e in sandbox.entries("trackingmore") if e.path == "/v4/couriers/all"]
    assert len(calls) == 1  # the second run read the day-long cache
    assert cli("carriers", "--remote", "ils").code == 2
