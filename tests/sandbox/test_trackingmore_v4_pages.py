"""The TrackingMore v4 emulator's ``GET /trackings/get`` pages (``items_amount``,
``pages_amount``, ``delivery_status``): each page is its slice of the whole ordered list, and
only that page's trackings are rendered (a page of a large account used to render them all)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from waypost.sandbox import Sandbox
from waypost.sandbox import trackingmore_v4 as v4
from waypost.sandbox.server import Request
from waypost.sandbox.trackingmore import App, synthetic_number


@pytest.fixture
def box() -> Sandbox:
    made = Sandbox(enforce_limits=False)
    app = made.apps["trackingmore"]
    assert isinstance(app, App)
    app.preload([synthetic_number(i, "PG") for i in range(250)])
    return made


def _page(box: Sandbox, **query: str) -> list[dict[str, Any]]:
    key = box.env()["WAYPOST_TRACKINGMORE_API_KEY"]  # the handler hands headers over lower-cased
    request = Request(
        "GET", "/trackingmore/v4/trackings/get", query, {"tracking-api-key": key}, b""
    )
    reply, _ = box.answer(request)
    assert reply.status == 200
    body = json.loads(reply.body)
    assert body["meta"]["code"] == 200
    data: list[dict[str, Any]] = body["data"]
    return data


def test_pages_are_slices_of_the_whole_list(box: Sandbox) -> None:
    whole = _page(box, items_amount="2000")
    assert 250 < len(whole) < 300  # the demo world's account and the 250 preloaded
    pages = [_page(box, items_amount="100", pages_amount=str(p)) for p in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [100, 100, len(whole) - 200, 0]
    assert [i["id"] for p in pages for i in p] == [i["id"] for i in whole]


def test_a_status_filter_pages_the_filtered_list(box: Sandbox) -> None:
    whole = _page(box, items_amount="2000")
    status = max(
        {i["delivery_status"] for i in whole},
        key=lambda s: sum(i["delivery_status"] == s for i in whole),
    )
    matching = [i["id"] for i in whole if i["delivery_status"] == status]
    assert len(matching) > 20
    pages = [
        _page(box, items_amount="20", pages_amount=str(p), delivery_status=status)
        for p in range(1, len(matching) // 20 + 3)
    ]
    assert [i["id"] for p in pages for i in p] == matching
    assert all(len(p) <= 20 for p in pages)


def test_only_the_page_is_rendered(box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[str] = []
    item = v4.V4.item

    def counted(self: v4.V4, tracking: Any) -> dict[str, Any]:
        rendered.append(tracking.number)
        return item(self, tracking)

    monkeypatch.setattr(v4.V4, "item", counted)
    assert len(_page(box, items_amount="10", pages_amount="3")) == 10
    assert len(rendered) == 10
