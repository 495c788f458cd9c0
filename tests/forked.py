"""`waypost` child processes without an interpreter start-up each: a fork server.

``ForkServer`` starts one Python process that imports waypost's CLI and the modules a run needs
(the service, the store, rendering, every carrier's adapter), then forks one child per command.
A child is a process of its own, as ``python -m waypost`` would be: its own environment, working
directory, standard streams (files; stdin is /dev/null or the ``stdin`` text given), exit status and peak memory
(``VmHWM``, which starts at the server's resident size when it forks, as a fresh process's
starts at its imports), and it exits as the interpreter's shutdown does (the exit status of
``main()`` or its ``SystemExit``, threads joined, atexit handlers, the final flush of the
standard streams; a failed flush takes the whole shutdown, which reports it and exits 120), only
without tearing down the modules inherited from the server: that costs a child ~45 ms of CPU,
every object's page copied as its reference count drops (``ForkServer(full_shutdown=True)``
keeps it). What it does not get is a fresh interpreter:
the stream encodings and locale are the server's, so tests about those keep a real start-up
(or start a server of their own under the locale in question: ``ForkServer(env=...)``).

The server freezes its heap (``gc.freeze()``) before the first fork, as the gc module's
documentation advises for pre-fork servers: a child's collections, including the final ones
at exit, skip the ~10^5 objects of the imports instead of spending ~0.1 s of CPU on them.

It saves the 0.3-0.5 s of CPU each start-up costs (two thirds of a short run). The pytest
fixture ``forker`` (tests/conftest.py) shares one server per worker.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

SERVER = textwrap.dedent(
    """
    import atexit, json, os, sys
    import waypost.__main__
    from waypost import carriers
    import waypost.cli, waypost.service, waypost.watch, waypost.render, waypost.store
    for name in carriers.names():
        __import__(carriers.MODULES[name] + ".adapter")
    import importlib
    for module in json.loads(sys.argv[1]):  # WARM: what runs would otherwise import after fork
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    import gc
    gc.freeze()
    waypost.service.heap_frozen = True

    def _quick_exit(code):
        # The interpreter's shutdown up to its flush of the standard streams (threads joined,
        # atexit handlers, the flush), then the exit without tearing down the modules the fork
        # inherited. A failed flush takes the full shutdown, which flushes again and reports it.
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()
        atexit._run_exitfuncs()
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None and not stream.closed:
                    stream.flush()
        except Exception:
            sys.exit(code)
        os._exit(code)

    print("ready", flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        if "wait" in job:  # a child started with "nowait"
            _, status = os.waitpid(job["wait"], 0)
            print(json.dumps(["done", job["wait"], os.waitstatus_to_exitcode(status)]), flush=True)
            continue
        pid = os.fork()
        if pid == 0:
            os.environ.clear()
            os.environ.update(job["env"])
            os.chdir(job["cwd"])
            os.dup2(os.open(job.get("in") or os.devnull, os.O_RDONLY), 0)
            for fd, path in ((1, job["out"]), (2, job["err"])):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
            if job.get("preexec"):
                exec(job["preexec"], {})
            hwm = job.get("hwm")
            if hwm:
                def _hwm(path=hwm):
                    with open("/proc/self/status") as status, open(path, "w") as out:
                        out.write(next(l.split()[1] for l in status if l.startswith("VmHWM:")))
                atexit.register(_hwm)
            sys.argv = ["waypost", *job["argv"]]
            try:
                code = waypost.__main__.main()
            except SystemExit as stop:
                code = stop.code
            if job.get("quick") and (code is None or type(code) is int and -(2**31) <= code < 2**31):
                _quick_exit(code or 0)
            sys.exit(code)
        print(json.dumps(["started", pid]), flush=True)
        if job.get("nowait"):
            continue
        _, status = os.waitpid(pid, 0)
        print(json.dumps(["done", pid, os.waitstatus_to_exitcode(status)]), flush=True)
    """
)


# Modules a run imports lazily (the store's engine, the HTTP stack under httpx, the commands'
# helpers): imported by the server once instead of by each child (~0.1 s of CPU a run). A name
# that does not exist (any more) is skipped.
WARM = (
    "waypost.store.sqlite",
    "waypost.store.migrations",
    "waypost.store.legs",
    "waypost.quick",
    "waypost.quick_tm",  # the lean TrackingMore v4 path
    "waypost.lean_tls",  # ... over https
    "waypost.lean_http",
    "waypost.lean_json",
    "waypost.lean_replay",
    "sqlite3",
    "waypost.insights",
    "waypost.quota",
    "waypost.journeys",
    "waypost.inputs",
    "waypost.notify",
    "waypost.redaction",
    "waypost.safe",
    "waypost.render_journeys",
    "waypost.carriers.trackingmore.v4",
    "waypost.carriers.trackingmore.v4_api",
    "waypost.carriers.trackingmore.v4_fast",
    "waypost.carriers.trackingmore.v2",
    "httpcore",
    "h11",
    "anyio",
    "anyio._backends._asyncio",
    "anyio.streams.tls",
    "anyio.streams.stapled",
    "anyio.streams.memory",
    "anyio.to_thread",
    "sniffio",
    "certifi",
    "queue",
    "shlex",
    "psycopg",  # the PostgreSQL store's driver (~0.1 s a child that has a database URL)
    "waypost.imports",  # watch's PandaPon order import
    "typer._click.decorators",  # every command's context, imported as it runs
    "encodings.idna",  # the lean paths' host names (and stringprep under it)
)


@dataclass
class Forked:
    """One finished child."""

    pid: int
    code: int
    out: str
    err: str
    hwm_kb: int | None


@dataclass
class Started:
    """A child of ``ForkServer.start`` that has not been waited for."""

    pid: int
    base: str  # where its streams go (``.out``, ``.err``)
    own_stdout: bool = True  # False: on the ``stdout`` path given
    own_stderr: bool = True

    def output(self) -> str:
        """What it has written to its standard output so far (its own file)."""
        path = Path(f"{self.base}.out")
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


class ForkServer:
    """One warm interpreter that forks a ``waypost`` child per ``run``."""

    def __init__(self, env: Mapping[str, str] | None = None, full_shutdown: bool = False) -> None:
        """``env``: the server's own environment (None: this process's). Its interpreter's
        start-up under it (the locale, the streams' encoding) is what its children inherit.
        ``full_shutdown``: children tear the inherited modules down at exit too (~45 ms of
        CPU each), instead of ending after the final flush."""
        self._quick = not full_shutdown
        self._proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, json.dumps(WARM)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=None if env is None else dict(env),
        )
        self._tmp = tempfile.TemporaryDirectory(prefix="waypost-forked-")
        self._count = 0
        self._pending = b""
        assert self._line(120.0) == "ready"

    def _line(self, timeout: float) -> str:
        # Lines are read off the pipe's descriptor into a buffer of our own: a buffered
        # readline() can take "started" and "done" in one read, and select() then waits
        # for a line that has already come.
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._pending:
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                if not sel.select(timeout):
                    raise TimeoutError(f"no word from the fork server within {timeout:g} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"the fork server exited ({self._proc.poll()})")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode().strip()

    def run(
        self,
        *argv: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 90.0,
        measure: bool = False,
        preexec: str | None = None,
        started: Callable[[int], None] | None = None,
        stdin: str | None = None,
    ) -> Forked:
        """Run ``waypost ARGV`` in a forked child and wait for it (killed after ``timeout``);
        ``preexec``: Python source the child runs first (as ``subprocess``'s ``preexec_fn``);
        ``started`` gets the child's pid as soon as it runs (e.g. for a test to kill it);
        ``stdin``: text the child reads on its standard input (UTF-8) instead of /dev/null."""
        self._count += 1
        base = Path(self._tmp.name) / str(self._count)
        if stdin is not None:
            Path(f"{base}.in").write_text(stdin, encoding="utf-8")
        job = {
            "argv": list(argv),
            "env": dict(os.environ if env is None else env),
            "cwd": str(cwd or Path.cwd()),
            "out": f"{base}.out",
            "err": f"{base}.err",
            "hwm": f"{base}.hwm" if measure else None,
            "preexec": preexec,
            "in": f"{base}.in" if stdin is not None else None,
            "quick": self._quick,
        }
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(job) + "\n")
        self._proc.stdin.flush()
        pid = int(json.loads(self._line(30.0))[1])
        if started is not None:
            started(pid)
        try:
            done = json.loads(self._line(timeout))
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            self._line(30.0)
            raise
        hwm = Path(f"{base}.hwm")
        return Forked(
            pid,
            int(done[2]),
            Path(job["out"]).read_text(encoding="utf-8", errors="replace"),
            Path(job["err"]).read_text(encoding="utf-8", errors="replace"),
            int(hwm.read_text()) if measure and hwm.exists() else None,
        )

    def start(
        self,
        *argv: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        stdin: str | None = None,
        stdout: str | None = None,
        preexec: str | None = None,
        stderr: str | None = None,
    ) -> Started:
        """Start ``waypost ARGV`` in a forked child and return at once, so that several run
        together (e.g. hosts sharing one store), or a test signals it (``Started.pid``) or
        reads it as it writes; ``wait`` collects each. ``stdin``: text the child reads on its
        standard input (UTF-8) instead of /dev/null; ``stdout``: a path its standard output
        is opened on instead of a file of its own (a FIFO, a terminal's device), which the
        test reads itself, and ``stderr`` likewise; ``preexec`` as for ``run``."""
        self._count += 1
        base = Path(self._tmp.name) / str(self._count)
        if stdin is not None:
            Path(f"{base}.in").write_text(stdin, encoding="utf-8")
        job = {
            "argv": list(argv),
            "env": dict(os.environ if env is None else env),
            "cwd": str(cwd or Path.cwd()),
            "out": stdout or f"{base}.out",
            "err": stderr or f"{base}.err",
            "in": f"{base}.in" if stdin is not None else None,
            "preexec": preexec,
            "nowait": True,
            "quick": self._quick,
        }
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(job) + "\n")
        self._proc.stdin.flush()
        pid = int(json.loads(self._line(30.0))[1])
        return Started(pid, str(base), stdout is None, stderr is None)

    def wait(self, child: Started, timeout: float = 90.0) -> Forked:
        """Wait for a child of ``start`` (killed after ``timeout``) and read what it wrote."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"wait": child.pid}) + "\n")
        self._proc.stdin.flush()
        try:
            done = json.loads(self._line(timeout))
        except TimeoutError:
            os.kill(child.pid, signal.SIGKILL)
            self._line(30.0)
            raise
        return Forked(
            child.pid,
            int(done[2]),
            child.output() if child.own_stdout else "",
            Path(f"{child.base}.err").read_text(encoding="utf-8", errors="replace")
            if child.own_stderr
            else "",
            None,
        )

    def close(self) -> None:
        """Stop the server."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._tmp.cleanup()
