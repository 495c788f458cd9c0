"""Whole generated HTTP answers (status, headers, body bytes, gzip/deflate or not) for every
endpoint of one carrier, served at the transport boundary while the other two carriers answer
their recorded examples: the run never raises, its exit code is a documented one, every number
gets an answer, a failure is one line, and the other carriers' numbers are answered.

The answers are streamed (not pre-read), so the bounded reader and its inflater are what parse
them; `HYPOTHESIS_PROFILE=fuzz` tries ten times as many (see tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import zlib
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.bombs import gzip_bomb
from tests.conftest import fixture
from tests.reliability.test_fuzz import payloads
from waypost import carriers, config, service
from waypost.carriers.base import MemoryCache, Query, TrackOptions

HOSTS = {"ils": "ils.test", "trackingmore": "tm.test", "pandapon": "pp.test"}
ENV = {
    "WAYPOST_CONFIG": "/nonexistent/waypost.toml",
    "WAYPOST_ILS_USER_ID": "u",
    "WAYPOST_ILS_PDD": "ils-secret-0123456789",
    "WAYPOST_ILS_BASE_URL": "http://ils.test",
    "WAYPOST_TRACKINGMORE_API_KEY": "tm-secret-0123456789",
    "WAYPOST_TRACKINGMORE_BASE_URL": "http://tm.test/v2",
    "WAYPOST_TRACKINGMORE_GET_RATE": "1000",
    "WAYPOST_TRACKINGMORE_REALTIME_RATE": "1000",
    "WAYPOST_TRACKINGMORE_DEFAULT_RATE": "1000",
    "WAYPOST_PANDAPON_USER_ID": "1",
    "WAYPOST_PANDAPON_ACCESS_KEY": "ak",
    "WAYPOST_PANDAPON_SECRET": "pp-secret-0123456789",
    "WAYPOST_PANDAPON_BASE_URL": "http://pp.test",
    "WAYPOST_PANDAPON_RATE": "1000",
    "WAYPOST_HTTP_RETRIES": "0",
    "WAYPOST_HTTP_MAX_PAUSE": "0.01",  # a 429's pause, waited out by `watch`, stays short here
    "WAYPOST_HTTP_MAX_BODY_MB": "1",
}
QUERIES = {
    "ils": [Query("3676E4043665", "ils")],
    "trackingmore": [
        Query("LS912989618CN", "trackingmore", "china-ems"),
        Query("RR050349575PH", "trackingmore", "phlpost"),
    ],
    "pandapon": [Query("2542285634920880794", "pandapon"), Query("200033789041", "pandapon")],
}
DOCUMENTED = {0, 1, 3}  # answered, some failed, credentials rejected (never 4: others answer)


def good(request: httpx.Request) -> httpx.Response:
    """The recorded example of the carrier behind ``request``."""
    host, path = request.url.host, request.url.path
    if host == HOSTS["ils"]:
        return httpx.Response(200, json=fixture("ils", "seed_example.json"))
    if host == HOSTS["pandapon"]:
        taobao = path.startswith("/open/")
        example = "taobao_example.json" if taobao else "seed_example.json"
        return httpx.Response(200, json=fixture("pandapon", example))
    seed = fixture("trackingmore", "realtime_seed.json")
    item = seed["data"]["items"][0]  # type: ignore[index]
    items = [
        {**item, "tracking_number": q.number, "carrier_code": q.courier}
        for q in QUERIES["trackingmore"]
    ]
    ok = {"code": 200, "type": "Success", "message": "Success"}
    if path.endswith("/trackings/batch"):
        return httpx.Response(200, json={"meta": ok, "data": {"trackings": items, "errors": []}})
    if path.endswith("/trackings/realtime"):
        asked = json.loads(request.content)["tracking_number"]
        mine = [i for i in items if i["tracking_number"] == asked]
        return httpx.Response(200, json={"meta": ok, "data": {"items": mine}})
    return httpx.Response(200, json={"meta": ok, "data": {"items": items, "total": "2"}})


@functools.lru_cache(maxsize=64)  # the sampled bodies (2 MB of padding, ...) come again and again
def encoded(body: bytes, coding: str | None) -> bytes:
    if coding == "gzip":
        return gzip.compress(body)
    if coding == "deflate":
        return zlib.compress(body)
    return body


def bodies(name: str) -> st.SearchStrategy[bytes]:
    recorded = json.dumps(good_payload(name)).encode()
    return st.one_of(
        payloads(name).map(lambda p: json.dumps(p).encode()),
        st.binary(max_size=64),
        st.integers(0, len(recorded)).map(lambda n: recorded[:n]),  # truncated
        st.sampled_from(
            [
                b"",
                b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                b"[" * 50_000 + b"]" * 50_000,
                b'{"padding": "' + b"x" * (2 << 20) + b'"}',  # over the 1 MB bound
                b'{"code": 200, "body": null, "data": null, "meta": {"code": 200}}',
                b'{"text": "\\ud800 \\udfff"}',
                b'{"code": 200, "body": [{"consignment": "3676E4043665", '
                b'"billTrackList": [{"date": "0001-01-01 00:00:00", "desc": "x"}, '
                b'{"date": "9999-12-31 23:59:59", "desc": "y"}]}]}',
            ]
        ),
    )


def good_payload(name: str) -> Any:
    if name == "ils":
        return fixture("ils", "seed_example.json")
    if name == "pandapon":
        return fixture("pandapon", "seed_example.json")
    return fixture("trackingmore", "realtime_seed.json")


def answers(name: str) -> st.SearchStrategy[tuple[int, dict[str, str], bytes]]:
    """One whole HTTP answer: status, headers, body bytes (compressed as its headers say, or
    claiming a coding it does not have)."""
    statuses = st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503])
    header = st.fixed_dictionaries(
        {},
        optional={
            "Content-Type": st.sampled_from(
                ["application/json", "text/html", "application/json;charset=GBK", ""]
            ),
            "Retry-After": st.sampled_from(
                ["0", "1", "99999999", "9" * 40, "-5", "soon", "Wed, 21 Oct 2015 07:28:00 GMT"]
            ),
        },
    )
    coding = st.sampled_from([None, "gzip", "deflate"])
    claimed = st.sampled_from([None, "same", "gzip", "br", "x-unknown"])
    body_of = bodies(name)  # built once, not at every draw

    @st.composite
    def build(draw: st.DrawFn) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = draw(statuses), draw(header), draw(body_of)
        used, says = draw(coding), draw(claimed)
        data = encoded(body, used)
        label = used if says == "same" else says
        if label:
            headers = {**headers, "Content-Encoding": label}
        return status, headers, data

    return build()


def run(name: str, script: list[tuple[int, dict[str, str], bytes]], watch: bool) -> Any:
    served = iter(script * 50)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host != HOSTS[name]:
            return good(request)
        status, headers, body = next(served)
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    queries = [q for qs in QUERIES.values() for q in qs]
    options = TrackOptions(watch=watch)
    cfg = config.load(env=ENV)
    return asyncio.run(
        service.run(
            queries,
            cfg,
            options,
            timeout=5,
            cache=MemoryCache(),
            transport=httpx.MockTransport(handler),
        )
    )


@pytest.mark.parametrize("name", carriers.names())
def test_generated_http_answers_cost_only_that_carriers_numbers(name: str) -> None:
    # A third of the profile's examples: each one is a whole three-carrier run.
    @settings(max_examples=max(50, settings.default.max_examples // 3))
    @given(st.lists(answers(name), min_size=1, max_size=3), st.booleans())
    def check(script: list[tuple[int, dict[str, str], bytes]], watch: bool) -> None:
        report = run(name, script, watch)
        assert report.exit_code in DOCUMENTED
        assert len(report.results) == sum(len(q) for q in QUERIES.values())
        for result in report.results:
            assert result.shipments
            for s in result.shipments:
                json.loads(s.model_dump_json())
                if s.error is not None:
                    assert "\n" not in s.error
                    for secret in ("ils-secret", "tm-secret", "pp-secret"):
                        assert secret not in s.error
            if result.query.carrier != name:
                assert result.failure is None, (result.query, result.failure)

    check()


def test_a_streamed_gzip_bomb_stops_at_the_bound() -> None:
    bomb = gzip_bomb(64)  # as gzip.compress of 64 MB of spaces makes it (tests/bombs.py)
    report = run("ils", [(200, {"Content-Encoding": "gzip"}, bomb)], watch=False)
    ils = [s for s in report.shipments if s.carrier == "ils"]
    assert all("larger than 1 MB" in (s.error or "") for s in ils)
    assert report.exit_code == 1
