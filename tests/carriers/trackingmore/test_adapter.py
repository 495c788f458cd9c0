"""TrackingMore v2 strategy: account read, realtime, batch create, watch paging, 429, the
emulator's answers and the CLI, asserted on the sandbox's request log; waypost reaches the
sandbox in-process on a virtual clock (tests/inproc.py), so the spacing asserted is the
limiters' own while no test waits for it (pure parsing: test_api.py)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from tests import loopback
from tests.conftest import fixture
from tests.inproc import VirtualClock
from waypost.carriers import trackingmore as tm
from waypost.carriers.base import Answer, MemoryCache, Query, TrackOptions
from waypost.carriers.trackingmore import v2 as tm_v2
from waypost.errors import CarrierError, QuotaExceeded, RateLimited
from waypost.http import Session
from waypost.models import Status
from waypost.sandbox import Sandbox
from waypost.sandbox.server import LogEntry
from waypost.sandbox.trackingmore import API_KEY, App, synthetic_number


@pytest.fixture(autouse=True)
def _api_v2(request: pytest.FixtureRequest) -> None:
    """These are the v2 adapter's tests: with the sandbox, waypost is set to ``api = "v2"``."""
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("tm_v2")


GET_PATH = "/v2/trackings/get"
REALTIME_PATH = "/v2/trackings/realtime"
BATCH_PATH = "/v2/trackings/batch"
DETECT_PATH = "/v2/carriers/detect"


# -- against the sandbox --------------------------------------------------------------------


def _app(sandbox: Sandbox) -> App:
    app = sandbox.apps["trackingmore"]
    assert isinstance(app, App)
    return app


def _settings(sandbox: Sandbox, **over: Any) -> dict[str, Any]:
    env = sandbox.env()
    return {
        "api_key": env["WAYPOST_TRACKINGMORE_API_KEY"],
        "base_url": env["WAYPOST_TRACKINGMORE_BASE_URL"].removesuffix("/v4") + "/v2",
        "api": "v2",
        "get_rate": 1.0,
        "realtime_rate": 3.0,
        "default_rate": 1.0,
        "realtime_max": 20,
        **over,
    }


def _track(
    sandbox: Sandbox,
    queries: Sequence[Query],
    options: TrackOptions | None = None,
    cache: MemoryCache | None = None,
    **over: Any,
) -> list[Answer]:
    async def go() -> list[Answer]:
        async with Session() as session:
            adapter = tm_v2.Adapter(_settings(sandbox, **over), session, cache)
            return await adapter.track(queries, options or TrackOptions())

    return asyncio.run(go())


def _on(sandbox: Sandbox, path: str) -> list[LogEntry]:
    return [e for e in sandbox.entries("trackingmore") if e.path == path]


def _gaps(entries: list[LogEntry], step: int = 1) -> list[float]:
    return [b.t - a.t for a, b in zip(entries, entries[step:], strict=False)]


def _q(number: str, courier: str | None = None) -> Query:
    return Query(number, "trackingmore", courier)


def test_200_numbers_in_the_account_are_read_in_5_list_calls_spaced_1_s(
    sandbox: Sandbox,
) -> None:
    numbers = [synthetic_number(i) for i in range(200)]
    _app(sandbox).preload(numbers)
    answers = _track(sandbox, [_q(n) for n in numbers])
    gets = _on(sandbox, GET_PATH)
    assert [e.numbers for e in gets] == [40] * 5
    assert min(_gaps(gets)) >= 1.0
    assert sandbox.rejected() == 0
    assert [e.path for e in sandbox.entries("trackingmore")] == [GET_PATH] * 5
    assert [a.query.number for a in answers] == numbers
    assert all(a.found and a.shipments[0].status is not Status.PENDING for a in answers)


def test_numbers_not_in_the_account_go_through_realtime_at_its_limit(sandbox: Sandbox) -> None:
    numbers = [synthetic_number(i, "RT") for i in range(7)]
    answers = _track(sandbox, [_q(n, "sandbox-post") for n in numbers])
    log = sandbox.entries("trackingmore")
    assert log[0].path == GET_PATH
    assert log[0].numbers == 7
    realtime = _on(sandbox, REALTIME_PATH)
    assert len(realtime) == 7
    assert len(log) == 8
    assert min(_gaps(realtime, 3)) >= 1.0  # never 4 in one second
    assert sandbox.rejected() == 0
    assert all(a.found and a.shipments[0].courier == "sandbox-post" for a in answers)


