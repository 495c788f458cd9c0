"""TrackingMore ``watch`` pages (v4 ``updated_date_min``, v2 ``update_time_min``) in flat memory: each page goes to the
pass's spool (``trackingmore.paged``) as it comes, so a pass that reads four times the pages
peaks no higher (tracemalloc, no timing), while a variant that keeps the pages in memory grows
by megabytes; and a pass of several chunks in one session reads the pages once. On the virtual
clock (tests/inproc.py): the 10 reads/s cost no real time."""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import tracemalloc
from collections.abc import Iterable, Sequence
from typing import Any

import httpx
import pytest

from tests.inproc import VirtualClock
from waypost.carriers.base import Answer, MemoryCache, Query, TrackOptions
from waypost.carriers.trackingmore import paged
from waypost.carriers.trackingmore import v2 as tm2
from waypost.carriers.trackingmore import v4 as tm4
from waypost.carriers.trackingmore import v4_api as api
from waypost.http import Session

BASE = "http://127.0.0.1:9/v4"
BASE_V2 = "http://127.0.0.1:9/v2"
WORDS = "Arrived at the sorting centre of the destination country, handed over to the courier "


@pytest.fixture(autouse=True)
def _still(clock: VirtualClock) -> None:
    clock.stand_still()


def _item(page: int, i: int) -> dict[str, Any]:
    """A tracking of about 2 KB, as an account page holds them."""
    return {
        "id": f"id-{page}-{i}",
        "tracking_number": f"PG{page:04d}X{i:03d}",
        "courier_code": "usps",
        "delivery_status": "transit",
        "origin_info": {
            "trackinfo": [
                {
                    "checkpoint_date": f"2026-11-{1 + k:02d}T10:00:00+00:00",
                    "tracking_detail": f"{WORDS}{page}/{i}/{k}",
                    "location": "Memphis, TN",
                }
                for k in range(12)
            ]
        },
    }


class _Account(httpx.AsyncBaseTransport):
    """An account with ``pages`` full pages of updates (then an empty one)."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.asked: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """One page of 100 trackings, built on demand."""
        page = int(request.url.params.get("pages_amount", "0"))
        self.asked.append(page)
        return httpx.Response(200, content=_body(page) if page <= self.pages else _page_body([]))


_PAGE = b"7777"  # the page number standing in the template for every page's own


def _page_body(data: list[dict[str, Any]]) -> bytes:
    return json.dumps({"meta": {"code": 200, "message": "Success"}, "data": data}).encode()


@functools.cache
def _template() -> list[list[bytes]]:
    """A full page's body, cut where its page number goes (``PG{page:04d}X`` and ``{page}``)."""
    body = _page_body([_item(int(_PAGE), i) for i in range(api.PAGE_SIZE)])
    return [part.split(_PAGE) for part in body.split(b"PG" + _PAGE + b"X")]


def _body(page: int) -> bytes:
    """The body of a page of 100 ``_item(page, i)``, from the template (no json.dumps a page)."""
    number = str(page).encode()
    return (b"PG%04dX" % page).join(number.join(part) for part in _template())


def _watch(
    transport: _Account, chunks: Sequence[Sequence[Query]], cache: MemoryCache
) -> list[list[Answer]]:
    """One pass: each chunk through its own adapter, all in one session (``run_batches``)."""

    async def go() -> list[list[Answer]]:
        out = []
        async with Session(transport=transport) as session:
            for chunk in chunks:
                adapter = tm4.Adapter({"api_key": "k", "base_url": BASE}, session, cache)
                out.append(await adapter.track(chunk, TrackOptions(watch=True)))
        return out

    return asyncio.run(go())


def _cache() -> MemoryCache:
    cache = MemoryCache()
    cache.put(tm4.NS_WATCH, "cursor", 1.0e9)
    return cache


def _queries(numbers: Iterable[str]) -> list[Query]:
    return [Query(n, "trackingmore", "usps") for n in numbers]


def _peak(pages: int) -> int:
    """Peak traced bytes of one pass over ``pages`` pages, watching 20 numbers of page 1."""
    transport = _Account(pages)
    queries = _queries(f"PG0001X{i:03d}" for i in range(20))
    cache = _cache()
    _template()  # made before tracing, once
    gc.collect()
    tracemalloc.start()
    try:
        ((answers),) = _watch(transport, [queries], cache)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(answers) == 20
    assert all(a.shipments[0].events for a in answers)
    assert transport.asked == list(range(1, pages + 2))
    return peak


