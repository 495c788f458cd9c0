"""Where waypost keeps its files (SPEC.md, "Configuration"); light enough for every command."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV_CONFIG = "WAYPOST_CONFIG"
ENV_DATA_DIR = "WAYPOST_DATA_DIR"
ENV_BUSY_TIMEOUT = "WAYPOST_STORE_BUSY_TIMEOUT"
# `[store] busy_timeout` (declared and validated with the other settings in config.py).
BUSY_TIMEOUT, BUSY_TIMEOUT_MAX = 10.0, 3600.0


def default_config_path() -> Path:
    """``user_config_dir("waypost")/config.toml``."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("waypost", appauthor=False)) / "config.toml"


def config_path(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """``--config PATH``, else ``$WAYPOST_CONFIG``, else the user config directory."""
    env = os.environ if env is None else env
    if explicit is not None:
        return explicit.expanduser()
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]).expanduser()
    return default_config_path()


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$WAYPOST_DATA_DIR``, else the user data directory."""
    env = os.environ if env is None else env
    if env.get(ENV_DATA_DIR):
        return Path(env[ENV_DATA_DIR]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("waypost", appauthor=False))


def busy_timeout(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> float:
    """``[store] busy_timeout`` (or its variable) without loading the rest of the config.

    ``list`` stays light this way. A value or file that cannot be used gives the default here;
    the commands that load the whole configuration report it.
    """
    import math

    env = os.environ if env is None else env
    value: object = None
    raw = env.get(ENV_BUSY_TIMEOUT, "").strip()
    try:
        if raw:
            value = float(raw)
        else:
            target = config_path(explicit, env)
            if target.is_file():
                import tomllib

                data = tomllib.loads(target.read_text(encoding="utf-8-sig"))
                store = data.get("store")
                value = store.get("busy_timeout") if isinstance(store, dict) else None
    except (OSError, UnicodeError, ValueError, RecursionError, MemoryError):  # TOMLDecodeError too
        return BUSY_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float):
        return BUSY_TIMEOUT
    if not math.isfinite(value) or not 0 <= value <= BUSY_TIMEOUT_MAX:
        return BUSY_TIMEOUT
    return float(value)


def flock_within(fd: int, wait: float, poll: float = 0.05) -> bool:
    """Take an exclusive ``flock`` on ``fd``, trying for ``wait`` seconds; False if it stayed
    taken (another waypost holds it)."""
    import fcntl
    import time

    give_up = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= give_up:
                return False
            time.sleep(poll)
