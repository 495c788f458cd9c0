"""The hostile server itself: it passes the sandbox through, rewrites answers, and serves raw ones."""

from __future__ import annotations

import gzip
import json
import urllib.request

from tests.hostile import HostileServer, Raw, hostile_text, map_strings


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (loopback only)
        return resp.status, resp.read()


def test_passes_through_and_rewrites(hostile: HostileServer, sandbox) -> None:  # type: ignore[no-untyped-def]
    url = hostile.base_url + "/_sandbox/env"
    status, body = _get(url)
    assert status == 200
    assert json.loads(body) == sandbox.env()
    hostile.rewrite(lambda carrier, path, payload: map_strings(payload, hostile_text))
    _, body = _get(url)
    values = json.loads(body).values()
    assert all("\x1b]52;" in v and "[/]" in v for v in values)
    assert hostile.seen[-1].path == "/_sandbox/env"


def test_raw_answers(hostile: HostileServer) -> None:
    hostile.answer(lambda seen: Raw.gzip_bomb(2))
    with urllib.request.urlopen(hostile.base_url + "/ils/x", timeout=10) as resp:  # noqa: S310
        assert resp.headers["Content-Encoding"] == "gzip"
        assert len(gzip.decompress(resp.read())) == 2 << 20
    hostile.answer(lambda seen: Raw.huge(1))
    _, body = _get(hostile.base_url + "/ils/x")
    assert len(json.loads(body)["padding"]) == 1 << 20
