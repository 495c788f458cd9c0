"""The lean path's HTTP client (``waypost.lean_http``): what it sends is what httpx sends for the
model path, connections are reused, faults are recorded instead of raised."""

from __future__ import annotations

import socket

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import json_values
from waypost import lean_http, lean_httpclient
from waypost.http import ACCEPT_ENCODING, USER_AGENT
from waypost.sandbox import Sandbox

pytestmark = pytest.mark.real_clock


def test_the_request_is_the_one_httpx_sends_for_the_session() -> None:
    url = "http://127.0.0.1:8485/ils/oms/v2/event/getOrdersTrack"
    body = {"userId": "u", "pdd": "p", "method": "trackOrders", "trackingNos": ["3676E4043665"]}
    client = httpx.Client(  # a transport of its own: nothing is sent, no TLS context is loaded
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
        transport=httpx.MockTransport(lambda request: httpx.Response(204)),
    )
    expected = client.build_request("POST", url, json=body)
    raw = lean_httpclient.request_bytes(lean_http.Origin(url), lean_http.encode(body))
    head, _, content = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /ils/oms/v2/event/getOrdersTrack HTTP/1.1"
    sent = [tuple(line.split(": ", 1)) for line in lines[1:]]
    assert sorted(sent) == sorted((k.decode(), v.decode()) for k, v in expected.headers.raw)
    assert content == expected.content


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_json_bodies_are_encoded_as_httpx_encodes_them(value: dict[str, object]) -> None:
    try:
        expected = httpx.Request("POST", "http://x/", json=value).content
    except ValueError:  # NaN and infinities: refused by both
        with pytest.raises(ValueError, match="JSON"):
            lean_http.encode(value)
        return
    assert lean_http.encode(value) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/ils",
        "http://user:pw@127.0.0.1/ils",
        "http://127.0.0.1/ils?x=1",
        "http://[::1]:8080/ils",
        "http://127.0.0.1/a path",
        "ftp://127.0.0.1/",
    ],
)
def test_only_plain_simple_http_urls_are_taken(url: str) -> None:
    with pytest.raises(ValueError, match=r"not a|escaping"):
        lean_http.Origin(url)


def test_the_default_port_is_left_out_of_the_host_header() -> None:
    assert lean_http.Origin("http://example.test/x").authority == "example.test"
    assert lean_http.Origin("http://example.test:81/x").authority == "example.test:81"


def test_many_requests_over_two_kept_alive_connections(box: Sandbox) -> None:
    env = box.env()
    url = env["WAYPOST_ILS_BASE_URL"] + "/oms/v2/event/getOrdersTrack"
    auth = {"userId": env["WAYPOST_ILS_USER_ID"], "pdd": env["WAYPOST_ILS_PDD"]}
    bodies = [
        ((f"4848S{i:07d}",), {**auth, "method": "trackOrders", "trackingNos": [f"4848S{i:07d}"]})
        for i in range(25)
    ]
    got: list[lean_http.Exchange] = []
    lean_http.post_all(
        url, bodies, timeout=20, connections=2, max_body=1 << 20, on_exchange=got.append
    )
    assert sorted(e.key for e in got) == sorted(k for k, _ in bodies)
    assert {(e.status, e.fault) for e in got} == {(200, None)}
    assert all(e.body.startswith(b"{") for e in got)
    with box.lock:
        assert len(box.log) == 25


def test_a_refused_connection_is_a_recorded_fault() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    got: list[lean_http.Exchange] = []
    lean_http.post_all(
        f"http://127.0.0.1:{port}/x",
        [(("A",), {})],
        timeout=5,
        connections=1,
        max_body=100,
        on_exchange=got.append,
    )
    assert [(e.key, e.fault) for e in got] == [(("A",), "connect")]
