"""TrackingMore API v4: the pure api module (parsing, codes, requests), the strategy against the
sandbox's v4 emulation (limits from its log, concurrency of reads and creates, paging, delete
by id), the facts client and emulator share, and v2/v4 agreement on the same demo data."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import loopback
from tests.conftest import fixture, json_values
from tests.hostile import HostileServer, Raw
from tests.inproc import VirtualClock
from waypost.carriers import trackingmore as tm
from waypost.carriers.base import Answer, MemoryCache, Query, TrackOptions
from waypost.carriers.trackingmore import adapter as tm_adapter
from waypost.carriers.trackingmore import shared as tm_shared
from waypost.carriers.trackingmore import v2_api as tm_api
from waypost.carriers.trackingmore import v4 as tm4
from waypost.carriers.trackingmore import v4_api as api
from waypost.errors import AuthError, CarrierError, ProtocolError, QuotaExceeded, RateLimited
from waypost.http import Session
from waypost.models import Status
from waypost.sandbox import Sandbox
from waypost.sandbox import trackingmore_v4 as emu
from waypost.sandbox.server import LogEntry
from waypost.sandbox.trackingmore import App, synthetic_number


def _parse(item: Any, number: str = "N1") -> Any:
    return api.parse_tracking(item, number, None, tm_shared.STATUS, tm_shared.SUBSTATUS)


# -- the api module ---------------------------------------------------------------------------


@given(json_values)
def test_parse_tracking_never_raises_on_any_json(value: Any) -> None:
    shipment = _parse(value)
    assert shipment.tracking_number == "N1"
    assert shipment.carrier == "trackingmore"


FIELDS = {
    "delivery_status": st.sampled_from(["transit", "delivered", "pickup", "weird", "", None, 3]),
    "substatus": st.sampled_from(["delivered001", "pickup002", "exception010", "x", None]),
    "scheduled_delivery_date": st.sampled_from(["2024-05-06", "2024-05-06T10:00:00", "soon", None]),
    "transit_time": st.one_of(st.none(), st.integers(-5, 50000), st.text(max_size=4)),
    "destination_track_number": st.one_of(st.none(), st.text(max_size=12)),
    "archived": st.sampled_from(["tracking", "archived", True, None, 1]),
    "latest_event": st.one_of(st.none(), st.text(max_size=20)),
    "origin_info": st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {},
            optional={
                "weblink": st.sampled_from(["https://t.example/x", "javascript:alert(1)", None]),
                "trackinfo": st.lists(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "checkpoint_date": st.sampled_from(
                                ["2024-05-01 10:00", "2024-05-01T10:00:00+08:00", "", None]
                            ),
                            "tracking_detail": st.one_of(st.none(), st.text(max_size=10)),
                            "checkpoint_delivery_status": st.sampled_from(
                                ["transit", "delivered", None, 7]
                            ),
                            "checkpoint_delivery_substatus": st.sampled_from(
                                ["transit004", "bad", None]
                            ),
                            "city": st.one_of(st.none(), st.text(max_size=6)),
                        },
                    ),
                    max_size=4,
                ),
            },
        ),
    ),
}


@given(st.fixed_dictionaries({}, optional=FIELDS))
def test_parse_tracking_fields_present_absent_or_null(item: dict[str, Any]) -> None:
    shipment = _parse(item)
    if shipment.eta is not None:
        assert shipment.eta_source == "carrier"
    if shipment.transit_days is not None:
        assert 0 <= shipment.transit_days < 10_000
    if shipment.link is not None:
        assert shipment.link.startswith("https://")
    assert shipment.archived is (item.get("archived") == "archived")
    for event in shipment.events:
        assert event.time is not None or event.description is not None


def test_a_full_tracking_fills_the_new_shipment_fields() -> None:
    item = {
        "id": "abc",
        "tracking_number": "ls912989618cn",
        "courier_code": "china-ems",
        "delivery_status": "transit",
        "substatus": "transit004",
        "archived": "archived",
        "scheduled_delivery_date": "2024-05-06",
        "transit_time": 9,
        "destination_track_number": "9400111201080805483016",
        "latest_event": "Arrived",
        "origin_info": {"weblink": "https://www.ems.com.cn/", "trackinfo": []},
        "destination_info": {
            "courier_code": "usps",
            "trackinfo": [
                {
                    "checkpoint_date": "2024-05-01 10:00",
                    "tracking_detail": "Arrived",
                    "city": "Renton",
                    "country_iso2": "US",
                    "checkpoint_delivery_status": "transit",
                    "checkpoint_delivery_substatus": "transit004",
                }
            ],
        },
    }
    s = _parse(item, "LS912989618CN")
    assert (s.status, s.courier, s.transit_days, s.archived) == (
        Status.IN_TRANSIT,
        "china-ems",
        9,
        True,
    )
    assert str(s.eta) == "2024-05-06"
    assert s.eta_source == "carrier"
    assert s.last_mile is not None
    assert (s.last_mile.courier, s.last_mile.tracking_number) == ("usps", "9400111201080805483016")
    assert s.link == "https://www.ems.com.cn/"
    assert s.events[0].location == "Renton, US"


def test_recorded_v4_dhl_answer() -> None:
    # The source moved the checkpoints to a top-level `track_info` and the envelope to
    # `status` (tests/fixtures/trackingmore/v4/README.md); put them back where v4 has them.
    raw = fixture("trackingmore/v4", "real_dhl_9104223295.json")
    assert isinstance(raw, dict)
    item = dict(raw["data"][0])
    item["origin_info"] = {**item["origin_info"], "trackinfo": item.pop("track_info")}
    code, message, data = api.read_envelope({"meta": raw["status"], "data": [item]})
    assert code == 200
    assert message == "Request response is successful"
    (tracking,) = api.trackings_of(data)
    s = _parse(tracking, "9104223295")
    assert (s.status, s.found, s.courier, s.transit_days) == (Status.DELIVERED, True, "dhl", 5)
    assert s.archived is False  # "archived": "tracking"
    assert s.link == "http://www.dhl.com/"
    assert [e.status for e in s.events] == [Status.DELIVERED, Status.OUT_FOR_DELIVERY]
    assert s.events[0].description == "Delivered"
    # latest_event "Delivered, SUZHOU & ... - CHINA MAINLAND, 2023-09-15 15:00:00": the status line
    # is the description alone; the place and time are the newest event's own columns.
    assert s.status_text == "Delivered"


def test_recorded_v4_usps_legs() -> None:
    legs = fixture("trackingmore/v4", "real_usps_92055901755477000271990251_legs.json")
    assert isinstance(legs, dict)
    item = {"tracking_number": "92055901755477000271990251", "courier_code": "usps", **legs}
    s = _parse(item, "92055901755477000271990251")
    assert len(s.events) == 8
    assert s.events[0].description == "Arrived at USPS Regional Facility"
    assert s.events[-1].status is Status.INFO_RECEIVED  # notfound001 under transit
    assert s.link is None  # the source mangled the weblink; not an http(s) URL
    assert s.status is Status.IN_TRANSIT  # no delivery_status: in transit, having events


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (401, AuthError),
        (403, AuthError),
        (4190, QuotaExceeded),
        (429, RateLimited),
        (4103, ProtocolError),
        (4130, ProtocolError),
        (4110, CarrierError),
        (4120, CarrierError),
        (4121, CarrierError),
        (404, CarrierError),
        (511, CarrierError),
    ],
)
def test_meta_codes_map_to_error_classes(code: int, kind: type[CarrierError]) -> None:
    err = api.error_for(code, "words")
    assert type(err) is kind
    assert str(code) in err.message


def test_a_rejected_v4_key_names_v2_and_a_rejected_v2_key_names_v4() -> None:
    assert 'api = "v2"' in (api.error_for(401, None).hint or "")
    assert 'api = "v4"' in (tm_api.envelope_error(4001, None).hint or "")
    assert api.error_for(401, None).exit_code == 3


def test_requests_are_built_as_documented() -> None:
    assert api.numbers_query(["A", "B"], "de") == {"tracking_numbers": "A,B", "lang": "de"}
    with pytest.raises(ValueError, match="between 1 and 40"):
        api.numbers_query([str(i) for i in range(41)])
    assert api.page_query(0.0, 2) == {
        "items_amount": 100,
        "pages_amount": 2,
        "updated_date_min": "1970-01-01T00:00:00+00:00",
    }
    assert api.create_body("N", "usps") == {"tracking_number": "N", "courier_code": "usps"}
    assert api.item_path(api.DELETE, "9a2f7d1e") == "/trackings/delete/9a2f7d1e"
    with pytest.raises(ValueError, match="tracking id"):
        api.item_path(api.DELETE, "../x")


def test_batch_answer_splits_success_and_error() -> None:
    made, failed = api.parse_batch(
        {
            "success": [{"id": "1", "tracking_number": "a1", "courier_code": "usps"}],
            "error": [{"tracking_number": "b2", "errorCode": 4101, "errorMessage": "exists"}],
        }
    )
    assert list(made) == ["A1"]
    assert failed == {"B2": (4101, "exists")}


# -- client facts pinned to the emulator's ------------------------------------------------------


def test_client_limits_and_paths_match_the_emulator() -> None:
    assert api.RATES[api.CREATE] == emu.LIMIT_CREATE
    assert {r for e, r in api.RATES.items() if e != api.CREATE} == {emu.LIMIT_OTHER}
    assert api.MAX_NUMBERS == api.MAX_BATCH == emu.MAX_PER_CALL
    assert api.PAGE_SIZE <= emu.MAX_ITEMS
    assert api.HEADER.lower() == "tracking-api-key"
    assert api.DEFAULT_BASE == tm.V4_BASE
    known = set(api.ENDPOINTS)
    with Sandbox(port=0) as box:
        base = box.env()["WAYPOST_TRACKINGMORE_BASE_URL"]
        assert base.endswith("/v4")
        headers = {api.HEADER: box.env()["WAYPOST_TRACKINGMORE_API_KEY"]}
        methods = {api.GET: "GET", api.COURIERS: "GET", api.UPDATE: "PUT", api.DELETE: "DELETE"}
        for path in known:
            url = base + (path + "/abc" if path in (api.UPDATE, api.DELETE, api.RETRACK) else path)
            wrong = "POST" if methods.get(path, "POST") != "POST" else "GET"
            code = loopback.request(wrong, url, headers=headers).json()["meta"]["code"]
            assert code == 400, path  # the route exists; only the method is wrong
        assert loopback.get(base + "/trackings/nope", headers=headers).status_code == 404


# -- the strategy against the sandbox -------------------------------------------------------------


def _app(sandbox: Sandbox) -> App:
    app = sandbox.apps["trackingmore"]
    assert isinstance(app, App)
    return app


def _track(
    sandbox: Sandbox,
    queries: Sequence[Query],
    options: TrackOptions | None = None,
    cache: MemoryCache | None = None,
    **over: Any,
) -> list[Answer]:
    env = sandbox.env()
    settings = {
        "api_key": env["WAYPOST_TRACKINGMORE_API_KEY"],
        "base_url": env["WAYPOST_TRACKINGMORE_BASE_URL"],
        **over,
    }

    async def go() -> list[Answer]:
        async with Session() as session:
            adapter = tm_adapter.Adapter(settings, session, cache)
            assert isinstance(adapter, tm4.Adapter)
            return await adapter.track(queries, options or TrackOptions())

    return asyncio.run(go())


def _on(sandbox: Sandbox, path: str) -> list[LogEntry]:
    return [e for e in sandbox.entries("trackingmore") if e.path.startswith("/v4" + path)]


def _busiest_second(entries: list[LogEntry]) -> int:
    times = sorted(e.t for e in entries)
    return max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)


def _q(number: str, courier: str | None = None) -> Query:
    return Query(number, "trackingmore", courier)


def test_numbers_in_the_account_are_read_40_at_a_time_at_10_per_second(sandbox: Sandbox) -> None:
    numbers = [synthetic_number(i, "VA") for i in range(480)]
    _app(sandbox).preload(numbers)
    answers = _track(sandbox, [_q(n) for n in numbers])
    gets = _on(sandbox, api.GET)
    assert [e.numbers for e in gets] == [40] * 12
    assert _busiest_second(gets) <= 10
    assert gets[-1].t - gets[0].t >= 1.0  # the 11th read waited for the next second
    assert sandbox.rejected() == 0
    assert all(a.failure is None and a.shipments[0].events for a in answers)
    assert not _on(sandbox, api.CREATE)


def test_new_numbers_are_created_in_real_time_beside_the_reads_and_deleted_after(
    sandbox: Sandbox,
) -> None:
    known = [synthetic_number(i, "VK") for i in range(400)]
    new = [synthetic_number(i, "VN") for i in range(9)]
    _app(sandbox).preload(known)
    # the first chunk of 40 holds the new numbers, so creating starts after the first read
    order = new + known
    answers = _track(sandbox, [_q(n, "sandbox-post") for n in order])
    gets, creates, deletes = (_on(sandbox, p) for p in (api.GET, api.CREATE, api.DELETE))
    assert len(gets) == 11
    assert len(creates) == 9
    assert len(deletes) == 9
    assert creates[0].t < gets[-1].t  # creating overlaps the reads still going
    assert _busiest_second(creates) <= 3
    assert _busiest_second(gets) <= 10
    assert _busiest_second(deletes) <= 10
    assert sandbox.rejected() == 0
    by_number = {a.query.number: a for a in answers}
    for number in new:
        shipment = by_number[number].shipments[0]
        assert shipment.status is not Status.PENDING
        assert shipment.events
    held = {t.number for t in _app(sandbox).account.values()}
    assert held.isdisjoint(new)  # without --save nothing new stays


def test_save_leaves_created_numbers_in_the_account(sandbox: Sandbox) -> None:
    new = [synthetic_number(i, "VS") for i in range(3)]
    _track(sandbox, [_q(n, "sandbox-post") for n in new], TrackOptions(save=True))
    assert not _on(sandbox, api.DELETE)
    assert set(new) <= {t.number for t in _app(sandbox).account.values()}


def test_an_existing_number_answers_4101_and_is_read_back(sandbox: Sandbox) -> None:
    # asked as usps, it is not read from the account (held as phlpost); creating it is
    # auto-corrected to phlpost, which exists: 4101, then read back
    (answer,) = _track(sandbox, [_q("RR050349575PH", "usps")])
    creates = _on(sandbox, api.CREATE)
    assert [e.status for e in creates] == [400]
    assert len(_on(sandbox, api.GET)) == 2
    assert answer.shipments[0].status is Status.DELIVERED
    assert not _on(sandbox, api.DELETE)  # it was in the account before: it stays


def test_update_moves_a_tracking_to_another_courier(sandbox: Sandbox) -> None:
    tracking = next(t for t in _app(sandbox).account.values() if t.number == "RN210552627LT")
    env = sandbox.env()
    settings = {
        "api_key": env["WAYPOST_TRACKINGMORE_API_KEY"],
        "base_url": env["WAYPOST_TRACKINGMORE_BASE_URL"],
    }

    async def go() -> dict[str, Any]:
        async with Session() as session:
            return await tm4.Adapter(settings, session).update_courier(tracking.id, "korea-post")

    assert asyncio.run(go())["courier_code"] == "korea-post"
    (put,) = _on(sandbox, api.UPDATE)
    assert (put.method, put.path) == ("PUT", f"/v4/trackings/update/{tracking.id}")
    assert ("RN210552627LT", "korea-post") in _app(sandbox).account


def test_detect_names_the_courier_when_no_pattern_is_sure(sandbox: Sandbox) -> None:
    (answer,) = _track(sandbox, [_q("3318810025")])
    assert answer.failure is None
    assert answer.shipments[0].status is Status.FAILED_ATTEMPT
    assert len(_on(sandbox, api.DETECT)) == 1


def _watching() -> TrackOptions:
    return TrackOptions(watch=True)


def _deliver(options: TrackOptions) -> None:
    """What ``watch`` does once a pass's news is stored: run the deferred cursor moves."""
    for _, action in options.deferred:
        action()


