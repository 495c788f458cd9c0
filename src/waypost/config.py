"""Configuration: a TOML file under the user's config directory, overridden by ``WAYPOST_*``.

Location: ``--config PATH``, else ``$WAYPOST_CONFIG``, else
``platformdirs.user_config_dir("waypost")/config.toml`` (SPEC.md, "Configuration").
Writes are atomic (temp file + rename) with mode 0600, under an exclusive lock on the config's
directory so that concurrent ``config set`` commands all land; a symlink is followed
to a regular file, anything else that is not a regular file is refused, for reads too (a pipe is
never opened to wait on), as is a file over ``paths.CONFIG_MAX_BYTES``. A file that does not parse
is never rewritten. Numbers must be finite and in range, strings lose surrounding Unicode spaces,
and a UTF-8 byte-order mark is accepted.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from waypost import carriers
from waypost.carriers.base import Setting
from waypost.errors import ConfigError, UsageError
from waypost.paths import (
    BUSY_TIMEOUT,
    BUSY_TIMEOUT_MAX,
    NotAConfigFile,
    config_path,
    data_dir,
    default_config_path,
    read_config_text,
)

__all__ = ["Config", "config_path", "data_dir", "default_config_path", "load", "mask"]

HTTP_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "retries",
        "retries after a failed attempt (0: none)",
        kind="int",
        default=3,
        allow_zero=True,
        maximum=100,
    ),
    Setting(
        "backoff",
        "first retry delay in seconds (doubles each time)",
        kind="float",
        default=0.5,
        maximum=3600,
    ),
    Setting(
        "retry_budget",
        "most seconds spent retrying one request",
        kind="float",
        default=60.0,
        maximum=86400,
    ),
    Setting(
        "max_pause",
        "most seconds a carrier's Retry-After or rate-limit pause may last",
        kind="float",
        default=300.0,
        maximum=86400,
    ),
    Setting(
        "max_body_mb",
        "largest carrier answer read, in MB after decompression",
        kind="float",
        default=32.0,
        maximum=4096,
    ),
)
STORE_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "busy_timeout",
        "seconds to wait while another waypost writes to the watch list (then exit 5)",
        kind="float",
        default=BUSY_TIMEOUT,
        allow_zero=True,
        maximum=BUSY_TIMEOUT_MAX,
    ),
    Setting(
        "url",
        "postgresql://user:password@host/db to share the watch list between hosts "
        "(env WAYPOST_DATABASE_URL; unset: the SQLite file)",
    ),
    Setting(
        "pass_window",
        "PostgreSQL: watch passes begun within this many seconds on several hosts are one pass",
        kind="float",
        default=60.0,
        allow_zero=True,
        maximum=86400,
    ),
)
# The ceiling of a number setting that declares none: far above any sensible value, low enough
# that it converts to int and to a timeout without overflowing.
DEFAULT_MAXIMUM = 1_000_000.0
# Characters str.strip() keeps that still make a pasted key wrong: zero-width space and joiners,
# word joiner, byte-order mark.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"

WATCH_KEYS: dict[str, tuple[type, str]] = {
    "notify": (list, "notification URLs used by `watch` (Apprise style)"),
    "exec": (str, "command run per shipment with news by `watch`"),
    "interval": (str, "default `watch` interval, e.g. 30m"),
    "stalled_after": (str, "no new event for this long makes a shipment stalled (default 7d)"),
    "on": (list, "report only these statuses (and the words stalled, eta); default: all news"),
    "archive_delivered_after": (str, "archive delivered shipments this long after delivery"),
    "import": (
        list,
        'carriers whose new orders each `watch` pass imports first, e.g. ["pandapon"]',
    ),
    "follow_legs": (bool, "watch the next leg a carrier names (through TrackingMore)"),
}
# Keys every carrier section takes besides its own (the watch list's, issue 19).
CARRIER_KEYS: tuple[Setting, ...] = (
    Setting(
        "stalled_after",
        "no new event for this long makes a shipment stalled (default: ils 21d, pandapon 4d, "
        "else [watch] stalled_after)",
    ),
)


def carrier_setting(name: str, key: str) -> Setting | None:
    """The declared setting ``key`` of carrier ``name``, or one every carrier takes."""
    return carriers.info(name).setting(key) or next((s for s in CARRIER_KEYS if s.key == key), None)


def _check_watch(key: str, value: Any) -> None:
    """Values of the watch list's own keys: durations and ``on`` words (ValueError)."""
    from waypost import insights

    if key in ("stalled_after", "archive_delivered_after"):
        insights.parse_span(value)
    elif key == "interval":
        from waypost.inputs import parse_duration  # the parser `watch --interval` uses

        try:
            parse_duration(value)
        except UsageError as exc:
            raise ValueError(f"is not a usable interval: {exc.message}") from None
    elif key == "on":
        try:
            insights.parse_on(value, source="watch.on")
        except UsageError as exc:
            raise ValueError(exc.message.removeprefix("watch.on: ")) from None


