"""Registry of carrier adapters: one line per carrier, modules imported only when used."""

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
    """Import and return the adapter module of ``name``."""
    return importlib.import_module(MODULES[name])


def info(name: str) -> CarrierInfo:
    """The declared facts of carrier ``name``."""
    declared: CarrierInfo = module(name).INFO
    return declared


def infos() -> list[CarrierInfo]:
    """Declared facts of every carrier."""
    return [info(n) for n in names()]


def adapter(name: str, settings: Any, session: Any, cache: Any = None, state: Any = None) -> Any:
    """An adapter of carrier ``name`` (a module's ``adapter`` factory picks among versions)."""
    mod = module(name)
    factory = getattr(mod, "adapter", None) or mod.Adapter
    return factory(settings, session, cache, state)


def describe(info: CarrierInfo, settings: dict[str, Any], missing: list[str]) -> dict[str, Any]:
    """What ``waypost carriers`` shows about one carrier, as plain data."""
    effective = getattr(module(info.name), "effective_settings", None)
    if effective is not None:
        settings = effective(settings)
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