def test_half_in_the_account_costs_2_list_calls_and_realtime_for_the_rest(
    sandbox: Sandbox,
) -> None:
    app = _app(sandbox)
    app.get_rate, app.realtime_rate = 20.0, 30.0
    held = [synthetic_number(i, "HA") for i in range(30)]
    fresh = [synthetic_number(i, "HB") for i in range(30)]
    app.preload(held)
    queries = [_q(n, "sandbox-post") for pair in zip(held, fresh, strict=True) for n in pair]
    answers = _track(sandbox, queries, get_rate=20.0, realtime_rate=30.0, realtime_max=40)
    assert sorted(e.numbers for e in _on(sandbox, GET_PATH)) == [20, 40]
    assert len(_on(sandbox, REALTIME_PATH)) == 30
    assert sandbox.rejected() == 0
    assert all(a.found for a in answers)


def test_above_realtime_max_the_first_go_to_realtime_and_the_rest_are_created_pending(
    sandbox: Sandbox,
) -> None:
    numbers = [synthetic_number(i, "BX") for i in range(5)]
    answers = _track(sandbox, [_q(n, "sandbox-post") for n in numbers], realtime_max=2)
    paths = [e.path for e in sandbox.entries("trackingmore")]
    assert paths[0] == GET_PATH
    assert sorted(paths[1:]) == sorted([REALTIME_PATH, REALTIME_PATH, BATCH_PATH])
    assert _on(sandbox, BATCH_PATH)[0].numbers == 3
    assert all(a.shipments[0].status is not Status.PENDING for a in answers[:2])
    assert all(a.shipments[0].events for a in answers[:2])
    assert all(a.shipments[0].status is Status.PENDING for a in answers[2:])
    assert all(a.found and a.failure is None for a in answers)


@pytest.mark.parametrize("save", [False, True])
def test_30_new_numbers_the_first_20_by_realtime_with_events_the_last_10_created_pending(
    sandbox: Sandbox, save: bool
) -> None:
    app = _app(sandbox)
    app.realtime_rate = 30.0
    numbers = [synthetic_number(i, "TH") for i in range(30)]
    answers = _track(
        sandbox,
        [_q(n, "sandbox-post") for n in numbers],
        TrackOptions(save=save),
        realtime_rate=30.0,
    )
    assert [a.query.number for a in answers] == numbers
    assert all(a.found and a.failure is None for a in answers)
    first, rest = answers[:20], answers[20:]
    assert all(a.shipments[0].status is not Status.PENDING for a in first)
    assert all(a.shipments[0].events for a in first)
    assert all((a.shipments[0].status, a.shipments[0].events) == (Status.PENDING, []) for a in rest)
    assert {n for n, _ in app.realtime_answers} & set(numbers) == set(numbers[:20])
    assert len(_on(sandbox, REALTIME_PATH)) == 20
    batches = _on(sandbox, BATCH_PATH)
    assert batches[0].numbers == 10  # the last 10, in one call
    if save:
        assert [e.numbers for e in batches] == [10, 20]  # then the 20 go into the account
        assert batches[1].t >= max(e.t for e in _on(sandbox, REALTIME_PATH))
        assert {n for n, _ in app.account} & set(numbers) == set(numbers)
    else:
        assert len(batches) == 1
        assert {n for n, _ in app.account} & set(numbers) == set(numbers[20:])
    assert sandbox.rejected("trackingmore") == 0


def test_save_creates_the_tracking_which_reads_back_pending_until_fetched(
    sandbox: Sandbox,
) -> None:
    number = synthetic_number(7, "SV")
    cache = MemoryCache()
    first = _track(sandbox, [_q(number, "sandbox-post")], TrackOptions(save=True), cache)
    assert first[0].shipments[0].events  # realtime gave real events
    assert [e.path for e in sandbox.entries("trackingmore")] == [
        GET_PATH,
        REALTIME_PATH,
        BATCH_PATH,
    ]
    assert cache.get(tm.NS_ACCOUNT, number) == "sandbox-post"
    (again,) = _track(sandbox, [_q(number)], cache=cache)
    assert (again.shipments[0].status, again.shipments[0].events) == (Status.PENDING, [])
    assert again.found
    _app(sandbox).fetch([number])
    (fetched,) = _track(sandbox, [_q(number)], cache=cache)
    assert fetched.shipments[0].status is first[0].shipments[0].status
    assert fetched.shipments[0].events
    gets = _on(sandbox, GET_PATH)
    assert len(gets) == 3
    assert min(_gaps(gets)) >= 1.0  # separate runs keep the spacing through the cache
    assert sandbox.rejected() == 0


