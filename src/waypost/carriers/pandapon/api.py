"""PandaPon OpenAPI: 1688 and Taobao order logistics.

Follows PandaPon's "Development manual" (https://doc-en.pandapon.com/doc-6055770), the seed page
"Obtain logistics tracking information" (``shared/seeds/pandapon-openapi-logistics.txt``:
``GET /v2/alibaba/order/logistics?orderId=...``) and the Taobao page "Get logistics details"
(https://doc.pandapon.com/api-250313082:
``GET /open/order/logistics/detail/get?subPurchaseOrderId=...``). One request per order id; the
API takes one.

Signing (system parameters travel in HTTP headers: ``access-key``, ``timestamp``, ``nonce-str``,
``user-id``, ``signature``). The manual marks ``access-key``, ``timestamp`` and ``nonce-str`` as
signed, but the string that is hashed is not published: ``signing`` holds the candidate
recipes, and ``carriers.pandapon.signature`` (``auto`` by default) picks one. ``auto`` starts with
the recipe the account accepted before (the state store remembers it), else ``pairs``, and tries
the next candidate only when PandaPon answers "signature invalid" (or, before any recipe was
accepted, rejects a timestamp the next candidate writes in another unit), at most once each per
request. Business parameters are not signed. The secret only ever enters that hash.

Quirks:

* The manual's example answers ``code: 200`` (msg "成功"); the logistics page shows ``code: 0``.
  Both are success. The error-code table is not public: ``CODE_KINDS`` holds the codes the
  sandbox uses (assumed), ``WORD_KINDS`` recognises the same errors by their message.
* An unknown order has no documented answer; it is recognised as code 4004 or a message such as
  "订单不存在" (see ``sandbox/pandapon.py``). A known order without parcels answers an empty list.
* ``data`` of the 1688 endpoint is a list, one item per parcel; the Taobao one is an object whose
  ``pnmLogisticsDetails`` lists the parcels. Empty strings mean "missing".
* ``standerdDesc`` (sic) is Cainiao's spelling. Times are naive ``yyyy-MM-dd HH:mm:ss``,
  Asia/Shanghai unless ``timezone`` is configured.
* ``traceNodeList.facilityType`` is 1 for an outlet, 2 for a sorting centre; the facility's name
  already says which, so only ``facilityName`` (else ``areaCode``) becomes the location.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any, Literal

from waypost.carriers._parse import (
    WordRules,
    as_dict,
    as_list,
    merge_events,
    parse_time,
    text,
)
from waypost.carriers.base import AnswerCodes, Query
from waypost.carriers.pandapon import NAME, PATH_1688, PATH_TAOBAO, SERVICE, SUCCESS_CODES, Platform
from waypost.carriers.pandapon import signing as pandapon_sign
from waypost.errors import AuthError, CarrierError, ProtocolError, RateLimited
from waypost.models import Event, Shipment, Status

# 1688 ``logisticsStatus`` (OpenPlatformLogisticsOrder.status of alibaba.trade.getLogisticsInfos).
# UNSIGN is "签收异常", a sign-for exception: refusals and problem parcels as well as a missed
# delivery, and the buyer has to act, so it is an exception rather than a failed attempt.
LOGISTICS_STATUS: dict[str, Status] = {
    "WAITACCEPT": Status.INFO_RECEIVED,  # 未受理: the courier has not accepted it yet
    "CANCEL": Status.EXCEPTION,  # 已撤销: logistics order cancelled
    "ACCEPT": Status.IN_TRANSIT,  # 已受理: picked up
    "TRANSPORT": Status.IN_TRANSIT,  # 运输中
    "NOGET": Status.EXCEPTION,  # 揽件失败: pickup failed
    "SIGN": Status.DELIVERED,  # 已签收
    "UNSIGN": Status.EXCEPTION,  # 签收异常
}

# The same codes in words, for the status line (the raw code is no sentence).
LOGISTICS_WORDS: dict[str, str] = {
    "WAITACCEPT": "Not accepted by the courier yet",
    "CANCEL": "Logistics order cancelled",
    "ACCEPT": "Accepted by the courier",
    "TRANSPORT": "In transit",
    "NOGET": "Pickup failed",
    "SIGN": "Signed for",
    "UNSIGN": "Sign-for exception",
}
TRACE_WORDS: dict[str, str] = {
    **LOGISTICS_WORDS,
    "DELIVERING": "Out for delivery",
    "FAILED": "Delivery failed",
    "REJECT": "Refused or not picked up",
    "ERROR": "Exception",
}


def status_words(code: str | None, table: Mapping[str, str] = LOGISTICS_WORDS) -> str | None:
    """The words a status code means (``TRANSPORT`` -> ``In transit``); unknown codes as sent."""
    if code is None:
        return None
    return table.get(code.upper(), code)


# Trace node ``action``: the 1688 values, Cainiao's callback codes and Taobao's TMS_* codes.
ACTION_STATUS: dict[str, Status] = {
    "TRANSPORT": Status.IN_TRANSIT,
    "SIGN": Status.DELIVERED,
    "UNSIGN": Status.EXCEPTION,
    "ACCEPT": Status.IN_TRANSIT,
    "GOT": Status.IN_TRANSIT,
    "NOT_SEND": Status.EXCEPTION,
    "DEPARTURE": Status.IN_TRANSIT,
    "ARRIVAL": Status.IN_TRANSIT,
    "SENT_SCAN": Status.OUT_FOR_DELIVERY,
    "SIGNED": Status.DELIVERED,
    "FAILED": Status.FAILED_ATTEMPT,
    "TMS_ACCEPT": Status.IN_TRANSIT,  # 揽收
    "TMS_COLLECT": Status.IN_TRANSIT,  # 揽收中
    "TMS_STATION_IN": Status.IN_TRANSIT,  # 分站进
    "TMS_STATION_OUT": Status.IN_TRANSIT,  # 分站出
    "TMS_DELIVERING": Status.OUT_FOR_DELIVERY,  # 派送
    "TMS_SIGN": Status.DELIVERED,  # 签收成功
    "TMS_FAILED": Status.FAILED_ATTEMPT,  # 派送失败 / 拒签
    "TMS_REJECT": Status.EXCEPTION,  # 揽收失败
    "TMS_ERROR": Status.EXCEPTION,  # 异常
    "TMS_CANCEL": Status.EXCEPTION,  # 取消
}

# Taobao trace ``status`` (only TRANSPORT is documented), used when ``action`` says nothing.
TRACE_STATUS: dict[str, Status] = {
    "WAITACCEPT": Status.INFO_RECEIVED,
    "ACCEPT": Status.IN_TRANSIT,
    "TRANSPORT": Status.IN_TRANSIT,
    "DELIVERING": Status.OUT_FOR_DELIVERY,
    "SIGN": Status.DELIVERED,
    "FAILED": Status.FAILED_ATTEMPT,
    "REJECT": Status.EXCEPTION,
    "ERROR": Status.EXCEPTION,
}

# Remark words -> Status, first match wins; for ``logisticsSteps`` (no action) and to refine a
# generic in-transit action ("TRANSPORT" covers everything from pickup to the doorstep).
STEP_RULES = WordRules(
    (
        (r"派送失败|投递失败|未妥投|无人签收|联系不上|delivery failed", Status.FAILED_ATTEMPT),
        (r"拒收|拒签|退回|退件|异常|问题件|丢失|破损|refused|returned", Status.EXCEPTION),
        (r"已签收|签收成功|妥投|代签收|本人签收|\bdelivered\b", Status.DELIVERED),
        (r"驿站|快递柜|丰巢|待取件|取件码|自提|代收点", Status.AVAILABLE_FOR_PICKUP),
        (r"派件|派送中|正在派送|开始派送|投递中|out for delivery", Status.OUT_FOR_DELIVERY),
        (r"等待揽收|待揽收|已下单|卖家已发货", Status.INFO_RECEIVED),
    )
)

Kind = Literal["auth", "signature", "clock", "replay", "not_found", "rate", "error"]

# Error codes of the sandbox (PandaPon's own table is not public): assumed, kept in one place.
CODE_KINDS: dict[str, Kind] = {
    "401": "auth",
    "403": "auth",
    "1001": "auth",  # missing or malformed system header
    "1002": "auth",  # unknown access-key or user-id
    "1003": "signature",  # signature mismatch
    "1004": "clock",  # timestamp more than 600 s from the server's clock
    "1005": "replay",  # nonce-str already used
    "4004": "not_found",  # no such order
    "429": "rate",
}

_WORDS: tuple[tuple[str, Kind], ...] = (
    (r"nonce|重放|replay", "replay"),
    (r"签名|验签|signature|\bsign\b", "signature"),
    (r"timestamp|时间戳|请求已过期|request expired", "clock"),
    (
        r"签名|signature|access[-_ ]?key|user[-_ ]?id|secret|鉴权|认证|授权|unauthori|"
        r"forbidden|permission denied",
        "auth",
    ),
    (r"订单不存在|不存在的订单|order (does )?not (exist|found)|no such order", "not_found"),
    (r"频繁|too many requests|rate limit|限流", "rate"),
)
WORD_KINDS: tuple[tuple[re.Pattern[str], Kind], ...] = tuple(
    (re.compile(p, re.I), k) for p, k in _WORDS
)

_DIGITS = re.compile(r"\d+")
# The order id ``carriers --check`` asks for: digits, so it passes the parameter check, and no
# real order, so an accepted signature answers "order does not exist" and reads nothing.
CHECK_ORDER = "1"


def sign(access_key: str, secret: str, timestamp: str, nonce: str, recipe: str = "pairs") -> str:
    """The ``signature`` header by one of the candidate recipes (``signing``)."""
    return pandapon_sign.BY_NAME[recipe].sign(access_key, secret, timestamp, nonce)


def signed_headers(
    access_key: str, secret: str, user_id: str, timestamp: str, nonce: str, recipe: str = "pairs"
) -> dict[str, str]:
    """The five system-parameter headers of one request."""
    return {
        "access-key": access_key,
        "timestamp": timestamp,
        "nonce-str": nonce,
        "user-id": user_id,
        "signature": sign(access_key, secret, timestamp, nonce, recipe),
    }


def new_nonce() -> str:
    """A fresh 32-character ``nonce-str`` (lower-case hex)."""
    return secrets.token_hex(16)


def now_ms() -> str:
    """The ``timestamp`` header: UTC milliseconds since the epoch."""
    return str(int(time.time() * 1000))


def platform_of(query: Query) -> Platform:
    """``taobao`` for ``pandapon:taobao:ID``, else 1688."""
    return "taobao" if query.courier == "taobao" else "1688"


def build_request(platform: Platform, order_id: str) -> tuple[str, dict[str, str]]:
    """Path and query parameters of the logistics call for one order."""
    if platform == "taobao":
        return PATH_TAOBAO, {"subPurchaseOrderId": order_id}
    return PATH_1688, {"orderId": order_id}


def _code(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return text(value) or ""


def classify(code: str, msg: str | None) -> Kind:
    """What an error envelope means: by its code first, else by its message; a generic auth
    code whose message speaks of the signature is a signature rejection."""
    by_words = next((k for p, k in WORD_KINDS if msg and p.search(msg)), None)
    if code in CODE_KINDS:
        kind = CODE_KINDS[code]
        return "signature" if kind == "auth" and by_words == "signature" else kind
    return by_words or "error"


def rejection(payload: Any) -> Kind | None:
    """The kind of an error envelope (None for success or anything that is no envelope)."""
    if not isinstance(payload, dict) or "code" not in payload:
        return None
    code = _code(payload.get("code"))
    if code in SUCCESS_CODES:
        return None
    return classify(code, text(payload.get("msg")))


def envelope_error(code: str, msg: str | None, request_id: str | None) -> CarrierError:
    """The error for an envelope whose code is not success (not for "no such order")."""
    words = msg or "no message"
    ref = f"; requestId {request_id}" if request_id else ""
    detail = f"code {code or '?'}: {words}{ref}"
    kind = classify(code, msg)
    if kind == "signature":
        return AuthError(
            f"{NAME}: credentials rejected ({detail})",
            carrier=NAME,
            hint="PandaPon refused the request signature: check carriers.pandapon.secret and "
            "access_key; `waypost carriers --check pandapon` says which signing recipe the "
            "account accepts (carriers.pandapon.signature)",
        )
    if kind == "auth":
        return AuthError(
            f"{NAME}: credentials rejected ({detail})",
            carrier=NAME,
            hint="check carriers.pandapon.user_id, access_key and secret (`waypost config show`)",
        )
    if kind == "clock":
        return AuthError(
            f"{NAME}: request timestamp rejected ({detail})",
            carrier=NAME,
            hint="PandaPon wants the clock within 600 s of UTC: check this machine's time",
        )
    if kind == "replay":
        return CarrierError(f"{NAME}: request rejected as a replay ({detail})", carrier=NAME)
    if kind == "rate":
        return RateLimited(f"{NAME}: too many requests ({detail})", carrier=NAME)
    return CarrierError(f"{NAME}: error {detail}", carrier=NAME)


def _upper(value: Any) -> str:
    return (text(value) or "").upper()


def event_status(action: Any, fallback: Any, words: str | None) -> Status:
    """A trace node's Status: a specific ``action`` (else ``status``) wins; remark words refine
    a generic in-transit code; unknown codes are in transit."""
    for code, table in ((action, ACTION_STATUS), (fallback, TRACE_STATUS)):
        found = table.get(_upper(code))
        if found is not None and found is not Status.IN_TRANSIT:
            return found
    return STEP_RULES.match(words) or Status.IN_TRANSIT


def shipment_status(raw: str | None, events: Sequence[Event]) -> Status:
    """The parcel's Status from 1688's ``logisticsStatus``, refined by the newest event."""
    newest = events[0].status if events else None
    if raw is None:
        return newest or Status.INFO_RECEIVED
    status = LOGISTICS_STATUS.get(raw.upper(), Status.IN_TRANSIT)
    if status is Status.IN_TRANSIT and newest is not None and newest is not Status.INFO_RECEIVED:
        return newest
    return status


def _place(*parts: Any) -> str | None:
    seen: list[str] = []
    for part in (text(p) for p in parts):
        if part and part not in seen:
            seen.append(part)
    return " ".join(seen) or None


def parse_node(item: Any, tz: tzinfo | None) -> Event | None:
    """One 1688 ``traceNodeList`` node (or ``logisticsSteps`` step); None when empty."""
    node = as_dict(item)
    description = text(node.get("remark"))
    when = parse_time(node.get("acceptTime"), tz)
    if description is None and when is None:
        return None
    return Event(
        time=when,
        location=text(node.get("facilityName")) or text(node.get("areaCode")),
        description=description,
        status=event_status(node.get("action"), None, description),
    )


def parse_trace(item: Any, tz: tzinfo | None) -> Event | None:
    """One Taobao ``logisticsTraces`` item; None when empty."""
    node = as_dict(item)
    description = text(node.get("standerdDesc")) or text(node.get("statusDesc"))
    when = parse_time(node.get("time"), tz)
    if description is None and when is None:
        return None
    return Event(
        time=when,
        location=text(node.get("facilityName"))
        or _place(node.get("province"), node.get("city"), node.get("district")),
        description=description,
        status=event_status(node.get("action"), node.get("status"), description),
    )


def _events(items: Any, tz: tzinfo | None) -> list[Event]:
    return merge_events(e for e in (parse_node(i, tz) for i in as_list(items)) if e)


def parse_parcel_1688(item: Any, order_id: str, tz: tzinfo | None) -> Shipment | None:
    """One item of the 1688 ``data`` list; None when it carries nothing at all."""
    node = as_dict(item)
    events = _events(node.get("traceNodeList"), tz) or _events(node.get("logisticsSteps"), tz)
    bill = text(node.get("logisticsBillNo")) or text(node.get("logisticsId"))
    raw_status = text(node.get("logisticsStatus"))
    if bill is None and raw_status is None and not events:
        return None
    return Shipment(
        tracking_number=bill or order_id,
        carrier=NAME,
        found=True,
        status=shipment_status(raw_status, events),
        status_text=status_words(raw_status) or (events[0].description if events else None),
        service=SERVICE["1688"],
        last_update=events[0].time if events else None,
        events=events,
        order_id=order_id,
    )


def parse_parcel_taobao(item: Any, order_id: str, tz: tzinfo | None) -> Shipment | None:
    """One ``pnmLogisticsDetails`` item; None when it carries nothing at all."""
    node = as_dict(item)
    pairs = [(parse_trace(t, tz), as_dict(t)) for t in as_list(node.get("logisticsTraces"))]
    events = merge_events(e for e, _ in pairs if e)
    bill = text(node.get("mailNo"))
    if bill is None and not events:
        return None
    partners = (text(as_dict(p).get("company")) for p in as_list(node.get("logisticsPartner")))
    company = next((c for c in partners if c), None)
    receiver = as_dict(node.get("receiver"))
    newest = next((t for e, t in pairs if events and e is events[0]), {})
    oldest = next((t for e, t in pairs if events and e is events[-1]), {})
    return Shipment(
        tracking_number=bill or order_id,
        carrier=NAME,
        courier=company,
        found=True,
        status=events[0].status if events else Status.INFO_RECEIVED,
        status_text=text(newest.get("statusDesc"))
        or status_words(text(newest.get("status")), TRACE_WORDS),
        service=SERVICE["taobao"],
        origin=_place(oldest.get("province"), oldest.get("city")),
        destination=_place(receiver.get("province"), receiver.get("city")),
        last_update=events[0].time if events else None,
        events=events,
        order_id=order_id,
    )


def _not_found(order_id: str, platform: Platform, msg: str | None) -> Shipment:
    return Shipment(
        tracking_number=order_id,
        carrier=NAME,
        found=False,
        status=Status.NOT_FOUND,
        status_text=msg,
        service=SERVICE[platform],
        order_id=order_id,
    )


def _pending(order_id: str, platform: Platform) -> Shipment:
    return Shipment(
        tracking_number=order_id,
        carrier=NAME,
        found=True,
        status=Status.PENDING,
        service=SERVICE[platform],
        order_id=order_id,
    )


def parse_response(
    payload: Any, order_id: str, platform: Platform, tz: tzinfo | None
) -> list[Shipment]:
    """One logistics answer -> one Shipment per parcel; errors raise CarrierError.

    An unknown order is one not-found Shipment; a known order without parcels (an empty or null
    ``data``) one pending Shipment numbered by the order id.
    """
    envelope = as_dict(payload)
    if "code" not in envelope:
        raise ProtocolError(f"{NAME}: answer without a 'code' field", carrier=NAME)
    code = _code(envelope.get("code"))
    msg = text(envelope.get("msg"))
    if code not in SUCCESS_CODES:
        if classify(code, msg) == "not_found":
            return [_not_found(order_id, platform, msg)]
        raise envelope_error(code, msg, text(envelope.get("requestId")))
    data = envelope.get("data")
    if platform == "taobao":
        if not isinstance(data, dict | None):
            raise ProtocolError(f"{NAME}: Taobao 'data' is not an object", carrier=NAME)
        details = as_list(as_dict(data).get("pnmLogisticsDetails"))
        parcels = [parse_parcel_taobao(i, order_id, tz) for i in details]
    else:
        items = [] if data is None else [data] if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ProtocolError(f"{NAME}: 1688 'data' is not a list", carrier=NAME)
        parcels = [parse_parcel_1688(i, order_id, tz) for i in items]
    found = [p for p in parcels if p is not None]
    return found or [_pending(order_id, platform)]


def _is_envelope(payload: Any) -> bool:
    return isinstance(payload, dict) and "code" in payload


def _stand_in(status: int) -> dict[str, Any]:
    return {"code": str(status), "msg": f"HTTP {status}"}


# HTTP 401/403 without an envelope read as PandaPon's codes 401/403 (credentials rejected).
ANSWERS = AnswerCodes(envelope=_is_envelope, stand_in=_stand_in, bare=frozenset({401, 403}))
