"""When the sandbox counts a request as arrived: on Linux, when the kernel received the bytes
of its request line (a thread that came to read them later, behind other threads' work, does
not make the answer later; a real server has cores of its own); elsewhere, over TLS or on a
test's clock, when its thread read the line."""

from __future__ import annotations

import select
import socket
import sys
import time
import urllib.request

import pytest

from waypost.sandbox import Sandbox
from waypost.sandbox import server as sandbox_server

linux = pytest.mark.skipif(sys.platform != "linux", reason="SO_TIMESTAMPNS is Linux's")


@linux
def test_a_read_says_when_the_kernel_received_its_bytes() -> None:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    listening.setsockopt(socket.SOL_SOCKET, sandbox_server._SO_TIMESTAMPNS, 1)
    client = socket.create_connection(listening.getsockname())
    taken, _ = listening.accept()  # inherits the option
    try:
        sent = time.time()
        client.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert select.select([taken], [], [], 5.0)[0]  # received (a deadline, not a sleep)
        before_read = time.time()
        reads = sandbox_server._StampedReads(taken)
        buffer = bytearray(64)
        assert reads.readinto(buffer) == 18
        assert reads.received is not None
        assert sent <= reads.received <= before_read  # the kernel's time, not the read's
    finally:
        client.close()
        taken.close()
        listening.close()


@linux
def test_a_request_read_late_is_logged_when_it_came() -> None:
    # The request comes while this thread holds the interpreter (a sort runs in C and lets no
    # other thread in), so the sandbox's threads can read it only after the sort: its log
    # entry still says it came before.
    import random

    box = Sandbox(port=0).start()
    try:
        key = box.env()["WAYPOST_TRACKINGMORE_API_KEY"]
        values = [random.random() for _ in range(400_000)]
        with socket.create_connection(("127.0.0.1", box.port)) as client:
            head = f"GET /trackingmore/v4/couriers/all HTTP/1.1\r\nHost: a\r\nTracking-Api-Key: {key}\r\n\r\n"
            sent = time.monotonic()
            client.sendall(head.encode())
            values.sort()
            held = time.monotonic() - sent
            assert client.recv(65536).startswith(b"HTTP/1.1 200")
        (entry,) = box.entries("trackingmore")
        late = box.started + entry.t - sent
        assert late < held / 2, (late, held)
    finally:
        box.stop()


def test_the_line_is_stamped_as_read_on_a_test_clock() -> None:
    # A test's clock is not the kernel's: the stamp is its time when the line was read.
    now = [500.0]
    box = Sandbox(port=0, clock=lambda: now[0]).start()
    try:
        key = box.env()["WAYPOST_TRACKINGMORE_API_KEY"]
        url = f"{box.base_url}/trackingmore/v4/couriers/all"
        request = urllib.request.Request(url, headers={"Tracking-Api-Key": key})  # noqa: S310
        now[0] = 512.0
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 (loopback)
            answer.read()
        (entry,) = box.entries("trackingmore")
        assert box.started + entry.t == 512.0
    finally:
        box.stop()
