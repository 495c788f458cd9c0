"""Dumps of the ILS and PandaPon sandboxes' demo worlds (state and answers) at a fixed ``now``,
as JSON-ready values: the fixtures ``tests/fixtures/sandbox/{ils,pandapon}_demo_world.json`` are
these dumps taken from the code that built the worlds before they became data."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from waypost.sandbox import Sandbox
from waypost.sandbox.server import Request

# Synthetic numbers whose hashes reach every plan and both key styles (ILS) or platforms.
ILS_SYNTHETIC = ["1234S5678901", "0000S0000000", "9999S1234567", "4242S4242424", "1111S2222222"]
PANDAPON_SYNTHETIC = {
    "1688": ["9000000000000000001", "9123456789012345678", "9999999999999999999", "9555"],
    "taobao": ["900000000001", "912345678901", "999999999999"],
}


def ils_world(now: datetime) -> dict[str, Any]:
    """The ILS app's records, its answers for the demo and synthetic numbers, and its banner."""
    app: Any = Sandbox(now=lambda: now).apps["ils"]
    numbers = [n for n, _ in app.demo_numbers()] + ILS_SYNTHETIC
    answers = {n: app._item(n) for n in numbers}
    for number in ("3676E4038521", "1234S5678901"):
        app.add_event(number, "Arrived at hub", "Hamburg")
    app.add_event("3676E4040017", "Released by customs", None)
    return {
        "now": now.isoformat(),
        "records": app.records,
        "answers": answers,
        "demo_numbers": [list(p) for p in app.demo_numbers()],
        "after_add_event": {
            n: app._item(n) for n in ("3676E4038521", "3676E4040017", "1234S5678901")
        },
    }


def _order(order: Any) -> dict[str, Any]:
    out = dataclasses.asdict(order)
    out["created"] = order.created.isoformat() if order.created else None
    return out


def pandapon_world(now: datetime) -> dict[str, Any]:
    """The PandaPon app's orders (insertion order), their answers and list records, the demo
    returns, and the order lists with three synthetic orders."""
    app: Any = Sandbox(now=lambda: now).apps["pandapon"]
    for platform, ids in PANDAPON_SYNTHETIC.items():
        for order_id in ids:
            app._lookup(platform, order_id)
    app.listed_synthetic = 3
    listed = {p: [o.order_id for o in app._listed(p)] for p in ("1688", "taobao")}
    orders = {f"{p}:{i}": _order(o) for (p, i), o in app.orders.items()}
    answers = {
        f"{p}:{i}": app._taobao_data(o) if p == "taobao" else app._data_1688(o)
        for (p, i), o in app.orders.items()
    }
    records = {f"{p}:{i}": app._record(o) for (p, i), o in app.orders.items()}
    page = Request("POST", "", {}, {}, json.dumps({"pageSize": 100}).encode())
    returns = json.loads(app._returns_page(page).body)["data"]
    added = {
        "2542285634920880794": ("到达 广州", "广州"),  # 1688, first parcel
        "SF1428765309214": ("派件中", None),  # a parcel by its bill
        "1977364520886112043": ("已签收", "温州"),  # steps only
        "2694057731265508832": ("已发货", "义乌"),  # no parcel yet: one is made
        "taobao:200033789041": ("快件已到达 广州中心", "广州市"),
        "pandapon:9123456789012345678": ("到达", None),
    }
    for number, (description, location) in added.items():
        app.add_event(number, description, location)
    after = {
        f"{p}:{i}": app._taobao_data(o) if p == "taobao" else app._data_1688(o)
        for (p, i), o in app.orders.items()
    }
    return {
        "now": now.isoformat(),
        "orders": orders,
        "answers": answers,
        "records": records,
        "listed": listed,
        "returns": returns,
        "demo_numbers": [list(p) for p in app.demo_numbers()],
        "after_add_event": after,
    }
