"""Shared fixtures: an isolated environment, the sandbox over loopback, and a CLI runner."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import io
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.forked import ForkServer
from tests.hostile import HostileServer
from tests.inproc import SandboxTransport, VirtualClock, VirtualPolicy
from tests.strategies import json_trees
from waypost.sandbox import Sandbox

settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile(
    "fuzz", max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

FIXTURES = Path(__file__).parent / "fixtures"

# Any JSON value, for feeding carrier parsers what a broken or hostile server could send:
# what st.recursive(scalars, lists(max_size=4) | dictionaries(text(max_size=8), max_size=4),
# max_leaves=12) draws, built without its retries (tests/strategies.py).
json_values = json_trees(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    st.text(max_size=8),
    max_leaves=12,
)


def fixture(carrier: str, name: str) -> object:
    """A recorded carrier answer from tests/fixtures/<carrier>/<name> (a new copy each call)."""
    return json.loads(_fixture_text(carrier, name))


@functools.cache
def _fixture_text(carrier: str, name: str) -> str:
    return (FIXTURES / carrier / name).read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees the developer's config, data or WAYPOST_* variables."""
    for key in list(os.environ):
        if key.startswith("WAYPOST_") or key in {"NO_COLOR", "COLUMNS"}:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("WAYPOST_CONFIG", str(tmp_path / "config" / "config.toml"))
    monkeypatch.setenv("WAYPOST_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.hookimpl(tryfirst=True)  # before the tmp_path plugin reads --basetemp
def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # once per run, in the controller
        # The suite starts a few hundred `python -m waypost` children; with
        # PYTHONDONTWRITEBYTECODE set, an editable install would recompile waypost in each.
        import compileall

        import waypost

        # One process: a pool of workers costs ~0.1 s of CPU even when nothing is stale.
        compileall.compile_dir(str(Path(waypost.__file__).parent), quiet=1, workers=1)
        _basetemp_in_memory(config)
        if getattr(config.option, "numprocesses", None):
            _shared_directory()
    else:
        _start_shared_early(config, config.workerinput)
        _compile_share(config, config.workerinput)
    config.addinivalue_line(
        "markers",
        "real_clock: the sandbox counts on time.monotonic and waypost reaches it over loopback",
    )


def _whole_suite(config: pytest.Config) -> bool:
    """The run's paths are the whole suite (none given, ``tests`` or the checkout)."""
    here = Path(__file__).parent
    return all(Path(a).resolve() in (here, here.parent) for a in config.args)


def _compile_share(config: pytest.Config, workerinput: dict[str, Any]) -> None:
    """In a worker of a ``-n`` run, before it collects: this worker's share of the suite's
    modules compiled ahead (the test modules and conftests as pytest rewrites their asserts,
    the helpers as plain bytecode), where nothing was yet. Each worker would otherwise rewrite
    every module of a fresh checkout itself while collecting (~2 s of CPU each); with the
    shares, each finds the others' work done. Up-to-date modules cost a look at their
    cached file; anything unexpected leaves the work to collection as before."""
    import sys

    here = Path(__file__).parent
    if sys.dont_write_bytecode or not _whole_suite(config):  # a part rewrites only its modules
        return
    import compileall
    import fnmatch

    from _pytest.assertion import rewrite

    index = int(str(workerinput.get("workerid", "gw0")).removeprefix("gw") or 0)
    count = int(workerinput.get("workercount", 1))
    patterns = [*config.getini("python_files"), "conftest.py"]
    with contextlib.suppress(Exception):  # pytest's own helpers changed: collection does it
        state = config.stash[rewrite.assertstate_key]
        for path in sorted(here.rglob("*.py"))[index::count]:
            if not any(fnmatch.fnmatch(path.name, p) for p in patterns):
                compileall.compile_file(str(path), quiet=2)
                continue
            pyc = rewrite.get_cache_dir(path) / (path.name[:-3] + rewrite.PYC_TAIL)
            if rewrite._read_pyc(path, pyc, state.trace) is None and rewrite.try_makedirs(
                pyc.parent
            ):
                source_hash, code = rewrite._rewrite_test(path, config)
                rewrite._write_pyc(state, code, source_hash, pyc)


# Where the tests' own directories go when nobody said (--basetemp): memory, where there is some.
MEMORY = Path("/dev/shm")
MEMORY_NEEDED = 2 << 30  # bytes free there: a PostgreSQL cluster alone takes ~40 MB
_IN_MEMORY: list[Path] = []


def _basetemp_in_memory(config: pytest.Config) -> None:
    """Every test's directories (``tmp_path``: the store, config, hooks' logs) and every
    temporary file of the run and its children (``TMPDIR``: the PostgreSQL cluster, the fork
    server's output files) in a fresh directory on tmpfs, which the workers inherit: commits
    and fsyncs then never wait for a disk (a third of the wall time of the store-heavy files).
    Removed after a run that passed; kept for a look after a failure."""
    if config.option.basetemp is not None or not MEMORY.is_dir() or not os.access(MEMORY, os.W_OK):
        return
    import shutil
    import tempfile

    if shutil.disk_usage(MEMORY).free < MEMORY_NEEDED:  # e.g. a container's 64 MB default
        return

    _forget_old_runs()
    root = Path(tempfile.mkdtemp(prefix="waypost-tests-", dir=MEMORY))
    root.chmod(0o711)  # as /tmp is to them: the PostgreSQL cluster's own user passes through
    (root / "tmp").mkdir(mode=0o1777)
    (root / "tmp").chmod(0o1777)
    config.option.basetemp = str(root / "basetemp")
    os.environ["TMPDIR"] = str(root / "tmp")
    tempfile.tempdir = None  # computed again from TMPDIR
    _IN_MEMORY.append(root)


def _forget_old_runs(older_than: float = 86400.0) -> None:
    """Remove what failed runs kept in memory once it is a day old."""
    import shutil
    import time

    for old in MEMORY.glob("waypost-tests-*"):
        try:
            info = old.stat()
        except OSError:
            continue
        if info.st_uid == os.getuid() and time.time() - info.st_mtime > older_than:
            shutil.rmtree(old, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not hasattr(session.config, "workerinput"):
        _stop_shared()
    if _IN_MEMORY and exitstatus == 0:
        import shutil

        shutil.rmtree(_IN_MEMORY.pop(), ignore_errors=True)


def freeze_heap() -> None:
    """Freeze the test process's own heap (pytest, hypothesis, the collected tests: ~10^5
    objects): waypost's full collections in an in-process run (one per batch) then see only
    what the tests made, as in a real waypost process, instead of 0.1-0.2 s of CPU each."""
    import waypost.cli
    import waypost.render
    import waypost.service
    import waypost.store
    import waypost.watch
    from waypost import carriers

    for name in carriers.names():  # what a run imports, frozen with the rest
        __import__(carriers.MODULES[name] + ".adapter")
    gc.collect()
    gc.freeze()
    waypost.service.heap_frozen = True  # its runs keep the heap frozen instead of thawing it


# Modules with the longest tests (1-4 s each, mostly waiting on other processes), run first:
# with -n, a long test taken last would leave the other worker idle until it ends.
FIRST = (
    "tests/store/test_postgres_hosts.py",
    "tests/security/test_sandbox_state.py",
    "tests/reliability/test_hostile_answers.py",
    "tests/reliability/test_fuzz.py",
    "tests/reliability/test_bad_input.py",
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than the cores this process may use. About a third of the
    suite's test time is spent waiting (timeouts, 1 s rate-limit windows, child processes,
    PostgreSQL), which a worker of its own fills with another test's CPU (measured on 2 cores:
    44-45 s with 3 workers, 47-51 s with 2)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules of ``FIRST`` ahead of the rest, each whole and in its own order."""
    rank = {name: i for i, name in enumerate(FIRST)}
    order = {id(item): n for n, item in enumerate(items)}
    items.sort(
        key=lambda item: (rank.get(item.nodeid.split("::", 1)[0], len(FIRST)), order[id(item)])
    )


_SINCE_FROZEN = [0]


def pytest_collection_finish(session: pytest.Session) -> None:
    freeze_heap()


@pytest.hookimpl(trylast=True)  # after the test's fixtures are gone
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Every 25 tests the modules imported meanwhile (apprise, rich, ...) join the frozen heap."""
    _SINCE_FROZEN[0] += 1
    if _SINCE_FROZEN[0] % 25 == 0:
        freeze_heap()


@pytest.fixture
def clock() -> Iterator[VirtualClock]:
    """A virtual clock (tests/inproc.py): every event loop the test starts (``asyncio.run``, so
    in-process CLI runs too) runs on it and skips ahead instead of waiting for a timer; with
    ``sandbox``, waypost reaches the sandbox in-process and its limits count on this clock."""
    virtual = VirtualClock()
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(VirtualPolicy(virtual))
    try:
        yield virtual
    finally:
        asyncio.set_event_loop_policy(previous)


def stop_soon(server: Sandbox | HostileServer) -> None:
    """Stop a loopback server in the background: its serve loop notices only at its next
    0.05 s poll, which the next test need not wait for (its own server has a port of its own)."""
    threading.Thread(target=server.stop, name="stop-server", daemon=True).start()


@pytest.fixture
def box() -> Iterator[Sandbox]:
    """A sandbox on a free loopback port on its own clock (real time), for the lean paths'
    sockets and child processes; it stops in the background after the test."""
    sandbox = Sandbox(port=0).start()
    try:
        yield sandbox
    finally:
        stop_soon(sandbox)


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A fresh sandbox on a free loopback port, with waypost pointed at it.

    It counts on the test's virtual ``clock`` and waypost's in-process sessions reach it without
    sockets (``SandboxTransport``), so rate limits, pauses and timeouts cost no real time; it
    still listens on its port for control calls, the hostile proxy and child processes (their
    requests arrive in real time: the virtual clock only ever adds skips). The ``real_clock``
    mark keeps the sandbox on ``time.monotonic`` and waypost on loopback HTTP."""
    if not request.node.get_closest_marker("real_clock"):
        box = Sandbox(port=0, clock=request.getfixturevalue("clock").monotonic).start()
        monkeypatch.setattr("waypost.http.default_transport", lambda: SandboxTransport(box))
    else:
        box = Sandbox(port=0).start()
    for key, value in box.env().items():
        monkeypatch.setenv(key, value)
    try:
        yield box
    finally:
        stop_soon(box)


@pytest.fixture(scope="session")
def forker() -> Iterator[ForkServer]:
    """One fork server per worker: ``forker.run(*argv)`` runs ``waypost ARGV`` in a child process
    without an interpreter start-up (tests/forked.py); the environment is the caller's."""
    server = ForkServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def tm_v2(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The sandbox with waypost on TrackingMore API v2 (``api = "v2"``) instead of the default."""
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_API", "v2")
    v4 = sandbox.env()["WAYPOST_TRACKINGMORE_BASE_URL"]
    monkeypatch.setenv("WAYPOST_TRACKINGMORE_BASE_URL", v4.removesuffix("/v4") + "/v2")
    return sandbox


@pytest.fixture
def hostile(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[HostileServer]:
    """A hostile carrier in front of the sandbox, with waypost pointed at it (see hostile.py)."""
    server = HostileServer(sandbox.base_url).start()
    for key, value in server.env(sandbox.env()).items():
        monkeypatch.setenv(key, value)
    try:
        yield server
    finally:
        stop_soon(server)


@dataclass
class Outcome:
    """What one CLI run printed and returned."""

    code: int
    out: str
    err: str

    def json(self) -> object:
        """stdout parsed as JSON."""
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``waypost ARGS`` in-process; returns an Outcome."""
    from waypost.cli import main

    def run(*args: str, stdin: str = "") -> Outcome:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


# -- PostgreSQL (tests/pg.py): one throwaway cluster per session, one database per test --------

_PG: list[object] = []


SHARED = "PYTEST_WAYPOST_SHARED"  # names the run's directory for what its workers share


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> Iterator[object]:
    """The session's PostgreSQL server; the test skips, with the reason, where there is none.

    The workers of one ``-n`` run share one cluster: the first to need it starts it and the
    run's controller stops it at the end (one initdb and start, ~1 s of CPU and 2 s of wall
    time, instead of one per worker); each test still gets a database of its own."""
    from tests import pg

    shared = os.environ.get(SHARED) if hasattr(request.config, "workerinput") else None
    if not shared:
        server = pg.start()
        _PG.append(server)
        try:
            yield server
        finally:
            _close_databases_ahead()
            server.stop()
        return
    import dataclasses

    server = _shared_server(shared)
    try:
        yield dataclasses.replace(server, _stop=None, _dir=None)  # stopped by the controller
    finally:
        _close_databases_ahead()


def _shared_server(shared: str) -> Any:
    """The cluster the workers of a run share: started by the first to ask, under a lock."""
    import dataclasses
    import fcntl

    from tests import pg

    record = Path(shared) / "postgres.json"
    with open(Path(shared) / "postgres.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if record.exists():
            return pg.Server(**json.loads(record.read_text(encoding="utf-8")))
        server = pg.start()
        record.write_text(json.dumps(dataclasses.asdict(server)), encoding="utf-8")
        return server


def _start_shared_early(config: pytest.Config, workerinput: dict[str, Any]) -> None:
    """In the first worker of a whole ``-n`` run (which has PostgreSQL tests): the shared
    cluster started in the background while the worker collects, instead of by the first
    test that needs it (initdb and pg_ctl's start: ~1 s, partly waiting)."""
    shared = os.environ.get(SHARED)
    if not shared or workerinput.get("workerid") != "gw0" or not _whole_suite(config):
        return
    if config.option.keyword or config.option.markexpr:
        return
    threading.Thread(target=_shared_server, args=(shared,), name="pg-start", daemon=True).start()


_SHARED_HERE: list[str] = []  # the directory this controller made (not a surrounding run's)


def _shared_directory() -> None:
    """In the controller: a directory for the workers' shared PostgreSQL cluster."""
    import tempfile

    os.environ[SHARED] = tempfile.mkdtemp(prefix="waypost-tests-shared-")
    _SHARED_HERE.append(os.environ[SHARED])


def _stop_shared() -> None:
    """In the controller, at the end: stop the workers' shared cluster, remove the directory."""
    if not _SHARED_HERE:
        return
    shared = _SHARED_HERE.pop()
    os.environ.pop(SHARED, None)
    import shutil

    from tests import pg

    record = Path(shared) / "postgres.json"
    if record.exists():
        server = pg.Server(**json.loads(record.read_text(encoding="utf-8")))
        server.stop()
        _PG.append(server)  # for the summary
    shutil.rmtree(shared, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The URL of a new, empty database on the session's server (dropped afterwards).

    The next test's database is made, and this one dropped, in the background while tests run
    (a CREATE DATABASE takes 0.1-0.3 s of the server's time, a forced DROP ~0.05 s)."""
    if pg_server.skip:
        pytest.skip(f"PostgreSQL tests skipped: {pg_server.skip}")
    ahead = _databases_ahead(pg_server)
    url = ahead.pop()
    try:
        yield url
    finally:
        ahead.drop(url)


@pytest.fixture
def pg_store_url(pg_server) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The URL of a new database on the session's server that already holds waypost's schema
    (a copy of a template migrated once per worker: ~50 ms less a test than migrating an empty
    one), for tests of what a store does rather than of how it migrates (dropped afterwards)."""
    if pg_server.skip:
        pytest.skip(f"PostgreSQL tests skipped: {pg_server.skip}")
    ahead = _databases_ahead(pg_server, migrated=True)
    url = ahead.pop()
    try:
        yield url
    finally:
        ahead.drop(url)


class _DatabasesAhead:
    """One background thread that makes each next database before it is asked for and drops
    the used ones; ``close()`` drops the spare and waits for the drops. ``migrated``: each a
    copy of a template database that waypost's store migrated first."""

    def __init__(self, server: Any, migrated: bool = False) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.server = server
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-ahead")
        self.template = self.pool.submit(self._template) if migrated else None
        self.next = self.pool.submit(self._make)

    def _template(self) -> str:
        from waypost.store.postgres import PgStore

        url: str = self.server.database()
        PgStore(url).close()
        return url

    def _make(self) -> str:
        url: str = self.server.database(self.template.result() if self.template else None)
        return url

    def pop(self) -> str:
        url: str = self.next.result()
        self.next = self.pool.submit(self._make)
        return url

    def drop(self, url: str) -> None:
        self.pool.submit(self.server.drop, url)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.server.drop(self.next.result())
        if self.template is not None:
            with contextlib.suppress(Exception):
                self.server.drop(self.template.result())
        self.pool.shutdown(wait=True)


_AHEAD: dict[tuple[int, bool], _DatabasesAhead] = {}


def _databases_ahead(server: Any, migrated: bool = False) -> _DatabasesAhead:
    if (id(server), migrated) not in _AHEAD:
        _AHEAD[id(server), migrated] = _DatabasesAhead(server, migrated)
    return _AHEAD[id(server), migrated]


def _close_databases_ahead() -> None:
    while _AHEAD:
        _AHEAD.popitem()[1].close()


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """Say why the PostgreSQL tests were skipped (visible with -q and -n too), or where they ran."""
    reasons = set()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""
        if "PostgreSQL tests skipped" in text:
            reasons.add(text.removeprefix("Skipped: "))
    for reason in sorted(reasons):
        terminalreporter.write_line(reason)
    for server in _PG:
        if not getattr(server, "skip", None):
            terminalreporter.write_line(f"PostgreSQL tests ran on {getattr(server, 'where', '')}")
