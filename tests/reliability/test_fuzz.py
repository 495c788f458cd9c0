"""Hypothesis-generated carrier payloads never raise out of a parser (anything but the
CarrierError the parsers use for error envelopes). The default run tries a few hundred
payloads per carrier; `HYPOTHESIS_PROFILE=fuzz` tries 1,500 (see tests/conftest.py).

Two kinds of payloads: random documents over each carrier's vocabulary, and the recorded
answers with values anywhere in them replaced by ``null``, an empty or wrong-typed value (so
every list the parsers expect is also met as ``null``). TrackingMore's answers go through its
real adapter (envelope, paging, realtime, batch creation) over an in-memory transport."""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import fixture
from tests.inproc import VirtualClock
from tests.strategies import json_trees
from waypost import carriers
from waypost.carriers.base import MemoryCache, Query, TrackOptions
from waypost.errors import CarrierError
from waypost.http import RetryPolicy, Session
from waypost.models import Shipment

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Every key the carriers' documents use, so generated payloads reach deep into the parsers.
VOCABULARY = {
    "ils": [
        "code",
        "msg",
        "body",
        "consignment",
        "orderStatus",
        "billTrackList",
        "Service",
        "service",
        "Status",
        "status",
        "Despatch Date",
        "despatchdate",
        "Lastscan",
        "lastscan",
        "deport",
        "desc",
        "date",
        "img",
        "deliverydepot",
        "despatchdepot",
    ],
    "pandapon": [
        "requestId",
        "code",
        "developId",
        "msg",
        "data",
        "logisticsId",
        "orderId",
        "logisticsBillNo",
        "logisticsSteps",
        "acceptTime",
        "remark",
        "traceNodeList",
        "action",
        "areaCode",
        "encrypt",
        "facilityType",
        "facilityNo",
        "facilityName",
        "logisticsStatus",
        "purchaseOrderOuterId",
        "pnmLogisticsDetails",
        "mailNo",
        "logisticsTraces",
        "statusDesc",
        "province",
        "city",
        "district",
        "time",
        "standerdDesc",
        "status",
        "nextCity",
        "nextNodeName",
        "logisticsPartner",
        "company",
    ],
    "trackingmore": [
        "meta",
        "code",
        "type",
        "message",
        "data",
        "items",
        "page",
        "limit",
        "total",
        "id",
        "tracking_number",
        "carrier_code",
        "status",
        "substatus",
        "original_country",
        "destination_country",
        "origin_info",
        "destination_info",
        "trackinfo",
        "Date",
        "StatusDescription",
        "Details",
        "checkpoint_status",
        "lastEvent",
        "lastUpdateTime",
        "service_code",
        "updated_at",
        "created_at",
        "submitted",
        "added",
        "trackings",
        "errors",
    ],
}
SUCCESS = {"ils": {"code": 200}, "pandapon": {"code": 200}, "trackingmore": {"meta": {"code": 200}}}


def parsers() -> dict[str, Callable[[Any], list[Shipment]]]:
    """Carrier name -> its pure "whole answer in, Shipments out" function."""
    table: dict[str, Callable[[Any], list[Shipment]]] = {}
    for name in carriers.names():
        # The pure parsers are in each package's ``api``; TrackingMore's answer path is v2's.
        module = importlib.import_module(
            f"{carriers.MODULES[name]}.{'v2' if name == 'trackingmore' else 'api'}"
        )
        if name == "ils":
            table[name] = lambda p, m=module: m.parse_response(
                p, ["3676E4043665", "X1234"], SHANGHAI
            )
        elif name == "pandapon":
            table[name] = lambda p, m=module: [
                *m.parse_response(p, "2542285634920880794", "1688", SHANGHAI),
                *m.parse_response(p, "200033789041", "taobao", SHANGHAI),
            ]
        elif name == "trackingmore":
            table[name] = lambda p, m=module: _trackingmore(m, p)
    return table


