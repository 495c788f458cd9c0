"""Where waypost keeps its files (SPEC.md, "Configuration"); light enough for every command."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV_CONFIG = "WAYPOST_CONFIG"
ENV_DATA_DIR = "WAYPOST_DATA_DIR"


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
