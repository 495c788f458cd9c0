"""``scripts/carrier_cost.py`` counts a carrier's package, registry line, sandbox, fixtures and
tests, and tells code that names it elsewhere from prose that does."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("carrier_cost", ROOT / "scripts/carrier_cost.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_made_up_carrier_is_counted_file_by_file(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "src/waypost/carriers/__init__.py": 'MODULES: dict[str, str] = {\n    "acme": "x",\n}\n',
            "src/waypost/carriers/acme/__init__.py": "INFO = 1\n",
            "src/waypost/carriers/acme/api.py": "a = 1\nb = 2\n",
            "src/waypost/sandbox/acme.py": "class App:\n    pass\n",
            "src/waypost/sandbox/data/acme_demo.json": "{}\n",
            "tests/fixtures/acme/answer.json": "{\n}\n",
            "tests/carriers/acme/test_api.py": "def test() -> None:\n    pass\n",
            "src/waypost/quota.py": (
                '"""Only acme has a quota,\nso this docstring names it."""\n'
                'ACCOUNT = "acme"  # acme in a comment does not count\n'
                "from waypost.carriers import acme\n"
                'HELP = "ask acme for it"\n'
                'OTHER = "acme-like"\n'
            ),
        },
    )
    counted = _script().count(tmp_path)["acme"]
    assert counted["package"] == {"files": 2, "lines": 3}
    assert counted["registry_lines"] == 1
    assert counted["sandbox"] == {"files": 2, "lines": 3}
    assert counted["fixtures"] == {"files": 1, "lines": 2}
    assert counted["tests"] == {"files": 1, "lines": 2}
    assert counted["elsewhere"] == {"src/waypost/quota.py": [3, 4]}
    assert counted["prose_lines_elsewhere"] == 3  # the docstring's two lines and HELP


def test_every_registered_carrier_has_one_registry_line_and_a_sandbox() -> None:
    from waypost import carriers

    counted = _script().count(ROOT)
    assert list(counted) == carriers.names()
    for name, c in counted.items():
        assert c["registry_lines"] == 1, name
        assert c["package"]["files"] >= 2, name
        assert c["sandbox"]["files"] >= 1, name  # the sandbox's apps come from the registry
    table = _script().table(counted)
    assert table.splitlines()[0].startswith("| carrier | package files/lines | registry lines")
