"""Emulation of the ILS Logistics Tracking API (``shared/seeds/ils-tracking-api.txt``).

``POST /oms/v2/event/getOrdersTrack`` only. Like the documented example, the demo answers use
the Title Case ``orderStatus`` keys (``Service``, ``Despatch Date``...) for some shipments and the
documented lower-case ones for others; an unknown number answers ``orderStatus: null`` with a
``msg``. The docs have no error table, so errors follow the documented envelope:
``code != 200`` with ``msg`` and no ``body``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
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
IMG = "https://img.ils-logistics.example/pod/{number}-{n}.jpg"

TITLE_KEYS = {
    "service": "Service",
    "status": "Status",
    "despatchdepot": "Despatch Depot",
    "despatchdate": "Despatch Date",
    "deliverydepot": "Delivery Depot",
    "lastscan": "Lastscan",
}

# (hours before now, depot, description, images) oldest first.
SEA = [
    (170, "Shenzhen", "Shipment information received", 0),
    (166, "Shenzhen", "Cargo received at origin warehouse", 1),
    (140, "Shenzhen Yantian Port", "Customs export clearance completed", 0),
    (120, "Shenzhen Yantian Port", "Shipment loaded into container, container MSKU7712034", 2),
    (20, "Indian Ocean", "Vessel departed transhipment port Singapore", 0),
]
DELIVERED = [
    (300, "Yiwu", "Shipment information received", 0),
    (280, "Yiwu", "Cargo received at origin warehouse", 0),
    (200, "Felixstowe", "Arrived at destination port", 0),
    (150, "Felixstowe", "Import customs clearance completed", 0),
    (100, "Birmingham Depot", "Out for delivery", 0),
    (96, "Birmingham", "Delivered, signed by J. SMITH", 1),
]
HELD = [
    (90, "Guangzhou", "Shipment information received", 0),
    (60, "Rotterdam", "Arrived at destination port", 0),
    (12, "Rotterdam", "Held by customs: documents missing", 0),
]


class App:
    """The ILS endpoint with demo consignments."""

    name = "ils"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        now = sandbox.now().astimezone(SHANGHAI).replace(second=0, microsecond=0)
        self.records: dict[str, dict[str, Any]] = {
            "3676E4043665": self._record(
                "3676E4043665", "Sea Freight", "Shenzhen", "Felixstowe", SEA, now, title=True
            ),
            "3676E4038521": self._record(
                "3676E4038521", "Rail Freight", "Yiwu", "Birmingham", DELIVERED, now, title=False
            ),
            "3676E4040017": self._record(
                "3676E4040017", "Air Freight", "Guangzhou", "Rotterdam", HELD, now, title=True
            ),
        }

    def demo_numbers(self) -> list[tuple[str, str]]:
        """Numbers worth trying."""
        return [
            ("3676E4043665", "sea freight in transit, Title Case keys, images"),
            ("3676E4038521", "delivered, documented lower-case keys"),
            ("3676E4040017", "held by customs"),
            ("3676E4038434", "not found"),
            (FAILING, "the whole request fails with code 500"),
            ("1234S5678901", "any NNNNSNNNNNNN number: synthetic shipment"),
        ]

    def env(self, base: str) -> dict[str, str]:
        """Variables for this emulation."""
        return {
            "WAYPOST_ILS_BASE_URL": base,
            "WAYPOST_ILS_USER_ID": USER_ID,
            "WAYPOST_ILS_PDD": PDD,
        }

    @staticmethod
    def _stamp(when: datetime) -> str:
        return when.strftime("%Y-%m-%d %H:%M:%S")

    def _record(
        self,
        number: str,
        service: str,
        origin: str,
        destination: str,
        steps: list[tuple[int, str, str, int]],
        now: datetime,
        *,
        title: bool,
    ) -> dict[str, Any]:
        events = [
            {
                "deport": depot,
                "desc": desc,
                "date": self._stamp(now - timedelta(hours=hours)),
                "img": [IMG.format(number=number, n=i) for i in range(1, images + 1)],
            }
            for hours, depot, desc, images in steps
        ]
        return {
            "title": title,
            "status": {
                "service": service,
                "despatchdepot": origin,
                "despatchdate": events[0]["date"],
                "deliverydepot": destination,
            },
            "events": events,
        }

    def _synthetic(self, number: str) -> dict[str, Any]:
        seed = int(hashlib.sha256(number.encode()).hexdigest(), 16)
        now = self.sandbox.now().astimezone(SHANGHAI).replace(second=0, microsecond=0)
        plan = (SEA, DELIVERED, HELD)[seed % 3]
        return self._record(
            number, "Sea Freight", "Ningbo", "Hamburg", plan, now, title=bool(seed & 8)
        )

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
                {"deport": location or "", "desc": description, "date": self._stamp(now), "img": []}
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
