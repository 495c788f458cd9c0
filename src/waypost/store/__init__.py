"""The store: the watch list, adapters' durable state and the answer cache (SPEC.md "Honest
states" for its faults).

``protocols`` says what a backend provides, ``sqlite`` is the embedded backend,
``migrations`` its named schema steps and ``claims`` how a ``watch`` pass owns its shipments.
``open_store()`` chooses the backend from the configuration. The protocols and the backends
load on first use, so importing the package costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from waypost.carriers.base import Cache
    from waypost.config import Config
    from waypost.store.migrations import MIGRATIONS, SCHEMA_VERSION
    from waypost.store.protocols import StateStore, Watched, WatchStore
    from waypost.store.sqlite import (
        DB_NAME,
        Store,
        StoreCache,
        event_key,
        fault,
        key_of,
    )

__all__ = [
    "DB_NAME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Cache",
    "StateStore",
    "Store",
    "StoreCache",
    "WatchStore",
    "Watched",
    "event_key",
    "fault",
    "key_of",
    "open_store",
]

_LAZY = {
    "Cache": "protocols",
    "StateStore": "protocols",
    "Watched": "protocols",
    "WatchStore": "protocols",
    "DB_NAME": "sqlite",
    "Store": "sqlite",
    "StoreCache": "sqlite",
    "event_key": "sqlite",
    "fault": "sqlite",
    "key_of": "sqlite",
    "MIGRATIONS": "migrations",
    "SCHEMA_VERSION": "migrations",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'waypost.store' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"waypost.store.{module}"), name)


def backend_url(config: Config | None, config_file: Path | None = None) -> str | None:
    """The configured ``[store] url`` (None: the SQLite file in the data directory); without a
    loaded configuration, ``WAYPOST_DATABASE_URL`` or the key of ``config_file`` (``--config``,
    else the usual file), read lightly."""
    if config is None:
        import os

        from waypost.paths import config_path

        if (
            not os.environ.get("WAYPOST_DATABASE_URL", "").strip()
            and not config_path(config_file).is_file()
        ):
            return None  # neither says PostgreSQL: no need to load its module to know
        from waypost.store.postgres import configured_url

        return configured_url(config_file)
    url = config.store.get("url")
    return str(url) if url else None


def open_store(
    config: Config | None = None,
    *,
    data_dir: Path | None = None,
    timeout: float | None = None,
    config_file: Path | None = None,
) -> WatchStore:
    """The configured store: ``[store] url`` chooses the backend, unset means the SQLite file
    of ``data_dir`` (default: the data directory); ``timeout`` overrides ``busy_timeout``;
    ``config_file`` is ``--config`` when ``config`` was not loaded."""
    from waypost import paths
    from waypost.store.sqlite import Store

    # An explicit data directory without a configuration means that directory's file.
    url = backend_url(config, config_file) if config is not None or data_dir is None else None
    if timeout is None:
        timeout = config.busy_timeout if config is not None else paths.busy_timeout(config_file)
    if url is not None:
        from waypost.store.postgres import open_url

        return open_url(url, timeout=timeout, settings=config.store if config else None)
    return Store.open(data_dir if data_dir is not None else paths.data_dir(), timeout=timeout)
