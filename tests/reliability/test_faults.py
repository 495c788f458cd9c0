"""Every injected fault against every carrier, through `track` and `watch --once`: the
documented exit code, a one-line reason per affected number, no traceback, every other number
still answered, and the watch store untouched for the affected shipments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from waypost import carriers
from waypost.sandbox import Sandbox
from waypost.sandbox.faults import KINDS
from waypost.store import Store

NAMES = carriers.names()


def numbers_of(name: str) -> list[str]:
    return [f"{name}:{c['number']}" for c in carriers.module(name).TEST_CASES if c["found"]]


def others(name: str) -> list[str]:
    return [n for other in NAMES if other != name for n in numbers_of(other)]


def rows(isolated: Path) -> dict[tuple[str, str], tuple[object, ...]]:
    with Store.open(isolated / "data") as store:
        return {
            (r.carrier, r.number): (r.status, r.last_checked, r.last_event, r.status_text)
            for r in store.watched()
        }


def expected_code(name: str) -> int:
    return 1 if others(name) else 4


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", NAMES)
def test_track_survives(name: str, kind: str, sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    sandbox.inject(f"{kind}@{name}")
    mine, rest = numbers_of(name), others(name)
    r = cli("track", "--timeout", "1", "--jsonl", *mine, *rest)
    assert "Traceback" not in r.err
    assert r.code == expected_code(name), (r.out, r.err)
    shipments = [json.loads(line) for line in r.out.splitlines()]
    affected = [s for s in shipments if s["carrier"] == name]
    assert affected
    for s in affected:
        assert s["error"], s
        assert "\n" not in s["error"]
    assert all(s["error"] is None for s in shipments if s["carrier"] != name)
    assert len({s["carrier"] for s in shipments if s["error"] is None}) == len(NAMES) - 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", NAMES)
def test_watch_survives_and_keeps_the_store(
    name: str, kind: str, sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", *numbers_of(name), *others(name)).code == 0
    before = rows(isolated)
    sandbox.inject(f"{kind}@{name}")
    r = cli("watch", "--once", "--timeout", "1")
    assert "Traceback" not in r.err
    assert r.code == expected_code(name), (r.out, r.err)
    after = rows(isolated)
    for key, state in before.items():
        if key[0] == name:
            assert after[key] == state, key
        elif state[0] not in ("delivered", "expired"):
            assert after[key][1] != state[1], key  # the others were checked again


@pytest.mark.parametrize("name", NAMES)
def test_a_transient_fault_is_retried_away(name: str, sandbox: Sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    sandbox.inject(f"503@{name}:x1")
    r = cli("track", "--jsonl", *numbers_of(name))
    assert r.code == 0, r.err
    entries = sandbox.entries(name)
    assert [e.fault for e in entries][:1] == ["503"]
    assert len([e for e in entries if e.fault]) == 1
