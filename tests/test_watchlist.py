"""The watch list manages itself (issue 19): ETA, stalled, alert filters, archive, corrections,
quota and the summary, against the sandbox and on a clock the tests control."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.forked import ForkServer
from waypost import insights
from waypost.carriers.base import Query
from waypost.errors import UsageError
from waypost.models import Event, Shipment, Status
from waypost.sandbox import Sandbox
from waypost.store import Store

ILS = "3676E4043665"  # sea freight in transit
DELIVERED = "3676E4038521"
LS = "LS912989618CN"  # TrackingMore demo, China EMS, China -> United States, 2018
DAY = 86400.0


def store(isolated: Path) -> Store:
    return Store.open(isolated / "data")


def config(isolated: Path, text: str) -> None:
    path = isolated / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)


@pytest.fixture
def days_on(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The watch list's clock: now plus ``days_on[0]`` seconds."""
    offset = [0.0]
    monkeypatch.setattr(insights, "clock", lambda: time.time() + offset[0])
    return offset


def delivered_shipment(number: str, start: datetime, days: float) -> Shipment:
    first = Event(time=start, description="Posting", status=Status.IN_TRANSIT)
    done = Event(
        time=start + timedelta(days=days), description="Delivered", status=Status.DELIVERED
    )
    return Shipment(
        tracking_number=number,
        carrier="trackingmore",
        courier="china-ems",
        found=True,
        status=Status.DELIVERED,
        origin="China",
        destination="United States",
        events=[done, first],
    )


# -- ETA ----------------------------------------------------------------------------------------


