"""PandaPon's signing rule: two candidate recipes, ``auto`` finds and remembers the one the
account accepts, a fixed value pins one, ``carriers --check`` says which, and nothing loops."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import loopback
from waypost.carriers.pandapon import api as pandapon
from waypost.carriers.pandapon import signing as pandapon_sign
from waypost.sandbox import Sandbox
from waypost.sandbox import pandapon as box
from waypost.store import Store

NONCE = "0123456789abcdef0123456789abcdef"
ORDER = "2542285634920880794"


def app(sandbox: Sandbox) -> box.App:
    found = sandbox.apps["pandapon"]
    assert isinstance(found, box.App)
    return found


def accept(sandbox: Sandbox, recipe: str) -> None:
    r = loopback.post(
        f"{sandbox.base_url}/_sandbox/pandapon/config", json={"signature": recipe}, timeout=5
    )
    assert r.json() == {"ok": True, "signature": recipe}


def remembered(tmp: Path) -> object:
    with Store.open(tmp / "data") as store:
        return store.state.get(
            pandapon_sign.STATE_NAMESPACE, pandapon_sign.state_key(box.ACCESS_KEY)
        )


def signed_with(sandbox: Sandbox) -> list[str]:
    """Which recipe each PandaPon request used, told apart by its timestamp's unit."""
    return ["concat" if len(t) == 10 else "pairs" for t in app(sandbox).stamps]


def forget(sandbox: Sandbox) -> None:
    sandbox.reset_log()
    app(sandbox).stamps.clear()


# -- the recipes ------------------------------------------------------------------------------


def test_recipe_vectors_and_timestamp_units() -> None:
    # md5("AK" + "1700000000" + NONCE + "SK"), upper hex
    concat = pandapon_sign.BY_NAME["concat"]
    assert concat.sign("AK", "SK", "1700000000", NONCE) == "4561C603C39FA722C531498E4BC988DC"
    assert pandapon.sign("AK", "SK", "1700000000", NONCE) == "7841B09B3DB6C1AEB602DB2E9721B77E"
    assert concat.timestamp(lambda: 1_700_000_000.9) == "1700000000"
    assert pandapon_sign.BY_NAME["pairs"].timestamp(lambda: 1_700_000_000.9) == "1700000000900"
    assert pandapon_sign.RECIPES == ("pairs", "concat")


@given(
    access_key=st.text(max_size=40),
    secret=st.text(max_size=40),
    timestamp=st.text(alphabet="0123456789", max_size=13),
    nonce=st.text(max_size=32),
)
def test_the_sandbox_checks_the_concat_recipe_written_independently(
    access_key: str, secret: str, timestamp: str, nonce: str
) -> None:
    assert box.expected_concat_signature(access_key, secret, timestamp, nonce) == pandapon.sign(
        access_key, secret, timestamp, nonce, "concat"
    )
    assert box.expected_concat_signature(access_key, secret, timestamp, nonce) != pandapon.sign(
        access_key, secret, timestamp, nonce, "pairs"
    )


@given(st.text(max_size=12))
def test_the_setting_is_auto_or_a_recipe_else_a_clear_error(raw: str) -> None:
    if (raw.strip().lower() or "auto") not in pandapon_sign.CHOICES:
        with pytest.raises(ValueError, match="auto, pairs, concat"):
            pandapon_sign.parse_setting(raw)
        return
    value = pandapon_sign.parse_setting(raw)
    assert value in pandapon_sign.CHOICES
    assert value == (raw.strip().lower() or "auto")


def test_the_chooser_moves_once_per_candidate_and_a_pin_never_moves() -> None:
    auto = pandapon_sign.Chooser("auto")
    assert auto.current.name == "pairs"
    assert auto.rejected("pairs") is True
    assert auto.current.name == "concat"
    assert auto.rejected("pairs") is True  # a request signed before the move retries once
    assert auto.rejected("concat") is False  # nothing left: no loop
    assert auto.tried == ["pairs", "concat"]
    starts = pandapon_sign.Chooser("auto", remembered="concat")
    assert starts.current.name == "concat"
    assert starts.rejected("concat") is True
    assert starts.current.name == "pairs"
    pinned = pandapon_sign.Chooser("pairs", remembered="concat")
    assert pinned.current.name == "pairs"
    assert pinned.rejected("pairs") is False
    assert pinned.current.name == "pairs"


def test_a_signature_word_under_a_generic_auth_code_is_a_signature_rejection() -> None:
    assert pandapon.classify("401", "签名错误") == "signature"
    assert pandapon.classify("401", "unauthorized") == "auth"
    assert pandapon.classify("1003", None) == "signature"
    assert pandapon.classify("777", "Signature invalid") == "signature"
    assert pandapon.classify("1002", "access-key或user-id无效") == "auth"


# -- auto against the sandbox ------------------------------------------------------------------


