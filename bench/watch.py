"""`list` and `watch --once` over a large watch list against the sandbox.

Saves N shipments (default 10,000: 70% ILS, 28% TrackingMore, 2% PandaPon orders) with
`waypost track --save -` through the real CLI, then times `waypost list` and `waypost watch
--once` as separate processes and prints for each the wall time, the peak memory (RSS) and the
requests per carrier. The sandbox runs in a process of its own, with the documented limits.

The watch list's own features are on (issue 19): `[watch] stalled_after`, `on` (every status
and the words stalled, eta: all news still counted, through the filter) and
`archive_delivered_after`, so that ETA learning, stalled checks and auto-archive run in the
pass; `list --summary` and `list --stalled` are timed too. Last, `list` over `--list-size`
(1,000) shipments against `python -c "import typer"` (medians of 5 runs each).

    python bench/watch.py [--shipments 10000] [--latency 80] [--list-size 1000] [--no-features]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sandbox import SandboxProcess


def run(args: list[str], env: dict[str, str], stdin: str = "") -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS in MB, exit code, stderr) of one `waypost` process."""
    waypost = str(Path(sys.executable).parent / "waypost")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [waypost, *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stderr is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode, err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=80.0)
    parser.add_argument("--list-size", type=int, default=1000)
    parser.add_argument("--no-features", action="store_true", help="without issue 19's settings")
    args = parser.parse_args()
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
        env.update(WAYPOST_DATA_DIR=tmp, WAYPOST_CONFIG=str(Path(tmp) / "config.toml"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if not args.no_features:
            write_config(Path(env["WAYPOST_CONFIG"]))
        print(
            f"watch list of {n:,} shipments: {n_ils:,} ils, {n_tm:,} trackingmore, {n_pp:,} pandapon orders"
        )
        print(f"sandbox latency {args.latency:g} ms, documented limits enforced")
        print(f"{'step':<24}{'wall s':>9}{'peak MB':>9}{'exit':>6}  requests per carrier")
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
            wall, rss, code, err = run(argv, env, stdin)
            counts = Counter(e["carrier"] for e in box.log())
            shown = ", ".join(f"{c} {k:,}" for c, k in sorted(counts.items())) or "none"
            print(f"{name:<24}{wall:>9.2f}{rss:>9.1f}{code:>6}  {shown}", flush=True)
            if code not in (0, 1):
                print(err, file=sys.stderr)
            time.sleep(1.1)  # let the rate-limit windows of one step pass before the next
        list_against_typer(box, numbers[: args.list_size], args.no_features)


FEATURES = """[watch]
stalled_after = "7d"
archive_delivered_after = "14d"
on = ["pending", "info_received", "in_transit", "out_for_delivery", "available_for_pickup",
      "delivered", "failed_attempt", "exception", "expired", "not_found", "stalled", "eta"]

[carriers.ils]
stalled_after = "21d"
"""


def write_config(path: Path) -> None:
    """The watch list's features on."""
    path.write_text(FEATURES, encoding="utf-8")
    path.chmod(0o600)


def median_wall(argv: list[str], env: dict[str, str], runs: int = 5) -> float:
    """The median wall time of ``runs`` runs of ``argv`` (output discarded)."""
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        walls.append(time.perf_counter() - start)
    return sorted(walls)[len(walls) // 2]


def list_against_typer(box: SandboxProcess, numbers: list[str], no_features: bool) -> None:
    """`waypost list` over ``numbers`` watched shipments against importing typer alone."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **box.env}
        env.update(WAYPOST_DATA_DIR=tmp, WAYPOST_CONFIG=str(Path(tmp) / "config.toml"))
        if not no_features:
            write_config(Path(env["WAYPOST_CONFIG"]))
        box.reset()
        run(["track", "--save", "--jsonl", "-"], env, "\n".join(numbers))
        waypost = str(Path(sys.executable).parent / "waypost")
        typer_s = median_wall([sys.executable, "-c", "import typer"], env)
        list_s = median_wall([waypost, "list"], env)
        print(
            f"list over {len(numbers):,}: {list_s:.3f} s, python -c 'import typer': {typer_s:.3f} s, "
            f"ratio {list_s / typer_s:.2f} (bound 1.5)"
        )


if __name__ == "__main__":
    main()
