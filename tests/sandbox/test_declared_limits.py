"""The client's declared limits, paths and headers agree with the emulator's, one test per
carrier: a change on either side without the other fails here instead of drifting apart."""

from __future__ import annotations

from tests import loopback
from waypost import carriers
from waypost.carriers import ils, pandapon
from waypost.carriers import trackingmore as tm
from waypost.carriers.pandapon import api as pandapon_api
from waypost.carriers.trackingmore import v4_api as tm4_api
from waypost.sandbox import Sandbox, server
from waypost.sandbox import ils as ils_emu
from waypost.sandbox import pandapon as pandapon_emu
from waypost.sandbox import trackingmore as tm_emu
from waypost.sandbox import trackingmore_v4 as tm4_emu


def _not_routed(sandbox: Sandbox, carrier: str, method: str, path: str, **kw: object) -> bool:
    """True when the emulator of ``carrier`` answers ``method path`` as a path it lacks."""
    url = f"{sandbox.base_url}/{carrier}{path}"
    response = loopback.request(method, url, timeout=5.0, **kw)  # type: ignore[arg-type]
    text = response.text
    return response.status_code in (404, 405) or '"Not Found"' in text


def test_every_registered_carrier_is_emulated() -> None:
    assert list(server.APPS) == carriers.names()


def test_ils_client_and_emulator_agree(sandbox: Sandbox) -> None:
    assert ils.MAX_BATCH == ils_emu.MAX_NUMBERS
    assert ils.INFO.max_batch == ils_emu.MAX_NUMBERS
    assert ils.ENDPOINT == ils_emu.PATH
    assert not _not_routed(sandbox, "ils", "POST", ils.ENDPOINT, json={})


def test_pandapon_client_and_emulator_agree(sandbox: Sandbox) -> None:
    assert (pandapon.PATH_1688, pandapon.PATH_TAOBAO) == (
        pandapon_emu.PATH_1688,
        pandapon_emu.PATH_TAOBAO,
    )
    assert pandapon.DEFAULT_RATE == pandapon_emu.RATE
    assert pandapon.INFO.setting("rate").default == pandapon_emu.RATE  # type: ignore[union-attr]
    assert pandapon.INFO.max_batch == 1
    headers = pandapon_api.signed_headers("key", "secret", "user", "1700000000000", "nonce")
    assert set(pandapon_emu.HEADERS) <= {h.lower() for h in headers}
    for path in (pandapon.PATH_1688, pandapon.PATH_TAOBAO):
        assert not _not_routed(sandbox, "pandapon", "GET", path)


def test_trackingmore_client_and_emulator_agree(sandbox: Sandbox) -> None:
    # API v2: batch maxima, default rates per endpoint, the key header, every path.
    assert (tm.MAX_NUMBERS, tm.MAX_CREATE, tm.MAX_LIMIT) == (
        tm_emu.MAX_NUMBERS,
        tm_emu.MAX_BATCH,
        tm_emu.MAX_LIMIT,
    )
    assert tm.REALTIME_REUSE == tm_emu.REALTIME_WINDOW
    v2 = tm.effective_settings({"api": "v2"})
    emulated = tm_emu.App(Sandbox())
    assert (v2["get_rate"], v2["realtime_rate"], v2["default_rate"]) == (
        emulated.get_rate,
        emulated.realtime_rate,
        emulated.default_rate,
    )
    key = {"Trackingmore-Api-Key": tm_emu.API_KEY}
    for path, method in (
        (tm.GET, "GET"),
        (tm.REALTIME, "POST"),
        (tm.POST, "POST"),
        (tm.BATCH, "POST"),
        (tm.CARRIERS, "GET"),
        (tm.DETECT, "POST"),
    ):
        assert not _not_routed(
            sandbox, "trackingmore", method, "/v2" + path, headers=key, json={}
        ), path
    # API v4: batch maxima, per-endpoint rates, the key header, every path.
    assert (tm4_api.MAX_NUMBERS, tm4_api.MAX_BATCH) == (tm4_emu.MAX_PER_CALL,) * 2
    assert tm4_api.PAGE_SIZE <= tm4_emu.MAX_ITEMS
    assert tm4_api.RATES[tm4_api.CREATE] == tm4_emu.LIMIT_CREATE
    assert {r for e, r in tm4_api.RATES.items() if e != tm4_api.CREATE} == {tm4_emu.LIMIT_OTHER}
    v4 = tm.effective_settings({})
    assert (v4["get_rate"], v4["default_rate"]) == (tm4_emu.LIMIT_OTHER,) * 2
    assert tm4_api.HEADER == "Tracking-Api-Key"
    key4 = {tm4_api.HEADER: tm_emu.API_KEY}
    for path, method in (
        (tm4_api.CREATE, "POST"),
        (tm4_api.GET, "GET"),
        (tm4_api.BATCH, "POST"),
        (tm4_api.COURIERS, "GET"),
        (tm4_api.DETECT, "POST"),
        (tm4_api.UPDATE + "/abc", "PUT"),
        (tm4_api.DELETE + "/abc", "DELETE"),
        (tm4_api.RETRACK + "/abc", "POST"),
    ):
        assert not _not_routed(
            sandbox, "trackingmore", method, "/v4" + path, headers=key4, json={}
        ), path