def test_a_realtime_answer_is_reused_for_2_hours_unless_refresh(sandbox: Sandbox) -> None:
    number = synthetic_number(3, "RU")
    cache = MemoryCache()
    for options in (TrackOptions(), TrackOptions(), TrackOptions(refresh=True)):
        (answer,) = _track(sandbox, [_q(number, "sandbox-post")], options, cache)
        assert answer.found
    assert len(_on(sandbox, REALTIME_PATH)) == 2
    assert sandbox.rejected() == 0


def test_the_courier_is_detected_once_and_the_answer_cached(sandbox: Sandbox) -> None:
    number = synthetic_number(11, "DT")  # country ZZ: no post known locally
    cache = MemoryCache()
    for _ in range(2):
        (answer,) = _track(sandbox, [_q(number)], TrackOptions(refresh=True), cache)
        assert answer.shipments[0].courier == "sandbox-post"
    assert len(_on(sandbox, DETECT_PATH)) == 1
    assert cache.get(tm.NS_DETECT, number) == [{"name": "Sandbox Post", "code": "sandbox-post"}]


def test_a_sure_pattern_names_the_courier_without_a_detect_call(sandbox: Sandbox) -> None:
    (answer,) = _track(sandbox, [_q("LS912989618CN")])  # S10, CN: china-post; auto-corrected
    assert answer.shipments[0].courier == "china-ems"
    assert len(answer.shipments[0].events) == 10
    assert _on(sandbox, DETECT_PATH) == []


def test_an_undetectable_number_fails_asking_for_the_courier(sandbox: Sandbox) -> None:
    (answer,) = _track(sandbox, [_q("ABCD-1234")])
    assert isinstance(answer.failure, CarrierError)
    assert answer.failure.hint is not None
    assert "trackingmore:COURIER:NUMBER" in answer.failure.hint
    assert _on(sandbox, REALTIME_PATH) == []


def test_watch_refresh_of_2000_parcels_is_one_paged_call(sandbox: Sandbox) -> None:
    numbers = [synthetic_number(i, "WA") for i in range(2000)]
    _app(sandbox).preload(numbers)
    cache = MemoryCache()
    for n in numbers:
        cache.put(tm.NS_ACCOUNT, n, "sandbox-post")
    since = time.time() - 3600
    options = TrackOptions(watch=True, since=since)
    answers = _track(sandbox, [_q(n) for n in numbers], options, cache)
    (call,) = sandbox.entries("trackingmore")
    assert call.path == GET_PATH
    assert call.params["limit"] == "2000"
    assert call.params["update_time_min"] == str(int(since - 600))
    assert len(answers) == 2000
    assert all(a.found and not a.unchanged for a in answers)
    # The cursor moves only once the pass's news is delivered (watch runs the deferred step).
    assert cache.get(tm.NS_WATCH, "cursor") is None
    for _carrier, action in options.deferred:
        action()
    assert cache.get(tm.NS_WATCH, "cursor") is not None


def test_watch_answers_unchanged_for_numbers_on_no_page(sandbox: Sandbox) -> None:
    app = _app(sandbox)
    numbers = [synthetic_number(i, "UC") for i in range(3)]
    app.preload(numbers)
    for tracking in app.account.values():
        tracking.updated = time.time() - 7200
    assert app.add_event(numbers[1], "Arrived at the sorting center", "Sandbox Hub")
    cache = MemoryCache()
    for n in numbers:
        cache.put(tm.NS_ACCOUNT, n, "sandbox-post")
    options = TrackOptions(watch=True, since=time.time() - 3600)
    answers = _track(sandbox, [_q(n) for n in numbers], options, cache)
    assert [a.unchanged for a in answers] == [True, False, True]
    assert answers[0].shipments == []
    assert answers[1].shipments[0].events[0].description == "Arrived at the sorting center"
    assert len(sandbox.entries("trackingmore")) == 1


