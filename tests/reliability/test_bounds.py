"""The bounds of issue 15, one unit at a time: the answer reader, Retry-After and pause caps,
TrackingMore's paging, unknown times, surrogates, and adopting an order's parcels."""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.bombs import gzip_bomb, zlib_bomb
from waypost import config
from waypost.carriers import _parse
from waypost.carriers import trackingmore as tm
from waypost.carriers.base import AnswerCodes, MemoryCache, Query, TrackOptions
from waypost.carriers.trackingmore import paged
from waypost.carriers.trackingmore import v2 as tm_v2
from waypost.errors import AuthError, ProtocolError, RateLimited, Timeout
from waypost.http import MAX_BODY, MAX_PAUSE, RetryPolicy, Session, read_answer, retry_after
from waypost.models import Shipment, Status
from waypost.render import Terminal, absolute
from waypost.store import Store

URL = "http://carrier.test/api"


def fetch(response: httpx.Response, max_body: int = 1 << 20) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.MockTransport(lambda request: response)
        async with Session(transport=transport, retry=RetryPolicy(attempts=1)) as session:
            session.max_body = max_body
            return await session.request("c", "GET", URL)

    return asyncio.run(go())


def streamed(body: bytes, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))


@functools.cache
def _packed(coding: str) -> bytes:
    """64 MB of spaces compressed, one stream as ``gzip.compress``/``zlib.compress`` make it,
    without compressing 64 MB (tests/bombs.py; made when a test first asks, not at collection)."""
    return gzip_bomb(64) if coding == "gzip" else zlib_bomb(64)


# Bodies over the 1 MB bound: the plain one, bombs (64 MB inflated) and 64 gzip members of 1 MB.
OVER: dict[str, tuple[Callable[[], bytes], str | None]] = {
    "plain": (lambda: b" " * (2 << 20), None),
    "gzip": (lambda: _packed("gzip"), "gzip"),
    "gzip-members": (lambda: gzip.compress(b" " * (1 << 20)) * 64, "gzip"),  # concatenated
    "deflate": (lambda: _packed("deflate"), "deflate"),
    "raw-deflate": (lambda: _packed("deflate")[2:-4], "deflate"),  # no zlib header
}


@pytest.mark.parametrize("over", OVER)
def test_bodies_over_the_bound_stop_while_streaming(over: str) -> None:
    make, coding = OVER[over]
    body = make()
    headers = {"Content-Encoding": coding} if coding else {}
    with pytest.raises(ProtocolError, match="larger than 1 MB"):
        fetch(streamed(body, **headers))


def test_the_default_bound_is_32_mb() -> None:
    # The hostile-server cases (test_hostile_answers.py) set ``[http] max_body_mb`` to 2 and
    # see the configured bound cut a run's answers; without the setting it is this one.
    assert config.load().max_body() == MAX_BODY == 32 << 20


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_compressed_answers_within_the_bound_are_inflated(coding: str) -> None:
    payload = json.dumps({"ok": "x" * 1000}).encode()
    packed = gzip.compress(payload) if coding == "gzip" else zlib.compress(payload)
    response = fetch(streamed(packed, **{"Content-Encoding": coding}))
    assert response.json() == {"ok": "x" * 1000}
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize("coding", ["br", "zstd", "x-odd"])
def test_an_unasked_content_coding_is_a_clear_error(coding: str) -> None:
    with pytest.raises(ProtocolError, match="unasked content coding"):
        fetch(streamed(b"{}", **{"Content-Encoding": coding}))


def test_a_broken_compressed_body_is_a_clear_error() -> None:
    broken = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 100
    with pytest.raises(ProtocolError, match="does not inflate"):
        fetch(streamed(broken, **{"Content-Encoding": "gzip"}))


def test_the_client_asks_only_for_codings_it_inflates() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["accept-encoding"])
        return httpx.Response(200, json={})

    async def go() -> None:
        async with Session(transport=httpx.MockTransport(handler)) as session:
            await session.request("c", "GET", URL)

    asyncio.run(go())
    assert seen == ["gzip, deflate"]


