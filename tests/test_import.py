"""`waypost import pandapon` and `[watch] import`: every order in the window onto the watch list,
shipped or not, once; the order lists' parsers and `--since` as properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import json_values
from waypost import imports
from waypost.carriers.pandapon import orders as lists
from waypost.errors import UsageError
from waypost.sandbox import Sandbox
from waypost.sandbox import pandapon as box
from waypost.store import Store

SHIPPED_1688 = [
    "3318459201774650021",
    "2542285634920880794",
    "1977364520886112043",
    "2205513879640221987",
]
UNSHIPPED = "2694057731265508832"
TAOBAO = ["200033789041", "200048859480"]
RETURN = "78812345678901"  # the office chair (200048859480) goes back by ZTO


def app(sandbox: Sandbox) -> box.App:
    found = sandbox.apps["pandapon"]
    assert isinstance(found, box.App)
    return found


def paths(sandbox: Sandbox) -> list[str]:
    return [e.path.removeprefix("/pandapon") for e in sandbox.entries("pandapon")]


def rows(tmp: Path) -> dict[str, tuple[str, str | None, str | None]]:
    with Store.open(tmp / "data") as store:
        return {r.number: (r.status, r.label, r.order_id) for r in store.watched()}


def write_config(tmp: Path, text: str) -> None:
    path = tmp / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# -- import against the sandbox ----------------------------------------------------------------


def test_import_adds_every_order_in_the_window_shipped_or_not(
    sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    r = cli("import", "pandapon", "--json")
    assert r.code == 0, r.err
    doc = r.json()["import"]  # type: ignore[index]
    new = {item["order_id"]: item for item in doc["new"]}
    assert set(new) == {*SHIPPED_1688, UNSHIPPED, *TAOBAO}
    assert new[UNSHIPPED]["status"] == "pending"
    assert new[UNSHIPPED]["numbers"] == [UNSHIPPED]
    assert new["3318459201774650021"]["numbers"] == ["YT7512345678901", "SF1428765309214"]
    assert new["200033789041"]["platform"] == "taobao"
    assert {s["order_id"]: s["why"] for s in doc["skipped"]} == {
        box.UNPAID: "not paid yet",
        box.CANCELLED: "cancelled",
    }
    assert doc["already_watched"] == []
    # one page per order list and one of Taobao returns, one logistics call per shipped order,
    # none for the unshipped one
    assert doc["pages"] == 3
    logistics = [p for p in paths(sandbox) if "logistics" in p]
    assert len(logistics) == len(SHIPPED_1688) + len(TAOBAO)
    assert doc["requests"] == len(paths(sandbox)) == 3 + len(logistics)
    assert sandbox.rejected("pandapon") == 0
    watched = rows(isolated)
    assert watched[UNSHIPPED] == ("pending", "陶瓷马克杯 400ml · 潮州市瓷都陶瓷有限公司", UNSHIPPED)
    assert watched["78753196186473"][1] == "儿童保温杯 316不锈钢 · 萌趣母婴旗舰店"
    assert watched["4318765290123"][2] == "2542285634920880794"


def test_importing_again_adds_nothing_and_asks_no_logistics(
    sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    assert cli("import", "pandapon").code == 0
    before = rows(isolated)
    sandbox.reset_log()
    r = cli("import", "pandapon")
    assert r.code == 0, r.err
    assert r.out.splitlines()[0].startswith("pandapon: 0 new, 7 already watched, 2 skipped")
    assert sum(line.startswith("watched\t") for line in r.out.splitlines()) == 7
    assert all("logistics" not in p for p in paths(sandbox))
    assert rows(isolated) == before


def test_an_order_tracked_by_hand_counts_as_already_watched(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", "pandapon:2542285634920880794").code == 0
    doc = cli("import", "pandapon", "--platform", "1688", "--json").json()["import"]  # type: ignore[index]
    assert "2542285634920880794" in doc["already_watched"]
    assert "2542285634920880794" not in {i["order_id"] for i in doc["new"]}


def test_since_bounds_the_window_by_duration_and_by_date(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("import", "pandapon", "--since", "30h", "--json")
    assert r.code == 0, r.err
    doc = r.json()["import"]  # type: ignore[index]
    # created 20 h ago (unshipped) and the unpaid one 5 h ago; nothing older
    assert [i["order_id"] for i in doc["new"]] == [UNSHIPPED]
    assert [s["order_id"] for s in doc["skipped"]] == [box.UNPAID]
    day = (datetime.now(UTC) - timedelta(hours=45)).strftime("%Y-%m-%dT%H:%M")
    later = cli("import", "pandapon", "--since", day, "--json").json()["import"]  # type: ignore[index]
    assert {i["order_id"] for i in later["new"]} == {"3318459201774650021", "200033789041"}
    assert UNSHIPPED in later["already_watched"]


def test_platform_and_label_options(sandbox: Sandbox, cli, isolated: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("import", "pandapon", "--platform", "taobao", "--label", "winter order")
    assert r.code == 0, r.err
    assert all("/v2/alibaba" not in p for p in paths(sandbox))
    watched = rows(isolated)
    assert {n: v[1] for n, v in watched.items()} == {
        "78753196186473": "winter order",
        "YT8812003456712": "winter order",
        RETURN: "return · winter order",
    }


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["import", "ils"], "only pandapon"),
        (["import", "pandapon", "--since", "soon"], "invalid --since"),
        (["import", "pandapon", "--since", "2999-01-01"], "in the future"),
        (["import", "pandapon", "--since", "0d"], "more than zero"),
        (["import", "pandapon", "--platform", "amazon"], "1688 or taobao"),
        (["import", "pandapon", "--label", "  "], "--label is empty"),
    ],
)
def test_bad_arguments_are_usage_errors(args: list[str], words: str, sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(*args)
    assert r.code == 2, (r.out, r.err)
    assert words in r.err
    assert "Traceback" not in r.err
    assert sandbox.entries("pandapon") == []


def test_wrong_credentials_fail_the_import_with_exit_3(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_PANDAPON_ACCESS_KEY", "not-a-key")
    r = cli("import", "pandapon")
    assert r.code == 3
    assert "credentials rejected" in r.err
    assert "not-a-key" not in r.err


def test_paging_walks_every_page_and_stops_at_the_bound(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(lists, "PAGE_SIZE", 3)
    doc = cli("import", "pandapon", "--platform", "1688", "--json").json()["import"]  # type: ignore[index]
    assert doc["pages"] == 3  # 7 listed 1688 orders: 3 + 3 + 1
    assert len(doc["new"]) + len(doc["skipped"]) == 7
    monkeypatch.setattr(lists, "MAX_PAGES", 2)
    again = cli("import", "pandapon", "--platform", "1688", "--json").json()["import"]  # type: ignore[index]
    assert again["pages"] == 2  # bounded, though a third page exists
    assert len(again["already_watched"]) + len(again["skipped"]) == 6


def test_the_sandbox_order_list_pages_and_filters(sandbox: Sandbox) -> None:
    from waypost.carriers.pandapon import api as pandapon

    # One client for every request: httpx.post() would set up TLS afresh each time (~30 ms).
    with httpx.Client(timeout=5) as client:

        def page(body: dict[str, object]) -> dict[str, object]:
            headers = pandapon.signed_headers(
                box.ACCESS_KEY,
                box.SIGNING_KEY,
                box.USER_ID,
                pandapon.now_ms(),
                pandapon.new_nonce(),
            )
            url = f"{sandbox.base_url}/pandapon{lists.PATH_ORDERS_1688}"
            return client.post(url, json=body, headers=headers).json()  # type: ignore[no-any-return]

        client.post(f"{sandbox.base_url}/_sandbox/pandapon/config", json={"orders": 120})
        first = page({"pageNo": 1, "pageSize": 100})
        assert first["code"] == 200
        data = first["data"]
        assert isinstance(data, dict)
        assert data["total"] == 127
        assert len(data["records"]) == 100
        created = [r["createTime"] for r in data["records"]]
        assert created == sorted(created, reverse=True)
        last = page({"pageNo": 2, "pageSize": 100})["data"]
        assert isinstance(last, dict)
        assert len(last["records"]) == 27
        assert page({"pageNo": 1, "pageSize": 101})["code"] == 400
        assert page({"pageNo": 0, "pageSize": 10})["code"] == 400
        future = page({"pageSize": 10, "createStartTime": 4_000_000_000_000})["data"]
        assert isinstance(future, dict)
        assert (future["total"], future["records"]) == (0, [])


# -- unshipped, then shipped; [watch] import -----------------------------------------------------


def test_an_unshipped_order_gains_its_parcel_when_the_seller_ships(
    sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    assert cli("import", "pandapon", "--platform", "1688").code == 0
    assert rows(isolated)[UNSHIPPED][0] == "pending"
    assert cli("watch", "--once").code == 0
    assert app(sandbox).add_event(UNSHIPPED, "【潮州市】韵达快递 已揽收", "潮州网点")
    r = cli("watch", "--once")
    assert r.code == 0, r.err
    assert "已揽收" in r.out
    watched = rows(isolated)
    assert UNSHIPPED not in watched  # the stand-in made way for the parcel
    (parcel,) = [n for n, v in watched.items() if v[2] == UNSHIPPED]
    assert watched[parcel][1] == "陶瓷马克杯 400ml · 潮州市瓷都陶瓷有限公司"
    assert watched[parcel][0] == "in_transit"
    assert cli("watch", "--once").out == ""


def test_watch_imports_first_when_configured(sandbox: Sandbox, cli, isolated: Path) -> None:  # type: ignore[no-untyped-def]
    write_config(isolated, '[watch]\nimport = ["pandapon"]\n')
    r = cli("watch", "--once")
    assert r.code == 0, r.err
    assert UNSHIPPED in rows(isolated)
    assert len(rows(isolated)) == 9  # 8 parcels and stand-ins, 1 return
    with Store.open(isolated / "data") as store:
        assert isinstance(store.state.get(imports.STATE_NAMESPACE, "last"), float)
    sandbox.reset_log()
    assert cli("watch", "--once").code == 0
    assert sum("/order/page" in p or "/queryList" in p for p in paths(sandbox)) == 3


def test_a_failing_import_never_stops_the_refresh(
    sandbox: Sandbox, cli, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", "3676E4043665").code == 0
    write_config(isolated, '[watch]\nimport = ["pandapon"]\n')
    monkeypatch.setenv("WAYPOST_PANDAPON_ACCESS_KEY", "not-a-key")
    sandbox.reset_log()
    r = cli("watch", "--once")
    assert "import from pandapon failed" in r.err
    assert "refreshing the watch list anyway" in r.err
    assert any(e.carrier == "ils" for e in sandbox.log)
    assert r.code == 0


def test_the_watch_import_keys_are_validated(cli, isolated: Path) -> None:  # type: ignore[no-untyped-def]
    write_config(isolated, '[watch]\nimport = "pandapon"\n')
    r = cli("watch", "--once")
    assert r.code == 3
    assert "watch.import must be a list of strings" in r.err
    write_config(isolated, "[watch]\nfollow_legs = 1\n")
    assert "must be true or false" in cli("watch", "--once").err
    write_config(isolated, "")
    assert cli("config", "set", "watch.follow_legs", "yes").code == 0
    assert cli("config", "set", "watch.follow_legs", "maybe").code == 3


# -- parsers ------------------------------------------------------------------------------------


NOW = 1_764_590_400.0  # 2025-12-01 12:00 UTC


@given(st.lists(st.tuples(st.integers(0, 500), st.sampled_from("smhdw")), min_size=1, max_size=4))
def test_since_durations_add_up(parts: list[tuple[int, str]]) -> None:
    raw = "".join(f"{n}{u}" for n, u in parts)
    total = sum(n * imports._UNITS[u] for n, u in parts)
    if total <= 0 or total > imports.MAX_SINCE_DAYS * 86400:
        with pytest.raises(UsageError):
            imports.parse_since(raw, NOW)
        return
    assert imports.parse_since(raw, NOW) == pytest.approx(NOW - total)


@given(st.dates(min_value=datetime(2016, 1, 2).date(), max_value=datetime(2025, 11, 30).date()))
def test_since_dates_are_utc_midnight(day: object) -> None:
    start = imports.parse_since(str(day), NOW)
    assert datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M") == f"{day} 00:00"


@given(st.text(max_size=20))
def test_since_never_raises_anything_but_a_usage_error(raw: str) -> None:
    try:
        start = imports.parse_since(raw, NOW)
    except UsageError:
        return  # any other exception fails the test
    assert NOW - imports.MAX_SINCE_DAYS * 86400 <= start <= NOW


@given(json_values, st.sampled_from(["1688", "taobao"]))
def test_arbitrary_order_list_data_never_raises(data: object, platform: lists.Platform) -> None:
    page = lists.parse_orders(data, platform, 1)
    for order in page.orders:
        assert order.order_id.isdigit()
        assert order.platform == platform


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "orderId": st.integers(10**17, 10**19).map(str),
                "status": st.sampled_from(sorted(lists.STATUS)),
                "createTime": st.integers(1_500_000_000_000, 1_800_000_000_000),
                "productItems": st.just([{"name": "杯子"}]),
            }
        ),
        max_size=60,
    ),
    st.integers(0, 200),
)
def test_1688_records_become_orders_and_paging_stops(
    records: list[dict[str, object]], total: int
) -> None:
    page = lists.parse_orders({"total": total, "records": records}, "1688", 1, size=50)
    assert [o.order_id for o in page.orders] == [r["orderId"] for r in records]
    assert all(o.title == "杯子" for o in page.orders)
    assert page.more == (len(records) >= 50 and total > 50)
    for order, record in zip(page.orders, records, strict=True):
        assert order.created == pytest.approx(int(str(record["createTime"])) / 1000)
        shipped, skip = lists.STATUS[str(record["status"])]
        assert (order.shipped, order.skip) == (shipped, skip)


def test_order_list_shapes_and_time_formats() -> None:
    shanghai = datetime(2026, 11, 30, 10, 0, tzinfo=UTC) + timedelta(hours=0)
    (a,) = lists.parse_orders(
        [
            {
                "baseInfo": {
                    "id": 123,
                    "status": "waitsellersend",
                    "createTime": "20261130180000000+0800",
                },
                "productItems": [{"name": "T"}],
                "sellerContact": {"companyName": "S"},
            }
        ],
        "1688",
        1,
    ).orders
    assert (a.order_id, a.shipped, a.title, a.shop) == ("123", False, "T", "S")
    assert a.created == shanghai.timestamp()
    (b, c) = lists.parse_orders(
        {
            "list": [
                {
                    "purchaseOrderId": "9",
                    "createTime": "2026-11-30 18:00:00",
                    "status": "TRADE_FINISHED",
                    "subOrders": [
                        {"subPurchaseOrderId": "11"},
                        {"subPurchaseOrderId": 12, "itemTitle": "X"},
                    ],
                }
            ]
        },
        "taobao",
        1,
    ).orders
    assert (b.order_id, c.order_id, c.title, b.shipped) == ("11", "12", "X", True)
    path, body = lists.build_orders_request("taobao", 10.0, 20.5, 3)
    assert path == lists.PATH_ORDERS_TAOBAO
    assert body == {"pageNo": 3, "pageSize": 50, "createStartTime": 10_000, "createEndTime": 20_500}


def test_a_label_is_title_and_shop_cut_to_sixty_characters() -> None:
    order = lists.Order("1688", "1", title="长" * 80, shop="店")
    label = imports.label_of(order)
    assert label is not None
    assert len(label) == 60
    assert label.endswith("…")
    assert imports.label_of(lists.Order("1688", "1")) is None
    assert imports.label_of(lists.Order("1688", "1", shop="店")) == "店"


def test_a_taobao_return_is_watched_beside_its_outbound_parcel(
    sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    from waypost import journeys

    doc = cli("import", "pandapon", "--platform", "taobao", "--json").json()["import"]  # type: ignore[index]
    assert doc["returns"] == [
        {
            "order_id": "200048859480",
            "query": f"trackingmore:zto:{RETURN}",
            "after": "YT8812003456712",
        }
    ]
    with Store.open(isolated / "data") as store:
        marks = journeys.index(store)
        legs = {r.number: marks.get(r.id) for r in store.watched()}
    assert legs["YT8812003456712"]["leg"] == 1  # type: ignore[index]
    assert legs[RETURN] == {"id": legs["YT8812003456712"]["id"], "leg": 2, "legs": 2}  # type: ignore[index]
    again = cli("import", "pandapon", "--platform", "taobao", "--json").json()["import"]  # type: ignore[index]
    assert again["returns"] == []


def test_returns_parse_only_records_with_a_waybill() -> None:
    records = [
        {
            "subPurchaseOrderId": "1",
            "returnLogisticsNo": "zt1",
            "returnLogisticsCompany": "中通快递",
        },
        {"salesOrderId": 2, "logisticsNo": "SF9"},
        {"subPurchaseOrderId": "3"},
        {"returnLogisticsNo": "X1"},
        {"subPurchaseOrderId": "4", "returnLogisticsNo": "bad waybill!"},
    ]
    found, more = lists.parse_returns({"total": 5, "records": records}, 1)
    assert [(r.order_id, r.waybill, r.company) for r in found] == [
        ("1", "ZT1", "中通快递"),
        ("2", "SF9", None),
    ]
    assert more is False
    path, body = lists.build_returns_request(1.0, 2.0, 1)
    assert path == "/open/order/refund/queryList"
    assert body == {"pageNo": 1, "pageSize": 50, "refundStartTime": 1000, "refundEndTime": 2000}


@given(json_values)
def test_arbitrary_return_lists_never_raise(data: object) -> None:
    found, _ = lists.parse_returns(data, 1)
    assert all(r.order_id.isdigit() and r.waybill.isalnum() for r in found)


def test_an_unshipped_order_that_ships_two_parcels_gains_both(
    sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    assert cli("import", "pandapon", "--platform", "1688").code == 0
    target = app(sandbox)
    assert target.add_event(UNSHIPPED, "【潮州市】韵达快递 已揽收", "潮州网点")
    order = target.orders[("1688", UNSHIPPED)]
    second = box.Parcel("SF9999000011", "LP0001", "TRANSPORT", [dict(order.parcels[0].nodes[0])])
    order.parcels.append(second)
    assert cli("watch", "--once").code == 0
    mine = sorted(n for n, v in rows(isolated).items() if v[2] == UNSHIPPED)
    assert mine == sorted([order.parcels[0].bill, "SF9999000011"])
    assert all(rows(isolated)[n][1] == "陶瓷马克杯 400ml · 潮州市瓷都陶瓷有限公司" for n in mine)
