"""Every sandbox fault against every carrier, through `track` and `watch --once`, as a table.

For each fault kind and carrier it runs the real CLI (a process per run, `--timeout 1
--deadline 20`) against an in-process sandbox that injects the fault into every request of
that carrier, while the other carriers answer normally, and counts: tracebacks printed, numbers
lost (asked but missing from the output, or watched rows changed or gone for the failing
carrier; for the kinds that only rewrite an answer, rows gone), secrets printed, the exit
codes, the most attempts any one request got against the attempts allowed (1 + the configured
retries for retryable faults, 1 for answers that are not worth retrying), each as
`track/watch`, and the peak memory (RSS) of the larger of the two processes. The hostile kinds
(200 MB body, 1 GB gzip bomb, endless body, deep JSON, HTML with 200, Retry-After of years,
dates out of range, lone surrogates, nulls for lists) follow the everyday ones.

    python bench/reliability.py [--retries 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from waypost import carriers
from waypost.sandbox import Sandbox
from waypost.sandbox.faults import HOSTILE, KINDS, REWRITES
from waypost.store import Store

# Faults the HTTP layer retries (5xx, 429 and timeouts); the rest are answers, not outages.
RETRIED = {"500", "502", "503", "429", "slow", "hang", "endless", "pause"}
# A 200 MB answer may run into --timeout 1 (retried) before its 32 MB are read.
RETRIED |= {"huge", "bomb"}
LIMITS = ["--timeout", "1", "--deadline", "20"]


def numbers(name: str) -> list[str]:
    return [f"{name}:{c['number']}" for c in carriers.module(name).TEST_CASES if c["found"]]


# Runs waypost and writes its VmHWM (peak RSS since exec, kB) at exit: wait4's ru_maxrss would
# carry this benchmark's own peak (it holds the sandbox) across fork and exec into the child.
MEASURED = """
import atexit, os, runpy, sys
def _hwm():
    with open("/proc/self/status") as status, open(os.environ["HWM_FILE"], "w") as out:
        out.write(next(l.split()[1] for l in status if l.startswith("VmHWM:")))
atexit.register(_hwm)
sys.argv[0] = "waypost"
runpy.run_module("waypost", run_name="__main__", alter_sys=True)
"""


def waypost(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run waypost; ``.peak_mb`` is the process's own peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        hwm = Path(tmp) / "hwm"
        done = subprocess.run(
            [sys.executable, "-c", MEASURED, *args],
            env={**env, "HWM_FILE": str(hwm)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        done.peak_mb = int(hwm.read_text()) / 1024 if hwm.exists() else 0.0  # type: ignore[attr-defined]
    return done


def rows(data: Path) -> dict[tuple[str, str], tuple[object, ...]]:
    with Store.open(data) as store:
        return {
            (r.carrier, r.number): (r.status, r.last_checked, r.last_event) for r in store.watched()
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retries", type=int, default=1)
    args = parser.parse_args()
    names = carriers.names()
    print(f"faults x carriers, {args.retries} retry allowed per request, {' '.join(LIMITS)}")
    print(
        f"{'fault':<10}{'carrier':<14}{'cases':>6}{'exit codes':>12}{'tracebacks':>11}"
        f"{'lost':>6}{'leaked':>8}{'attempts':>10}{'allowed':>9}{'peak MB':>9}"
    )
    totals: Counter[str] = Counter()
    peak = 0.0
    for kind in (*KINDS, *HOSTILE):
        for name in names:
            box = Sandbox(port=0).start()
            tm = box.apps.get("trackingmore")
            if tm is not None:
                tm.get_rate = tm.realtime_rate = tm.default_rate = 50.0
            secrets = [
                v
                for k, v in box.env().items()
                if any(k == s.env_var(n) for n in names for s in carriers.info(n).secrets)
            ]
            with tempfile.TemporaryDirectory() as tmp:
                env = {**os.environ, **box.env()}
                env.update(
                    WAYPOST_DATA_DIR=tmp,
                    WAYPOST_CONFIG=str(Path(tmp) / "none.toml"),
                    WAYPOST_HTTP_RETRIES=str(args.retries),
                    WAYPOST_HTTP_BACKOFF="0.01",
                    WAYPOST_TRACKINGMORE_GET_RATE="50",
                    WAYPOST_TRACKINGMORE_REALTIME_RATE="50",
                    WAYPOST_TRACKINGMORE_DEFAULT_RATE="50",
                )
                asked = [n for c in names for n in numbers(c)]
                saved = waypost(["track", "--save", *asked], env)
                before = rows(Path(tmp))
                box.reset_log()
                box.inject(f"{kind}@{name}")
                track = waypost(["track", "--jsonl", *LIMITS, *asked], env)
                logs = [box.entries(name)]
                box.reset_log()
                watch = waypost(["watch", "--once", *LIMITS], env)
                logs.append(box.entries(name))
                after = rows(Path(tmp))
            box.stop()
            runs = [track, watch]
            answered = {json.loads(line)["tracking_number"] for line in track.stdout.splitlines()}
            answered |= {
                json.loads(line)["order_id"]
                for line in track.stdout.splitlines()
                if json.loads(line)["order_id"]
            }
            lost = sum(1 for n in asked if n.split(":")[-1] not in answered)
            if kind not in REWRITES:  # rewritten answers are answers: their rows move on
                lost += sum(
                    1 for key, state in before.items() if key[0] == name and after.get(key) != state
                )
            lost += sum(1 for key in before if key not in after)
            tracebacks = sum(r.stderr.count("Traceback") for r in [saved, *runs])
            leaked = sum(1 for r in runs for s in secrets if s in r.stdout + r.stderr)
            attempts = [
                max(Counter(e.digest for e in log if e.fault).values(), default=0) for log in logs
            ]
            allowed = [1 + args.retries if kind in RETRIED else 1] * 2
            if name == "trackingmore" and kind in ("429", "pause"):
                # A 429 pauses TrackingMore's account: `track` reports it at once, `watch`
                # waits the pause out and asks once more.
                allowed = [1, 2]
            codes = "/".join(str(r.returncode) for r in runs)
            mb = max(r.peak_mb for r in runs)  # type: ignore[attr-defined]
            peak = max(peak, mb)
            print(
                f"{kind:<10}{name:<14}{len(runs):>6}{codes:>12}{tracebacks:>11}{lost:>6}"
                f"{leaked:>8}{'/'.join(map(str, attempts)):>10}{'/'.join(map(str, allowed)):>9}"
                f"{mb:>9.0f}",
                flush=True,
            )
            totals.update(cases=len(runs), tracebacks=tracebacks, lost=lost, leaked=leaked)
            totals["over"] += sum(a > b for a, b in zip(attempts, allowed, strict=True))
    print(
        f"total: {totals['cases']} runs, {totals['tracebacks']} tracebacks, {totals['lost']} numbers lost, "
        f"{totals['leaked']} secrets leaked, {totals['over']} requests retried more than allowed, "
        f"peak memory {peak:.0f} MB"
    )


if __name__ == "__main__":
    main()