def test_watch_pages_changed_trackings_instead_of_asking_every_number(sandbox: Sandbox) -> None:
    numbers = [synthetic_number(i, "VW") for i in range(250)]
    _app(sandbox).preload(numbers)
    cache = MemoryCache()
    first = _track(sandbox, [_q(n) for n in numbers], options := _watching(), cache)
    _deliver(options)
    assert all(a.failure is None and not a.unchanged for a in first)
    sandbox.reset_log()
    again = _track(sandbox, [_q(n) for n in numbers], TrackOptions(watch=True), cache)
    gets = _on(sandbox, api.GET)
    # 250 preloaded + the demo trackings updated recently: 3 pages of 100, the last short
    assert [e.params.get("pages_amount") for e in gets] == ["1", "2", "3"]
    assert all("updated_date_min" in e.params and "tracking_numbers" not in e.params for e in gets)
    assert all(a.failure is None for a in again)
    assert sandbox.rejected() == 0


def test_watch_answers_unchanged_for_known_numbers_on_no_page(sandbox: Sandbox) -> None:
    numbers = [synthetic_number(i, "VU") for i in range(5)]
    _app(sandbox).preload(numbers)
    cache = MemoryCache()
    _track(sandbox, [_q(n) for n in numbers], options := _watching(), cache)
    _deliver(options)
    for tracking in _app(sandbox).account.values():
        tracking.updated -= 86400
    later = cache.get(tm4.NS_WATCH, "cursor")
    assert isinstance(later, float)
    answers = _track(sandbox, [_q(n) for n in numbers], TrackOptions(watch=True), cache)
    assert all(a.unchanged for a in answers)


