"""Count the test suite's assertions, to show that making it faster weakened nothing.

Two numbers for a checkout (default: this one):

* ``statements``: the ``assert`` statements and ``pytest.raises``/``pytest.warns`` blocks in every
  module under ``tests/`` (helpers included);
* ``per test``: the sum, over every collected test (``pytest --collect-only``, so each
  parametrized case counts), of the assertions written in its own function body (nested
  functions too, e.g. a hypothesis ``check``).

Usage: ``python scripts/count_asserts.py [CHECKOUT ...]`` (each with a ``tests/`` directory);
several checkouts are printed side by side.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path


def _asserts(node: ast.AST) -> int:
    """Assertions inside ``node``: assert statements and pytest.raises/warns blocks."""
    count = 0
    for sub in ast.walk(node):
        if isinstance(sub, ast.Assert):
            count += 1
        elif isinstance(sub, ast.With | ast.AsyncWith):
            for item in sub.items:
                call = item.context_expr
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in {"raises", "warns"}
                ):
                    count += 1
    return count


def _functions(path: Path) -> dict[str, int]:
    """Top-level function and ``Class.method`` names of a module -> their assertions."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.name] = _asserts(node)
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                    found[f"{node.name}.{sub.name}"] = _asserts(sub)
    return found


def count(checkout: Path) -> dict[str, int]:
    """The numbers for one checkout."""
    modules = sorted((checkout / "tests").rglob("*.py"))
    statements = sum(_asserts(ast.parse(p.read_text(encoding="utf-8"))) for p in modules)
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-o", "addopts=-q"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    ids = [line for line in listed.stdout.splitlines() if "::" in line]
    per_file: dict[str, dict[str, int]] = {}
    per_test = 0
    missing: Counter[str] = Counter()
    for node_id in ids:
        file, _, rest = node_id.partition("::")
        name = rest.split("[", 1)[0].replace("::", ".")
        if file not in per_file:
            per_file[file] = _functions(checkout / file)
        if name in per_file[file]:
            per_test += per_file[file][name]
        else:
            missing[file] += 1
    return {
        "tests": len(ids),
        "statements": statements,
        "per test": per_test,
        "tests not found by name": sum(missing.values()),
    }


def main() -> int:
    """Print the numbers of each checkout given (default: this one)."""
    roots = [Path(a) for a in sys.argv[1:]] or [Path(__file__).resolve().parent.parent]
    results = [count(root) for root in roots]
    keys = list(results[0])
    print("\t".join(["", *map(str, roots)]))
    for key in keys:
        print("\t".join([key, *(str(r[key]) for r in results)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
