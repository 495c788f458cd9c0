"""``quick_tm.get_all``'s waves against a loopback HTTP server: a wave goes out as its permits
come back (each a hold after the previous wave's answers), not one read at a time behind the
first answer of the wave; and no window of a hold ever sees more than the permits' arrivals."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.lean_common import lean_reads
from tests.loopback import send_json
from waypost import quick_tm

pytestmark = pytest.mark.real_clock

BODY = b'{"meta":{"code":200}}'
HOLD = 0.05  # a short hold (the real one is a second): the rule is the same


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, withhold: str, until: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.withhold, self.until, self.later = withhold, until, "N1"
        self.came = threading.Event()  # ``until`` arrived
        self.arrivals: list[tuple[str, float]] = []
        self.before: bool | None = None  # ``until`` arrived before ``withhold`` was answered
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        number = parse_qs(urlsplit(self.path).query)["tracking_numbers"][0]
        with self.server.lock:
            self.server.arrivals.append((number, time.monotonic()))
        if number == self.server.until:
            self.server.came.set()
        if number == self.server.withhold:
            self.server.before = self.server.came.wait(timeout=3.0)
        if number == self.server.later:
            time.sleep(0.03)  # its permit comes back after the first one of its wave
        send_json(self, BODY)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[_Server]:
    # Waves of two: N0 N1 (N1 answered a little later), then N2 N3; N2's answer waits (up to
    # 3 s) for N3 to arrive.
    made = _Server(withhold="N2", until="N3")
    thread = threading.Thread(
        target=made.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield made
    made.shutdown()
    made.server_close()


def test_a_wave_goes_out_before_its_first_answer(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quick_tm, "_hold", lambda rate: (2, HOLD))
    url = f"http://127.0.0.1:{server.server_address[1]}/v4/trackings/get"
    got = lean_reads(url, 5, connections=2, rate=2.0, max_body=4096)
    assert [(e.key, e.status, e.fault) for e in got] == [((f"N{i}",), 200, None) for i in range(5)]
    # N3's permit (N1's answer's) came back soon after N2's: it went out while N2's answer was
    # still due, not after it.
    assert server.before is True
    # Never more than two arrivals within one hold.
    times = sorted(t for _, t in server.arrivals)
    assert all(later - earlier >= HOLD for earlier, later in zip(times, times[2:], strict=False))