def test_paging_stops_at_a_repeated_page(sandbox: Sandbox, hostile: HostileServer) -> None:
    page = [{"tracking_number": f"N{i}", "courier_code": "usps"} for i in range(api.PAGE_SIZE)]
    asked: list[str] = []

    def same_page(seen: Any) -> Raw | None:
        if "pages_amount=" not in seen.path:
            return None
        asked.append(seen.path)
        return Raw.json({"meta": {"code": 200, "message": "ok"}, "data": page})

    hostile.answer(same_page)
    cache = MemoryCache()
    cache.put(tm4.NS_WATCH, "cursor", 1.0e9)
    answers = _track_env(hostile.env(sandbox.env()), [_q("N1")], TrackOptions(watch=True), cache)
    assert answers[0].failure is None
    assert len(asked) == 2  # the second page repeats the first: stop


def _endless(asked: list[str]) -> Any:
    """Account pages that are always full and always new, N1 on each."""

    def answer(seen: Any) -> Raw | None:
        if "pages_amount=" not in seen.path:
            return None
        asked.append(seen.path)
        page = [{"tracking_number": "N1", "courier_code": "usps", "id": "a1"}] + [
            {"tracking_number": f"Z{len(asked)}X{i}", "courier_code": "usps"}
            for i in range(api.PAGE_SIZE - 1)
        ]
        return Raw.json({"meta": {"code": 200, "message": "ok"}, "data": page})

    return answer


