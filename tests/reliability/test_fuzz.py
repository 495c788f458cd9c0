"""Hypothesis-generated carrier payloads never raise out of a parser (anything but the
CarrierError the parsers use for error envelopes). The default run tries a few hundred
payloads per carrier; `HYPOTHESIS_PROFILE=fuzz` tries 1,500 (see tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waypost import carriers
from waypost.errors import CarrierError
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
        module = carriers.module(name)
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


def _trackingmore(module: Any, payload: Any) -> list[Shipment]:
    """What the adapter does with an answer: envelope, items, one Shipment each, batch errors."""
    code, _, data = module.read_envelope(payload)
    if code is not None and code not in module.SUCCESS:
        raise module.envelope_error(code, None)
    module.parse_batch(data)
    module.parse_couriers(data)
    module.parse_detect(data)
    items = module.items_of(data)
    return [module.parse_item(i, module.item_number(i) or "X1234", SHANGHAI) for i in items]


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
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
        max_leaves=30,
    )
    shaped = st.dictionaries(keys, values, max_size=8).map(lambda d: {**d, **SUCCESS.get(name, {})})
    return shaped | values


PARSERS = parsers()


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_generated_payloads_never_raise_out_of_a_parser(name: str) -> None:
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
