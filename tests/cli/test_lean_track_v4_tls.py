"""``track``'s lean TrackingMore v4 path over https (``waypost.lean_tls``) against the model path,
in forked ``waypost`` processes: the sandbox serves TLS with a certificate of the tests' CA
(tests/tls.py), which both paths trust through ``SSL_CERT_FILE``. The same output, exit code,
requests and kept state, whether the answers are clean, faulty, hostile, or the TLS itself
fails (a CA not trusted, a certificate of another host, a server that never shakes hands)."""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import tls
from tests.bombs import gzip_bomb
from tests.cli.test_lean_track_v4 import TAKEN_BY, _env, numbers, run, same_both_ways
from tests.conftest import stop_soon
from tests.forked import ForkServer
from tests.lean_common import loaded_modules
from waypost.sandbox import Sandbox

pytestmark = pytest.mark.real_clock


@pytest.fixture
def box() -> Iterator[Sandbox]:
    sandbox = Sandbox(port=0, tls=tls.server_context()).start()
    try:
        yield sandbox
    finally:
        stop_soon(sandbox)


@pytest.fixture
def trusted(tmp_path: Path) -> dict[str, str]:
    """The variables that make both paths trust the tests' CA."""
    return {"SSL_CERT_FILE": tls.ca_file(tmp_path)}


def test_the_sandbox_serves_https(box: Sandbox) -> None:
    assert box.env()["WAYPOST_TRACKINGMORE_BASE_URL"].startswith("https://127.0.0.1:")


@pytest.mark.parametrize("fmt", [[], ["--json"], ["--jsonl"]])
def test_numbers_in_the_account_print_the_same_both_ways_over_https(
    forker: ForkServer, box: Sandbox, tmp_path: Path, trusted: dict[str, str], fmt: list[str]
) -> None:
    listed = numbers(90, preload=box)
    code, out, _ = same_both_ways(forker, box, tmp_path, ["track", *fmt, *listed], **trusted)
    assert code == 0
    assert TAKEN_BY[True] == "printed"
    if fmt == ["--json"]:
        assert len(json.loads(out)["shipments"]) == len(listed)


@pytest.mark.parametrize(
    "faults", ["500@trackingmore:x1", "truncated@trackingmore:x1", "hang@trackingmore:x1"]
)
def test_faulty_answers_over_https_go_to_the_model_path_asking_nothing_twice(
    forker: ForkServer, box: Sandbox, tmp_path: Path, trusted: dict[str, str], faults: str
) -> None:
    listed = numbers(3, preload=box)
    # A hang meets the timeout; the other faults' retries are answered within it.
    args = ["track", "--json", "--timeout", "0.3" if faults.startswith("hang") else "0.5", *listed]
    code, _, _ = same_both_ways(forker, box, tmp_path, args, faults=faults, **trusted)
    assert TAKEN_BY[True] == "handed over"
    # The retry of a 500 or a hang is answered; JSON cut in half is reported, not retried.
    assert code == (4 if faults.startswith("truncated") else 0)


def test_a_ca_not_trusted_is_an_error_alike_both_ways(
    forker: ForkServer, box: Sandbox, tmp_path: Path
) -> None:
    listed = numbers(3, preload=box)
    other = tmp_path / "other"
    other.mkdir()
    stranger = {"SSL_CERT_FILE": tls.ca_file(other, tls.stranger())}
    code, out, err = same_both_ways(forker, box, tmp_path, ["track", *listed], **stranger)
    assert TAKEN_BY[True] == "handed over"
    assert code != 0
    assert "(ConnectError)" in out + err
    assert "not found" not in (out + err).lower()
    assert box.entries() == []  # nothing was asked: no request went past a handshake


def test_a_certificate_of_another_host_is_an_error_alike_both_ways(
    forker: ForkServer, tmp_path: Path, trusted: dict[str, str]
) -> None:
    sandbox = Sandbox(port=0, tls=tls.server_context("api.trackingmore.com")).start()
    try:
        listed = numbers(3, preload=sandbox)
        code, out, err = same_both_ways(forker, sandbox, tmp_path, ["track", *listed], **trusted)
    finally:
        stop_soon(sandbox)
    assert TAKEN_BY[True] == "handed over"
    assert code != 0
    assert "(ConnectError)" in out + err
    assert "not found" not in (out + err).lower()