def _cursor_moves(options: TrackOptions) -> bool:
    return any(carrier == tm4.NAME for carrier, _ in options.deferred)


def test_paging_stops_at_max_pages_and_keeps_the_cursor(
    sandbox: Sandbox, hostile: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "MAX_PAGES", 3)
    asked: list[str] = []
    hostile.answer(_endless(asked))
    cache = MemoryCache()
    cache.put(tm4.NS_WATCH, "cursor", 1.0e9)
    options = TrackOptions(watch=True)
    answers = _track_env(hostile.env(sandbox.env()), [_q("N1")], options, cache)
    assert answers[0].failure is None
    assert len(asked) == 3
    # The cursor stays, even once the news is delivered; the next pass goes on from the last
    # page read (tests/carriers/trackingmore/test_watch_cap.py), not from the first again.
    for carrier, action in options.deferred:
        if carrier == tm4.NAME:
            action()
    assert cache.get(tm4.NS_WATCH, "cursor") == 1.0e9
    kept = cache.get(tm4.NS_WATCH, "resume")
    assert isinstance(kept, dict)
    assert (kept["cursor"], kept["page"]) == (1.0e9, 3)


def test_the_cursor_moves_only_after_delivery(sandbox: Sandbox) -> None:
    numbers = [synthetic_number(i, "VD") for i in range(3)]
    _app(sandbox).preload(numbers)
    cache = MemoryCache()
    cache.put(tm4.NS_WATCH, "cursor", 1.0e9)
    options = TrackOptions(watch=True)
    _track(sandbox, [_q(n) for n in numbers], options, cache)
    assert cache.get(tm4.NS_WATCH, "cursor") == 1.0e9  # not before the news is stored
    (action,) = [a for carrier, a in options.deferred if carrier == tm4.NAME]
    action()
    assert cache.get(tm4.NS_WATCH, "cursor") > 1.0e9


