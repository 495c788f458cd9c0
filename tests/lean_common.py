"""What the lean-path tests of every carrier share: the outputs compared on both paths, the
probe that prints a fresh ``waypost`` process's modules, and v4 reads through ``get_all``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from waypost import lean_http, lean_json, quick_tm, render
from waypost.http import MAX_BODY
from waypost.render import Terminal

TERM = Terminal(tz=ZoneInfo("Europe/Berlin"), now=datetime(2026, 12, 1, tzinfo=UTC))

# ``python -c MODULES track ...``: a ``waypost`` run that writes its loaded modules to stderr.
MODULES = (
    "import sys\n"
    "from waypost.__main__ import main\n"
    "sys.argv = ['waypost', *sys.argv[1:]]\n"
    "code = main()\n"
    "sys.stdout.flush()\n"
    "sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n')\n"
    "sys.exit(code)\n"
)


def loaded_modules(argv: list[str], env: dict[str, str]) -> tuple[str, set[str]]:
    """(stdout, the modules loaded) of one fresh `waypost ARGV` process run under ``env``
    (``MODULES``), which must succeed."""
    done = subprocess.run(
        [sys.executable, "-c", MODULES, *argv],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, set(done.stderr.rsplit("MODULES ", 1)[1].split())


def outputs(shipments: list[Any], *, models: bool) -> tuple[str, str, str]:
    """(--json document, --jsonl lines, plain text) of ``shipments``: models through ``render``,
    lean records through ``lean_json`` (checked against ``json.dumps`` of their data)."""
    plain = io.StringIO()
    render.plain_track(shipments, TERM, plain, {})
    if models:
        return render.json_document(shipments), render.json_lines(shipments), plain.getvalue()
    data = [s.data() for s in shipments]
    document = lean_json.document(shipments)
    assert document == json.dumps({"schema": 2, "shipments": data}, ensure_ascii=False, indent=2)
    return document, render.data_lines(data), plain.getvalue()


def lean_reads(
    url: str,
    count: int = 1,
    timeout: float = 5.0,
    *,
    connections: int = 1,
    rate: float = 100.0,
    max_body: int = MAX_BODY,
) -> list[lean_http.Exchange]:
    """The exchanges of ``count`` v4 reads of N0, N1, ... (``quick_tm.get_all``), in order."""
    origin = lean_http.Origin(url, tls=True)
    got: list[lean_http.Exchange] = []
    targets = [
        ((f"N{i}",), f"{origin.target}?tracking_numbers=N{i}".encode()) for i in range(count)
    ]

    def keep(exchange: lean_http.Exchange) -> bool:
        got.append(exchange)
        return True

    quick_tm.get_all(
        origin,
        "key",
        targets,
        timeout=timeout,
        connections=connections,
        max_body=max_body,
        rate=rate,
        on_exchange=keep,
    )
    return got