def test_an_eta_is_learned_from_three_delivered_shipments_of_the_same_route(
    sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    with store(isolated) as db:
        for i, days in enumerate((10.2, 12.9, 11.5)):
            number = f"EE00000000{i}CN"
            query = Query(number, "trackingmore", "china-ems")
            db.add([delivered_shipment(number, start, days)], query, None)
    r = cli("track", "--save", f"trackingmore:china-ems:{LS}")
    assert r.code == 0, r.err
    # Whole days 10, 12, 11: the median is 11; the first event is 2018-04-07 16:45 (China).
    assert "ETA 2018-04-18 (history)" in r.out
    (item,) = [w for w in cli("list", "--json").json()["watched"] if w["number"] == LS]  # type: ignore[index]
    assert (item["eta"], item["eta_source"]) == ("2018-04-18", "history")


def test_two_deliveries_or_another_route_teach_nothing() -> None:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    rows = [
        (
            i,
            "trackingmore",
            "china-ems",
            "China",
            "US",
            start.isoformat(),
            (start + timedelta(days=d)).isoformat(),
            None,
        )
        for i, d in enumerate((4, 6))
    ]
    history = insights.History.learn(rows)
    key = insights.route_key("trackingmore", "china-ems", "China", "US")
    assert history.eta(key, start) is None
    rows.append(
        (
            9,
            "trackingmore",
            "china-ems",
            "China",
            "US",
            start.isoformat(),
            (start + timedelta(days=5, hours=23)).isoformat(),
            None,
        )
    )
    history = insights.History.learn(rows)
    assert history.transit_days(key) == 5  # 4, 5 (5 d 23 h, floored), 6
    assert history.eta(key, start) == date(2026, 1, 10)
    assert history.eta(key, start, exclude=9) is None  # a shipment never teaches itself
    assert history.eta(insights.route_key("trackingmore", "usps", "China", "US"), start) is None
    assert insights.route_key("trackingmore", "china-ems", None, "US") is None


def test_the_carriers_eta_wins_and_a_move_is_news(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from waypost.sandbox import trackingmore_v4

    ups = "1Z999AA10123456784"
    monkeypatch.setitem(trackingmore_v4.EXTRAS[ups], "scheduled_delivery_date", "2026-12-05")
    r = cli("track", "--save", "--json", ups)
    (shipment,) = r.json()["shipments"]  # type: ignore[index]
    assert (shipment["eta"], shipment["eta_source"]) == ("2026-12-05", "carrier")
    assert cli("watch", "--once").out == ""
    monkeypatch.setitem(trackingmore_v4.EXTRAS[ups], "scheduled_delivery_date", "2026-12-08")
    for tracking in sandbox.apps["trackingmore"].account.values():
        tracking.updated = time.time()
    only_events = cli("watch", "--once", "--on", "delivered")
    assert only_events.out == ""  # filtered out: the move is remembered, not reported later
    monkeypatch.setitem(trackingmore_v4.EXTRAS[ups], "scheduled_delivery_date", "2026-12-03")
    for tracking in sandbox.apps["trackingmore"].account.values():
        tracking.updated = time.time()
    r = cli("watch", "--once", "--on", "eta")
    assert r.code == 0, r.err
    assert "  ETA moved: Dec 8 -> Dec 3\n" in r.out
    assert cli("watch", "--once").out == ""


def test_eta_moved_needs_a_whole_day() -> None:
    assert insights.eta_moved("2026-12-05", date(2026, 12, 5)) is None
    assert insights.eta_moved(None, date(2026, 12, 5)) is None
    moved = insights.eta_moved("2026-12-05", datetime(2026, 12, 8, 9, tzinfo=UTC))
    assert moved is not None
    assert insights.moved_text(moved) == "ETA moved: Dec 5 -> Dec 8"
    assert insights.moved_text((date(2026, 12, 30), date(2027, 1, 2))) == (
        "ETA moved: Dec 30 2026 -> Jan 2 2027"
    )


# -- stalled ------------------------------------------------------------------------------------


def test_a_stalled_shipment_is_reported_once_and_again_only_after_it_moved(
    sandbox: Sandbox, cli, days_on: list[float]
) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", "--label", "boots", ILS).code == 0
    assert cli("watch", "--once").out == ""
    days_on[0] = 30 * DAY  # ILS sea freight stalls after 21 days without a scan
    first = cli("watch", "--once")
    assert first.code == 0, first.err
    assert first.out.count("stalled: no new event since") == 1
    assert first.out.startswith(f"{ILS}  ils  in_transit")
    assert cli("watch", "--once").out == ""  # reported once
    assert cli("watch", "--once", "--json").out == ""
    (row,) = cli("list", "--stalled", "--json").json()["watched"]  # type: ignore[index]
    assert (row["number"], row["stalled"]) == (ILS, True)
    assert sandbox.apps["ils"].add_event(ILS, "Discharged", "Felixstowe")
    days_on[0] = 0.0
    moved = cli("watch", "--once", "--jsonl")
    (item,) = [json.loads(line) for line in moved.out.splitlines()]
    assert item["stalled"] is False
    assert [e["description"] for e in item["events"]] == ["Discharged"]
    assert cli("list", "--stalled", "--json").json()["watched"] == []  # type: ignore[index]
    days_on[0] = 30 * DAY
    again = cli("watch", "--once", "--jsonl")
    (item,) = [json.loads(line) for line in again.out.splitlines()]
    assert (item["stalled"], item["events"]) == (True, [])
    assert cli("watch", "--once").out == ""


def test_a_shipment_the_carrier_calls_unchanged_is_reported_stalled_once(
    sandbox: Sandbox, cli, days_on: list[float]
) -> None:  # type: ignore[no-untyped-def]
    ups = "1Z999AA10123456784"
    assert cli("track", "--save", f"trackingmore:ups:{ups}").code == 0
    assert cli("watch", "--once").out == ""  # the first pass reads by number and sets a cursor
    for tracking in sandbox.apps["trackingmore"].account.values():
        tracking.updated = time.time() - 3600  # not on the pages of what changed since
    days_on[0] = 10 * DAY
    sandbox.reset_log()
    r = cli("watch", "--once", "--jsonl")
    assert r.code == 0, r.err
    (item,) = [json.loads(line) for line in r.out.splitlines()]
    assert (item["tracking_number"], item["stalled"], item["events"]) == (ups, True, [])
    paths = [e.path for e in sandbox.entries("trackingmore")]
    assert paths == ["/v4/trackings/get"]  # one page read: the carrier said "unchanged"
    assert cli("watch", "--once").out == ""


def test_stalled_after_per_carrier_and_in_watch(isolated: Path) -> None:
    from waypost import config as cfg

    assert insights.stalled_after(None, "ils") == 21 * DAY
    assert insights.stalled_after(None, "trackingmore") == 7 * DAY
    config(isolated, '[watch]\nstalled_after = "3d"\n[carriers.pandapon]\nstalled_after = "36h"\n')
    loaded = cfg.load()
    assert insights.stalled_after(loaded, "ils") == 3 * DAY
    assert insights.stalled_after(loaded, "pandapon") == 36 * 3600


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ('[watch]\nstalled_after = "x"\n', "watch.stalled_after"),
        ('[watch]\narchive_delivered_after = "soon"\n', "watch.archive_delivered_after"),
        ('[watch]\non = ["delivered", "bogus"]\n', "watch.on"),
        ('[carriers.ils]\nstalled_after = "-3d"\n', "carriers.ils.stalled_after"),
    ],
)
def test_bad_watch_list_settings_are_config_errors(
    cli, isolated: Path, text: str, what: str
) -> None:  # type: ignore[no-untyped-def]
    config(isolated, text)
    r = cli("list")
    assert r.code == 3
    assert what in r.err
    assert "line" in r.err
    assert "Traceback" not in r.err


