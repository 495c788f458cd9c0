"""PandaPon order lists: request builders and answer parsers (pure, no I/O).

Sources (``tests/fixtures/pandapon/README.md`` lists them with what each confirms):

* 1688 "Order List": ``POST /v2/alibaba/order/page`` with the signed system headers
  (https://doc-th.pandapon.com/api-289190488, the seed menu's "Order List ... POST").
* Taobao "order paging query" (https://doc-th.pandapon.com/api-289190442; POST in the seed menu).
  Its path could not be read: ``/open/order/queryList`` is ASSUMED by analogy with the
  documented after-sales list ``POST /open/order/refund/queryList``
  (https://doc-vnm.pandapon.com/api-250496545), whose body pages with ``pageNo``/``pageSize`` and
  bounds time with integer (millisecond) start and end fields.
* The body fields (``pageNo``, ``pageSize``, ``createStartTime``, ``createEndTime``) follow that
  documented list; the answer's field names are not public, so the parser accepts the names
  PandaPon's other answers and 1688's own buyer order list use (``records``/``list``/``rows``,
  ``total``; ``orderId``/``id``; ``status``/``orderStatus``; ``createTime``/``gmtCreate``).

An order is imported by its id (1688) or sub-order id (Taobao ``subPurchaseOrderId``, what the
logistics endpoint takes). Status words are 1688's buyer-view trade statuses and Taobao's trade
statuses; an unknown one means "ask the logistics endpoint".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Literal

from waypost.carriers._parse import as_dict, as_list, parse_time, text
from waypost.models import Shipment, Status

PATH_ORDERS_1688 = "/v2/alibaba/order/page"
PATH_ORDERS_TAOBAO = "/open/order/queryList"
PAGE_SIZE = 50
# 100 pages of 50: 5,000 orders per platform and import, far above a buyer's month.
MAX_PAGES = 100

Platform = Literal["1688", "taobao"]
SERVICE: dict[str, str] = {"1688": "1688", "taobao": "Taobao"}

# Trade status -> (shipped?, why it is skipped). 1688: waitbuyerpay, waitsellersend,
# waitbuyerreceive, confirm_goods, success, cancel, terminated; Taobao: WAIT_BUYER_PAY,
# WAIT_SELLER_SEND_GOODS, WAIT_BUYER_CONFIRM_GOODS, TRADE_FINISHED, TRADE_CLOSED(_BY_TAOBAO).
STATUS: dict[str, tuple[bool | None, str | None]] = {
    "waitbuyerpay": (None, "not paid yet"),
    "wait_buyer_pay": (None, "not paid yet"),
    "waitsellerconfirm": (False, None),
    "waitsellersend": (False, None),
    "wait_seller_send_goods": (False, None),
    "waitbuyerreceive": (True, None),
    "wait_buyer_confirm_goods": (True, None),
    "waitbuyersign": (True, None),
    "signinsuccess": (True, None),
    "confirm_goods": (True, None),
    "success": (True, None),
    "trade_finished": (True, None),
    "cancel": (None, "cancelled"),
    "terminated": (None, "closed"),
    "trade_closed": (None, "closed"),
    "trade_closed_by_taobao": (None, "closed"),
}

_LIST_KEYS = ("records", "list", "rows", "result", "orders", "data")
_TOTAL_KEYS = ("total", "totalCount", "totalRecord", "totalNum")


@dataclass(frozen=True)
class Order:
    """One order (Taobao: one sub-order) as an order list shows it."""

    platform: Platform
    order_id: str
    created: float | None = None
    status: str | None = None
    title: str | None = None
    shop: str | None = None

    @property
    def shipped(self) -> bool | None:
        """True once the seller shipped, False before, None when the status does not say."""
        return STATUS.get((self.status or "").lower(), (None, None))[0]

    @property
    def skip(self) -> str | None:
        """Why this order is not imported (unpaid, cancelled, closed), else None."""
        return STATUS.get((self.status or "").lower(), (None, None))[1]

    def pending(self) -> Shipment:
        """The "no parcels yet" shipment numbered by the order id."""
        return Shipment(
            tracking_number=self.order_id,
            carrier="pandapon",
            found=True,
            status=Status.PENDING,
            status_text=self.status,
            service=SERVICE[self.platform],
            order_id=self.order_id,
        )


@dataclass
class OrderPage:
    """One page of an order list."""

    orders: list[Order] = field(default_factory=list)
    total: int | None = None
    more: bool = False


def build_orders_request(
    platform: Platform, start: float, end: float, page: int, size: int | None = None
) -> tuple[str, dict[str, Any]]:
    """Path and JSON body of one order-list page (times are Unix seconds)."""
    body = {
        "pageNo": page,
        "pageSize": size or PAGE_SIZE,
        "createStartTime": int(start * 1000),
        "createEndTime": int(end * 1000),
    }
    return (PATH_ORDERS_TAOBAO if platform == "taobao" else PATH_ORDERS_1688), body


def _first(node: Mapping[str, Any], *keys: str) -> Any:
    return next((node[k] for k in keys if node.get(k) not in (None, "", [], {})), None)


def _digits(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value > 0 else None
    found = text(value)
    return found if found and found.isdigit() and len(found) <= 30 else None


def _created(value: Any, tz: tzinfo | None) -> float | None:
    """Milliseconds or seconds since the epoch, ``yyyy-MM-dd HH:mm:ss`` (zone ``tz``) or 1688's
    ``yyyyMMddHHmmssSSS+0800``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value) and abs(value) < 1e16:
        seconds = float(value) / 1000 if abs(value) > 1e11 else float(value)
        return seconds if seconds > 0 else None
    raw = text(value)
    if raw is None:
        return None
    if raw.isdigit():
        return _created(int(raw), tz)
    if len(raw) >= 14 and raw[:14].isdigit():
        try:
            when = datetime.strptime(raw[:14], "%Y%m%d%H%M%S")
        except ValueError:
            return None
        offset = raw[17:] if len(raw) > 17 else ""
        if offset and offset[0] in "+-":
            try:
                return datetime.strptime(raw[:14] + offset, "%Y%m%d%H%M%S%z").timestamp()
            except ValueError:
                return None
        return when.replace(tzinfo=tz).timestamp() if tz else when.timestamp()
    parsed = parse_time(raw, tz)
    return parsed.timestamp() if parsed is not None else None


