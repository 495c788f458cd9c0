"""ILS strategy: chunks of 100, concurrent, through the real Session."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import httpx
import respx

from waypost.carriers.base import Query, TrackOptions
from waypost.carriers.ils import adapter as ils_adapter
from waypost.http import Session
from waypost.models import Status

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _answer_all(request: httpx.Request) -> httpx.Response:
    numbers = json.loads(request.content)["trackingNos"]
    body = [
        {"consignment": n, "orderStatus": {"Status": "Booked"}, "billTrackList": []}
        for n in numbers
    ]
    return httpx.Response(200, json={"code": 200, "msg": "", "body": body})


def test_250_numbers_go_out_as_3_concurrent_requests_of_at_most_100() -> None:
    import asyncio

    in_flight = 0
    peak = 0
    sizes: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        sizes.append(len(json.loads(request.content)["trackingNos"]))
        await asyncio.sleep(0)  # let the other chunks start before this one answers
        await asyncio.sleep(0)
        in_flight -= 1
        return _answer_all(request)

    queries = [Query(f"{i:04d}E{i:07d}", "ils") for i in range(250)]

    async def go() -> list[object]:
        with respx.mock(assert_all_called=True) as mock:
            mock.post("http://ils.test/oms/v2/event/getOrdersTrack").mock(side_effect=handler)
            async with Session() as session:
                adapter = ils_adapter.Adapter(
                    {"user_id": "1", "pdd": "k", "base_url": "http://ils.test"}, session
                )
                return list(await adapter.track(queries, TrackOptions()))

    answers = asyncio.run(go())
    assert sorted(sizes) == [50, 100, 100]
    assert peak == 3
    assert [a.query.number for a in answers] == [q.number for q in queries]  # type: ignore[attr-defined]
    assert all(a.shipments[0].status is Status.INFO_RECEIVED for a in answers)  # type: ignore[attr-defined]


def _track_with(answer: httpx.Response) -> list[object]:
    import asyncio

    async def go() -> list[object]:
        with respx.mock(assert_all_called=True) as mock:
            mock.post("http://ils.test/oms/v2/event/getOrdersTrack").mock(return_value=answer)
            async with Session() as session:
                adapter = ils_adapter.Adapter(
                    {"user_id": "1", "pdd": "k", "base_url": "http://ils.test"}, session
                )
                return list(await adapter.track([Query("3676E4043665", "ils")], TrackOptions()))

    return asyncio.run(go())


def test_a_bare_401_reads_as_ils_code_401_and_an_enveloped_one_by_its_code() -> None:
    from waypost.errors import AuthError, CarrierError

    bare = _track_with(httpx.Response(401, text="<html>Unauthorized</html>"))
    failure = bare[0].failure  # type: ignore[attr-defined]
    assert isinstance(failure, AuthError)
    assert "credentials rejected (code 401: HTTP 401)" in failure.message
    assert "carriers.ils.pdd" in (failure.hint or "")
    wrapped = _track_with(httpx.Response(403, json={"code": 500, "msg": "busy", "body": None}))
    failure = wrapped[0].failure  # type: ignore[attr-defined]
    assert type(failure) is CarrierError
    assert "error code 500: busy" in failure.message
