"""Registry of carrier adapters: one line per carrier, modules imported only when used."""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from waypost.carriers.base import CarrierInfo

MODULES: dict[str, str] = {
    "ils": "waypost.carriers.ils",
    "trackingmore": "waypost.carriers.trackingmore",
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
