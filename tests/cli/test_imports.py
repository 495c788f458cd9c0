"""The cli package stays thin: importing every one of its modules loads no network stack, no
database driver, no models and no Rich (each command imports what it needs when it runs)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import waypost.cli

HEAVY = ("httpx", "sqlite3", "pydantic", "rich", "tenacity", "waypost.store", "waypost.service")


def cli_modules() -> list[str]:
    """waypost.cli and each of its submodules, by name."""
    found = [m.name for m in pkgutil.iter_modules(waypost.cli.__path__, "waypost.cli.")]
    return ["waypost.cli", *sorted(found)]


def test_the_cli_package_has_one_module_per_command_group_and_its_env() -> None:
    names = set(cli_modules())
    expected = {"configure", "env", "manage", "options", "sandbox", "track"}
    assert {f"waypost.cli.{n}" for n in expected} <= names


def test_importing_every_cli_module_loads_neither_httpx_nor_sqlite3() -> None:
    modules = cli_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_entry_point_and_python_m_still_run_the_cli() -> None:
    for cmd in (
        [sys.executable, "-m", "waypost", "--version"],
        [sys.executable, "-m", "waypost", "schema"],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip()