def test_paging_stops_at_the_run_deadline(sandbox: Sandbox, hostile: HostileServer) -> None:
    asked: list[str] = []
    hostile.answer(_endless(asked))
    cache = MemoryCache()
    cache.put(tm4.NS_WATCH, "cursor", 1.0e9)
    options = TrackOptions(watch=True)
    env = hostile.env(sandbox.env())
    answers = _track_env(env, [_q("N1")], options, cache, deadline=0.5)
    assert "deadline" in str(answers[0].failure)
    assert 1 <= len(asked) < api.MAX_PAGES
    assert not _cursor_moves(options)


def test_a_429_of_years_pauses_for_max_pause_and_says_so(
    sandbox: Sandbox, hostile: HostileServer
) -> None:
    hostile.answer(lambda seen: Raw.too_many("99999999"))
    cache = MemoryCache()
    env = hostile.env(sandbox.env())
    (answer,) = _track_env(env, [_q("RR050349575PH")], TrackOptions(), cache)
    assert isinstance(answer.failure, RateLimited)
    assert "paused the account for 5 minutes; try again in 5 minutes" in str(answer.failure)
    until = cache.get(tm4.NS_LIMITS, "paused_until")
    assert 0 < until - time.time() <= 300.0


def test_a_stored_pause_of_years_is_capped_at_max_pause(sandbox: Sandbox) -> None:
    cache = MemoryCache()
    cache.put(tm4.NS_LIMITS, "paused_until", time.time() + 1.0e8)
    (answer,) = _track(sandbox, [_q("RR050349575PH")], TrackOptions(), cache)
    assert isinstance(answer.failure, RateLimited)
    assert "an earlier run's 429; try again in 5 minutes" in str(answer.failure)
    assert cache.get(tm4.NS_LIMITS, "paused_until") - time.time() <= 300.0
    assert sandbox.entries("trackingmore") == []  # nothing sent while paused


