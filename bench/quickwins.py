"""The start-up and exit quick wins of issue 20, before against after in one interleaved run.

"before" runs the same installed code with both quick wins undone in the child (httpx's
command-line module allowed again, no heap freeze at exit); "after" is `python -m waypost` as
shipped. Each command runs N times per variant, interleaved, `.pyc` compiled first and
`PYTHONDONTWRITEBYTECODE` removed; medians in ms and the saving.

    python bench/quickwins.py [--runs 11]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sandbox import SandboxProcess
from startup import compile_pyc, fill

# The child of "before": drop waypost's placeholder before httpx is imported, run the CLI and
# exit without freezing the heap.
BEFORE = (
    "import sys, waypost; sys.modules.pop('httpx._main', None); "
    "from waypost.cli import main; sys.argv[0] = 'waypost'; sys.exit(main())"
)
ILS_BATCH = "\n".join(f"66{i // 10**7 % 100:02d}S{i % 10**7:07d}" for i in range(1000)) + "\n"


def run(cmd: list[str], env: dict[str, str], stdin: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        cmd, env=env, input=stdin.encode(), stdout=subprocess.DEVNULL, check=True, timeout=120
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    note = compile_pyc()
    py = sys.executable
    commands = {
        "track (1 ILS)": (["track", "3676E4043665"], ""),
        "track --json (1,000 ILS)": (["track", "--json", "-"], ILS_BATCH),
        "list (1,000)": (["list"], ""),
        "config show": (["config", "show"], ""),
        "carriers": (["carriers"], ""),
    }
    with tempfile.TemporaryDirectory() as tmp, SandboxProcess(latency_ms=80) as box:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(box.env)
        env["WAYPOST_DATA_DIR"] = tmp
        env["WAYPOST_CONFIG"] = str(Path(tmp) / "none.toml")
        fill(Path(tmp), 1000)
        box.prewarm_ils(ILS_BATCH.split())
        times: dict[tuple[str, str], list[float]] = {}
        for i in range(args.runs + 1):  # round 0 warms the caches; not counted
            for name, (argv, stdin) in commands.items():
                variants = {
                    "before": [py, "-c", BEFORE, *argv],
                    "after": [py, "-m", "waypost", *argv],
                }
                for variant in variants if i % 2 else reversed(variants):
                    wall = run(variants[variant], env, stdin)
                    if i:
                        times.setdefault((name, variant), []).append(wall)
    print(f"quick wins, before vs after, median of {args.runs} interleaved runs; {note}")
    print(f"load average at the end {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    print(f"{'command':<26}{'before ms':>10}{'after ms':>10}{'saved ms':>10}{'after/before':>14}")
    for name in commands:
        before = statistics.median(times[(name, "before")])
        after = statistics.median(times[(name, "after")])
        print(
            f"{name:<26}{before * 1000:>10.1f}{after * 1000:>10.1f}{(before - after) * 1000:>10.1f}"
            f"{after / before:>13.2f}x"
        )


if __name__ == "__main__":
    main()
