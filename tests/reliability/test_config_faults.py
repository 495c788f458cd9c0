"""Odd config and environment values end in a clear error naming the key or variable (exit 3, or
2 for an option), never a traceback: non-finite and out-of-range numbers for every numeric
setting, deep nesting; values that merely look odd are accepted (a BOM, Unicode spaces around a
key, an integer id). ``config set`` holds a lock, so concurrent writers all land, and only
ever replaces a regular file."""

from __future__ import annotations

import itertools
import json
import os
import stat
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.forked import ForkServer
from waypost import config
from waypost.carriers.base import Setting
from waypost.errors import ConfigError

NUMERIC = {
    key: spec
    for key, spec in config.known_keys().items()
    if isinstance(spec, Setting) and spec.kind != "str"
}


@pytest.fixture
def path(isolated: Path) -> Path:
    return isolated / "config" / "config.toml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def toml_of(key: str, literal: str) -> str:
    section, name = key.rsplit(".", 1)
    return f"[{section}]\n{name} = {literal}\n"


def test_every_numeric_setting_is_covered() -> None:
    assert {"http.retries", "carriers.trackingmore.realtime_max", "carriers.pandapon.rate"} <= set(
        NUMERIC
    )
    assert "store.busy_timeout" in NUMERIC


@pytest.mark.parametrize("literal", ["inf", "-inf", "nan", "1e300", "-1"])
@pytest.mark.parametrize("key", sorted(NUMERIC))
def test_a_bad_number_in_the_file_names_file_line_and_key(
    key: str, literal: str, path: Path, cli
) -> None:  # type: ignore[no-untyped-def]
    write(path, toml_of(key, literal))
    with pytest.raises(ConfigError, match=rf"{path}, line 2: {key} must be"):
        config.load(env={"WAYPOST_CONFIG": str(path)})
    r = cli("carriers")
    assert r.code == 3
    assert f"{key} must be" in r.err
    assert "Traceback" not in r.err


@pytest.mark.parametrize("raw", ["inf", "nan", "-nan", "1e999", "-3", "many"])
@pytest.mark.parametrize("key", sorted(NUMERIC))
def test_a_bad_number_in_the_environment_names_the_variable(key: str, raw: str, cli) -> None:  # type: ignore[no-untyped-def]
    section, name = key.removeprefix("carriers.").rsplit(".", 1)
    variable = f"WAYPOST_{section.upper()}_{name.upper()}"
    with pytest.raises(ConfigError, match=variable):
        config.load(env={variable: raw})
    os.environ[variable] = raw
    try:
        r = cli("carriers")
    finally:
        del os.environ[variable]
    assert r.code == 3
    assert variable in r.err
    assert "Traceback" not in r.err


@pytest.mark.parametrize("raw", ["inf", "nan", "1e999"])
@pytest.mark.parametrize("key", sorted(NUMERIC))
def test_config_set_refuses_a_non_finite_number(key: str, raw: str, path: Path) -> None:
    with pytest.raises(ConfigError, match=key):
        config.set_value(path, key, raw)
    assert not path.exists()


def test_an_int_setting_needs_a_whole_number(path: Path) -> None:
    with pytest.raises(ConfigError, match=r"http\.retries must be a whole number"):
        config.set_value(path, "http.retries", "2.5")
    config.set_value(path, "http.retries", "4")
    assert config.load(env={"WAYPOST_CONFIG": str(path)}).http["retries"] == 4


@given(st.text(max_size=12))
def test_any_text_for_a_number_is_a_value_or_a_config_error(raw: str) -> None:
    spec = NUMERIC["carriers.trackingmore.realtime_max"]
    assert isinstance(spec, Setting)
    try:
        value = config._coerce_env(spec, raw)
    except (TypeError, ValueError):
        return
    assert isinstance(value, int)
    assert 0 < value <= config.DEFAULT_MAXIMUM


