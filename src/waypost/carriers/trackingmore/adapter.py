"""TrackingMore strategy of the configured API version (``carriers.trackingmore.api``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from waypost.carriers.trackingmore import api_version

if TYPE_CHECKING:
    from waypost.carriers.base import Cache
    from waypost.http import Session
    from waypost.store.protocols import StateStore


def Adapter(
    settings: Mapping[str, Any],
    session: Session,
    cache: Cache | None = None,
    state: StateStore | None = None,
) -> Any:
    """The adapter of the configured API version (the registry calls each package's ``Adapter``)."""
    if api_version(settings) == "v2":
        from waypost.carriers.trackingmore import v2

        return v2.Adapter(settings, session, cache, state)
    from waypost.carriers.trackingmore import v4 as trackingmore_v4

    return trackingmore_v4.Adapter(settings, session, cache, state)
