"""``track``'s lean path (``waypost.quick``) against the model path, whole processes over the
sandbox (forked ``waypost`` children, tests/forked.py): the same output, exit code and requests,
faults included; and what a fresh interpreter on the lean path imports."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import stop_soon
from tests.forked import ForkServer
from tests.hostile import Answer, HostileServer, Raw, Seen, hostile_text, map_strings
from tests.lean_common import MODULES
from waypost.sandbox import Sandbox

pytestmark = pytest.mark.real_clock


def run(
    forker: ForkServer,
    box: Sandbox,
    tmp: Path,
    args: list[str],
    *,
    lean: bool,
    stdin: str = "",
    faults: str = "",
) -> tuple[int, str, str, list[str]]:
    """(exit code, stdout, stderr, the requests the sandbox saw) of one `waypost` process (a
    forked child: the lean path is the process's choice, made in ``__main__`` as at start-up)."""
    env = dict(os.environ)
    env.update(box.env())
    env["WAYPOST_DATA_DIR"] = str(tmp / "data")
    env["WAYPOST_CONFIG"] = str(tmp / "config.toml")
    env["WAYPOST_LEAN"] = "1" if lean else "0"
    env["WAYPOST_HTTP_BACKOFF"] = "0.01"
    with box.lock:
        box.log.clear()
    box.inject(faults)
    done = forker.run(*args, env=env, stdin=stdin)
    with box.lock:
        asked = [f"{e.method} {e.path} {e.status}" for e in box.log]
    return done.code, done.out, done.err, sorted(asked)


def same_both_ways(
    forker: ForkServer, box: Sandbox, tmp: Path, args: list[str], **kw: str
) -> tuple[int, str]:
    lean = run(forker, box, tmp, args, lean=True, **kw)
    model = run(forker, box, tmp, args, lean=False, **kw)
    if "--jsonl" in args:  # lines come in the order the answers do, on either path
        lean, model = (
            (code, "".join(sorted(out.splitlines(keepends=True))), err, asked)
            for code, out, err, asked in (lean, model)
        )
    assert lean == model
    return lean[0], lean[1]


NUMBERS = [f"4747S{i:07d}" for i in range(250)] + ["3676E4043665", "3676E4038434"]


@pytest.mark.parametrize("fmt", [[], ["--json"], ["--jsonl"]])
def test_many_numbers_print_the_same_both_ways(
    forker: ForkServer, box: Sandbox, tmp_path: Path, fmt: list[str]
) -> None:
    stdin = "\n".join([*NUMBERS, NUMBERS[3]])  # a repeated number is asked and shown once
    code, out = same_both_ways(forker, box, tmp_path, ["track", *fmt, "-"], stdin=stdin)
    assert code == 0
    if fmt == ["--json"]:
        assert len(json.loads(out)["shipments"]) == len(NUMBERS)


def test_one_demo_number_prints_the_same_both_ways(
    forker: ForkServer, box: Sandbox, tmp_path: Path
) -> None:
    code, out = same_both_ways(forker, box, tmp_path, ["track", "3676E4043665"])
    assert (code, out.split()[:3]) == (0, ["3676E4043665", "ils", "in_transit"])


@pytest.mark.parametrize(
    "faults",
    ["500@ils:x1", "503@ils:x9", "truncated@ils:x1", "shape@ils:x1", "empty@ils:x1", "429@ils:x1"],
)
def test_faulty_answers_go_to_the_model_path_asking_nothing_twice(
    forker: ForkServer, box: Sandbox, tmp_path: Path, faults: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sandbox's 429 says Retry-After: 1; what is asked and printed does not depend on it.
    monkeypatch.setenv("WAYPOST_HTTP_MAX_PAUSE", "0.05")
    same_both_ways(forker, box, tmp_path, ["track", "--json", "3676E4043665"], faults=faults)


def test_an_error_envelope_is_reported_as_before(
    forker: ForkServer, box: Sandbox, tmp_path: Path
) -> None:
    code, out = same_both_ways(forker, box, tmp_path, ["track", "3676E4000500", "3676E4043665"])
    assert code == 4  # the envelope fails the whole request
    assert "System busy" in out


def test_a_refused_connection_is_reported_as_before(forker: ForkServer, tmp_path: Path) -> None:
    class Gone:
        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.log: list[object] = []

        def env(self) -> dict[str, str]:
            return {
                "WAYPOST_ILS_BASE_URL": "http://127.0.0.1:9/ils",
                "WAYPOST_ILS_USER_ID": "u",
                "WAYPOST_ILS_PDD": "p",
            }

        def inject(self, spec: str) -> None:
            pass

    gone: object = Gone()
    lean = run(forker, gone, tmp_path, ["track", "3676E4043665"], lean=True)  # type: ignore[arg-type]
    model = run(forker, gone, tmp_path, ["track", "3676E4043665"], lean=False)  # type: ignore[arg-type]
    assert lean == model
    assert lean[0] == 4


def test_the_lean_path_loads_no_network_stack_no_models(box: Sandbox, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(box.env())
    env["WAYPOST_DATA_DIR"] = str(tmp_path / "data")
    env["WAYPOST_CONFIG"] = str(tmp_path / "config.toml")
    for extra in ([], ["--json"]):
        done = subprocess.run(
            [sys.executable, "-c", MODULES, "track", *extra, "3676E4043665"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        modules = set(done.stderr.rsplit("MODULES ", 1)[1].split())
        heavy = {"httpx", "httpcore", "asyncio", "pydantic", "waypost.models", "rich", "tenacity"}
        assert modules & heavy == set()
        assert "waypost.quick" in modules


def test_a_journey_leg_takes_the_model_path(
    forker: ForkServer, box: Sandbox, tmp_path: Path
) -> None:
    args = ["track", "--save", "3676E4043665", "3676E4038521"]
    assert run(forker, box, tmp_path, args, lean=False)[0] == 0
    assert run(forker, box, tmp_path, ["link", "3676E4043665", "3676E4038521"], lean=False)[0] == 0
    code, out = same_both_ways(forker, box, tmp_path, ["track", "3676E4043665"])
    assert code == 0
    assert "journey" in out.lower() or "leg" in out.lower()


@pytest.mark.parametrize(("faults", "timeout"), [("hang@ils:x1", 0.3), ("hang@ils:x9", 0.25)])
def test_a_hung_answer_keeps_its_timeout_and_retry_budget(
    forker: ForkServer,
    box: Sandbox,
    tmp_path: Path,
    faults: str,
    timeout: float,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The lean attempt's timeout T counts against the budget of 2.5 T: 3 attempts on either
    # path (at 0, T and 2 T; the 4th would start after the budget, and would be made if the
    # lean attempt's time were not counted). x1: the retry's answer comes within T.
    monkeypatch.setenv("WAYPOST_HTTP_RETRY_BUDGET", f"{2.5 * timeout:g}")
    args = ["track", "--timeout", f"{timeout:g}", "3676E4043665"]
    code, out = same_both_ways(forker, box, tmp_path, args, faults=faults)
    if faults.endswith("x9"):
        assert code == 4
        assert "(3 attempts)" in out


# -- raw answers of a hostile server (tests/hostile.py): the lean path's HTTP framing -----------


def _gzipped(server: HostileServer) -> Answer:
    def answer(seen: Seen) -> Raw:
        raw = server.forward(seen)
        return Raw(raw.status, {**raw.headers, "Content-Encoding": "gzip"}, gzip.compress(raw.body))

    return answer


def _chunked(server: HostileServer) -> Answer:
    def answer(seen: Seen) -> Raw:
        raw = server.forward(seen)
        data = bytes(raw.body)  # type: ignore[arg-type]
        return Raw(raw.status, raw.headers, iter([data[:7], data[7:100], data[100:]]))

    return answer


def _escaped(server: HostileServer) -> Answer:
    def answer(seen: Seen) -> Raw:
        raw = server.forward(seen)
        payload = map_strings(json.loads(bytes(raw.body)), hostile_text, keys=["consignment"])  # type: ignore[arg-type]
        return Raw.json(payload)

    return answer


RAW_ANSWERS = {
    "gzip": _gzipped,
    "chunked": _chunked,
    "hostile text": _escaped,
    "gzip bomb": lambda s: lambda seen: Raw.gzip_bomb(40),
    "huge": lambda s: lambda seen: Raw.huge(40),
    "endless": lambda s: lambda seen: Raw.endless(seconds=2.0, every=0.05),
    "truncated": lambda s: lambda seen: Raw.truncated({"code": 200, "body": []}),
    "deep": lambda s: lambda seen: Raw.deep(),
    "html": lambda s: lambda seen: Raw.html(),
    "429": lambda s: lambda seen: Raw.too_many("0"),
}

# The endless body (2 s) outlasts the whole-attempt --timeout, though each read is quick.
TIMEOUTS = {"endless": "0.2"}


@pytest.mark.parametrize("kind", sorted(RAW_ANSWERS))
def test_raw_answers_print_the_same_both_ways(
    forker: ForkServer, box: Sandbox, tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = HostileServer(box.base_url).start()
    try:
        server.answer(RAW_ANSWERS[kind](server))
        monkeypatch.setenv("WAYPOST_HTTP_RETRIES", "1")
        outcomes = []
        for lean in (True, False):
            server.seen.clear()
            env = {**os.environ, **server.env(box.env())}
            env.update(
                WAYPOST_DATA_DIR=str(tmp_path / "data"),
                WAYPOST_CONFIG=str(tmp_path / "config.toml"),
                WAYPOST_LEAN="1" if lean else "0",
                WAYPOST_HTTP_BACKOFF="0.01",
            )
            args = ["track", "--json", "--timeout", TIMEOUTS.get(kind, "2"), *NUMBERS[:3]]
            done = forker.run(*args, env=env)
            outcomes.append((done.code, done.out, done.err, len(server.seen)))
    finally:
        stop_soon(server)
    assert outcomes[0] == outcomes[1]
    if kind in ("gzip", "chunked", "hostile text"):
        assert outcomes[0][0] == 0