def test_first_watch_pages_the_account_and_creates_new_numbers_pending(
    sandbox: Sandbox,
) -> None:
    number = synthetic_number(5, "NW")
    cache = MemoryCache()
    options = TrackOptions(watch=True)
    answers = _track(sandbox, [_q("RR050349575PH"), _q(number, "sandbox-post")], options, cache)
    first, created = sandbox.entries("trackingmore")
    assert (first.path, first.params.get("update_time_min")) == (GET_PATH, None)
    assert (created.path, created.numbers) == (BATCH_PATH, 1)
    assert answers[0].shipments[0].status is Status.DELIVERED
    assert answers[1].shipments[0].status is Status.PENDING
    assert cache.get(tm.NS_ACCOUNT, number) == "sandbox-post"


def test_a_rate_limit_answer_fails_fast_with_a_clear_message(sandbox: Sandbox) -> None:
    fault = {"code": 429, "times": 1, "path": "/trackings/realtime"}
    loopback.post(f"{sandbox.base_url}/_sandbox/trackingmore/fail", json=fault)
    numbers = [synthetic_number(i, "RL") for i in range(5)]
    # At 1/s the next request waits for 1 s after this answer: it is surely still queued.
    answers = _track(sandbox, [_q(n, "sandbox-post") for n in numbers], realtime_rate=1.0)
    assert len(_on(sandbox, REALTIME_PATH)) == 1  # the queued ones were not sent
    for answer in answers:
        assert isinstance(answer.failure, RateLimited)
        assert "paused the account for 2 minutes" in answer.failure.message
        assert "--wait" in answer.failure.message
        assert answer.failure.retry_after is not None
        assert answer.failure.retry_after > 100


def test_a_pause_is_remembered_by_the_next_run(sandbox: Sandbox) -> None:
    sandbox.penalize("trackingmore", 120)
    cache = MemoryCache()
    (first,) = _track(sandbox, [_q("RR050349575PH")], cache=cache)
    (second,) = _track(sandbox, [_q("RR050349575PH")], cache=cache)
    assert isinstance(first.failure, RateLimited)
    assert isinstance(second.failure, RateLimited)
    assert len(sandbox.entries("trackingmore")) == 1  # the second run sent nothing


@pytest.mark.parametrize("options", [TrackOptions(wait=True), TrackOptions(watch=True)])
def test_wait_and_watch_wait_out_the_pause_and_retry_once(
    sandbox: Sandbox, options: TrackOptions
) -> None:
    _app(sandbox).retry_after = True
    sandbox.penalize("trackingmore", 2.0)
    (answer,) = _track(sandbox, [_q("RR050349575PH")], options)
    assert answer.failure is None
    assert answer.shipments[0].status is Status.DELIVERED
    rejected, accepted = _on(sandbox, GET_PATH)[:2]
    assert (rejected.status, rejected.rejected, accepted.status) == (429, True, 200)
    assert accepted.t - rejected.t >= 1.0  # the Retry-After of what was left of 2 s


def test_quota_used_up_is_a_clear_error_for_every_number(sandbox: Sandbox) -> None:
    loopback.post(f"{sandbox.base_url}/_sandbox/trackingmore/fail", json={"code": 4021})
    answers = _track(sandbox, [_q("RR050349575PH"), _q("RN210552627LT")])
    for answer in answers:
        assert isinstance(answer.failure, QuotaExceeded)
        assert "recharge" in answer.failure.message


def test_remove_deletes_from_the_account_and_4017_is_fine(sandbox: Sandbox) -> None:
    async def go() -> list[Answer]:
        async with Session() as session:
            adapter = tm_v2.Adapter(_settings(sandbox), session, MemoryCache())
            removed = await adapter.remove([_q("RR050349575PH")])
            gone = await adapter.remove([_q("RR050349575PH", "phlpost")])
            return removed + gone

    removed, gone = asyncio.run(go())
    assert removed.shipments[0].status_text == "deleted from the TrackingMore account"
    assert gone.shipments[0].status_text == "was not in the TrackingMore account"
    assert gone.failure is None
    deletes = [e for e in sandbox.entries("trackingmore") if e.method == "DELETE"]
    assert [e.path for e in deletes] == ["/v2/trackings/phlpost/RR050349575PH"] * 2
    assert [e.status for e in deletes] == [200, 200]
    assert ("RR050349575PH", "phlpost") not in _app(sandbox).account


def test_courier_list_is_fetched_once_a_day(sandbox: Sandbox) -> None:
    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with Session() as session:
            adapter = tm_v2.Adapter(_settings(sandbox), session, MemoryCache())
            return await adapter.couriers(), await adapter.couriers()

    first, second = asyncio.run(go())
    assert first == second
    assert {"usps", "china-ems", "sandbox-post"} <= {c["code"] for c in first}
    assert set(first[0]) == {"name", "code", "phone", "homepage", "type", "picture"}
    assert len(sandbox.entries("trackingmore")) == 1


