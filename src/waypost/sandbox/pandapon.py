"""Emulation of PandaPon's logistics endpoints (``shared/seeds/pandapon-openapi-logistics.txt``).

Two paths, both ``GET``:

* ``/v2/alibaba/order/logistics?orderId=...`` (1688, the seed): ``data`` is a list, one item per
  parcel (``logisticsId``, ``orderId``, ``logisticsBillNo``, ``logisticsSteps``,
  ``traceNodeList``, ``logisticsStatus``); ``developId`` is an integer as in the v2 schema.
* ``/open/order/logistics/detail/get?subPurchaseOrderId=...`` (Taobao, doc api-250313082):
  ``data`` is ``{purchaseOrderOuterId, pnmLogisticsDetails[]}``, traces newest first as in the
  docs' example, ``developId`` a string as in the v1 docs.

Every request must carry the system headers ``access-key``, ``timestamp``, ``nonce-str`` (32
characters), ``user-id`` and ``signature``. PandaPon's signature recipe is not public, so the
sandbox can be told which of the two candidates it accepts (``WAYPOST_SANDBOX_PANDAPON_SIGNATURE``
or ``POST /_sandbox/pandapon/config {"signature": ...}``), each written out here independently
of the client's code:

* ``pairs`` (the default): ``UPPER(HEX(MD5(k=v of access-key, nonce-str, timestamp in ASCII
  order, joined by "&", then "&secret=<secret>")))`` with the timestamp in UTC milliseconds;
* ``concat``: ``UPPER(HEX(MD5(access-key, timestamp, nonce-str, secret concatenated)))`` with the
  timestamp in UTC seconds; it reads a 13-digit timestamp as milliseconds for the 600 s window,
  so that a request signed the other way fails at the signature (1003), not at the clock;
* ``any``: either.

Checks, in order: rate limit, headers present, access-key and user-id known, timestamp within
600 s, signature, nonce not used in the last 600 s (a nonce is spent only by a request whose
signature verified).

PandaPon's error-code table is not public either. Errors answer the documented envelope
``{requestId, code, developId, msg, data: null}`` with HTTP 200 and these codes (the sandbox's
choice; the adapter's ``CODE_KINDS`` knows them):

====  ===========================================================================
code  when (msg)
====  ===========================================================================
1001  a system header is missing or malformed (缺少或非法的请求头 / missing or invalid header)
1002  unknown access-key, or user-id not of that key (access-key或user-id无效 / ...)
1003  signature mismatch (签名错误 / signature verification failed)
1004  timestamp more than 600 s from the server's clock (请求已过期 / timestamp expired)
1005  nonce-str already used within 600 s (nonce-str重复 / nonce-str already used)
400   order id missing or not digits (参数错误 / ...)
4004  unknown order: undocumented, so chosen here (订单不存在 / order does not exist)
500   the demo failing order (系统繁忙，请稍后再试 / system busy, try again later)
429   more than 5 requests in one second, also HTTP 429 (请求过于频繁 / too many requests)
====  ===========================================================================

The real limit is not documented; 5 requests/s is the client's default and the sandbox's
assumption. Success is ``code: 200`` with ``msg: "成功"``; every answer has a fresh 32-hex
``requestId``. A known order without parcels answers ``data: []`` (1688) or
``pnmLogisticsDetails: []`` (Taobao). Any 19-digit 1688 id or 12-digit Taobao id starting with 9
is a synthetic order whose content derives from a hash of the id (for benchmarks).

The demo orders, their returns, and the trace plans synthetic orders reuse are data:
``sandbox/data/pandapon_demo.json`` (``demo_world`` reads it).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from waypost.sandbox.server import LogEntry, Reply, Request

if TYPE_CHECKING:
    from waypost.sandbox.server import Sandbox

USER_ID = "2100007341207"
ACCESS_KEY = "3f6c1a9e5b7d4c2f8a0e6b1d9c4f7a25"
SIGNING_KEY = "sandbox-pandapon-secret-8d41c0b7e2"
DEVELOP_ID = "1023561483696472885"
PATH_1688 = "/v2/alibaba/order/logistics"
PATH_TAOBAO = "/open/order/logistics/detail/get"
PATH_ORDERS_1688 = "/v2/alibaba/order/page"
PATH_ORDERS_TAOBAO = "/open/order/queryList"
PATH_RETURNS_TAOBAO = "/open/order/refund/queryList"
MAX_PAGE_SIZE = 100
# The demo orders with a fixed trade status (in the data; named here for tests).
UNPAID = "2694057731265508000"
CANCELLED = "2694057731265508111"
WINDOW_MS = 600_000
RATE = 5
SHANGHAI = ZoneInfo("Asia/Shanghai")
SYNTHETIC_1688 = re.compile(r"9\d{18}")
SYNTHETIC_TAOBAO = re.compile(r"9\d{11}")
FAILING = "2542285634920880500"
HEADERS = ("access-key", "timestamp", "nonce-str", "user-id", "signature")


@dataclass
class Parcel:
    """One parcel of a demo order, its trace nodes in the API's own shape, oldest first."""

    bill: str
    logistics_id: str
    status: str
    nodes: list[dict[str, Any]]
    steps_only: bool = False
    company: str = ""
    receiver: dict[str, str] = field(default_factory=dict)


