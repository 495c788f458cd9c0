"""Start-up time of the CLI against `python -c "import typer"`, measured in the same run.

Runs each command N times, interleaved (so a busy machine slows every command alike), and
prints the median wall time and its ratio to the baseline. `waypost list` reads a watch list
of 1,000 shipments made for the run; `waypost track` asks the sandbox (in its own process, no
added latency) for one ILS number it already knows. Targets (issue 20): track <= 2.0x;
--help, --version, list, config show and carriers <= 1.3x.

Before timing, waypost and site-packages are compiled to `.pyc` (as an installed user has them)
and `PYTHONDONTWRITEBYTECODE` is removed from the children's environment: with it set, an
editable install recompiles waypost on every run and every ratio looks 0.1-0.5 worse.

    python bench/startup.py [--runs 20] [--against OTHER/src]

``--against`` times another checkout's ``src`` too (run with ``PYTHONPATH``), interleaved with
this one, for before/after tables; its rows are marked ``*``. Each checkout reads a watch list
of its own, filled by its own code (so a newer schema step never meets an older waypost). ``config path`` is the floor:
the CLI with nothing to do.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sandbox import SandboxProcess

TARGETS = {
    "track (1 ILS)": 2.0,
    "--help": 1.3,
    "--version": 1.3,
    "list": 1.3,
    "config show": 1.3,
    "carriers": 1.3,
}
ILS_NUMBER = "3676E4043665"  # one of the sandbox's own demo shipments
AGAINST = "--against"  # marks a command run from the other checkout
FILL = "--fill-only"  # fill a data directory and stop (run by the other checkout's code)


def compile_pyc(*others: Path) -> str:
    """Compile waypost (and ``others``) and site-packages to `.pyc`; what was done, in words."""
    import waypost

    package = Path(waypost.__file__).parent
    for tree in (package, *others):
        compileall.compile_dir(str(tree), quiet=1, workers=0)
    compileall.compile_dir(sysconfig.get_paths()["purelib"], quiet=1, workers=0)
    was = "was set, removed" if "PYTHONDONTWRITEBYTECODE" in os.environ else "not set"
    return f".pyc compiled first; PYTHONDONTWRITEBYTECODE {was}"


def fill(data_dir: Path, count: int) -> None:
    """A watch list of ``count`` shipments with three events each."""
    from waypost.carriers.base import Query
    from waypost.models import Event, Shipment, Status
    from waypost.store import Store

    base = datetime(2026, 11, 1, 12, 0)
    statuses = [Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY, Status.EXCEPTION, Status.DELIVERED]
    shipments = [
        Shipment(
            tracking_number=f"{i:04d}S{i:07d}",
            carrier="ils",
            found=True,
            status=statuses[i % len(statuses)],
            status_text="Vessel departed transhipment port Singapore",
            events=[
                Event(time=base - timedelta(hours=h), location="Singapore", description=f"Step {h}")
                for h in range(3)
            ],
        )
        for i in range(count)
    ]
    with Store.open(data_dir) as store:
        for s in shipments:
            store.add([s], Query(s.tracking_number, "ils"), "bench")


def fill_other(src: Path, data_dir: Path, count: int) -> None:
    """``fill`` run by the checkout of ``src``, so that its store has that checkout's schema."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run(
        [sys.executable, __file__, FILL, str(data_dir), "--rows", str(count)], env=env, check=True
    )


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, user + system CPU seconds) of one process."""
    if cmd and cmd[0] == AGAINST:
        env = {**env, "PYTHONPATH": cmd[1], "WAYPOST_DATA_DIR": cmd[2]}
        cmd = cmd[3:]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--against", type=Path, help="another checkout's src/ to time alongside")
    parser.add_argument(FILL, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill_only is not None:
        fill(args.fill_only, args.rows)
        return
    exe = Path(sys.executable)
    waypost = str(exe.parent / "waypost")
    other = [args.against.resolve()] if args.against else []
    note = compile_pyc(*other)
    with tempfile.TemporaryDirectory() as tmp, SandboxProcess() as box:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(box.env)
        env["WAYPOST_DATA_DIR"] = tmp
        env["WAYPOST_CONFIG"] = str(Path(tmp) / "none.toml")
        fill(Path(tmp), args.rows)
        theirs = Path(tmp) / "against"
        if other:
            fill_other(other[0], theirs, args.rows)
        commands = {
            "import typer": [str(exe), "-c", "import typer"],
            "track (1 ILS)": [waypost, "track", ILS_NUMBER],
            "--help": [waypost, "--help"],
            "--version": [waypost, "--version"],
            "list": [waypost, "list"],
            "config show": [waypost, "config", "show"],
            "carriers": [waypost, "carriers"],
            "config path": [waypost, "config", "path"],
        }
        for name, cmd in list(commands.items())[1:] if other else ():
            commands[f"{name} *"] = [AGAINST, str(other[0]), str(theirs), *cmd]
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for cmd in commands.values():  # warm the file cache and the .pyc files
            run(cmd, env)
        for _ in range(args.runs):
            for name, cmd in commands.items():
                wall, used = run(cmd, env)
                times[name].append(wall)
                cpu[name].append(used)
    base = statistics.median(times["import typer"])
    cpu_base = statistics.median(cpu["import typer"])
    print(
        f"start-up, median of {args.runs} interleaved runs ({args.rows} watched shipments for "
        f"list); {note}; load average at the end {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)"
    )
    print("wall: elapsed time; cpu: user + system time of the process (less disturbed by load)")
    if other:
        print(f"*: the same command from {other[0]} (PYTHONPATH), interleaved with the others")
    print(
        f"{'command':<16}{'wall ms':>9}{'ratio':>8}{'cpu ms':>9}{'ratio':>8}{'target':>8}  verdict"
    )
    order = [n for n in times if not n.endswith(" *")]
    for name in sorted(times, key=lambda n: order.index(n.removesuffix(" *"))):
        values = times[name]
        median = statistics.median(values)
        ratio = median / base
        used = statistics.median(cpu[name])
        cpu_ratio = used / cpu_base
        target = TARGETS.get(name.removesuffix(" *"))
        verdict = "" if target is None else ("ok" if cpu_ratio <= target else "OVER")
        if target is not None and (ratio <= target) != (cpu_ratio <= target):
            verdict += " (wall " + ("ok" if ratio <= target else "over") + ")"
        shown = f"{target:.1f}x" if target else ""
        print(
            f"{name:<16}{median * 1000:>9.1f}{ratio:>7.2f}x{used * 1000:>9.1f}{cpu_ratio:>7.2f}x"
            f"{shown:>8}  {verdict}"
        )


if __name__ == "__main__":
    main()
