"""`watch --once` over one PostgreSQL watch list on 1, 2 and 3 hosts at once (issue 22).

Saves N shipments (default 10,000: 70% ILS, 28% TrackingMore, 2% PandaPon orders) with
`waypost track --save -` through the real CLI, then times `waypost list` and `waypost watch
--once` as separate processes and prints for each the wall time, the peak memory (RSS) and the
requests per carrier. The sandbox runs in a process of its own, with the documented limits.

`--store URL` keeps the watch list in PostgreSQL (`throwaway`: a cluster of its own, as the
tests start one) and then runs `watch --once` on 1, 2 and 3 hosts at once (`--hosts`), each
run a new pass: wall time of the slowest host, the hosts' CPU time (user + system), requests
per carrier, rate-limit rejections at the sandbox, and each host's wall time, peak memory and
CPU time. Several sizes (`--shipments 10000 100000`) each get a database and a sandbox of
their own, and their runs interleave (1 host at each size, then 2, ...) so a changing machine
load falls on all of them alike; `--hosts-only` skips the single-process `list`/`watch` steps.
`bench/watch.py --store URL` runs this too.

    python bench/watch_hosts.py [--shipments 10000 [100000]] [--latency 80] [--store URL|throwaway]
                                [--hosts 1,2,3] [--hosts-only]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sandbox import SandboxProcess, run


@dataclass
class Host:
    """What one `waypost` process took."""

    wall: float
    peak_mb: float
    cpu: float  # user + system seconds
    code: int
    err: str


def run_host(args: list[str], env: dict[str, str]) -> Host:
    """One `waypost` process: wall, peak RSS and CPU time from its own rusage (os.wait4)."""
    waypost = str(Path(sys.executable).parent / "waypost")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [waypost, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Host(wall, usage.ru_maxrss / 1024, cpu, proc.returncode, err)


def together(args: list[str], env: dict[str, str], n: int) -> list[Host]:
    """``n`` `waypost` processes started at once."""
    results: list[Host | None] = [None] * n

    def one(i: int) -> None:
        results[i] = run_host(args, env)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]


def numbers_for(n: int) -> tuple[list[str], str]:
    """The numbers of a watch list of ``n`` and a line describing the mix."""
    from waypost.sandbox.trackingmore import synthetic_number

    n_tm, n_pp = n * 28 // 100, n * 2 // 100
    n_ils = n - n_tm - n_pp
    numbers = (
        [f"{i // 10**7 % 100:02d}{i // 10**9:02d}S{i % 10**7:07d}" for i in range(n_ils)]
        + [f"trackingmore:sandbox-post:{synthetic_number(i, 'WB')}" for i in range(n_tm)]
        + [f"pandapon:9{i:018d}" for i in range(n_pp)]
    )
    return numbers, f"{n_ils:,} ils, {n_tm:,} trackingmore, {n_pp:,} pandapon orders"


def shown_counts(box: SandboxProcess) -> str:
    """Requests per carrier since the last reset."""
    counts = Counter(e["carrier"] for e in box.log())
    return ", ".join(f"{c} {k:,}" for c, k in sorted(counts.items())) or "none"


@dataclass
class Size:
    """One watch list: its sandbox, environment and (with ``--store``) its database."""

    n: int
    box: SandboxProcess
    env: dict[str, str]
    url: str | None
    walls: dict[int, float] = field(default_factory=dict)


def steps(size: Size, hosts_only: bool) -> None:
    """Save the list through the CLI and time the single-process steps."""
    numbers, mix = numbers_for(size.n)
    box, env = size.box, size.env
    print(f"\nwatch list of {size.n:,} shipments: {mix}")
    print(
        f"{'shipments':>9} {'step':<24}{'wall s':>9}{'cpu s':>8}{'peak MB':>9}{'exit':>6}"
        "  requests per carrier"
    )
    box.call("POST", "/_sandbox/trackingmore/config", {"fetch_delay": 0})
    if size.url:
        # Already in the account: saving reads them (40 a call) instead of creating them one
        # by one at 3/s (15 minutes for 2,800); the watch passes are what is measured here.
        tm_numbers = [n.rsplit(":", 1)[1] for n in numbers if n.startswith("trackingmore:")]
        box.call(
            "POST",
            "/_sandbox/trackingmore/preload",
            {"numbers": tm_numbers, "courier": "sandbox-post"},
        )
    todo = [("track --save -", ["track", "--save", "--jsonl", "-"], "\n".join(numbers))]
    if not hosts_only:
        todo += [
            ("list", ["list"], ""),
            ("list --all --json", ["list", "--all", "--json"], ""),
            ("watch --once", ["watch", "--once"], ""),
            ("watch --once (again)", ["watch", "--once"], ""),
        ]
    for name, argv, stdin in todo:
        box.reset()
        before = os.times()
        wall, rss, code, err = run(argv, env, stdin)
        after = os.times()
        cpu = after.children_user + after.children_system
        cpu -= before.children_user + before.children_system
        print(
            f"{size.n:>9,} {name:<24}{wall:>9.2f}{cpu:>8.1f}{rss:>9.1f}{code:>6}  {shown_counts(box)}",
            flush=True,
        )
        if code not in (0, 1):
            print(err, file=sys.stderr)
        time.sleep(1.1)  # let the rate-limit windows of one step pass before the next


def hosts_run(size: Size, n: int) -> None:
    """`watch --once` on ``n`` hosts at once over the size's PostgreSQL watch list."""
    import psycopg

    assert size.url is not None
    with psycopg.connect(size.url, autocommit=True) as conn:  # a new pass for every run
        conn.execute("UPDATE passes SET started = started - 86400")
    size.box.reset()
    load = os.getloadavg()[0]
    start = time.perf_counter()
    runs = together(["watch", "--once"], size.env, n)
    wall = time.perf_counter() - start
    size.walls[n] = wall
    speedup = size.walls.get(1, wall) / wall
    cpu = sum(h.cpu for h in runs)
    per_host = "  ".join(f"{h.wall:.1f}/{h.peak_mb:.0f}/{h.cpu:.1f}" for h in runs)
    print(
        f"{size.n:>9,}{n:>6}{wall:>9.1f}{speedup:>7.2f}x{cpu:>8.1f}{size.box.rejections():>9}"
        f"{load:>6.1f}  {shown_counts(size.box)}; {per_host}",
        flush=True,
    )
    codes = {h.code for h in runs}
    for h in runs:
        if h.code not in (0, 1):
            print(h.err[-2000:], file=sys.stderr)
    if codes - {0, 1}:
        print(f"exit codes {sorted(codes)}", file=sys.stderr)
    time.sleep(1.1)


