"""Shell completions: the checked-in files match the Typer app, and they complete for real."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from waypost import carriers
from waypost.carriers.base import Query
from waypost.models import Shipment
from waypost.store import Store

ROOT = Path(__file__).resolve().parents[2]
COMPLETIONS = ROOT / "completions"


def generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_completions", ROOT / "scripts" / "gen_completions.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_checked_in_completions_match_a_fresh_generation() -> None:
    for name, content in generator().render().items():
        assert (COMPLETIONS / name).read_text(encoding="utf-8") == content, (
            f"completions/{name} is stale: run python scripts/gen_completions.py"
        )


def bash_complete(*words: str, env: dict[str, str] | None = None) -> list[str]:
    line = " ".join(f"'{w}'" for w in words)
    script = (
        f"source {COMPLETIONS / 'waypost.bash'}; COMP_WORDS=({line}); "
        f"COMP_CWORD={len(words) - 1}; _waypost; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    )
    out = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=True, env=env
    )
    return [w for w in out.stdout.splitlines() if w]


def test_bash_completes_commands_options_and_values() -> None:
    assert bash_complete("waypost", "tr") == ["track"]
    assert "--carrier" in bash_complete("waypost", "track", "--c")
    assert sorted(bash_complete("waypost", "track", "--carrier", "")) == sorted(carriers.names())
    assert bash_complete("waypost", "--timeout", "5", "wa") == ["watch"]
    assert bash_complete("waypost", "config", "se") == ["set"]
    assert "carriers.ils.pdd" in bash_complete("waypost", "config", "set", "carriers.ils.p")
    assert bash_complete("waypost", "list", "--status", "deli") == ["delivered"]


def test_bash_completes_watched_numbers_for_remove(isolated: Path) -> None:
    with Store.open(isolated / "data") as store:
        for number in ("3676E4043665", "3676E4038521", "LS912989618CN"):
            store.add(
                [Shipment(tracking_number=number, carrier="ils", found=True)],
                Query(number, "ils"),
                None,
            )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    assert sorted(bash_complete("waypost", "remove", "3676", env=env)) == [
        "3676E4038521",
        "3676E4043665",
    ]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed here")
def test_fish_completes_commands_and_carriers() -> None:
    script = f"source {COMPLETIONS / 'waypost.fish'}; complete -C 'waypost track --carrier '"
    out = subprocess.run(["fish", "-c", script], capture_output=True, text=True, check=True).stdout
    assert sorted(line.split("\t")[0] for line in out.splitlines()) == sorted(carriers.names())


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed here")
def test_zsh_completion_parses() -> None:
    subprocess.run(["zsh", "-n", str(COMPLETIONS / "_waypost")], check=True)


# A waybill a hostile carrier sent, saved to the watch list by `import`/`track --save`.
HOSTILE_NUMBERS = ["$(touch${IFS}$HOME/X)", "`touch $HOME/Y`", "a;touch $HOME/Z", "LS9$(id)CN"]
CLEAN_NUMBERS = ["3676E4043665", "3676E4038521", "2542285634920880794"]


@pytest.fixture
def hostile_watch_list(isolated: Path) -> dict[str, str]:
    """A watch list holding hostile numbers beside clean ones; the env to complete in."""
    home = isolated / "home"
    home.mkdir()
    with Store.open(isolated / "data") as store:
        for number in [*HOSTILE_NUMBERS, *CLEAN_NUMBERS]:
            store.add(
                [Shipment(tracking_number=number, carrier="pandapon", found=True)],
                Query(number, "pandapon"),
                None,
            )
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "PATH": path, "HOME": str(home)}


def nothing_ran(env: dict[str, str]) -> None:
    assert [n for n in "XYZ" if (Path(env["HOME"]) / n).exists()] == []


def test_bash_never_evaluates_saved_numbers(hostile_watch_list: dict[str, str]) -> None:
    env = hostile_watch_list
    assert sorted(bash_complete("waypost", "remove", "", env=env)) == sorted(CLEAN_NUMBERS)
    assert bash_complete("waypost", "remove", "2542", env=env) == ["2542285634920880794"]
    assert bash_complete("waypost", "remove", "$(", env=env) == []
    nothing_ran(env)


def test_bash_remove_remote_is_a_flag(hostile_watch_list: dict[str, str]) -> None:
    env = hostile_watch_list
    assert sorted(bash_complete("waypost", "remove", "--remote", "", env=env)) == sorted(
        CLEAN_NUMBERS
    )
    assert bash_complete("waypost", "remove", "--remote", "3676E40436", env=env) == ["3676E4043665"]
    # For `carriers`, --remote still takes a value (nothing is offered after it).
    assert bash_complete("waypost", "carriers", "--remote", "", env=env) == []
    nothing_ran(env)


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed here")
def test_fish_never_evaluates_saved_numbers(hostile_watch_list: dict[str, str]) -> None:
    env = hostile_watch_list
    for line in ("waypost remove ", "waypost remove --remote "):
        script = f"source {COMPLETIONS / 'waypost.fish'}; complete -C '{line}'"
        out = subprocess.run(
            ["fish", "--no-config", "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout
        assert sorted(w.split("\t")[0] for w in out.splitlines()) == sorted(CLEAN_NUMBERS)
    nothing_ran(env)


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed here")
def test_zsh_never_evaluates_saved_numbers(hostile_watch_list: dict[str, str]) -> None:
    env = hostile_watch_list
    # Outside an interactive completion, _arguments is stubbed and compadd prints its words:
    # what is left to test is the real _waypost_numbers fetching, filtering and adding them.
    script = (
        "_arguments() { return 1 }; "
        'compadd() { [[ $1 == -a ]] && print -rl -- "${(@P)2}" }; '
        f"source {COMPLETIONS / '_waypost'}; _waypost_numbers"
    )
    out = subprocess.run(
        ["zsh", "-f", "-c", script], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert sorted(out.split()) == sorted(CLEAN_NUMBERS)
    nothing_ran(env)
