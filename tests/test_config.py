"""Config: location, env overrides, validation errors with file/line/key, atomic 0600 writes,
masking, and the `config` commands."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waypost import config
from waypost.errors import ConfigError


@pytest.fixture
def path(isolated: Path) -> Path:
    return isolated / "config" / "config.toml"


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_location_precedence(tmp_path: Path) -> None:
    explicit = tmp_path / "x.toml"
    assert config.config_path(explicit, {"WAYPOST_CONFIG": "/env.toml"}) == explicit
    assert config.config_path(None, {"WAYPOST_CONFIG": "/env.toml"}) == Path("/env.toml")
    assert config.config_path(None, {}).name == "config.toml"
    assert "waypost" in str(config.config_path(None, {}))


def test_env_overrides_file_and_defaults_apply(path: Path) -> None:
    write(path, '[carriers.ils]\nuser_id = "7"\npdd = "from-file-secret"\n')
    cfg = config.load(env={"WAYPOST_CONFIG": str(path), "WAYPOST_ILS_PDD": "from-env-secret"})
    ils = cfg.carrier("ils")
    assert ils["user_id"] == "7"
    assert ils["pdd"] == "from-env-secret"
    assert ils["base_url"] == "http://106.52.44.213:8485"
    assert ils["timezone"] == "Asia/Shanghai"
    assert cfg.sources["carriers.ils.pdd"] == "env WAYPOST_ILS_PDD"
    assert cfg.sources["carriers.ils.user_id"] == "file"
    assert cfg.configured("ils")


def test_missing_credentials_are_reported_per_key(path: Path) -> None:
    write(path, '[carriers.ils]\nuser_id = "7"\n')
    cfg = config.load(env={"WAYPOST_CONFIG": str(path)})
    assert [s.key for s in cfg.missing("ils")] == ["pdd"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[carriers.ils\nuser_id = 1", "invalid TOML"),
        ('[carriers.ils]\nuser_id = "1"\npdd = 5\n', "line 3: carriers.ils.pdd must be a string"),
        (
            '[carriers.ils]\nuser_id = "1"\ncolour = "x"\n',
            "line 3: unknown key carriers.ils.colour",
        ),
        ('[carriers.nope]\nkey = "x"\n', "line 1: unknown carrier 'nope'"),
        ('[carriers.ils]\nbase_url = "ftp://x"\n', "line 2: carriers.ils.base_url must be an http"),
        ('[carriers.ils]\ntimezone = "Mars/Base"\n', "unknown time zone 'Mars/Base'"),
        ("[wat]\nx = 1\n", "line 1: unknown section or key 'wat'"),
        ("carriers = 3\n", "'carriers' must be a table"),
        ('[watch]\nnotify = "x"\n', "line 2: watch.notify must be a list of strings"),
        ("\xff\xfe", "not UTF-8"),
    ],
)
def test_invalid_files_name_file_line_and_key(path: Path, text: str, expected: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    with pytest.raises(ConfigError) as info:
        config.load(env={"WAYPOST_CONFIG": str(path)})
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "missing.toml")


def test_bad_env_value_names_the_variable(path: Path) -> None:
    with pytest.raises(ConfigError, match="WAYPOST_ILS_BASE_URL"):
        config.load(env={"WAYPOST_CONFIG": str(path), "WAYPOST_ILS_BASE_URL": "nope"})


def test_world_readable_file_draws_a_warning(path: Path) -> None:
    write(path, '[carriers.ils]\nuser_id = "1"\n', mode=0o644)
    cfg = config.load(env={"WAYPOST_CONFIG": str(path)})
    assert any("readable by other users" in w and "chmod 600" in w for w in cfg.warnings)


def test_set_writes_atomically_with_mode_0600_and_keeps_other_keys(path: Path) -> None:
    config.set_value(path, "carriers.ils.user_id", "42")
    config.set_value(path, "carriers.ils.pdd", "s3cret-value")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cfg = config.load(env={"WAYPOST_CONFIG": str(path)})
    assert cfg.carrier("ils")["user_id"] == "42"
    assert cfg.carrier("ils")["pdd"] == "s3cret-value"
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temp files left


def test_set_never_rewrites_a_file_it_cannot_parse(path: Path) -> None:
    write(path, "[carriers.ils\nbroken")
    before = path.read_bytes()
    with pytest.raises(ConfigError):
        config.set_value(path, "carriers.ils.user_id", "1")
    assert path.read_bytes() == before


def test_set_rejects_unknown_keys_listing_the_known_ones(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config.set_value(path, "carriers.ils.colour", "x")
    assert "carriers.ils.pdd" in (info.value.hint or "")
    assert not path.exists()


def test_set_coerces_and_validates_values(path: Path) -> None:
    with pytest.raises(ConfigError, match="must be an http"):
        config.set_value(path, "carriers.ils.base_url", "not a url")
    assert config.set_value(path, "watch.notify", "ntfy://a json://b") == ["ntfy://a", "json://b"]


def test_unset_removes_the_key_and_empty_sections(path: Path) -> None:
    config.set_value(path, "carriers.ils.user_id", "1")
    assert config.unset_value(path, "carriers.ils.user_id") is True
    assert config.unset_value(path, "carriers.ils.user_id") is False
    assert path.read_text().strip() == ""


def test_write_through_a_symlink_updates_the_target(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "waypost.toml"
    write(real, '[carriers.ils]\nuser_id = "1"\n')
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    config.set_value(link, "carriers.ils.user_id", "2")
    assert link.is_symlink()
    assert 'user_id = "2"' in real.read_text()


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        ("abcdefghijklmnopqrstuvwxyz", "abcd…wxyz"),
        ("abcdefghijkl", "ab…kl"),
        ("abc", "****"),
        ("", "****"),
    ],
)
def test_mask(secret: str, shown: str) -> None:
    assert config.mask(secret) == shown


@given(st.text(min_size=0, max_size=80))
def test_mask_never_shows_more_than_a_third_or_eight_characters(secret: str) -> None:
    shown = config.mask(secret).replace("…", "").replace("****", "")
    assert len(shown) <= min(8, len(secret) // 3)


def test_config_show_masks_secrets_and_names_env_sources(cli, path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    write(path, '[carriers.ils]\nuser_id = "7"\npdd = "file-secret-abcdefghij"\n')
    monkeypatch.setenv("WAYPOST_ILS_BASE_URL", "http://127.0.0.1:1/ils")
    r = cli("config", "show")
    assert r.code == 0
    assert "file-secret-abcdefghij" not in r.out
    assert 'pdd = "fil…hij"' in r.out
    assert "# env WAYPOST_ILS_BASE_URL" in r.out


def test_config_set_without_value_prompts_hidden(cli, path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("config", "set", "carriers.ils.pdd", stdin="typed-secret-value\n")
    assert r.code == 0, r.err
    assert "typed-secret-value" not in r.out + r.err
    assert 'pdd = "typed-secret-value"' in path.read_text()


def test_config_init_prompts_per_carrier_and_skips_empty_answers(cli, path: Path) -> None:  # type: ignore[no-untyped-def]
    from waypost import carriers

    answers = []
    for info in carriers.infos():
        answers += ["uid-1" if info.name == "ils" else ""] + [""] * (len(info.credentials) - 1)
        answers += ["v2" if info.name == "trackingmore" else ""] * sum(
            1 for s in info.settings if s.choices
        )
    r = cli("config", "init", stdin="\n".join(answers) + "\n")
    assert r.code == 0, r.err
    text = path.read_text()
    assert 'user_id = "uid-1"' in text
    assert 'api = "v2"' in text  # TrackingMore's API version is asked too
    assert "pdd" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_config_path_and_unknown_key(cli, path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("config", "path").out.strip() == str(path)
    r = cli("config", "set", "carriers.ils.nope", "1")
    assert r.code == 3
    assert "known keys" in r.err


def test_missing_file_with_explicit_config_is_exit_3(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("--config", str(tmp_path / "nope.toml"), "track", "3676E4043665")
    assert r.code == 3
    assert "config file not found" in r.err
    assert not (tmp_path / "nope.toml").exists()
    assert os.listdir(tmp_path) == [p.name for p in tmp_path.iterdir()]


def test_store_busy_timeout_defaults_to_10_and_is_validated(path: Path) -> None:
    assert config.load(env={"WAYPOST_CONFIG": str(path)}).busy_timeout == 10.0
    config.set_value(path, "store.busy_timeout", "2.5")
    assert config.load(env={"WAYPOST_CONFIG": str(path)}).busy_timeout == 2.5
    env = {"WAYPOST_CONFIG": str(path), "WAYPOST_STORE_BUSY_TIMEOUT": "0"}
    assert config.load(env=env).busy_timeout == 0.0
    with pytest.raises(ConfigError, match=r"store\.busy_timeout must be at most 3600"):
        config.set_value(path, "store.busy_timeout", "7200")
    write(path, "[store]\nbusy_timeout = -1\n")
    with pytest.raises(ConfigError, match=r"line 2: store\.busy_timeout must be 0 or more"):
        config.load(env={"WAYPOST_CONFIG": str(path)})


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("", {}, 10.0),
        ("[store]\nbusy_timeout = 3\n", {}, 3.0),
        ("\ufeff[store]\nbusy_timeout = 0.5\n", {}, 0.5),
        ("[store]\nbusy_timeout = 3\n", {"WAYPOST_STORE_BUSY_TIMEOUT": "\u00a07 "}, 7.0),
        ("[store]\nbusy_timeout = nan\n", {}, 10.0),
        ("[store]\nbusy_timeout = 1e9\n", {}, 10.0),
        ("[store]\nbusy_timeout = 'x'\n", {}, 10.0),
        ("[store\n", {}, 10.0),
        ("", {"WAYPOST_STORE_BUSY_TIMEOUT": "inf"}, 10.0),
    ],
)
def test_the_light_busy_timeout_reader_agrees_or_falls_back(
    text: str, env: dict[str, str], expected: float, path: Path
) -> None:
    from waypost.paths import busy_timeout

    if text:
        write(path, text)
    assert busy_timeout(None, {"WAYPOST_CONFIG": str(path), **env}) == expected


def test_config_show_has_every_section_after_config_set(cli, path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("config", "set", "http.retries", "5").code == 0
    assert cli("config", "set", "watch.interval", "15m").code == 0
    assert (
        cli("config", "set", "carriers.trackingmore.api_key", "tm-secret-key-0123456789").code == 0
    )
    r = cli("config", "show")
    assert r.code == 0, r.err
    assert "[http]\nretries = 5\n" in r.out
    assert "backoff = 0.5  # default" in r.out
    assert '[watch]\ninterval = "15m"' in r.out
    assert "tm-secret-key-0123456789" not in r.out
    doc = cli("config", "show", "--json").json()
    assert doc["http"]["retries"] == 5  # type: ignore[index]
    assert doc["watch"] == {"interval": "15m"}  # type: ignore[index]
    assert "tm-secret-key-0123456789" not in json.dumps(doc)


def test_config_show_masks_secret_looking_values_of_other_tables() -> None:
    from waypost.render import looks_secret as _looks_secret

    assert _looks_secret("url", "postgresql://me:hunter22@db.example/waypost")
    assert not _looks_secret("url", "postgresql://db.example/waypost")
    assert _looks_secret("api_key", "x")
    assert not _looks_secret("interval", "30m")


@pytest.mark.parametrize(
    ("typo", "suggested"),
    [
        ("carriers.ils.pd", "carriers.ils.pdd"),
        ("carriers.trackingmore.apikey", "carriers.trackingmore.api_key"),
        ("http.retry", "http.retries"),
        ("watch.intervall", "watch.interval"),
        ("carrier.ils.pdd", "carriers.ils.pdd"),
    ],
)
def test_a_config_key_typo_suggests_the_closest_key(cli, typo: str, suggested: str) -> None:  # type: ignore[no-untyped-def]
    r = cli("config", "set", typo, "1")
    assert r.code == 3
    assert f"hint: did you mean {suggested}?" in r.err
    assert r.err.count("carriers.") < 5  # not the list of every key
