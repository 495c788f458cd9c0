"""What the lean-path tests of every carrier share: the outputs compared on both paths, and the
probe that prints a fresh ``waypost`` process's modules."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from waypost import lean_json, render
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