def test_config_set_checks_the_new_keys(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("config", "set", "watch.stalled_after", "x").code == 3
    assert cli("config", "set", "watch.on", "delivered bogus").code == 3
    assert cli("config", "set", "carriers.ils.stalled_after", "30d").code == 0
    assert cli("config", "set", "watch.on", "delivered stalled").code == 0
    shown = cli("config", "show", "--json").json()
    assert shown["carriers"]["ils"]["stalled_after"] == "30d"  # type: ignore[index]
    assert shown["watch"]["on"] == ["delivered", "stalled"]  # type: ignore[index]


# -- alert filters ------------------------------------------------------------------------------


def test_on_delivered_prints_and_notifies_only_that_transition(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", "--label", "sofa", ILS, "1234S5678901").code == 0
    assert sandbox.apps["ils"].add_event(ILS, "Delivered to consignee", "Leeds")
    assert sandbox.apps["ils"].add_event("1234S5678901", "Arrived at Hamburg", "Hamburg")
    url = f"json://127.0.0.1:{sandbox.port}/_sandbox/sink"
    r = cli("watch", "--once", "--on", "delivered", "--notify", url)
    assert r.code == 0, r.err
    assert r.out.startswith(f"{ILS}  ils  delivered")
    assert "1234S5678901" not in r.out
    (message,) = sandbox.sink
    assert message["title"] == f"waypost: sofa ({ILS}) delivered, ils"
    assert "Delivered to consignee" in message["message"]
    # The filtered-out event was stored, not kept for later.
    assert cli("watch", "--once").out == ""


def test_on_in_config_and_bad_values(sandbox: Sandbox, cli, isolated: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("watch", "--once", "--on", "bogus")
    assert r.code == 2
    assert "unknown status or word 'bogus'" in r.err
    assert cli("watch", "--once", "--on", "delivered,").code == 0
    config(isolated, '[watch]\non = ["exception"]\n')
    assert cli("track", "--save", "1234S5678901").code == 0
    assert sandbox.apps["ils"].add_event("1234S5678901", "Arrived at Hamburg", "Hamburg")
    assert cli("watch", "--once").out == ""
    assert sandbox.apps["ils"].add_event("1234S5678901", "Arrived at Bremen", "Bremen")
    # Still in transit: it did not enter that status, so even --on in_transit stays quiet.
    assert cli("watch", "--once", "--on", "in_transit").out == ""


@given(
    st.lists(
        st.sampled_from([s.value for s in Status if s is not Status.UNKNOWN] + ["stalled", "eta"]),
        min_size=1,
    )
)
def test_parse_on_takes_every_status_and_word(values: list[str]) -> None:
    assert insights.parse_on([",".join(values)]) == frozenset(values)


@given(st.text(max_size=12))
def test_parse_on_refuses_anything_else_with_a_usage_error(word: str) -> None:
    known = {s.value for s in Status} | {"stalled", "eta"}
    parts = [p.strip().lower() for p in word.split(",") if p.strip()]
    try:
        result = insights.parse_on([word])
    except UsageError:
        assert any(p not in known or p == "unknown" for p in parts)
    else:
        assert result == (frozenset(parts) if parts else None)


@given(st.text(max_size=12))
def test_parse_span_is_positive_seconds_or_a_value_error(raw: str) -> None:
    try:
        seconds = insights.parse_span(raw)
    except ValueError:
        return
    assert 0 < seconds <= insights.MAX_SPAN_DAYS * DAY


def test_parse_span_units() -> None:
    assert insights.parse_span("7d") == 7 * DAY
    assert insights.parse_span("1d12h") == 1.5 * DAY
    assert insights.parse_span("2w") == 14 * DAY
    for bad in ("", "x", "0d", "7 days", "99999d"):
        with pytest.raises(ValueError, match=r"duration|zero|longer|empty"):
            insights.parse_span(bad)


# -- archive ------------------------------------------------------------------------------------


def test_archive_hides_keeps_history_and_undo_brings_back(
    sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", ILS, "1234S5678901").code == 0
    r = cli("archive", ILS, "NOPE12345")
    assert r.code == 1
    assert f"archived {ILS} (ils)" in r.err
    assert "not on the watch list: NOPE12345" in r.err
    assert [w["number"] for w in cli("list", "--json").json()["watched"]] == ["1234S5678901"]  # type: ignore[index]
    (shelved,) = cli("list", "--archived", "--json").json()["watched"]  # type: ignore[index]
    assert (shelved["number"], shelved["archived"]) == (ILS, True)
    sandbox.reset_log()
    assert cli("watch", "--once").code == 0
    (entry,) = sandbox.entries("ils")
    assert entry.numbers == 1  # the archived one is not asked
    with store(isolated) as db:
        (row,) = db.find(ILS)
        assert db.events(row.id)  # history kept
    assert cli("archive", "--undo", ILS).code == 0
    assert len(cli("list", "--json").json()["watched"]) == 2  # type: ignore[index]


@pytest.mark.parametrize("api", ["v4", "v2"])
def test_archiving_a_trackingmore_number_stops_the_account_refreshing_it(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch, api: str
) -> None:  # type: ignore[no-untyped-def]
    if api == "v2":
        monkeypatch.setenv("WAYPOST_TRACKINGMORE_API", "v2")
        v4 = sandbox.env()["WAYPOST_TRACKINGMORE_BASE_URL"]
        monkeypatch.setenv("WAYPOST_TRACKINGMORE_BASE_URL", v4.removesuffix("/v4") + "/v2")
    assert cli("track", "--save", f"trackingmore:china-ems:{LS}").code == 0
    account = sandbox.apps["trackingmore"].account
    (tracking,) = [t for t in account.values() if t.number == LS]
    r = cli("archive", LS)
    assert r.code == 0, r.err
    assert tracking.archived is True
    if api == "v2":
        assert tracking.updating is False
        paths = [e.path for e in sandbox.entries("trackingmore")]
        assert any(p.endswith("/trackings/updatemore") for p in paths)
        assert any(p.endswith("/trackings/notupdate") for p in paths)
    assert cli("archive", "--undo", LS).code == 0
    assert tracking.archived is False


def test_delivered_shipments_archive_themselves_on_the_clock(
    sandbox: Sandbox, cli, isolated: Path, days_on: list[float]
) -> None:  # type: ignore[no-untyped-def]
    config(isolated, '[watch]\narchive_delivered_after = "14d"\n')
    assert cli("track", "--save", DELIVERED, ILS).code == 0
    assert cli("watch", "--once").code == 0
    assert DELIVERED in cli("list", "--all").out  # delivered days ago, not 14
    days_on[0] = 20 * DAY
    assert cli("watch", "--once").code == 0
    assert DELIVERED not in cli("list", "--all").out
    (shelved,) = cli("list", "--archived", "--json").json()["watched"]  # type: ignore[index]
    assert shelved["number"] == DELIVERED
    assert shelved["transit_days"] is not None
    assert ILS in cli("list").out  # in transit: never archived by the clock


# -- corrections --------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["v4", "v2"])
def test_edit_courier_tells_trackingmore_and_replaces_the_history(
    sandbox: Sandbox, cli, isolated: Path, monkeypatch: pytest.MonkeyPatch, api: str
) -> None:  # type: ignore[no-untyped-def]
    if api == "v2":
        monkeypatch.setenv("WAYPOST_TRACKINGMORE_API", "v2")
        v4 = sandbox.env()["WAYPOST_TRACKINGMORE_BASE_URL"]
        monkeypatch.setenv("WAYPOST_TRACKINGMORE_BASE_URL", v4.removesuffix("/v4") + "/v2")
    assert cli("track", "--save", f"trackingmore:china-ems:{LS}").code == 0
    with store(isolated) as db:
        (row,) = db.find(LS)
        assert len(db.events(row.id)) > 3
    r = cli("edit", LS, "--courier", "usps", "--label", "boots")
    assert r.code == 0, r.err
    assert "moved from china-ems to usps" in r.err
    account = sandbox.apps["trackingmore"].account
    assert (LS, "usps") in account
    assert (LS, "china-ems") not in account
    with store(isolated) as db:
        (row,) = db.find(LS)
        assert (row.courier, row.query, row.label) == ("usps", f"trackingmore:usps:{LS}", "boots")
        assert db.events(row.id) == []  # USPS does not know it: the China EMS history is gone
        # v4 asks the courier at once; v2's account copy waits to be fetched again.
        assert row.status == ("not_found" if api == "v4" else "pending")


def test_edit_refuses_what_cannot_be_corrected(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("edit", "NOPE12345", "--label", "x")
    assert (r.code, "not on the watch list: NOPE12345" in r.err) == (2, True)
    assert cli("track", "--save", ILS).code == 0
    r = cli("edit", ILS, "--courier", "usps", "--label", "never")
    assert r.code == 2
    assert "ils has no couriers" in r.err
    assert "never" not in cli("list").out  # nothing changed
    assert cli("edit", f"trackingmore:china-ems:{LS}", "--label", "x").code == 2  # unwatched
    assert cli("edit", ILS).code == 2
    assert cli("edit", ILS, "--label", "boots").code == 0
    assert cli("list").out.split("\t")[0] == "boots"


# -- quota --------------------------------------------------------------------------------------


def test_carriers_shows_the_quota_v2_tells_and_says_v4_does_not(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    rows = {c["name"]: c for c in cli("carriers", "--json").json()["carriers"]}  # type: ignore[index]
    assert rows["trackingmore"]["quota"]["told"] is False
    assert "v4 does not tell" in rows["trackingmore"]["quota"]["why"]
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_API", "v2")
    v4 = sandbox.env()["WAYPOST_TRACKINGMORE_BASE_URL"]
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_BASE_URL", v4.removesuffix("/v4") + "/v2")
    sandbox.apps["trackingmore"].quota = 1234
    assert cli("carriers", "--check", "trackingmore").code == 0  # reads it now and keeps it
    rows = {c["name"]: c for c in cli("carriers", "--json").json()["carriers"]}  # type: ignore[index]
    shown = rows["trackingmore"]["quota"]
    assert {k: shown[k] for k in ("told", "remaining", "balance")} == {
        "told": True,
        "remaining": 1234,
        "balance": 0.0,
    }
    assert "quota:   1,234 trackings left" in cli("carriers").out
    assert "sandbox@example.invalid" not in cli("carriers", "--json").out  # personal data stays out


def test_track_and_watch_warn_once_when_the_quota_runs_short(tm_v2: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    tm_v2.apps["trackingmore"].quota = 1
    numbers = [f"trackingmore:china-ems:{LS}", "trackingmore:usps:9400111201080805483016"]
    assert "tracking(s) left" not in cli("track", *numbers).err  # not read yet: no request for it
    assert not any(e.path.endswith("/getuserinfo") for e in tm_v2.entries("trackingmore"))
    assert cli("carriers", "--check", "trackingmore").code == 0  # reads and keeps it
    r = cli("track", "--save", *numbers)
    warnings = [line for line in r.err.splitlines() if "tracking(s) left" in line]
    assert len(warnings) == 1
    assert "has 1 tracking(s) left and this run may need up to 2" in warnings[0]
    r = cli("watch", "--once")
    assert sum("tracking(s) left" in line for line in r.err.splitlines()) == 1


# -- summary ------------------------------------------------------------------------------------


def test_list_summary_counts_statuses_stalled_and_archived(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    assert (
        cli("track", "--save", ILS, DELIVERED, "3676E4040017", f"trackingmore:china-ems:{LS}").code
        == 0
    )
    assert cli("archive", "3676E4040017").code == 0
    doc = cli("list", "--summary", "--json").json()["summary"]  # type: ignore[index]
    assert doc["total"] == 3
    assert doc["statuses"] == {"in_transit": 2, "delivered": 1}
    assert (doc["stalled"], doc["archived"]) == (1, 1)  # LS912989618CN: no scan since 2018
    lines = cli("list", "--summary").out.splitlines()
    assert lines == [
        "in transit  2",
        "delivered   1",
        "stalled     1",
        "archived    1",
        "total       3",
    ]


def test_bash_completes_watched_numbers_for_archive_and_edit(isolated: Path) -> None:
    import os
    import sys

    from tests.cli.test_completions import bash_complete

    with store(isolated) as db:
        for number in (ILS, DELIVERED):
            db.add(
                [Shipment(tracking_number=number, carrier="ils", found=True)],
                Query(number, "ils"),
                None,
            )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in ("archive", "edit"):
        assert sorted(bash_complete("waypost", command, "3676", env=env)) == sorted(
            [ILS, DELIVERED]
        )
    assert "--undo" in bash_complete("waypost", "archive", "--u", env=env)
    assert "--courier" in bash_complete("waypost", "edit", "--c", env=env)


def test_list_on_a_terminal_has_an_eta_column_and_marks_stalled_rows(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch, forker: ForkServer
) -> None:  # type: ignore[no-untyped-def]
    from tests.pty_forked import run_on_pty_forked
    from waypost.sandbox import trackingmore_v4

    ups = "1Z999AA10123456784"
    monkeypatch.setitem(trackingmore_v4.EXTRAS[ups], "scheduled_delivery_date", "2026-12-08")
    assert cli("track", "--save", ups, f"trackingmore:china-ems:{LS}").code == 0
    r = run_on_pty_forked(forker, "list", columns=200)
    assert r.code == 0, r.err
    lines = [line for line in r.lines if line.strip()]
    assert "ETA" in lines[0].split()
    assert "Dec 8" in next(line for line in lines if ups in line)
    assert "in transit (stalled)" in next(line for line in lines if LS in line)


def test_a_database_of_the_previous_release_gains_the_watch_list_columns(tmp_path: Path) -> None:
    import sqlite3

    from waypost.store.migrations import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "waypost.db"
    db = sqlite3.connect(path)
    names = [m.name for m in MIGRATIONS]
    before = MIGRATIONS[: names.index("the watch list manages itself")]
    for version, step in enumerate(before, 1):  # every step before this one
        step.apply(db)
        db.execute(f"PRAGMA user_version = {version}")
    snapshot = json.dumps(
        {
            "origin": "China",
            "destination": "United States",
            "eta": "2026-12-08",
            "eta_source": "carrier",
        }
    )
    db.execute(
        "INSERT INTO watched (number, carrier, added, status, ask_number, ask_carrier, snapshot)"
        " VALUES ('LS912989618CN', 'trackingmore', 1.0, 'in_transit', 'LS912989618CN',"
        " 'trackingmore', ?), ('3676E4043665', 'ils', 2.0, 'in_transit', '3676E4043665', 'ils',"
        " 'not json')",
        (snapshot,),
    )
    db.commit()
    db.close()
    with Store(path) as migrated:
        assert migrated.version == SCHEMA_VERSION
        assert "the watch list manages itself" in [m.name for m in MIGRATIONS]
        tm, ils = migrated.watched()
        assert (tm.origin, tm.destination, tm.eta, tm.eta_source) == (
            "China",
            "United States",
            "2026-12-08",
            "carrier",
        )
        assert (ils.origin, ils.eta, ils.archived, ils.stalled_reported) == (None, None, None, None)


def test_a_refused_quota_read_is_said_without_the_key(
    tm_v2: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    secret = "wrong-key-0123456789abcdef"
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_API_KEY", secret)
    r = cli("carriers", "--check", "trackingmore", "--json")
    assert r.code == 3, r.err
    assert "key" in r.err.lower()
    assert secret not in r.out
    assert secret not in r.err
    r = cli("carriers", "--json")
    assert r.code == 0, r.err
    quota = {c["name"]: c for c in r.json()["carriers"]}["trackingmore"]["quota"]  # type: ignore[index]
    assert quota["told"] is False


def test_auto_archive_archives_a_delivered_trackingmore_number_in_the_account_too(
    sandbox: Sandbox, cli, isolated: Path, days_on: list[float]
) -> None:  # type: ignore[no-untyped-def]
    config(isolated, '[watch]\narchive_delivered_after = "14d"\n')
    number = "RR050349575PH"  # delivered, in the sandbox's account already
    assert cli("track", "--save", number).code == 0
    days_on[0] = 3650 * DAY  # the delivery is long past on this clock, whenever it was
    r = cli("watch", "--once")
    assert r.code == 0, r.err
    (shelved,) = cli("list", "--archived", "--json").json()["watched"]  # type: ignore[index]
    assert shelved["number"] == number
    (tracking,) = [t for t in sandbox.apps["trackingmore"].account.values() if t.number == number]
    assert tracking.archived is True
