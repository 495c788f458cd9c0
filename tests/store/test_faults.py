"""A local store that cannot be used ends with exit 5 and a message naming the file and what to
do (SPEC.md, "Honest states"): busy past ``busy_timeout``, damaged, foreign, a file or directory
in the wrong place, read-only, a full disk. Every case: no traceback, the file unchanged (or
intact with the same rows), and lookups that need no store still work."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.forked import ForkServer
from waypost.sandbox import Sandbox
from waypost.store import DB_NAME

ILS = ["3676E4043665", "3676E4040017"]
MORE = "1234S5678901"
TM = "trackingmore:china-ems:LS912989618CN"


def db_path(isolated: Path) -> Path:
    return isolated / "data" / DB_NAME


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(path: Path) -> tuple[str, list[tuple[object, ...]], int]:
    """integrity_check, the watch list and the number of events, read without waypost."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
        rows = db.execute("SELECT number, carrier, status, last_event FROM watched ORDER BY id")
        events = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        return check, list(rows), events
    finally:
        db.close()


def saved(cli, isolated: Path) -> Path:  # type: ignore[no-untyped-def]
    r = cli("track", "--save", *ILS)
    assert r.code == 0, r.err
    return db_path(isolated)


_SAVED: list[Path] = []  # the data directory of the first saved_copy(), kept as a template