def test_a_pause_longer_than_the_deadline_is_reported_not_waited(
    sandbox: Sandbox, hostile: HostileServer, clock: VirtualClock
) -> None:
    hostile.answer(lambda seen: Raw.too_many("60"))
    env = hostile.env(sandbox.env())
    started = clock.monotonic()  # counts waits the virtual clock skipped, too
    options = TrackOptions(wait=True)
    (answer,) = _track_env(env, [_q("RR050349575PH")], options, MemoryCache(), deadline=5)
    assert isinstance(answer.failure, RateLimited)
    assert "try again in 60 s" in str(answer.failure)
    assert clock.monotonic() - started < 5


def _track_env(
    env: dict[str, str],
    queries: Sequence[Query],
    options: TrackOptions,
    cache: MemoryCache,
    deadline: float | None = None,
) -> list[Answer]:
    settings = {
        "api_key": env["WAYPOST_TRACKINGMORE_API_KEY"],
        "base_url": env["WAYPOST_TRACKINGMORE_BASE_URL"],
    }

    async def go() -> list[Answer]:
        async with Session(deadline=deadline) as session:
            return await tm4.Adapter(settings, session, cache).track(queries, options)

    return asyncio.run(go())


def _fail(sandbox: Sandbox, code: int, path: str) -> None:
    body = {"code": code, "path": "/v4" + path}
    loopback.post(f"{sandbox.base_url}/_sandbox/trackingmore/fail", json=body).raise_for_status()


