"""Real recorded carrier answers (``tests/fixtures/*/real_*.json``) through each carrier's parser.

Every row of ``CASES`` says what a careful reader sees in one raw answer: the status, how many
events, their order (newest first), the newest event's words, place and wall-clock time, the
status of telling events and the time zone the data implies. The expectations come from the raw
data and the carriers' docs (sources in the fixtures' READMEs), not from what the code does today.
Each aspect is its own test; where today's code disagrees, that aspect is a strict xfail naming the
issue item, so the mark has to come off when the fix lands. The v4 rows go through the v4
parser (issue 18).

Zones: a TrackingMore time is local to where the event happened; a country with one zone gives it
that zone (CN, HK, IN, CO), one with several (US) leaves it naive. 1688 times are China time.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import FIXTURES, fixture
from waypost.carriers import pandapon
from waypost.carriers import trackingmore as tm
from waypost.carriers._parse import zone
from waypost.carriers.pandapon import api as pandapon_api
from waypost.carriers.trackingmore import shared as tm_shared
from waypost.carriers.trackingmore import v2_api as tm_api
from waypost.models import Event, Shipment

Ref = tuple[str, str | None]  # (description, location) of one event


def _default_tz(info: Any) -> Any:
    setting = info.setting("timezone")
    return zone(setting.default if setting else None)


def tm_v2(name: str, index: int = 0) -> Callable[[], Shipment]:
    """Item ``index`` of a v2 answer (with or without its envelope), as the adapter parses it."""

    def load() -> Shipment:
        payload: Any = fixture("trackingmore", name)
        data = tm_api.read_envelope(payload)[2] if "meta" in payload else payload
        items = tm_api.items_of(data) or [data]
        item = items[index]
        return tm_api.parse_item(item, tm_api.item_number(item) or "", _default_tz(tm.INFO))

    return load


def pp_1688(name: str, order_id: str, key: str | None = None) -> Callable[[], Shipment]:
    """A recorded 1688 trace inside PandaPon's documented envelope (the data is 1688's)."""

    def load() -> Shipment:
        raw: Any = fixture("pandapon", name)
        payload = {"code": 0, "msg": "", "data": raw[key] if key else raw}
        (shipment,) = pandapon_api.parse_response(
            payload, order_id, "1688", _default_tz(pandapon.INFO)
        )
        return shipment

    return load


def tm_v4(name: str) -> Callable[[], Shipment]:
    """A v4 answer through the v4 parser (``trackingmore.v4_api.parse_tracking``).

    The DHL source moved the checkpoints to a top-level ``track_info`` (its README); they go
    back into ``origin_info.trackinfo``, where v4 sends them.
    """

    def load() -> Shipment:
        v4 = importlib.import_module("waypost.carriers.trackingmore.v4_api")
        payload: Any = fixture("trackingmore", f"v4/{name}")
        item = dict((payload.get("data") or [payload])[0])
        if "track_info" in item:
            item["origin_info"] = {**item["origin_info"], "trackinfo": item.pop("track_info")}
        number = item.get("tracking_number") or ""
        shipment: Shipment = v4.parse_tracking(
            item, number, _default_tz(tm.INFO), tm_shared.STATUS, tm_shared.SUBSTATUS
        )
        return shipment

    return load


@dataclass(frozen=True)
class Case:
    """One real answer and what a careful reader sees in it."""

    id: str
    fixture: str  # path under tests/fixtures, checked against the refs below
    load: Callable[[], Shipment]
    status: str
    count: int
    newest: tuple[str, str | None, str, str]  # words, place, status, local "YYYY-MM-DD HH:MM"
    number: str | None = None
    first: tuple[str, ...] = ()  # words of the newest events, in order
    before: tuple[tuple[Ref, Ref], ...] = ()  # (newer, older)
    events: tuple[tuple[Ref, str], ...] = ()  # an event's own status
    zones: tuple[tuple[Ref, str], ...] = ()  # "naive" or "+08:00"
    status_text: str | None = None
    xfail: dict[str, str] = field(default_factory=dict)  # aspect -> reason
    skip: str | None = None


SHREVEPORT = ("[SHREVEPORT,71118]Delivered, In/At Mailbox", "SHREVEPORT,71118")
DES_MOINES = (
    "Arrived at USPS Regional Destination Facility",
    "DES MOINES IA NETWORK DISTRIBUTION CENTER",
)
ZHENGZHOU_OUT = ("离开郑州市 发往旧金山", "郑州市")
BESTEX_OUT = ("吉林市【吉林昌邑区双吉镇】，【***/***】正在派件", "吉林市")
BESTEX_LOCKER = ("派件送达【 和驿的驿站助手（*** 高沙镇黄塘村）】入柜/入库", "邵阳市")
BESTEX_SIGNED = ("天津市【天津武清分部】，唯品会退货组 已签收", "天津市")
YTO_SIGNED = (
    "客户签收人 :已签收 已签收  感谢使用圆通速递，期待再次为您服务 如有疑问请联系：95554，投诉电话：***",
    None,
)
CHINA_POST_OUT = ("离开【中国邮政集团公司苏州市大宗邮件处理中心】，下一站【苏州中心】", "CN")
DOC_1688_SIGNED = ("快件已被 已签收 签收", None)
YUNDA_SIGNED = ("快件已被 ,已签收 签收", None)

CASES = (
    Case(
        id="trackingmore-cainiao-delivered",
        fixture="trackingmore/real_cainiao_lb181539674sg.json",
        load=tm_v2("real_cainiao_lb181539674sg.json"),
        number="LB181539674SG",
        status="delivered",
        count=16,
        newest=(*SHREVEPORT, "delivered", "2020-10-30 14:42"),
        first=(
            "[SHREVEPORT,71118]Delivered, In/At Mailbox",
            "Product Delivered (Country code: US)",
            "[SHREVEPORT,71118]Out for Delivery",
        ),
        before=((("Hand over to airline", None), ("Accepted by carrier", None)),),
        events=(
            (("[SHREVEPORT,71118]Out for Delivery", "SHREVEPORT,71118"), "out_for_delivery"),
            (("Accepted by carrier", None), "in_transit"),
        ),
        # Cainiao's one leg holds the USPS scans too: the newest is Shreveport's (US) local time,
        # not China's, although the leg's country is China.
        zones=((SHREVEPORT, "naive"),),
        status_text="[SHREVEPORT,71118]Delivered, In/At Mailbox",
    ),
    Case(
        id="trackingmore-china-ems-two-legs",
        fixture="trackingmore/real_china_ems_ls912989618cn.json",
        load=tm_v2("real_china_ems_ls912989618cn.json"),
        number="LS912989618CN",
        status="in_transit",
        count=10,
        newest=(*DES_MOINES, "in_transit", "2018-04-17 22:30"),
        first=(
            "Arrived at USPS Regional Destination Facility",
            "In Transit to Next Facility",
            "Arrived at USPS Regional Facility",
        ),
        # USPS reports the Zhengzhou scan at 17:00 and EMS the departure at 21:18, both China
        # time: the departure is the newer one whatever zone each leg is given.
        before=((ZHENGZHOU_OUT, ("Processed Through Facility", "ZHENGZHOU EMS,CHINA")),),
        zones=((DES_MOINES, "naive"), (ZHENGZHOU_OUT, "+08:00")),
        status_text="Arrived at USPS Regional Destination Facility",
    ),
    Case(
        id="trackingmore-bestex-out-for-delivery",
        fixture="trackingmore/real_bestex_get_2019.json",
        load=tm_v2("real_bestex_get_2019.json", 0),
        number="3502339401241",
        status="out_for_delivery",
        count=4,
        newest=(*BESTEX_OUT, "out_for_delivery", "2019-07-25 22:02"),
        first=(BESTEX_OUT[0], BESTEX_LOCKER[0]),
        events=((BESTEX_LOCKER, "available_for_pickup"),),
        # Masking made the 07-25 and 06-03 texts identical: the zone is read off the locker scan.
        zones=((BESTEX_LOCKER, "+08:00"),),
    ),
    Case(
        id="trackingmore-bestex-delivered",
        fixture="trackingmore/real_bestex_get_2019.json",
        load=tm_v2("real_bestex_get_2019.json", 1),
        number="51837622007298",
        status="delivered",
        count=9,
        newest=(*BESTEX_SIGNED, "delivered", "2019-08-06 18:39"),
        events=((("天津市【天津武清分部】，【***/***】正在派件", "天津市"), "out_for_delivery"),),
        zones=((BESTEX_SIGNED, "+08:00"),),
    ),
    Case(
        id="trackingmore-bestex-in-parcel-locker",
        fixture="trackingmore/real_bestex_get_2019.json",
        load=tm_v2("real_bestex_get_2019.json", 2),
        number="350233940124",
        status="available_for_pickup",
        count=3,
        newest=(*BESTEX_LOCKER, "available_for_pickup", "2019-07-22 19:33"),
        zones=((BESTEX_LOCKER, "+08:00"),),
    ),
    Case(
        id="trackingmore-ups-2015-no-checkpoint-status",
        fixture="trackingmore/real_ups_1z97x17xyw06605211.json",
        load=tm_v2("real_ups_1z97x17xyw06605211.json"),
        number="1Z97X17XYW06605211",
        status="in_transit",
        count=2,
        newest=("package transferred to post office.", None, "in_transit", "2015-11-06 09:46"),
        first=("package transferred to post office.", "destination scan"),
        events=((("destination scan", "US,BALDWIN PARK"), "in_transit"),),
        zones=((("destination scan", "US,BALDWIN PARK"), "naive"),),
    ),
    Case(
        id="trackingmore-hongkong-post-to-colombia",
        fixture="trackingmore/real_hongkong_post_re113184005hk.json",
        load=tm_v2("real_hongkong_post_re113184005hk.json"),
        number="RE113184005HK",
        # TrackingMore's own verdict is transit although the Colombian leg reads "ENTREGADO":
        # the shipment keeps the carrier's status, the event says what it says.
        status="in_transit",
        count=4,
        newest=("DIGITALIZADO", "CTP.CENTRO A", "in_transit", "2015-10-22 20:52"),
        first=("DIGITALIZADO", "Registro de entrega exitosa", "ENTREGADO"),
        events=((("ENTREGADO", "CD.MONTEVIDEO"), "delivered"),),
        zones=(
            (("DIGITALIZADO", "CTP.CENTRO A"), "-05:00"),
            (
                (
                    "The item ( RE113184005HK ) left Hong Kong for its destination on  10-Oct-2015",
                    "CO",
                ),
                "+08:00",
            ),
        ),
        status_text="DIGITALIZADO",
    ),
    Case(
        id="trackingmore-bluedart-india",
        fixture="trackingmore/real_bluedart_50691944004.json",
        load=tm_v2("real_bluedart_50691944004.json"),
        number="50691944004",
        status="delivered",
        count=12,
        newest=("Shipment Delivered", "Kalol Apex/Sfc Pud", "delivered", "2020-09-28 20:19"),
        first=("Shipment Delivered", "Shipment Out For Delivery", "Shipment Arrived"),
        events=((("Shipment Out For Delivery", "Kalol Apex/Sfc Pud"), "out_for_delivery"),),
        zones=((("Shipment Delivered", "Kalol Apex/Sfc Pud"), "+05:30"),),
    ),
    Case(
        id="trackingmore-yto-domestic-china",
        fixture="trackingmore/real_yto_821875586609.json",
        load=tm_v2("real_yto_821875586609.json"),
        number="821875586609",
        status="delivered",
        count=10,
        newest=(*YTO_SIGNED, "delivered", "2019-06-01 11:34"),
        events=(
            (
                (
                    "【江西省南昌市广场恒茂分部公司】 派件中  派件人 :*** 电话 95554  如有疑问，请联系：***",
                    None,
                ),
                "out_for_delivery",
            ),
        ),
        zones=((YTO_SIGNED, "+08:00"),),
        status_text=YTO_SIGNED[0],
    ),
    Case(
        id="trackingmore-china-post-2017-push-no-checkpoint-status",
        fixture="trackingmore/real_china_post_85540892874_push.json",
        load=tm_v2("real_china_post_85540892874_push.json"),
        number="85540892874",
        status="in_transit",
        count=4,
        newest=(*CHINA_POST_OUT, "in_transit", "2017-08-26 17:45"),
        first=(CHINA_POST_OUT[0], "【中国邮政集团公司苏州市大宗邮件处理中心】已封发"),
        events=(
            (("电子信息已收到", "CN"), "info_received"),
            (("【中国邮政集团公司苏州市大宗邮件处理中心】已收寄", "CN"), "in_transit"),
        ),
        zones=((CHINA_POST_OUT, "+08:00"),),
        status_text=CHINA_POST_OUT[0],
    ),
    Case(
        id="pandapon-1688-docs-trace",
        fixture="pandapon/real_1688_trace_docs_example.json",
        load=pp_1688("real_1688_trace_docs_example.json", "188983797838441800", "logisticsTrace"),
        number="3832890717253",
        status="delivered",
        count=9,
        newest=(*DOC_1688_SIGNED, "delivered", "2018-07-26 13:33"),
        first=(
            "快件已被 已签收 签收",
            "在浙江宁波鄞州区邱隘公司进行派件扫描；派送业务员：徐洲；联系电话：xxxxx",
            "到达目的地网点浙江宁波鄞州区邱隘公司，快件将很快进行派送",
        ),
        events=(
            (
                ("在浙江宁波鄞州区邱隘公司进行派件扫描；派送业务员：徐洲；联系电话：xxxxx", None),
                "out_for_delivery",
            ),
            (("到达目的地网点浙江宁波鄞州区邱隘公司，快件将很快进行派送", None), "in_transit"),
        ),
        zones=((DOC_1688_SIGNED, "+08:00"),),
    ),
    Case(
        id="pandapon-1688-yunda-newest-first",
        fixture="pandapon/real_1688_yunda_3101619509830.json",
        load=pp_1688("real_1688_yunda_3101619509830.json", "3101619509830"),
        number="3101619509830",
        status="delivered",
        count=9,
        newest=(*YUNDA_SIGNED, "delivered", "2018-02-01 20:30"),
        first=(
            "快件已被 ,已签收 签收",
            "在福建浦城县公司进行派件扫描；派送业务员：***；联系电话：***",
            "到达目的地网点福建浦城县公司，快件将很快进行派送",
        ),
        events=(
            (
                ("在福建浦城县公司进行派件扫描；派送业务员：***；联系电话：***", None),
                "out_for_delivery",
            ),
            (("在天津武清区公司进行揽件扫描", None), "in_transit"),
        ),
        zones=((YUNDA_SIGNED, "+08:00"),),
    ),
    Case(
        id="trackingmore-v4-dhl-delivered",
        fixture="trackingmore/v4/real_dhl_9104223295.json",
        load=tm_v4("real_dhl_9104223295.json"),
        number="9104223295",
        status="delivered",
        count=2,
        newest=(
            "Delivered",
            "SUZHOU & SURROUNDING AREA - CHINA MAINLAND",
            "delivered",
            "2023-09-15 15:00",
        ),
        first=("Delivered", "Shipment is out with courier for delivery"),
        events=(
            (
                (
                    "Shipment is out with courier for delivery",
                    "SUZHOU & SURROUNDING AREA - CHINA MAINLAND",
                ),
                "out_for_delivery",
            ),
        ),
        zones=((("Delivered", "SUZHOU & SURROUNDING AREA - CHINA MAINLAND"), "+08:00"),),
    ),
    Case(
        id="trackingmore-v4-usps-legs",
        fixture="trackingmore/v4/real_usps_92055901755477000271990251_legs.json",
        load=tm_v4("real_usps_92055901755477000271990251_legs.json"),
        status="in_transit",
        count=8,
        newest=(
            "Arrived at USPS Regional Facility",
            "SEMINOLE-ORLANDO FL DISTRIBUTION CENTER",
            "in_transit",
            "2020-11-16 00:50",
        ),
        first=(
            "Arrived at USPS Regional Facility",
            "Departed USPS Regional Facility",
            "Arrived at USPS Regional Destination Facility",
        ),
        events=(
            (
                ("Shipping Label Created, USPS Awaiting Item", "LAS VEGAS,NV,89118"),
                "info_received",
            ),
        ),
        zones=(
            (
                ("Arrived at USPS Regional Facility", "SEMINOLE-ORLANDO FL DISTRIBUTION CENTER"),
                "naive",
            ),
        ),
    ),
)


def aspects(case: Case) -> list[str]:
    """The separately tested aspects of one case."""
    names = ["status", "count", "newest"]
    names += ["number"] if case.number else []
    names += ["order"] if case.first or case.before else []
    names += [f"event:{i}" for i in range(len(case.events))]
    names += [f"zone:{i}" for i in range(len(case.zones))]
    names += ["status_text"] if case.status_text is not None else []
    return names


def params() -> list[Any]:
    out = []
    for case in CASES:
        for aspect in aspects(case):
            marks: list[Any] = []
            if case.skip:
                marks.append(pytest.mark.skip(reason=case.skip))
            elif aspect in case.xfail:
                marks.append(pytest.mark.xfail(strict=True, reason=case.xfail[aspect]))
            out.append(pytest.param(case, aspect, id=f"{case.id}-{aspect}", marks=marks))
    return out


def find(events: list[Event], ref: Ref) -> tuple[int, Event]:
    """The index and event with these words and this place."""
    hits = [(i, e) for i, e in enumerate(events) if (e.description, e.location) == ref]
    assert len(hits) == 1, f"{ref} is {len(hits)} events of {[e.description for e in events]}"
    return hits[0]


def offset(when: datetime | None) -> str:
    """``naive``, or the UTC offset as ``+08:00``."""
    assert when is not None
    delta = when.utcoffset()
    if delta is None:
        return "naive"
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@pytest.mark.parametrize(("case", "aspect"), params())
def test_a_real_answer_reads_as_a_careful_reader_reads_it(case: Case, aspect: str) -> None:
    s = case.load()
    events = s.events
    if aspect == "status":
        assert s.found is True
        assert s.status.value == case.status
    elif aspect == "count":
        assert len(events) == case.count
    elif aspect == "number":
        assert s.tracking_number == case.number
    elif aspect == "newest":
        words, place, status, local = case.newest
        newest = events[0]
        assert (newest.description, newest.location) == (words, place)
        assert newest.status.value == status
        assert newest.time is not None
        assert newest.time.strftime("%Y-%m-%d %H:%M") == local
    elif aspect == "order":
        assert tuple(e.description for e in events[: len(case.first)]) == case.first
        for newer, older in case.before:
            assert find(events, newer)[0] < find(events, older)[0]
    elif aspect.startswith("event:"):
        ref, status = case.events[int(aspect.split(":")[1])]
        assert find(events, ref)[1].status.value == status
    elif aspect.startswith("zone:"):
        ref, expected = case.zones[int(aspect.split(":")[1])]
        assert offset(find(events, ref)[1].time) == expected
    elif aspect == "status_text":
        assert s.status_text == case.status_text
    else:  # pragma: no cover
        raise AssertionError(aspect)


def _strings(node: Any) -> set[str]:
    if isinstance(node, dict):
        return {t for v in node.values() for t in _strings(v)}
    if isinstance(node, list):
        return {t for v in node for t in _strings(v)}
    return {node.strip()} if isinstance(node, str) else set()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_expected_text_is_in_the_raw_answer(case: Case) -> None:
    """Guards the table itself: a typo in an expectation would hide behind an xfail."""
    raw = json.loads((FIXTURES / case.fixture).read_text(encoding="utf-8"))
    texts = _strings(raw)
    refs = [case.newest[:2], *(r for r, _ in case.events), *(r for r, _ in case.zones)]
    refs += [r for pair in case.before for r in pair]
    words = [r[0] for r in refs] + list(case.first)
    words += [case.status_text] if case.status_text else []
    places = [r[1] for r in refs if r[1] is not None]
    missing = [w for w in words + places if w not in texts]
    assert not missing, f"not in {case.fixture}: {missing}"
    assert not case.number or case.number in texts
