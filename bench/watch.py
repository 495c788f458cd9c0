"""`list` and `watch --once` over a large watch list against the sandbox.

Saves N shipments (default 10,000: 70% ILS, 28% TrackingMore, 2% PandaPon orders; `--only
ils` or `--only trackingmore` for one carrier) with `waypost track --save -` through the real
CLI, then times `waypost list` and `waypost watch --once` as separate processes and prints for
each the wall time, the peak memory (RSS) and the requests per carrier. Several sizes run one
after the other (`--shipments 10000 100000`); the closing table puts the peaks side by side
(issue 20: `track --save` and `watch --once` peak under 200 MB at 100,000). The sandbox runs in
a process of its own, with the documented limits. `--orders N` (or `--only-import`, alone)
times `waypost import pandapon` of N listed orders instead (all shipped: one order-list page per
50 orders plus one logistics call per order), against PandaPon's configured rate.

The watch list's own features are on (issue 19) unless `--no-features`: `[watch] stalled_after`,
`on` (every status and the words stalled, eta, so all news is still counted, through the filter)
and `archive_delivered_after`, so ETA learning, stalled checks and auto-archive run in the pass;
`list --summary` and `list --stalled` are timed too. `list` over 1,000 against `python -c
"import typer"` is a row of `bench/startup.py`.

`--api v2` puts TrackingMore on API v2 (default v4). `--tm-rate R` raises TrackingMore's limits
to R requests/s in the sandbox and in waypost's configuration alike (a memory measurement of
100,000 shipments at v2's 1 read/s would take hours; the requests in flight, and so memory, are
bounded by the connection limit, not the rate). Every row prints the process's CPU time (user +
sys, robust to the machine's load) and the sandbox's rate-limit rejections.

    python bench/watch.py [--shipments 10000 100000] [--only ils] [--latency 80] [--no-features]
    python bench/watch.py --only trackingmore --api v2 --tm-rate 100 --shipments 100000
    python bench/watch.py --only-import [--orders 1000]
    python bench/watch.py --store URL|throwaway [--shipments 100000] [--hosts 1,2,3]

`--store` runs `bench/watch_hosts.py` (the list in PostgreSQL, `watch --once` on several hosts).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sandbox import SandboxProcess, run


def numbers_for(n: int, only: str | None) -> tuple[list[str], str]:
    """The numbers of a watch list of ``n`` and a line describing the mix."""
    from waypost.sandbox.trackingmore import synthetic_number

    if only == "ils":
        n_tm, n_pp = 0, 0
    elif only == "trackingmore":
        n_tm, n_pp = n, 0
    else:
        n_tm, n_pp = n * 28 // 100, n * 2 // 100
    n_ils = n - n_tm - n_pp
    numbers = (
        [f"{i // 10**7 % 100:02d}{i // 10**9:02d}S{i % 10**7:07d}" for i in range(n_ils)]
        + [f"trackingmore:sandbox-post:{synthetic_number(i, 'WB')}" for i in range(n_tm)]
        + [f"pandapon:9{i:018d}" for i in range(n_pp)]
    )
    return numbers, f"{n_ils:,} ils, {n_tm:,} trackingmore, {n_pp:,} pandapon orders"


FEATURES = """[watch]
stalled_after = "7d"
archive_delivered_after = "14d"
on = ["pending", "info_received", "in_transit", "out_for_delivery", "available_for_pickup",
      "delivered", "failed_attempt", "exception", "expired", "not_found", "stalled", "eta"]

