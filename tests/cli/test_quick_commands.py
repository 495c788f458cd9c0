"""Start-up (issue 17/19/20): what `--version`, `carriers`, `config show` and `list` load with
every carrier configured (the cases `test_command_imports.py` leaves out), and how `list`
reads and writes a long watch list: only what it shows, row by row."""

from __future__ import annotations

import gc
import io
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.cli.test_command_imports import MODELS, NETWORK, REPORT, STORE, TERMINAL, present
from waypost import render
from waypost.carriers.base import Query
from waypost.models import Event, Shipment, Status
from waypost.store import Store
from waypost.store.protocols import ListRow

CONFIGURED = {
    "WAYPOST_ILS_USER_ID": "u",
    "WAYPOST_ILS_PDD": "p",
    "WAYPOST_TRACKINGMORE_API_KEY": "k" * 20,
    "WAYPOST_PANDAPON_USER_ID": "1",
    "WAYPOST_PANDAPON_ACCESS_KEY": "a" * 32,
    "WAYPOST_PANDAPON_SECRET": "s" * 20,
}


def loaded(*args: str, extra: dict[str, str] | None = None) -> set[str]:
    """The modules one `waypost *args` run loaded, with every carrier configured."""
    env = {**os.environ, **CONFIGURED, **(extra or {}), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", REPORT, *args], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(done.stderr.rsplit("MODULES ", 1)[1].split())


def test_version_loads_neither_typer_nor_anything_heavy() -> None:
    modules = loaded("--version")
    assert present(modules, NETWORK, MODELS, STORE, TERMINAL) == []
    assert "typer" not in modules
    assert "waypost.cli" not in modules


@pytest.mark.parametrize("api", ["v4", "v2"])
def test_carriers_with_every_account_configured_asks_nothing_and_loads_no_models(
    api: str,
) -> None:
    modules = loaded("carriers", extra={"WAYPOST_TRACKINGMORE_API": api})
    assert present(modules, NETWORK, MODELS, TERMINAL) == []
    # v4 keeps no quota, so there is nothing to read in the store; v2 reads the kept one.
    assert ("sqlite3" in modules) is (api == "v2")
    assert "hashlib" not in modules  # PandaPon's signing loads OpenSSL only to sign


def test_config_show_of_configured_carriers_loads_no_models_json_or_openssl() -> None:
    modules = loaded("config", "show")
    assert present(modules, NETWORK, MODELS, STORE, TERMINAL) == []
    assert "json" not in modules
    assert "hashlib" not in modules


def seeded(data: Path, count: int, *, route: bool = False) -> None:
    start = datetime(2026, 11, 1, 8, tzinfo=UTC)
    with Store.open(data) as store:
        for i in range(count):
            events = [Event(time=start + timedelta(hours=h), description=f"s{h}") for h in (5, 1)]
            s = Shipment(
                tracking_number=f"N{i:05d}",
                carrier="trackingmore" if route else "ils",
                courier="usps" if route else None,
                origin="CN" if route else None,
                destination="US" if route else None,
                found=True,
                status=Status.IN_TRANSIT,
                events=events,
            )
            store.add([s], Query(s.tracking_number, s.carrier, s.courier), None)


@pytest.mark.parametrize("args", [["list"], ["list", "--json"], ["list", "--all", "--jsonl"]])
def test_list_of_a_long_watch_list_loads_no_models_rich_or_carrier_facts(
    isolated: Path, args: list[str]
) -> None:
    seeded(isolated / "data", 30)
    modules = loaded(*args)
    assert present(modules, NETWORK, MODELS, TERMINAL) == []
    assert "waypost.carriers.base" not in modules  # no saved query is parsed per row
    assert "waypost.journeys" not in modules  # no row is a leg


def test_list_json_is_the_document_json_dumps_writes(isolated: Path, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("list", "--json").out == json.dumps({"schema": 2, "watched": []}, indent=2) + "\n"
    seeded(isolated / "data", 3)
    out = cli("list", "--json").out
    doc = json.loads(out)
    assert [w["number"] for w in doc["watched"]] == ["N00000", "N00001", "N00002"]
    assert doc["watched"][0]["first_event_time"] == "2026-11-01T09:00:00+00:00"
    assert out == json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def test_list_learns_history_only_when_a_row_could_use_it(
    isolated: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    reads: list[int] = []
    real = Store.deliveries

    def counted(self: Store) -> list[tuple[object, ...]]:
        reads.append(1)
        return real(self)

    monkeypatch.setattr(Store, "deliveries", counted)
    seeded(isolated / "data", 5)
    assert cli("list", "--json").code == 0
    assert reads == []  # no row has a route: nothing to learn from
    seeded(isolated / "data", 1, route=True)
    assert cli("list").code == 0
    assert reads == []  # TSV shows no ETA
    assert cli("list", "--json").code == 0
    assert reads == [1]  # once for the whole list, not once per row


def lean_rows(count: int) -> Iterator[ListRow]:
    for i in range(count):
        yield ListRow(
            id=i, number=f"N{i:07d}", carrier="ils", courier=None, label="boots", added=1.8e9,
            last_checked=1.8e9, status="in_transit", final=0, order_id=None,
            status_text="Departed", last_event="Departed", last_event_time="2027-01-01T00:00:00",
            archived=None, eta=None, eta_source=None, origin=None, destination=None, journey=None,
            first_event_time="2026-12-20T00:00:00",
        )  # fmt: skip


class Sink:
    """A stream that keeps only how much was written."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, text: str) -> int:
        self.size += len(text)
        return len(text)


def collected(rows: Iterator[ListRow], every: int = 100) -> Iterator[ListRow]:
    """``rows``, with a full collection before every ``every``-th: the cyclic garbage of
    json's Python encoder and the interpreter's free lists (a full collection empties them)
    then never pass for memory the writer holds, so a few thousand rows tell flat from
    growing where tens of thousands were needed to outgrow those caches."""
    for i, row in enumerate(rows):
        if i % every == 0:
            gc.collect()
        yield row


# The two row counts per format: PLAIN writes in batches of 1,000 lines (held by design), so
# its smaller count is one batch. Run against `rows = list(rows)` in `watch_list` each fails
# both assertions; keeping each row's number (~70 bytes a row) fails the second.
FLAT_COUNTS = {
    render.Format.JSON: (200, 2_000),
    render.Format.JSONL: (200, 2_000),
    render.Format.PLAIN: (1_000, 5_000),
}


@pytest.mark.parametrize("fmt", [render.Format.JSON, render.Format.JSONL, render.Format.PLAIN])
def test_list_output_memory_stays_flat_in_the_number_of_rows(fmt: render.Format) -> None:
    term = render.Terminal(tz=UTC, now=datetime(2027, 1, 2, tzinfo=UTC))
    peaks = []
    counts = FLAT_COUNTS[fmt]
    for count in counts:
        sink = Sink()
        tracemalloc.start()
        render.watch_list(collected(lean_rows(count)), term, sink, fmt)  # type: ignore[arg-type]
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert sink.size > count * 40  # every row was written
    # Five to ten times the rows, not that many times the memory (a list built first would
    # hold every item) ...
    assert peaks[1] < 2 * peaks[0] + 200_000, peaks
    # ... nor even a few bytes per added row (a leaked float or int is 24-40 bytes).
    assert peaks[1] - peaks[0] < 16 * (counts[1] - counts[0]), peaks


@given(
    st.one_of(
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(),
        st.none(),
        st.lists(st.text(max_size=3), max_size=3),
    )
)
def test_config_values_read_as_json_writes_them(value: object) -> None:
    assert render._value(value) == render.dumps(value)


def test_list_summary_counts_rows_in_one_pass_as_they_come() -> None:
    from waypost import insights

    statuses = ["delivered", "in_transit", "in_transit", "weird"]
    rows = (r._replace(status=s) for r, s in zip(lean_rows(4), statuses, strict=True))
    counts = insights.summary(rows, lambda r: r.status == "in_transit", 7)
    assert counts == {
        "total": 4,
        "statuses": {"in_transit": 2, "delivered": 1, "weird": 1},
        "stalled": 2,
        "archived": 7,
    }


@pytest.mark.parametrize("args", [["list"], ["config", "show"], ["carriers"]])
def test_piped_list_config_show_and_carriers_load_no_render_module(
    isolated: Path, args: list[str]
) -> None:
    seeded(isolated / "data", 3)
    modules = loaded(*args)
    assert "waypost.render" not in modules  # their documents are render_plain's
    assert "waypost.render_plain" in modules
    if args == ["list"]:
        assert "dataclasses" not in modules  # the store, the list's settings: plain classes
    if args != ["config", "show"]:  # list and carriers build their own module's app alone
        assert "waypost.cli.track" not in modules
        assert "waypost.cli.journeys" not in modules


@pytest.mark.parametrize("args", [[], ["--all"], ["--tz", "Asia/Kolkata"], ["--stalled"]])
def test_piped_list_is_the_lines_render_writes_from_the_rows(
    isolated: Path, cli, args: list[str]
) -> None:  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    seeded(isolated / "data", 4)
    with Store.open(isolated / "data") as store:
        store.set_archived([1], 1.8e9)
        store.db.execute("UPDATE watched SET last_checked = 1796173475.9999996 WHERE id = 2")
    out = cli("list", *args).out
    tz = ZoneInfo("Asia/Kolkata") if "--tz" in args else None
    term = render.Terminal(tz=tz, now=datetime.now(UTC))
    with Store.open(isolated / "data") as store:
        rows = list(store.listed(include_final="--all" in args))
    # --stalled: the seeded last events are a month old, past ILS's 21 days, so every row is.
    expected = io.StringIO()
    render.watch_list(iter(rows), term, expected, render.Format.PLAIN)
    assert out == expected.getvalue()
    assert len(out.splitlines()) == 3  # the archived row is not listed


def test_carriers_without_a_trackingmore_account_loads_no_quota_module(isolated: Path) -> None:
    from tests.cli.test_command_imports import loaded as unconfigured

    assert "waypost.quota" not in unconfigured("carriers")
    assert "waypost.quota" in loaded("carriers")  # its row shows the quota kept
