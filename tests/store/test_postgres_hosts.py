"""Several hosts on one PostgreSQL watch list (issue 22): 360 saved shipments (ILS and
TrackingMore) with news on 50, three `watch --once` processes at once -> each piece of news
delivered exactly once, no shipment asked twice, no rate-limit violation; one host SIGKILLed
mid-pass -> the next run delivers what it had not, nothing is lost."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import psycopg
import pytest

from tests.conftest import stop_soon
from tests.forked import Forked, ForkServer
from waypost.sandbox import Sandbox
from waypost.sandbox.trackingmore import synthetic_number

ILS = [f"{i // 10**7 % 100:02d}{i // 10**9:02d}S{i % 10**7:07d}" for i in range(180)]
TM = [synthetic_number(i, "WB") for i in range(180)]
# The --exec hook: logs the number it was handed; SIGKILLs waypost when handed the marked one.
# (A shell script: 70 Python start-ups would take longer than the whole test.)
HOOK = """\
cat >/dev/null
if [ -f "$2" ] && [ "$WAYPOST_NUMBER" = "$(cat "$2")" ]; then kill -9 "$PPID"; exit 0; fi
echo "$WAYPOST_NUMBER" >>"$1"
"""


def delivered(log: Path) -> list[str]:
    """The numbers the hook was handed, in order."""
    return log.read_text().split() if log.exists() else []


@pytest.fixture
def hosts(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch, forker: ForkServer):  # type: ignore[no-untyped-def]
    """A slow sandbox (so that passes overlap), 360 saved shipments, the hook, the asked log."""
    box = Sandbox(port=0, latency_ms=30).start()
    for key, value in box.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WAYPOST_DATABASE_URL", pg_url)
    monkeypatch.setenv("WAYPOST_STORE_PASS_WINDOW", "600")
    tm = box.apps["trackingmore"]
    tm.fetch_delay = 0  # type: ignore[attr-defined]
    tm.preload(TM, "sandbox-post")  # type: ignore[attr-defined]
    asked: Counter[str] = Counter()
    ils = box.apps["ils"]
    answer = ils._item  # type: ignore[attr-defined]

    def recording(number: str) -> object:
        asked[number.upper()] += 1
        return answer(number)

    ils._item = recording  # type: ignore[attr-defined]
    script = tmp_path / "hook.sh"
    script.write_text(HOOK)
    log, mark = tmp_path / "hook.log", tmp_path / "kill.mark"
    numbers = ILS + [f"trackingmore:sandbox-post:{n}" for n in TM]
    box.latency = 0  # slow for the passes only, not for saving their list
    saved = waypost(forker, "track", "--save", "--jsonl", "-", stdin="\n".join(numbers))
    assert saved.code == 0, saved.err
    box.latency = 0.030
    try:
        yield box, asked, f"sh {script} {log} {mark}", log, mark
    finally:
        stop_soon(box)


def waypost(forker: ForkServer, *args: str, stdin: str | None = None) -> Forked:
    """``waypost ARGS`` in a process of its own (forked from a warm interpreter,
    tests/forked.py): a host."""
    return forker.wait(forker.start(*args, stdin=stdin), timeout=300)


def together(forker: ForkServer, n: int, *args: str) -> list[Forked]:
    """``n`` waypost processes (forked children: hosts) started at once; their outcomes."""
    started = [forker.start(*args) for _ in range(n)]
    return [forker.wait(child, timeout=300) for child in started]


def watching(url: str) -> dict[str, list[str]]:
    """Non-final watched numbers per carrier."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT carrier, number FROM watched WHERE final = 0").fetchall()
    found: dict[str, list[str]] = {}
    for carrier, number in rows:
        found.setdefault(carrier, []).append(number)
    return {k: sorted(v) for k, v in found.items()}


def tm_asked(box: Sandbox) -> Counter[str]:
    """TrackingMore numbers asked by number in the request log (reads and creates)."""
    asked: Counter[str] = Counter()
    for e in box.entries("trackingmore"):
        if e.params.get("tracking_numbers"):
            asked.update(e.params["tracking_numbers"].split(","))
    return asked


def test_three_hosts_deliver_every_piece_of_news_once_and_a_killed_one_loses_nothing(
    hosts, pg_url: str, forker: ForkServer
) -> None:  # type: ignore[no-untyped-def]
    box, asked, hook, log, mark = hosts
    live = watching(pg_url)
    assert len(live["ils"]) > 30
    assert len(live["trackingmore"]) > 30
    news = live["ils"][:25] + live["trackingmore"][:25]
    for number in news:
        carrier = "ils" if number in live["ils"] else "trackingmore"
        assert box.apps[carrier].add_event(number, f"News for {number}", "Hub")
    box.reset_log()
    asked.clear()

    runs = together(forker, 3, "watch", "--once", "--exec", hook)

    assert [r.code for r in runs] == [0, 0, 0], [r.err for r in runs]
    assert sorted(delivered(log)) == sorted(news)  # every piece of news, each exactly once
    printed = "".join(r.out for r in runs)
    assert all(printed.count(f"News for {n}") >= 1 for n in news)
    assert set(asked) == set(live["ils"])
    assert max(asked.values()) == 1  # no ILS shipment asked twice
    by_number = tm_asked(box)
    assert set(by_number) == set(live["trackingmore"])
    assert max(by_number.values()) == 1  # nor a TrackingMore one
    assert box.rejections == {}  # and no request over a documented limit
    with psycopg.connect(pg_url) as conn:
        keys = [r[0] for r in conn.execute("SELECT DISTINCT key FROM rate_slots").fetchall()]
    assert any(k.startswith("trackingmore:") for k in keys)  # the budget all hosts share

    # A new pass (its window made to have passed: the test's clock, not a wait), with one host
    # SIGKILLed while it hands over a piece of news.
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE passes SET started = started - 3600")
    log.unlink()
    later = live["ils"][25:35] + live["trackingmore"][25:35]
    for number in later:
        carrier = "ils" if number in live["ils"] else "trackingmore"
        assert box.apps[carrier].add_event(number, f"Later for {number}", "Hub")
    victim = live["ils"][30]
    mark.write_text(victim)
    runs = together(forker, 3, "watch", "--once", "--exec", hook)
    codes = sorted(r.code for r in runs)
    assert codes[0] == -9, [r.err for r in runs]  # the host that handed over the victim
    assert victim not in delivered(log)
    mark.unlink()
    again = waypost(forker, "watch", "--once", "--exec", hook)
    assert again.code == 0, again.err
    got = delivered(log)
    assert set(got) == set(later)  # nothing lost
    # At least once: only what the killed host had handed over but not committed comes twice.
    twice = {n for n, k in Counter(got).items() if k > 1}
    assert len(twice) <= len(later)
    assert victim not in twice
    assert box.rejections == {}
    final = waypost(forker, "watch", "--once", "--exec", hook)
    assert (final.code, final.out) == (0, "")
    assert Counter(delivered(log)) == Counter(got)