def answer(status: int, body: bytes, **kw: Any) -> Any:
    return read_answer(httpx.Response(status, content=body), "c", AnswerCodes(_has_code, **kw))


def _has_code(payload: Any) -> bool:
    return isinstance(payload, dict) and "code" in payload


@pytest.mark.parametrize(
    ("status", "body", "error", "words"),
    [
        (200, b"[" * 100_000 + b"]" * 100_000, ProtocolError, "nested too deeply"),
        (200, b"<html>oops</html>", ProtocolError, "an HTML page"),
        (200, b'{"code": 200, "body": [', ProtocolError, "truncated"),
        (200, b"", ProtocolError, "empty answer"),
        (502, b"<html>502</html>", ProtocolError, "HTTP 502"),
        (404, b'{"detail": "no"}', ProtocolError, "HTTP 404"),
        (401, b"", AuthError, "credentials rejected"),
        (429, b"", RateLimited, "too many requests"),
    ],
)
def test_read_answer_says_what_came_instead(
    status: int, body: bytes, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        answer(status, body)


def test_read_answer_takes_an_envelope_whatever_the_status() -> None:
    assert answer(400, b'{"code": 4012}') == {"code": 4012}
    assert answer(200, b'{"anything": 1}') == {"anything": 1}
    assert answer(200, b'{"t": "\xff\xfe"}') == {"t": "\ufffd\ufffd"}  # broken UTF-8 replaced


def test_read_answer_uses_the_carriers_own_refusal() -> None:
    def refused(status: int) -> Any:
        raise AuthError(f"mine {status}")

    with pytest.raises(AuthError, match="mine 403"):
        answer(403, b"", stand_in=refused, bare=frozenset({403}))


def test_a_bare_status_of_the_carriers_table_reads_as_its_stand_in_envelope() -> None:
    def stand_in(status: int) -> Any:
        return {"code": status, "msg": f"HTTP {status}"}

    table = {"stand_in": stand_in, "bare": frozenset({401, 429})}
    assert answer(429, b"<html>slow down</html>", **table) == {"code": 429, "msg": "HTTP 429"}
    assert answer(401, b"", **table) == {"code": 401, "msg": "HTTP 401"}
    assert answer(401, b'{"code": 4001}', **table) == {"code": 4001}  # an envelope wins
    with pytest.raises(AuthError, match="credentials rejected"):
        answer(403, b"", **table)  # not in the table: the default


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("99999999", MAX_PAUSE),
        ("9" * 5000, MAX_PAUSE),
        ("120", 120.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_PAUSE),
        ("\u0661\u0662", None),  # Arabic-Indic digits are not delta-seconds
    ],
)
def test_retry_after_is_capped(header: str, seconds: float | None) -> None:
    assert retry_after({"retry-after": header}) == seconds


@given(st.text(max_size=60))
def test_retry_after_never_raises_and_stays_within_the_cap(header: str) -> None:
    got = retry_after({"retry-after": header}, cap=10.0)
    assert got is None or 0.0 <= got <= 10.0


def test_a_pause_longer_than_the_deadline_is_reported_not_waited() -> None:
    async def go() -> None:
        transport = httpx.MockTransport(lambda request: httpx.Response(200))
        async with Session(transport=transport, deadline=5) as session:
            limiter = session.limiter("c", "e", 1.0)
            assert limiter is not None
            limiter.pause(250)
            await session.request("c", "GET", URL, limiter=limiter, wait_pause=True)

    with pytest.raises(RateLimited, match="paused for 250 s"):
        asyncio.run(go())


# -- TrackingMore: pauses and paging -----------------------------------------------------------

SETTINGS = {
    "api_key": "k",
    "base_url": "http://tm.test/v2",
    "get_rate": 1000.0,
    "realtime_rate": 1000.0,
    "default_rate": 1000.0,
}
OK = {"code": 200, "type": "Success", "message": "Success"}


