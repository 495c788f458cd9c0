"""`track` of one ILS number on the lean path loads only what it uses (issue 20, start-up): a
fresh ``waypost`` process against the sandbox (plain ``http://``) reports its modules; and the
journey-leg check that reads the watch list with one query instead of opening the store."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lean_common import MODULES, loaded_modules
from waypost import quick
from waypost.carriers.base import Query
from waypost.models import Shipment, Status
from waypost.sandbox import Sandbox
from waypost.store import DB_NAME, SCHEMA_VERSION, Store

pytestmark = pytest.mark.real_clock
NUMBER = "3676E4043665"
# Never needed by `track` of an http:// ILS origin: https, http.client's header parser, the
# idna codec (a str host name), the store backend and the other commands' modules.
UNUSED = (
    "ssl",
    "http.client",
    "email.parser",
    "encodings.idna",
    "waypost.store.sqlite",
    "waypost.store.migrations",
    "waypost.cli.manage",
    "waypost.cli.configure",
)


def watch(data: Path, *numbers: str) -> None:
    """A watch list of ``numbers`` (ILS)."""
    with Store.open(data) as store:
        for n in numbers:
            shipment = Shipment(
                tracking_number=n, carrier="ils", found=True, status=Status.IN_TRANSIT
            )
            store.add([shipment], Query(n, "ils"), None)


def modules_of(box: Sandbox, tmp: Path, *args: str) -> tuple[str, set[str]]:
    """(stdout, the modules loaded) of one fresh `waypost ARGS` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAYPOST_")}
    env.update(box.env())
    env["WAYPOST_DATA_DIR"] = str(tmp / "data")
    env["WAYPOST_CONFIG"] = str(tmp / "config.toml")
    return loaded_modules(list(args), env)


@pytest.mark.parametrize("watched", [False, True])
def test_track_of_one_number_loads_no_tls_http_client_or_store(
    box: Sandbox, tmp_path: Path, watched: bool
) -> None:
    if watched:
        watch(tmp_path / "data", "3676E4038521")
    out, modules = modules_of(box, tmp_path, "track", NUMBER)
    assert out.startswith(NUMBER)
    assert "in_transit" in out
    assert "waypost.quick" in modules
    assert sorted(m for m in UNUSED if m in modules) == []
    assert ("sqlite3" in modules) is watched  # the leg check reads the watch list itself


def test_after_the_lean_path_ssl_still_imports(box: Sandbox, tmp_path: Path) -> None:
    probe = MODULES.replace(
        "sys.exit(code)\n", "import ssl, http.client\nprint(ssl.OPENSSL_VERSION)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAYPOST_")}
    env.update(box.env(), WAYPOST_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run(
        [sys.executable, "-c", probe, "track", NUMBER],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "OpenSSL" in done.stdout


def test_the_leg_checks_constants_are_the_stores() -> None:
    assert (quick._DB_NAME, quick._SCHEMA_VERSION) == (DB_NAME, SCHEMA_VERSION)


def test_the_quick_leg_check_reads_a_current_watch_list_as_it_is(tmp_path: Path) -> None:
    watch(tmp_path, "3676E4038521")
    path = tmp_path / DB_NAME
    before = path.read_bytes()
    assert quick._no_leg_rows(path, [NUMBER, "3676E4038521"])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_NAME]  # no -wal or -shm left


def test_a_leg_among_the_numbers_leaves_it_to_the_full_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAYPOST_DATA_DIR", str(tmp_path))
    watch(tmp_path, NUMBER, "3676E4038521")
    db = sqlite3.connect(tmp_path / DB_NAME)
    with db:
        db.execute("INSERT INTO journeys (id, created) VALUES ('j1', 0)")
        db.execute("UPDATE watched SET journey = 'j1', leg = 1 WHERE number = ?", (NUMBER,))
    db.close()
    assert not quick._no_leg_rows(tmp_path / DB_NAME, [NUMBER])
    assert quick._no_leg_rows(tmp_path / DB_NAME, ["3676E4038521"])
    assert not quick._no_legs([NUMBER])  # the full check agrees


@pytest.mark.parametrize("change", ["PRAGMA user_version = 1", "PRAGMA journal_mode = DELETE"])
def test_a_watch_list_the_store_would_change_goes_to_the_full_check(
    tmp_path: Path, change: str
) -> None:
    watch(tmp_path)
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute(change)
    db.close()
    assert not quick._no_leg_rows(tmp_path / DB_NAME, [NUMBER])


def test_a_file_that_is_no_database_goes_to_the_full_check(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"not a database" * 100)
    assert not quick._no_leg_rows(tmp_path / DB_NAME, [NUMBER])