@pytest.mark.parametrize(
    "args",
    [
        ("track", "--timeout", "nan", "3676E4043665"),
        ("track", "--timeout", "inf", "3676E4043665"),
        ("track", "--deadline", "nan", "3676E4043665"),
        ("track", "--deadline", "1e400", "3676E4043665"),
        ("watch", "--once", "--lock-wait", "nan"),
        ("--timeout", "nan", "list"),
    ],
)
def test_a_non_finite_option_is_a_usage_error(args: tuple[str, ...], cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(*args)
    assert r.code == 2, r.err
    option = next(a for a, v in itertools.pairwise(args) if v in ("nan", "inf", "1e400"))
    assert option in r.err
    assert "Traceback" not in r.err


SPACES = ["\u00a0", "\u2009", "\u3000", "\u200b", "\ufeff", " \t"]


@pytest.mark.parametrize("space", SPACES)
def test_unicode_spaces_around_a_value_are_stripped_everywhere(space: str, path: Path) -> None:
    write(path, f'[carriers.trackingmore]\napi_key = "{space}file-key-1234{space}"\n')
    cfg = config.load(env={"WAYPOST_CONFIG": str(path)})
    assert cfg.carrier("trackingmore")["api_key"] == "file-key-1234"
    env = {"WAYPOST_CONFIG": str(path), "WAYPOST_TRACKINGMORE_API_KEY": f"env-key-5678{space}"}
    assert config.load(env=env).carrier("trackingmore")["api_key"] == "env-key-5678"
    config.set_value(path, "carriers.ils.pdd", f"{space}set-key-9012{space}")
    assert config.load(env={"WAYPOST_CONFIG": str(path)}).carrier("ils")["pdd"] == "set-key-9012"
    env = {"WAYPOST_CONFIG": str(path), "WAYPOST_HTTP_RETRIES": f"{space}2{space}"}
    assert config.load(env=env).http["retries"] == 2


def test_a_value_of_only_spaces_in_the_environment_is_unset(path: Path) -> None:
    env = {"WAYPOST_CONFIG": str(path), "WAYPOST_HTTP_RETRIES": "\u00a0 "}
    assert config.load(env=env).http["retries"] == 3


def test_a_utf8_bom_is_accepted_and_not_written_back(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b'\xef\xbb\xbf[carriers.ils]\r\nuser_id = "7"\r\n')
    path.chmod(0o600)
    assert config.load(env={"WAYPOST_CONFIG": str(path)}).carrier("ils")["user_id"] == "7"
    config.set_value(path, "carriers.ils.pdd", "secret-1234")
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert config.load(env={"WAYPOST_CONFIG": str(path)}).carrier("ils")["user_id"] == "7"


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "[" * 20_000 + "]" * 20_000 + "\n",
        "x = " + "{a = " * 20_000 + "1" + "}" * 20_000 + "\n",
        "[watch]\nnotify = " + "[" * 20_000 + "\n",
    ],
    ids=["arrays", "inline tables", "unclosed"],
)
def test_deep_nesting_is_a_clear_error_and_the_file_is_kept(text: str, path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    write(path, text)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match=str(path)):
        config.load(env={"WAYPOST_CONFIG": str(path)})
    r = cli("config", "set", "watch.interval", "15m")
    assert r.code == 3
    assert "Traceback" not in r.err
    assert str(path) in r.err
    assert path.read_bytes() == before


def test_an_integer_id_written_by_hand_is_accepted(path: Path) -> None:
    write(path, "[carriers.ils]\nuser_id = 1\n[carriers.pandapon]\nuser_id = 20240001\n")
    cfg = config.load(env={"WAYPOST_CONFIG": str(path)})
    assert cfg.carrier("ils")["user_id"] == "1"
    assert cfg.carrier("pandapon")["user_id"] == "20240001"
    write(path, "[carriers.ils]\npdd = 1234\n")  # a secret is text, a number there is a slip
    with pytest.raises(ConfigError, match=r"carriers\.ils\.pdd must be a string"):
        config.load(env={"WAYPOST_CONFIG": str(path)})


def value_for(spec: Setting | tuple[type, str], key: str, index: int) -> str:
    if not isinstance(spec, Setting):
        return {"watch.notify": "json://localhost/x", "watch.interval": "15m"}.get(key, "true")
    if spec.kind == "int":
        return str(index + 1)
    if spec.kind == "float":
        return f"{index + 1}.5"
    if spec.key == "base_url":
        return f"http://127.0.0.1:9/{index}"
    if spec.key == "timezone":
        return "UTC"
    if spec.choices:
        return spec.choices[-1]
    return f"value-{index}"