def tm_run(
    handler: Callable[[httpx.Request, Session], httpx.Response],
    queries: list[Query],
    options: TrackOptions,
    cache: MemoryCache,
    **session_kw: Any,
) -> list[Any]:
    async def go() -> list[Any]:
        holder: list[Session] = []
        transport = httpx.MockTransport(lambda request: handler(request, holder[0]))
        async with Session(transport=transport, **session_kw) as session:
            holder.append(session)
            return list(await tm_v2.Adapter(SETTINGS, session, cache).track(queries, options))

    return asyncio.run(go())


def test_a_stored_pause_never_outlives_the_cap_and_says_what_is_left() -> None:
    cache = MemoryCache()
    cache.put(tm.NS_LIMITS, "paused_until", time.time() + 99999999)
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request, session: Session) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"meta": OK, "data": {"items": []}})

    (got,) = tm_run(
        handler, [Query("LS912989618CN", "trackingmore", "china-ems")], TrackOptions(), cache
    )
    assert sent == []
    assert isinstance(got.failure, RateLimited)
    assert "after an earlier run's 429; try again in 5 minutes" in got.failure.message
    assert cache.get(tm.NS_LIMITS, "paused_until") <= time.time() + MAX_PAUSE


def test_a_retry_after_of_years_pauses_for_the_cap() -> None:
    cache = MemoryCache()

    def handler(request: httpx.Request, session: Session) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "99999999"})

    (got,) = tm_run(
        handler, [Query("LS912989618CN", "trackingmore", "china-ems")], TrackOptions(), cache
    )
    assert isinstance(got.failure, RateLimited)
    assert "paused the account for 5 minutes; try again in 5 minutes" in got.failure.message
    assert got.failure.retry_after is not None
    assert got.failure.retry_after <= MAX_PAUSE
    assert cache.get(tm.NS_LIMITS, "paused_until") <= time.time() + MAX_PAUSE


def page_of(
    request: httpx.Request, count: int, total: Any = None, page: int | None = None
) -> httpx.Response:
    page = int(request.url.params.get("page", "1")) if page is None else page
    items = [
        {"id": f"{page}-{i}", "tracking_number": f"N{page}X{i}", "status": "transit"}
        for i in range(count)
    ]
    data: dict[str, Any] = {"items": items}
    if total is not None:
        data["total"] = str(total)
    return httpx.Response(200, json={"meta": OK, "data": data})


def watched() -> tuple[list[Query], MemoryCache]:
    cache = MemoryCache()
    cache.put(tm.NS_WATCH, "cursor", time.time() - 3600)
    cache.put(tm.NS_ACCOUNT, "RR050349575PH", "phlpost")
    return [Query("RR050349575PH", "trackingmore")], cache


def pages(request_log: list[httpx.Request]) -> int:
    return sum(1 for r in request_log if r.url.path.endswith("/trackings/get"))


@pytest.mark.parametrize(
    ("respond", "expected", "complete"),
    [
        (lambda r: page_of(r, 2000), tm.MAX_PAGES, False),  # always full, no total
        (lambda r: page_of(r, 2000 if r.url.params["page"] == "1" else 0, 99999), 2, True),
        (lambda r: page_of(r, 2000, total=4500), 3, True),
        (lambda r: page_of(r, 2000, total=999999), tm.MAX_PAGES, False),
    ],
    ids=["no-total", "empty-page", "total", "total-too-large"],
)
def test_paging_stops(respond: Any, expected: int, complete: bool) -> None:
    log: list[httpx.Request] = []

    def handler(request: httpx.Request, session: Session) -> httpx.Response:
        log.append(request)
        return respond(request)

    queries, cache = watched()
    cursor = cache.get(tm.NS_WATCH, "cursor")
    options = TrackOptions(watch=True)
    (got,) = tm_run(handler, queries, options, cache)
    assert got.failure is None
    assert pages(log) == expected
    for _carrier, keep in options.deferred:  # what watch keeps once the news is delivered
        keep()
    # The cursor moves only after a whole read; a capped one keeps where the next pass starts.
    assert (cache.get(tm.NS_WATCH, "cursor") != cursor) == complete
    resume = cache.get(tm.NS_WATCH, paged.RESUME)
    assert (resume is None) == complete
    if not complete:
        # The last page read comes first again (items move between pages as they update).
        assert resume == {"cursor": cursor, "page": tm.MAX_PAGES, "started": ANY}


