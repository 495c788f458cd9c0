"""Configuration: a TOML file under the user's config directory, overridden by ``WAYPOST_*``.

Location: ``--config PATH``, else ``$WAYPOST_CONFIG``, else
``platformdirs.user_config_dir("waypost")/config.toml`` (SPEC.md, "Configuration").
Writes are atomic (temp file + rename) with mode 0600; a file that does not parse is never
rewritten.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from waypost import carriers
from waypost.carriers.base import Setting
from waypost.errors import ConfigError
from waypost.paths import config_path, data_dir, default_config_path

__all__ = ["Config", "config_path", "data_dir", "default_config_path", "load", "mask"]

HTTP_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "retries",
        "retries after a failed attempt (0: none)",
        kind="int",
        default=3,
        allow_zero=True,
    ),
    Setting(
        "backoff", "first retry delay in seconds (doubles each time)", kind="float", default=0.5
    ),
    Setting("retry_budget", "most seconds spent retrying one request", kind="float", default=60.0),
)

WATCH_KEYS: dict[str, tuple[type, str]] = {
    "notify": (list, "notification URLs used by `watch` (Apprise style)"),
    "exec": (str, "command run per shipment with news by `watch`"),
    "interval": (str, "default `watch` interval, e.g. 30m"),
}


def mask(value: str) -> str:
    """Show at most 4+4 characters of a secret, and never more than a third of it."""
    keep = min(4, len(value) // 6)
    if keep == 0:
        return "****"
    return f"{value[:keep]}…{value[-keep:]}"


@dataclass
class Config:
    """The merged configuration of one run."""

    path: Path
    exists: bool
    file_data: dict[str, Any]
    carriers: dict[str, dict[str, Any]]
    sources: dict[str, str]
    watch: dict[str, Any] = field(default_factory=dict)
    http: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def retry_policy(self) -> dict[str, Any]:
        """Keyword arguments for ``http.RetryPolicy`` from ``[http]``."""
        return {
            "attempts": int(self.http.get("retries", 3)) + 1,
            "base": float(self.http.get("backoff", 0.5)),
            "budget": float(self.http.get("retry_budget", 60.0)),
        }

    def carrier(self, name: str) -> dict[str, Any]:
        """Settings of carrier ``name`` with defaults applied."""
        return self.carriers.get(name, {})

    def missing(self, name: str) -> list[Setting]:
        """The credentials carrier ``name`` still lacks."""
        values = self.carrier(name)
        return [s for s in carriers.info(name).credentials if not values.get(s.key)]

    def configured(self, name: str) -> bool:
        """True when carrier ``name`` has every credential."""
        return not self.missing(name)

    def secrets(self) -> list[str]:
        """Every secret value in use (to keep them out of output)."""
        found = []
        for name, values in self.carriers.items():
            for s in carriers.info(name).secrets:
                v = values.get(s.key)
                if isinstance(v, str) and v:
                    found.append(v)
        return found


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """1-based line of ``key`` inside ``[section]`` (or of the header itself)."""
    current = ""
    header = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
    for lineno, line in enumerate(text.splitlines(), 1):
        m = header.match(line)
        if m:
            current = m.group(1).replace('"', "").replace(" ", "")
            if key is None and current == section:
                return lineno
            continue
        if key and current == section and re.match(rf'^\s*"?{re.escape(key)}"?\s*=', line):
            return lineno
    return None


def _where(path: Path, text: str, section: str, key: str | None = None) -> str:
    line = _line_of(text, section, key)
    return f"{path}, line {line}" if line else str(path)


def _check_value(setting: Setting, value: Any) -> Any:
    """Validate one value from the file against its declared kind."""
    if setting.kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"must be a string, not {type(value).__name__}")
        if setting.key == "timezone":
            _check_zone(value)
        if setting.choices and value not in setting.choices:
            raise ValueError(f"must be one of {', '.join(setting.choices)}")
        if setting.key == "base_url" and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"must be a number, not {type(value).__name__}")
    if value < 0 or (value == 0 and not setting.allow_zero):
        raise ValueError(
            "must be greater than 0" if not setting.allow_zero else "must be 0 or more"
        )
    return int(value) if setting.kind == "int" else float(value)


def _check_zone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _coerce_env(setting: Setting, raw: str) -> Any:
    if setting.kind == "str":
        return _check_value(setting, raw)
    try:
        number = float(raw)
    except ValueError as exc:
        raise TypeError("must be a number") from exc
    return _check_value(setting, number)


def read_file(path: Path) -> tuple[dict[str, Any], str]:
    """Parse and validate the file; a ConfigError names file, line and key."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid TOML: {exc}",
            hint="fix the file by hand; waypost never rewrites a file it cannot parse",
        ) from exc
    validate(data, path, text)
    return data, text


