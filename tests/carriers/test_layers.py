"""The carriers layer imports only what lies below it: no module under ``waypost.carriers``
reaches up into the run (service, watch, render, cli, config, the store's backends)."""

from __future__ import annotations

import ast
from pathlib import Path

import waypost.carriers

BELOW = (
    "waypost.carriers",
    "waypost.errors",
    "waypost.http",
    "waypost.models",
    "waypost.safe",
    "waypost.status",
    "waypost.store.protocols",
)


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "waypost":
                names += [f"waypost.{a.name}" for a in node.names]
            else:
                names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return [n for n in names if n == "waypost" or n.startswith("waypost.")]


def test_no_carrier_module_imports_upward() -> None:
    root = Path(waypost.carriers.__file__).parent
    upward = {
        f"{path.relative_to(root)}: {name}"
        for path in root.rglob("*.py")
        for name in _imports(path)
        if not any(name == b or name.startswith(b + ".") for b in BELOW)
    }
    assert not upward
    assert _imports(root / "trackingmore" / "v2.py")  # the walk sees the imports at all