def test_quota_used_up_is_a_clear_error(sandbox: Sandbox) -> None:
    _fail(sandbox, 4190, api.GET)
    (answer,) = _track(sandbox, [_q("RR050349575PH")])
    assert isinstance(answer.failure, QuotaExceeded)


def test_a_429_fails_fast_and_pauses_the_session(sandbox: Sandbox) -> None:
    _fail(sandbox, 429, api.GET)
    answers = _track(sandbox, [_q("RR050349575PH"), _q(synthetic_number(1, "VR"))])
    assert all(isinstance(a.failure, RateLimited) for a in answers)
    assert "--wait" in str(answers[0].failure)


def test_cli_default_is_v4_and_a_wrong_key_names_v2(sandbox: Sandbox, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--json", "RR050349575PH")
    assert r.code == 0, r.err
    assert json.loads(r.out)["shipments"][0]["status"] == "delivered"
    assert {e.path for e in sandbox.entries("trackingmore")} == {"/v4/trackings/get"}
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_API_KEY", "not-the-key-0123456789")
    r = cli("track", "RR050349575PH")
    assert r.code == 3
    assert 'api = "v2"' in r.out


def test_remove_remote_deletes_by_id(sandbox: Sandbox) -> None:
    tracking = next(t for t in _app(sandbox).account.values() if t.number == "RR050349575PH")
    env = sandbox.env()
    settings = {
        "api_key": env["WAYPOST_TRACKINGMORE_API_KEY"],
        "base_url": env["WAYPOST_TRACKINGMORE_BASE_URL"],
    }

    async def go() -> list[Answer]:
        async with Session() as session:
            return await tm4.Adapter(settings, session).remove([_q("RR050349575PH"), _q("ZZ1")])

    gone, absent = asyncio.run(go())
    assert gone.shipments[0].status_text == "deleted from the TrackingMore account"
    assert absent.shipments[0].status_text == "was not in the TrackingMore account"
    assert [e.path for e in _on(sandbox, api.DELETE)] == [f"/v4/trackings/delete/{tracking.id}"]


def test_carriers_shows_the_api_in_use(sandbox: Sandbox, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rows = {r["name"]: r for r in json.loads(cli("carriers", "--json").out)["carriers"]}
    assert rows["trackingmore"]["api"] == "v4"
    assert rows["trackingmore"]["rates_per_second"] == {
        "get_rate": 10.0,
        "realtime_rate": 3.0,
        "default_rate": 10.0,
    }
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_API", "v2")
    rows = {r["name"]: r for r in json.loads(cli("carriers", "--json").out)["carriers"]}
    assert rows["trackingmore"]["api"] == "v2"
    assert rows["trackingmore"]["rates_per_second"]["get_rate"] == 1.0
    assert "api:     v2" in cli("carriers").out
    # Each rate note says which version it is of: v2's 1 request/s never reads as v4's.
    notes = rows["trackingmore"]["rate_notes"]
    assert [n.split(":", 1)[0] for n in notes] == [
        "v4 (api = v4)",
        "v2 (api = v2)",
        "either version",
    ]
    assert all("1 request/s" not in n for n in notes if not n.startswith("v2"))


def test_an_unknown_api_version_is_a_config_error(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_API", "v3")
    r = cli("carriers")
    assert r.code == 3
    assert "v4, v2" in r.err


# -- v2 and v4 tell the same story --------------------------------------------------------------

DEMO = [
    "RR050349575PH",
    "RN210552627LT",
    "RA408172651DE",
    "EE528374616CN",
    "986578788855",
    "china-ems:LS912989618CN",
    "ups:1Z999AA10123456784",
    "dhl:3318810025",
    "usps:9400111899223197428490",
]


def _shipments(cli: Any) -> list[dict[str, Any]]:
    r = cli("track", "--json", *[f"trackingmore:{n}" for n in DEMO])
    assert r.code == 0, r.err
    shipments: list[dict[str, Any]] = json.loads(r.out)["shipments"]
    return shipments


def _story(shipments: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            s["tracking_number"],
            s["found"],
            s["status"],
            s["courier"],
            [(e["time"], e["description"], e["location"]) for e in s["events"]],
        )
        for s in shipments
    ]


def test_both_versions_answer_the_demo_numbers_alike(sandbox: Sandbox, cli, request) -> None:  # type: ignore[no-untyped-def]
    v4 = _shipments(cli)
    request.getfixturevalue("tm_v2")
    v2 = _shipments(cli)
    assert _story(v4) == _story(v2)
    assert {s["status"] for s in v4} >= {"delivered", "exception", "expired", "not_found"}
    # v4 gives each checkpoint its own substatus: the notfound001 step is info received
    fedex = next(s for s in v4 if s["tracking_number"] == "986578788855")
    assert fedex["events"][0]["status"] == "info_received"
    # fields only v4 carries
    ems = next(s for s in v4 if s["tracking_number"] == "LS912989618CN")
    assert ems["last_mile"] == {"courier": "usps", "tracking_number": "9400111201080805483016"}
    ups = next(s for s in v4 if s["tracking_number"] == "1Z999AA10123456784")
    assert ups["eta_source"] == "carrier"


def test_the_status_line_is_latest_event_without_its_place_and_time() -> None:
    # v4's latest_event glues "description,place,time" as v2's lastEvent does.
    item = {
        "tracking_number": "LS912989618CN",
        "courier_code": "china-ems",
        "delivery_status": "transit",
        "latest_event": "Arrived at USPS Regional Destination Facility,DES MOINES IA NETWORK "
        "DISTRIBUTION CENTER,2018-04-17 22:30",
        "latest_checkpoint_time": "2018-04-17 22:30",
        "origin_info": {
            "trackinfo": [
                {
                    "checkpoint_date": "2018-04-17 22:30",
                    "tracking_detail": "Arrived at USPS Regional Destination Facility",
                    "location": "DES MOINES IA NETWORK DISTRIBUTION CENTER",
                    "checkpoint_delivery_status": "transit",
                }
            ]
        },
    }
    shipment = api.parse_tracking(
        item, "LS912989618CN", None, tm_shared.STATUS, tm_shared.SUBSTATUS
    )
    assert shipment.status_text == "Arrived at USPS Regional Destination Facility"
    item["origin_info"] = {"trackinfo": []}  # no checkpoint: only the time comes off
    shipment = api.parse_tracking(
        item, "LS912989618CN", None, tm_shared.STATUS, tm_shared.SUBSTATUS
    )
    assert shipment.status_text == (
        "Arrived at USPS Regional Destination Facility,DES MOINES IA NETWORK DISTRIBUTION CENTER"
    )