def _title(node: Mapping[str, Any]) -> str | None:
    direct = text(_first(node, "productTitle", "itemTitle", "title", "subject"))
    if direct:
        return direct
    for key in ("productItems", "items", "orderItems", "goods", "subOrders", "productList"):
        for item in as_list(node.get(key)):
            found = text(_first(as_dict(item), "name", "title", "productTitle", "itemTitle"))
            if found:
                return found
    return None


def _shop(node: Mapping[str, Any]) -> str | None:
    keys = ("shopName", "sellerCompanyName", "sellerShopName", "sellerNick", "sellerLoginId")
    direct = text(_first(node, *keys))
    if direct:
        return direct
    seller = as_dict(_first(node, "sellerContact", "seller"))
    return text(_first(seller, "companyName", "shopName", "name"))


def parse_order(item: Any, platform: Platform, tz: tzinfo | None) -> list[Order]:
    """One list record -> its orders (Taobao: one per sub-order); [] when it names none."""
    node = as_dict(item)
    base = as_dict(node.get("baseInfo")) or node
    created = _created(_first(base, "createTime", "gmtCreate", "createDate", "orderTime"), tz)
    status = text(_first(base, "status", "orderStatus", "purchaseOrderStatus", "tradeStatus"))
    title, shop = _title(node) or _title(base), _shop(base) or _shop(node)
    if platform == "taobao":
        listed = as_list(_first(node, "subOrders", "subPurchaseOrders", "items"))
        subs = [as_dict(s) for s in listed]
        ids = [_digits(_first(s, "subPurchaseOrderId", "subOrderId")) for s in subs]
        ids = [i for i in ids if i] or [_digits(_first(base, "subPurchaseOrderId", "subOrderId"))]
        found = [i for i in ids if i]
        if not found:
            return []
        out = []
        for i, sub_id in enumerate(found):
            sub = subs[i] if i < len(subs) else {}
            out.append(
                Order(
                    "taobao",
                    sub_id,
                    created,
                    text(_first(sub, "status", "subPurchaseOrderStatus")) or status,
                    text(_first(sub, "itemTitle", "title", "productTitle")) or title,
                    shop,
                )
            )
        return out
    order_id = _digits(_first(base, "orderId", "id", "idOfStr", "orderIdStr"))
    return [Order("1688", order_id, created, status, title, shop)] if order_id else []