@pytest.mark.parametrize("recipe", ["pairs", "concat"])
def test_auto_finds_the_recipe_the_account_accepts_and_remembers_it(
    recipe: str, sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    accept(sandbox, recipe)
    r = cli("track", "--json", f"pandapon:{ORDER}")
    assert r.code == 0, r.err
    assert r.json()["shipments"][0]["found"] is True  # type: ignore[index]
    expected = ["pairs"] if recipe == "pairs" else ["pairs", "concat"]
    assert signed_with(sandbox) == expected
    assert [e.status for e in sandbox.entries("pandapon")] == [200] * len(expected)
    assert remembered(isolated) == recipe
    forget(sandbox)
    again = cli("track", "--json", f"pandapon:{ORDER}", "pandapon:2205513879640221987")
    assert again.code == 0, again.err
    assert signed_with(sandbox) == [recipe, recipe]  # the remembered one, at once


def test_a_remembered_recipe_that_stops_working_is_replaced(
    sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    accept(sandbox, "concat")
    assert cli("track", f"pandapon:{ORDER}").code == 0
    accept(sandbox, "pairs")
    forget(sandbox)
    r = cli("track", f"pandapon:{ORDER}")
    assert r.code == 0, r.err
    assert signed_with(sandbox) == ["concat", "pairs"]
    assert remembered(isolated) == "pairs"


def test_wrong_credentials_try_each_recipe_once_per_order_and_never_loop(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_PANDAPON_SECRET", "wrong-secret-value-000000000001")
    accept(sandbox, "concat")
    orders = [ORDER, "2205513879640221987", "3318459201774650021"]
    r = cli("track", *[f"pandapon:{o}" for o in orders])
    assert r.code == 3
    assert "credentials rejected" in r.out
    assert "wrong-secret-value" not in r.out + r.err
    used = signed_with(sandbox)
    assert len(used) <= 2 * len(orders)
    assert used.count("pairs") <= len(orders)
    assert used.count("concat") <= len(orders)


def test_a_pinned_recipe_is_the_only_one_sent(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    accept(sandbox, "concat")
    monkeypatch.setenv("WAYPOST_PANDAPON_SIGNATURE", "pairs")
    r = cli("track", f"pandapon:{ORDER}")
    assert r.code == 3
    assert "signature" in r.out
    assert signed_with(sandbox) == ["pairs"]
    monkeypatch.setenv("WAYPOST_PANDAPON_SIGNATURE", "concat")
    forget(sandbox)
    assert cli("track", f"pandapon:{ORDER}").code == 0
    assert signed_with(sandbox) == ["concat"]
    assert remembered(isolated) is None  # a pin is not auto's memory


def test_an_unknown_recipe_in_the_config_is_a_config_error(cli, isolated: Path) -> None:  # type: ignore[no-untyped-def]
    config = isolated / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[carriers.pandapon]\nsignature = "sha1"\n', encoding="utf-8")
    r = cli("track", f"pandapon:{ORDER}")
    assert r.code == 3
    assert "signature" in r.err
    assert "auto" in r.err


# -- carriers --check ---------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", ["pairs", "concat"])
def test_check_says_which_recipe_the_account_accepts(
    recipe: str, sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    accept(sandbox, recipe)
    r = cli("carriers", "--check", "pandapon")
    assert r.code == 0, r.err
    assert f"accepts the signing recipe {recipe!r}" in r.out
    assert remembered(isolated) == recipe
    forget(sandbox)
    j = cli("carriers", "--check", "pandapon", "--json")
    doc = j.json()
    assert doc["accepted"] == recipe  # type: ignore[index]
    assert doc["setting"] == "auto"  # type: ignore[index]
    assert [t["recipe"] for t in doc["tried"]] == signed_with(sandbox)  # type: ignore[index]
    assert box.SIGNING_KEY not in r.out + r.err + j.out + j.err


def test_check_with_wrong_credentials_says_so(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_PANDAPON_SECRET", "wrong-secret-value-000000000002")
    r = cli("carriers", "--check", "pandapon")
    assert r.code == 3
    assert "credentials rejected: no signing recipe was accepted" in r.out
    assert "pairs: rejected (code 1003" in r.out
    assert len(sandbox.entries("pandapon")) == 2
    monkeypatch.setenv("WAYPOST_PANDAPON_ACCESS_KEY", "unknown-access-key")
    bad = cli("carriers", "--check", "pandapon")
    assert bad.code == 3
    assert "credentials rejected" in bad.out + bad.err


def test_check_of_a_pin_the_account_refuses_names_the_fix(
    sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    accept(sandbox, "concat")
    assert cli("config", "set", "carriers.pandapon.signature", "pairs").code == 0  # the file's pin
    r = cli("carriers", "--check", "pandapon")
    assert r.code == 3
    assert "waypost config set carriers.pandapon.signature concat" in r.out


def test_check_of_a_carrier_without_it_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("carriers", "--check", "ils")
    assert r.code == 2
    assert "pandapon" in r.err


def test_the_sandbox_in_concat_mode_reads_seconds_and_refuses_the_other_recipe(
    sandbox: Sandbox,
) -> None:
    accept(sandbox, "concat")
    url = f"{sandbox.base_url}/pandapon{pandapon.PATH_1688}"
    for recipe, code in (("concat", 200), ("pairs", 1003)):
        stamp = pandapon_sign.BY_NAME[recipe].timestamp()
        headers = pandapon.signed_headers(
            box.ACCESS_KEY, box.SIGNING_KEY, box.USER_ID, stamp, pandapon.new_nonce(), recipe
        )
        body = loopback.get(url, params={"orderId": ORDER}, headers=headers, timeout=5).json()
        assert body["code"] == code, body
    stale = str(int(time.time()) - 700)
    headers = pandapon.signed_headers(
        box.ACCESS_KEY, box.SIGNING_KEY, box.USER_ID, stale, pandapon.new_nonce(), "concat"
    )
    body = loopback.get(url, params={"orderId": ORDER}, headers=headers, timeout=5).json()
    assert body["code"] == 1004
    assert json.dumps(body).find(box.SIGNING_KEY) == -1