[carriers.ils]
stalled_after = "21d"
"""

TM_RATES = """
[carriers.trackingmore]
get_rate = {rate}
realtime_rate = {rate}
default_rate = {rate}
"""


def cpu_of_children() -> float:
    """User + system seconds of the waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_size(
    n: int,
    only: str | None,
    latency: float,
    features: bool,
    api: str = "v4",
    tm_rate: float | None = None,
) -> dict[str, tuple[float, float]]:
    """Run the steps over a watch list of ``n``; (wall, peak MB) per step."""
    numbers, mix = numbers_for(n, only)
    peaks: dict[str, tuple[float, float]] = {}
    with SandboxProcess(latency_ms=latency) as box, tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **box.env}
        env.update(WAYPOST_DATA_DIR=tmp, WAYPOST_CONFIG=str(Path(tmp) / "config.toml"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        base = env["WAYPOST_TRACKINGMORE_BASE_URL"].rsplit("/", 1)[0]
        env.update(WAYPOST_TRACKINGMORE_API=api, WAYPOST_TRACKINGMORE_BASE_URL=f"{base}/{api}")
        text = FEATURES if features else ""
        limits = "documented limits enforced"
        if tm_rate:
            text += TM_RATES.format(rate=tm_rate)
            keys = ("get_rate", "realtime_rate", "default_rate", "v4_rate", "v4_create_rate")
            box.call("POST", "/_sandbox/trackingmore/config", dict.fromkeys(keys, tm_rate))
            limits = f"TrackingMore's limits raised to {tm_rate:g}/s (sandbox and waypost)"
        if text:
            config = Path(env["WAYPOST_CONFIG"])
            config.write_text(text, encoding="utf-8")
            config.chmod(0o600)
        print(f"watch list of {n:,} shipments: {mix}; TrackingMore API {api}")
        shown = "on (stalled_after, eta, on, archive_delivered_after)" if features else "off"
        print(f"watch list features {shown}")
        print(f"sandbox latency {latency:g} ms, {limits}")
        print(
            f"{'step':<24}{'wall s':>9}{'cpu s':>8}{'peak MB':>9}{'exit':>6}{'429s':>6}"
            "  requests per carrier"
        )
        box.call("POST", "/_sandbox/trackingmore/config", {"fetch_delay": 0})
        steps = [
            ("track --save -", ["track", "--save", "--jsonl", "-"], "\n".join(numbers)),
            ("list", ["list"], ""),
            ("list --all --json", ["list", "--all", "--json"], ""),
            ("list --summary", ["list", "--summary"], ""),
            ("list --stalled", ["list", "--stalled"], ""),
            ("watch --once", ["watch", "--once"], ""),
            ("watch --once (again)", ["watch", "--once"], ""),
        ]
        for name, argv, stdin in steps:
            box.reset()
            before = cpu_of_children()
            wall, rss, code, err = run(argv, env, stdin)
            cpu = cpu_of_children() - before
            peaks[name] = (wall, rss)
            counts = Counter(e["carrier"] for e in box.log())
            shown = ", ".join(f"{c} {k:,}" for c, k in sorted(counts.items())) or "none"
            rejected = box.rejections()
            print(
                f"{name:<24}{wall:>9.2f}{cpu:>8.2f}{rss:>9.1f}{code:>6}{rejected:>6}  {shown}",
                flush=True,
            )
            if code not in (0, 1):
                print(err, file=sys.stderr)
            time.sleep(1.1)  # let the rate-limit windows of one step pass before the next
    print()
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, nargs="+", default=[10_000])
    parser.add_argument("--only", choices=["ils", "trackingmore"], default=None)
    parser.add_argument("--latency", type=float, default=80.0)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--only-import", action="store_true")
    parser.add_argument("--no-features", action="store_true", help="without issue 19's settings")
    parser.add_argument("--api", choices=["v4", "v2"], default="v4", help="TrackingMore's API")
    parser.add_argument(
        "--tm-rate", type=float, default=None, help="raise TrackingMore's limits (memory runs)"
    )
    parser.add_argument(
        "--store", metavar="URL", help="postgresql://... or throwaway: bench/watch_hosts.py"
    )
    parser.add_argument("--hosts", default="1,2,3", help="host counts for --store")
    args = parser.parse_args()
    if args.store:  # the benchmark of several hosts on one PostgreSQL watch list
        if args.only or args.only_import:
            parser.error("--store runs the mixed list; it takes no --only/--only-import")
        from watch_hosts import main as hosts

        sizes = [str(n) for n in args.shipments]
        hosts(
            [
                *("--store", args.store, "--shipments", *sizes),
                *("--latency", str(args.latency), "--hosts", args.hosts),
            ]
        )
        return
    if args.only_import:
        bench_import(args.orders, args.latency)
        return
    results = {
        n: one_size(
            n, args.only, args.latency, not args.no_features, api=args.api, tm_rate=args.tm_rate
        )
        for n in args.shipments
    }
    shown = ("track --save -", "watch --once", "watch --once (again)")
    print(
        f"peak RSS in MB ({args.only or 'mixed'}, TrackingMore {args.api}; "
        "target under 200 MB at 100,000)"
    )
    print(f"{'shipments':>10}" + "".join(f"{name:>22}" for name in shown))
    for n, peaks in results.items():
        print(f"{n:>10,}" + "".join(f"{peaks[name][1]:>22.1f}" for name in shown))


def bench_import(orders: int, latency: float) -> None:
    """`waypost import pandapon` of ``orders`` listed (shipped) 1688 orders into an empty list."""
    from waypost.carriers import pandapon
    from waypost.carriers.pandapon import orders as pandapon_orders

    rate = pandapon.DEFAULT_RATE
    with SandboxProcess(latency_ms=latency) as box, tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **box.env}
        env.update(WAYPOST_DATA_DIR=tmp, WAYPOST_CONFIG=str(Path(tmp) / "none.toml"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        box.call("POST", "/_sandbox/pandapon/config", {"orders": orders})
        print(
            f"\nimport pandapon: {orders:,} listed orders (+7 demo), sandbox latency {latency:g} ms"
        )
        print(
            f"{'step':<28}{'wall s':>9}{'peak MB':>9}{'exit':>6}{'pages':>7}{'logistics':>11}{'429s':>6}{'floor s':>9}"
        )
        for name in ("import (empty list)", "import again (all watched)"):
            box.reset()
            wall, rss, code, err = run(["import", "pandapon", "--platform", "1688"], env)
            entries = box.log()
            pages = sum(pandapon_orders.PATH_ORDERS_1688 in e["path"] for e in entries)
            logistics = sum("logistics" in e["path"] for e in entries)
            floor = max(0.0, (pages + logistics - 1) / rate)  # first request is free
            print(
                f"{name:<28}{wall:>9.2f}{rss:>9.1f}{code:>6}{pages:>7}{logistics:>11}"
                f"{box.rejections():>6}{floor:>9.1f}",
                flush=True,
            )
            if code not in (0, 1):
                print(err, file=sys.stderr)
            time.sleep(1.1)
        print(f"floor: (requests - 1) / {rate:g} per second, PandaPon's configured rate")


if __name__ == "__main__":
    main()
