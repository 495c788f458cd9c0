"""`watch --once` over one PostgreSQL watch list on 1, 2 and 3 hosts at once (issue 22).

Saves N shipments (default 10,000: 70% ILS, 28% TrackingMore, 2% PandaPon orders) with
`waypost track --save -` through the real CLI, then times `waypost list` and `waypost watch
--once` as separate processes and prints for each the wall time, the peak memory (RSS) and the
requests per carrier. The sandbox runs in a process of its own, with the documented limits.

`--store URL` keeps the watch list in PostgreSQL (`throwaway`: a cluster of its own, as the
tests start one) and then runs `watch --once` on 1, 2 and 3 hosts at once (`--hosts`), each
run a new pass: wall time of the slowest host, requests per carrier, rate-limit rejections at
the sandbox, and each host's wall time and peak memory.

    python bench/watch_hosts.py [--shipments 10000] [--latency 80] [--store URL|throwaway] [--hosts 1,2,3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sandbox import SandboxProcess, run


def together(args: list[str], env: dict[str, str], n: int) -> list[tuple[float, float, int, str]]:
    """``n`` `waypost` processes started at once: (wall s, peak MB, exit code, stderr) each."""
    import threading

    results: list[tuple[float, float, int, str]] = [(0.0, 0.0, 0, "")] * n

    def one(i: int) -> None:
        results[i] = run(args, env)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def hosts_table(box: SandboxProcess, env: dict[str, str], url: str, counts: list[int]) -> None:
    """`watch --once` on 1, 2, 3... hosts at once over one PostgreSQL watch list."""
    import psycopg

    print(f"\nwatch --once on several hosts, one PostgreSQL database ({len(counts)} runs)")
    print(
        f"{'hosts':<6}{'wall s':>8}{'rejected':>10}  requests per carrier; per host: wall s / peak MB"
    )
    for n in counts:
        with psycopg.connect(url, autocommit=True) as conn:  # a new pass for every run
            conn.execute("UPDATE passes SET started = started - 86400")
        box.reset()
        start = time.perf_counter()
        runs = together(["watch", "--once"], env, n)
        wall = time.perf_counter() - start
        counts_by = Counter(e["carrier"] for e in box.log())
        shown = ", ".join(f"{c} {k:,}" for c, k in sorted(counts_by.items())) or "none"
        per_host = "  ".join(f"{w:.1f}/{m:.0f}" for w, m, _, _ in runs)
        codes = {c for _, _, c, _ in runs}
        print(f"{n:<6}{wall:>8.2f}{box.rejections():>10}  {shown}; {per_host}", flush=True)
        for _, _, code, err in runs:
            if code not in (0, 1):
                print(err, file=sys.stderr)
        if codes - {0, 1}:
            print(f"exit codes {sorted(codes)}", file=sys.stderr)
        time.sleep(1.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=80.0)
    parser.add_argument("--store", metavar="URL", help="postgresql://... or throwaway")
    parser.add_argument("--hosts", default="1,2,3", help="host counts for --store, e.g. 1,2,3")
    args = parser.parse_args()
    if args.store == "throwaway":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests import pg

        with pg.running() as server:
            if server.skip:
                sys.exit(f"no PostgreSQL: {server.skip}")
            args.store = server.database()
            bench(args)
        return
    bench(args)


def bench(args: argparse.Namespace) -> None:
    """The whole benchmark (see the module docstring)."""
    from waypost.sandbox.trackingmore import synthetic_number

    n = args.shipments
    n_tm, n_pp = n * 28 // 100, n * 2 // 100
    n_ils = n - n_tm - n_pp
    numbers = (
        [f"{i // 10**7 % 100:02d}{i // 10**9:02d}S{i % 10**7:07d}" for i in range(n_ils)]
        + [f"trackingmore:sandbox-post:{synthetic_number(i, 'WB')}" for i in range(n_tm)]
        + [f"pandapon:9{i:018d}" for i in range(n_pp)]
    )
    with SandboxProcess(latency_ms=args.latency) as box, tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **box.env}
        env.update(WAYPOST_DATA_DIR=tmp, WAYPOST_CONFIG=str(Path(tmp) / "none.toml"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if args.store:
            env["WAYPOST_DATABASE_URL"] = args.store
            print("watch list in PostgreSQL")
        print(
            f"watch list of {n:,} shipments: {n_ils:,} ils, {n_tm:,} trackingmore, {n_pp:,} pandapon orders"
        )
        print(f"sandbox latency {args.latency:g} ms, documented limits enforced")
        print(f"{'step':<24}{'wall s':>9}{'peak MB':>9}{'exit':>6}  requests per carrier")
        box.call("POST", "/_sandbox/trackingmore/config", {"fetch_delay": 0})
        if args.store:
            # Already in the account: saving reads them (40 a call) instead of creating them one
            # by one at 3/s (15 minutes for 2,800); the watch passes are what is measured here.
            tm_numbers = [n.rsplit(":", 1)[1] for n in numbers if n.startswith("trackingmore:")]
            box.call(
                "POST",
                "/_sandbox/trackingmore/preload",
                {"numbers": tm_numbers, "courier": "sandbox-post"},
            )
        steps = [
            ("track --save -", ["track", "--save", "--jsonl", "-"], "\n".join(numbers)),
            ("list", ["list"], ""),
            ("list --all --json", ["list", "--all", "--json"], ""),
            ("watch --once", ["watch", "--once"], ""),
            ("watch --once (again)", ["watch", "--once"], ""),
        ]
        for name, argv, stdin in steps:
            box.reset()
            wall, rss, code, err = run(argv, env, stdin)
            counts = Counter(e["carrier"] for e in box.log())
            shown = ", ".join(f"{c} {k:,}" for c, k in sorted(counts.items())) or "none"
            print(f"{name:<24}{wall:>9.2f}{rss:>9.1f}{code:>6}  {shown}", flush=True)
            if code not in (0, 1):
                print(err, file=sys.stderr)
            time.sleep(1.1)  # let the rate-limit windows of one step pass before the next
        if args.store:
            hosts_table(box, env, args.store, [int(h) for h in args.hosts.split(",")])


if __name__ == "__main__":
    main()
