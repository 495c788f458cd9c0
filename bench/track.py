"""Throughput of `track` against rate limits: wall time vs the lower bound the APIs allow.

Starts the sandbox (its own process) with an injected latency and the documented limits
enforced, then tracks N numbers of each carrier and of a mix through the same code path as
`waypost track` (`service.run`, in process, so Python's start-up is not counted). For each run it
prints the wall time, the lower bound (the fewest requests the batch sizes allow, spread at each
API's rate limit, plus the latency of each dependent step), their ratio, the requests sent, the
rate-limit rejections, and the naive strategy (one request per number, one after the other) for
the same N: N x max(latency, 1/rate), computed, not run; "cpu ms" is this process's CPU time
in the run (set-up, sending, receiving, parsing, the store) and "b+cpu" the wall time over the
bound plus that CPU time (1.00: nothing waited that had not to). A run shorter than a second is
repeated seven times with fresh numbers and the median shown (one run is too noisy there).
The "ils (lean path)" rows time what `waypost track` does for ILS numbers (``waypost.quick``:
plain sockets, no models), including the journey check and writing the ``--json`` document (to
/dev/null), which the "ils" rows (``service.run``, the model path) leave out. "Latency" is one round trip to the
sandbox as measured with a bare httpx request of one number on a warm connection (the injected
answer time plus the loopback round trip; a 40-tracking v4 answer takes the same 84 ms), so the
bound is what the APIs allow, not what this machine allows: every request of the first second
goes at once (no earlier traffic counts: the sandbox's windows are reset before each run), each
later second's at exactly 1 s, dependent steps (a read before its creates, a create before its
delete) one round trip each, and no client CPU at all.

"rule s" is the bound the client's own rate rule allows (``http.RateLimiter``, and
``quick_tm.get_all`` alike): a permit comes back one hold (1 s) after its request's answer
came, not 1 s after it was sent, since only the answer proves when the request reached the
server (never above the limit as the server counts arrivals). So each later wave of requests
goes one hold plus one round trip after the one before: a TrackingMore v4 read of 1,000
numbers in the account (25 reads, 10 a wave) is ``2 x (1 s + rt) + rt`` (2.25 s at 82 ms)
against the bound's ``2 s + rt`` (2.08 s); v2's reads (one a wave) and the real-time creates
(3 a wave) the same. "vs rule" is the wall time over it; the rows without a rule of their own
(ILS, PandaPon, the mix) show the bound there. "ratio" stays the wall over the bound.

ILS numbers are asked once before each timed run, so the sandbox has already made its synthetic
shipments (~8 ms of its CPU per 100 new numbers would otherwise sit inside the ILS bound).

For TrackingMore numbers not in the account, a second run with fresh numbers goes through the
whole `waypost track --jsonl -` process and reads its output as it comes: "1st useful" is the
time to the first line with events (not `pending`), "gap ms" how long after the sandbox sent
the first real-time create's (v2: realtime call's) answer that line came (the sandbox's clock is read off one probe
request's arrival), "last useful" the time to the last line with events, "all useful" the same
when every number got its events ("-" otherwise: past the real-time budget numbers come back
`pending` by design), "useful" how many did, and "proc cpu" the process's CPU time (user +
sys, from wait4: robust to the machine's load).

"floor s" (v4 in the account) is a bare client's time for the same reads: one `httpx.AsyncClient`
made before the clock starts, the same 40-number requests in waves of 10 exactly one second
apart, each answer only `json.loads`-ed (no models, no store, no safety margin): what this
machine allows in Python, against which "vs floor" is waypost's ratio.

"floor s" (ILS rows) is the same for ILS (`bench/_ils_floor.py`): a bare client asking the same
numbers right after each timed run, the same 100-number POSTs, one ``http.client`` connection per
request in threads (all at once), answers only ``json.loads``-ed. The ILS rows are also printed
in a table of their own, in ms: the round-trip bound ("rt"), the floor's wall and CPU time, the
requests and events of the run, the client cost the bound leaves out ("cost": requests x a +
events x b, a and b fitted by least squares to the CPU time of every bare-client run: 7 pairs
before the rows, 10 one-number requests without events and 1,000 known numbers, and the floor
runs beside each ILS row), "b+cost" (round trip + cost), and each path's ratio to the round trip, the
floor and b+cost, by wall time and by "rt+cpu" (the round trip plus the path's own CPU time: what
the wall would be on an idle machine, and robust to the load of a busy one).

"trackingmore v4 (in account, lean)" times `waypost track`'s lean path for v4 numbers in the
account (``waypost.quick_tm``, in process, as the ILS lean rows: it also opens the store, checks
the stored pause, writes the account state and the ``--json`` document, which the model rows
leave out: they get the store open and close it outside the clock); "(in acct, process)" is the
whole `waypost track --json -` process (start-up and exit included; "cpu ms" from wait4).
"c-bound" is the bound plus the client cost no client can overlap with the wait for the last
wave of answers, measured on the lean path's own parts (``client_cost``: per request of that
wave the CPU of one exchange on a warm connection and of reading its answer into records, plus
the ``--json`` document of all N): "round trip + measured per-request and per-event client
cost"; "vs c-b" is the wall time over it.

TrackingMore has rows for API v4 (the default: reads at 10/s, real-time creates at 3/s, each
created number deleted again as `track` without `--save` does) and for API v2.

    python bench/track.py [--latency 80] [--sizes 10,100,300,1000] [--only ils,mix] [--interleave]
        [--https]   (the sandbox over TLS, a throwaway CA trusted via SSL_CERT_FILE;
                     with --only trackingmore: ILS's floor speaks plain HTTP only)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _ils_floor
from _sandbox import SandboxProcess
from _tls_sandbox import TLSSandboxProcess

REPEATS = 7  # runs shorter than a second are repeated (fresh numbers) and the median shown


@dataclass
class Scenario:
    """One row of the table."""

    name: str
    numbers: Callable[[int, int], list[str]]
    bound: Callable[[int, float], float]
    naive: Callable[[int, float], float]
    minimum: Callable[[int], int]
    preload: bool = False
    api: str | None = None  # TrackingMore's API version for this row (None: the default, v4)
    rule: Callable[[int, float], float] | None = None  # the client rule's bound (None: bound)


def waves(requests: int, per_window: int, window: float = 1.0) -> float:
    """Seconds to send ``requests`` when at most ``per_window`` may go per ``window``."""
    return (math.ceil(requests / per_window) - 1) * window


def held(requests: int, permits: int, lat: float, hold: float = 1.0) -> float:
    """Seconds from the first wave's sends to the last wave's when each of ``permits`` comes
    back ``hold`` after its answer (``http.RateLimiter``'s rule): one hold and one round trip a
    wave."""
    return (math.ceil(requests / permits) - 1) * (hold + lat)


def ils_numbers(n: int, run: int) -> list[str]:
    return [f"{run % 100:02d}{i // 10**7 % 100:02d}S{i % 10**7:07d}" for i in range(n)]


def tm_numbers(prefix: str) -> Callable[[int, int], list[str]]:
    """Synthetic S10 numbers of the sandbox's courier, named as a user who knows it would."""
    from waypost.sandbox.trackingmore import synthetic_number

    return lambda n, run: [
        f"trackingmore:sandbox-post:{synthetic_number(run * 10_000 + i, prefix)}" for i in range(n)
    ]


def pp_numbers(n: int, run: int) -> list[str]:
    return [f"9{run:06d}{i:012d}" for i in range(n)]


def tm4_realtime(n: int, lat: float) -> int:
    """How many of ``n`` new numbers v4 creates in real time within its default budget
    (carriers.trackingmore.v4.REALTIME_BUDGET seconds at 3 creates/s, without --deadline)."""
    from waypost.carriers.trackingmore.v4 import REALTIME_BUDGET

    return min(n, math.floor(REALTIME_BUDGET * 3))


def tm4_new_bound(n: int, lat: float) -> float:
    # the first read, real-time creates at 3/s from then on, the last create's answer, its
    # delete; the numbers past the budget are batch-created (40 a call at 10/s) meanwhile
    k = tm4_realtime(n, lat)
    batches = math.ceil((n - k) / 40)
    return max(lat + waves(k, 3) + lat + lat if k else 0.0, lat + waves(batches, 10) + lat)


def tm4_new_rule(n: int, lat: float) -> float:
    # tm4_new_bound with the client's rule: each wave of 3 creates one hold after the previous
    # wave's answers (and each wave of 10 batch creates one hold after the previous wave's)
    k = tm4_realtime(n, lat)
    batches = math.ceil((n - k) / 40)
    return max(lat + held(k, 3, lat) + lat + lat if k else 0.0, lat + held(batches, 10, lat) + lat)


def tm4_new_minimum(n: int, lat: float) -> int:
    # reads, real-time creates and their deletes (no --save), batch creates for the rest
    k = tm4_realtime(n, lat)
    return math.ceil(n / 40) + 2 * k + math.ceil((n - k) / 40)


def tm2_realtime(n: int) -> int:
    """How many of ``n`` new numbers v2 asks by realtime: the first ``realtime_max`` (20)."""
    from waypost.carriers.trackingmore import REALTIME_MAX

    return min(n, REALTIME_MAX)


def tm_new_bound(n: int, lat: float) -> float:
    # the first read, then realtime at 3/s for the first 20 and their last answer; the numbers
    # past 20 are batch-created meanwhile: reads at 1/s, the last batch after the last read
    k = tm2_realtime(n)
    created = waves(math.ceil(n / 40), 1) + 2 * lat if n > k else 0.0
    return max(lat + waves(k, 3) + lat, created)


def tm_new_rule(n: int, lat: float) -> float:
    # tm_new_bound with the client's rule (http.RateLimiter): each wave of 3 realtime calls one
    # hold after the previous wave's answers, each read one hold after the previous read's
    k = tm2_realtime(n)
    created = held(math.ceil(n / 40), 1, lat) + 2 * lat if n > k else 0.0
    return max(lat + held(k, 3, lat) + lat, created)


def tm_new_minimum(n: int) -> int:
    # reads, realtime for the first 20, batch creates for the rest
    k = tm2_realtime(n)
    return math.ceil(n / 40) + k + math.ceil((n - k) / 40)


SCENARIOS = [
    Scenario(
        "ils",
        ils_numbers,
        bound=lambda n, lat: lat,  # no documented limit: every batch at once
        naive=lambda n, lat: n * lat,
        minimum=lambda n: math.ceil(n / 100),
    ),
    Scenario(
        "trackingmore v4 (in account)",
        tm_numbers("BA"),
        bound=lambda n, lat: waves(math.ceil(n / 40), 10) + lat,
        naive=lambda n, lat: n * max(lat, 0.1),
        minimum=lambda n: math.ceil(n / 40),
        preload=True,
        rule=lambda n, lat: held(math.ceil(n / 40), 10, lat) + lat,
    ),
    Scenario(
        "trackingmore v4 (new)",
        tm_numbers("BN"),
        bound=tm4_new_bound,
        naive=lambda n, lat: n * max(lat, 1 / 3),
        minimum=lambda n: -1,  # tm4_new_minimum: depends on the round trip (see prepare)
        rule=tm4_new_rule,
    ),
    Scenario(
        "pandapon",
        pp_numbers,
        bound=lambda n, lat: waves(n, 5) + lat,
        naive=lambda n, lat: n * max(lat, 0.2),
        minimum=lambda n: n,
    ),
    Scenario(
        "trackingmore v2 (in account)",
        tm_numbers("BB"),
        bound=lambda n, lat: waves(math.ceil(n / 40), 1) + lat,
        naive=lambda n, lat: n * max(lat, 1.0),
        minimum=lambda n: math.ceil(n / 40),
        preload=True,
        api="v2",
        rule=lambda n, lat: held(math.ceil(n / 40), 1, lat) + lat,
    ),
    Scenario(
        "trackingmore v2 (new)",
        tm_numbers("BM"),
        bound=tm_new_bound,
        naive=lambda n, lat: n * max(lat, 1 / 3),
        minimum=tm_new_minimum,
        api="v2",
        rule=tm_new_rule,
    ),
    # `waypost track` of ILS numbers takes the lean path (waypost.quick) in its own process.
    Scenario(
        "ils (lean path)",
        ils_numbers,
        bound=lambda n, lat: lat,
        naive=lambda n, lat: n * lat,
        minimum=lambda n: math.ceil(n / 100),
    ),
    # TrackingMore v4 numbers in the account take the lean path too (waypost.quick_tm): in
    # process (quick.track, as the ILS lean rows) and as the whole `waypost track --json -`.
    Scenario(
        "trackingmore v4 (in account, lean)",
        tm_numbers("BL"),
        bound=lambda n, lat: waves(math.ceil(n / 40), 10) + lat,
        naive=lambda n, lat: n * max(lat, 0.1),
        minimum=lambda n: math.ceil(n / 40),
        preload=True,
        rule=lambda n, lat: held(math.ceil(n / 40), 10, lat) + lat,
    ),
    Scenario(
        "trackingmore v4 (in acct, process)",
        tm_numbers("BP"),
        bound=lambda n, lat: waves(math.ceil(n / 40), 10) + lat,
        naive=lambda n, lat: n * max(lat, 0.1),
        minimum=lambda n: math.ceil(n / 40),
        preload=True,
        rule=lambda n, lat: held(math.ceil(n / 40), 10, lat) + lat,
    ),
]
LEAN = ("ils (lean path)", "trackingmore v4 (in account, lean)")
PROCESS = "trackingmore v4 (in acct, process)"


def api_env(box: SandboxProcess, api: str | None) -> dict[str, str]:
    """The variables that put waypost on TrackingMore API ``api`` in the sandbox."""
    base = box.env["WAYPOST_TRACKINGMORE_BASE_URL"].rsplit("/", 1)[0]
    chosen = api or "v4"
    return {"WAYPOST_TRACKINGMORE_API": chosen, "WAYPOST_TRACKINGMORE_BASE_URL": f"{base}/{chosen}"}


def _bare(numbers: list[str]) -> list[str]:
    return [n.rsplit(":", 1)[-1] for n in numbers]


def round_trip(box: SandboxProcess) -> float:
    """Median time of a one-number ILS request on a warm connection: what one latency costs here
    (no client set-up, no connection set-up, just the answer)."""
    import httpx

    url = box.env["WAYPOST_ILS_BASE_URL"] + "/oms/v2/event/getOrdersTrack"
    body = {
        "userId": box.env["WAYPOST_ILS_USER_ID"],
        "pdd": box.env["WAYPOST_ILS_PDD"],
        "method": "trackOrders",
        "trackingNos": ["3676E4043665"],
    }
    samples = []
    with httpx.Client() as client:
        client.post(url, json=body).raise_for_status()
        for _ in range(7):
            start = time.perf_counter()
            client.post(url, json=body).raise_for_status()
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


CPU: list[float] = []  # client CPU seconds of each run_once, for the "cpu ms" column


def run_once(box: SandboxProcess, numbers: list[str], cache_dir: Path) -> float:
    from waypost import carriers, config, inputs, service
    from waypost.carriers.base import TrackOptions
    from waypost.store import Store

    cfg = config.load(env=os.environ)
    infos = {i.name: i for i in carriers.infos()}
    queries = inputs.parse_numbers(numbers, None, infos)
    with Store.open(cache_dir) as store:
        start, cpu = time.perf_counter(), time.process_time()
        report = asyncio.run(service.run(queries, cfg, TrackOptions(), cache=store))
        elapsed = time.perf_counter() - start
        CPU.append(time.process_time() - cpu)
    failed = [r for r in report.results if r.failure is not None]
    if failed:
        raise SystemExit(f"{len(failed)} numbers failed, e.g. {failed[0].failure}")
    return elapsed


def run_lean(box: SandboxProcess, numbers: list[str], cache_dir: Path) -> float:
    """``run_once`` through ``track``'s lean path, printing the ``--json`` document to nowhere."""
    from waypost import carriers, config, inputs, quick
    from waypost.cli.env import Env
    from waypost.render import Format, Terminal

    os.environ["WAYPOST_DATA_DIR"] = str(cache_dir / "lean")  # the state TrackingMore keeps
    env = Env(stdout=open(os.devnull, "w"), stderr=sys.stderr)  # noqa: SIM115
    cfg = config.load(env=os.environ)
    infos = {i.name: i for i in carriers.infos()}
    queries = inputs.parse_numbers(numbers, None, infos)
    start, cpu = time.perf_counter(), time.process_time()
    code = quick.track(env, cfg, queries, Format.JSON, Terminal(), False)
    elapsed = time.perf_counter() - start
    CPU.append(time.process_time() - cpu)
    env.stdout.close()
    if code != 0:
        raise SystemExit(f"the lean path did not answer every number ({code!r})")
    return elapsed


def client_cost(box: SandboxProcess, numbers: list[str]) -> float:
    """Seconds of client CPU that no client can overlap with the wait for the last wave of
    answers, measured on the lean path's own parts (``waypost.quick_tm``): for each request of
    the last wave, the CPU of one exchange on a warm connection (sending, receiving, HTTP) and
    of reading its answer into records (decoding, one record per tracking, its events); then the
    ``--json`` document of all N. Medians of five measurements of each. The "c-bound" is the
    bound plus this: "round trip + measured per-request and per-event client cost"."""
    from waypost import lean_http, lean_json, quick, quick_tm
    from waypost.carriers.trackingmore import lean
    from waypost.carriers.trackingmore import v4_api as api

    bare = _bare(numbers)
    url = box.env["WAYPOST_TRACKINGMORE_BASE_URL"].rsplit("/", 1)[0] + "/v4" + api.GET
    origin = lean_http.Origin(url, tls=True)
    key = box.env["WAYPOST_TRACKINGMORE_API_KEY"]
    chunks = [tuple(bare[i : i + 40]) for i in range(0, len(bare), 40)]
    last = chunks[(len(chunks) - 1) // 10 * 10 :]  # the last wave of 10 a second
    conn = quick_tm._GetConnection(origin, 20.0, key)

    def target(chunk: tuple[str, ...]) -> bytes:
        return f"{origin.target}?tracking_numbers={'%2C'.join(chunk)}".encode()

    def cpu(work: Callable[[], object]) -> float:
        samples = []
        for _ in range(5):
            start = time.process_time()
            work()
            samples.append(time.process_time() - start)
        return statistics.median(samples)

    def records(exchange: lean_http.Exchange) -> list[object]:
        _, _, data = api.read_envelope(quick.decoded(exchange, 1 << 30))
        return [
            lean.parse_tracking(i, str(i["tracking_number"]).upper(), None, "sandbox-post")
            for i in api.trackings_of(data)
        ]

    try:
        box.reset()
        exchanges = [conn.exchange(c, target(c), 1 << 30) for c in chunks]
        box.reset()
        time.sleep(1.1)
        per_request = cpu(lambda: conn.exchange(last[0], target(last[0]), 1 << 30))
    finally:
        conn.close()
        box.reset()
    lean._points.clear()  # cold tables, as a run's first answers find them
    read = sum(cpu(lambda e=e: records(e)) for e in exchanges[-len(last) :])
    everything = [r for e in exchanges for r in records(e)]
    document = cpu(lambda: lean_json.document(everything))
    time.sleep(1.1)
    return len(last) * per_request + read + document


def run_process(box: SandboxProcess, numbers: list[str], cache_dir: Path) -> float:
    """The whole `waypost track --json -` process (start-up and exit included); its CPU time
    (user + sys, ``os.wait4``) goes to the "cpu ms" column."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["WAYPOST_DATA_DIR"] = str(cache_dir / "process")
    waypost = str(Path(sys.executable).parent / "waypost")
    with tempfile.TemporaryFile() as src:
        src.write(("\n".join(numbers) + "\n").encode())
        src.seek(0)
        start = time.perf_counter()
        proc = subprocess.Popen(
            [waypost, "track", "--json", "-"],
            stdin=src,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    proc.returncode = 0
    CPU.append(usage.ru_utime + usage.ru_stime)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"waypost track exited {os.waitstatus_to_exitcode(status)}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=80.0, help="ms added to every answer")
    parser.add_argument("--sizes", default="10,100,300,1000")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated scenario prefixes: ils,trackingmore,pandapon,mix",
    )
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="rows by N, every scenario in turn (so load changes hit all of them alike)",
    )
    parser.add_argument(
        "--repeats", type=int, default=REPEATS, help="runs of a row shorter than a second"
    )
    parser.add_argument(
        "--repeat-long", action="store_true", help="repeat rows of a second or more too"
    )
    parser.add_argument(
        "--https",
        action="store_true",
        help="the sandbox over TLS (bench/_tls_sandbox.py; its CA trusted via SSL_CERT_FILE); "
        "for the TrackingMore rows (the ILS floor speaks plain HTTP only)",
    )
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]

    def chosen(name: str) -> bool:
        return not wanted or any(name.startswith(w) for w in wanted)

    header = (
        f"{'scenario':<31}{'N':>6}{'wall s':>9}{'cpu ms':>8}{'bound s':>9}{'ratio':>7}{'rule s':>8}{'vs rule':>8}{'requests':>10}"
        f"{'minimum':>9}{'429s':>6}{'naive s':>9}{'speed-up':>10}{'b+cpu':>7}"
        f"{'floor s':>8}{'vs floor':>9}{'c-bound':>8}{'vs c-b':>7}{'1st useful':>11}{'gap ms':>7}{'last useful':>12}{'all useful':>11}{'useful':>11}"
        f"{'proc cpu':>9}"
    )
    served = TLSSandboxProcess if args.https else SandboxProcess
    with served(latency_ms=args.latency) as box, tempfile.TemporaryDirectory() as tmp:
        box.apply_env()
        lat = round_trip(box)
        print(
            f"track throughput: injected latency {args.latency:g} ms, measured round trip "
            f"{lat * 1000:.0f} ms, documented limits enforced"
        )
        print(header)
        run_once(box, ils_numbers(5, 99), Path(tmp))  # warm up: imports, first connection
        ils_rows: list[tuple[str, int, float, float, list[tuple[float, float, int]], int]] = []
        cost = None
        if any(chosen(s.name) for s in SCENARIOS if s.name.startswith("ils")):
            known = ils_numbers(1000, 98)
            box.prewarm_ils(known)
            cost = _ils_floor.measure_cost(box, known)
        os.environ["WAYPOST_CONFIG"] = str(Path(tmp) / "none.toml")
        run = 0
        picked = [s for s in [*SCENARIOS, None] if chosen(s.name if s else "mix")]
        rows = (
            [(s, n) for n in sizes for s in picked]
            if args.interleave
            else [(s, n) for s in picked for n in sizes]
        )
        for scenario, n in rows:
            os.environ.update(api_env(box, scenario.api if scenario else None))
            walls: list[float] = []
            CPU.clear()
            ils_bare: list[tuple[float, float, int]] = []  # the ILS floor after each ILS run
            while len(walls) < (
                args.repeats if walls and (walls[0] < 1.0 or args.repeat_long) else 1
            ):
                run += 1
                numbers, bound, naive, minimum, name = prepare(box, scenario, n, run, lat)
                box.reset()
                named = scenario.name if scenario is not None else ""
                runner = (
                    run_lean if named in LEAN else run_process if named == PROCESS else run_once
                )
                walls.append(runner(box, numbers, Path(tmp)))
                requests, rejections = len(box.log()), box.rejections()
                if scenario is not None and scenario.name.startswith("ils"):
                    ils_bare.append(_ils_floor.bare(box, numbers))
                    if cost is not None:
                        cost.add(-(-len(numbers) // 100), ils_bare[-1][2], ils_bare[-1][1])
                # Let the 1-second windows of this run pass before the next one counts.
                time.sleep(1.1)
            wall = statistics.median(walls)
            cpu_ms = statistics.median(CPU) * 1000
            rule = scenario.rule(n, lat) if scenario is not None and scenario.rule else bound
            floors = f"{'-':>8}{'-':>9}{'-':>8}{'-':>7}"
            if scenario is not None and scenario.name.startswith("trackingmore v4 (in acc"):
                run += 1
                bare = bare_floor(box, scenario, n, run)
                floors = f"{bare:>8.2f}{wall / bare:>9.2f}"
                if scenario.name == PROCESS:
                    floors += f"{'-':>8}{'-':>7}"
                else:
                    costed = bound + client_cost(box, numbers)
                    floors += f"{costed:>8.3f}{wall / costed:>7.2f}"
                time.sleep(1.1)
            if ils_bare and cost is not None:
                floor = statistics.median(b[0] for b in ils_bare)
                floors = f"{floor:>8.2f}{wall / floor:>9.2f}"
                ils_rows.append((name, n, wall, cpu_ms / 1000, ils_bare, requests))
            useful = f"{'-':>11}{'-':>7}{'-':>12}{'-':>11}{'-':>11}{'-':>9}"
            if (
                scenario is not None
                and scenario.name.startswith("trackingmore")
                and scenario.name.endswith("(new)")
            ):
                run += 1
                box.reset()
                useful = time_to_useful(box, scenario.numbers(n, run), Path(tmp))
                time.sleep(1.1)
            print(
                f"{name:<31}{n:>6}{wall:>9.2f}{cpu_ms:>8.0f}{bound:>9.2f}{wall / bound:>7.2f}{rule:>8.2f}{wall / rule:>8.2f}{requests:>10}"
                f"{minimum:>9}{rejections:>6}{naive:>9.1f}{naive / wall:>9.1f}x{wall / (bound + cpu_ms / 1000):>7.2f}{floors}{useful}",
                flush=True,
            )
        if ils_rows and cost is not None:
            per_request, per_event = cost.fit()
            print(
                f"\nILS against its floor and the client cost (ms; the bare client's cost, fitted "
                f"over its {len(cost.samples)} runs: {per_request * 1000:.2f} ms per request, "
                f"{per_event * 1e6:.2f} µs per event)"
            )
            print(ILS_HEADER)
            for row in ils_rows:
                print(ils_row(*row, lat=lat, cost=cost))


ILS_HEADER = (
    f"{'path':<17}{'N':>6}{'wall':>7}{'cpu':>6}{'rt':>5}{'floor':>7}{'f.cpu':>6}{'req':>5}"
    f"{'events':>7}{'cost':>6}{'b+cost':>7}  {'wall/':>6}{'wall/':>6}{'wall/':>7}"
    f"  {'rt+cpu/':>8}{'rt+cpu/':>8}\n"
    f"{'':<17}{'':>6}{'':>7}{'':>6}{'':>5}{'':>7}{'':>6}{'':>5}{'':>7}{'':>6}{'':>7}"
    f"  {'rt':>6}{'floor':>6}{'b+cost':>7}  {'rt':>8}{'b+cost':>8}"
)


def ils_row(
    name: str,
    n: int,
    wall: float,
    cpu: float,
    bare: list[tuple[float, float, int]],
    requests: int,
    *,
    lat: float,
    cost: _ils_floor.Cost,
) -> str:
    """One line of the ILS table (times in ms)."""
    floor = statistics.median(b[0] for b in bare)
    floor_cpu = statistics.median(b[1] for b in bare)
    events = bare[-1][2]
    client = cost.of(requests, events)
    bound = lat + client
    path = "model (service)" if name == "ils" else "lean (track)"
    return (
        f"{path:<17}{n:>6}{wall * 1e3:>7.0f}{cpu * 1e3:>6.0f}{lat * 1e3:>5.0f}{floor * 1e3:>7.0f}"
        f"{floor_cpu * 1e3:>6.0f}{requests:>5}{events:>7}{client * 1e3:>6.0f}{bound * 1e3:>7.0f}"
        f"  {wall / lat:>6.2f}{wall / floor:>6.2f}{wall / bound:>7.2f}"
        f"  {(lat + cpu) / lat:>8.2f}{(lat + cpu) / bound:>8.2f}"
    )


def bare_floor(box: SandboxProcess, scenario: Scenario, n: int, run: int) -> float:
    """Median wall time of a bare client reading the same numbers (fresh ones, preloaded) the
    same 40 a request, waves of 10 a second, answers only decoded (three runs). Its client is
    made before the clock starts (no certificate store); its connections are not."""
    import ssl

    import httpx

    url = box.env["WAYPOST_TRACKINGMORE_BASE_URL"].rsplit("/", 1)[0] + "/v4/trackings/get"
    key = {"Tracking-Api-Key": box.env["WAYPOST_TRACKINGMORE_API_KEY"]}

    async def go(numbers: list[str]) -> float:
        plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if os.environ.get("SSL_CERT_FILE"):  # --https: the TLS sandbox's CA (one certificate)
            plain = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(verify=plain, limits=limits) as client:

            async def one(wave: int, chunk: list[str]) -> None:
                await asyncio.sleep(wave)
                query = {"tracking_numbers": ",".join(chunk)}
                json.loads((await client.get(url, params=query, headers=key)).content)

            chunks = [numbers[i : i + 40] for i in range(0, len(numbers), 40)]
            start = time.perf_counter()
            await asyncio.gather(*(one(i // 10, c) for i, c in enumerate(chunks)))
            return time.perf_counter() - start

    walls = []
    for k in range(3):
        numbers = _bare(scenario.numbers(n, run * 10 + k))
        box.call("POST", "/_sandbox/trackingmore/preload", {"numbers": numbers})
        box.reset()
        walls.append(asyncio.run(go(numbers)))
        box.reset()
        time.sleep(1.1)
    return statistics.median(walls)


def sandbox_offset(box: SandboxProcess) -> float:
    """``time.monotonic()`` minus the sandbox's log clock, from one request's arrival (loopback:
    it arrives well under a millisecond after it leaves)."""
    import httpx

    url = box.env["WAYPOST_TRACKINGMORE_BASE_URL"].rsplit("/", 1)[0] + "/v4/couriers/all"
    key = {"Tracking-Api-Key": box.env["WAYPOST_TRACKINGMORE_API_KEY"]}
    with httpx.Client() as client:
        client.get(url, headers=key)  # a warm connection for the probe
        box.reset()
        sent = time.monotonic()
        client.get(url, headers=key)
    (entry,) = box.log()
    box.reset()
    return sent - float(entry["t"])


def time_to_useful(box: SandboxProcess, numbers: list[str], data_dir: Path) -> str:
    """Run `waypost track --jsonl -` as a process; the "useful" columns."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["WAYPOST_DATA_DIR"] = str(data_dir / "jsonl")  # its own state: a pause stays there
    waypost = str(Path(sys.executable).parent / "waypost")
    offset = sandbox_offset(box)
    start = time.monotonic()
    seen: list[float] = []
    proc = subprocess.Popen(
        [waypost, "track", "--jsonl", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write("\n".join(numbers) + "\n")
    proc.stdin.close()
    for line in proc.stdout:
        shipment = json.loads(line)
        if shipment.get("events") and shipment.get("status") != "pending":
            seen.append(time.monotonic() - start)
    proc.stdout.close()
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    cpu = (usage.ru_utime + usage.ru_stime) * 1000
    answered = [
        float(e["done"]) + offset - start
        for e in box.log()
        if e["path"].endswith(("/trackings/create", "/trackings/realtime")) and e.get("done")
    ]
    first = f"{min(seen):>11.2f}" if seen else f"{'never':>11}"
    gap = f"{(min(seen) - min(answered)) * 1000:>7.0f}" if seen and answered else f"{'-':>7}"
    last = f"{max(seen):>12.2f}" if seen else f"{'-':>12}"
    every = f"{max(seen):>11.2f}" if len(seen) == len(numbers) else f"{'-':>11}"
    return f"{first}{gap}{last}{every}{f'{len(seen)}/{len(numbers)}':>11}{cpu:>9.0f}"


def prepare(
    box: SandboxProcess, scenario: Scenario | None, n: int, run: int, lat: float
) -> tuple[list[str], float, float, int, str]:
    """The numbers of one run (preloaded into the account where the scenario says), its bound,
    the naive time, the fewest requests, and the row's name. ``None`` is the mix: a third of N
    from each of ils, trackingmore (account) and pandapon."""
    if scenario is None:
        parts = [SCENARIOS[0], SCENARIOS[1], SCENARIOS[3]]
        share = [n // 3 + (1 if i < n % 3 else 0) for i in range(3)]
        numbers = [x for p, k in zip(parts, share, strict=True) for x in p.numbers(k, run)]
        tm_part = SCENARIOS[1].numbers(share[1], run)
        box.call("POST", "/_sandbox/trackingmore/preload", {"numbers": _bare(tm_part)})
        box.prewarm_ils(SCENARIOS[0].numbers(share[0], run))
        return (
            numbers,
            max(p.bound(k, lat) for p, k in zip(parts, share, strict=True) if k),
            sum(p.naive(k, lat) for p, k in zip(parts, share, strict=True)),
            sum(p.minimum(k) for p, k in zip(parts, share, strict=True) if k),
            "mix (ils, tm, pandapon)",
        )
    numbers = scenario.numbers(n, run)
    if scenario.name.startswith("ils"):
        box.prewarm_ils(numbers)
    if scenario.preload:
        box.call("POST", "/_sandbox/trackingmore/preload", {"numbers": _bare(numbers)})
    minimum = tm4_new_minimum(n, lat) if scenario.bound is tm4_new_bound else scenario.minimum(n)
    return (numbers, scenario.bound(n, lat), scenario.naive(n, lat), minimum, scenario.name)


if __name__ == "__main__":
    main()
