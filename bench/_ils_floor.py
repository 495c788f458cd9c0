"""The ILS floor of `bench/track.py`: a bare client, and the client cost it measures.

The bare client is what a competent script does with the fewest moving parts in Python: the
same 100-number POSTs, one ``http.client`` connection per request in threads of their own (all
at once, at most ILS's 10 in flight), each answer only ``json.loads``-ed (no records, no merge,
no output). Its CPU time gives the client cost the bound leaves out:

* per request (thread, connection, request, answer, decode) and per event (this share also
  carries each number's own fields): a least-squares fit of CPU = requests x a + events x b over
  every bare-client run of the bench: 7 pairs before the rows (10 one-number requests of a
  number the sandbox does not know, so no events; 1,000 known numbers in 10 requests) and the
  floor runs beside each ILS row, so the fit sees the load the rows saw.

"bound + cost" is then the round trip plus requests x a plus events x b.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from _sandbox import SandboxProcess

UNKNOWN = "3676E4038434"  # the sandbox's "not found" number: an answer without events
IN_FLIGHT = 10


class Cost:
    """The client cost: seconds per request and per event, fitted (least squares, no
    intercept) to every bare-client run it is given as (requests, events, CPU seconds)."""

    def __init__(self) -> None:
        self.samples: list[tuple[int, int, float]] = []

    def add(self, requests: int, events: int, cpu: float) -> None:
        """One more bare-client run."""
        self.samples.append((requests, events, cpu))

    def fit(self) -> tuple[float, float]:
        """(per request, per event) in seconds."""
        rr = sum(r * r for r, _, _ in self.samples)
        ee = sum(e * e for _, e, _ in self.samples)
        re = sum(r * e for r, e, _ in self.samples)
        rc = sum(r * c for r, _, c in self.samples)
        ec = sum(e * c for _, e, c in self.samples)
        det = rr * ee - re * re
        return (rc * ee - ec * re) / det, (ec * rr - rc * re) / det

    def of(self, requests: int, events: int) -> float:
        """Seconds of client work for ``requests`` answers carrying ``events`` events."""
        per_request, per_event = self.fit()
        return requests * per_request + events * per_event


def bare(box: SandboxProcess, numbers: list[str], batch: int = 100) -> tuple[float, float, int]:
    """(wall s, CPU s, events) of the bare client asking ``numbers``."""
    base = urlsplit(box.env["WAYPOST_ILS_BASE_URL"])
    host, port = base.hostname or "127.0.0.1", base.port or 80
    path = base.path.rstrip("/") + "/oms/v2/event/getOrdersTrack"
    auth = {"userId": box.env["WAYPOST_ILS_USER_ID"], "pdd": box.env["WAYPOST_ILS_PDD"]}
    bodies = [
        json.dumps({**auth, "method": "trackOrders", "trackingNos": numbers[i : i + batch]})
        for i in range(0, len(numbers), batch)
    ]
    events = [0]
    lock = threading.Lock()
    todo = list(bodies)

    def work() -> None:
        while True:
            with lock:
                if not todo:
                    return
                body = todo.pop()
            conn = http.client.HTTPConnection(host, port, timeout=60)
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            answer: Any = json.loads(conn.getresponse().read())
            conn.close()
            count = sum(len(item.get("billTrackList") or ()) for item in answer["body"])
            with lock:
                events[0] += count

    start, cpu = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=work) for _ in range(min(IN_FLIGHT, len(bodies)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, time.process_time() - cpu, events[0]


def measure_cost(box: SandboxProcess, known: list[str], runs: int = 7) -> Cost:
    """The bare client's cost from ``runs`` pairs of runs: 10 one-number requests of a number
    without events, and ``known`` (numbers the sandbox already knows) 100 a request."""
    cost = Cost()
    for _ in range(runs):
        _, cpu, events = bare(box, [UNKNOWN] * IN_FLIGHT, batch=1)
        cost.add(IN_FLIGHT, events, cpu)
        _, cpu, events = bare(box, known)
        cost.add(-(-len(known) // 100), events, cpu)
    return cost
