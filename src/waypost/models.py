"""The normalised model every carrier answer becomes (see SPEC.md, "Normalised model")."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from waypost.status import FINAL_STATUSES, Status

if TYPE_CHECKING:
    from waypost.errors import CarrierError

__all__ = [
    "FINAL_STATUSES",
    "SCHEMA_VERSION",
    "Event",
    "Journey",
    "LastMile",
    "Shipment",
    "Status",
    "TrackDocument",
]

SCHEMA_VERSION: Literal[2] = 2


class Event(BaseModel):
    """One step of a shipment's timeline."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    time: datetime | None = None
    location: str | None = None
    description: str | None = None
    status: Status = Status.IN_TRANSIT
    images: list[str] = Field(default_factory=list)
    description_local: str | None = None


class LastMile(BaseModel):
    """The courier a carrier hands the parcel to for the last leg, and its number there."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    courier: str | None = None
    tracking_number: str


class Journey(BaseModel):
    """Where a shipment sits in a journey of linked legs (``waypost link``)."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    id: str
    leg: int
    legs: int


class Shipment(BaseModel):
    """A carrier's answer for one tracking number, normalised."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    tracking_number: str
    carrier: str
    courier: str | None = None
    found: bool | None = False
    status: Status = Status.NOT_FOUND
    status_text: str | None = None
    service: str | None = None
    origin: str | None = None
    destination: str | None = None
    last_update: datetime | None = None
    events: list[Event] = Field(default_factory=list)
    error: str | None = None
    order_id: str | None = None
    eta: date | datetime | None = None
    eta_source: Literal["carrier", "history"] | None = None
    transit_days: int | None = None
    stalled: bool = False
    last_mile: LastMile | None = None
    link: str | None = None
    archived: bool = False
    journey: Journey | None = None

    _failure: CarrierError | None = PrivateAttr(default=None)

    @field_validator("link")
    @classmethod
    def _http_link(cls, value: str | None) -> str | None:
        """Only http(s) links with a host are kept; anything else is dropped, not an error."""
        if value is None:
            return None
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value.strip())
        except ValueError:
            return None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        return value.strip()

    @property
    def failure(self) -> CarrierError | None:
        """The error behind ``error``, kept for exit codes (never serialised)."""
        return self._failure

    @classmethod
    def failed(
        cls, number: str, carrier: str, err: CarrierError, *, courier: str | None = None
    ) -> Shipment:
        """A number that could not be answered: ``found`` null, status ``unknown``, the cause."""
        shipment = cls(
            tracking_number=number,
            carrier=carrier,
            courier=courier,
            found=None,
            status=Status.UNKNOWN,
            error=str(err),
        )
        shipment._failure = err
        return shipment


class TrackDocument(BaseModel):
    """The ``--json`` document."""

    # Built on first use: only `--json` and `schema` need it, and building costs start-up.
    model_config = ConfigDict(
        populate_by_name=True,
        serialize_by_alias=True,
        json_schema_serialization_defaults_required=True,
        defer_build=True,
    )

    schema_version: Literal[2] = Field(default=2, alias="schema")
    shipments: list[Shipment] = Field(default_factory=list)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the ``--json`` document; objects stay open to fields added later."""
    document = TrackDocument.model_json_schema(by_alias=True, mode="serialization")

    def open_up(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("additionalProperties", None)
            for value in node.values():
                open_up(value)
        elif isinstance(node, list):
            for value in node:
                open_up(value)

    open_up(document)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **document,
        "title": f"waypost track --json, schema {SCHEMA_VERSION}",
    }
