"""The cli package stays thin: importing every one of its modules loads no network stack, no
database driver, no models and no Rich (each command imports what it needs when it runs)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

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


def test_the_event_loop_is_started_only_in_service() -> None:
    import re
    from pathlib import Path

    package = Path(waypost.cli.__file__).resolve().parents[1]
    starts = re.compile(r"asyncio\.run\(|new_event_loop\(|run_until_complete\(|asyncio\.Runner\(")
    where = sorted(
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if starts.search(p.read_text(encoding="utf-8"))
    )
    assert where == ["service.py"]


@pytest.mark.parametrize("rich", [False, True])
@pytest.mark.parametrize("args", [["--help"], ["-h"], []])
def test_the_quick_overview_prints_exactly_the_full_apps_help(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    rich: bool,
    args: list[str],
) -> None:
    from waypost import cli

    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setattr(cli, "isatty", lambda _stream: rich)
    printed = []
    for overview in (cli.OVERVIEW, ()):
        monkeypatch.setattr(cli, "OVERVIEW", overview)
        capsys.readouterr()
        code = cli.main(list(args))
        captured = capsys.readouterr()
        printed.append((code, captured.out, captured.err))
    assert "track" in str(printed[1])
    assert "config" in str(printed[1])
    assert printed[0] == printed[1]
    assert ("─" in str(printed[1])) is rich  # Rich panels, or plain Click text
