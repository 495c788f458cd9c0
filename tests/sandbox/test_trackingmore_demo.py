"""The TrackingMore sandbox's demo world is data (``sandbox/data/trackingmore_demo.json``): it
loads into what the code built before, dates relative checkpoints from the sandbox's now, gives
each app legs of its own, and ships in the wheel."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES
from waypost.sandbox import Sandbox
from waypost.sandbox import trackingmore as tm

ROOT = Path(__file__).resolve().parents[2]


def _world(now: datetime) -> dict[str, Any]:
    return {k: dataclasses.asdict(v) for k, v in tm.App(Sandbox(now=lambda: now)).world.items()}


def test_the_loaded_world_is_what_the_code_built_before() -> None:
    before = json.loads((FIXTURES / "trackingmore" / "sandbox_demo_world.json").read_text("utf-8"))
    now = datetime.fromisoformat(before["now"])
    loaded = _world(now)
    assert loaded == before["world"]
    # Key order too: the emulator's answers list fields in this order.
    assert json.dumps(loaded, ensure_ascii=False) == json.dumps(before["world"], ensure_ascii=False)
    origin = loaded["LS912989618CN"]["origin"]
    assert origin["trackinfo"][0]["StatusDescription"] == "到达处理中心,来自中国 郑州"


def test_relative_checkpoints_are_dated_from_the_sandboxs_now() -> None:
    now = datetime(2026, 5, 1, 9, 30, 45)
    points = _world(now)["RA408172651DE"]["origin"]["trackinfo"]
    assert [p["Date"] for p in points] == [
        (now.replace(second=0) - timedelta(hours=h)).strftime("%Y-%m-%d %H:%M")
        for h in (10, 80, 150, 200)
    ]
    later = _world(now + timedelta(hours=1))["RA408172651DE"]["origin"]["trackinfo"]
    assert later[0]["Date"] == "2026-05-01 00:30"
    # The docs' example keeps its absolute dates.
    fixed = _world(now)["LS912989618CN"]["destination"]["trackinfo"][0]["Date"]
    assert fixed == "2018-04-17 22:30"


def test_each_app_gets_legs_of_its_own() -> None:
    first = tm.App(Sandbox())
    assert first.add_event("LS912989618CN", "Moved on", "Somewhere")
    assert first.world["LS912989618CN"].destination["trackinfo"][0]["StatusDescription"] == (  # type: ignore[index]
        "Moved on"
    )
    second = tm.App(Sandbox())
    newest = second.world["LS912989618CN"].destination["trackinfo"][0]  # type: ignore[index]
    assert newest["StatusDescription"] == "Arrived at USPS Regional Destination Facility"


def test_the_demo_data_ships_in_the_wheel(tmp_path: Path) -> None:
    from hatchling.builders.wheel import WheelBuilder  # the project's build backend

    (wheel,) = WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])
    name = "waypost/" + "sandbox/" + tm.DEMO_DATA
    with zipfile.ZipFile(wheel) as archive:
        assert name in archive.namelist()
        shipped = json.loads(archive.read(name))
    assert shipped == json.loads(
        (ROOT / "src" / "waypost" / "sandbox" / tm.DEMO_DATA).read_text("utf-8")
    )
    assert set(shipped["shipments"]) == set(_world(datetime(2026, 1, 1)))
