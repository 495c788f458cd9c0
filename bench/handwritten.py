"""What a competent user would write instead of waypost: the yardstick of `bench/versus.py`.

httpx + asyncio, batches at the API maxima (ILS 100 numbers per POST, all at once; TrackingMore v4,
waypost's default API, 40 numbers per `GET /trackings/get`, at most 10 calls a second as
documented), and the same fields as
`waypost track --json` (schema 1) printed as one indented JSON document. Credentials and base
URLs come from the same `WAYPOST_*` variables the sandbox prints. It does what the job needs and
no more: no retries, no cache, no config file, no validation beyond what the answers need.

    python bench/handwritten.py ils < numbers.txt
    python bench/handwritten.py trackingmore < numbers.txt
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ILS_BATCH = 100
TM_BATCH = 40
TM_GET_PER_SECOND = 10  # v4's documented limit of GET /trackings/get
SHANGHAI = ZoneInfo("Asia/Shanghai")

ILS_WORDS = (  # first match wins, as a user would write it after reading a few answers
    (("held", "exception", "returned", "refused", "lost", "damaged"), "exception"),
    (("not delivered", "undeliver", "attempt", "failed"), "failed_attempt"),
    (("out for delivery",), "out_for_delivery"),
    (("ready for collection", "pick up point", "pickup point"), "available_for_pickup"),
    (("delivered", "signed by", "signed for"), "delivered"),
    (("information received", "booked", "label created", "manifest"), "info_received"),
)
TM_STATUS = {  # v4's delivery_status words
    "pending": "pending",
    "notfound": "not_found",
    "transit": "in_transit",
    "pickup": "out_for_delivery",
    "delivered": "delivered",
    "undelivered": "failed_attempt",
    "exception": "exception",
    "expired": "expired",
    "inforeceived": "info_received",
}


def ils_status(words: str | None) -> str | None:
    low = (words or "").lower()
    for needles, status in ILS_WORDS:
        if any(n in low for n in needles):
            return status
    return None


def when(raw: Any, tz: ZoneInfo | None) -> str | None:
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(str(raw).replace("/", "-"))
    except ValueError:
        return None
    if parsed.tzinfo is None and tz is not None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.isoformat()


def shipment(number: str, carrier: str, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tracking_number": number,
        "carrier": carrier,
        "courier": None,
        "found": False,
        "status": "not_found",
        "status_text": None,
        "service": None,
        "origin": None,
        "destination": None,
        "last_update": None,
        "events": [],
        "error": None,
        "order_id": None,
    }
    out.update(fields)
    return out


def ils_item(number: str, item: dict[str, Any] | None) -> dict[str, Any]:
    if item is None or not isinstance(item.get("orderStatus"), dict):
        return shipment(number, "ils", status_text=(item or {}).get("msg"))
    fields = {k.replace(" ", "").lower(): v for k, v in item["orderStatus"].items()}
    events = []
    for node in item.get("billTrackList") or []:
        desc = node.get("desc")
        events.append(
            {
                "time": when(node.get("date"), SHANGHAI),
                "location": node.get("deport") or None,
                "description": desc,
                "status": ils_status(desc) or "in_transit",
                "images": list(node.get("img") or []),
            }
        )
    events.sort(key=lambda e: e["time"] or "", reverse=True)
    status_text = fields.get("status")
    return shipment(
        number,
        "ils",
        found=True,
        status=ils_status(status_text) or (events[0]["status"] if events else "info_received"),
        status_text=status_text,
        service=fields.get("service"),
        origin=fields.get("despatchdepot"),
        destination=fields.get("deliverydepot"),
        last_update=when(fields.get("lastscan"), SHANGHAI),
        events=events,
    )


async def ils(client: httpx.AsyncClient, numbers: list[str]) -> list[dict[str, Any]]:
    url = os.environ["WAYPOST_ILS_BASE_URL"].rstrip("/") + "/oms/v2/event/getOrdersTrack"
    auth = {"userId": os.environ["WAYPOST_ILS_USER_ID"], "pdd": os.environ["WAYPOST_ILS_PDD"]}

    async def batch(chunk: list[str]) -> list[dict[str, Any]]:
        body = {**auth, "method": "trackOrders", "trackingNos": chunk}
        response = await client.post(url, json=body)
        response.raise_for_status()
        items = {i["consignment"]: i for i in response.json().get("body") or []}
        return [ils_item(n, items.get(n)) for n in chunk]

    chunks = [numbers[i : i + ILS_BATCH] for i in range(0, len(numbers), ILS_BATCH)]
    answers = await asyncio.gather(*(batch(c) for c in chunks))
    return [s for chunk in answers for s in chunk]


SUBSTATUS = {"pickup002": "available_for_pickup", "notfound001": "info_received"}


def tm_event(node: dict[str, Any]) -> dict[str, Any]:
    status = node.get("checkpoint_delivery_status") or ""
    sub = node.get("checkpoint_delivery_substatus") or ""
    return {
        "time": when(node.get("checkpoint_date"), None),
        "location": node.get("location") or None,
        "description": node.get("tracking_detail"),
        "status": SUBSTATUS.get(sub) or TM_STATUS.get(status, "in_transit"),
        "images": [],
    }


def tm_item(number: str, item: dict[str, Any] | None) -> dict[str, Any]:
    if item is None:
        return shipment(number, "trackingmore", error="not in the account")
    seen: dict[tuple[Any, Any], dict[str, Any]] = {}
    for leg in ("destination_info", "origin_info"):
        for node in (item.get(leg) or {}).get("trackinfo") or []:
            event = tm_event(node)
            key = (event["time"], (event["description"] or "").casefold())
            if key not in seen or (event["location"] and not seen[key]["location"]):
                seen[key] = event  # both legs report the steps they share
    events = sorted(seen.values(), key=lambda e: e["time"] or "", reverse=True)
    main = item.get("delivery_status") or ""
    status = SUBSTATUS.get(item.get("substatus") or "") or TM_STATUS.get(
        main, "in_transit" if events else "pending"
    )
    latest = item.get("latest_event") or None
    stamp = item.get("latest_checkpoint_time")
    if latest and stamp and latest.endswith("," + stamp):
        latest = latest[: -len(stamp) - 1].strip(" ,")
    return shipment(
        number,
        "trackingmore",
        courier=item.get("courier_code"),
        found=status != "not_found",
        status=status,
        status_text=latest,
        service=item.get("service_code") or None,
        origin=item.get("origin_country") or None,
        destination=item.get("destination_country") or None,
        last_update=when(stamp, None),
        events=events,
        order_id=item.get("order_id") or None,
    )


async def trackingmore(client: httpx.AsyncClient, numbers: list[str]) -> list[dict[str, Any]]:
    url = os.environ["WAYPOST_TRACKINGMORE_BASE_URL"].rstrip("/") + "/trackings/get"
    headers = {"Tracking-Api-Key": os.environ["WAYPOST_TRACKINGMORE_API_KEY"]}
    bare = [n.rsplit(":", 1)[-1] for n in numbers]

    async def batch(chunk: list[str]) -> dict[str, dict[str, Any]]:
        query = {"tracking_numbers": ",".join(chunk)}
        response = await client.get(url, params=query, headers=headers)
        payload = response.json()
        if payload["meta"]["code"] != 200:
            raise SystemExit(f"trackingmore: {payload['meta']}")
        return {i["tracking_number"]: i for i in payload["data"]}

    # The documented 10 calls/s, counted as the server counts (arrivals): a wave of at most
    # 10 calls at once, the next wave one second after the last answer of this one came back.
    chunks = [bare[i : i + TM_BATCH] for i in range(0, len(bare), TM_BATCH)]
    found: dict[str, dict[str, Any]] = {}
    for w in range(0, len(chunks), TM_GET_PER_SECOND):
        if w:
            await asyncio.sleep(1.0)
        for part in await asyncio.gather(*(batch(c) for c in chunks[w : w + TM_GET_PER_SECOND])):
            found.update(part)
    return [tm_item(n, found.get(n)) for n in bare]


async def run(carrier: str, numbers: list[str]) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        return await (ils if carrier == "ils" else trackingmore)(client, numbers)


def main() -> None:
    carrier = sys.argv[1]
    numbers = [line.strip() for line in sys.stdin if line.strip()]
    shipments = asyncio.run(run(carrier, numbers))
    sys.stdout.write(json.dumps({"schema": 1, "shipments": shipments}, indent=2) + "\n")


if __name__ == "__main__":
    main()
