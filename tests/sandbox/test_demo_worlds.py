"""The ILS and PandaPon sandboxes' demo worlds are data (``sandbox/data/{ils,pandapon}_demo.json``):
they load into what the code built before (state and answers), date relative events from the
sandbox's now, give each app a world of its own, and ship in the wheel."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES
from tests.sandbox.worlds import ils_world, pandapon_world
from waypost.sandbox import Sandbox, ils, pandapon

ROOT = Path(__file__).resolve().parents[2]
DUMPS = {"ils": ils_world, "pandapon": pandapon_world}


def _before(carrier: str) -> dict[str, Any]:
    path = FIXTURES / "sandbox" / f"{carrier}_demo_world.json"
    return json.loads(path.read_text("utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("carrier", ["ils", "pandapon"])
def test_the_loaded_world_is_what_the_code_built_before(carrier: str) -> None:
    before = _before(carrier)
    loaded = json.loads(json.dumps(DUMPS[carrier](datetime.fromisoformat(before["now"]))))
    assert loaded == before
    # Key order too: the emulator's answers list fields in this order.
    assert json.dumps(loaded, ensure_ascii=False) == json.dumps(before, ensure_ascii=False)


def test_relative_events_are_dated_from_the_sandboxs_now() -> None:
    now = datetime(2026, 5, 1, 9, 30, 45, tzinfo=ils.SHANGHAI)
    events = Sandbox(now=lambda: now).apps["ils"].records["3676E4043665"]["events"]  # type: ignore[attr-defined]
    minute = now.replace(second=0)
    assert [e["date"] for e in events] == [
        (minute - timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S")
        for h in (170, 166, 140, 120, 20)
    ]
    order = Sandbox(now=lambda: now).apps["pandapon"].orders[("1688", "2542285634920880794")]  # type: ignore[attr-defined]
    assert order.created == now - timedelta(hours=60)
    assert order.parcels[0].nodes[-1]["acceptTime"] == "2026-05-01 00:30:45"
    later = Sandbox(now=lambda: now + timedelta(hours=1)).apps["pandapon"]
    assert later.orders[("1688", "2542285634920880794")].created == now - timedelta(hours=59)  # type: ignore[attr-defined]


def test_each_app_gets_a_world_of_its_own() -> None:
    first = Sandbox()
    assert first.apps["ils"].add_event("3676E4043665", "Moved on", "Somewhere")
    assert first.apps["pandapon"].add_event("2694057731265508832", "已发货", "义乌")
    second = Sandbox()
    events = second.apps["ils"].records["3676E4043665"]["events"]  # type: ignore[attr-defined]
    assert events[-1]["desc"] == "Vessel departed transhipment port Singapore"
    assert second.apps["pandapon"].orders[("1688", "2694057731265508832")].parcels == []  # type: ignore[attr-defined]
    assert first.apps["pandapon"].orders[("1688", "2694057731265508832")].parcels  # type: ignore[attr-defined]


def test_the_numbers_the_code_names_are_the_datas() -> None:
    app: Any = Sandbox().apps["pandapon"]
    fixed = {i: o.status for (_, i), o in app.orders.items() if o.status}
    assert fixed == {pandapon.UNPAID: "waitbuyerpay", pandapon.CANCELLED: "cancel"}
    assert pandapon.FAILING in dict(app.demo_numbers())
    assert ils.FAILING in dict(Sandbox().apps["ils"].demo_numbers())
    # The failing numbers are no demo shipment: they fail before any lookup.
    assert ("1688", pandapon.FAILING) not in app.orders
    assert ils.FAILING not in Sandbox().apps["ils"].records  # type: ignore[attr-defined]


def test_the_demo_data_ships_in_the_wheel(tmp_path: Path) -> None:
    from hatchling.builders.wheel import WheelBuilder  # the project's build backend

    (wheel,) = WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])
    with zipfile.ZipFile(wheel) as archive:
        for module in (ils, pandapon):
            name = "waypost/sandbox/" + module.DEMO_DATA
            assert name in archive.namelist()
            source = ROOT / "src" / "waypost" / "sandbox" / module.DEMO_DATA
            assert json.loads(archive.read(name)) == json.loads(source.read_text("utf-8"))