def saved_copy(cli, isolated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """The store ``saved`` makes, copied from the first one made in this module: the cases that
    break the file before using it need a valid store, not one filled by their own sandbox."""
    if not _SAVED:
        template = tmp_path_factory.mktemp("saved") / "data"
        shutil.copytree(saved(cli, isolated).parent, template)
        _SAVED.append(template)
    else:
        shutil.copytree(_SAVED[0], isolated / "data")
    return db_path(isolated)


@dataclass
class Done:
    """One finished ``waypost`` process."""

    returncode: int
    stdout: str
    stderr: str


def waypost(forker: ForkServer, *args: str, preexec: str | None = None) -> Done:
    """``waypost ARGS`` in a process of its own (forked from a warm interpreter,
    tests/forked.py), which first runs ``preexec`` (Python source)."""
    done = forker.run(*args, preexec=preexec, timeout=60)
    return Done(done.code, done.out, done.err)


# -- the table: a broken store, a command, exit 5 with the file named ------------------------


def corrupt_header(path: Path) -> Path:
    with path.open("r+b") as fh:
        fh.write(b"this is no database at all, sorry")
    return path


def corrupt_page(path: Path) -> Path:
    with path.open("r+b") as fh:
        fh.seek(4096)
        fh.write(b"\x55" * 4096)
    return path


def foreign(path: Path) -> Path:
    path.unlink()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    db.execute("INSERT INTO moz_places (url) VALUES ('https://example.org')")
    db.commit()
    db.close()
    return path


def newer(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    return path


def data_dir_is_a_file(path: Path) -> Path:
    for p in path.parent.iterdir():
        p.unlink()
    path.parent.rmdir()
    path.parent.write_text("not a directory\n")
    return path.parent


def db_is_a_directory(path: Path) -> Path:
    path.unlink()
    path.mkdir()
    return path


FAULTS = {
    "corrupt header": (corrupt_header, "damaged or not an SQLite database"),
    "corrupt page": (corrupt_page, "damaged or not an SQLite database"),
    "foreign schema": (foreign, "not a waypost database"),
    "newer schema": (newer, "newer than this waypost knows"),
    "data directory is a file": (data_dir_is_a_file, "it is a file, not a directory"),
    "database is a directory": (db_is_a_directory, "it is a directory"),
}
COMMANDS = {
    "list": ("list", "--all"),
    "track --save": ("track", "--save", MORE),
    "watch --once": ("watch", "--once"),
    "remove": ("remove", ILS[0]),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("fault", FAULTS)
def test_a_broken_store_is_exit_5_naming_the_file_and_never_rewritten(
    fault: str, command: str, sandbox: Sandbox, cli, isolated: Path, tmp_path_factory
) -> None:  # type: ignore[no-untyped-def]
    path = saved_copy(cli, isolated, tmp_path_factory)
    breaker, words = FAULTS[fault]
    broken = breaker(path)
    before = digest(broken) if broken.is_file() else None
    r = cli(*COMMANDS[command])
    assert r.code == 5, (r.out, r.err)
    assert "Traceback" not in r.err
    assert str(broken) in r.err, r.err
    assert words in r.err, r.err
    assert "hint: " in r.err
    if before is not None:
        assert digest(broken) == before  # never rewritten, not even switched to WAL


@pytest.mark.parametrize("fault", FAULTS)
def test_a_lookup_that_needs_no_store_still_works(
    fault: str, sandbox: Sandbox, cli, isolated: Path, tmp_path_factory
) -> None:  # type: ignore[no-untyped-def]
    breaker, _ = FAULTS[fault]
    broken = breaker(saved_copy(cli, isolated, tmp_path_factory))
    before = digest(broken) if broken.is_file() else None
    r = cli("track", "--jsonl", *ILS)
    assert r.code == 0, r.err
    assert r.err == ""  # ILS needs no cache: the store is not even opened
    if before is not None:
        assert digest(broken) == before
    r = cli("track", "--jsonl", TM)  # at worst TrackingMore's cache is lost, never the answer
    assert r.code == 0, r.err
    assert "Traceback" not in r.err
    if fault != "corrupt page":  # a damaged page elsewhere in the file may leave the cache usable
        assert "going on without the cache" in r.err


def test_the_lock_file_being_a_directory_fails_watch_only(
    sandbox: Sandbox, cli, isolated: Path
) -> None:  # type: ignore[no-untyped-def]
    path = saved(cli, isolated)
    before = snapshot(path)
    lock = path.parent / "watch.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()
    r = cli("watch", "--once")
    assert r.code == 5, r.err
    assert str(lock) in r.err, r.err
    assert "is a directory" in r.err
    assert "Traceback" not in r.err
    assert cli("list").code == 0
    assert snapshot(path) == before


def test_a_new_database_is_created_0600(sandbox: Sandbox, cli, isolated: Path) -> None:  # type: ignore[no-untyped-def]
    path = saved(cli, isolated)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


# -- busy: another process holds the write lock ------------------------------------------------


@pytest.fixture
def writer(isolated: Path) -> Iterator[sqlite3.Connection]:
    """Another program in the middle of a write transaction on the store."""
    db = sqlite3.connect(db_path(isolated), isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    db.execute("UPDATE watched SET label = 'held' WHERE id = 1")
    try:
        yield db
    finally:
        db.execute("ROLLBACK")
        db.close()


def test_busy_past_the_timeout_is_exit_5_and_reads_still_work(
    sandbox: Sandbox, cli, isolated: Path, monkeypatch: pytest.MonkeyPatch, request
) -> None:  # type: ignore[no-untyped-def]
    path = saved(cli, isolated)
    request.getfixturevalue("writer")
    monkeypatch.setenv("WAYPOST_STORE_BUSY_TIMEOUT", "0.05")  # each command waits it out
    for args in (("track", "--save", MORE), ("watch", "--once"), ("remove", ILS[0])):
        r = cli(*args)
        assert r.code == 5, (args, r.err)
        assert str(path) in r.err
        assert "another waypost" in r.err
        assert "0.05 s" in r.err
        assert "Traceback" not in r.err
    listed = cli("list", "--json")
    assert listed.code == 0
    assert ILS[0] in listed.out


def test_track_answers_before_reporting_that_it_could_not_save(
    sandbox: Sandbox, cli, isolated: Path, monkeypatch: pytest.MonkeyPatch, request
) -> None:  # type: ignore[no-untyped-def]
    saved(cli, isolated)
    request.getfixturevalue("writer")
    monkeypatch.setenv("WAYPOST_STORE_BUSY_TIMEOUT", "0")
    r = cli("track", "--save", "--jsonl", MORE)
    assert r.code == 5
    assert MORE in r.out  # the lookup itself is not lost


def test_a_plain_track_never_waits_for_a_busy_store(
    sandbox: Sandbox, cli, isolated: Path, monkeypatch: pytest.MonkeyPatch, request, clock
) -> None:  # type: ignore[no-untyped-def]
    path = saved(cli, isolated)
    request.getfixturevalue("writer")
    monkeypatch.setenv("WAYPOST_STORE_BUSY_TIMEOUT", "120")
    started = clock.monotonic()  # counts waits the virtual clock skipped, too
    r = cli("track", "--jsonl", TM, *ILS)
    assert r.code == 0, r.err
    assert r.err == ""  # a busy cache is skipped silently
    assert clock.monotonic() - started < 60  # far below the 120 s it would have waited
    assert snapshot(path)[0] == "ok"


def test_busy_timeout_is_read_from_the_config_file(
    sandbox: Sandbox, cli, isolated: Path, request
) -> None:  # type: ignore[no-untyped-def]
    saved(cli, isolated)
    assert cli("config", "set", "store.busy_timeout", "0.1").code == 0
    request.getfixturevalue("writer")
    r = cli("remove", ILS[0])
    assert r.code == 5
    assert "0.1 s" in r.err


# -- read-only: reads work, writes are exit 5 --------------------------------------------------


# In the child: file modes apply even to root, which loses the capabilities that skip them
# (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER) from its effective, permitted and
# inheritable sets, so the hooks it would start lack them too.
READER_ONLY = """
import ctypes, os
if os.geteuid() == 0:
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class Sets(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]
    libc = ctypes.CDLL(None, use_errno=True)
    header, sets = Header(0x20080522, 0), (Sets * 2)()  # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), sets) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    keep = ~((1 << 1) | (1 << 2) | (1 << 3)) & 0xFFFFFFFF
    sets[0].effective &= keep
    sets[0].permitted &= keep
    sets[0].inheritable &= keep
    if libc.capset(ctypes.byref(header), sets) != 0:
        raise OSError(ctypes.get_errno(), "capset")
"""


@pytest.fixture
def shared_tmp(tmp_path: Path) -> Iterator[Path]:
    """A directory whose read-only parts are made writable again for pytest's clean-up."""
    try:
        yield tmp_path
    finally:
        for p in [tmp_path, *tmp_path.rglob("*")]:
            if p.is_dir():
                p.chmod(0o700)


@pytest.mark.parametrize("what", ["directory", "file"])
def test_read_only_store_lists_but_refuses_writes(
    what: str,
    sandbox: Sandbox,
    cli,
    shared_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    forker: ForkServer,
) -> None:  # type: ignore[no-untyped-def]
    data = shared_tmp / "data"
    monkeypatch.setenv("WAYPOST_DATA_DIR", str(data))
    monkeypatch.setenv("WAYPOST_CONFIG", str(shared_tmp / "none.toml"))
    assert cli("track", "--save", *ILS).code == 0
    path = data / DB_NAME
    before = snapshot(path)
    digest_before = digest(path)
    path.chmod(0o444)
    (data / "watch.lock").unlink(missing_ok=True)
    data.chmod(0o555 if what == "directory" else 0o755)
    listed = waypost(forker, "list", "--all", preexec=READER_ONLY)
    assert listed.returncode == 0, listed.stderr
    assert ILS[0] in listed.stdout
    assert "Traceback" not in listed.stderr
    for args in (("track", "--save", MORE), ("watch", "--once"), ("remove", ILS[0])):
        r = waypost(forker, *args, preexec=READER_ONLY)
        assert r.returncode == 5, (args, r.stderr)
        named = "the watch lock" if args[0] == "watch" and what == "directory" else "the database"
        assert f"cannot use {named}" in r.stderr, r.stderr
        assert str(data) in r.stderr
        assert "Traceback" not in r.stderr
    plain = waypost(forker, "track", "--jsonl", *ILS, preexec=READER_ONLY)
    assert plain.returncode == 0, plain.stderr
    assert digest(path) == digest_before
    assert snapshot(path) == before


def test_no_store_in_a_read_only_place_is_an_empty_list(
    sandbox: Sandbox, shared_tmp: Path, monkeypatch: pytest.MonkeyPatch, forker: ForkServer
) -> None:
    locked = shared_tmp / "locked"
    locked.mkdir(mode=0o555)
    monkeypatch.setenv("WAYPOST_DATA_DIR", str(locked / "data"))
    monkeypatch.setenv("WAYPOST_CONFIG", str(shared_tmp / "none.toml"))
    r = waypost(forker, "list", "--json", preexec=READER_ONLY)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["watched"] == []
    r = waypost(forker, "track", "--save", ILS[0], preexec=READER_ONLY)
    assert r.returncode == 5, r.stderr
    assert str(locked / "data") in r.stderr


# -- a full disk (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with EFBIG) -------------------------


# Room for the write-ahead log's header, not for one page of it.
ROOM = 1024


def held_open(path: Path) -> sqlite3.Connection:
    """Another reader of the store: SQLite's shared-memory index exists before the limit."""
    db = sqlite3.connect(path)
    db.execute("SELECT COUNT(*) FROM watched").fetchone()
    return db


def file_limit(size: int) -> str:
    """Python source for a forked child: no file may grow past ``size`` bytes."""
    return (
        "import resource, signal\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({size}, {size}))\n"
    )


def started(forker: ForkServer, *args: str, preexec: str) -> Done:
    """``waypost ARGS`` in a process of its own (forked, tests/forked.py) that runs ``preexec``
    first; its output goes to pipes (FIFOs), which the file size limit does not stop."""
    import tempfile
    import threading

    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, name) for name in ("out", "err")]
        texts = ["", ""]
        for path in paths:
            os.mkfifo(path)

        def read(i: int) -> None:
            with open(paths[i], encoding="utf-8", errors="replace") as fifo:
                texts[i] = fifo.read()

        readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in (0, 1)]
        for reader in readers:
            reader.start()
        child = forker.start(*args, stdout=paths[0], stderr=paths[1], preexec=preexec)
        done = forker.wait(child, timeout=60)
        for reader in readers:
            reader.join(10)
    return Done(done.code, texts[0], texts[1])


def test_a_full_disk_during_track_save_undoes_the_write(
    sandbox: Sandbox, cli, isolated: Path, forker: ForkServer
) -> None:  # type: ignore[no-untyped-def]
    path = saved(cli, isolated)
    before = snapshot(path)
    reader = held_open(path)
    pandapon = [f"pandapon:{n}" for n in ("2542285634920880794", "2205513879640221987")]
    r = started(forker, "track", "--save", MORE, TM, *pandapon, preexec=file_limit(ROOM))
    reader.close()
    assert r.returncode == 5, r.stderr
    assert str(path) in r.stderr
    assert "disk is full" in r.stderr
    assert "ulimit -f" in r.stderr
    assert "Traceback" not in r.stderr
    assert snapshot(path) == before
    again = cli("track", "--save", MORE)  # with room again, the same command works
    assert again.code == 0, again.err
    assert len(snapshot(path)[1]) == len(before[1]) + 1


def test_a_full_disk_during_watch_keeps_the_news_for_the_next_pass(
    sandbox: Sandbox, cli, isolated: Path, forker: ForkServer
) -> None:  # type: ignore[no-untyped-def]
    path = saved(cli, isolated)
    assert sandbox.apps["ils"].add_event(ILS[1], "Released by customs", "Rotterdam")
    before = snapshot(path)
    reader = held_open(path)
    r = started(forker, "watch", "--once", preexec=file_limit(ROOM))
    reader.close()
    assert r.returncode == 5, r.stderr
    assert str(path) in r.stderr
    assert "Traceback" not in r.stderr
    assert snapshot(path) == before
    later = cli("watch", "--once")
    assert later.code == 0
    assert "Released by customs" in later.out


def test_a_full_disk_during_config_set_leaves_the_file_as_it_was(
    isolated: Path, forker: ForkServer
) -> None:
    path = isolated / "config" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[carriers.ils]\nuser_id = "7"\n')
    path.chmod(0o600)
    before = path.read_bytes()
    r = started(
        forker, "config", "set", "watch.exec", "x" * 20_000, preexec=file_limit(len(before) + 100)
    )
    assert r.returncode == 3, r.stderr
    assert str(path) in r.stderr
    assert "it was not changed" in r.stderr
    assert "Traceback" not in r.stderr
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]