class _Leaky(paged.Spool):
    """The old way: every page's items kept in memory for the pass."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[tuple[str, dict[str, Any]]] = []

    def add(self, items: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Keep the page in memory too."""
        page = list(items)
        self.kept.extend(page)
        super().add(page)


FEW, MANY = 3, 12  # pages of one pass, and four times as many
# Bytes more allowed for the 9 more pages: 2 MB for 30 (what a page holds: ~0.6 MB; the
# spool's index of a page's numbers, in memory by design: ~30 KB).
GROWTH = (2 << 20) * (MANY - FEW) // 30


def test_the_peak_is_flat_in_pages_read() -> None:
    few, many = _peak(FEW), _peak(MANY)
    assert many - few < GROWTH


def test_a_pass_that_kept_its_pages_would_fail_the_flatness_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(paged, "Spool", _Leaky)
    few, many = _peak(FEW), _peak(MANY)
    assert many - few > 4 * GROWTH  # 900 more items held: the check above tells them apart


def test_a_page_from_the_template_is_the_page_built_item_by_item() -> None:
    for page in (1, 12, 40, 777, 7777):
        assert _body(page) == _page_body([_item(page, i) for i in range(api.PAGE_SIZE)])


def test_the_chunks_of_one_pass_read_the_pages_once() -> None:
    transport = _Account(5)
    chunks = [
        _queries(f"PG0001X{i:03d}" for i in range(50)),
        _queries(f"PG0003X{i:03d}" for i in range(50)),
        _queries(f"PG0005X{i:03d}" for i in range(50)),
    ]
    answers = _watch(transport, chunks, _cache())
    assert transport.asked == [1, 2, 3, 4, 5, 6]  # not once per chunk
    for chunk, got in zip(chunks, answers, strict=True):
        assert [a.query for a in got] == chunk
        assert all(not a.unchanged and a.shipments[0].events for a in got)
        assert {a.shipments[0].tracking_number for a in got} == {q.number for q in chunk}


def test_a_new_pass_reads_the_pages_again() -> None:
    transport = _Account(2)
    queries = _queries(["PG0001X000"])
    _watch(transport, [queries], _cache())
    _watch(transport, [queries], _cache())
    assert transport.asked == [1, 2, 3, 1, 2, 3]


def test_the_spool_gives_back_what_it_kept() -> None:
    spool = paged.Spool()
    try:
        spool.add([("A1", {"n": 1, "t": "ü"}), ("B2", {"n": 2})])
        spool.add([("A1", {"n": 3})])
        assert spool.get("A1") == [{"n": 1, "t": "ü"}, {"n": 3}]
        assert spool.get("B2") == [{"n": 2}]
        assert spool.get("C3") == []
        assert spool.items == 3
    finally:
        spool.close()


class _AccountV2(httpx.AsyncBaseTransport):
    """A v2 account with ``pages`` full pages of 2,000 updates (then a short one)."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.asked: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """One page of items, built on demand."""
        page = int(request.url.params.get("page", "0"))
        self.asked.append(page)
        count = tm2.MAX_LIMIT if page <= self.pages else 3
        items = [
            {"id": f"{page}-{i}", "tracking_number": f"N{page}X{i}", "status": "transit"}
            for i in range(count)
        ]
        body = {
            "meta": {"code": 200, "type": "Success", "message": "Success"},
            "data": {"items": items},
        }
        return httpx.Response(200, content=json.dumps(body).encode())


def test_v2_chunks_of_one_pass_read_the_pages_once() -> None:
    transport = _AccountV2(2)
    cache = MemoryCache()
    cache.put(tm2.NS_WATCH, "cursor", 1.0e9)
    chunks = [[Query(f"N{p}X{i}", "trackingmore", None) for i in range(3)] for p in (1, 2, 3)]

    async def go() -> list[list[Answer]]:
        out = []
        async with Session(transport=transport) as session:
            for chunk in chunks:
                adapter = tm2.Adapter({"api_key": "k", "base_url": BASE_V2}, session, cache)
                out.append(await adapter.track(chunk, TrackOptions(watch=True)))
        return out

    answers = asyncio.run(go())
    assert transport.asked == [1, 2, 3]  # not once per chunk
    for chunk, got in zip(chunks, answers, strict=True):
        assert [a.query for a in got] == chunk
        assert all(a.failure is None and not a.unchanged for a in got)
        assert [a.shipments[0].tracking_number for a in got] == [q.number for q in chunk]