# -- a raw TLS server in the sandbox's place --------------------------------------------------


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


GZIP_BOMB = gzip_bomb(40)  # 40 MB of spaces, built in milliseconds
RAW = {
    "gzip bomb": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(GZIP_BOMB), GZIP_BOMB),
    "chunked cut": b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n{"meta":',
    "length cut": b'HTTP/1.1 200 OK\r\nContent-Length: 90\r\n\r\n{"meta":{"code":200}',
    "reset": b"",
    "junk record": b"",
    "never shakes hands": b"",
}


def _hostile(server: list[tls.RawTLSServer], kind: str) -> tls.Handler:
    def handler(n: int, sock: socket.socket) -> None:
        if kind == "never shakes hands":
            sock.recv(4096)
            server[0].stop.wait(10)
            return
        wrapped = server[0].wrap(sock)
        if not tls.read_head(wrapped):
            return
        if kind == "reset":
            _reset(wrapped)
        elif kind == "junk record":
            os.write(wrapped.fileno(), b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
            server[0].stop.wait(2)
        else:
            wrapped.sendall(RAW[kind])
        wrapped.close()

    return handler


SILENT_TIMEOUT = "0.2"  # what a server that never shakes hands meets


@pytest.mark.parametrize("kind", sorted(RAW))
def test_hostile_tls_answers_hand_over_cleanly(
    forker: ForkServer, box: Sandbox, tmp_path: Path, trusted: dict[str, str], kind: str
) -> None:
    holder: list[tls.RawTLSServer] = []
    server = tls.RawTLSServer(_hostile(holder, kind))
    holder.append(server)
    try:
        base = server.url("/trackingmore/v4")
        extra = {**trusted, "WAYPOST_TRACKINGMORE_BASE_URL": base}
        # Only the server that never shakes hands is to meet --timeout (inflating the bomb's
        # 32 MB takes the model path a while on a loaded machine).
        timeout = SILENT_TIMEOUT if kind == "never shakes hands" else "10"
        args = ["track", "--json", "--timeout", timeout, *numbers(3)]
        lean = run(forker, box, tmp_path, args, lean=True, **extra)
        lean_connections = server.connections
        model = run(forker, box, tmp_path, args, lean=False, **extra)
    finally:
        server.close()
    assert TAKEN_BY[True] == "handed over"
    assert lean == model
    assert lean[0] != 0
    assert "internal error" not in lean[1] + lean[2]
    assert lean_connections * 2 == server.connections  # the lean path asked nothing twice
    if kind == "never shakes hands":
        assert f"--timeout {SILENT_TIMEOUT}s" in lean[1] + lean[2]


def test_the_lean_https_path_loads_no_network_stack_no_models(
    box: Sandbox, tmp_path: Path, trusted: dict[str, str]
) -> None:
    listed = numbers(3, preload=box)
    env = _env(box, tmp_path / "data", True, **trusted)
    out, modules = loaded_modules(["track", "--json", *listed], env)
    assert len(json.loads(out)["shipments"]) == 3
    heavy = {"httpx", "httpcore", "anyio", "asyncio", "pydantic", "certifi", "waypost.models"}
    assert modules & heavy == set()
    assert {"waypost.quick_tm", "waypost.lean_tls"} <= modules


def test_the_plain_http_paths_load_no_lean_tls(tmp_path: Path) -> None:
    plain = Sandbox(port=0).start()
    try:
        listed = numbers(2, preload=plain)
        env = _env(plain, tmp_path / "data", True)
        for argv in (["track", "--json", *listed], ["track", "--json", "3676E4043665"]):
            _, modules = loaded_modules(argv, env)
            assert "waypost.quick" in modules
            assert "waypost.lean_tls" not in modules
    finally:
        stop_soon(plain)
