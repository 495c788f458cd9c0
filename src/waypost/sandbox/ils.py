"""Emulation of the ILS Logistics Tracking API (``shared/seeds/ils-tracking-api.txt``).

``POST /oms/v2/event/getOrdersTrack`` only. Like the documented example, the demo answers use
the Title Case ``orderStatus`` keys (``Service``, ``Despatch Date``...) for some shipments and the
documented lower-case ones for others; an unknown number answers ``orderStatus: null`` with a
``msg``. The docs have no error table, so errors follow the documented envelope:
``code != 200`` with ``msg`` and no ``body``.

The demo consignments, and the event plans synthetic numbers (``NNNNSNNNNNNN``) reuse, are data:
``sandbox/data/ils_demo.json`` (``demo_world`` reads it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from waypost.sandbox.server import LogEntry, Reply, Request

if TYPE_CHECKING:
    from waypost.sandbox.server import Sandbox

USER_ID = "sandbox"
PDD = "sandbox-ils-pdd-5f1c9a7e"
PATH = "/oms/v2/event/getOrdersTrack"
MAX_NUMBERS = 100
SHANGHAI = ZoneInfo("Asia/Shanghai")
SYNTHETIC = re.compile(r"\d{4}S\d{7}")
# A request that contains this number fails as a whole, the way an overloaded server answers.
FAILING = "3676E4000500"

TITLE_KEYS = {
    "service": "Service",
    "status": "Status",
    "despatchdepot": "Despatch Depot",
    "despatchdate": "Despatch Date",
    "deliverydepot": "Delivery Depot",
    "lastscan": "Lastscan",
}

DEMO_DATA = "data/ils_demo.json"


@functools.cache
def _document() -> dict[str, Any]:
    # Read once per process: demo_world builds every record afresh, so apps share nothing
    # that add_event changes.
    text = resources.files("waypost.sandbox").joinpath(DEMO_DATA).read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


class World:
    """The demo consignments (``records``, in the App's own shape) and what synthetic numbers
    are made of."""

    # A plain class: making a dataclass costs the sandbox's start-up more than its data does.
    def __init__(
        self,
        records: dict[str, dict[str, Any]],
        plans: dict[str, list[dict[str, Any]]],
        synthetic: dict[str, Any],
        images_url: str,
        banner: list[tuple[str, str]],
    ) -> None:
        self.records = records
        self.plans = plans
        self.synthetic = synthetic
        self.images_url = images_url
        self.banner = banner


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def record(
    number: str, fields: dict[str, Any], plan: list[dict[str, Any]], now: datetime, images: str
) -> dict[str, Any]:
    """One consignment: ``plan``'s events dated from ``now``, ``fields`` its orderStatus."""
    events = [
        {
            "deport": step["deport"],
            "desc": step["desc"],
            "date": _stamp(now - timedelta(hours=step["hours_ago"])),
            "img": [images.format(number=number, n=i) for i in range(1, step["images"] + 1)],
        }
        for step in plan
    ]
    return {
        "title": fields["title_keys"],
        "status": {
            "service": fields["service"],
            "despatchdepot": fields["despatchdepot"],
            "despatchdate": events[0]["date"],
            "deliverydepot": fields["deliverydepot"],
        },
        "events": events,
    }


def demo_world(document: dict[str, Any], now: datetime) -> World:
    """The world of ``DEMO_DATA`` (parsed), its events dated from ``now`` (Shanghai, minutes)."""
    now = now.astimezone(SHANGHAI).replace(second=0, microsecond=0)
    plans, images = document["plans"], document["images_url"]
    records = {
        number: record(number, fields, plans[fields["plan"]], now, images)
        for number, fields in document["consignments"].items()
    }
    banner = [(n, c["shows"]) for n, c in document["consignments"].items()]
    banner += [(n, shows) for n, shows in document["also_try"]]
    return World(records, plans, document["synthetic"], images, banner)


class App:
    """The ILS endpoint with demo consignments."""

    name = "ils"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.world = demo_world(_document(), sandbox.now())
        self.records: dict[str, dict[str, Any]] = self.world.records

    def demo_numbers(self) -> list[tuple[str, str]]:
        """Numbers worth trying."""
        return list(self.world.banner)

    def env(self, base: str) -> dict[str, str]:
        """Variables for this emulation."""
        return {
            "WAYPOST_ILS_BASE_URL": base,
            "WAYPOST_ILS_USER_ID": USER_ID,
            "WAYPOST_ILS_PDD": PDD,
        }

    def _synthetic(self, number: str) -> dict[str, Any]:
        seed = int(hashlib.sha256(number.encode()).hexdigest(), 16)
        now = self.sandbox.now().astimezone(SHANGHAI).replace(second=0, microsecond=0)
        made = self.world.synthetic
        plan = self.world.plans[made["plans"][seed % len(made["plans"])]]
        fields = {**made, "title_keys": bool(seed & 8)}
        return record(number, fields, plan, now, self.world.images_url)

    def _lookup(self, number: str) -> dict[str, Any] | None:
        if number in self.records:
            return self.records[number]
        if SYNTHETIC.fullmatch(number):
            with self.sandbox.lock:
                return self.records.setdefault(number, self._synthetic(number))
        return None

    def add_event(self, number: str, description: str, location: str | None) -> bool:
        """Append an event dated now."""
        record = self._lookup(number.upper())
        if record is None:
            return False
        now = self.sandbox.now().astimezone(SHANGHAI)
        with self.sandbox.lock:
            record["events"].append(
                {"deport": location or "", "desc": description, "date": _stamp(now), "img": []}
            )
        return True

    def _item(self, number: str) -> dict[str, Any]:
        record = self._lookup(number.upper())
        if record is None:
            return {
                "consignment": number,
                "orderStatus": None,
                "msg": "Order information not found",
            }
        events = list(record["events"])
        fields = dict(record["status"])
        fields["status"] = events[-1]["desc"]
        fields["lastscan"] = events[-1]["date"]
        if record["title"]:
            fields = {TITLE_KEYS[k]: v for k, v in fields.items()}
        return {
            "consignment": number,
            "orderStatus": fields,
            # The live service lists nodes newest first.
            "billTrackList": list(reversed(events)),
        }

    def handle(self, request: Request, entry: LogEntry) -> Reply:
        """Answer one call."""
        if request.path != PATH:
            return _spring_404(request.path)
        if request.method != "POST":
            return Reply.json(
                {
                    "timestamp": _now_ms(),
                    "status": 405,
                    "error": "Method Not Allowed",
                    "path": request.path,
                },
                405,
            )
        try:
            data = request.json()
        except (ValueError, UnicodeDecodeError):
            return Reply.json({"code": 400, "msg": "Request body is not valid JSON", "body": None})
        if not isinstance(data, dict):
            return Reply.json(
                {"code": 400, "msg": "Request body must be a JSON object", "body": None}
            )
        if data.get("userId") != USER_ID or data.get("pdd") != PDD:
            return Reply.json(
                {
                    "code": 401,
                    "msg": "Invalid userId or pdd: user authentication failed",
                    "body": None,
                }
            )
        if data.get("method") != "trackOrders":
            return Reply.json(
                {"code": 400, "msg": f"Unsupported method: {data.get('method')}", "body": None}
            )
        numbers = data.get("trackingNos")
        if (
            not isinstance(numbers, list)
            or not numbers
            or not all(isinstance(n, str) for n in numbers)
        ):
            return Reply.json(
                {"code": 400, "msg": "trackingNos must be a non-empty list", "body": None}
            )
        entry.numbers = len(numbers)
        if len(numbers) > MAX_NUMBERS:
            return Reply.json(
                {
                    "code": 400,
                    "msg": f"At most {MAX_NUMBERS} tracking numbers per request",
                    "body": None,
                }
            )
        if FAILING in numbers:
            return Reply.json(
                {"code": 500, "msg": "System busy, please try again later", "body": None}
            )
        return Reply.json({"code": 200, "msg": "", "body": [self._item(n) for n in numbers]})


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def _spring_404(path: str) -> Reply:
    return Reply.json(
        {"timestamp": _now_ms(), "status": 404, "error": "Not Found", "path": path}, 404
    )
