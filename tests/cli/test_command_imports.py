"""What each quick command may import (issue 20, start-up): each runs in a fresh interpreter
and reports ``sys.modules`` at its end, so a module-level import that creeps back in fails here
before it shows in `bench/startup.py`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from waypost.sandbox import Sandbox

REPORT = (
    "import sys\n"
    "from waypost.__main__ import main\n"
    "sys.argv = ['waypost', *sys.argv[1:]]\n"
    "code = main()\n"
    "sys.stdout.flush()\n"
    "loaded = sorted(m for m, v in sys.modules.items() if v is not None)\n"
    "sys.stderr.write('\\nMODULES ' + ' '.join(loaded) + '\\n')\n"
    "sys.exit(code)\n"
)

# Never needed to list commands, show the configuration or the carriers.
NETWORK = ("httpx", "httpcore", "anyio", "asyncio", "ssl", "tenacity")
MODELS = ("pydantic", "pydantic_core", "waypost.models")
STORE = ("sqlite3", "waypost.store.sqlite")
# Rich draws help panels and tables only on a terminal; these runs write to pipes.
TERMINAL = ("rich", "pygments", "markdown_it")


def loaded(*args: str) -> set[str]:
    """The modules loaded by one `waypost *args` run (stdout and stderr are pipes)."""
    done = subprocess.run(
        [sys.executable, "-c", REPORT, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stderr
    line = done.stderr.rsplit("MODULES ", 1)[1]
    return set(line.split())


def present(modules: set[str], *groups: tuple[str, ...]) -> list[str]:
    """The names of ``groups`` found among ``modules`` (packages by their top name)."""
    names = [n for group in groups for n in group]
    return sorted(n for n in names if n in modules)


@pytest.mark.parametrize("args", [["--help"], ["config", "path"], ["config", "show"]])
def test_help_and_config_load_no_network_models_store_or_rich(args: list[str]) -> None:
    modules = loaded(*args)
    assert present(modules, NETWORK, MODELS, STORE, TERMINAL) == []


def test_config_show_without_a_file_loads_no_toml_parser() -> None:
    assert "tomllib" not in loaded("config", "show")


def test_a_config_subcommand_alone_answers_as_the_whole_app_does(
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from waypost import cli as package

    app, prog, rest = package._single(["config", "show", "--json"], None)
    assert (len(app.registered_commands), prog, rest) == (1, "waypost config show", ["--json"])
    cases = (
        ["config", "show"],
        ["config", "show", "--json"],
        ["config", "show", "--help"],
        ["config", "path"],
        ["config", "show", "--bogus"],
        ["config", "nope"],
    )
    alone = [cli(*args) for args in cases]
    monkeypatch.setattr(
        package, "_single_of_group", lambda args, _m: (package.app, "waypost", args)
    )
    whole = [cli(*args) for args in cases]
    assert alone == whole
    assert [o.code for o in alone] == [0, 0, 0, 0, 2, 2]


def test_carriers_loads_no_network_models_or_store() -> None:
    assert present(loaded("carriers"), NETWORK, MODELS, STORE, TERMINAL) == []


def test_list_reads_the_store_without_network_or_models(cli) -> None:  # type: ignore[no-untyped-def]
    modules = loaded("list")
    assert "sqlite3" in modules
    assert present(modules, NETWORK, MODELS, TERMINAL) == []
    # Its rows are plain tuples: the protocols and the Watched dataclass are never built.
    assert "waypost.store.rows" in modules
    assert "waypost.store.protocols" not in modules


def test_track_of_one_number_loads_no_rich_and_no_store_driver_for_nothing(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "WAYPOST_LEAN", "0"
    )  # the model path (the lean one: tests/cli/test_lean_track.py)
    modules = loaded("track", "3676E4043665")
    assert "httpx" in modules
    assert "waypost.models" in modules
    assert present(modules, TERMINAL) == []
    assert "httpx._main" not in modules  # httpx's command line (click, rich, pygments)
