"""The prompts of ``config set`` and ``config init`` (README, "Configuration"): on stderr, the
end of input is a usage error (not an interrupt), a blank ``config set`` answer is refused,
and ``init`` refuses an unwritable file before asking anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import loopback
from waypost import carriers
from waypost.sandbox import Sandbox


def config_file(isolated: Path) -> Path:
    return isolated / "config" / "config.toml"


def questions() -> int:
    """How many questions ``config init`` asks."""
    return sum(
        len(i.credentials) + sum(1 for s in i.settings if s.choices) for i in carriers.infos()
    )


@pytest.mark.parametrize("stdin", ["", "   \n", "\n"], ids=["end of input", "blank", "empty"])
def test_config_set_refuses_no_answer(isolated: Path, cli: Any, stdin: str) -> None:
    r = cli("config", "set", "carriers.ils.pdd", stdin=stdin)
    assert r.code == 2, r.err
    assert "waypost: error: no value given for carriers.ils.pdd; nothing was changed" in r.err
    assert "interrupted" not in r.err
    assert r.out == ""
    assert not config_file(isolated).exists()


def test_config_set_keeps_the_old_value_when_no_answer_comes(isolated: Path, cli: Any) -> None:
    assert cli("config", "set", "carriers.ils.pdd", stdin="first-secret-value\n").code == 0
    r = cli("config", "set", "carriers.ils.pdd", stdin="")
    assert r.code == 2
    assert 'pdd = "first-secret-value"' in config_file(isolated).read_text()


@pytest.mark.parametrize("answered", [0, 1, 3], ids=lambda n: f"{n} answered")
def test_config_init_at_the_end_of_input_saves_nothing_and_says_so(
    isolated: Path, cli: Any, answered: int
) -> None:
    stdin = "".join(f"answer-{n}\n" for n in range(answered))
    r = cli("config", "init", stdin=stdin)
    assert r.code == 2, r.err
    path = config_file(isolated)
    assert f"the input ended before the last question; nothing was saved to {path}" in r.err
    assert "hint: an empty line skips a question" in r.err
    assert "interrupted" not in r.err
    assert not path.exists()


def test_config_init_asks_on_stderr_and_empty_lines_skip(isolated: Path, cli: Any) -> None:
    r = cli("config", "init", "--no-check", stdin="\n" * questions())
    assert r.code == 0, r.err
    assert r.out == ""  # the prompts are not data
    assert "  user_id (" in r.err
    assert "  api_key (" in r.err
    assert "saved" in r.err
    assert config_file(isolated).exists()


def test_config_init_refuses_an_unwritable_file_before_asking(
    isolated: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = isolated / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("WAYPOST_CONFIG", str(blocker / "config.toml"))
    r = cli("config", "init", stdin="\n" * questions())
    assert r.code == 3, r.err
    assert str(blocker) in r.err
    assert "user_id" not in r.err
    assert "Configuring" not in r.err


def test_config_init_refuses_a_directory_it_cannot_write_in_before_asking(
    isolated: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_: object, **__: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refused)  # root may write anywhere a test can make
    r = cli("config", "init", stdin="\n" * questions())
    assert r.code == 3, r.err
    assert "Permission denied; nothing was asked" in r.err
    assert "user_id" not in r.err


def test_config_init_hint_names_commands_that_check_without_asking_again(
    isolated: Path, cli: Any
) -> None:
    answers: list[str] = []
    for info in carriers.infos():
        for s in info.credentials:
            answers.append(
                f"{info.name}-{s.key}-value-0123456789" if info.name != "trackingmore" else ""
            )
        answers += [""] * sum(1 for s in info.settings if s.choices)
    r = cli("config", "init", "--no-check", stdin="\n".join(answers) + "\n")
    assert r.code == 0, r.err
    assert "config init --check" not in r.err
    assert "`waypost carriers --check pandapon`" in r.err
    assert "`waypost track ils:" in r.err


def accept(sandbox: Sandbox, recipe: str) -> None:
    r = loopback.post(
        f"{sandbox.base_url}/_sandbox/pandapon/config", json={"signature": recipe}, timeout=5
    )
    assert r.json() == {"ok": True, "signature": recipe}


def test_a_pin_from_the_environment_names_the_variable_not_config_set(
    sandbox: Sandbox, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    accept(sandbox, "concat")
    monkeypatch.setenv("WAYPOST_PANDAPON_SIGNATURE", "pairs")
    r = cli("carriers", "--check", "pandapon")
    assert r.code == 3
    assert (
        "WAYPOST_PANDAPON_SIGNATURE pins 'pairs', which the account refuses: "
        "set WAYPOST_PANDAPON_SIGNATURE=concat (or auto), or unset it"
    ) in r.out
    assert "config set" not in r.out