def _coerce_watch(key: str, raw: str) -> Any:
    """A ``[watch]`` value typed on a command line or in ``WAYPOST_WATCH_<KEY>``, checked
    (ValueError): a list is split at white space, a switch is a yes/no word."""
    kind = WATCH_KEYS[key][0]
    value: Any
    if kind is list:
        value = raw.split()
    elif kind is bool:
        word = clean(raw).lower()
        if word not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
            raise ValueError("must be true or false")
        value = word in ("true", "yes", "1", "on")
    else:
        value = clean(raw)
    _check_watch(key, value)
    return value


def _merge_watch(
    from_file: Mapping[str, Any], env: Mapping[str, str], sources: dict[str, str]
) -> dict[str, Any]:
    """The file's ``[watch]``, then ``WAYPOST_WATCH_<KEY>``; sources recorded per key."""
    values = dict(from_file)
    for key in values:
        sources[f"watch.{key}"] = "file"
    for key in WATCH_KEYS:
        name = f"WAYPOST_WATCH_{key.upper()}"
        raw = env.get(name, "")
        if not clean(raw):
            continue
        try:
            values[key] = _coerce_watch(key, raw)
        except ValueError as exc:
            raise ConfigError(f"environment variable {name} {exc}") from None
        sources[f"watch.{key}"] = f"env {name}"
    return values


def unknown_key_hint(key: str, known: list[str]) -> str:
    """ "did you mean ...?" with the closest known key, else the keys beside it, else all."""
    import difflib

    section, _, leaf = key.rpartition(".")
    siblings = [k for k in known if k.rpartition(".")[0] == section]
    # Within a known section only the last part is compared (the shared prefix would make
    # every key look close).
    leaves = {k.rpartition(".")[2]: k for k in siblings}
    close = difflib.get_close_matches(leaf, list(leaves), n=1, cutoff=0.6)
    if close:
        return f"did you mean {leaves[close[0]]}?"
    if not siblings and (close := difflib.get_close_matches(key, known, n=1, cutoff=0.75)):
        return f"did you mean {close[0]}?"
    if siblings:
        return "known keys here: " + ", ".join(siblings)
    sections = dict.fromkeys(k.rpartition(".")[0] for k in known)
    return "known sections: " + ", ".join(sections) + " (`waypost config show` lists the keys)"


