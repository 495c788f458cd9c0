"""Reading the config file: only a regular file of sane size is read (a pipe never blocks a run,
a device never feeds one without end), every key has its ``WAYPOST_<SECTION>_<KEY>`` variable,
a `watch` interval is checked where it is configured, an unknown key can be unset, and a blank
``WAYPOST_CONFIG`` is unset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from waypost import config, insights, paths
from waypost.carriers.base import Setting
from waypost.errors import ConfigError
from waypost.store import postgres

SRC = Path(config.__file__).resolve().parents[1]
# Long enough for a loaded machine to start Python; a blocked read never ends at all.
PATIENCE = 60


@pytest.fixture
def path(isolated: Path) -> Path:
    return isolated / "config" / "config.toml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def waypost(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m waypost ARGS`` in a child that is killed (TimeoutExpired) if it blocks."""

    def small() -> None:  # a read without end meets this ceiling instead of the machine's
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    child_env = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "waypost", *args],
        capture_output=True,
        text=True,
        env=child_env,
        stdin=subprocess.DEVNULL,
        timeout=PATIENCE,
        preexec_fn=small,
    )


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    pipe = tmp_path / "fifo.toml"
    os.mkfifo(pipe)
    return pipe


# -- (1) a pipe, a device, a huge file ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "via_env"),
    [(("config", "show"), False), (("carriers",), True), (("list",), True)],
)
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(
    args: tuple[str, ...], via_env: bool, fifo: Path, isolated: Path
) -> None:
    if via_env:
        r = waypost(*args, env={"WAYPOST_CONFIG": str(fifo)})
    else:
        r = waypost("--config", str(fifo), *args)
    assert r.returncode == 3, r.stderr
    assert f"{fifo} is a named pipe, not a config file" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_symlink_to_a_named_pipe_is_refused(fifo: Path, tmp_path: Path, isolated: Path) -> None:
    link = tmp_path / "link.toml"
    link.symlink_to(fifo)
    r = waypost("--config", str(link), "config", "show")
    assert r.returncode == 3, r.stderr
    assert "is a named pipe" in r.stderr


def test_a_device_without_end_is_refused_before_reading(isolated: Path) -> None:
    r = waypost("--config", "/dev/zero", "config", "show")
    assert r.returncode == 3, r.stderr
    assert "/dev/zero is a device, not a config file" in r.stderr
    assert "internal error" not in r.stderr


def test_dev_null_is_one_clear_error_without_chmod_advice() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(Path("/dev/null"))
    assert caught.value.message == "/dev/null is a device, not a config file"
    assert config._permission_warnings(Path("/dev/null")) == []


def test_a_file_over_the_limit_is_refused(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "CONFIG_MAX_BYTES", 64)
    head = "[http]\nretries = 2\n"
    write(path, head + "#" * (63 - len(head)) + "\n")  # 64 bytes: read
    assert config.load(path).http["retries"] == 2
    write(path, head + "#" * (64 - len(head)) + "\n")  # 65
    with pytest.raises(ConfigError, match="larger than 0 MiB, too large for a config file"):
        config.load(path)


def test_the_limit_is_a_few_mib(path: Path) -> None:
    assert paths.CONFIG_MAX_BYTES == 4 << 20
    write(path, "[http]\nretries = 2\n" + "#" * (4 << 20) + "\n")
    with pytest.raises(ConfigError, match="larger than 4 MiB"):
        config.load(path)


def test_the_light_readers_refuse_a_pipe_and_a_huge_file(
    fifo: Path, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"WAYPOST_CONFIG": str(fifo)}
    assert insights.light_settings(None, env) is None  # the full load then reports it
    assert paths.busy_timeout(None, env) == paths.BUSY_TIMEOUT
    assert postgres.configured_url(None, env) is None
    write(path, '[store]\nbusy_timeout = 3\nurl = "postgresql://u@h/db"\n')
    assert paths.busy_timeout(path, {}) == 3.0
    assert postgres.configured_url(path, {}) == "postgresql://u@h/db"
    monkeypatch.setattr(paths, "CONFIG_MAX_BYTES", 16)
    assert paths.busy_timeout(path, {}) == paths.BUSY_TIMEOUT
    assert postgres.configured_url(path, {}) is None


