"""Every sandbox fault against every carrier, through `track` and `watch --once`, as a table.

For each fault kind and carrier it runs the real CLI (a process per run) against an in-process
sandbox that injects the fault into every request of that carrier, while the other carriers
answer normally, and counts: tracebacks printed, numbers lost (asked but missing from the
output, or watched rows changed or gone for the failing carrier), secrets printed, the exit
codes, and the most attempts any one request got against the attempts allowed (1 + the
configured retries for retryable faults, 1 for answers that are not worth retrying), each as
`track/watch`.

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
from waypost.sandbox.faults import KINDS
from waypost.store import Store

# Faults the HTTP layer retries (5xx, 429 and timeouts); the rest are answers, not outages.
RETRIED = {"500", "502", "503", "429", "slow", "hang"}


def numbers(name: str) -> list[str]:
    return [f"{name}:{c['number']}" for c in carriers.module(name).TEST_CASES if c["found"]]


def waypost(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "waypost", *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )


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
    print(f"faults x carriers, {args.retries} retry allowed per request, --timeout 1")
    print(
        f"{'fault':<10}{'carrier':<14}{'cases':>6}{'exit codes':>12}{'tracebacks':>11}"
        f"{'lost':>6}{'leaked':>8}{'attempts':>10}{'allowed':>9}"
    )
    totals: Counter[str] = Counter()
    for kind in KINDS:
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
                track = waypost(["track", "--jsonl", "--timeout", "1", *asked], env)
                logs = [box.entries(name)]
                box.reset_log()
                watch = waypost(["watch", "--once", "--timeout", "1"], env)
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
            if name == "trackingmore" and kind == "429":
                # A 429 pauses TrackingMore's account: `track` reports it at once, `watch`
                # waits the pause out and asks once more.
                allowed = [1, 2]
            codes = "/".join(str(r.returncode) for r in runs)
            print(
                f"{kind:<10}{name:<14}{len(runs):>6}{codes:>12}{tracebacks:>11}{lost:>6}"
                f"{leaked:>8}{'/'.join(map(str, attempts)):>10}{'/'.join(map(str, allowed)):>9}",
                flush=True,
            )
            totals.update(cases=len(runs), tracebacks=tracebacks, lost=lost, leaked=leaked)
            totals["over"] += sum(a > b for a, b in zip(attempts, allowed, strict=True))
    print(
        f"total: {totals['cases']} runs, {totals['tracebacks']} tracebacks, {totals['lost']} numbers lost, "
        f"{totals['leaked']} secrets leaked, {totals['over']} requests retried more than allowed"
    )


if __name__ == "__main__":
    main()
