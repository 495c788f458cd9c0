"""Emulation of TrackingMore API v2 (``shared/seeds/trackingmore-api-v2-realtime.txt``,
``shared/seeds/trackingmore-api-v2-list-ru.txt`` and ``notes/trackingmore.md``).

``{base}/trackingmore`` plays ``https://api.trackingmore.com``: the client's base URL is
``{base}/trackingmore/v2``. Emulated: ``GET /trackings/get``, ``POST /trackings/post``,
``POST /trackings/batch``, ``POST /trackings/realtime``, ``GET`` and ``DELETE
/trackings/{carrier_code}/{tracking_number}``, ``GET /carriers``, ``POST /carriers/detect``, and
for the watch list ``POST /trackings/update`` (``update_carrier_code``), ``POST
/trackings/updatemore`` (``archived`` "true"/"false"), ``POST /trackings/notupdate`` and ``GET
/trackings/getuserinfo`` (shapes from TrackingMore's v2 pages named in
``carriers/trackingmore/account.py``; the updatemore answer, undocumented, is shaped like
notupdate's ``{submitted, updated, trackings}``). Each created tracking costs one of the
account's ``quota`` (1,000,000; ``POST config {"quota": n}``), 4021 when none is left, and
getuserinfo's ``track_number`` tells what is left.

What it models, and the choices where the docs are silent:

* Envelope ``{"meta": {code, type, message}, "data": ...}`` with the published code table.
  Business codes (201, 202, 4012-4033, 4016 inside batch ``errors[]``...) come with HTTP 200;
  a missing or wrong ``Trackingmore-Api-Key`` is meta 4001 with HTTP 401 (the HTTP status is
  not documented); 429 is HTTP 429; 404/405/500/503 use that HTTP status too.
* Rate limits, at most N in any 1 s window per endpoint (``sandbox.admit``): get 1/s, realtime
  3/s, every other endpoint 1/s each. Exceeding one answers the documented 429 and pauses the
  whole account for ``penalty`` seconds (120), counted by ``sandbox.rejected()``. No
  ``Retry-After`` is documented; ``retry_after=True`` adds one (for quick tests).
* A created tracking is ``pending`` with no events until the emulator "fetches" it, after
  ``fetch_delay`` seconds (600) or on ``POST /_sandbox/trackingmore/fetch``. Creating
  auto-corrects the courier to the known one (unless ``auto_correct`` is 1), as TrackingMore
  does. Empty legs of a pending tracking are sent as ``[]``: PHP's ``json_encode`` of an empty
  array (an assumption).
* Realtime answers at once from the emulated couriers; a second realtime call for the same
  shipment within 2 hours returns the stored first answer (the docs allow one per 2 hours and
  do not say what a second call gets). Realtime does not add the number to the account.
* ``GET /trackings/get`` with ``numbers=`` of which none is in the account answers 4031; more
  than 40 numbers answer 4012; an unknown ``status`` answers 4033; ``limit`` is capped at 2000;
  ``total`` is a string and ``count`` the items on the page (as in a real capture).
* Batch: more than 40 items answer meta 202 "The largest number of 40 each operation.";
  otherwise meta 201 with ``{submitted, added, trackings, errors}``.

Control (``/_sandbox/trackingmore/...``): ``POST config`` (rates, ``penalty``,
``fetch_delay``, ``retry_after``), ``POST fetch`` (``{"numbers": [...]}``, all pending when
omitted), ``POST preload`` (``{"numbers": [...], "courier": "..."}``: fetched trackings in the
account), ``POST penalty`` (``{"seconds": s}``: pause the account as after a 429), ``POST fail``
(``{"code": 4021, "times": 1, "path": "/trackings/realtime"}``: the next answers, of that
route when one is named, carry that code), ``GET account``.

The demo shipments are data, ``sandbox/data/trackingmore_demo.json`` (``demo_world`` reads it).

Synthetic numbers for benchmarks: any S10 number with a valid check digit and the (never
assigned) country ``ZZ`` (see ``synthetic_number``) is a deterministic shipment of courier
``sandbox-post``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import TYPE_CHECKING, Any

from waypost.carriers import _checkdigits as cd
from waypost.sandbox.server import LogEntry, Reply, Request

if TYPE_CHECKING:
    from waypost.sandbox.server import Sandbox

NAME = "trackingmore"
API_KEY = "sandbox-trackingmore-key-7c1e94a2d5"
MAX_NUMBERS = 40
MAX_BATCH = 40
MAX_LIMIT = 2000
REALTIME_WINDOW = 2 * 3600.0
CST = timezone(timedelta(hours=8))
SYNTHETIC = re.compile(r"[A-Z]{2}\d{9}ZZ")
VALID_NUMBER = re.compile(r"[A-Z0-9-]{4,64}")
STATUSES = frozenset(
    ("pending", "notfound", "transit", "pickup", "delivered", "undelivered", "exception", "expired")
)

CODES: dict[int, tuple[str, str]] = {
    200: ("Success", "Success"),
    201: ("Created", "The request was successful and a resource was created."),
    202: ("Bad Request", "The largest number of 40 each operation."),
    401: (
        "Unauthorized",
        "Authentication failed or user does not have permissions for the requested operation.",
    ),
    4001: ("Unauthorized", "Invalid API key."),
    4002: ("Unauthorized", "API key has been deleted."),
    4012: (
        "Bad Request",
        "The request could not be understood or was missing required parameters.",
    ),
    4013: ("Bad Request", "Tracking_number is required."),
    4014: ("Bad Request", "The value of `tracking_number` is invalid."),
    4015: ("Bad Request", "The value of `carrier_code` is invalid."),
    4016: ("Bad Request", "Tracking already exists."),
    4017: ("Bad Request", "Tracking does not exist."),
    4018: (
        "Bad Request",
        "Due to overload risks this feature requires custom activation. Contact "
        "service@trackingmore.org for more information.",
    ),
    4019: ("Bad Request", "Your balance is insufficient, please recharge in time"),
    4020: ("Bad Request", "Up to 200 at a time"),
    4021: (
        "Bad Request",
        "Remaining quota is deficient, or the 7-day free trial has expired. To continue using "
        "API, please recharge first.",
    ),
    4031: (
        "No Content",
        "The request was successful but the response is empty. Please try POST /trackings/post "
        "and then GET /trackings/get",
    ),
    4032: (
        "No Content",
        "Cannot detect courier. Assign your shipment a courier instead of by auto detection.",
    ),
    4033: ("No Content", "The value of `package status` is invalid."),
    402: ("Payment Required", "Payment required."),
    403: ("Forbidden", "Access denied."),
    404: ("Not Found", "Resource was not found."),
    405: ("Method Not Allowed", "Requested method is not supported for the specified resource."),
    409: ("Conflict", "The request could not be completed due to a conflict."),
    429: (
        "Too Many Requests",
        "Exceeded API limits. Pause requests, wait two minute, and try again.",
    ),
    500: ("Server error", ""),
    503: (
        "Service Unavailable",
        "The service is temporary unavailable (e.g. scheduled Platform Maintenance). Try again "
        "later.",
    ),
}
HTTP_STATUS = {401: 401, 4001: 401, 4002: 401, 403: 403, 404: 404, 405: 405, 429: 429}
HTTP_STATUS |= {500: 500, 503: 503}

# code -> (name, type, phone, homepage); `GET /carriers` answers these.
COURIERS: dict[str, tuple[str, str, str, str]] = {
    "china-post": ("China Post", "globalpost", "11183", "//www.chinapost.com.cn/"),
    "china-ems": ("China EMS", "globalpost", "11183", "//www.ems.com.cn/"),
    "usps": ("USPS", "globalpost", "1-800-275-8777", "//www.usps.com/"),
    "ups": ("UPS", "express", "1-800-742-5877", "//www.ups.com/"),
    "fedex": ("Fedex", "express", "1-800-247-4747", "//www.fedex.com/"),
    "dhl": ("DHL", "express", "1-800-225-5345", "//www.dhl.com/"),
    "phlpost": ("Philippines Post", "globalpost", "+ (63) 854-9825", "//www.phlpost.gov.ph/"),
    "lietuvos-pastas": ("Lietuvos Pastas", "globalpost", "(370) 8 700 55400", "//www.post.lt/"),
    "korea-post": ("Korea Post", "globalpost", "82-2-2108-9895", "//www.epost.go.kr/"),
    "royal-mail": ("Royal Mail", "globalpost", "+44 1752387112", "//www.royalmail.com/"),
    "deutsche-post": ("Deutsche Post", "globalpost", "0228 4333112", "//www.deutschepost.de/"),
    "singapore-post": ("Singapore Post", "globalpost", "+65 6841 2000", "//www.singpost.com/"),
    "sandbox-post": ("Sandbox Post", "globalpost", "", "//sandbox.invalid/"),
    # China's domestic couriers, the next legs of PandaPon parcels (journeys).
    "sf-express": ("S.F. Express", "express", "95338", "//www.sf-express.com/"),
    "yto": ("YTO Express", "express", "95554", "//www.yto.net.cn/"),
    "zto": ("ZTO Express", "express", "95311", "//www.zto.com/"),
    "sto": ("STO Express", "express", "95543", "//www.sto.cn/"),
    "yunda": ("Yunda Express", "express", "95546", "//www.yundaex.com/"),
    "jtexpress": ("J&T Express", "express", "956025", "//www.jtexpress.com.cn/"),
    "bestex": ("Best Express", "express", "95320", "//www.800bestex.com/"),
    "deppon": ("DEPPON", "express", "95353", "//www.deppon.com/"),
    "jd": ("JD Logistics", "express", "950616", "//www.jdl.com/"),
}
COURIER_NAMES_CN = {"china-post": "中国邮政", "china-ems": "中国EMS"}
S10_COUNTRIES = {
    "CN": "china-post",
    "US": "usps",
    "GB": "royal-mail",
    "DE": "deutsche-post",
    "PH": "phlpost",
    "LT": "lietuvos-pastas",
    "KR": "korea-post",
    "SG": "singapore-post",
    "ZZ": "sandbox-post",
}


def envelope(code: int, data: Any = None) -> dict[str, Any]:
    """The documented answer envelope for ``code``."""
    kind, message = CODES[code]
    return {
        "meta": {"code": code, "type": kind, "message": message},
        "data": [] if data is None else data,
    }


def reply(code: int, data: Any = None, headers: dict[str, str] | None = None) -> Reply:
    """An enveloped answer with the HTTP status this emulation uses for ``code``."""
    return Reply.json(envelope(code, data), HTTP_STATUS.get(code, 200), headers)


def synthetic_number(index: int, prefix: str = "LX") -> str:
    """The ``index``-th synthetic S10 number (country ``ZZ``), e.g. ``LX000000014ZZ``."""
    serial = f"{index % 10**8:08d}"
    return f"{prefix}{serial}{cd.s10_check_digit(serial)}ZZ"


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, CST).isoformat(timespec="seconds")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _point(date: str, words: str, details: str, status: str | None = "transit") -> dict[str, Any]:
    point: dict[str, Any] = {"Date": date, "StatusDescription": words, "Details": details}
    if status is not None:
        point["checkpoint_status"] = status
    return point


def _leg(courier: str, points: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    _, _, phone, homepage = COURIERS.get(courier, (courier, "", "", ""))
    leg: dict[str, Any] = {"weblink": "http:" + homepage, "phone": phone, "carrier_code": courier}
    leg.update(extra)
    leg["trackinfo"] = points
    return leg


@dataclass
class Shipment:
    """What the emulated couriers know about one number."""

    courier: str
    status: str
    origin: dict[str, Any]
    destination: dict[str, Any] | None = None
    substatus: str | None = None
    original_country: str | None = None
    destination_country: str | None = None
    item_days: int | None = None
    stay_days: int | None = None
    order_create_time: str | None = None


DEMO_DATA = "data/trackingmore_demo.json"


@functools.cache
def _demo_text() -> str:
    return resources.files("waypost.sandbox").joinpath(DEMO_DATA).read_text(encoding="utf-8")


def demo_world(document: dict[str, Any], now: datetime) -> dict[str, Shipment]:
    """The shipments of ``DEMO_DATA`` (parsed): checkpoints ``hours_ago`` are dated from ``now``."""
    base = now.replace(second=0, microsecond=0, tzinfo=None)

    def point(raw: dict[str, Any]) -> dict[str, Any]:
        if "hours_ago" not in raw:
            return raw
        rest = {k: v for k, v in raw.items() if k != "hours_ago"}
        return {"Date": _stamp(base - timedelta(hours=raw["hours_ago"])), **rest}

    def leg(raw: dict[str, Any]) -> dict[str, Any]:
        points = [point(p) for p in raw["trackinfo"]]
        return _leg(raw["courier"], points, **raw.get("fields", {}))

    world = {}
    for number, raw in document["shipments"].items():
        fields = {k: v for k, v in raw.items() if k not in ("note", "origin", "destination")}
        destination = leg(raw["destination"]) if "destination" in raw else None
        world[number] = Shipment(origin=leg(raw["origin"]), destination=destination, **fields)
    return world


@dataclass
class Tracking:
    """One tracking in the emulated account."""

    id: str
    number: str
    courier: str
    created: float
    updated: float
    fetched: bool = False
    fields: dict[str, Any] = field(default_factory=dict)
    archived: bool = False
    updating: bool = True


class Account(dict[tuple[str, str], Tracking]):
    """The account's trackings by (number, courier), in the order they were added, with each
    number's keys, each id's key and the trackings not fetched yet kept beside them: a read of
    40 numbers or of one id, and each request's check for trackings due to be fetched, look
    them up, as a real server would, instead of walking a large account. Change it only with
    ``account[key] = tracking``, ``del`` and ``pop``."""

    def __init__(self) -> None:
        super().__init__()
        self._order: dict[tuple[str, str], int] = {}  # the dict's own order, as numbers
        self._by_number: dict[str, set[tuple[str, str]]] = {}
        self._by_id: dict[str, tuple[str, str]] = {}
        self._unfetched: dict[tuple[str, str], None] = {}  # (a tracking is fetched once, for good)
        self._added = 0

    def __setitem__(self, key: tuple[str, str], tracking: Tracking) -> None:
        if key in self:
            self._forget(key)
        super().__setitem__(key, tracking)
        if key not in self._order:
            self._added += 1
            self._order[key] = self._added
        self._by_number.setdefault(key[0], set()).add(key)
        self._by_id[tracking.id] = key
        if not tracking.fetched:
            self._unfetched[key] = None

    def pop(self, key: tuple[str, str], *default: Any) -> Any:
        """``dict.pop``, forgetting ``key`` in the lookups too."""
        if key in self:
            self._forget(key)
            del self._order[key]
        return super().pop(key, *default)

    def __delitem__(self, key: tuple[str, str]) -> None:
        self.pop(key)

    def _forget(self, key: tuple[str, str]) -> None:
        keys = self._by_number.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_number[key[0]]
        self._by_id.pop(self[key].id, None)
        self._unfetched.pop(key, None)

    def numbered(self, numbers: set[str]) -> list[Tracking]:
        """The trackings of ``numbers``, in the account's order."""
        keys = [k for n in numbers for k in self._by_number.get(n, ())]
        keys.sort(key=self._order.__getitem__)
        return [self[k] for k in keys]

    def unfetched(self) -> list[Tracking]:
        """The trackings not fetched yet (the emulated courier has not answered for them), in no
        particular order."""
        found = []
        for key in list(self._unfetched):
            tracking = self[key]
            if tracking.fetched:
                del self._unfetched[key]
            else:
                found.append(tracking)
        return found

    def with_id(self, tracking_id: str) -> Tracking | None:
        """The tracking whose id is ``tracking_id``, if any."""
        key = self._by_id.get(tracking_id)
        return None if key is None else self[key]