def validate(data: Mapping[str, Any], path: Path, text: str = "") -> None:
    """Reject unknown sections and keys and values of the wrong type."""
    known_top = {"carriers", "watch", "http"}
    for top in data:
        if top not in known_top:
            raise ConfigError(
                f"{_where(path, text, top)}: unknown section or key {top!r}",
                hint=f"known sections: {', '.join(sorted(known_top))}",
            )
    section = data.get("carriers", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: 'carriers' must be a table")
    for name, values in section.items():
        if name not in carriers.names():
            raise ConfigError(
                f"{_where(path, text, f'carriers.{name}')}: unknown carrier {name!r}",
                hint=f"known carriers: {', '.join(carriers.names())}",
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [carriers.{name}] must be a table")
        info = carriers.info(name)
        for key, value in values.items():
            setting = info.setting(key)
            where = _where(path, text, f"carriers.{name}", key)
            if setting is None:
                known = ", ".join(s.key for s in info.settings)
                raise ConfigError(
                    f"{where}: unknown key carriers.{name}.{key}", hint=f"known keys: {known}"
                )
            try:
                _check_value(setting, value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: carriers.{name}.{key} {exc}") from None
    http = data.get("http", {})
    if not isinstance(http, dict):
        raise ConfigError(f"{path}: 'http' must be a table")
    for key, value in http.items():
        where = _where(path, text, "http", key)
        setting = next((s for s in HTTP_SETTINGS if s.key == key), None)
        if setting is None:
            known = ", ".join(s.key for s in HTTP_SETTINGS)
            raise ConfigError(f"{where}: unknown key http.{key}", hint=f"known keys: {known}")
        try:
            _check_value(setting, value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: http.{key} {exc}") from None
    watch = data.get("watch", {})
    if not isinstance(watch, dict):
        raise ConfigError(f"{path}: 'watch' must be a table")
    for key, value in watch.items():
        where = _where(path, text, "watch", key)
        if key not in WATCH_KEYS:
            raise ConfigError(
                f"{where}: unknown key watch.{key}", hint=f"known keys: {', '.join(WATCH_KEYS)}"
            )
        if WATCH_KEYS[key][0] is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: watch.{key} must be a list of strings")
        elif not isinstance(value, str):
            raise ConfigError(f"{where}: watch.{key} must be a string")


def load(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    explicit: bool = False,
) -> Config:
    """Read the file (if any), apply defaults and ``WAYPOST_*`` overrides."""
    env = os.environ if env is None else env
    explicit = explicit or path is not None
    path = config_path(path, env)
    file_data: dict[str, Any] = {}
    warnings: list[str] = []
    exists = path.exists()
    if exists:
        if path.is_dir():
            raise ConfigError(f"{path} is a directory, not a config file")
        file_data, _ = read_file(path)
        warnings.extend(_permission_warnings(path))
    elif explicit:
        raise ConfigError(
            f"config file not found: {path}",
            hint="create it with `waypost config init` or drop --config",
        )
    merged: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    for info in carriers.infos():
        section = file_data.get("carriers", {}).get(info.name, {})
        merged[info.name] = _merge(
            info.settings, section, info.name, f"carriers.{info.name}", env, sources
        )
    http = _merge(HTTP_SETTINGS, file_data.get("http", {}), "http", "http", env, sources)
    return Config(
        path=path,
        exists=exists,
        file_data=file_data,
        carriers=merged,
        sources=sources,
        watch=dict(file_data.get("watch", {})),
        http=http,
        warnings=warnings,
    )


def _merge(
    settings: tuple[Setting, ...],
    from_file: Mapping[str, Any],
    env_name: str,
    dotted_prefix: str,
    env: Mapping[str, str],
    sources: dict[str, str],
) -> dict[str, Any]:
    """Defaults, then the file, then ``WAYPOST_<ENV_NAME>_<KEY>``; sources recorded per key."""
    values: dict[str, Any] = {}
    for s in settings:
        dotted = f"{dotted_prefix}.{s.key}"
        if s.default is not None:
            values[s.key] = s.default
            sources[dotted] = "default"
        if s.key in from_file:
            values[s.key] = from_file[s.key]
            sources[dotted] = "file"
        raw = env.get(s.env_var(env_name))
        if raw:
            try:
                values[s.key] = _coerce_env(s, raw)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"environment variable {s.env_var(env_name)} {exc}") from None
            sources[dotted] = f"env {s.env_var(env_name)}"
    return values


def _permission_warnings(path: Path) -> list[str]:
    if os.name != "posix":
        return []
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return [
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {path}"
        ]
    return []


def write_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as TOML to ``path`` via a 0600 temp file and a rename."""
    import tomli_w

    target = path.resolve() if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            tomli_w.dump(dict(data), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def known_keys() -> dict[str, Setting | tuple[type, str]]:
    """Every dotted key ``config set`` accepts."""
    keys: dict[str, Setting | tuple[type, str]] = {}
    for info in carriers.infos():
        for s in info.settings:
            keys[f"carriers.{info.name}.{s.key}"] = s
    for key, spec in WATCH_KEYS.items():
        keys[f"watch.{key}"] = spec
    for s in HTTP_SETTINGS:
        keys[f"http.{s.key}"] = s
    return keys


def _split_key(key: str) -> tuple[list[str], Setting | tuple[type, str]]:
    keys = known_keys()
    if key not in keys:
        raise ConfigError(f"unknown key {key!r}", hint="known keys: " + ", ".join(keys))
    return key.split("."), keys[key]


def _read_for_update(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data, _ = read_file(path)
    return data


def set_value(path: Path, key: str, raw: str) -> Any:
    """Set dotted ``key`` to ``raw`` (coerced to its declared type) and save atomically."""
    parts, spec = _split_key(key)
    data = _read_for_update(path)
    value: Any
    if isinstance(spec, Setting):
        try:
            value = _coerce_env(spec, raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key} {exc}") from None
    elif spec[0] is list:
        value = raw.split()
    else:
        value = raw
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    validate(data, path)
    write_atomic(path, data)
    return value


def unset_value(path: Path, key: str) -> bool:
    """Remove dotted ``key``; False when it was not set."""
    parts, _ = _split_key(key)
    data = _read_for_update(path)
    node: Any = data
    trail = []
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            return False
        trail.append((node, part))
        node = node[part]
    if parts[-1] not in node:
        return False
    del node[parts[-1]]
    for parent, part in reversed(trail):
        if not parent[part]:
            del parent[part]
    write_atomic(path, data)
    return True
