"""Journeys on one PostgreSQL watch list shared by several hosts: two hosts linking the same
next leg at once give it to one journey (the rows a link reads are locked, a real second
session waits on them), and `store copy` brings a SQLite list's journeys along."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg

from waypost.carriers.base import Query
from waypost.models import Shipment, Status
from waypost.store.postgres import PgStore, copy_store
from waypost.store.sqlite import Store


def row_ids(store: PgStore | Store, *numbers: str) -> list[int]:
    for n in numbers:
        found = Shipment(tracking_number=n, carrier="ils", found=True, status=Status.IN_TRANSIT)
        store.add([found], Query(n, "ils"), None)
    by_number = {r.number: r.id for r in store.watched()}
    return [by_number[n] for n in numbers]


def waiting_for_a_lock(url: str, deadline: float = 30.0) -> bool:
    """True once some session of the database waits for a row lock (polled, bounded)."""
    end = time.monotonic() + deadline
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < end:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            ).fetchone()
            if row and row[0]:
                return True
            time.sleep(0.01)
    return False


def test_two_hosts_linking_one_next_leg_at_once_give_it_to_one_journey(pg_url: str) -> None:
    first, second = PgStore(pg_url, timeout=30), PgStore(pg_url, timeout=30)
    try:
        a, b, leg = row_ids(first, "A1", "B1", "L1")
        results: list[bool] = []
        with first.transaction():
            assert first.insert_leg(a, leg, "jfirst01", now=1.0)
            racer = threading.Thread(
                target=lambda: results.append(second.insert_leg(b, leg, "jsecond1", now=2.0))
            )
            racer.start()
            # The second host waits for the leg's row while the first has not committed.
            assert waiting_for_a_lock(pg_url)
        racer.join(timeout=30)
        assert results == [False]  # it saw the committed link and left the leg alone
        assert [r.number for r in second.journey_legs("jfirst01")] == ["A1", "L1"]
        assert second.journey_legs("jsecond1") == []
        assert second.journey_of(b) is None
    finally:
        first.close()
        second.close()


def test_copy_brings_journeys_along_and_twice_adds_nothing(pg_url: str, tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as lite:
        a, b, c = row_ids(lite, "A1", "B1", "C1")
        lite.link_legs("jcopied1", [c, a, b], now=7.0)
        with PgStore(pg_url) as pg:
            first = copy_store(lite, pg)
            second = copy_store(lite, pg)
            assert first["journeys"] == (1, 1)
            assert first["watched"] == (3, 3)
            assert second["journeys"] == (1, 0)
            assert [r.number for r in pg.journey_legs("jcopied1")] == ["C1", "A1", "B1"]
            assert sorted(leg for _, leg, _ in pg.journey_marks().values()) == [1, 2, 3]