def mask(value: str) -> str:
    """Show at most 4+4 characters of a secret, and never more than a third of it."""
    keep = min(4, len(value) // 6)
    if keep == 0:
        return "****"
    return f"{value[:keep]}…{value[-keep:]}"


def mask_urls(value: Any, secrets: list[str] | None = None) -> Any:
    """``value`` (a string, or lists and tables of them) with the secrets inside URLs masked."""
    from waypost.redaction import redact

    if isinstance(value, str):
        return redact(value, secrets or ())
    if isinstance(value, list):
        return [mask_urls(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: mask_urls(v, secrets) for k, v in value.items()}
    return value


class Config:
    """The merged configuration of one run."""

    # A plain class, not a dataclass: generating a dataclass's methods costs more start-up
    # than `config show` and `carriers` have to spare.
    __slots__ = (
        "carriers",
        "exists",
        "file_data",
        "http",
        "path",
        "sources",
        "store",
        "warnings",
        "watch",
    )

    def __init__(
        self,
        path: Path,
        exists: bool,
        file_data: dict[str, Any],
        carriers: dict[str, dict[str, Any]],
        sources: dict[str, str],
        watch: dict[str, Any] | None = None,
        http: dict[str, Any] | None = None,
        store: dict[str, Any] | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.path, self.exists, self.file_data = path, exists, file_data
        self.carriers, self.sources = carriers, sources
        self.watch: dict[str, Any] = {} if watch is None else watch
        self.http: dict[str, Any] = {} if http is None else http
        self.store: dict[str, Any] = {} if store is None else store
        self.warnings: list[str] = [] if warnings is None else warnings

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Config:
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass was

    def __repr__(self) -> str:
        return f"Config(path={self.path!r}, exists={self.exists!r})"

    def retry_policy(self) -> dict[str, Any]:
        """Keyword arguments for ``http.RetryPolicy`` from ``[http]``."""
        return {
            "attempts": int(self.http.get("retries", 3)) + 1,
            "base": float(self.http.get("backoff", 0.5)),
            "budget": float(self.http.get("retry_budget", 60.0)),
            "max_pause": float(self.http.get("max_pause", 300.0)),
        }

    @property
    def busy_timeout(self) -> float:
        """Seconds to wait for another writer of the store (``[store] busy_timeout``)."""
        return float(self.store.get("busy_timeout", BUSY_TIMEOUT))

    def max_body(self) -> int:
        """The largest answer body read, in bytes (``[http] max_body_mb``)."""
        return int(float(self.http.get("max_body_mb", 32.0)) * (1 << 20))

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
        if self.store.get("url"):
            from waypost.store.postgres import password_of

            if secret := password_of(str(self.store["url"])):
                found.append(secret)
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


def clean(text: str) -> str:
    """``text`` without surrounding white space, Unicode spaces and invisible characters."""
    return text.strip().strip(INVISIBLE).strip()


def _check_value(setting: Setting, value: Any) -> Any:
    """Validate one value against its declared kind; the value as it is to be used."""
    if setting.kind == "str":
        if setting.key == "stalled_after" and isinstance(value, str):
            from waypost import insights

            insights.parse_span(value)
        if _id_like(setting) and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # `user_id = 1` written by hand: an id, not a count
        if not isinstance(value, str):
            raise TypeError(f"must be a string, not {type(value).__name__}")
        value = clean(value)
        if setting.key == "timezone":
            _check_zone(value)
        if setting.choices and value not in setting.choices:
            raise ValueError(f"must be one of {', '.join(setting.choices)}")
        if setting.key == "base_url" and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"must be a number, not {type(value).__name__}")
    return _check_number(setting, value)


def _id_like(setting: Setting) -> bool:
    """An identifier a carrier issues (``user_id``); a hand-written file may give it as a number."""
    return setting.key.endswith("_id")


def _check_number(setting: Setting, value: float) -> int | float:
    """Finite, not negative (nor 0 unless allowed), at most the maximum; whole for an int."""
    ceiling = setting.maximum if setting.maximum is not None else DEFAULT_MAXIMUM
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, not {value}")
    if value < 0 or (value == 0 and not setting.allow_zero):
        raise ValueError(
            "must be greater than 0" if not setting.allow_zero else "must be 0 or more"
        )
    if value > ceiling:
        raise ValueError(f"must be at most {ceiling:g}, not {value:g}")
    if setting.kind == "int":
        if value != int(value):
            raise ValueError(f"must be a whole number, not {value:g}")
        return int(value)
    return float(value)


def _check_zone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _coerce_env(setting: Setting, raw: str) -> Any:
    raw = clean(raw)
    if setting.kind == "str":
        return _check_value(setting, raw)
    try:
        number = float(raw)
    except ValueError as exc:
        raise TypeError(f"must be a number, not {raw!r}") from exc
    return _check_value(setting, number)


def _read_text(path: Path) -> str:
    """The file's text; a ConfigError when it is not a readable regular UTF-8 file of sane size."""
    try:
        return read_config_text(path)
    except NotAConfigFile as exc:
        raise ConfigError(
            str(exc), hint="point --config or WAYPOST_CONFIG at a regular file"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc


def _parse(path: Path, text: str) -> dict[str, Any]:
    """The TOML of ``text``; a ConfigError that never offers to rewrite the file."""
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid TOML: {exc}",
            hint="fix the file by hand; waypost never rewrites a file it cannot parse",
        ) from exc
    except (RecursionError, MemoryError):
        raise ConfigError(
            f"{path}: invalid TOML: arrays or tables nested too deeply",
            hint="fix the file by hand; waypost never rewrites a file it cannot parse",
        ) from None


def read_file(path: Path) -> tuple[dict[str, Any], str]:
    """Parse and validate the file; a ConfigError names file, line and key."""
    text = _read_text(path)
    data = _parse(path, text)
    validate(data, path, text)
    return data, text


def validate(data: Mapping[str, Any], path: Path, text: str = "") -> None:
    """Reject unknown sections and keys and values of the wrong type."""
    known_top = {"carriers", "watch", "http", "store"}
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
            setting = carrier_setting(name, key)
            where = _where(path, text, f"carriers.{name}", key)
            if setting is None:
                known = [f"carriers.{name}.{s.key}" for s in (*info.settings, *CARRIER_KEYS)]
                raise ConfigError(
                    f"{where}: unknown key carriers.{name}.{key}",
                    hint=unknown_key_hint(f"carriers.{name}.{key}", known),
                )
            try:
                _check_value(setting, value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: carriers.{name}.{key} {exc}") from None
    for name, settings in (("http", HTTP_SETTINGS), ("store", STORE_SETTINGS)):
        _validate_section(data, path, text, name, settings)
    watch = data.get("watch", {})
    if not isinstance(watch, dict):
        raise ConfigError(f"{path}: 'watch' must be a table")
    for key, value in watch.items():
        where = _where(path, text, "watch", key)
        if key not in WATCH_KEYS:
            raise ConfigError(
                f"{where}: unknown key watch.{key}",
                hint=unknown_key_hint(f"watch.{key}", [f"watch.{k}" for k in WATCH_KEYS]),
            )
        if WATCH_KEYS[key][0] is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: watch.{key} must be a list of strings")
        elif WATCH_KEYS[key][0] is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: watch.{key} must be true or false")
        elif not isinstance(value, str):
            raise ConfigError(f"{where}: watch.{key} must be a string")
        try:
            _check_watch(key, value)
        except ValueError as exc:
            raise ConfigError(f"{where}: watch.{key} {exc}") from None


def _validate_section(
    data: Mapping[str, Any], path: Path, text: str, name: str, settings: tuple[Setting, ...]
) -> None:
    """Check a top-level section of declared settings (``[http]``, ``[store]``)."""
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: '{name}' must be a table")
    for key, value in section.items():
        where = _where(path, text, name, key)
        setting = next((s for s in settings if s.key == key), None)
        if setting is None:
            known = [f"{name}.{s.key}" for s in settings]
            raise ConfigError(
                f"{where}: unknown key {name}.{key}", hint=unknown_key_hint(f"{name}.{key}", known)
            )
        try:
            _check_value(setting, value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {name}.{key} {exc}") from None


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
    if exists or (path.is_symlink() and _loops(path)):  # a loop: read_file says so
        file_data, _ = read_file(path)  # refuses a directory, a pipe, a device, a huge file
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
            (*info.settings, *CARRIER_KEYS),
            section,
            info.name,
            f"carriers.{info.name}",
            env,
            sources,
        )
    http = _merge(HTTP_SETTINGS, file_data.get("http", {}), "http", "http", env, sources)
    store = _merge(STORE_SETTINGS, file_data.get("store", {}), "store", "store", env, sources)
    if clean(env.get("WAYPOST_DATABASE_URL", "")):
        store["url"] = clean(env["WAYPOST_DATABASE_URL"])
        sources["store.url"] = "env WAYPOST_DATABASE_URL"
    return Config(
        path=path,
        exists=exists,
        file_data=file_data,
        carriers=merged,
        sources=sources,
        watch=_merge_watch(file_data.get("watch", {}), env, sources),
        http=http,
        store=store,
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
            values[s.key] = _check_value(s, from_file[s.key])  # validated: only normalised here
            sources[dotted] = "file"
        raw = env.get(s.env_var(env_name))
        if raw and clean(raw):
            try:
                values[s.key] = _coerce_env(s, raw)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"environment variable {s.env_var(env_name)} {exc}") from None
            sources[dotted] = f"env {s.env_var(env_name)}"
    return values


def _loops(path: Path) -> bool:
    """True when the symlink ``path`` names itself, directly or not (reading it says so)."""
    import errno

    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _permission_warnings(path: Path) -> list[str]:
    if os.name != "posix":
        return []
    mode = path.stat().st_mode
    if stat.S_ISREG(mode) and mode & (stat.S_IRWXG | stat.S_IRWXO):
        return [
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {path}"
        ]
    return []


def write_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as TOML to ``path`` via a 0600 temp file and a rename."""
    import tempfile

    import tomli_w

    target = _target(path)
    _mkdir(target.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            tomli_w.dump(dict(data), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _sync_dir(target.parent)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_error(path: Path, exc: OSError) -> ConfigError:
    return ConfigError(
        f"cannot write the config file {path}: {exc.strerror or exc}; it was not changed",
        hint="free some space or check the directory's permissions, then run the command again",
    )


def _target(path: Path) -> Path:
    """The regular file a write to ``path`` replaces: ``path``, or the file its symlink names.

    Anything else (a directory, a device, a pipe, a socket, a symlink loop) is refused: a rename
    over it would replace it with a regular file.
    """
    try:
        target = path.resolve() if path.is_symlink() else path
        info = target.stat() if target.exists() else None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        raise ConfigError(f"cannot write the config file {path}: {exc}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        named = f"{path} -> {target}" if target != path else str(path)
        raise ConfigError(
            f"refusing to write the config file {named}: it is {what}",
            hint="point --config or WAYPOST_CONFIG at a regular file",
        )
    return target


def _mkdir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the config directory {directory}: {exc.strerror or exc}"
        ) from None


def _sync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a file system that cannot is not an error."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


LOCK_WAIT = 10.0


@contextmanager
def locked(path: Path, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold an exclusive lock on the config file's directory, so that read-modify-write cycles
    never interleave (a directory lock leaves no lock file behind and cannot be replaced)."""
    if os.name != "posix":  # no advisory locks there: writes stay atomic
        yield
        return
    target = _target(path)
    _mkdir(target.parent)
    lock = target.parent
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError as exc:
        raise ConfigError(f"cannot lock the config file: {lock}: {exc.strerror or exc}") from None
    from waypost.paths import flock_within

    try:
        if not flock_within(fd, wait, poll=0.02):
            raise ConfigError(
                f"another waypost has been changing {path} for {wait:g} s (lock {lock})",
                hint="try again in a moment",
            )
        yield
    finally:
        os.close(fd)


def update(path: Path, change: Any) -> Any:
    """Under the lock: read the file, apply ``change(data)``, validate, write atomically."""
    with locked(path):
        data = _read_for_update(path)
        result = change(data)
        validate(data, path)
        write_atomic(path, data)
    return result


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
    for s in STORE_SETTINGS:
        keys[f"store.{s.key}"] = s
    for info in carriers.infos():  # the keys every carrier takes, after all the others
        for s in CARRIER_KEYS:
            keys[f"carriers.{info.name}.{s.key}"] = s
    return keys


def _split_key(key: str) -> tuple[list[str], Setting | tuple[type, str]]:
    keys = known_keys()
    if key not in keys:
        raise ConfigError(f"unknown key {key!r}", hint=unknown_key_hint(key, list(keys)))
    return key.split("."), keys[key]


def _read_for_update(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data, _ = read_file(path)
    return data


def set_value(path: Path, key: str, raw: str) -> Any:
    """Set dotted ``key`` to ``raw`` (coerced to its declared type) and save atomically."""
    parts, spec = _split_key(key)
    value: Any
    if key == "store.url":
        from waypost.store.postgres import check_url

        try:
            check_url(clean(raw))
        except ValueError as exc:
            raise ConfigError(f"{key} {exc}") from None
    if isinstance(spec, Setting):
        try:
            value = _coerce_env(spec, raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key} {exc}") from None
    else:
        try:
            value = _coerce_watch(parts[-1], raw)
        except ValueError as exc:
            raise ConfigError(f"{key} {exc}") from None

    def change(data: dict[str, Any]) -> None:
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    update(path, change)
    return value


def unset_value(path: Path, key: str) -> bool:
    """Remove dotted ``key``; False when it was not set.

    An unknown key the file holds may be removed (that is how such a file is mended), but only
    a value, never a whole table, and only when the rest of the file is valid.
    """
    known = key in known_keys()
    parts = key.split(".")
    with locked(path):
        if known:
            data = _read_for_update(path)
        else:  # validated below, once the unknown key is gone
            data = _parse(path, _read_text(path)) if path.exists() else {}
        node: Any = data
        trail = []
        for part in parts[:-1]:
            if not isinstance(node, dict) or part not in node:
                node = None
                break
            trail.append((node, part))
            node = node[part]
        present = isinstance(node, dict) and parts[-1] in node
        if not known and (not present or isinstance(node[parts[-1]], dict)):
            _split_key(key)  # the unknown-key error with its hint
        if not present:
            return False
        del node[parts[-1]]
        for parent, part in reversed(trail):
            if not parent[part]:
                del parent[part]
        validate(data, path)
        write_atomic(path, data)
    return True