def test_read_config_text_never_opens_a_pipe_for_a_blocking_read(fifo: Path) -> None:
    with pytest.raises(paths.NotAConfigFile, match="named pipe"):
        paths.read_config_text(fifo)


# -- (2) durations are checked where they are configured ---------------------------------------


@pytest.mark.parametrize("value", ["bogus", "0", "8d"])
def test_config_set_refuses_a_bad_watch_interval(value: str, path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    write(path, '[watch]\ninterval = "15m"\n')
    r = cli("config", "set", "watch.interval", value)
    assert r.code == 3, r.err
    assert "watch.interval" in r.err
    assert config.read_file(path)[0] == {"watch": {"interval": "15m"}}


@pytest.mark.parametrize("value", ["bogus", "0", "8d"])
def test_a_bad_watch_interval_in_the_file_names_file_line_and_key(value: str, path: Path) -> None:
    write(path, f'[http]\nretries = 1\n[watch]\ninterval = "{value}"\n')
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert caught.value.message.startswith(f"{path}, line 4: watch.interval ")


def test_watch_once_reports_a_bad_interval_as_a_config_error(path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    write(path, '[watch]\ninterval = "bogus"\n')
    r = cli("watch", "--once")
    assert r.code == 3, r.err
    assert f"{path}, line 2: watch.interval" in r.err


def test_a_good_watch_interval_is_kept(path: Path) -> None:
    config.set_value(path, "watch.interval", "1h30m")
    assert config.load(path).watch["interval"] == "1h30m"


# -- (3) every key has its variable -------------------------------------------------------------

SAMPLES = {
    "watch.notify": (
        "ntfy://ntfy.sh/a json://localhost/b",
        ["ntfy://ntfy.sh/a", "json://localhost/b"],
    ),
    "watch.exec": (" /usr/local/bin/hook ", "/usr/local/bin/hook"),
    "watch.interval": ("5m", "5m"),
    "watch.stalled_after": ("3d", "3d"),
    "watch.on": ("delivered stalled", ["delivered", "stalled"]),
    "watch.archive_delivered_after": ("14d", "14d"),
    "watch.import": ("pandapon", ["pandapon"]),
    "watch.follow_legs": ("yes", True),
}


def variable(key: str) -> str:
    parts = key.split(".")
    section = parts[1] if parts[0] == "carriers" else parts[0]
    return f"WAYPOST_{section.upper()}_{parts[-1].upper()}"


def sample(key: str, spec: Setting | tuple[type, str]) -> str:
    if key in SAMPLES:
        return SAMPLES[key][0]
    assert isinstance(spec, Setting), key
    if spec.kind != "str":
        return "1"
    if spec.choices:
        return spec.choices[-1]
    return {
        "timezone": "UTC",
        "base_url": "https://example.org",
        "stalled_after": "3d",
        "url": "postgresql://u@h/db",
    }.get(spec.key, "value-1234")


def test_every_watch_key_has_a_sample() -> None:
    assert {k for k in config.known_keys() if k.startswith("watch.")} == set(SAMPLES)


@pytest.mark.parametrize("key", sorted(config.known_keys()))
def test_every_known_key_is_set_by_its_variable(key: str, path: Path) -> None:
    spec = config.known_keys()[key]
    name = variable(key)
    cfg = config.load(env={"WAYPOST_CONFIG": str(path), name: sample(key, spec)})
    assert cfg.sources[key] == f"env {name}"
    parts = key.split(".")
    values = cfg.carrier(parts[1]) if parts[0] == "carriers" else getattr(cfg, parts[0])
    assert parts[-1] in values
    if key in SAMPLES:
        assert values[parts[-1]] == SAMPLES[key][1]


def test_watch_variables_override_the_file_and_show_their_source(path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    write(path, '[watch]\ninterval = "30m"\nexec = "/bin/true"\n')
    env = {"WAYPOST_CONFIG": str(path), "WAYPOST_WATCH_INTERVAL": "5m"}
    cfg = config.load(env=env)
    assert cfg.watch == {"interval": "5m", "exec": "/bin/true"}
    assert cfg.sources["watch.interval"] == "env WAYPOST_WATCH_INTERVAL"
    assert cfg.sources["watch.exec"] == "file"
    os.environ["WAYPOST_WATCH_STALLED_AFTER"] = "3d"
    try:
        r = cli("config", "show")
    finally:
        del os.environ["WAYPOST_WATCH_STALLED_AFTER"]
    assert r.code == 0, r.err
    assert 'stalled_after = "3d"  # env WAYPOST_WATCH_STALLED_AFTER' in r.out
    assert 'exec = "/bin/true"\n' in r.out


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("WAYPOST_WATCH_INTERVAL", "bogus"),
        ("WAYPOST_WATCH_STALLED_AFTER", "100y"),
        ("WAYPOST_WATCH_ON", "delivred"),
        ("WAYPOST_WATCH_FOLLOW_LEGS", "maybe"),
    ],
)
def test_a_bad_watch_variable_names_the_variable(name: str, raw: str, path: Path) -> None:
    with pytest.raises(ConfigError, match=f"^environment variable {name} "):
        config.load(env={"WAYPOST_CONFIG": str(path), name: raw})


def test_a_blank_watch_variable_is_unset(path: Path) -> None:
    write(path, '[watch]\ninterval = "30m"\n')
    cfg = config.load(env={"WAYPOST_CONFIG": str(path), "WAYPOST_WATCH_INTERVAL": "  "})
    assert cfg.watch == {"interval": "30m"}


def test_light_settings_leave_watch_variables_to_the_full_load(path: Path) -> None:
    write(path, '[watch]\nstalled_after = "7d"\n')
    assert insights.light_settings(None, {"WAYPOST_CONFIG": str(path)}) is not None
    env = {"WAYPOST_CONFIG": str(path), "WAYPOST_WATCH_STALLED_AFTER": "2d"}
    assert insights.light_settings(None, env) is None
    assert config.load(env=env).watch["stalled_after"] == "2d"


# -- (5) an unknown key the file holds can be unset ---------------------------------------------


def test_an_unknown_key_in_the_file_can_be_unset(path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    write(path, '[carriers.ils]\nuser_id = "7"\npd = "oops"\n')
    r = cli("config", "unset", "carriers.ils.pd")
    assert r.code == 0, r.err
    assert config.load(path).carrier("ils")["user_id"] == "7"
    assert "pd" not in config.read_file(path)[0]["carriers"]["ils"]


def test_an_unknown_section_empties_away_when_its_last_key_is_unset(path: Path) -> None:
    write(path, '[carriers.ils]\nuser_id = "7"\n[extra]\nkey = 1\n')
    assert config.unset_value(path, "extra.key")
    assert config.read_file(path)[0] == {"carriers": {"ils": {"user_id": "7"}}}


def test_unset_still_refuses_an_unknown_key_not_in_the_file_and_a_whole_table(path: Path) -> None:
    write(path, '[carriers.ils]\nuser_id = "7"\npd = "oops"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'carriers\.ils\.pq'") as caught:
        config.unset_value(path, "carriers.ils.pq")
    assert "carriers.ils.pdd" in str(caught.value.hint)
    with pytest.raises(ConfigError, match=r"unknown key 'carriers\.ils'"):
        config.unset_value(path, "carriers.ils")
    with pytest.raises(ConfigError, match="unknown key"):
        config.set_value(path, "carriers.ils.pd", "x")
    assert "pd" in path.read_text()


def test_a_file_that_does_not_parse_is_not_rewritten_by_unset(path: Path) -> None:
    write(path, "[watch\ninterval = 1\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        config.unset_value(path, "watch.interval")
    assert path.read_text() == "[watch\ninterval = 1\n"


# -- (6) a blank WAYPOST_CONFIG -----------------------------------------------------------------


def test_a_blank_config_or_data_variable_is_unset() -> None:
    assert config.config_path(None, {"WAYPOST_CONFIG": "   "}) == config.default_config_path()
    assert config.config_path(None, {"WAYPOST_CONFIG": ""}) == config.default_config_path()
    assert paths.data_dir({"WAYPOST_DATA_DIR": " \t"}) == paths.data_dir({})


def test_a_symlink_loop_is_a_read_error_not_a_missing_file(tmp_path: Path) -> None:
    loop = tmp_path / "loop.toml"
    loop.symlink_to(loop)
    with pytest.raises(ConfigError, match=r"cannot read config file .*symbolic links"):
        config.load(loop)