@dataclass
class Order:
    """A demo order: 1688 or Taobao, with zero or more parcels."""

    platform: str
    order_id: str
    parcels: list[Parcel]
    outer_id: str = ""
    created: datetime | None = None
    title: str = ""
    shop: str = ""
    status: str = ""  # a fixed trade status (unpaid, cancelled); else derived from the parcels


def expected_signature(access_key: str, secret: str, timestamp: str, nonce: str) -> str:
    """The signature the emulated server expects (ASSUMED recipe, see the module docstring)."""
    signed = {"access-key": access_key, "timestamp": timestamp, "nonce-str": nonce}
    base = "&".join(f"{k}={signed[k]}" for k in sorted(signed)) + f"&secret={secret}"
    # MD5 is the API's (assumed) choice, not ours.
    return hashlib.md5(base.encode("utf-8")).hexdigest().upper()  # noqa: S324


def expected_concat_signature(access_key: str, secret: str, timestamp: str, nonce: str) -> str:
    """The ``concat`` candidate: the four values run together, in this order, then MD5."""
    joined = "".join((access_key, timestamp, nonce, secret))
    return hashlib.md5(joined.encode("utf-8")).hexdigest().upper()  # noqa: S324 (the API's)


SIGNATURES = ("pairs", "concat", "any")


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _seed(value: str) -> int:
    return int(hashlib.sha256(value.encode()).hexdigest(), 16)


DEMO_DATA = "data/pandapon_demo.json"


@functools.cache
def _document() -> dict[str, Any]:
    # Read once per process: demo_world builds every order afresh, so apps share nothing that
    # add_event changes.
    text = resources.files("waypost.sandbox").joinpath(DEMO_DATA).read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def node_1688(when: datetime, step: dict[str, Any]) -> dict[str, Any]:
    """One ``traceNodeList`` node of a plan's ``step``, dated ``when``."""
    area, remark = step["areaCode"], step["remark"]
    return {
        "action": step["action"],
        "areaCode": area,
        "encrypt": "1" if "****" in remark else "0",
        "acceptTime": _stamp(when),
        "remark": remark,
        "facilityType": step["facilityType"],
        "facilityNo": f"{area}01",
        "facilityName": step["facilityName"],
    }


def trace_taobao(when: datetime, step: dict[str, Any]) -> dict[str, Any]:
    """One ``logisticsTraces`` item of a plan's ``step``, dated ``when``."""
    return {
        "statusDesc": step["statusDesc"],
        "province": None,
        "city": step["city"],
        "district": step["district"],
        "action": step["action"],
        "facilityName": step["facilityName"],
        "time": _stamp(when),
        "standerdDesc": step["standerdDesc"],
        "status": step["status"],
        "nextCity": step["nextCity"],
        "nextNodeName": step["nextNodeName"],
    }


