"""The normalised ``Status`` enum, kept free of pydantic so fast paths (``list``) can use it."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Normalised shipment and event status (SPEC.md, "Normalised model")."""

    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    FAILED_ATTEMPT = "failed_attempt"
    EXCEPTION = "exception"
    EXPIRED = "expired"
    NOT_FOUND = "not_found"
    # Not a carrier's status: the number could not be answered (network, carrier error, auth,
    # timeout, malformed answer). Never stored over a known history.
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        """True for states a shipment never leaves."""
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({Status.DELIVERED, Status.EXPIRED})
