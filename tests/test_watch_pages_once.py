"""A `watch` pass in chunks reads TrackingMore's update pages once (its first chunk that needs
them), not once per chunk, and still delivers every chunk's news from them (issue 20: flat
memory and the fewest requests at 100,000 watched shipments)."""

from __future__ import annotations

from pathlib import Path

import pytest

from waypost import watch
from waypost.sandbox import Sandbox
from waypost.sandbox.trackingmore import synthetic_number
from waypost.store import Store

TM = [synthetic_number(i, "CH") for i in (0, 1, 4)]  # none of them delivered yet
CURSOR = ("trackingmore4.watch", "cursor")


def test_a_pass_of_three_chunks_reads_the_pages_once(
    sandbox: Sandbox, cli, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    app = sandbox.apps["trackingmore"]
    app.preload(TM, "sandbox-post")
    assert cli("track", "--save", *(f"trackingmore:sandbox-post:{n}" for n in TM)).code == 0
    assert cli("watch", "--once").code == 0  # the first pass reads by number, sets the cursor
    for number in TM:
        assert app.add_event(number, f"Paged news {number}", "Hub")
    with Store.open(isolated / "data") as store:
        store.state.put(*CURSOR, float(store.state.get(*CURSOR)) - 600)
    monkeypatch.setattr(watch, "PASS_CHUNK", 1)
    sandbox.reset_log()
    r = cli("watch", "--once", "--jsonl")
    assert r.code == 0, r.err
    pages = [
        e
        for e in sandbox.entries("trackingmore")
        if e.path == "/v4/trackings/get" and "pages_amount" in e.params
    ]
    assert [e.params["pages_amount"] for e in pages] == ["1"]  # not one read per chunk
    assert r.out.count("\n") == len(TM)
    assert all(f"Paged news {n}" in r.out for n in TM)
