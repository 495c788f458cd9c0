"""Registry of carrier adapters: one line per carrier, packages imported only when used.

Each carrier is a package: its ``__init__`` declares the facts (``INFO``: settings, patterns,
limits, paths, capabilities; no pydantic, no httpx), ``api`` builds requests and reads answers,
``adapter`` holds the strategy (``adapter.Adapter(settings, session, cache)``).
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType
from typing import Any

from waypost.carriers.base import CarrierInfo

MODULES: dict[str, str] = {
    "ils": "waypost.carriers.ils",
    "trackingmore": "waypost.carriers.trackingmore",
    "pandapon": "waypost.carriers.pandapon",
}


def names() -> list[str]:
    """Every registered carrier name, in a stable order."""
    return list(MODULES)


@cache
def module(name: str) -> ModuleType:
    """Import and return the facts package of ``name`` (light: no network stack)."""
    return importlib.import_module(MODULES[name])


def info(name: str) -> CarrierInfo:
    """The declared facts of carrier ``name``."""
    declared: CarrierInfo = module(name).INFO
    return declared


def infos() -> list[CarrierInfo]:
    """Declared facts of every carrier."""
    return [info(n) for n in names()]


def adapter(name: str, settings: Any, session: Any, cache: Any = None, state: Any = None) -> Any:
    """An adapter of carrier ``name`` (its ``adapter`` module's ``Adapter`` factory)."""
    return importlib.import_module(MODULES[name] + ".adapter").Adapter(
        settings, session, cache, state
    )


def supports(name: str, operation: str) -> bool:
    """True when carrier ``name`` declares ``operation`` (``remove``, ``couriers``)."""
    return operation in info(name).capabilities


def describe(info: CarrierInfo, settings: dict[str, Any], missing: list[str]) -> dict[str, Any]:
    """What ``waypost carriers`` shows about one carrier, as plain data."""
    if info.effective_settings is not None:
        settings = info.effective_settings(settings)
    rates = {
        s.key: settings.get(s.key, s.default)
        for s in info.settings
        if s.kind == "float" and s.key.endswith("rate")
    }
    return {
        "name": info.name,
        "title": info.title,
        "coverage": info.coverage,
        "configured": not missing,
        "missing": missing,
        "max_batch": info.max_batch,
        "max_connections": info.max_connections,
        "rates_per_second": rates,
        "rate_notes": list(info.rate_notes),
        "patterns": [
            {
                "name": p.name,
                "regex": p.regex,
                "example": p.example,
                "confidence": p.confidence,
                "check_digit": p.check is not None,
                "describe": p.describe,
            }
            for p in info.patterns
        ],
        "docs": info.docs_url,
        "credentials_from": info.credentials_from,
        **({"api": settings["api"]} if "api" in settings else {}),
    }