def _records(data: Any) -> tuple[list[Any], int | None]:
    if isinstance(data, list):
        return data, None
    node = as_dict(data)
    records: list[Any] = next((node[k] for k in _LIST_KEYS if isinstance(node.get(k), list)), [])
    total_raw = next((node[k] for k in _TOTAL_KEYS if k in node), None)
    total = total_raw if isinstance(total_raw, int) and not isinstance(total_raw, bool) else None
    if total is None:
        digits = text(total_raw)
        total = int(digits) if digits and digits.isdigit() and len(digits) < 10 else None
    return records, total


def parse_orders(
    data: Any, platform: Platform, page: int, size: int | None = None, tz: tzinfo | None = None
) -> OrderPage:
    """The ``data`` of one successful order-list answer -> one OrderPage (never raises).

    There is a next page when this one was full and the total (where given) is not reached.
    """
    size = size or PAGE_SIZE
    records, total = _records(data)
    orders = [o for r in records for o in parse_order(r, platform, tz)]
    more = len(records) >= size > 0 and (total is None or page * size < total)
    return OrderPage(orders, total, more)


# -- after-sales returns (Taobao "reverse order list") ---------------------------------------------

# Documented: https://doc-vnm.pandapon.com/api-250496545 (body refundId, purchaseOrderId,
# salesOrderId, refundStatus, refundStartTime, refundEndTime, pageNo, pageSize). Its answer's
# fields are not public: the return waybill and courier names below are ASSUMED.
PATH_RETURNS_TAOBAO = "/open/order/refund/queryList"


@dataclass(frozen=True)
class Return:
    """An after-sales return that names the waybill the buyer sent the goods back with."""

    order_id: str
    waybill: str
    company: str | None = None
    refund_id: str | None = None


def build_returns_request(
    start: float, end: float, page: int, size: int | None = None
) -> tuple[str, dict[str, Any]]:
    """Path and JSON body of one page of the reverse-order list (times are Unix seconds)."""
    return PATH_RETURNS_TAOBAO, {
        "pageNo": page,
        "pageSize": size or PAGE_SIZE,
        "refundStartTime": int(start * 1000),
        "refundEndTime": int(end * 1000),
    }


def parse_returns(data: Any, page: int, size: int | None = None) -> tuple[list[Return], bool]:
    """One page of the reverse-order list -> the returns with a waybill, and whether more pages
    follow (never raises)."""
    size = size or PAGE_SIZE
    records, total = _records(data)
    found = []
    for item in records:
        node = as_dict(item)
        order_id = _digits(_first(node, "subPurchaseOrderId", "salesOrderId", "purchaseOrderId"))
        waybill = text(_first(node, "returnLogisticsNo", "logisticsNo", "mailNo", "invoiceNo"))
        if not order_id or not waybill or len(waybill) > 40 or not waybill.isalnum():
            continue
        company = text(
            _first(node, "returnLogisticsCompany", "logisticsCompany", "companyName", "cpName")
        )
        found.append(Return(order_id, waybill.upper(), company, text(node.get("refundId"))))
    more = len(records) >= size > 0 and (total is None or page * size < total)
    return found, more