def test_adapter_works_without_a_cache(sandbox: Sandbox) -> None:
    answers = _track(sandbox, [_q("RR050349575PH"), _q("ZZ-UNKNOWN-1", "usps")])
    assert answers[0].shipments[0].status is Status.DELIVERED
    assert (answers[1].found, answers[1].failure) == (False, None)
    assert answers[1].shipments[0].status is Status.NOT_FOUND


# -- the emulator answers like TrackingMore --------------------------------------------------


def _call(sandbox: Sandbox, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Trackingmore-Api-Key": API_KEY, **kwargs.pop("headers", {})}
    url = f"{sandbox.base_url}/trackingmore/v2{path}"
    return loopback.request(method, url, headers=headers, **kwargs)


def _meta(response: httpx.Response) -> tuple[int, int]:
    return response.status_code, response.json()["meta"]["code"]


def test_sandbox_envelopes_and_codes(sandbox: Sandbox) -> None:
    _app(sandbox).default_rate = _app(sandbox).get_rate = 100.0
    wrong = _call(sandbox, "GET", "/trackings/get", headers={"Trackingmore-Api-Key": "nope"})
    assert _meta(wrong) == (401, 4001)
    assert wrong.json()["meta"]["message"] == "Invalid API key."
    assert _meta(_call(sandbox, "GET", "/trackings/get", params={"numbers": "X1234"})) == (
        200,
        4031,
    )
    assert _meta(_call(sandbox, "GET", "/trackings/get", params={"status": "lost"})) == (200, 4033)
    too_many = [{"tracking_number": f"N{i:05d}", "carrier_code": "usps"} for i in range(41)]
    big = _call(sandbox, "POST", "/trackings/batch", json=too_many)
    assert _meta(big) == (200, 202)
    assert big.json()["meta"]["message"] == "The largest number of 40 each operation."
    twice = [{"tracking_number": "N00001", "carrier_code": "usps"}] * 2
    batch = _call(sandbox, "POST", "/trackings/batch", json=twice).json()
    assert batch["meta"]["code"] == 201
    assert (batch["data"]["submitted"], batch["data"]["added"]) == (2, 1)
    assert batch["data"]["trackings"][0]["status"] == "pending"
    assert batch["data"]["errors"][0]["code"] == 4016
    assert _meta(_call(sandbox, "DELETE", "/trackings/usps/N99999")) == (200, 4017)
    assert _meta(_call(sandbox, "GET", "/trackings/usps/N99999")) == (200, 4017)
    none = _call(sandbox, "POST", "/carriers/detect", json={"tracking_number": "ABCD-1234"})
    assert _meta(none) == (200, 4032)
    page = _call(sandbox, "GET", "/trackings/get", params={"limit": "1"}).json()["data"]
    assert isinstance(page["total"], str)
    assert page["count"] == len(page["items"]) == 1


def test_sandbox_enforces_the_get_limit_and_pauses_the_account(sandbox: Sandbox) -> None:
    first = _call(sandbox, "GET", "/trackings/get")
    second = _call(sandbox, "GET", "/trackings/get")
    third = _call(sandbox, "POST", "/carriers/detect", json={"tracking_number": "LS912989618CN"})
    assert first.status_code == 200
    assert _meta(second) == (429, 429)
    assert second.json()["meta"]["message"] == (
        "Exceeded API limits. Pause requests, wait two minute, and try again."
    )
    assert "retry-after" not in second.headers
    assert _meta(third) == (429, 429)  # the whole account is paused
    assert sandbox.rejected("trackingmore") == 2


def test_sandbox_realtime_twice_in_2_hours_returns_the_first_answer(sandbox: Sandbox) -> None:
    body = {"tracking_number": "RR050349575PH", "carrier_code": "phlpost"}
    first = _call(sandbox, "POST", "/trackings/realtime", json=body).json()["data"]["items"][0]
    assert _app(sandbox).add_event("RR050349575PH", "Late scan", None)
    again = _call(sandbox, "POST", "/trackings/realtime", json=body).json()["data"]["items"][0]
    assert again == first


# -- through the CLI ------------------------------------------------------------------------


def test_cli_tracks_the_docs_example_detected_from_the_number(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("track", "--jsonl", "LS912989618CN", "trackingmore:RN210552627LT")
    assert r.code == 0, r.err
    realtime, held = (json.loads(line) for line in r.out.splitlines())
    assert (realtime["carrier"], realtime["courier"], realtime["status"]) == (
        "trackingmore",
        "china-ems",
        "in_transit",
    )
    assert realtime["events"][0]["description"] == "Arrived at USPS Regional Destination Facility"
    assert realtime["events"][0]["time"] == "2018-04-17T22:30:00"
    assert (held["courier"], held["origin"], held["destination"]) == (
        "lietuvos-pastas",
        "Lithuania",
        "Korea, South",
    )
    assert [e.path for e in sandbox.entries("trackingmore")] == [GET_PATH, REALTIME_PATH]


def test_cli_invalid_key_is_exit_3(sandbox: Sandbox, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_API_KEY", "not-the-key-0123456789")
    r = cli("track", "--jsonl", "trackingmore:RR050349575PH", "trackingmore:usps:ZZ-X-1")
    assert r.code == 3
    for line in r.out.splitlines():
        assert "API key rejected (code 4001: Invalid API key.)" in json.loads(line)["error"]
    assert "not-the-key-0123456789" not in r.out + r.err


def test_cli_reports_a_rate_limit_pause_without_waiting(sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    sandbox.penalize("trackingmore", 120)
    r = cli("track", "--jsonl", "trackingmore:RR050349575PH")
    assert r.code == 4
    error = json.loads(r.out)["error"]
    assert "TrackingMore paused the account for 2 minutes" in error
    assert "--wait" in error
    assert len(sandbox.entries("trackingmore")) == 1


def test_a_late_arriving_request_does_not_squeeze_the_next_one_into_its_second(
    clock: VirtualClock,
) -> None:
    arrivals: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if not arrivals:
            await asyncio.sleep(0.15)  # the first request is slow on its way (cold connection)
        arrivals.append(clock.monotonic())
        return httpx.Response(200, json=fixture("trackingmore", "not_in_account.json"))

    async def go() -> None:
        transport = httpx.MockTransport(handler)
        async with Session(transport=transport) as session:
            adapter = tm_v2.Adapter({"api_key": "k", "base_url": "http://tm.test/v2"}, session)
            queries = [_q(synthetic_number(i)) for i in range(41)]  # two calls: 40 + 1
            held, failures = await adapter._read_account(queries)
            assert (held, failures) == ({}, {})

    asyncio.run(go())
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 1.0


def test_many_new_numbers_are_created_in_full_batches_while_the_account_is_still_read(
    sandbox: Sandbox,
) -> None:
    app = _app(sandbox)
    app.get_rate, app.default_rate, app.realtime_rate = 2.0, 10.0, 30.0
    numbers = [synthetic_number(i, "PL") for i in range(200)]
    answers = _track(
        sandbox,
        [_q(n, "sandbox-post") for n in numbers],
        get_rate=2.0,
        default_rate=10.0,
        realtime_rate=30.0,
    )
    gets, batches = _on(sandbox, GET_PATH), _on(sandbox, BATCH_PATH)
    assert [e.numbers for e in gets] == [40] * 5
    # the first 20 by realtime; the other 180 in the fewest calls they allow
    assert sorted(e.numbers for e in batches) == [20, 40, 40, 40, 40]
    assert batches[0].t < gets[-1].t  # pipelined: creation began before the last read
    assert len(_on(sandbox, REALTIME_PATH)) == 20
    assert _on(sandbox, REALTIME_PATH)[0].t < gets[-1].t  # realtime too
    assert all(a.shipments[0].events for a in answers[:20])
    assert {a.shipments[0].status for a in answers[20:]} == {Status.PENDING}
    assert sandbox.rejected("trackingmore") == 0


def test_a_few_new_numbers_among_many_known_ones_still_go_to_realtime(sandbox: Sandbox) -> None:
    app = _app(sandbox)
    app.get_rate, app.realtime_rate = 20.0, 30.0
    known = [synthetic_number(i, "KN") for i in range(100)]
    new = [synthetic_number(i, "NW") for i in range(5)]
    app.preload(known)
    answers = _track(
        sandbox, [_q(n, "sandbox-post") for n in known + new], get_rate=20.0, realtime_rate=30.0
    )
    assert len(_on(sandbox, REALTIME_PATH)) == 5
    assert _on(sandbox, BATCH_PATH) == []
    assert all(a.shipments[0].events for a in answers[-5:])