def parcel_1688(bill: str, status: str, plan: list[dict[str, Any]], now: datetime) -> Parcel:
    """A 1688 parcel following ``plan`` up to ``now``."""
    nodes = [node_1688(now - timedelta(hours=n["hours_ago"]), n) for n in plan]
    return Parcel(bill, f"LP00{_seed(bill) % 10**15:015d}", status, nodes)


def parcel_taobao(
    bill: str, company: str, plan: list[dict[str, Any]], receiver: dict[str, str], now: datetime
) -> Parcel:
    """A Taobao parcel following ``plan`` up to ``now``."""
    traces = [trace_taobao(now - timedelta(hours=t["hours_ago"]), t) for t in plan]
    return Parcel(bill, "", "", traces, company=company, receiver=dict(receiver))


class World:
    """The demo orders, keyed ``(platform, order id)`` in the data's order, and what synthetic
    orders are made of."""

    # A plain class: making a dataclass costs the sandbox's start-up more than its data does.
    def __init__(
        self,
        orders: dict[tuple[str, str], Order],
        plans: dict[str, dict[str, list[dict[str, Any]]]],
        synthetic: dict[str, Any],
        receiver: dict[str, str],
        taobao_parcel: dict[str, Any],
        returns: list[dict[str, Any]],
        banner: list[tuple[str, str]],
    ) -> None:
        self.orders = orders
        self.plans = plans
        self.synthetic = synthetic
        self.receiver = receiver
        self.taobao_parcel = taobao_parcel
        self.returns = returns
        self.banner = banner


def demo_world(document: dict[str, Any], now: datetime) -> World:
    """The world of ``DEMO_DATA`` (parsed), dated from ``now`` (Shanghai, to the second)."""
    now = now.astimezone(SHANGHAI).replace(microsecond=0)
    plans, receiver = document["plans"], document["taobao_receiver"]
    orders: dict[tuple[str, str], Order] = {}
    for raw in document["orders"]:
        parcels = []
        for p in raw["parcels"]:
            if raw["platform"] == "taobao":
                plan = plans["taobao"][p["plan"]]
                parcels.append(parcel_taobao(p["bill"], p["company"], plan, receiver, now))
            elif "steps" in p:
                steps = [
                    {
                        "acceptTime": _stamp(now - timedelta(hours=s["hours_ago"])),
                        "remark": s["remark"],
                    }
                    for s in plans["steps"][p["steps"]]
                ]
                logistics = f"LP00{_seed(p['bill']) % 10**15:015d}"
                parcels.append(Parcel(p["bill"], logistics, p["status"], steps, steps_only=True))
            else:
                parcels.append(parcel_1688(p["bill"], p["status"], plans["1688"][p["plan"]], now))
        order = Order(
            raw["platform"],
            raw["orderId"],
            parcels,
            outer_id=raw.get("outerId", ""),
            created=now - timedelta(hours=raw["hours_ago"]),
            title=raw["title"],
            shop=raw["shop"],
            status=raw.get("status", ""),
        )
        orders[(order.platform, order.order_id)] = order
    banner = [(number, shows) for number, shows in document["banner"]]
    shown = document["taobao_parcel"]
    return World(orders, plans, document["synthetic"], receiver, shown, document["returns"], banner)


