"""The cost of a carrier, counted: the files and lines each registered adapter takes (issue 17,
"one package, one registry line, its fixtures"), and where else the code names it.

For every carrier of ``waypost.carriers.MODULES``: its package, its registry line(s), its
sandbox emulation (module and data), its recorded fixtures and its tests; then every other
source file whose code (not comments) names the carrier, with the lines that do: those are
the places a new carrier would have to touch beyond its own package (prose that names it, in
docstrings and help, is counted apart).

    python scripts/carrier_cost.py [--root .] [--json]
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import tokenize
from pathlib import Path
from typing import Any


def _lines(path: Path) -> int:
    try:
        return len(path.read_text(encoding="utf-8").splitlines())
    except UnicodeDecodeError:
        return 0


def _tally(paths: list[Path]) -> dict[str, int]:
    files = [p for p in paths if p.is_file() and "__pycache__" not in p.parts]
    return {"files": len(files), "lines": sum(_lines(p) for p in files)}


def registry(root: Path) -> dict[str, str]:
    """``MODULES`` of ``carriers/__init__.py``, read without importing it."""
    tree = ast.parse((root / "src/waypost/carriers/__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "MODULES" for t in targets):
                value = ast.literal_eval(node.value)  # type: ignore[arg-type]
                return {str(k): str(v) for k, v in value.items()}
    raise SystemExit("no MODULES registry in src/waypost/carriers/__init__.py")


def mentions(path: Path, name: str) -> tuple[list[int], list[int]]:
    """Lines of ``path`` naming ``name`` as a word: (code, prose). Code is an identifier or a
    short string without spaces (``"ils"``, ``"carriers.ils.pdd"``, ``ACCOUNT = "..."``): a
    place that knows the carrier. Prose is any other string (docstrings, help, examples).
    Comments do not count."""
    word = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])")
    code: set[int] = set()
    prose: set[int] = set()
    text = path.read_text(encoding="utf-8")
    if not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text):  # no token of it names it
        return [], []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.NAME and token.string == name:
            code.add(token.start[0])
        elif token.type == tokenize.STRING and word.search(token.string):
            body = token.string.strip("rbuRBUfF").strip("\"'")
            if " " not in body and len(body) <= 60 and "\n" not in body:
                code.add(token.start[0])
            else:
                prose.update(range(token.start[0], token.end[0] + 1))
    return sorted(code), sorted(prose - code)


def count(root: Path) -> dict[str, Any]:
    """Everything the table shows, as data."""
    src = root / "src" / "waypost"
    modules = registry(root)
    registry_text = (src / "carriers" / "__init__.py").read_text(encoding="utf-8").splitlines()
    result: dict[str, Any] = {}
    for name in modules:
        package = src / "carriers" / name
        sandbox = [*src.glob(f"sandbox/{name}*.py"), *src.glob(f"sandbox/data/{name}_*")]
        own = {p.resolve() for p in [*package.rglob("*.py"), *sandbox]}
        elsewhere: dict[str, list[int]] = {}
        prose = 0
        for path in sorted(src.rglob("*.py")):
            if path.resolve() in own or path == src / "carriers" / "__init__.py":
                continue
            code, text = mentions(path, name)
            prose += len(text)
            if code:
                elsewhere[str(path.relative_to(root))] = code
        result[name] = {
            "package": _tally(sorted(package.rglob("*.py"))),
            "registry_lines": sum(f'"{name}"' in line for line in registry_text),
            "sandbox": _tally(sandbox),
            "fixtures": _tally(sorted((root / "tests" / "fixtures" / name).rglob("*"))),
            "tests": _tally(sorted((root / "tests" / "carriers" / name).rglob("*.py"))),
            "elsewhere": elsewhere,
            "prose_lines_elsewhere": prose,
        }
    return result


def table(result: dict[str, Any]) -> str:
    """The counts as a Markdown table, then the other files that name each carrier."""
    out = [
        "| carrier | package files/lines | registry lines | sandbox files/lines | "
        "fixtures files/lines | tests files/lines | other src files whose code names it (lines) "
        "| prose lines elsewhere |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, c in result.items():
        other = sum(len(v) for v in c["elsewhere"].values())

        def pair(key: str, c: dict[str, Any] = c) -> str:
            return f"{c[key]['files']} / {c[key]['lines']}"

        out.append(
            f"| {name} | {pair('package')} | {c['registry_lines']} | {pair('sandbox')} | "
            f"{pair('fixtures')} | {pair('tests')} | {len(c['elsewhere'])} ({other}) | "
            f"{c['prose_lines_elsewhere']} |"
        )
    for name, c in result.items():
        if c["elsewhere"]:
            out.append(f"\n{name} is named by the code of:")
            for path, hits in c["elsewhere"].items():
                shown = ", ".join(map(str, hits[:12])) + (" ..." if len(hits) > 12 else "")
                out.append(f"  {path}: lines {shown}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--json", action="store_true", help="the counts as JSON")
    args = parser.parse_args()
    result = count(args.root.resolve())
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
