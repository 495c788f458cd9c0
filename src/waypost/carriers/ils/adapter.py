"""ILS strategy: concurrent chunks of 100 numbers (``shared/seeds/ils-tracking-api.txt``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from waypost.carriers._parse import zone
from waypost.carriers.base import Answer, Query, TrackOptions
from waypost.carriers.ils import ENDPOINT, INFO, MAX_BATCH, NAME
from waypost.carriers.ils.api import ANSWERS, build_request, parse_response
from waypost.errors import CarrierError
from waypost.models import Shipment

if TYPE_CHECKING:
    from waypost.carriers.base import Cache
    from waypost.http import Session
    from waypost.store.protocols import StateStore


class Adapter:
    """Answers ILS numbers in concurrent chunks of 100."""

    info = INFO

    def __init__(
        self,
        settings: Mapping[str, Any],
        session: Session,
        cache: Cache | None = None,
        state: StateStore | None = None,
    ):
        self.settings = settings
        self.session = session
        self.url = str(settings.get("base_url") or INFO.setting("base_url").default).rstrip("/")  # type: ignore[union-attr]
        self.tz = zone(settings.get("timezone"))

    async def track(self, queries: Sequence[Query], options: TrackOptions) -> list[Answer]:
        """Answer every query, one request per 100 numbers, all chunks at once."""
        chunks = [queries[i : i + MAX_BATCH] for i in range(0, len(queries), MAX_BATCH)]
        answers = await asyncio.gather(*(self._answer(c, options) for c in chunks))
        return [a for chunk in answers for a in chunk]

    async def _answer(self, queries: Sequence[Query], options: TrackOptions) -> list[Answer]:
        shipments = await self._chunk([q.number for q in queries])
        options.answered(NAME, len(queries))
        return [options.deliver(Answer(q, [s])) for q, s in zip(queries, shipments, strict=True)]

    async def _chunk(self, numbers: list[str]) -> list[Shipment]:
        from waypost.http import read_answer

        body = build_request(str(self.settings["user_id"]), str(self.settings["pdd"]), numbers)
        try:
            response = await self.session.request(
                NAME,
                "POST",
                self.url + ENDPOINT,
                json=body,
                max_connections=INFO.max_connections,
            )
            payload = read_answer(response, NAME, ANSWERS)
            return parse_response(payload, numbers, self.tz)
        except CarrierError as err:
            err.message = self.session.redact(err.message)
            return [Shipment.failed(n, NAME, err) for n in numbers]
