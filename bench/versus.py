"""waypost against a hand-written script (`bench/handwritten.py`), whole processes, side by side.

For each scenario both programs get the same numbers on stdin and print the same fields as one
JSON document (`waypost track --json -` against `python bench/handwritten.py CARRIER`). Runs are
interleaved (the order alternates every round, so a busy machine slows both alike) and the median
wall time of each is shown with their ratio (target: waypost <= 0.9x the script).

* ILS, N = 1,000: numbers the sandbox already knows (its synthetic shipments are made on the
  first ask, ~8 ms of the sandbox's CPU per 100; every number is asked once before timing).
* TrackingMore v4 (waypost's default API), N = 300: numbers already in the account (preloaded),
  read 40 per call at the documented 10 calls/s. The rate-limit windows are reset and left to
  pass between runs.
* The same over https (TrackingMore's real API is https only): a sandbox of its own serving TLS
  with a throwaway CA's certificate (`bench/_tls_sandbox.py`), which both programs trust through
  `SSL_CERT_FILE` (waypost's context and httpx's default one both read it).

Beside the wall time, the user + system CPU time of each child (``os.wait4``) is shown: it is
what a loaded machine disturbs least.

Before timing, the waypost package and the environment's site-packages are compiled to `.pyc`
(as an installed user has them) and `PYTHONDONTWRITEBYTECODE` is removed from the children's
environment (with it set, an editable install recompiles waypost on every run).

    python bench/versus.py [--runs 7] [--latency 80] [--only ils,trackingmore,https]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sandbox import SandboxProcess
from _tls_sandbox import TLSSandboxProcess

HERE = Path(__file__).resolve().parent
TARGET = 0.9


def compile_pyc() -> str:
    """Compile waypost and site-packages to `.pyc`; a line saying what was done."""
    import waypost

    package = Path(waypost.__file__).parent
    quiet = {"quiet": 1, "workers": 0}
    compileall.compile_dir(str(package), **quiet)
    compileall.compile_dir(sysconfig.get_paths()["purelib"], **quiet)
    was = "was set, removed" if "PYTHONDONTWRITEBYTECODE" in os.environ else "not set"
    return f".pyc compiled first ({package}, site-packages); PYTHONDONTWRITEBYTECODE {was}"


def child_env(box: SandboxProcess | TLSSandboxProcess, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(box.env)
    env["WAYPOST_DATA_DIR"] = str(tmp)
    env["WAYPOST_CONFIG"] = str(tmp / "none.toml")
    return env


def ils_numbers(n: int) -> list[str]:
    return [f"77{i // 10**7 % 100:02d}S{i % 10**7:07d}" for i in range(n)]


def tm_numbers(n: int) -> list[str]:
    from waypost.sandbox.trackingmore import synthetic_number

    return [f"trackingmore:sandbox-post:{synthetic_number(50_000 + i, 'VS')}" for i in range(n)]


def timed(cmd: list[str], stdin: Path, out: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, user + system CPU seconds) of one process."""
    with stdin.open("rb") as src, out.open("wb") as dst, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=src, stdout=dst, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            raise SystemExit(f"{cmd[:3]} exited {code}: {err.read().decode()[-500:]}")
    return elapsed, usage.ru_utime + usage.ru_stime


def summary(path: Path) -> dict[str, tuple[str, int]]:
    """Number -> (status, event count): what both programs must agree on."""
    document = json.loads(path.read_text())
    return {s["tracking_number"]: (s["status"], len(s["events"])) for s in document["shipments"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--latency", type=float, default=80.0, help="ms added to every answer")
    parser.add_argument("--ils", type=int, default=1000)
    parser.add_argument("--tm", type=int, default=300)
    parser.add_argument("--only", default="ils,trackingmore,https")
    args = parser.parse_args()
    note = compile_pyc()
    waypost = [str(Path(sys.executable).parent / "waypost"), "track", "--json", "-"]
    script = [sys.executable, str(HERE / "handwritten.py")]
    only = args.only.split(",")
    with (
        SandboxProcess(latency_ms=args.latency) as box,
        TLSSandboxProcess(latency_ms=args.latency) if "https" in only else nullcontext() as tls,
        tempfile.TemporaryDirectory() as t,
    ):
        tmp = Path(t)
        scenarios: list[tuple[str, str, list[str], bool, Any]] = []
        if "ils" in only:
            numbers = ils_numbers(args.ils)
            box.prewarm_ils(numbers)
            scenarios.append(("ils (known to the sandbox)", "ils", numbers, False, box))
        for server, name, wanted in (
            (box, "trackingmore v4 (in account)", "trackingmore" in only),
            (tls, "trackingmore v4 https", tls is not None),
        ):
            if not wanted:
                continue
            numbers = tm_numbers(args.tm)
            bare = [n.rsplit(":", 1)[-1] for n in numbers]
            server.call("POST", "/_sandbox/trackingmore/preload", {"numbers": bare})
            scenarios.append((name, "trackingmore", numbers, True, server))
        print(f"waypost vs hand-written script: whole processes, medians of {args.runs}")
        print(f"interleaved runs, sandbox latency {args.latency:g} ms; {note}")
        print(f"load average at the start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
        print(
            f"{'scenario':<30}{'N':>6}{'waypost s':>11}{'script s':>10}{'ratio':>8}"
            f"{'cpu w ms':>10}{'cpu s ms':>10}{'ratio':>8}"
            f"{'target':>8}  verdict  (429s waypost/script, same answers)"
        )
        for i, (name, carrier, numbers, limited, server) in enumerate(scenarios):
            (tmp / str(i)).mkdir()
            env = child_env(server, tmp / str(i))  # a store of its own
            stdin = tmp / f"{carrier}.txt"
            stdin.write_text("\n".join(numbers) + "\n")
            tools = {"waypost": waypost, "script": [*script, carrier]}
            times: dict[str, list[float]] = {k: [] for k in tools}
            cpu: dict[str, list[float]] = {k: [] for k in tools}
            rejected = dict.fromkeys(tools, 0)
            for run in range(args.runs + 1):  # run 0 warms the file cache; not counted
                order = list(tools) if run % 2 else list(reversed(tools))
                for tool in order:
                    if limited:
                        time.sleep(1.1)  # let the last run's 1-second windows pass
                    server.reset()
                    wall, used = timed(tools[tool], stdin, tmp / f"{tool}.json", env)
                    if run:
                        times[tool].append(wall)
                        cpu[tool].append(used)
                        rejected[tool] += server.rejections()
            same = summary(tmp / "waypost.json") == summary(tmp / "script.json")
            ours, theirs = (statistics.median(times[k]) for k in tools)
            ratio = ours / theirs
            our_cpu, their_cpu = (statistics.median(cpu[k]) for k in tools)
            verdict = "ok" if ratio <= TARGET else "OVER"
            print(
                f"{name:<30}{len(numbers):>6}{ours:>11.3f}{theirs:>10.3f}{ratio:>7.2f}x"
                f"{our_cpu * 1000:>10.0f}{their_cpu * 1000:>10.0f}{our_cpu / their_cpu:>7.2f}x"
                f"{TARGET:>7.1f}x  {verdict:<7}  ({rejected['waypost']}/{rejected['script']}, "
                f"{'yes' if same else 'NO'})",
                flush=True,
            )


if __name__ == "__main__":
    main()
