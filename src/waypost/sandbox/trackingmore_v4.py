"""Emulation of TrackingMore API v4 beside v2, over the same account and the same couriers.

Written from TrackingMore's public descriptions of v4, not from waypost's client: the SDKs'
READMEs and models (``TrackingMore-API/trackingmore-sdk-python`` "Response Code" table and
examples, ``trackingmore-sdk-java`` ``model/``) and the support article "TrackingMore API
Request Rate Limit" (updated 30/05/2024). The client's base URL is ``{base}/trackingmore/v4``.

* Header ``Tracking-Api-Key``; a missing or wrong one is HTTP 401 / meta 401.
* Envelope ``{"meta": {"code", "type", "message"}, "data"}``; meta 200 is HTTP 200, the 4xxx
  business codes HTTP 400, 401/403/404/429 that HTTP status, 511-513 HTTP 500 (the README's
  table). A wrong method is meta 400 ("Request type error").
* Limits in any 1 s window (``sandbox.admit``): ``POST /trackings/create`` 3, every other
  endpoint 10 (each its own window). Above them: 429 and the account paused for ``penalty``
  seconds (120, the article's "wait 120 secs").
* ``POST /trackings/create`` answers in real time: the tracking with its checkpoints, and it
  is in the account from then on. ``POST /trackings/batch`` (at most 40, else 4103) creates
  trackings that stay ``pending`` until the v2 emulation's ``fetch_delay`` has passed.
* ``GET /trackings/get``: ``tracking_numbers`` (at most 40, else 4103; none in the account:
  4102), ``courier_code``, ``delivery_status``, ``archived_status`` (``tracking``,
  ``archived``, ``all``), ``created_date_min/max`` and ``updated_date_min/max`` (ISO 8601; a
  bad one is 4130), ``items_amount`` (default 100; waypost's emulation caps it at 2000, an
  assumption) and ``pages_amount`` (default 1). ``data`` is the page's list of trackings.
* ``PUT /trackings/update/{id}`` (``courier_code_new``; ``archived_status`` ``archived`` or
  ``tracking``, anything else 4130: java SDK ``UpdateTrackingParams.java``), ``DELETE
  /trackings/delete/{id}``, ``POST /trackings/retrack/{id}`` (only an ``expired`` tracking,
  else 4113): an unknown id is 4102, a malformed one 4112.
* ``GET /couriers/all``, ``POST /couriers/detect`` (none: 4121).

The tracking fields are v4's names (``courier_code``, ``delivery_status``, ``substatus``,
``archived`` as ``"tracking"``/``"archived"``, ``latest_event``, ``latest_checkpoint_time``,
``scheduled_delivery_date``, ``transit_time``, ``destination_track_number``,
``origin_info``/``destination_info`` with ``courier_code``, ``weblink`` and ``trackinfo[]`` of
``checkpoint_date``, ``tracking_detail``, ``location``, ``checkpoint_delivery_status``,
``checkpoint_delivery_substatus``), rendered from the v2 emulation's demo shipments.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from waypost.sandbox.server import LogEntry, Reply, Request

if TYPE_CHECKING:
    from waypost.sandbox.trackingmore import App as V2App
    from waypost.sandbox.trackingmore import Tracking

LIMIT_CREATE = 3.0
LIMIT_OTHER = 10.0
MAX_PER_CALL = 40
MAX_ITEMS = 2000
ID = re.compile(r"[A-Za-z0-9]{1,64}")

CODES: dict[int, tuple[int, str, str]] = {
    200: (200, "Success", "Request response is successful"),
    400: (400, "BadRequest", "Request type error."),
    4101: (400, "BadRequest", "Tracking No. already exists."),
    4102: (400, "BadRequest", "Tracking No. no exists."),
    4103: (400, "BadRequest", "The maximum quantity is 40 shipments per call."),
    4110: (400, "BadRequest", "The value of tracking_number is invalid."),
    4111: (400, "BadRequest", "Tracking_number is required."),
    4112: (400, "BadRequest", "Invalid Tracking ID."),
    4113: (400, "BadRequest", "Retrack is not allowed."),
    4120: (400, "BadRequest", "The value of courier_code is invalid."),
    4121: (400, "BadRequest", "Cannot detect courier."),
    4130: (400, "BadRequest", "The format of Field name is invalid."),
    4190: (400, "BadRequest", "You are reaching the maximum quota limitation."),
    401: (401, "Unauthorized", "Authentication failed or has no permission."),
    403: (403, "Forbidden", "Access prohibited."),
    404: (404, "NotFound", "Page does not exist."),
    429: (429, "TooManyRequests", "Exceeded API request limits, please try again later."),
    511: (500, "ServerError", "Server error."),
}
# v2 emulation's create outcome -> the v4 code for it.
FROM_V2 = {4012: 400, 4013: 4111, 4014: 4110, 4015: 4120, 4016: 4101, 4021: 4190}
# Demo extras v4 carries and v2 does not: number -> fields.
EXTRAS: dict[str, dict[str, Any]] = {
    "LS912989618CN": {"destination_track_number": "9400111201080805483016"},
    "1Z999AA10123456784": {"scheduled_delivery_date": "today"},
}


def reply(code: int, data: Any = None, headers: dict[str, str] | None = None) -> Reply:
    """A v4 envelope with the HTTP status of ``code``."""
    status, kind, message = CODES[code]
    body = {"meta": {"code": code, "type": kind, "message": message}, "data": data}
    return Reply.json(body, status, headers)


def _when(raw: str | None) -> float | None:
    if raw is None:
        return None
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return (value if value.tzinfo else value.astimezone()).timestamp()


def _iso_local(stamp: Any) -> str | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    value = stamp.replace(" ", "T")
    return value + ":00" if len(value) == 16 else value


class V4:
    """The v4 endpoints, sharing the v2 emulation's account, couriers and control knobs."""

    def __init__(self, v2: V2App) -> None:
        self.v2 = v2
        self.create_rate = LIMIT_CREATE
        self.other_rate = LIMIT_OTHER
        self.faults: list[tuple[int, str | None]] = []

    def fail(self, code: int, endpoint: str, times: int) -> Reply:
        """Make the next ``times`` answers of ``endpoint`` carry meta ``code``."""
        if code not in CODES:
            return Reply.json({"ok": False, "error": f"unknown code {code}"}, 400)
        self.faults.extend([(code, endpoint)] * times)
        return Reply.json({"ok": True})

    # -- rendering ---------------------------------------------------------------------

    def _leg(self, leg: Any, main: str, substatus: str | None, newest: bool) -> dict[str, Any]:
        if not isinstance(leg, dict):
            return {"courier_code": None, "weblink": None, "trackinfo": []}
        points = []
        for i, point in enumerate(leg.get("trackinfo") or []):
            kind = point.get("checkpoint_status") or "transit"
            sub = None
            if i == 0 and newest:
                kind, sub = (point.get("checkpoint_status") or main), substatus
            points.append(
                {
                    "checkpoint_date": point.get("Date"),
                    "tracking_detail": point.get("StatusDescription"),
                    "location": point.get("Details") or None,
                    "checkpoint_delivery_status": kind,
                    "checkpoint_delivery_substatus": sub,
                }
            )
        return {
            "courier_code": leg.get("carrier_code"),
            "courier_phone": leg.get("phone"),
            "weblink": leg.get("weblink"),
            "trackinfo": points,
        }

    def item(self, tracking: Tracking) -> dict[str, Any]:
        """One account tracking in v4's field names."""
        old = self.v2._item(tracking)
        main = str(old.get("status") or "pending")
        sub = old.get("substatus")
        destination = old.get("destination_info")
        has_destination = isinstance(destination, dict) and bool(destination.get("trackinfo"))
        latest = old.get("lastUpdateTime")
        item: dict[str, Any] = {
            "id": tracking.id,
            "tracking_number": tracking.number,
            "courier_code": tracking.courier,
            "order_number": None,
            "created_at": old.get("created_at"),
            "update_at": old.get("updated_at"),
            "delivery_status": main,
            "substatus": sub,
            "archived": "archived" if tracking.archived else "tracking",
            "updating": False,
            "origin_country": old.get("original_country"),
            "destination_country": old.get("destination_country"),
            "transit_time": old.get("itemTimeLength"),
            "latest_event": old.get("lastEvent") or None,
            "latest_checkpoint_time": _iso_local(latest),
            "scheduled_delivery_date": None,
            "destination_track_number": None,
            "origin_info": self._leg(old.get("origin_info"), main, sub, not has_destination),
            "destination_info": self._leg(destination, main, sub, has_destination),
        }
        if tracking.fetched:
            for key, value in EXTRAS.get(tracking.number, {}).items():
                if value == "today":
                    value = self.v2.sandbox.now().date().isoformat()
                item[key] = value
        return item

    # -- HTTP ------------------------------------------------------------------------------

    def handle(self, request: Request, entry: LogEntry) -> Reply:
        """Answer one call under ``/v4``."""
        route = request.path[3:].rstrip("/")
        from waypost.sandbox.trackingmore import API_KEY

        if request.headers.get("tracking-api-key") != API_KEY:
            return reply(401)
        parts = route.split("/")
        endpoint = "/".join(parts[:3])
        rate = self.create_rate if endpoint == "/trackings/create" else self.other_rate
        sandbox = self.v2.sandbox
        if not sandbox.admit(
            "trackingmore", "v4 " + endpoint, rate, self.v2.penalty, request.arrived
        ):
            entry.rejected = True
            return reply(429)
        with sandbox.lock:
            fault = next((f for f in self.faults if f[1] in (None, endpoint)), None)
            if fault is not None:
                self.faults.remove(fault)
                return reply(fault[0])
            self.v2._settle()
            return self._route(request, endpoint, parts[3:], entry)

    def _route(self, request: Request, endpoint: str, rest: list[str], entry: LogEntry) -> Reply:
        simple = {
            "/trackings/create": ("POST", self._create),
            "/trackings/get": ("GET", self._get),
            "/trackings/batch": ("POST", self._batch),
            "/couriers/all": ("GET", self._couriers),
            "/couriers/detect": ("POST", self._detect),
        }
        by_id = {
            "/trackings/update": ("PUT", self._update),
            "/trackings/delete": ("DELETE", self._delete),
            "/trackings/retrack": ("POST", self._retrack),
        }
        if endpoint in simple and not rest:
            method, handler = simple[endpoint]
            return handler(request, entry) if request.method == method else reply(400)
        if endpoint in by_id and len(rest) == 1:
            method, by = by_id[endpoint]
            if request.method != method:
                return reply(400)
            if not ID.fullmatch(rest[0]):
                return reply(4112)
            entry.numbers = 1
            tracking = self.v2.account.with_id(rest[0])
            return reply(4102) if tracking is None else by(request, tracking)
        return reply(404)

    def _body(self, request: Request) -> Any:
        try:
            return request.json()
        except (ValueError, UnicodeDecodeError):
            return None

    def _make(self, spec: Any) -> tuple[int, Tracking | None]:
        if not isinstance(spec, dict):
            return 400, None
        code, tracking = self.v2._create(
            {
                "tracking_number": spec.get("tracking_number"),
                "carrier_code": spec.get("courier_code"),
            }
        )
        return FROM_V2.get(code, code), tracking

    def _create(self, request: Request, entry: LogEntry) -> Reply:
        entry.numbers = 1
        code, tracking = self._make(self._body(request))
        if tracking is None:
            return reply(code)
        tracking.fetched = True  # v4's create asks the courier in real time
        return reply(200, self.item(tracking))

    def _batch(self, request: Request, entry: LogEntry) -> Reply:
        body = self._body(request)
        if not isinstance(body, list):
            return reply(400)
        entry.numbers = len(body)
        if len(body) > MAX_PER_CALL:
            return reply(4103)
        success, error = [], []
        for spec in body:
            code, tracking = self._make(spec)
            node = spec if isinstance(spec, dict) else {}
            if tracking is not None:
                success.append(
                    {
                        "id": tracking.id,
                        "tracking_number": tracking.number,
                        "courier_code": tracking.courier,
                    }
                )
            else:
                error.append(
                    {
                        "tracking_number": node.get("tracking_number"),
                        "courier_code": node.get("courier_code"),
                        "errorCode": code,
                        "errorMessage": CODES[code][2],
                    }
                )
        return reply(200, {"success": success, "error": error})

    def _get(self, request: Request, entry: LogEntry) -> Reply:
        query = request.query
        raw = query.get("tracking_numbers", "")
        numbers = [n.strip().upper() for n in raw.split(",") if n.strip()]
        entry.numbers = len(numbers)
        if len(numbers) > MAX_PER_CALL:
            return reply(4103)
        try:
            size = min(MAX_ITEMS, max(1, int(query.get("items_amount") or 100)))
            page = max(1, int(query.get("pages_amount") or 1))
            bounds = {
                k: _when(query.get(k))
                for k in (
                    "created_date_min",
                    "created_date_max",
                    "updated_date_min",
                    "updated_date_max",
                )
            }
        except ValueError:
            return reply(4130)
        account = self.v2.account
        items = account.numbered(set(numbers)) if numbers else list(account.values())
        if numbers and not items:
            return reply(4102)
        if query.get("courier_code"):
            items = [t for t in items if t.courier == query["courier_code"].lower()]
        for key, field, lowest in (
            ("created_date_min", "created", True),
            ("created_date_max", "created", False),
            ("updated_date_min", "updated", True),
            ("updated_date_max", "updated", False),
        ):
            bound = bounds[key]
            if bound is not None:
                items = [
                    t
                    for t in items
                    if (getattr(t, field) >= bound) is lowest or getattr(t, field) == bound
                ]
        archived = query.get("archived_status")
        if archived in ("tracking", "archived"):
            items = [t for t in items if t.archived is (archived == "archived")]
        items.sort(key=lambda t: t.created)
        start, end = (page - 1) * size, page * size
        status = query.get("delivery_status")
        if not status:
            return reply(200, [self.item(t) for t in items[start:end]])
        # The status is the rendered item's: render in order until the page is full.
        shown: list[dict[str, Any]] = []
        matched = 0
        for tracking in items:
            rendered = self.item(tracking)
            if rendered["delivery_status"] != status:
                continue
            if matched >= start:
                shown.append(rendered)
            matched += 1
            if matched >= end:
                break
        return reply(200, shown)

    def _update(self, request: Request, tracking: Tracking) -> Reply:
        body = self._body(request)
        new = str(body.get("courier_code_new") or "") if isinstance(body, dict) else ""
        archived = body.get("archived_status") if isinstance(body, dict) else None
        if archived is not None:
            if archived not in ("archived", "tracking"):
                return reply(4130)
            tracking.archived = archived == "archived"
            tracking.updating = not tracking.archived
        if new:
            from waypost.sandbox.trackingmore import COURIERS

            if new not in COURIERS:
                return reply(4120)
            self.v2.account.pop((tracking.number, tracking.courier), None)
            tracking.courier = new
            tracking.updated = time.time()
            self.v2.account[(tracking.number, new)] = tracking
        return reply(
            200,
            {
                "id": tracking.id,
                "tracking_number": tracking.number,
                "courier_code": tracking.courier,
            },
        )

    def _delete(self, request: Request, tracking: Tracking) -> Reply:
        self.v2.account.pop((tracking.number, tracking.courier), None)
        return reply(
            200,
            {
                "id": tracking.id,
                "tracking_number": tracking.number,
                "courier_code": tracking.courier,
            },
        )

    def _retrack(self, request: Request, tracking: Tracking) -> Reply:
        if self.item(tracking)["delivery_status"] != "expired":
            return reply(4113)
        tracking.updated = time.time()
        return reply(
            200,
            {
                "id": tracking.id,
                "tracking_number": tracking.number,
                "courier_code": tracking.courier,
                "delivery_status": "pending",
            },
        )

    def _couriers(self, request: Request, entry: LogEntry) -> Reply:
        from waypost.sandbox.trackingmore import COURIERS

        rows = [
            {
                "courier_name": name,
                "courier_code": code,
                "courier_country_iso2": None,
                "courier_url": "https:" + homepage,
                "courier_phone": phone,
                "courier_type": kind,
                "courier_logo": f"https://static.trackingmore.com/images/icons/express/{code}.png",
            }
            for code, (name, kind, phone, homepage) in COURIERS.items()
        ]
        return reply(200, rows)

    def _detect(self, request: Request, entry: LogEntry) -> Reply:
        from waypost.sandbox.trackingmore import COURIERS

        body = self._body(request)
        entry.numbers = 1
        number = (
            str(body.get("tracking_number") or "").strip().upper() if isinstance(body, dict) else ""
        )
        if not number:
            return reply(4111)
        found = self.v2._detect(number)
        if not found:
            return reply(4121)
        return reply(200, [{"courier_name": COURIERS[c][0], "courier_code": c} for c in found])