# A child of the warm interpreter of tests/forked.py (which has the CLI and everything a command
# imports loaded) forks one writer per command; the writers wait on a pipe and start at once
# when it closes. Each is a process of its own (its own lock, file handles and exit status),
# without paying twenty interpreter start-ups. The child runs this before waypost would, and
# leaves without running it.
FORKED_WRITERS = textwrap.dedent(
    """
    import json, os, sys
    from waypost.cli import main
    out = {out!r}
    with open(f"{{out}}/commands.json") as fh:
        commands = json.load(fh)
    target = os.environ["WAYPOST_CONFIG"]  # the first command once on a file of its own first:
    os.environ["WAYPOST_CONFIG"] = f"{{out}}/warm-up.toml"  # what it imports is then loaded
    assert main(commands[0]) == 0
    os.environ["WAYPOST_CONFIG"] = target
    go_read, go_write = os.pipe()
    pids = []
    for i, argv in enumerate(commands):
        pid = os.fork()
        if pid == 0:
            os.close(go_write)
            os.read(go_read, 1)
            for fd, name in ((1, "out"), (2, "err")):
                os.dup2(os.open(f"{{out}}/{{i}}.{{name}}", os.O_WRONLY | os.O_CREAT, 0o600), fd)
            code = main(argv)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        pids.append(pid)
    os.close(go_read)
    os.close(go_write)
    exits = [(pid, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])) for pid in pids]
    with open(f"{{out}}/exits.json", "w") as fh:
        json.dump(exits, fh)
    os._exit(0)
    """
)


def test_twenty_concurrent_config_sets_all_land(
    path: Path, tmp_path: Path, forker: ForkServer
) -> None:
    keys = [k for k in config.known_keys() if k != "carriers.trackingmore.api"][:20]
    assert len(keys) == 20
    env = {**os.environ, "WAYPOST_CONFIG": str(path)}
    commands = [
        ["config", "set", key, value_for(spec, key, i)]
        for i, (key, spec) in enumerate((k, config.known_keys()[k]) for k in keys)
    ]
    streams = tmp_path / "streams"
    streams.mkdir()
    (streams / "commands.json").write_text(json.dumps(commands))
    writers = forker.run(
        "--version", env=env, preexec=FORKED_WRITERS.format(out=str(streams)), timeout=120
    )
    assert writers.code == 0, writers.err
    exits = json.loads((streams / "exits.json").read_text())
    assert len({pid for pid, _ in exits}) == 20  # twenty processes of their own
    results = [(code, (streams / f"{i}.err").read_text()) for i, (_, code) in enumerate(exits)]
    assert all(code == 0 for code, _ in results), results
    data, _ = config.read_file(path)
    for key in keys:
        node = data
        for part in key.split("."):
            assert part in node, (key, sorted(data))
            node = node[part]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]


def test_a_symlink_is_followed_to_its_regular_file(path: Path, tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "waypost.toml"
    write(real, '[carriers.ils]\nuser_id = "7"\n').chmod(0o644)
    path.parent.mkdir(parents=True)
    path.symlink_to(real)
    config.set_value(path, "carriers.ils.pdd", "secret-1234")
    assert path.is_symlink()
    assert path.resolve() == real
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert config.load(env={"WAYPOST_CONFIG": str(path)}).carrier("ils")["user_id"] == "7"


def test_a_dangling_symlink_gets_a_new_regular_file(path: Path, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere" / "new.toml"
    path.parent.mkdir(parents=True)
    path.symlink_to(real)
    config.set_value(path, "watch.interval", "15m")
    assert path.is_symlink()
    assert stat.S_ISREG(real.stat().st_mode)
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


@pytest.mark.parametrize("kind", ["fifo", "directory", "loop", "fifo via symlink"])
def test_anything_but_a_regular_file_is_refused(kind: str, path: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True)
    special = tmp_path / "special"
    if kind.startswith("fifo"):
        os.mkfifo(special)
    elif kind == "directory":
        special.mkdir()
    if kind == "loop":
        path.symlink_to(path)
    elif kind == "fifo via symlink" or kind == "directory":
        path.symlink_to(special)
    else:
        path.unlink(missing_ok=True)
        os.mkfifo(path)
        special = path
    with pytest.raises(ConfigError):
        config.set_value(path, "watch.interval", "15m")
    r = cli("--config", str(path), "config", "set", "watch.interval", "15m")
    assert r.code == 3, r.err
    assert str(path) in r.err
    assert "Traceback" not in r.err
    if kind.startswith("fifo"):
        assert stat.S_ISFIFO(os.lstat(special).st_mode)
    if kind == "directory":
        assert special.is_dir()
    assert not list(path.parent.glob(".*.tmp"))


def test_a_0644_file_becomes_0600_when_set(path: Path) -> None:
    write(path, '[carriers.ils]\nuser_id = "7"\n').chmod(0o644)
    config.set_value(path, "carriers.ils.pdd", "secret-1234")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_ISREG(os.lstat(path).st_mode)


def test_a_write_error_is_a_config_error_and_the_file_is_kept(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    write(path, '[carriers.ils]\nuser_id = "7"\n')
    before = path.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ConfigError, match="No space left on device; it was not changed"):
        config.set_value(path, "carriers.ils.pdd", "secret-1234")
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]
