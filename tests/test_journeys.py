"""Journeys: `waypost link` (and `--undo`), `track` and `list` showing a journey as one item
(table, plain, JSON), automatic links where a carrier names the next leg, `watch` news once per
journey. The commands run on each backend (``watch_list``: the SQLite file, then a PostgreSQL
database of the session's throwaway cluster, skipped with the reason where there is none)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waypost import journeys
from waypost.models import Event, LastMile, Shipment, Status
from waypost.render import Terminal
from waypost.sandbox import Sandbox
from waypost.store import DB_NAME, WatchStore, open_store

PARCEL = "4318765290123"  # the one parcel of 1688 order 2542285634920880794
ILS = "3676E4043665"
TM = "trackingmore:usps:9400111899223197428490"
TM_NUMBER = "9400111899223197428490"


@pytest.fixture(params=["sqlite", "postgres"])
def watch_list(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> Iterator[str]:
    """The backend the commands of a test use: the SQLite file or a PostgreSQL database."""
    if request.param == "postgres":
        monkeypatch.setenv("WAYPOST_DATABASE_URL", request.getfixturevalue("pg_store_url"))
    yield str(request.param)
    if request.param == "postgres":  # the journeys were the database's, no file took them
        assert not (isolated / "data" / DB_NAME).exists()


def opened() -> WatchStore:
    """The watch list the commands use (as configured: the file or the database)."""
    return open_store()


def save(cli, *numbers: str) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--save", *numbers)
    assert r.code in (0, 1), r.err


def linked(cli) -> str:  # type: ignore[no-untyped-def]
    save(cli, "pandapon:2542285634920880794", f"ils:{ILS}", TM)
    r = cli("link", PARCEL, f"ils:{ILS}", TM)
    assert r.code == 0, r.err
    m = re.fullmatch(
        rf"journey (j[0-9a-f]{{8}}): {PARCEL} \(pandapon\) -> {ILS} \(ils\) -> {TM_NUMBER} \(trackingmore\)\n",
        r.out,
    )
    assert m, r.out
    return m.group(1)


def write_config(tmp: Path, text: str) -> None:
    path = tmp / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# -- manual links --------------------------------------------------------------------------------


def test_link_makes_ordered_legs_and_json_carries_them(
    sandbox: Sandbox, watch_list: str, cli
) -> None:  # type: ignore[no-untyped-def]
    journey = linked(cli)
    doc = cli("track", "--json", f"ils:{ILS}", TM).json()
    marks = [s["journey"] for s in doc["shipments"]]  # type: ignore[index]
    assert marks == [
        {"id": journey, "leg": 2, "legs": 3},
        {"id": journey, "leg": 3, "legs": 3},
    ]
    lines = cli("track", "--jsonl", "pandapon:2542285634920880794").out.splitlines()
    assert json.loads(lines[0])["journey"] == {"id": journey, "leg": 1, "legs": 3}
    listed = cli("list", "--all", "--json").json()["watched"]  # type: ignore[index]
    assert {i["number"]: i["journey"]["leg"] for i in listed} == {PARCEL: 1, ILS: 2, TM_NUMBER: 3}


def test_track_of_any_leg_shows_the_whole_journey_in_plain_lines(
    sandbox: Sandbox, watch_list: str, cli
) -> None:  # type: ignore[no-untyped-def]
    journey = linked(cli)
    out = cli("track", f"ils:{ILS}").out
    lines = out.splitlines()
    assert lines[0].startswith(f"journey {journey}  ")
    assert re.search(r"leg \d of 3 \(\w+ \S+\): \w+$", lines[0])
    assert lines[1].split()[:4] == ["leg", "1", PARCEL, "pandapon"]
    assert lines[2].split()[:4] == ["leg", "2", ILS, "ils"]
    assert lines[3].split()[:4] == ["leg", "3", TM_NUMBER, "trackingmore/usps"]
    assert sum("<- current" in line for line in lines[1:4]) == 1
    timeline = [line for line in lines[4:] if line.startswith("  [")]
    legs = {line.split("]")[0].strip(" [") for line in timeline}
    assert {"1", "2"} <= legs  # the parcel's stored events and ILS's fresh ones, merged
    assert out.count(f"journey {journey}") == 1


def test_a_number_outside_any_journey_prints_as_before(
    sandbox: Sandbox, watch_list: str, cli
) -> None:  # type: ignore[no-untyped-def]
    linked(cli)
    out = cli("track", f"ils:{ILS}", "pandapon:2205513879640221987").out
    assert out.count("journey ") == 1
    assert "75312468097531  pandapon" in out


def test_list_shows_a_journey_as_one_row(sandbox: Sandbox, watch_list: str, cli) -> None:  # type: ignore[no-untyped-def]
    linked(cli)
    save(cli, "pandapon:2205513879640221987")
    rows = [line.split("\t") for line in cli("list", "--all").out.splitlines()]
    numbers = [r[1] for r in rows]
    assert f"{PARCEL} -> {ILS} -> {TM_NUMBER}" in numbers
    assert "75312468097531" in numbers
    assert len(rows) == 2
    (row,) = [r for r in rows if "->" in r[1]]
    assert row[2] == "pandapon -> ils -> trackingmore"


def test_link_saves_numbers_not_watched_yet_and_undo_dissolves(
    sandbox: Sandbox, watch_list: str, cli
) -> None:  # type: ignore[no-untyped-def]
    r = cli("link", f"ils:{ILS}", TM)
    assert r.code == 0, r.err
    assert "watching 2 more shipment(s)" in r.err
    listed = cli("list", "--all", "--json").json()["watched"]  # type: ignore[index]
    assert sorted(i["journey"]["leg"] for i in listed) == [1, 2]
    undo = cli("link", "--undo", TM)
    assert undo.code == 0
    assert undo.out == f"unlinked {ILS} -> {TM_NUMBER}\n"
    listed = cli("list", "--all", "--json").json()["watched"]  # type: ignore[index]
    assert [i["journey"] for i in listed] == [None, None]
    assert cli("link", "--undo", TM).out == f"{TM_NUMBER} is not a leg of any journey\n"


def test_relinking_a_leg_takes_it_out_of_its_old_journey(
    sandbox: Sandbox, watch_list: str, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    first = linked(cli)
    r = cli("link", f"ils:{ILS}", "pandapon:2205513879640221987")
    assert r.code == 0, r.err
    with opened() as store:
        marks = journeys.index(store)
        by_number = {row.number: marks.get(row.id) for row in store.watched()}
    assert by_number[ILS]["leg"] == 1  # type: ignore[index]
    assert by_number[ILS]["id"] != first  # type: ignore[index]
    assert by_number[PARCEL] == {"id": first, "leg": 1, "legs": 2}
    assert by_number[TM_NUMBER] == {"id": first, "leg": 2, "legs": 2}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["link", f"ils:{ILS}"], "at least two numbers"),
        (["link", f"ils:{ILS}", f"ils:{ILS}"], "at least two numbers"),  # de-duplicated
        (["link", "--undo", "ils:NOPE1234"], "not on the watch list"),
        (["link", "pandapon:3318459201774650021", f"ils:{ILS}"], "order of 2 parcels"),
    ],
)
def test_link_usage_errors(
    args: list[str], words: str, sandbox: Sandbox, watch_list: str, cli
) -> None:  # type: ignore[no-untyped-def]
    r = cli(*args)
    assert r.code == 2, (r.out, r.err)
    assert words in r.err
    assert "Traceback" not in r.err


# -- rendering: table --------------------------------------------------------------------------


def _journey() -> journeys.Journey:
    from waypost.store import Watched

    def row(i: int, number: str, carrier: str, status: str, label: str | None = None) -> Watched:
        return Watched(
            i,
            number,
            carrier,
            None,
            label,
            0.0,
            None,
            status,
            False,
            f"{carrier}:{number}",
            None,
            None,
            None,
            None,
            False,
        )

    t = lambda h: datetime(2026, 11, 30, h, tzinfo=UTC)  # noqa: E731
    first = Shipment(
        tracking_number="P1",
        carrier="pandapon",
        found=True,
        status=Status.DELIVERED,
        events=[Event(time=t(8), description="已签收 [bold]x[/bold]", location="义乌")],
    )
    second = Shipment(
        tracking_number="I1",
        carrier="ils",
        found=True,
        status=Status.IN_TRANSIT,
        events=[Event(time=t(12), description="Departed\x1b[31m", location="Shenzhen")],
    )
    return journeys.Journey(
        "jabcdef01",
        [
            journeys.Leg(row(1, "P1", "pandapon", "delivered", "mug"), first),
            journeys.Leg(row(2, "I1", "ils", "in_transit"), second),
            journeys.Leg(row(3, "T1", "trackingmore", "pending"), None),
        ],
    )


def test_the_journey_table_on_a_terminal() -> None:
    from waypost import render_journeys

    out = io.StringIO()
    term = Terminal(stdout_tty=True, width=100, tz=UTC, now=datetime(2026, 12, 1, tzinfo=UTC))
    render_journeys.rich(_journey(), term, out)
    text = out.getvalue()
    assert text.splitlines()[0].startswith("journey jabcdef01  mug  leg 2 of 3  in transit")
    assert "leg 3  T1  trackingmore  pending" in text
    header = next(line for line in text.splitlines() if "When" in line)
    assert header.split()[:4] == ["Leg", "When", "Where", "What"]
    body = text[text.index(header) :]
    assert body.index("Departed") < body.index("已签收")  # newest first, across legs
    assert "[bold]x[/bold]" in text  # carrier markup shown literally
    assert "\x1b[31m" not in text


def test_the_journey_in_plain_lines() -> None:
    from waypost import render_journeys

    out = io.StringIO()
    render_journeys.plain(_journey(), Terminal(tz=UTC), out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "journey jabcdef01  mug  leg 2 of 3 (ils I1): in_transit"
    assert lines[2] == "  leg 2  I1  ils  in_transit  <- current"
    assert lines[4].startswith("  [2]  2026-11-30 12:00")
    assert lines[5].startswith("  [1]  2026-11-30 08:00")
    assert "\x1b" not in out.getvalue()


# -- automatic links -----------------------------------------------------------------------------


def test_trackingmore_last_mile_is_linked_and_followed(
    sandbox: Sandbox, watch_list: str, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    write_config(isolated, "[watch]\nfollow_legs = true\n")
    save(cli, "LS912989618CN")
    assert cli("watch", "--once").code in (0, 1)
    with opened() as store:
        marks = journeys.index(store)
        legs = {r.number: (marks.get(r.id), r.query) for r in store.watched()}
    assert legs["LS912989618CN"][0]["leg"] == 1  # type: ignore[index]
    assert legs["9400111201080805483016"][0]["leg"] == 2  # type: ignore[index]
    assert legs["9400111201080805483016"][1] == "trackingmore:usps:9400111201080805483016"
    sandbox.reset_log()
    cli("watch", "--once")
    assert any(e.carrier == "trackingmore" for e in sandbox.log)


def test_without_follow_legs_only_a_watched_next_leg_is_linked(
    sandbox: Sandbox, watch_list: str, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    save(cli, "LS912989618CN")
    cli("watch", "--once")
    with opened() as store:
        assert [r.number for r in store.watched()] == ["LS912989618CN"]
        assert journeys.index(store) == {}
    save(cli, "trackingmore:usps:9400111201080805483016")
    cli("watch", "--once")
    with opened() as store:
        assert len(journeys.index(store)) == 2


def test_a_pandapon_parcel_is_followed_at_its_domestic_courier(
    sandbox: Sandbox, watch_list: str, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    write_config(isolated, "[watch]\nfollow_legs = true\n")
    save(cli, "pandapon:2542285634920880794")  # 韵达 (Yunda) waybill 4318765290123
    cli("watch", "--once")
    with opened() as store:
        marks = journeys.index(store)
        rows = {r.number + "@" + r.carrier: (marks.get(r.id), r.query) for r in store.watched()}
    assert rows[f"{PARCEL}@pandapon"][0]["leg"] == 1  # type: ignore[index]
    assert rows[f"{PARCEL}@trackingmore"] == (
        {"id": rows[f"{PARCEL}@pandapon"][0]["id"], "leg": 2, "legs": 2},  # type: ignore[index]
        f"trackingmore:yunda:{PARCEL}",
    )


# -- watch: news once per journey ---------------------------------------------------------------


def test_watch_reports_a_journeys_news_once(
    sandbox: Sandbox, watch_list: str, cli, isolated: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    journey = linked(cli)
    cli("watch", "--once")
    for number in (PARCEL, ILS):
        carrier = "pandapon" if number == PARCEL else "ils"
        from tests import loopback

        loopback.post(
            f"{sandbox.base_url}/_sandbox/event",
            json={"carrier": carrier, "number": number, "description": f"moved {number}"},
            timeout=5,
        ).raise_for_status()
    runs = tmp_path / "runs.txt"
    hook = f"sh -c 'cat >> {runs}; echo >> {runs}'"
    r = cli("watch", "--once", "--exec", hook)
    assert r.code == 0, r.err
    assert r.out.count(f"journey {journey}") == 1
    assert re.search(rf"journey {journey}: leg \d of 3 moved \((pandapon|ils) ", r.out)
    assert f"moved {PARCEL}" in r.out
    assert f"moved {ILS}" in r.out
    handed = [json.loads(line) for line in runs.read_text().splitlines() if line.strip()]
    assert len(handed) == 1  # one hook run for the journey, not one per leg
    assert handed[0]["journey"]["id"] == journey
    assert cli("watch", "--once").out == ""


def test_a_stalled_leg_is_noted_in_the_journeys_news_once(
    sandbox: Sandbox, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import time

    from waypost import insights

    journey = linked(cli)
    cli("watch", "--once")
    monkeypatch.setattr(insights, "clock", lambda: time.time() + 400 * 86400.0)
    runs = tmp_path / "runs.txt"
    r = cli("watch", "--once", "--exec", f"sh -c 'cat >> {runs}'")
    assert r.code == 0, r.err
    assert r.out.count(f"journey {journey}") == 1
    notes = re.findall(r"^  \[leg (\d)\] stalled: no new event since \d{4}-\d\d-\d\d$", r.out, re.M)
    assert notes, r.out
    assert len(notes) == len(set(notes)), r.out  # each stalled leg noted once
    assert cli("watch", "--once").out == ""  # reported once


# -- pure parts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("韵达快递", "yunda"),
        ("中通快递", "zto"),
        ("圆通速递", "yto"),
        ("申通快递", "sto"),
        ("顺丰速运", "sf-express"),
        ("极兔速递", "jtexpress"),
        ("EMS", "china-ems"),
        ("百世快递", "bestex"),
        ("德邦物流", "deppon"),
        ("京东物流", "jd"),
        ("【金华市】韵达快递 义乌福田网点 已揽收", "yunda"),
        ("Royal Mail", None),
        (None, None),
    ],
)
def test_courier_names_map_to_trackingmore_codes(name: str | None, code: str | None) -> None:
    assert journeys.courier_code(name) == code


@given(
    st.text(max_size=30),
    st.text(alphabet="0123456789ABCDEFGHJKLMNPRSTUVWXYZ", min_size=1, max_size=30),
)
def test_next_leg_of_a_last_mile_is_its_number_at_trackingmore(courier: str, number: str) -> None:
    s = Shipment(
        tracking_number="LS912989618CN",
        carrier="trackingmore",
        found=True,
        last_mile=LastMile(courier=courier or None, tracking_number=number),
    )
    leg = journeys.next_leg(s)
    if number.upper() == "LS912989618CN":
        assert leg is None
        return
    assert leg is not None
    assert leg[1] == number.upper()
    assert journeys.query_of(*leg).startswith("trackingmore:")
    assert journeys.query_of(*leg).endswith(":" + number.upper())


@given(st.text(max_size=40))
def test_a_pandapon_parcel_leads_to_trackingmore_only_for_a_known_courier(words: str) -> None:
    s = Shipment(
        tracking_number="YT123",
        carrier="pandapon",
        found=True,
        order_id="42",
        courier=words or None,
        status=Status.IN_TRANSIT,
    )
    leg = journeys.next_leg(s)
    assert leg == (
        (journeys.courier_code(words), "YT123") if journeys.courier_code(words) else None
    )
    unshipped = s.model_copy(update={"tracking_number": "42"})
    assert journeys.next_leg(unshipped) is None
