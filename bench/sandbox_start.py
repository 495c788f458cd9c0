"""Start-up cost of the sandbox: a whole process importing it and starting/stopping one server,
and, in process, building one ``Sandbox`` (every app with its demo world), as the ``sandbox``
test fixture does.

Interleaved with the same from another checkout (``--against OTHER/src``, rows marked ``*``),
medians of ``--runs``; wall time beside child CPU time (user + system, robust to load).

    python bench/sandbox_start.py [--runs 15] [--against OTHER/src]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROCESS = "from waypost.sandbox import Sandbox; Sandbox().start().stop()"
IN_PROCESS = """
import time
from waypost.sandbox import Sandbox
Sandbox()
t, c = time.perf_counter(), time.process_time()
for _ in range({n}):
    Sandbox()
print((time.perf_counter() - t) / {n}, (time.process_time() - c) / {n})
"""


def _child(src: Path | None, code: str) -> tuple[float, float, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"child failed: {code!r}")
    return wall, usage.ru_utime + usage.ru_stime, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--against", type=Path)
    args = parser.parse_args()
    sides: dict[str, Path | None] = {"this": None}
    if args.against:
        sides["*"] = args.against.resolve()
    rows: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.runs):
        for mark, src in sides.items():
            wall, cpu, _ = _child(src, PROCESS)
            rows.setdefault(f"import+start+stop {mark}", []).append((wall, cpu))
            _, _, out = _child(src, IN_PROCESS.format(n=20))
            per_wall, per_cpu = map(float, out.split())
            rows.setdefault(f"Sandbox() {mark}", []).append((per_wall, per_cpu))
    print(
        f"sandbox start-up, median of {args.runs} interleaved runs; load {os.getloadavg()[0]:.1f}"
    )
    if args.against:
        print(f"*: {sides['*']} (PYTHONPATH)")
    print(f"{'what':<26}{'wall ms':>10}{'cpu ms':>10}")
    for name, values in sorted(rows.items()):
        wall = statistics.median(v[0] for v in values) * 1000
        cpu = statistics.median(v[1] for v in values) * 1000
        print(f"{name:<26}{wall:>10.2f}{cpu:>10.2f}")


if __name__ == "__main__":
    main()
