"""TrackingMore's quota as ``carriers`` shows it (issue 17/20: ``carriers`` is an offline facts
command): the value the last ``carriers --check trackingmore`` read, with its time and age, on a
clock the tests control; no request of its own."""

from __future__ import annotations

import time

import pytest

from waypost import insights, quota
from waypost.render import age_text, quota_text
from waypost.sandbox import Sandbox

LS = "LS912989618CN"


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The watch list's clock (``insights.clock``): a fixed instant plus ``later[0]`` seconds."""
    offset = [0.0]
    start = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    monkeypatch.setattr(insights, "clock", lambda: start + offset[0])
    return offset


def userinfo_reads(box: Sandbox) -> int:
    return sum(e.path.endswith("/getuserinfo") for e in box.entries("trackingmore"))


def trackingmore_row(cli, *args: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    r = cli("carriers", "--json", *args)
    assert r.code == 0, r.err
    return {c["name"]: c for c in r.json()["carriers"]}["trackingmore"]  # type: ignore[no-any-return]


def test_carriers_shows_the_kept_quota_with_its_age_and_asks_nothing(
    tm_v2: Sandbox, cli, later: list[float]
) -> None:  # type: ignore[no-untyped-def]
    tm_v2.apps["trackingmore"].quota = 1234
    before = trackingmore_row(cli)["quota"]
    assert before["told"] is False
    assert "--check trackingmore" in before["why"]
    assert userinfo_reads(tm_v2) == 0

    r = cli("carriers", "--check", "trackingmore")
    assert r.code == 0, r.err
    assert r.out == "trackingmore: 1,234 trackings left (balance 0), as of just now\n"
    assert userinfo_reads(tm_v2) == 1

    tm_v2.apps["trackingmore"].quota = 5  # spent elsewhere: carriers still shows what it read
    later[0] = 180.0
    shown = trackingmore_row(cli)["quota"]
    assert shown == {
        "told": True,
        "remaining": 1234,
        "balance": 0.0,
        "read_at": "2027-01-15T08:00:00+00:00",
        "age_seconds": 180.0,
    }
    assert "quota:   1,234 trackings left (balance 0), as of 3 min ago" in cli("carriers").out
    assert userinfo_reads(tm_v2) == 1  # neither carriers run asked the account

    assert cli("carriers", "--check", "trackingmore", "--json").json()["quota"]["remaining"] == 5  # type: ignore[index]
    assert trackingmore_row(cli)["quota"]["read_at"] == "2027-01-15T08:03:00+00:00"


def test_the_warning_of_track_uses_a_kept_quota_only_while_it_is_a_day_old(
    tm_v2: Sandbox, cli, later: list[float]
) -> None:  # type: ignore[no-untyped-def]
    tm_v2.apps["trackingmore"].quota = 1
    assert cli("carriers", "--check", "trackingmore").code == 0
    numbers = [f"trackingmore:china-ems:{LS}", "trackingmore:usps:9400111201080805483016"]
    later[0] = quota.MAX_AGE - 60
    assert "tracking(s) left" in cli("track", *numbers).err
    later[0] = quota.MAX_AGE + 60
    assert "tracking(s) left" not in cli("track", *numbers).err
    assert "as of 1 day ago" in cli("carriers").out


def test_watch_reads_the_quota_again_once_a_day_and_warns_from_it(
    tm_v2: Sandbox, cli, later: list[float]
) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", f"trackingmore:china-ems:{LS}").code == 0
    tm_v2.apps["trackingmore"].quota = 0
    first = cli("watch", "--once")
    assert first.code == 0, first.err
    assert userinfo_reads(tm_v2) == 1  # nothing kept yet: read once
    assert "has 0 tracking(s) left" in first.err
    later[0] = quota.MAX_AGE - 60
    assert "has 0 tracking(s) left" in cli("watch", "--once").err
    assert userinfo_reads(tm_v2) == 1  # the kept value is younger than a day: no request
    tm_v2.apps["trackingmore"].quota = 500
    later[0] = quota.MAX_AGE + 60
    again = cli("watch", "--once")
    assert userinfo_reads(tm_v2) == 2
    assert "tracking(s) left" not in again.err
    assert trackingmore_row(cli)["quota"]["remaining"] == 500


def test_check_on_v4_says_it_is_not_told_and_proves_the_key_with_one_request(
    sandbox: Sandbox, cli
) -> None:  # type: ignore[no-untyped-def]
    r = cli("carriers", "--check", "trackingmore", "--json")
    assert r.code == 0, r.err
    assert r.json()["quota"] == {"told": False, "why": quota.V4_WHY}  # type: ignore[index]
    # No quota read (v4 has none), but the check is a real call that needs the key.
    assert [e.path for e in sandbox.entries("trackingmore")] == ["/v4/couriers/all"]


def test_check_of_an_unconfigured_account_is_a_credentials_error(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("carriers", "--check", "trackingmore")
    assert r.code == 3
    assert "trackingmore is not configured" in r.err
    assert "waypost config set carriers.trackingmore.api_key" in r.err
    assert "Traceback" not in r.err


def test_a_kept_value_that_is_not_a_successful_read_is_ignored() -> None:
    class State:
        def __init__(self, value: object) -> None:
            self.value = value

        def get(self, namespace: str, key: str) -> object:
            assert (namespace, key) == (quota.NAMESPACE, quota.KEY)
            return self.value

        def put(self, namespace: str, key: str, value: object) -> None:
            raise AssertionError("kept() never writes")

    class Config:
        def carrier(self, name: str) -> dict[str, str]:
            return {"api": "v2"}

    for junk in (None, "text", [1], {"told": False, "remaining": 3}, {"remaining": 3}):
        assert quota.kept(Config(), State(junk))["told"] is False  # type: ignore[arg-type]
    undated = quota.kept(Config(), State({"told": True, "remaining": 3}), now=time.time())  # type: ignore[arg-type]
    assert undated["remaining"] == 3
    assert undated["age_seconds"] is None
    assert quota_text(undated) == "3 trackings left"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "just now"),
        (59.9, "just now"),
        (60, "1 min ago"),
        (3599, "59 min ago"),
        (3600, "1 h ago"),
        (86399, "23 h ago"),
        (86400, "1 day ago"),
        (3 * 86400 + 5, "3 days ago"),
    ],
)
def test_ages_read_as_people_say_them(seconds: float, text: str) -> None:
    assert age_text(seconds) == text
