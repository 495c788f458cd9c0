"""The PostgreSQL store: the same contract as SQLite (one suite, both backends), its schema from
the same description, and the claims that let several hosts share one watch list."""

from __future__ import annotations

import sqlite3
import string
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from waypost.errors import StoreError, StoreForeign
from waypost.models import Event, Shipment, Status
from waypost.store import Store
from waypost.store_postgres import (
    PgStore,
    copy_store,
    pg_ddl,
    pg_sql,
    primary_keys,
)

Opener = Callable[[], Any]
DAYS = {"Booked": 1, "Loaded": 2, "Arrived": 3, "Delivered": 4}


def shipment(
    number: str = "3676E4043665",
    *descs: str,
    status: Status = Status.IN_TRANSIT,
    carrier: str = "ils",
) -> Shipment:
    events = [
        Event(time=datetime(2026, 1, DAYS.get(d, 9), 12), location="Depot", description=d)
        for d in descs
    ]
    return Shipment(
        tracking_number=number, carrier=carrier, found=True, status=status, events=events
    )


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens a store of the backend under test (each call: another connection, like a host)."""
    opened: list[Any] = []
    if request.param == "sqlite":

        def opener() -> Any:
            opened.append(Store(tmp_path / "w.db"))
            return opened[-1]

    else:
        url = request.getfixturevalue("pg_url")

        def opener() -> Any:
            opened.append(PgStore(url))
            return opened[-1]

    yield opener
    for store in opened:
        store.close()


# -- the contract, on both backends ---------------------------------------------------------


def test_saving_twice_keeps_one_row_and_updates_the_label(backend: Opener) -> None:
    store = backend()
    assert store.add([shipment("A1", "Loaded")], "ils:A1", "first") == 1
    assert store.add([shipment("A1", "Loaded")], "ils:A1", "second") == 0
    (row,) = store.watched()
    assert (row.number, row.carrier, row.label, row.query) == ("A1", "ils", "second", "ils:A1")
    assert row.status == "in_transit"
    assert row.last_event == "Loaded"


def test_new_events_are_only_the_unseen_ones_and_refresh_stores_them_once(backend: Opener) -> None:
    store = backend()
    store.add([shipment("A1", "Loaded", "Booked")], "ils:A1", None)
    (row,) = store.watched()
    answer = shipment("A1", "Arrived", "Loaded", "Booked")
    fresh = store.new_events(row, answer)
    assert [e.description for e in fresh] == ["Arrived"]
    store.refresh(row, answer)
    store.refresh(row, answer)
    assert store.new_events(row, answer) == []
    assert [e[2] for e in store.events(row.id)] == ["Arrived", "Loaded", "Booked"]


def test_an_unanswered_shipment_never_replaces_what_is_known(backend: Opener) -> None:
    store = backend()
    store.add([shipment("A1", "Loaded")], "ils:A1", None)
    (row,) = store.watched()
    store.refresh(
        row, Shipment(tracking_number="A1", carrier="ils", found=None, status=Status.UNKNOWN)
    )
    (again,) = store.watched()
    assert (again.status, again.last_event) == ("in_transit", "Loaded")


def test_final_rows_find_remove_and_events_go_with_their_row(backend: Opener) -> None:
    store = backend()
    store.add([shipment("A1", "Loaded")], "ils:A1", None)
    store.add([shipment("B2", "Delivered", status=Status.DELIVERED)], "ils:B2", None)
    assert [r.number for r in store.watched(include_final=False)] == ["A1"]
    assert [r.number for r in store.watched(status="delivered")] == ["B2"]
    assert store.numbers() == ["A1", "B2"]
    rows = store.find("B2")
    assert [r.final for r in rows] == [True]
    assert store.remove(rows) == 1
    assert store.find("B2") == []
    assert set(store.first_event_times()) == {store.find("A1")[0].id}


def test_cache_and_meta_values_round_trip_and_age(backend: Opener) -> None:
    store = backend()
    store.put("ns", "k", {"x": 1, "text": "Zürich 上海"})
    store.put("ns", "k", {"x": 2, "text": "Zürich 上海"})
    assert store.get("ns", "k") == {"x": 2, "text": "Zürich 上海"}
    assert store.get("ns", "k", max_age=-1) is None
    assert store.get("ns", "other") is None
    store.set_meta("a", "1")
    store.set_meta("a", "2")
    assert store.meta("a") == "2"
    assert store.meta("b") is None


def test_a_failed_transaction_leaves_nothing_behind(backend: Opener) -> None:
    store = backend()

    def fails() -> None:
        with store.transaction():
            store.add([shipment("A1", "Loaded")], "ils:A1", None)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fails()
    assert store.watched() == []
    assert backend().watched() == []


def test_touch_and_mark_remote(backend: Opener) -> None:
    store = backend()
    store.add([shipment("A1")], "ils:A1", None, now=100.0)
    (row,) = store.watched()
    store.touch([row.id], now=200.0)
    store.mark_remote([row.id])
    (again,) = store.watched()
    assert (again.last_checked, again.remote) == (200.0, True)


def test_a_pass_claims_every_due_row_once(backend: Opener) -> None:
    store = backend()
    for n in ("A1", "A2", "A3"):
        store.add([shipment(n)], f"ils:{n}", None)
    store.add([shipment("D4", status=Status.DELIVERED)], "ils:D4", None)
    store.begin_pass()
    claimed = []
    while rows := store.claim():
        claimed.extend(r.number for r in rows)
    store.end_pass()
    assert sorted(claimed) == ["A1", "A2", "A3"]


# -- PostgreSQL only ------------------------------------------------------------------------


def test_the_postgresql_schema_has_every_sqlite_table_and_column(
    pg_url: str, tmp_path: Path
) -> None:
    with Store(tmp_path / "w.db") as lite, PgStore(pg_url) as pg:
        for table in ("watched", "events", "cache", "meta"):
            lite_cols = [r[1] for r in lite.db.execute(f"PRAGMA table_info({table})")]
            pg_cols = [
                r[0]
                for r in pg.pg.raw(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                    (table,),
                ).fetchall()
            ]
            assert set(lite_cols) <= set(pg_cols), table
        assert pg.version == lite.version


def test_dialect_translation_of_the_store_queries() -> None:
    assert pg_ddl("id INTEGER PRIMARY KEY, added REAL NOT NULL, final INTEGER") == (
        "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, added DOUBLE PRECISION NOT NULL,"
        " final BIGINT"
    )
    assert pg_sql("INSERT OR IGNORE INTO events (a, b) VALUES (?, ?)") == (
        "INSERT INTO events (a, b) VALUES (%s, %s) ON CONFLICT DO NOTHING"
    )
    assert pg_sql(
        "INSERT OR REPLACE INTO cache (namespace, key, value, stored) VALUES (?, ?, ?, ?)"
    ) == (
        "INSERT INTO cache (namespace, key, value, stored) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value, stored = EXCLUDED.stored"
    )
    assert pg_sql("SELECT 1 ORDER BY time DESC, id DESC") == (
        "SELECT 1 ORDER BY time DESC NULLS LAST, id DESC NULLS LAST"
    )
    assert primary_keys()["meta"] == ("key",)


def test_hosts_opening_a_new_database_together_migrate_it_once(pg_url: str) -> None:
    errors: list[BaseException] = []
    versions: list[int] = []

    def host() -> None:
        try:
            with PgStore(pg_url) as store:
                versions.append(store.version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=host) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(versions)) == 1
    with PgStore(pg_url) as store:
        rows = store.pg.raw("SELECT name, version FROM waypost_schema ORDER BY name").fetchall()
    assert [r[0] for r in rows] == ["postgres", "shared"]


def test_a_database_of_another_program_is_refused_unchanged(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE watched (id int, whatever text)")
    with pytest.raises(StoreForeign, match="another program"):
        PgStore(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    assert tables == [("watched",)]


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    with PgStore(pg_url) as store:
        store.pg.raw("UPDATE waypost_schema SET version = 99 WHERE name = 'shared'")
    with pytest.raises(StoreForeign, match="newer"):
        PgStore(pg_url)


def other_host(url: str) -> PgStore:
    """A store as another host opens it (its own memory of the passes it joined)."""
    store = PgStore(url)
    store._joined = set()
    return store


def test_two_hosts_claim_disjoint_batches_and_trackingmore_goes_to_one(pg_url: str) -> None:
    first, second = other_host(pg_url), other_host(pg_url)
    try:
        for i in range(10):
            first.add([shipment(f"A{i}")], f"ils:A{i}", None)
            first.add([shipment(f"T{i}", carrier="trackingmore")], f"trackingmore:x:T{i}", None)
        first.claim_batch = second.claim_batch = 3
        first.begin_pass()
        second.begin_pass()
        a = first.claim()
        b = second.claim()
        assert {r.carrier for r in a} == {"ils", "trackingmore"}
        assert len([r for r in a if r.carrier == "trackingmore"]) == 10
        assert {r.carrier for r in b} == {"ils"}
        mine, theirs = [r.number for r in a], [r.number for r in b]
        while rows := first.claim():
            mine.extend(r.number for r in rows)
            if rows := second.claim():
                theirs.extend(r.number for r in rows)
        assert not set(mine) & set(theirs)
        assert len(mine) + len(theirs) == 20
        first.end_pass()
        second.end_pass()
    finally:
        first.close()
        second.close()


def test_a_killed_hosts_claims_are_free_at_once_and_its_rows_stay_due(pg_url: str) -> None:
    setup = PgStore(pg_url)
    for i in range(6):
        setup.add([shipment(f"A{i}")], f"ils:A{i}", None)
    killed, survivor = other_host(pg_url), other_host(pg_url)
    killed.claim_batch = survivor.claim_batch = 3
    killed.begin_pass()
    survivor.begin_pass()
    lost = {r.number for r in killed.claim()}
    done = {r.number for r in survivor.claim()}
    assert len(lost) == len(done) == 3
    survivor.end_pass()
    killed.pg.conn.close()  # what SIGKILL does: the server ends the session and its locks
    again = other_host(pg_url)
    try:
        again.begin_pass()
        retried = set()
        while rows := again.claim():
            retried |= {r.number for r in rows}
        again.end_pass()
        assert retried == lost
        later = other_host(pg_url)
        later.begin_pass()
        assert later.claim() == []  # the same pass (within pass_window): nothing is asked twice
        later.close()
    finally:
        again.close()
        survivor.close()
        setup.close()


def test_a_pass_after_the_window_asks_everything_again(pg_url: str) -> None:
    store = PgStore(pg_url)
    try:
        store.add([shipment("A1")], "ils:A1", None)
        store.pass_window = 0
        store.begin_pass()
        assert [r.number for r in store.claim()] == ["A1"]
        store.end_pass()
        store.begin_pass()  # a watch loop never joins a pass it already did
        assert [r.number for r in store.claim()] == ["A1"]
        store.end_pass()
        store.pass_window = 600
        store.begin_pass()
        assert [r.number for r in store.claim()] == ["A1"]
        store.end_pass()
        with PgStore(pg_url) as again:  # the loop's next pass opens the store again
            again.pass_window = 600
            again.begin_pass()
            assert [r.number for r in again.claim()] == ["A1"]
            again.end_pass()
    finally:
        store.close()


def test_copy_from_sqlite_is_complete_and_idempotent(pg_url: str, tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as lite:
        lite.add([shipment("A1", "Loaded", "Booked")], "ils:A1", "mine")
        lite.add([shipment("B2", "Delivered", status=Status.DELIVERED)], "ils:B2", None)
        lite.put("trackingmore4.watch", "cursor", 123.5)
        lite.set_meta("k", "v")
        with PgStore(pg_url) as pg:
            pg.add([shipment("C3")], "ils:C3", None)
            first = copy_store(lite, pg)
            second = copy_store(lite, pg)
            assert first == {
                "watched": (2, 2),
                "events": (3, 3),
                "cache": (1, 1),
                "meta": (1, 1),
            }
            assert second == {
                "watched": (2, 0),
                "events": (3, 0),
                "cache": (1, 0),
                "meta": (1, 0),
            }
            rows = {r.number: r for r in pg.watched()}
            assert sorted(rows) == ["A1", "B2", "C3"]
            assert rows["A1"].label == "mine"
            assert [e[2] for e in pg.events(rows["A1"].id)] == ["Loaded", "Booked"]
            assert pg.get("trackingmore4.watch", "cursor") == 123.5
            assert pg.meta("k") == "v"


def test_an_unreachable_server_is_a_store_error_with_the_password_masked() -> None:
    with pytest.raises(StoreError) as caught:
        PgStore("postgresql://me:hunter2hunter2@127.0.0.1:1/nowhere", timeout=2)
    assert caught.value.exit_code == 5
    assert "hunter2hunter2" not in caught.value.message
    assert "me:****@127.0.0.1:1/nowhere" in caught.value.message


def test_sqlite_is_untouched_by_the_postgresql_module(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as store:
        names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
    assert "passes" not in names
    assert isinstance(sqlite3.connect(tmp_path / "w.db"), sqlite3.Connection)


@given(
    user=st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8),
    password=st.text(min_size=4, max_size=24).filter(lambda p: p.strip() == p and p),
)
def test_the_urls_password_never_shows_whatever_it_is(user: str, password: str) -> None:
    from urllib.parse import quote

    from waypost.store_postgres import fault, password_of, shown

    encoded = quote(password, safe="")
    url = f"postgresql://{user}:{encoded}@db.example.org:5432/waypost?sslmode=require"
    rest = url.replace(encoded, "")
    assume(password not in rest and encoded not in rest)
    assert password_of(url) == password
    visible = shown(url)
    assert password not in visible
    assert encoded not in visible
    assert visible.endswith("@db.example.org:5432/waypost?sslmode=require")
    failed = fault(RuntimeError(f"connection to {url} failed for password {password}"), url)
    assert password not in failed.message
    assert encoded not in failed.message


def test_in_a_pass_answers_without_news_are_written_together_at_its_end(pg_url: str) -> None:
    setup = PgStore(pg_url)
    setup.add([shipment("A1", "Loaded")], "ils:A1", None, now=100.0)
    setup.add([shipment("A2", "Loaded")], "ils:A2", None, now=100.0)
    host = other_host(pg_url)
    try:
        host.begin_pass()
        quiet, news = host.claim()
        assert host.new_events(quiet, shipment("A1", "Loaded")) == []
        host.refresh(quiet, shipment("A1", "Loaded"), now=200.0)
        answer = shipment("A2", "Arrived", "Loaded")
        assert [e.description for e in host.new_events(news, answer)] == ["Arrived"]
        host.refresh(news, answer, now=200.0)  # news: committed at once (after delivery)
        seen = {r.number: r.last_checked for r in setup.watched()}
        assert seen == {"A1": 100.0, "A2": 200.0}
        host.end_pass()
        assert {r.number: r.last_checked for r in setup.watched()} == {"A1": 200.0, "A2": 200.0}
    finally:
        host.close()
        setup.close()
