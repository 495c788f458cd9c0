"""The normalised model every carrier answer becomes (see SPEC.md, "Normalised model")."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from waypost.status import FINAL_STATUSES, Status

if TYPE_CHECKING:
    from waypost.errors import CarrierError

__all__ = ["FINAL_STATUSES", "SCHEMA_VERSION", "Event", "Shipment", "Status", "TrackDocument"]

SCHEMA_VERSION: Literal[1] = 1


class Event(BaseModel):
    """One step of a shipment's timeline."""

    model_config = ConfigDict(extra="forbid")

    time: datetime | None = None
    location: str | None = None
    description: str | None = None
    status: Status = Status.IN_TRANSIT
    images: list[str] = Field(default_factory=list)


class Shipment(BaseModel):
    """A carrier's answer for one tracking number, normalised."""

    model_config = ConfigDict(extra="forbid")

    tracking_number: str
    carrier: str
    courier: str | None = None
    found: bool = False
    status: Status = Status.NOT_FOUND
    status_text: str | None = None
    service: str | None = None
    origin: str | None = None
    destination: str | None = None
    last_update: datetime | None = None
    events: list[Event] = Field(default_factory=list)
    error: str | None = None
    order_id: str | None = None

    _failure: CarrierError | None = PrivateAttr(default=None)

    @property
    def failure(self) -> CarrierError | None:
        """The error behind ``error``, kept for exit codes (never serialised)."""
        return self._failure

    @classmethod
    def failed(
        cls, number: str, carrier: str, err: CarrierError, *, courier: str | None = None
    ) -> Shipment:
        """A result that records why ``number`` could not be answered."""
        shipment = cls(
            tracking_number=number,
            carrier=carrier,
            courier=courier,
            found=False,
            status=Status.NOT_FOUND,
            error=str(err),
        )
        shipment._failure = err
        return shipment


class TrackDocument(BaseModel):
    """The ``--json`` document."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    schema_version: Literal[1] = Field(default=1, alias="schema")
    shipments: list[Shipment] = Field(default_factory=list)
