"""A throwaway PostgreSQL cluster for the tests (and the benchmarks): initdb + pg_ctl on a free
loopback port, as an unprivileged user, stopped at the end of the session.

``WAYPOST_TEST_DATABASE_URL`` points the tests at a server of your own instead (each test gets a
database of its own there, dropped afterwards). Without either, the PostgreSQL tests skip and the
session's summary says why.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ENV_URL = "WAYPOST_TEST_DATABASE_URL"
USER = "waypost"


@dataclass
class Server:
    """A PostgreSQL server the tests may create databases on."""

    url: str  # of the maintenance database
    where: str  # shown in the session summary
    skip: str | None = None
    _stop: list[str] | None = None
    _dir: str | None = None

    def database(self, template: str | None = None) -> str:
        """A new database: its URL. Empty, or a copy of the database of URL ``template``
        (which nobody may be connected to)."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        source = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{source}')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def drop(self, url: str) -> None:
        """Drop a database made by ``database()`` (its connections are ended first)."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop a cluster this module started and remove its files."""
        if self._stop:
            subprocess.run(self._stop, capture_output=True, check=False, timeout=60)
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)


def binaries() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``: Debian's newest, else the ones on PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user() -> tuple[list[str], str | None]:
    """The command prefix that runs the server unprivileged (root may not run it)."""
    if os.geteuid() != 0:
        return [], None
    import pwd

    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return ["runuser", "-u", name, "--"], name
        if shutil.which("setpriv"):
            entry = pwd.getpwnam(name)
            return [
                "setpriv",
                f"--reuid={entry.pw_uid}",
                f"--regid={entry.pw_gid}",
                "--clear-groups",
            ], name
    return [], None


def start() -> Server:
    """Start a cluster (or use ``WAYPOST_TEST_DATABASE_URL``); ``skip`` says why there is none."""
    given = os.environ.get(ENV_URL)
    if given:
        return Server(url=given, where=f"the server of ${ENV_URL}")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return Server("", "", skip="psycopg is not installed (pip install -e '.[dev]')")
    bindir = binaries()
    if bindir is None:
        return Server(
            "",
            "",
            skip=f"PostgreSQL is not installed (apt-get install postgresql, or set {ENV_URL})",
        )
    prefix, user = _as_user()
    if os.geteuid() == 0 and user is None:
        return Server("", "", skip="running as root without runuser/setpriv to drop privileges")
    root = tempfile.mkdtemp(prefix="waypost-pg-")
    data, log = os.path.join(root, "data"), os.path.join(root, "log")
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    initdb = [
        *prefix,
        str(bindir / "initdb"),
        "-D",
        data,
        "-U",
        USER,
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
        "--no-instructions",
    ]
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", data]
    try:
        made = subprocess.run(initdb, capture_output=True, text=True, timeout=120, check=False)
        if made.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            return Server("", "", skip=f"initdb failed: {made.stderr.strip()[-300:]}")
        started = subprocess.run(
            [*pg_ctl, "-o", options, "-l", log, "-w", "-t", "60", "start"],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(root, ignore_errors=True)
        return Server("", "", skip=f"could not start PostgreSQL: {exc}")
    if started.returncode != 0:
        tail = ""
        with contextlib.suppress(OSError):
            tail = Path(log).read_text(errors="replace")[-300:]
        shutil.rmtree(root, ignore_errors=True)
        return Server("", "", skip=f"pg_ctl start failed: {started.stderr.strip()} {tail}")
    return Server(
        url=f"postgresql://{USER}@127.0.0.1:{port}/postgres",
        where=f"a throwaway cluster ({bindir}, port {port})",
        _stop=[*pg_ctl, "-m", "immediate", "-w", "stop"],
        _dir=root,
    )


@contextlib.contextmanager
def running() -> Iterator[Server]:
    """A server for the duration of the block (benchmarks)."""
    server = start()
    try:
        yield server
    finally:
        server.stop()
