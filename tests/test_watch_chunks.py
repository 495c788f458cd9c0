"""`watch` passes and `track --save` in chunks (issue 20: memory flat in the watch list's size):
every shipment is still refreshed, delivered and committed once, in one HTTP session, and a
carrier's cursor still moves only after the whole pass was delivered."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from waypost import watch
from waypost.cli import track as track_cli
from waypost.sandbox import Sandbox
from waypost.sandbox.trackingmore import synthetic_number
from waypost.store import Store

ILS = ["3676E4043665", "3676E4040017", "1234S5678901"]
TM = [synthetic_number(i, "CH") for i in (0, 1, 4)]  # none of them delivered yet
CURSOR = ("trackingmore4.watch", "cursor")


def _rows(isolated: Path) -> list[str]:
    with Store.open(isolated / "data") as store:
        return [r.number for r in store.watched()]


def test_track_save_in_batches_saves_and_streams_every_number_in_one_session(
    sandbox: Sandbox, cli, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(track_cli, "SAVE_BATCH", 2)
    sandbox.reset_log()
    r = cli("track", "--save", "--jsonl", *ILS)
    assert r.code == 0, r.err
    assert sorted(
        line.split('"tracking_number":"')[1][:12] for line in r.out.splitlines()
    ) == sorted(ILS)
    assert sorted(_rows(isolated)) == sorted(ILS)
    assert len(sandbox.entries("ils")) == 2  # a batch of 2, then one of 1
    assert "watching 3 new shipment(s)" in r.err


def test_a_pass_in_chunks_delivers_and_commits_every_shipment_once(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", *ILS).code == 0
    monkeypatch.setattr(watch, "PASS_CHUNK", 1)
    for number in ILS:
        assert sandbox.apps["ils"].add_event(number, f"Chunked news {number}", "Felixstowe")
    sandbox.reset_log()
    first = cli("watch", "--once", "--jsonl")
    assert first.code == 0, first.err
    assert sorted(n for n in ILS if f"Chunked news {n}" in first.out) == sorted(ILS)
    assert first.out.count("\n") == len(ILS)
    assert len(sandbox.entries("ils")) == len(ILS)  # one request per chunk of one
    assert cli("watch", "--once", "--jsonl").out == ""  # every chunk was committed


def test_json_news_stays_one_document_per_pass(
    sandbox: Sandbox, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", *ILS).code == 0
    monkeypatch.setattr(watch, "PASS_CHUNK", 1)
    for number in ILS:
        assert sandbox.apps["ils"].add_event(number, f"One document {number}", "Felixstowe")
    doc = cli("watch", "--once", "--json").json()
    assert len(doc["shipments"]) == len(ILS)


@pytest.fixture
def tm_watched(sandbox: Sandbox, cli, isolated: Path) -> float:  # type: ignore[no-untyped-def]
    """Three TrackingMore numbers watched, a first pass done; the stored cursor, set back."""
    app = sandbox.apps["trackingmore"]
    app.preload(TM, "sandbox-post")
    assert cli("track", "--save", *(f"trackingmore:sandbox-post:{n}" for n in TM)).code == 0
    assert cli("watch", "--once").code == 0
    for number in TM:
        assert app.add_event(number, f"Cursor news {number}", "Hub")
    with Store.open(isolated / "data") as store:
        old = store.state.get(*CURSOR)
        assert old is not None
        store.state.put(*CURSOR, old - 600)
        return float(old - 600)


def _cursor(isolated: Path) -> float:
    with Store.open(isolated / "data") as store:
        return float(store.state.get(*CURSOR))


def test_the_cursor_moves_once_after_the_last_chunk(
    tm_watched: float, cli, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(watch, "PASS_CHUNK", 1)
    r = cli("watch", "--once", "--jsonl")
    assert r.code == 0, r.err
    assert r.out.count("\n") == len(TM)
    assert all(f"Cursor news {n}" in r.out for n in TM)
    assert _cursor(isolated) > tm_watched


def test_a_failed_delivery_in_a_later_chunk_keeps_the_cursor(
    tm_watched: float, cli, isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(watch, "PASS_CHUNK", 1)
    hook = tmp_path / "hook.py"
    # Fails for the last number only: its chunk comes after the others were delivered.
    hook.write_text(
        f"import os, sys\nsys.exit(1 if os.environ['WAYPOST_NUMBER'] == {TM[-1]!r} else 0)\n"
    )
    r = cli("watch", "--once", "--exec", f"{sys.executable} {hook}")
    assert r.code == 1
    assert _cursor(isolated) == tm_watched
    again = cli("watch", "--once", "--jsonl")  # the undelivered news comes again
    assert f"Cursor news {TM[-1]}" in again.out