@contextlib.contextmanager
def sizes_for(args: argparse.Namespace, database: Callable[[], str] | None) -> Iterator[list[Size]]:
    """A sandbox, a data directory and a database for each size."""
    with contextlib.ExitStack() as stack:
        made = []
        for n in args.shipments:
            box = stack.enter_context(SandboxProcess(latency_ms=args.latency))
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            env = {**os.environ, **box.env}
            env.update(WAYPOST_DATA_DIR=tmp, WAYPOST_CONFIG=str(Path(tmp) / "none.toml"))
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            url = database() if database is not None else None
            if url:
                env["WAYPOST_DATABASE_URL"] = url
            made.append(Size(n, box, env, url))
        yield made


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, nargs="+", default=[10_000])
    parser.add_argument("--latency", type=float, default=80.0)
    parser.add_argument("--store", metavar="URL", help="postgresql://... or throwaway")
    parser.add_argument("--hosts", default="1,2,3", help="host counts for --store, e.g. 1,2,3")
    parser.add_argument(
        "--hosts-only", action="store_true", help="save, then only the runs on several hosts"
    )
    args = parser.parse_args(argv)
    # A stopped bench still stops its sandboxes and its cluster (the ``finally`` blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.store == "throwaway":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests import pg

        with pg.running() as server:
            if server.skip:
                sys.exit(f"no PostgreSQL: {server.skip}")
            bench(args, server.database)
        return
    if args.store and len(args.shipments) > 1:
        sys.exit("several --shipments sizes need --store throwaway (a database for each)")
    url = args.store
    bench(args, (lambda: url) if url else None)


def bench(args: argparse.Namespace, database: Callable[[], str] | None) -> None:
    """The whole benchmark (see the module docstring)."""
    print("watch list in PostgreSQL" if database else "watch list in SQLite")
    print(f"sandbox latency {args.latency:g} ms, documented limits enforced")
    print(f"load average at the start {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    with sizes_for(args, database) as sizes:
        savers = [threading.Thread(target=steps, args=(s, args.hosts_only)) for s in sizes]
        if args.hosts_only:  # the saves of the sizes run side by side, each its own sandbox
            for t in savers:
                t.start()
            for t in savers:
                t.join()
        else:
            for t in savers:
                t.start()
                t.join()
        if database is None:
            return
        hosts = [int(h) for h in args.hosts.split(",")]
        print(f"\nwatch --once on several hosts, one PostgreSQL database per size ({args.hosts})")
        print(
            f"{'shipments':>9}{'hosts':>6}{'wall s':>9}{'speed':>8}{'cpu s':>8}{'rejected':>9}"
            f"{'load':>6}  requests per carrier; per host: wall s / peak MB / cpu s"
        )
        for n in hosts:
            for size in sizes:
                hosts_run(size, n)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
