"""README, "Usage": every command takes the global options before or after its name; the
``config`` and ``store`` subcommands (and ``schema``) too, ``--version`` included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from waypost import __version__

GLOBAL = {
    "--config",
    "--timeout",
    "--color",
    "--no-color",
    "-q",
    "--quiet",
    "-v",
    "--verbose",
    "--debug",
    "--version",
}


def commands() -> list[tuple[str, Any]]:
    """Every command and group of the whole app, by its path (``config show``)."""
    from typer.main import get_command

    from waypost.cli import _app

    found: list[tuple[str, Any]] = []

    def walk(command: Any, path: str) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(get_command(_app()), "")
    return found


def test_every_command_but_sandbox_declares_every_global_option() -> None:
    seen = {}
    for path, command in commands():
        if path == "sandbox":  # its own few options (README, "Sandbox")
            continue
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        seen[path or "waypost"] = sorted(GLOBAL - options)
    assert {"config show", "config init", "store migrate", "store copy", "schema"} <= set(seen)
    assert {path: missing for path, missing in seen.items() if missing} == {}


AFTER = [
    ["--no-color"],
    ["--timeout", "5"],
    ["-q"],
    ["-v"],
    ["--debug"],
    ["--color", "never"],
    ["--config", "PATH"],
]


@pytest.mark.parametrize("option", AFTER, ids=lambda o: o[0])
@pytest.mark.parametrize(
    "command", [["config", "show"], ["config", "path"], ["store", "migrate"], ["schema"]]
)
def test_global_options_after_a_subcommand(
    isolated: Path, cli: Any, command: list[str], option: list[str]
) -> None:
    other = isolated / "other.toml"
    other.write_text('[watch]\ninterval = "15m"\n', encoding="utf-8")
    given = [str(other) if o == "PATH" else o for o in option]
    r = cli(*command, *given)
    assert r.code == 0, r.err
    assert "No such option" not in r.err
    if command == ["config", "path"] and option[0] == "--config":
        assert r.out == f"{other}\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["config", "--version"],
        ["config", "show", "--version"],
        ["config", "set", "watch.interval", "--version"],
        ["store", "--version"],
        ["store", "migrate", "--version"],
        ["store", "copy", "--version"],
        ["schema", "--version"],
    ],
)
def test_version_after_any_command_prints_it(isolated: Path, cli: Any, argv: list[str]) -> None:
    r = cli(*argv)
    assert (r.code, r.out, r.err) == (0, f"waypost {__version__}\n", "")
    assert not (isolated / "config" / "config.toml").exists()


def test_the_options_after_a_config_subcommand_take_effect(isolated: Path, cli: Any) -> None:
    loud = cli("config", "set", "watch.interval", "15m")
    assert loud.code == 0
    assert "set watch.interval = 15m" in loud.err
    quiet = cli("config", "set", "watch.interval", "20m", "-q")
    assert (quiet.code, quiet.err) == (0, "")
    elsewhere = isolated / "elsewhere.toml"
    assert cli("config", "set", "watch.interval", "25m", "--config", str(elsewhere)).code == 0
    assert 'interval = "25m"' in elsewhere.read_text()
    bad = cli("config", "show", "--timeout", "0")
    assert bad.code == 2
    assert "--timeout" in bad.err
    assert cli("store", "-q", "migrate").code == 0  # the group's options, before the subcommand
    assert cli("store", "migrate", "-q").err == ""
