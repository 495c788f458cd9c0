"""Where waypost keeps its files (SPEC.md, "Configuration"); light enough for every command.

The config file is read only when it is a regular file (a symlink is followed) of at most
``CONFIG_MAX_BYTES``: a pipe or a device would block a run or feed it without end.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

ENV_CONFIG = "WAYPOST_CONFIG"
ENV_DATA_DIR = "WAYPOST_DATA_DIR"
ENV_BUSY_TIMEOUT = "WAYPOST_STORE_BUSY_TIMEOUT"
# `[store] busy_timeout` (declared and validated with the other settings in config.py).
BUSY_TIMEOUT, BUSY_TIMEOUT_MAX = 10.0, 3600.0
# The largest config file read: a real one is a few KB.
CONFIG_MAX_BYTES = 4 << 20


class NotAConfigFile(ValueError):
    """The config path names something that is not a readable regular file of sensible size."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse(path: Path, mode: int, size: int) -> None:
    if not stat.S_ISREG(mode):
        raise NotAConfigFile(f"{path} is {_kind(mode)}, not a config file")
    if size > CONFIG_MAX_BYTES:
        raise NotAConfigFile(
            f"{path} is larger than {CONFIG_MAX_BYTES >> 20} MiB, too large for a config file"
        )


def read_config_text(path: Path) -> str:
    """The text of config file ``path``: a regular file (after symlinks) of at most
    ``CONFIG_MAX_BYTES``, else NotAConfigFile; OSError (FileNotFoundError: none there) and
    UnicodeDecodeError as they come."""
    info = os.stat(path)  # before opening: opening a pipe would wait for a writer
    _refuse(path, info.st_mode, info.st_size)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)  # non-blocking: it may have been swapped for a pipe since
    try:
        info = os.fstat(fd)
        _refuse(path, info.st_mode, info.st_size)
        chunks, size = [], 0
        while size <= CONFIG_MAX_BYTES:
            chunk = os.read(fd, CONFIG_MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    _refuse(path, info.st_mode, size)  # it grew while read
    return b"".join(chunks).decode("utf-8-sig")  # Notepad starts a UTF-8 file with a BOM


def read_config_data(path: Path) -> dict[str, object]:
    """The parsed config file ``path``, ``{}`` when there is none; for the light readers, which
    fall back to defaults on any error (OSError, ValueError, UnicodeError, RecursionError)."""
    try:
        text = read_config_text(path)
    except FileNotFoundError:
        return {}
    import tomllib

    return tomllib.loads(text)


def default_config_path() -> Path:
    """``user_config_dir("waypost")/config.toml``."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("waypost", appauthor=False)) / "config.toml"


def config_path(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """``--config PATH``, else ``$WAYPOST_CONFIG``, else the user config directory."""
    env = os.environ if env is None else env
    if explicit is not None:
        return explicit.expanduser()
    if env.get(ENV_CONFIG, "").strip():  # a blank variable is unset, as every WAYPOST_ one
        return Path(env[ENV_CONFIG]).expanduser()
    return default_config_path()


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$WAYPOST_DATA_DIR``, else the user data directory."""
    env = os.environ if env is None else env
    if env.get(ENV_DATA_DIR, "").strip():
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
            store = read_config_data(config_path(explicit, env)).get("store")
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