class App:
    """The TrackingMore v2 endpoints with an account, emulated couriers and demo trackings."""

    name = NAME

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        get_rate: float = 1.0,
        realtime_rate: float = 3.0,
        default_rate: float = 1.0,
        penalty: float = 120.0,
        fetch_delay: float = 600.0,
        retry_after: bool = False,
    ) -> None:
        self.sandbox = sandbox
        self.get_rate = get_rate
        self.realtime_rate = realtime_rate
        self.default_rate = default_rate
        self.penalty = penalty
        self.fetch_delay = fetch_delay
        self.retry_after = retry_after
        self.account = Account()
        self.realtime_answers: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self.faults: list[tuple[int, str | None]] = []
        self.quota = 1_000_000
        self.world = self._demo_world()
        self._preload_demo()
        from waypost.sandbox.trackingmore_v4 import V4

        self.v4 = V4(self)

    # -- demo data ------------------------------------------------------------------------

    def _demo_world(self) -> dict[str, Shipment]:
        # Parsed again for each app: add_event changes its legs in place.
        return demo_world(json.loads(_demo_text()), self.sandbox.now())

    def _preload_demo(self) -> None:
        now = time.time()
        # (number, created_at, updated_at) for the list docs' examples; others: hours ago.
        documented = {
            "RR050349575PH": (
                "009e9a8a6450cb5ce4b53ac75674fe78",
                "2015-10-30T11:35:16+08:00",
                "2015-11-03T13:47:20+08:00",
            ),
            "RN210552627LT": (
                "e1e4baddad2b782d3aa3f6c75277ea22",
                "2015-10-30T10:52:41+08:00",
                "2015-11-03T13:47:23+08:00",
            ),
        }
        for number, (tid, created, updated) in documented.items():
            self._add(number, self.world[number].courier, _epoch(created), _epoch(updated), tid)
        for i, number in enumerate(("RA408172651DE", "EE528374616CN", "986578788855")):
            self._add(
                number, self.world[number].courier, now - 86400 * (i + 2), now - 3600 * (i + 3)
            )

    def _add(
        self, number: str, courier: str, created: float, updated: float, tid: str | None = None
    ) -> Tracking:
        tracking = Tracking(
            id=tid or hashlib.md5(f"{number}/{courier}/{created}".encode()).hexdigest(),  # noqa: S324
            number=number,
            courier=courier,
            created=created,
            updated=updated,
            fetched=True,
        )
        self.account[(number, courier)] = tracking
        return tracking

    def demo_numbers(self) -> list[tuple[str, str]]:
        """Numbers worth trying (with their courier, as ``trackingmore:COURIER:NUMBER``)."""
        return [
            (
                "china-ems:LS912989618CN",
                "realtime: both legs, Chinese origin events (the docs' example)",
            ),
            ("RR050349575PH", "in the account: delivered (the list docs' example)"),
            ("RN210552627LT", "in the account: in transit, the same step on both legs"),
            ("RA408172651DE", "in the account: returned to sender (exception010)"),
            ("EE528374616CN", "in the account: expired"),
            ("986578788855", "in the account: info received (notfound001)"),
            ("ups:1Z999AA10123456784", "realtime: out for delivery"),
            ("dhl:3318810025", "realtime: failed delivery attempt"),
            ("usps:9400111899223197428490", "realtime: not found"),
            ("sandbox-post:LX000000014ZZ", "any S10 number of country ZZ: synthetic shipment"),
        ]

    def env(self, base: str) -> dict[str, str]:
        """Variables for this emulation: the v4 URL with the API version it serves, so that a
        config file's ``api = "v2"`` does not send v2 requests to it."""
        return {
            "WAYPOST_TRACKINGMORE_BASE_URL": base + "/v4",
            "WAYPOST_TRACKINGMORE_API": "v4",
            "WAYPOST_TRACKINGMORE_API_KEY": API_KEY,
        }

    # -- what the couriers know -------------------------------------------------------------

    def _synthetic(self, number: str) -> Shipment:
        seed = int(hashlib.sha256(number.encode()).hexdigest(), 16)
        now = self.sandbox.now().replace(second=0, microsecond=0, tzinfo=None)
        plans = [
            ("transit", None, ["Accepted", "Departed origin", "Arrived at hub"]),
            ("delivered", "delivered001", ["Accepted", "Departed origin", "Delivered"]),
            ("pickup", None, ["Accepted", "Arrived at hub", "Out for delivery"]),
            ("exception", "exception007", ["Accepted", "Item damaged"]),
            ("undelivered", None, ["Accepted", "Delivery attempt failed"]),
        ]
        status, substatus, steps = plans[seed % len(plans)]
        points = []
        for i, words in enumerate(reversed(steps)):
            kind = status if i == 0 else "transit"
            points.append(
                _point(_stamp(now - timedelta(hours=6 * i + seed % 5)), words, "Sandbox City", kind)
            )
        return Shipment(
            "sandbox-post",
            status,
            _leg("sandbox-post", points),
            substatus=substatus,
            original_country="Sandbox",
            destination_country="Sandbox",
        )

    def _known(self, number: str) -> Shipment | None:
        if number in self.world:
            return self.world[number]
        if SYNTHETIC.fullmatch(number) and cd.s10_ok(number):
            with self.sandbox.lock:
                return self.world.setdefault(number, self._synthetic(number))
        return None

    def _detect(self, number: str) -> list[str]:
        known = self._known(number)
        if known is not None:
            return [known.courier]
        if cd.s10_ok(number):
            country = number[-2:]
            if country == "CN":
                return (
                    ["china-ems", "china-post"] if number[0] == "E" else ["china-post", "china-ems"]
                )
            return [S10_COUNTRIES[country]] if country in S10_COUNTRIES else []
        if cd.ups_ok(number):
            return ["ups"]
        if cd.usps_ok(number):
            return ["usps"]
        if cd.fedex12_ok(number) or cd.fedex15_ok(number) or cd.fedex96_ok(number):
            return ["fedex"]
        if cd.dhl_express_ok(number):
            return ["dhl"]
        return []

    def _content(self, number: str, courier: str) -> dict[str, Any]:
        """The tracking fields the courier reports for ``number`` (notfound when unknown)."""
        known = self._known(number)
        if known is None or known.courier != courier:
            return {
                "carrier_code": courier,
                "status": "notfound",
                "substatus": "notfound002",
                "original_country": None,
                "destination_country": None,
                "itemTimeLength": None,
                "stayTimeLength": None,
                "service_code": None,
                "origin_info": [],
                "destination_info": [],
                "lastEvent": "",
                "lastUpdateTime": None,
            }
        legs = [known.destination or {}, known.origin]
        points = [p for leg in legs for p in leg.get("trackinfo", [])]
        newest = max(points, key=lambda p: p["Date"]) if points else None
        last_event = (
            ",".join(str(newest[k]) for k in ("StatusDescription", "Details", "Date") if newest[k])
            if newest
            else ""
        )
        return {
            "carrier_code": known.courier,
            "order_create_time": known.order_create_time,
            "status": known.status,
            "substatus": known.substatus,
            "original_country": known.original_country,
            "destination_country": known.destination_country,
            "itemTimeLength": known.item_days,
            "stayTimeLength": known.stay_days,
            "service_code": None,
            "origin_info": known.origin,
            "destination_info": known.destination if known.destination is not None else [],
            "lastEvent": last_event,
            "lastUpdateTime": newest["Date"] if newest else None,
        }

    def _item(self, tracking: Tracking) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": tracking.id,
            "tracking_number": tracking.number,
            "carrier_code": tracking.courier,
            "status": "pending",
            "track_update": tracking.updating,
            "created_at": _iso(tracking.created),
            "updated_at": _iso(tracking.updated),
            "order_create_time": tracking.fields.get("order_create_time"),
            "customer_email": tracking.fields.get("customer_email"),
            "title": tracking.fields.get("title"),
            "order_id": tracking.fields.get("order_id"),
            "comment": tracking.fields.get("comment"),
            "customer_name": tracking.fields.get("customer_name"),
            "archived": tracking.archived,
            "original_country": None,
            "destination_country": None,
            "itemTimeLength": None,
            "stayTimeLength": None,
            "service_code": None,
            "status_info": None,
            "substatus": None,
            "origin_info": [],
            "destination_info": [],
            "lastEvent": "",
            "lastUpdateTime": None,
        }
        if tracking.fetched:
            content = self._content(tracking.number, tracking.courier)
            content["order_create_time"] = item["order_create_time"] or content.get(
                "order_create_time"
            )
            item.update(content)
        return item

    def add_event(self, number: str, description: str, location: str | None) -> bool:
        """Append a checkpoint dated now and bump ``updated_at`` of its account trackings.

        A checkpoint's ``Date`` is the courier's wall-clock time, without a zone: now in the
        zone of the country its place names, else its leg's (the leg's country, else its
        courier's home), as TrackingMore's times are read; UTC where that country has several
        zones or none is known."""
        from datetime import UTC

        from waypost.carriers._parse import zone
        from waypost.carriers.trackingmore.shared import COUNTRY_ZONES, leg_country, place_country

        known = self._known(number.upper())
        if known is None:
            return False
        leg = known.destination or known.origin
        country = known.destination_country if known.destination else known.original_country
        code = place_country(location) or leg_country(country, leg.get("carrier_code"))
        now = self.sandbox.now().astimezone(zone(COUNTRY_ZONES.get(code or "")) or UTC)
        now = now.replace(tzinfo=None)
        with self.sandbox.lock:
            leg["trackinfo"] = [
                _point(_stamp(now), description, location or "", "transit"),
                *leg["trackinfo"],
            ]
            for tracking in self.account.values():
                if tracking.number == number.upper() and tracking.updating:
                    tracking.updated = time.time()
        return True

    # -- the HTTP side ----------------------------------------------------------------------

    def _limit(self, method: str, route: str) -> tuple[str, float]:
        if route == "/trackings/get":
            return route, self.get_rate
        if route == "/trackings/realtime":
            return route, self.realtime_rate
        if route.startswith("/trackings/") and route.count("/") >= 3:
            return f"{method} /trackings/{{carrier_code}}/{{tracking_number}}", self.default_rate
        return f"{method} {route}", self.default_rate

    def handle(self, request: Request, entry: LogEntry) -> Reply:
        """Answer one call under ``/v2`` (``/v4``: ``trackingmore_v4.py``)."""
        if request.path.startswith("/v4/"):
            return self.v4.handle(request, entry)
        if not request.path.startswith("/v2/"):
            return reply(404)
        route = request.path[3:].rstrip("/")
        if request.headers.get("trackingmore-api-key") != API_KEY:
            return reply(4001)
        endpoint, per_second = self._limit(request.method, route)
        if not self.sandbox.admit(NAME, endpoint, per_second, self.penalty, request.arrived):
            entry.rejected = True
            headers = {}
            if self.retry_after:
                headers["Retry-After"] = str(max(1, math.ceil(self.sandbox.penalty_left(NAME))))
            return reply(429, headers=headers)
        with self.sandbox.lock:
            fault = next((f for f in self.faults if f[1] in (None, route)), None)
            if fault is not None:
                self.faults.remove(fault)
                return reply(fault[0])
            self._settle()
            return self._route(request, route, entry)

    def _route(self, request: Request, route: str, entry: LogEntry) -> Reply:
        routes = {
            "/trackings/get": ("GET", self._get),
            "/trackings/post": ("POST", self._post),
            "/trackings/batch": ("POST", self._batch),
            "/trackings/realtime": ("POST", self._realtime),
            "/carriers": ("GET", self._carriers),
            "/carriers/detect": ("POST", self._detect_call),
            "/trackings/update": ("POST", self._update_courier),
            "/trackings/updatemore": ("POST", self._updatemore),
            "/trackings/notupdate": ("POST", self._notupdate),
            "/trackings/getuserinfo": ("GET", self._userinfo),
        }
        if route in routes:
            method, handler = routes[route]
            if request.method != method:
                return reply(405)
            return handler(request, entry)
        parts = route.split("/")
        if len(parts) in (4, 5) and parts[1] == "trackings":
            entry.numbers = 1
            key = (parts[3].upper(), parts[2].lower())
            if request.method == "GET":
                tracking = self.account.get(key)
                return reply(4017) if tracking is None else reply(200, self._item(tracking))
            if request.method == "DELETE" and len(parts) == 4:
                return reply(200) if self.account.pop(key, None) else reply(4017)
            return reply(405)
        return reply(404)

    def _settle(self) -> None:
        """Fetch every pending tracking whose ``fetch_delay`` has passed."""
        now = time.time()
        for tracking in self.account.unfetched():
            if now - tracking.created >= self.fetch_delay:
                tracking.fetched = True
                tracking.updated = tracking.created + self.fetch_delay

    def _get(self, request: Request, entry: LogEntry) -> Reply:
        query = request.query
        numbers = [n.strip().upper() for n in query.get("numbers", "").split(",") if n.strip()]
        entry.numbers = len(numbers)
        if len(numbers) > MAX_NUMBERS:
            return reply(4012)
        status = query.get("status")
        if status and status not in STATUSES:
            return reply(4033)
        try:
            page = max(1, int(query.get("page") or 1))
            limit = min(MAX_LIMIT, max(1, int(query.get("limit") or 100)))
            bounds = {
                k: float(query[k])
                for k in ("created_at_min", "created_at_max", "update_time_min", "update_time_max")
                if query.get(k)
            }
        except ValueError:
            return reply(4012)
        items = self.account.numbered(set(numbers)) if numbers else list(self.account.values())
        if numbers and not items:
            return reply(4031)
        if "created_at_min" in bounds:
            items = [t for t in items if t.created >= bounds["created_at_min"]]
        if "created_at_max" in bounds:
            items = [t for t in items if t.created <= bounds["created_at_max"]]
        if "update_time_min" in bounds:
            items = [t for t in items if t.updated >= bounds["update_time_min"]]
        if "update_time_max" in bounds:
            items = [t for t in items if t.updated <= bounds["update_time_max"]]
        archived = query.get("archived")
        if archived in ("true", "false"):
            items = [t for t in items if t.archived is (archived == "true")]
        rendered = [self._item(t) for t in items]
        if status:
            rendered = [i for i in rendered if i["status"] == status]
        shown = rendered[(page - 1) * limit : page * limit]
        data = {"page": page, "limit": limit, "total": str(len(rendered)), "count": len(shown)}
        data["items"] = shown
        return reply(200, data)

    def _body(self, request: Request) -> Any:
        try:
            return request.json()
        except (ValueError, UnicodeDecodeError):
            return None

    def _create(self, spec: Any) -> tuple[int, Tracking | None]:
        """Validate one create object and add it; ``(meta code, the new tracking)``."""
        if not isinstance(spec, dict):
            return 4012, None
        number = str(spec.get("tracking_number") or "").strip().upper()
        courier = str(spec.get("carrier_code") or "").strip().lower()
        if not number:
            return 4013, None
        if not VALID_NUMBER.fullmatch(number):
            return 4014, None
        if courier not in COURIERS:
            return 4015, None
        known = self._known(number)
        if known is not None and str(spec.get("auto_correct")) != "1":
            courier = known.courier
        if (number, courier) in self.account:
            return 4016, None
        if self.quota <= 0:
            return 4021, None
        self.quota -= 1
        now = time.time()
        tracking = Tracking(
            id=hashlib.md5(f"{number}/{courier}/{now}".encode()).hexdigest(),  # noqa: S324
            number=number,
            courier=courier,
            created=now,
            updated=now,
            fetched=self.fetch_delay <= 0,
            fields={
                k: spec.get(k)
                for k in (
                    "title",
                    "order_id",
                    "customer_name",
                    "customer_email",
                    "comment",
                    "order_create_time",
                )
            },
        )
        self.account[(number, courier)] = tracking
        return 200, tracking

    def _created(self, tracking: Tracking) -> dict[str, Any]:
        return {
            "id": tracking.id,
            "tracking_number": tracking.number,
            "carrier_code": tracking.courier,
            "status": "pending",
            "created_at": _iso(tracking.created),
            "customer_email": tracking.fields.get("customer_email"),
            "customer_name": tracking.fields.get("customer_name"),
            "customer_phone": None,
            "order_id": tracking.fields.get("order_id"),
            "title": tracking.fields.get("title"),
            "comment": tracking.fields.get("comment"),
            "logistics_channel": None,
            "order_create_time": tracking.fields.get("order_create_time") or 0,
            "destination": "",
        }

    def _post(self, request: Request, entry: LogEntry) -> Reply:
        entry.numbers = 1
        code, tracking = self._create(self._body(request))
        return reply(code) if tracking is None else reply(200, self._created(tracking))

    def _batch(self, request: Request, entry: LogEntry) -> Reply:
        body = self._body(request)
        if not isinstance(body, list):
            return reply(4012)
        entry.numbers = len(body)
        if len(body) > MAX_BATCH:
            return reply(202)
        trackings, errors = [], []
        for spec in body:
            code, tracking = self._create(spec)
            if tracking is not None:
                trackings.append(self._created(tracking))
            else:
                node = spec if isinstance(spec, dict) else {}
                errors.append(
                    {
                        "tracking_number": node.get("tracking_number"),
                        "carrier_code": node.get("carrier_code"),
                        "code": code,
                        "message": CODES[code][1],
                    }
                )
        data = {"submitted": len(body), "added": len(trackings), "trackings": trackings}
        data["errors"] = errors
        return reply(201, data)

    def _realtime(self, request: Request, entry: LogEntry) -> Reply:
        body = self._body(request)
        entry.numbers = 1
        if not isinstance(body, dict):
            return reply(4012)
        number = str(body.get("tracking_number") or "").strip().upper()
        courier = str(body.get("carrier_code") or "").strip().lower()
        if not number:
            return reply(4013)
        if not VALID_NUMBER.fullmatch(number):
            return reply(4014)
        if courier not in COURIERS:
            return reply(4015)
        known = self._known(number)
        if known is not None and str(body.get("auto_correct")) != "1":
            courier = known.courier
        now = time.time()
        stored = self.realtime_answers.get((number, courier))
        if stored is not None and now - stored[0] < REALTIME_WINDOW:
            return reply(200, {"items": [stored[1]]})
        item = {
            "id": hashlib.md5(f"{number}/{courier}".encode()).hexdigest(),  # noqa: S324
            "tracking_number": number,
            **self._content(number, courier),
        }
        self.realtime_answers[(number, courier)] = (now, copy.deepcopy(item))
        return reply(200, {"items": [item]})

    def _update_courier(self, request: Request, entry: LogEntry) -> Reply:
        """``POST /trackings/update``: move a tracking to ``update_carrier_code``."""
        body = self._body(request)
        entry.numbers = 1
        if not isinstance(body, dict):
            return reply(4012)
        number = str(body.get("tracking_number") or "").strip().upper()
        old = str(body.get("carrier_code") or "").strip().lower()
        new = str(body.get("update_carrier_code") or "").strip().lower()
        if not number:
            return reply(4013)
        if old not in COURIERS or new not in COURIERS:
            return reply(4015)
        tracking = self.account.pop((number, old), None)
        if tracking is None:
            return reply(4017)
        tracking.courier = new
        tracking.updated = time.time()
        self.account[(number, new)] = tracking
        return reply(200, {"Usertag": ""})

    def _pairs(self, body: Any) -> list[tuple[dict[str, Any], Tracking | None]]:
        """The items of a list body with the account tracking each names (or None)."""
        out = []
        for spec in body:
            node = spec if isinstance(spec, dict) else {}
            number = str(node.get("tracking_number") or "").strip().upper()
            courier = str(node.get("carrier_code") or "").strip().lower()
            out.append((node, self.account.get((number, courier))))
        return out

    def _updatemore(self, request: Request, entry: LogEntry) -> Reply:
        """``POST /trackings/updatemore``: change ``archived`` (and keep other fields)."""
        body = self._body(request)
        if not isinstance(body, list):
            return reply(4012)
        entry.numbers = len(body)
        if len(body) > MAX_BATCH:
            return reply(202)
        changed = []
        for node, tracking in self._pairs(body):
            if tracking is None:
                continue
            flag = str(node.get("archived", "")).lower()
            if flag in ("true", "false"):
                tracking.archived = flag == "true"
            for key in ("title", "order_id", "customer_name", "customer_email"):
                if key in node:
                    tracking.fields[key] = node[key]
            changed.append({"tracking_number": tracking.number, "carrier_code": tracking.courier})
        return reply(200, {"submitted": len(body), "updated": len(changed), "trackings": changed})

    def _notupdate(self, request: Request, entry: LogEntry) -> Reply:
        """``POST /trackings/notupdate``: the account stops refreshing these trackings."""
        body = self._body(request)
        if not isinstance(body, list):
            return reply(4012)
        entry.numbers = len(body)
        if len(body) > MAX_BATCH:
            return reply(202)
        changed = []
        for _, tracking in self._pairs(body):
            if tracking is not None:
                tracking.updating = False
                changed.append(
                    {"tracking_number": tracking.number, "carrier_code": tracking.courier}
                )
        return reply(200, {"submitted": len(body), "change": len(changed), "trackings": changed})

    def _userinfo(self, request: Request, entry: LogEntry) -> Reply:
        """``GET /trackings/getuserinfo``: the account and its remaining quota."""
        return reply(
            200,
            {
                "email": "sandbox@example.invalid",
                "regtime": "1469097290",
                "phone": "",
                "money": 0,
                "track_number": self.quota,
            },
        )

    def _carriers(self, request: Request, entry: LogEntry) -> Reply:
        lang = (request.headers.get("lang") or "en").lower()
        data = []
        for code, (name, kind, phone, homepage) in COURIERS.items():
            shown = COURIER_NAMES_CN.get(code, name) if lang == "cn" else name
            picture = f"//cdn.trackingmore.com/images/icons/express/{code}.png"
            data.append(
                {
                    "name": shown,
                    "code": code,
                    "phone": phone,
                    "homepage": homepage,
                    "type": kind,
                    "picture": picture,
                }
            )
        return reply(200, data)

    def _detect_call(self, request: Request, entry: LogEntry) -> Reply:
        body = self._body(request)
        entry.numbers = 1
        number = (
            str(body.get("tracking_number") or "").strip().upper() if isinstance(body, dict) else ""
        )
        if not number:
            return reply(4013)
        found = self._detect(number)
        if not found:
            return reply(4032)
        return reply(200, [{"name": COURIERS[c][0], "code": c} for c in found])

    # -- control ----------------------------------------------------------------------------

    def control(self, action: str, request: Request) -> Reply:
        """``/_sandbox/trackingmore/<action>``: tune limits, fetch, preload, inject faults."""
        body = self._body(request) if request.body else {}
        body = body if isinstance(body, dict) else {}
        with self.sandbox.lock:
            if action == "config" and request.method == "POST":
                for key in ("get_rate", "realtime_rate", "default_rate", "penalty", "fetch_delay"):
                    if key in body:
                        setattr(self, key, float(body[key]))
                if "retry_after" in body:
                    self.retry_after = bool(body["retry_after"])
                if "quota" in body:
                    self.quota = int(body["quota"])
                for key, attr in (("v4_create_rate", "create_rate"), ("v4_rate", "other_rate")):
                    if key in body:
                        setattr(self.v4, attr, float(body[key]))
                return Reply.json(self.settings())
            if action == "fetch" and request.method == "POST":
                return Reply.json({"fetched": self.fetch(body.get("numbers"))})
            if action == "preload" and request.method == "POST":
                numbers = [str(n).upper() for n in body.get("numbers", [])]
                added = self.preload(numbers, body.get("courier"))
                return Reply.json({"added": added})
            if action == "penalty" and request.method == "POST":
                self.sandbox.penalize(NAME, float(body.get("seconds", self.penalty)))
                return Reply.json({"ok": True})
            if action == "fail" and request.method == "POST":
                code = int(body.get("code", 500))
                path = body.get("path")
                if isinstance(path, str) and path.startswith("/v4/"):
                    return self.v4.fail(code, path[3:], int(body.get("times", 1)))
                if code not in CODES:
                    return Reply.json({"ok": False, "error": f"unknown code {code}"}, 400)
                self.faults.extend([(code, path)] * int(body.get("times", 1)))
                return Reply.json({"ok": True})
            if action == "account" and request.method == "GET":
                rows = [
                    {
                        "number": t.number,
                        "courier": t.courier,
                        "fetched": t.fetched,
                        "updated": t.updated,
                        "archived": t.archived,
                        "updating": t.updating,
                    }
                    for t in self.account.values()
                ]
                return Reply.json(rows)
        return Reply.json({"ok": False, "error": f"unknown control endpoint {action!r}"}, 404)

    def settings(self) -> dict[str, Any]:
        """The current limits and delays."""
        keys = (
            "get_rate",
            "realtime_rate",
            "default_rate",
            "penalty",
            "fetch_delay",
            "retry_after",
        )
        return {k: getattr(self, k) for k in keys}

    def fetch(self, numbers: list[str] | None = None) -> int:
        """Let TrackingMore "fetch" pending trackings now (all of them without ``numbers``)."""
        wanted = {str(n).upper() for n in numbers} if numbers else None
        now = time.time()
        count = 0
        with self.sandbox.lock:
            for tracking in self.account.values():
                if not tracking.fetched and (wanted is None or tracking.number in wanted):
                    tracking.fetched = True
                    tracking.updated = now
                    count += 1
        return count

    def preload(self, numbers: list[str], courier: str | None = None) -> int:
        """Put fetched trackings in the account, updated now; returns how many were added."""
        now = time.time()
        added = 0
        with self.sandbox.lock:
            for number in numbers:
                chosen = courier or next(iter(self._detect(number)), "sandbox-post")
                if (number, chosen) not in self.account:
                    self._add(number, chosen, now, now)
                    added += 1
        return added
