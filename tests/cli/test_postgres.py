"""`[store] url` / WAYPOST_DATABASE_URL from the command line: PostgreSQL only when configured,
the password masked everywhere, bad URLs and dead servers are exit 5, `store migrate|copy`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.forked import Forked, ForkServer
from waypost.sandbox import Sandbox
from waypost.store.postgres import PgStore

SECRET = "hunter2-very-secret"
DEAD = f"postgresql://me:{SECRET}@127.0.0.1:1/waypost?sslmode=disable"
NUMBERS = ["3676E4043665", "3676E4040017"]


def with_password(url: str) -> str:
    """The test server trusts loopback logins: a password in the URL is accepted and unused."""
    return url.replace("postgresql://waypost@", f"postgresql://waypost:{SECRET}@")


def run(forker: ForkServer, *args: str, env: dict[str, str] | None = None) -> Forked:
    """``waypost ARGS`` in a process of its own (forked from a warm interpreter: tests/forked.py)."""
    return forker.run(*args, env={**os.environ, **(env or {})}, timeout=120)


def test_start_up_without_a_url_never_imports_psycopg() -> None:
    code = (
        "import sys\n"
        "from waypost.cli import main\n"
        "for args in (['list'], ['config', 'show'], ['carriers']):\n"
        "    main(args)\n"
        "print('psycopg' in sys.modules)\n"
    )
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert plain.stdout.strip().splitlines()[-1] == "False", plain.stderr


def test_a_configured_url_is_what_loads_psycopg(pg_url: str) -> None:
    code = "import sys\nfrom waypost.cli import main\nmain(['list'])\nprint('psycopg' in sys.modules)\n"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "WAYPOST_DATABASE_URL": pg_url},
    )
    assert done.stdout.strip().splitlines()[-1] == "True", done.stderr


def test_config_show_masks_the_password_and_keeps_sslmode(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_DATABASE_URL", DEAD)
    shown = cli("config", "show")
    assert shown.code == 0
    assert SECRET not in shown.out + shown.err
    assert 'url = "postgresql://me:****@127.0.0.1:1/waypost?sslmode=disable"' in shown.out
    assert "env WAYPOST_DATABASE_URL" in shown.out
    as_json = cli("config", "show", "--json")
    assert SECRET not in as_json.out
    assert (
        as_json.json()["store"]["url"] == "postgresql://me:****@127.0.0.1:1/waypost?sslmode=disable"
    )  # type: ignore[index]


def test_the_url_from_the_config_file_is_used_and_masked(cli, isolated: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = isolated / "config" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(f'[store]\nurl = "{DEAD}"\n')
    cfg.chmod(0o600)
    listed = cli("list")
    assert listed.code == 5
    assert "cannot reach the database postgresql://me:****@127.0.0.1:1/waypost" in listed.err
    assert SECRET not in listed.out + listed.err
    assert "Traceback" not in listed.err


@pytest.mark.parametrize("command", [["list"], ["list", "--summary"], ["archive", "X1"]])
def test_the_url_of_a_config_given_with_dash_dash_config_is_used(
    cli, tmp_path: Path, command: list[str]
) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text(f'[store]\nurl = "{DEAD}"\n')
    cfg.chmod(0o600)
    r = cli("--config", str(cfg), *command)
    assert r.code == 5, (r.out, r.err)
    assert "cannot reach the database postgresql://me:****@127.0.0.1:1/waypost" in r.err
    assert SECRET not in r.out + r.err


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (DEAD, "cannot reach the database"),
        (f"postgresql://me:{SECRET}@127.0.0.1:notaport/db", "[store] url is not a valid URL"),
        (f"postgresql://me:{SECRET}@127.0.0.1:5432/db?nonsense=1", "invalid URI query parameter"),
        # Not the SQLite file of that path, nor silently the default one: neither is configured.
        (f"sqlite://me:{SECRET}@/tmp/other.db", "url must be a postgresql:// URL"),
        (f"mysql://me:{SECRET}@db.example/waypost", "db.example/****: [store] url must be a"),
    ],
)
def test_bad_urls_and_dead_servers_are_exit_5_with_no_traceback_nor_password(
    url: str, says: str, forker: ForkServer
) -> None:
    for args in (["list"], ["watch", "--once"], ["-vv", "track", "--save", "3676E4043665"]):
        done = run(
            forker,
            *args,
            env={"WAYPOST_DATABASE_URL": url, "WAYPOST_ILS_USER_ID": "1", "WAYPOST_ILS_PDD": "x"},
        )
        assert done.code == 5, (args, done.err)
        assert says in done.err, done.err
        assert SECRET not in done.out + done.err
        assert "Traceback" not in done.err


def test_config_set_refuses_a_url_that_is_not_postgresql(cli) -> None:  # type: ignore[no-untyped-def]
    refused = cli("config", "set", "store.url", "mysql://x@y/z")
    assert refused.code == 3
    assert "must be a postgresql:// URL" in refused.err
    assert cli("config", "set", "store.url", DEAD).code == 0
    assert SECRET not in cli("config", "show").out


def test_watch_on_postgresql_prints_each_piece_of_news_once(
    sandbox: Sandbox, cli, pg_url: str, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_DATABASE_URL", with_password(pg_url))
    monkeypatch.setenv("WAYPOST_STORE_PASS_WINDOW", "0")
    assert cli("track", "--save", *NUMBERS).code == 0
    assert sandbox.apps["ils"].add_event(NUMBERS[0], "Arrived at the hub", "Felixstowe")
    first = cli("watch", "--once", "--jsonl")
    assert first.code == 0, first.err
    (line,) = first.out.splitlines()
    news = json.loads(line)
    assert news["tracking_number"] == NUMBERS[0]
    assert [e["description"] for e in news["events"]] == ["Arrived at the hub"]
    assert cli("watch", "--once").out == ""
    listed = cli("list", "--json")
    assert sorted(r["number"] for r in listed.json()["watched"]) == sorted(NUMBERS)  # type: ignore[index]
    assert not (Path(os.environ["WAYPOST_DATA_DIR"]) / "waypost.db").exists()
    assert SECRET not in first.err + listed.err


def test_a_second_host_within_the_pass_window_asks_nothing(
    sandbox: Sandbox, cli, pg_url: str, monkeypatch, forker: ForkServer
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_DATABASE_URL", pg_url)
    assert cli("track", "--save", *NUMBERS).code == 0
    assert cli("watch", "--once").code == 0
    sandbox.reset_log()
    again = run(forker, "watch", "--once")  # another process: another host
    assert (again.code, again.out) == (0, ""), again.err
    assert sandbox.entries() == []
    looping = cli("watch", "--once")  # this process again: a new pass, as a `watch` loop does
    assert looping.code == 0
    assert {e.carrier for e in sandbox.entries()} == {"ils"}


def test_store_migrate_and_copy_move_a_sqlite_list_into_postgresql(
    sandbox: Sandbox, cli, pg_url: str
) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "--save", "--label", "mine", *NUMBERS).code == 0
    target = with_password(pg_url)
    copied = cli("store", "copy", "--to", target)
    assert copied.code == 0, copied.err
    lines = dict(line.split("\t", 1) for line in copied.out.splitlines())
    assert lines["watched"] == "2\t2 new"
    assert SECRET not in copied.out + copied.err
    again = cli("store", "copy", "--to", target)
    assert dict(line.split("\t", 1) for line in again.out.splitlines())["watched"] == "2\t0 new"
    assert all(line.endswith("\t0 new") for line in again.out.splitlines())
    with PgStore(pg_url) as pg:
        rows = pg.watched()
        assert sorted(r.number for r in rows) == sorted(NUMBERS)
        assert {r.label for r in rows} == {"mine"}
        assert all(pg.events(r.id) for r in rows)
    migrated = cli("--config", "/nonexistent", "store", "migrate")
    assert migrated.code == 3  # an explicit --config that does not exist
    os.environ["WAYPOST_DATABASE_URL"] = target
    try:
        migrated = cli("store", "migrate")
    finally:
        del os.environ["WAYPOST_DATABASE_URL"]
    assert migrated.code == 0, migrated.err
    assert "up to date" in migrated.err
    assert SECRET not in migrated.err


def test_store_copy_refuses_a_url_that_is_not_postgresql(cli) -> None:  # type: ignore[no-untyped-def]
    refused = cli("store", "copy", "--to", "sqlite:///x.db")
    assert refused.code == 2
    assert "must be a postgresql:// URL" in refused.err
