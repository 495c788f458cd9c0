"""``waypost sandbox`` as a user meets it: variables that agree with each other, a detached
sandbox's data directory, its errors and help, the global options; and ``carriers --check
trackingmore`` on API v4, which must prove the key with one real call."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from waypost.sandbox import Sandbox
from waypost.sandbox.faults import HOSTILE, KINDS

# -- the variables --------------------------------------------------------------------------


def test_the_variables_name_the_api_version_of_the_url_they_export(box: Sandbox) -> None:
    env = box.env()
    assert env["WAYPOST_TRACKINGMORE_BASE_URL"].endswith("/trackingmore/v4")
    assert env["WAYPOST_TRACKINGMORE_API"] == "v4"


def test_a_config_on_api_v2_still_tracks_against_the_sandbox(
    sandbox: Sandbox,
    cli,  # type: ignore[no-untyped-def]
    isolated: Path,
) -> None:
    config = isolated / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[carriers.trackingmore]\napi = "v2"\n', encoding="utf-8")
    config.chmod(0o600)
    r = cli("track", "trackingmore:china-ems:LS912989618CN")
    assert r.code == 0, r.err
    assert "401" not in r.out + r.err
    paths = {e.path for e in sandbox.entries("trackingmore")}
    assert paths
    assert all(p.startswith("/v4/") for p in paths), paths


# -- carriers --check trackingmore on v4 ----------------------------------------------------


def test_check_on_v4_rejects_a_wrong_key_with_one_real_call(
    sandbox: Sandbox,
    cli,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_API_KEY", "wrong")
    r = cli("carriers", "--check", "trackingmore")
    assert r.code == 3, (r.out, r.err)
    assert "rejected" in r.err
    assert "wrong" not in r.err
    assert [(e.method, e.path, e.status) for e in sandbox.entries("trackingmore")] == [
        ("GET", "/v4/couriers/all", 401)
    ]


def test_check_on_v4_says_a_right_key_works_and_that_v4_tells_no_quota(
    sandbox: Sandbox,
    cli,  # type: ignore[no-untyped-def]
) -> None:
    for _ in range(2):  # a second check calls again: the courier list cache proves nothing
        r = cli("carriers", "--check", "trackingmore")
        assert r.code == 0, r.err
        assert "the credentials work" in r.out
        assert "does not tell the remaining quota" in r.out
    assert [(e.path, e.status) for e in sandbox.entries("trackingmore")] == [
        ("/v4/couriers/all", 200)
    ] * 2
    r = cli("carriers", "--check", "trackingmore", "--json")
    assert r.json()["credentials"] == "work"  # type: ignore[index]


def test_the_check_hint_names_every_carrier_that_can_be_checked(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("carriers", "--check", "ils")
    assert r.code == 2
    assert "(try: pandapon, trackingmore)" in r.err


# -- detached ------------------------------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something else listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_port_in_use_says_why_and_the_hint_once_each(cli, busy_port: int) -> None:  # type: ignore[no-untyped-def]
    r = cli("sandbox", "--detach", "--port", str(busy_port))
    assert r.code == 2
    assert r.err.count("Address already in use") == 1, r.err
    assert r.err.count("pick another --port") == 1, r.err
    assert "the sandbox did not start: cannot listen on" in r.err


def test_detach_makes_the_data_dir_0700_as_the_store_does(
    cli,  # type: ignore[no-untyped-def]
    isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = isolated / "fresh" / "data"
    monkeypatch.setenv("WAYPOST_DATA_DIR", str(data))
    r = cli("sandbox", "--detach")
    try:
        assert r.code == 0, r.err
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
    finally:
        assert cli("sandbox", "--stop").code == 0


def test_status_and_stop_take_the_global_options(
    cli,  # type: ignore[no-untyped-def]
) -> None:
    r = cli("sandbox", "--detach", "-q", "--no-color")
    assert r.code == 0, r.err
    try:
        assert r.err == ""  # -q: no notes
        assert "export WAYPOST_TRACKINGMORE_API=v4" in r.out
        s = cli("sandbox", "--status", "--color", "never")
        assert s.code == 0, s.err
        assert s.out == r.out
        assert "runs in the background on port" in s.err
    finally:
        stopped = cli("sandbox", "--stop", "-q", "--debug", "--timeout", "5")
    assert stopped.code == 0, stopped.err
    assert stopped.err == ""
    gone = cli("sandbox", "--status", "-v")
    assert gone.code == 1
    assert "no detached sandbox is running" in gone.err


def test_stop_and_status_do_not_combine(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("sandbox", "--stop", "--status")
    assert r.code == 2
    assert "cannot be combined" in r.err


# -- help and errors -----------------------------------------------------------------------


def test_help_lists_every_fault_kind(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("sandbox", "--help")
    assert r.code == 0
    text = " ".join(r.out.split())
    for kind in (*KINDS, *HOSTILE):
        assert f" {kind}," in text or f" {kind}." in text, kind
    assert "--status" in text
    assert "--state-file" not in text


def test_a_mistyped_option_never_suggests_the_internal_state_file(cli) -> None:  # type: ignore[no-untyped-def]
    for wrong in ("--stat", "--state", "--state-fil"):
        r = cli("sandbox", wrong)
        assert r.code == 2
        assert "No such option" in r.err
        assert "--state-file" not in r.err, r.err