class App:
    """The PandaPon logistics endpoints with demo orders."""

    name = "pandapon"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.nonces: dict[tuple[str, str], int] = {}
        self.request_ids: list[str] = []
        # The ``timestamp`` header of every call that passed the rate limit (tests read it).
        self.stamps: list[str] = []
        wanted = os.environ.get("WAYPOST_SANDBOX_PANDAPON_SIGNATURE", "pairs").strip().lower()
        self.signature = wanted if wanted in SIGNATURES else "pairs"
        self.world = demo_world(_document(), self.sandbox.now())
        self.orders: dict[tuple[str, str], Order] = self.world.orders
        # How many synthetic 1688 orders (9000...001 upwards) the order lists add (benchmarks).
        self.listed_synthetic = int(os.environ.get("WAYPOST_SANDBOX_PANDAPON_ORDERS", "0") or 0)

    def demo_numbers(self) -> list[tuple[str, str]]:
        """Orders worth trying."""
        return list(self.world.banner)

    def env(self, base: str) -> dict[str, str]:
        """Variables for this emulation."""
        return {
            "WAYPOST_PANDAPON_BASE_URL": base,
            "WAYPOST_PANDAPON_USER_ID": USER_ID,
            "WAYPOST_PANDAPON_ACCESS_KEY": ACCESS_KEY,
            "WAYPOST_PANDAPON_SECRET": SIGNING_KEY,
        }

    def _now(self) -> datetime:
        return self.sandbox.now().astimezone(SHANGHAI).replace(microsecond=0)

    def _synthetic(self, platform: str, order_id: str) -> Order:
        seed = _seed(order_id)
        now = self._now()
        made, plans = self.world.synthetic[platform], self.world.plans[platform]
        if platform == "taobao":
            plan = plans[made["plans"][seed % len(made["plans"])]]
            bill, outer = f"ZT{seed % 10**12:012d}", f"37{seed % 10**17:017d}"
            parcel = parcel_taobao(bill, made["company"], plan, self.world.receiver, now)
            return Order("taobao", order_id, [parcel], outer_id=outer)
        parcels = []
        for i in range(1 + seed % 2):
            name, status = made["plans"][(seed >> (4 * i)) % len(made["plans"])]
            parcels.append(
                parcel_1688(f"YD{(seed >> (8 * i)) % 10**13:013d}", status, plans[name], now)
            )
        return Order("1688", order_id, parcels)

    def _lookup(self, platform: str, order_id: str) -> Order | None:
        order = self.orders.get((platform, order_id))
        if order is not None:
            return order
        pattern = SYNTHETIC_TAOBAO if platform == "taobao" else SYNTHETIC_1688
        if pattern.fullmatch(order_id):
            with self.sandbox.lock:
                return self.orders.setdefault(
                    (platform, order_id), self._synthetic(platform, order_id)
                )
        return None

    def add_event(self, number: str, description: str, location: str | None) -> bool:
        """Append a trace node dated now to an order's first parcel (or the parcel ``number``
        names); an order without parcels gets one."""
        with self.sandbox.lock:
            parcel, order = self._parcel_of(number)
            if order is None:
                return False
            now = self._now()
            if parcel is None:
                bill = f"YD{_seed(number) % 10**13:013d}"
                parcel = Parcel(bill, f"LP00{_seed(bill) % 10**15:015d}", "TRANSPORT", [])
                if order.platform == "taobao":
                    parcel.company = "韵达快递"
                order.parcels.append(parcel)
            if order.platform == "taobao":
                step = {
                    "action": "TMS_STATION_IN",
                    "status": "TRANSPORT",
                    "statusDesc": "运输中",
                    "city": location or "",
                    "district": "",
                    "facilityName": location or "",
                    "standerdDesc": description,
                    "nextCity": None,
                    "nextNodeName": None,
                }
                node = trace_taobao(now, step)
            elif parcel.steps_only:
                node = {"acceptTime": _stamp(now), "remark": description}
            else:
                step = {
                    "action": "TRANSPORT",
                    "facilityType": "",
                    "facilityName": location or "",
                    "areaCode": "",
                    "remark": description,
                }
                node = node_1688(now, step)
            parcel.nodes.append(node)
        return True

    def _parcel_of(self, number: str) -> tuple[Parcel | None, Order | None]:
        *prefixes, number = number.split(":")
        prefix = prefixes[-1].lower() if prefixes else ""
        platforms = [p for p in ("1688", "taobao") if prefix in ("", "pandapon", p)]
        for platform in platforms:
            order = self._lookup(platform, number)
            if order is not None:
                return (order.parcels[0] if order.parcels else None), order
        for order in self.orders.values():
            for parcel in order.parcels:
                if parcel.bill == number.upper():
                    return parcel, order
        return None, None

    def control(self, action: str, request: Request) -> Reply:
        """``/_sandbox/pandapon/config``: which signing recipe to accept, how many listed orders."""
        try:
            body = request.json() if request.body else {}
        except ValueError:
            body = None
        if action != "config" or request.method != "POST" or not isinstance(body, dict):
            return Reply.json({"ok": False, "error": "POST a JSON object to config"}, 400)
        with self.sandbox.lock:
            if "signature" in body:
                if body["signature"] not in SIGNATURES:
                    return Reply.json(
                        {"ok": False, "error": "signature: pairs, concat or any"}, 400
                    )
                self.signature = body["signature"]
            if "orders" in body:
                self.listed_synthetic = max(0, int(body["orders"]))
                return Reply.json(
                    {"ok": True, "signature": self.signature, "orders": self.listed_synthetic}
                )
            return Reply.json({"ok": True, "signature": self.signature})

    def _envelope(self, code: int, msg: str, data: Any, develop_id: Any = None) -> dict[str, Any]:
        request_id = uuid.uuid4().hex
        with self.sandbox.lock:
            self.request_ids.append(request_id)
        return {
            "requestId": request_id,
            "code": code,
            "developId": develop_id,
            "msg": msg,
            "data": data,
        }

    def _error(self, code: int, msg: str, status: int = 200) -> Reply:
        return Reply.json(self._envelope(code, msg, None), status)

    def _authenticate(self, headers: dict[str, str]) -> Reply | None:
        """None when the system headers verify; else the error envelope to answer."""
        missing = [h for h in HEADERS if not headers.get(h)]
        if missing:
            return self._error(
                1001, f"缺少或非法的请求头 / missing or invalid header: {missing[0]}"
            )
        access_key, timestamp = headers["access-key"], headers["timestamp"]
        nonce, signature = headers["nonce-str"], headers["signature"]
        if len(nonce) != 32:
            return self._error(1001, "缺少或非法的请求头 / nonce-str must be 32 characters")
        if access_key != ACCESS_KEY or headers["user-id"] != USER_ID:
            return self._error(1002, "access-key或user-id无效 / invalid access-key or user-id")
        now_ms = int(time.time() * 1000)
        seconds = self.signature == "concat" or (self.signature == "any" and len(timestamp) <= 11)
        sent_ms = int(timestamp) if timestamp.isdigit() else -WINDOW_MS * 10
        if seconds and len(timestamp) <= 11:
            sent_ms *= 1000
        if abs(now_ms - sent_ms) > WINDOW_MS:
            return self._error(1004, "请求已过期 / timestamp expired (more than 600 s off UTC)")
        accepted = {
            "pairs": [expected_signature],
            "concat": [expected_concat_signature],
            "any": [expected_signature, expected_concat_signature],
        }[self.signature]
        if not any(
            hmac.compare_digest(
                signature.encode(), f(ACCESS_KEY, SIGNING_KEY, timestamp, nonce).encode()
            )
            for f in accepted
        ):
            return self._error(1003, "签名错误 / signature verification failed")
        with self.sandbox.lock:
            for key, seen in list(self.nonces.items()):
                if now_ms - seen > WINDOW_MS:
                    del self.nonces[key]
            if (access_key, nonce) in self.nonces:
                return self._error(1005, "nonce-str重复 / nonce-str already used")
            self.nonces[(access_key, nonce)] = now_ms
        return None

    def handle(self, request: Request, entry: LogEntry) -> Reply:
        """Answer one call."""
        lists = (PATH_ORDERS_1688, PATH_ORDERS_TAOBAO, PATH_RETURNS_TAOBAO)
        if request.path not in (PATH_1688, PATH_TAOBAO, *lists):
            return _spring_error(404, "Not Found", request.path)
        if request.method != ("POST" if request.path in lists else "GET"):
            return _spring_error(405, "Method Not Allowed", request.path)
        if not self.sandbox.admit(self.name, "api", RATE, at=request.arrived):
            entry.rejected = True
            return self._error(429, "请求过于频繁 / too many requests", 429)
        with self.sandbox.lock:
            self.stamps.append(dict(request.headers).get("timestamp", ""))
        refused = self._authenticate(dict(request.headers))
        if refused is not None:
            return refused
        if request.path == PATH_RETURNS_TAOBAO:
            return self._returns_page(request)
        if request.path in lists:
            platform = "taobao" if request.path == PATH_ORDERS_TAOBAO else "1688"
            return self._order_page(platform, request)
        platform, param = (
            ("taobao", "subPurchaseOrderId") if request.path == PATH_TAOBAO else ("1688", "orderId")
        )
        order_id = request.query.get(param, "")
        if not order_id.isdigit():
            return self._error(400, f"参数错误 / {param} is required and must be a number")
        entry.numbers = 1
        if order_id == FAILING:
            return self._error(500, "系统繁忙，请稍后再试 / system busy, try again later")
        with self.sandbox.lock:
            order = self._lookup(platform, order_id)
            if order is None:
                return self._error(4004, "订单不存在 / order does not exist")
            if platform == "taobao":
                return Reply.json(self._envelope(200, "成功", self._taobao_data(order), DEVELOP_ID))
            return Reply.json(self._envelope(200, "成功", self._data_1688(order), int(DEVELOP_ID)))

    def _listed(self, platform: str) -> list[Order]:
        """The orders an order list shows, newest first (demo orders, then synthetic ones)."""
        now = self._now()
        with self.sandbox.lock:
            found = [o for o in self.orders.values() if o.platform == platform and o.created]
            if platform == "1688":
                for i in range(1, self.listed_synthetic + 1):
                    order = self._lookup("1688", f"9{i:018d}")
                    if order is None:
                        continue
                    if order.created is None:
                        seed = _seed(order.order_id)
                        order.created = now - timedelta(minutes=30 + i * 17 % (20 * 24 * 60))
                        order.title, order.shop = f"样品 {seed % 1000:03d}", f"工厂 {seed % 97:02d}"
                        found.append(order)
        return sorted(found, key=lambda o: (o.created or now, o.order_id), reverse=True)

    @staticmethod
    def _trade_status(order: Order) -> str:
        if order.status:
            return order.status
        if order.platform == "taobao":
            return "WAIT_BUYER_CONFIRM_GOODS" if order.parcels else "WAIT_SELLER_SEND_GOODS"
        if not order.parcels:
            return "waitsellersend"
        return "success" if all(p.status == "SIGN" for p in order.parcels) else "waitbuyerreceive"

    def _record(self, order: Order) -> dict[str, Any]:
        created = order.created or self._now()
        status = self._trade_status(order)
        if order.platform == "taobao":
            return {
                "purchaseOrderId": order.outer_id,
                "status": status,
                "createTime": int(created.timestamp() * 1000),
                "shopName": order.shop,
                "subOrders": [
                    {
                        "subPurchaseOrderId": order.order_id,
                        "itemTitle": order.title,
                        "status": status,
                        "quantity": 1,
                    }
                ],
            }
        return {
            "orderId": order.order_id,
            "status": status,
            "createTime": _stamp(created),
            "sellerCompanyName": order.shop,
            "productItems": [{"name": order.title, "quantity": 2, "price": "12.50"}],
        }

    def _order_page(self, platform: str, request: Request) -> Reply:
        """One page of an order list: ``pageNo`` from 1, ``pageSize`` 1..100, creation window
        ``createStartTime``/``createEndTime`` in UTC milliseconds (either may be left out)."""
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._error(400, "参数错误 / the body must be a JSON object")
        page: Any = body.get("pageNo", 1)
        size: Any = body.get("pageSize")
        bounds = [body.get("createStartTime"), body.get("createEndTime")]

        def whole(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        if not (whole(page) and whole(size)) or not 1 <= size <= MAX_PAGE_SIZE or page < 1:
            return self._error(400, f"参数错误 / pageNo >= 1 and pageSize 1..{MAX_PAGE_SIZE}")
        if any(b is not None and not whole(b) for b in bounds):
            return self._error(400, "参数错误 / createStartTime and createEndTime are milliseconds")
        low, high = bounds
        listed = [
            o
            for o in self._listed(platform)
            if o.created is not None
            and (low is None or o.created.timestamp() * 1000 >= low)
            and (high is None or o.created.timestamp() * 1000 <= high)
        ]
        records = [self._record(o) for o in listed[(page - 1) * size : page * size]]
        data = {"pageNo": page, "pageSize": size, "total": len(listed), "records": records}
        develop = DEVELOP_ID if platform == "taobao" else int(DEVELOP_ID)
        return Reply.json(self._envelope(200, "成功", data, develop))

    def _returns_page(self, request: Request) -> Reply:
        """One page of the reverse-order list (``refundStartTime``/``refundEndTime`` in ms)."""
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("pageSize"), int):
            return self._error(400, "参数错误 / pageSize is required")
        page, size = body.get("pageNo", 1), body["pageSize"]
        if not isinstance(page, int) or page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return self._error(400, f"参数错误 / pageNo >= 1 and pageSize 1..{MAX_PAGE_SIZE}")
        now_ms = self._now().timestamp() * 1000
        low, high = body.get("refundStartTime"), body.get("refundEndTime")
        records = []
        for item in self.world.returns:
            at = now_ms - item["hours_ago"] * 3_600_000
            if (isinstance(low, int) and at < low) or (isinstance(high, int) and at > high):
                continue
            record = {k: v for k, v in item.items() if k != "hours_ago"}
            records.append({**record, "refundTime": int(at)})
        chunk = records[(page - 1) * size : page * size]
        data = {"pageNo": page, "pageSize": size, "total": len(records), "records": chunk}
        return Reply.json(self._envelope(200, "成功", data, DEVELOP_ID))

    @staticmethod
    def _data_1688(order: Order) -> list[dict[str, Any]]:
        items = []
        for parcel in order.parcels:
            steps = [{"acceptTime": n["acceptTime"], "remark": n["remark"]} for n in parcel.nodes]
            items.append(
                {
                    "logisticsId": parcel.logistics_id,
                    "orderId": int(order.order_id),
                    "logisticsBillNo": parcel.bill,
                    "logisticsSteps": steps,
                    "traceNodeList": [] if parcel.steps_only else [dict(n) for n in parcel.nodes],
                    "logisticsStatus": parcel.status,
                }
            )
        return items

    def _taobao_data(self, order: Order) -> dict[str, Any]:
        shown = self.world.taobao_parcel
        details = [
            {
                "mailNo": parcel.bill,
                "logisticsTraces": [dict(t) for t in reversed(parcel.nodes)],
                "logisticsPartner": [
                    {
                        "companyImageUrl": shown["companyImageUrl"],
                        "company": parcel.company,
                        "companyContact": shown["companyContact"],
                    }
                ],
                "receiver": {
                    **shown["receiver"],
                    "province": parcel.receiver.get("province"),
                    "city": parcel.receiver.get("city"),
                    "district": parcel.receiver.get("district"),
                },
                "logisticsGoods": [dict(g) for g in shown["logisticsGoods"]],
            }
            for parcel in order.parcels
        ]
        return {"purchaseOrderOuterId": order.outer_id, "pnmLogisticsDetails": details}


def _spring_error(status: int, error: str, path: str) -> Reply:
    return Reply.json(
        {"timestamp": int(time.time() * 1000), "status": status, "error": error, "path": path},
        status,
    )
