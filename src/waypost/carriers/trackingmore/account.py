"""TrackingMore account operations of the watch list (issue 19): archive, change the courier,
read the remaining quota, for API v2 and v4 (the adapters ``v2.py`` and ``v4.py`` make the
calls, with their limits and error rules).

Sources (read for the facts only):

* v2 ``POST /trackings/update`` ``{"tracking_number", "carrier_code", "update_carrier_code"}``
  answers ``data: {"Usertag": ""}``; ``GET /trackings/getuserinfo`` answers ``data: {"email",
  "regtime", "phone", "money", "track_number"}``, titled "query the user's remaining quota"
  (查询用户剩余额度); ``POST /trackings/notupdate`` takes ``[{"tracking_number",
  "carrier_code"}]`` and answers ``{"submitted", "change", "trackings"}``; ``POST
  /trackings/updatemore`` takes items with ``tracking_number``, ``carrier_code`` and
  ``archived`` ("true"/"false" as a string): TrackingMore's v2 API pages
  trackingmore.com/api-track-update-carrier-cn.html, api-get-user-info-cn.html,
  api-track-batch-not-update-tw.html, api-track-updatemore-tracking-item-tw.html, and the
  endpoint list in ``shared/seeds/trackingmore-api-v2-realtime.txt``.
* v4 ``PUT /trackings/update/{id}`` with ``courier_code_new`` or ``archived_status``
  (``archived`` / ``tracking``, the values of ``GET /trackings/get?archived_status=``):
  ``TrackingMore-API/trackingmore-sdk-java`` @ 5688016 (``UpdateTrackingParams.java``).
  v4 has no account or quota endpoint in the official SDKs (python ``tracking.py``,
  ``courier.py``, ``air_waybill.py``; java ``service/``): its quota is only seen when it runs
  out (meta 4190), so ``quota`` is None for v4, and ``check`` proves the key with ``GET
  /couriers/all`` instead (python SDK ``courier.py``; 10 requests/s, as every v4 endpoint but
  create).

Chosen here: ``track_number`` is read as the trackings the account may still create (each
created tracking costs one); ``money`` is its balance; e-mail and phone are never read.
``notupdate`` has no documented inverse, so ``--undo`` on v2 sets ``archived`` back to
"false" only (TrackingMore may keep the tracking frozen). A number that is not in the account
(4017, 4102) is fine: there is nothing to change there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from waypost.carriers._parse import as_dict, text
from waypost.carriers.base import Answer, Query
from waypost.errors import CarrierError
from waypost.models import Shipment

NAME = "trackingmore"
V2_UPDATE = "/trackings/update"
V2_UPDATEMORE = "/trackings/updatemore"
V2_NOTUPDATE = "/trackings/notupdate"
V2_USERINFO = "/trackings/getuserinfo"
V2_ENDPOINTS = (V2_UPDATE, V2_UPDATEMORE, V2_NOTUPDATE, V2_USERINFO)
V2_MAX_ITEMS = 40  # per updatemore/notupdate call: the batch limit (no other is documented)
NOT_IN_ACCOUNT = "was not in the TrackingMore account"


def _done(query: Query, courier: str | None, words: str) -> Answer:
    return Answer(
        query,
        [Shipment(tracking_number=query.number, carrier=NAME, courier=courier, status_text=words)],
    )


def _failed(adapter: Any, query: Query, err: CarrierError) -> Answer:
    answer: Answer = adapter._failed(query, err)
    return answer


def _v4(adapter: Any) -> bool:
    return type(adapter).__module__.endswith("trackingmore.v4")


def _chunks(values: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


async def archive(adapter: Any, queries: Sequence[Query], *, archived: bool = True) -> list[Answer]:
    """Archive numbers in the account (or bring them back) so that it stops refreshing them."""
    if _v4(adapter):
        return await _archive_v4(adapter, queries, archived)
    return await _archive_v2(adapter, queries, archived)


async def change_courier(adapter: Any, query: Query, courier: str) -> Answer:
    """Move a number of the account to another courier (it is then fetched again)."""
    if _v4(adapter):
        return await _courier_v4(adapter, query, courier)
    return await _courier_v2(adapter, query, courier)


async def quota(adapter: Any) -> dict[str, Any] | None:
    """What the account has left (``remaining`` trackings, ``balance``); None: not told."""
    if _v4(adapter):
        return None
    from waypost.carriers.trackingmore.shared import _float

    _, data = await adapter.call(V2_USERINFO, "GET", V2_USERINFO, wait=False)
    node = as_dict(data)
    return {"remaining": _count(node.get("track_number")), "balance": _float(node.get("money"))}


async def check(adapter: Any) -> None:
    """One real call that needs the key, for ``carriers --check`` on v4 (which tells no
    quota): ``GET /couriers/all`` (10/s), never answered from the cache; a refusal raises."""
    from waypost.carriers.trackingmore import v4_api

    await adapter.call(v4_api.COURIERS, "GET", v4_api.COURIERS)


def _count(value: Any) -> int | None:
    """A whole number the account states (digits, as a number or a string)."""
    raw = text(value)
    return (
        int(raw) if raw is not None and raw.isascii() and raw.isdigit() and len(raw) < 16 else None
    )


# -- v2 -----------------------------------------------------------------------------------------


async def _v2_couriers(
    adapter: Any, queries: Sequence[Query]
) -> tuple[dict[Any, str | None], dict[str, CarrierError]]:
    """The courier each number has in the account (query, cache, else one read)."""
    couriers: dict[Any, str | None] = {
        q.key: q.courier or adapter._member(q.number) or None for q in queries
    }
    unknown = [q for q in queries if not couriers[q.key]]
    held, failures = await adapter._read_account(unknown, wait=True) if unknown else ({}, {})
    for q in unknown:
        items = held.get(q.number, [])
        couriers[q.key] = text(items[0].get("carrier_code")) if items else None
    return couriers, failures


async def _archive_v2(adapter: Any, queries: Sequence[Query], archived: bool) -> list[Answer]:
    couriers, failures = await _v2_couriers(adapter, queries)
    known = [q for q in queries if couriers[q.key] and q.number not in failures]
    failed: dict[Any, CarrierError] = {}
    flag = "true" if archived else "false"
    for chunk in _chunks(known, V2_MAX_ITEMS):
        items = [
            {"tracking_number": q.number, "carrier_code": couriers[q.key], "archived": flag}
            for q in chunk
        ]
        pairs = [{"tracking_number": q.number, "carrier_code": couriers[q.key]} for q in chunk]
        try:
            await adapter.call(
                V2_UPDATEMORE, "POST", V2_UPDATEMORE, json=items, accept={4017}, wait=True
            )
            if archived:
                await adapter.call(
                    V2_NOTUPDATE, "POST", V2_NOTUPDATE, json=pairs, accept={4017}, wait=True
                )
        except CarrierError as err:
            failed.update((q.key, err) for q in chunk)
    words = "archived in the TrackingMore account" if archived else "active again in the account"
    answers = []
    for q in queries:
        problem = failures.get(q.number) or failed.get(q.key)
        if problem is not None:
            answers.append(_failed(adapter, q, problem))
        else:
            answers.append(_done(q, couriers[q.key], words if couriers[q.key] else NOT_IN_ACCOUNT))
    return answers


async def _courier_v2(adapter: Any, query: Query, courier: str) -> Answer:
    couriers, failures = await _v2_couriers(adapter, [query])
    if query.number in failures:
        return _failed(adapter, query, failures[query.number])
    old = couriers[query.key]
    if not old:
        return _done(query, courier, NOT_IN_ACCOUNT)
    body = {"tracking_number": query.number, "carrier_code": old, "update_carrier_code": courier}
    try:
        code, _ = await adapter.call(
            V2_UPDATE, "POST", V2_UPDATE, json=body, accept={4017}, wait=True
        )
    except CarrierError as err:
        return _failed(adapter, query, err)
    if code == 4017:
        return _done(query, courier, NOT_IN_ACCOUNT)
    adapter._remember(query.number, courier)
    return _done(query, courier, f"moved from {old} to {courier} in the TrackingMore account")


# -- v4 -----------------------------------------------------------------------------------------


async def _v4_items(
    adapter: Any, queries: Sequence[Query]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, CarrierError]]:
    from waypost.carriers.trackingmore import v4_api as api

    numbers = list(dict.fromkeys(q.number for q in queries))
    held: dict[str, list[dict[str, Any]]] = {}
    failures: dict[str, CarrierError] = {}
    for chunk, result in await asyncio.gather(
        *(adapter._read_chunk(c, wait=True) for c in _chunks(numbers, api.MAX_NUMBERS))
    ):
        if isinstance(result, CarrierError):
            failures.update((n, result) for n in chunk)
        else:
            held.update(result)
    return held, failures


async def _update_v4(adapter: Any, tracking_id: str, body: dict[str, str]) -> dict[str, Any]:
    from waypost.carriers.trackingmore import v4_api as api

    _, data = await adapter.call(
        api.UPDATE, "PUT", api.item_path(api.UPDATE, tracking_id), json=body, wait=True
    )
    return as_dict(data)


async def _archive_v4(adapter: Any, queries: Sequence[Query], archived: bool) -> list[Answer]:
    held, failures = await _v4_items(adapter, queries)
    body = {"archived_status": "archived" if archived else "tracking"}
    words = "archived in the TrackingMore account" if archived else "active again in the account"

    async def one(q: Query) -> Answer:
        if q.number in failures:
            return _failed(adapter, q, failures[q.number])
        items = [i for i in held.get(q.number, []) if q.courier in (None, i.get("courier_code"))]
        said = NOT_IN_ACCOUNT
        courier = q.courier
        for item in items:
            tracking_id = text(item.get("id"))
            courier = text(item.get("courier_code")) or courier
            if not tracking_id:
                continue
            try:
                await _update_v4(adapter, tracking_id, body)
            except (CarrierError, ValueError) as err:
                failure = err if isinstance(err, CarrierError) else CarrierError(str(err))
                return _failed(adapter, q, failure)
            said = words
        return _done(q, courier, said)

    return list(await asyncio.gather(*(one(q) for q in queries)))


async def _courier_v4(adapter: Any, query: Query, courier: str) -> Answer:
    held, failures = await _v4_items(adapter, [query])
    if query.number in failures:
        return _failed(adapter, query, failures[query.number])
    items = held.get(query.number, [])
    if not items:
        return _done(query, courier, NOT_IN_ACCOUNT)
    item = items[0]
    old = text(item.get("courier_code"))
    tracking_id = text(item.get("id"))
    if not tracking_id:
        return _done(query, courier, NOT_IN_ACCOUNT)
    try:
        await _update_v4(adapter, tracking_id, {"courier_code_new": courier})
    except (CarrierError, ValueError) as err:
        failure = err if isinstance(err, CarrierError) else CarrierError(str(err))
        return _failed(adapter, query, failure)
    return _done(query, courier, f"moved from {old} to {courier} in the TrackingMore account")