TM_QUERIES = [
    Query("LS912989618CN", "trackingmore", "china-ems"),
    Query("RR050349575PH", "trackingmore"),
    Query("9400111899223197428490", "trackingmore"),
]
TM_SETTINGS = {
    "api_key": "k",
    "base_url": "http://tm.test/v2",
    "get_rate": 1000.0,
    "realtime_rate": 1000.0,
    "default_rate": 1000.0,
    "timezone": "Asia/Shanghai",
}


def _trackingmore(module: Any, payload: Any) -> list[Shipment]:
    """The real adapter, every endpoint answering ``payload``: ``track`` and a ``watch`` pass
    (with and without a cursor), its parsers of batch, courier and detect answers."""
    body = json.dumps(payload).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    async def go(options: TrackOptions, cache: MemoryCache) -> list[Shipment]:
        policy = RetryPolicy(attempts=1, max_pause=0.001)
        async with Session(transport=httpx.MockTransport(answer), retry=policy) as session:
            adapter = module.Adapter(TM_SETTINGS, session, cache)
            answers = await adapter.track(TM_QUERIES, options)
            await adapter.couriers()
            await adapter.detect_courier("LS912989618CN")
        assert [a.query for a in answers] == TM_QUERIES
        return [s for a in answers for s in a.shipments]

    with_cursor = MemoryCache()
    facts = carriers.module("trackingmore")
    with_cursor.put(facts.NS_WATCH, "cursor", 1_700_000_000.0)
    for q in TM_QUERIES:
        with_cursor.put(facts.NS_ACCOUNT, q.number, "")

    async def every_run() -> list[Shipment]:
        # One event loop for the three runs (each still its own session and cache).
        shipments = []
        for options, cache in (
            (TrackOptions(), MemoryCache()),
            (TrackOptions(watch=True), MemoryCache()),
            (TrackOptions(watch=True), with_cursor),
        ):
            shipments += await go(options, cache)
        return shipments

    return asyncio.run(every_run())


RECORDED = {
    "ils": ["seed_example.json", "documented_keys.json"],
    "pandapon": ["seed_example.json", "filled_example.json", "taobao_example.json"],
    "trackingmore": ["realtime_seed.json", "list_seed.json", "batch_created.json", "detect.json"],
}
ODD = st.sampled_from([None, [], {}, "", 0, -1, "x", [None], {"": None}, 1e308])


def _paths(node: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*here, index))


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = document
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return document


def mutated(name: str) -> st.SearchStrategy[Any]:
    """A recorded answer of ``name`` with up to four values replaced by odd ones (deepest
    paths first, so that a replaced parent does not hide a replaced child)."""

    # A recorded answer's paths, and the strategy choosing among them, are the same for every
    # copy of it: made once per answer, not at every draw.
    choices = {
        recorded: st.lists(
            st.sampled_from(list(_paths(fixture(name, recorded)))), max_size=4, unique=True
        )
        for recorded in RECORDED[name]
    }

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        recorded = draw(st.sampled_from(RECORDED[name]))
        document = fixture(name, recorded)  # a new copy each call
        chosen = draw(choices[recorded])
        for path in sorted(chosen, key=len, reverse=True):
            document = _replace(document, path, draw(ODD))
        return document

    return build()


def payloads(name: str) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(VOCABULARY.get(name, ["data"])) | st.text(max_size=6)
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=20)
        | st.sampled_from(["", "200", "0", "2025-02-14 10:10:35", "transit", "SIGN"])
    )
    values = json_trees(scalars, keys, max_leaves=30, max_list=4, max_dict=6)
    shaped = st.dictionaries(keys, values, max_size=8).map(lambda d: {**d, **SUCCESS.get(name, {})})
    return shaped | values | mutated(name)


PARSERS = parsers()


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_generated_payloads_never_raise_out_of_a_parser(name: str, clock: VirtualClock) -> None:
    """(``clock``: the 1 ms spacing of TrackingMore's limiters is skipped, not waited.)"""
    parse = PARSERS[name]

    @given(payloads(name))
    def check(payload: Any) -> None:
        try:
            shipments = parse(payload)
        except CarrierError:
            return
        for s in shipments:
            assert s.carrier == name
            json.loads(s.model_dump_json())

    check()


def test_every_carrier_has_a_fuzz_target() -> None:
    assert sorted(PARSERS) == sorted(carriers.names())