def test_a_repeated_page_stops_paging() -> None:
    log: list[httpx.Request] = []

    def handler(request: httpx.Request, session: Session) -> httpx.Response:
        log.append(request)
        return page_of(request, 2000, page=1)

    queries, cache = watched()
    (got,) = tm_run(handler, queries, TrackOptions(watch=True), cache)
    assert got.failure is None
    assert pages(log) == 2


def test_paging_stops_at_the_run_deadline() -> None:
    log: list[httpx.Request] = []

    def handler(request: httpx.Request, session: Session) -> httpx.Response:
        log.append(request)
        session.deadline = time.monotonic() - 1  # the run's time is up after this page
        return page_of(request, 2000)

    queries, cache = watched()
    options = TrackOptions(watch=True)
    (got,) = tm_run(handler, queries, options, cache, deadline=60)
    assert isinstance(got.failure, Timeout)
    assert pages(log) == 1
    assert options.deferred == []


# -- times, text, adoption ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "0001-01-01 00:00:00",
        "9999-12-31 23:59:59",
        "9999-12-31",
        "9999999999999",
        "0001-01-01T00:00:00+14:00",
    ],
)
def test_dates_out_of_range_are_unknown_times(raw: str) -> None:
    assert _parse.parse_time(raw, _parse.zone("Asia/Shanghai")) is None


def test_text_replaces_lone_surrogates_once() -> None:
    assert _parse.text(" a\ud800b\udfff ") == "a\ufffdb\ufffd"
    assert _parse.text("\U0001f4e6") == "\U0001f4e6"  # a real astral character stays
    json.dumps(_parse.text("\ud800")).encode("utf-8")


def test_rendering_an_edge_of_the_calendar_in_another_zone_does_not_overflow() -> None:
    term = Terminal(tz=_parse.zone("Pacific/Kiritimati"))
    assert absolute(datetime(9999, 12, 31, 23, 0, tzinfo=UTC), term).startswith("9999-12-31")
    assert absolute(
        datetime(1, 1, 1, 0, 0, tzinfo=_parse.zone("Pacific/Kiritimati")), Terminal(tz=UTC)
    )


def test_adopting_a_parcel_of_an_order_with_several_parcels(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as store:
        parcels = [
            Shipment(tracking_number=n, carrier="pandapon", order_id="42", found=True)
            for n in ("P1", "P2")
        ]
        store.add(parcels, Query("42", "pandapon"), "label")
        (first, _) = store.watched()
        new = Shipment(tracking_number="P3", carrier="pandapon", order_id="42", found=True)
        adopted = store.adopt(first, new)
        assert (adopted.number, adopted.label, adopted.query) == ("P3", "label", "pandapon:42")
        assert [r.number for r in store.watched()] == ["P1", "P2", "P3"]
        assert adopted.status == Status.PENDING.value


def test_large_answers_within_the_bound_arrive_whole_even_several_at_once() -> None:
    payload = json.dumps({"items": [{"n": i, "pad": "y" * 200} for i in range(40_000)]}).encode()
    assert len(payload) > 6 << 20
    packed = gzip.compress(payload)

    async def go() -> list[bytes]:
        transport = httpx.MockTransport(
            lambda request: streamed(packed, **{"Content-Encoding": "gzip"})
        )
        async with Session(transport=transport, retry=RetryPolicy(attempts=1)) as session:
            answers = await asyncio.gather(
                *(session.request("c", "GET", f"{URL}/{i}") for i in range(4))
            )
        return [a.content for a in answers]

    assert asyncio.run(go()) == [payload] * 4
