"""ILS requests, status words and ``orderStatus`` keys (``shared/seeds/ils-tracking-api.txt``),
without pydantic: shared by the model path (``api``) and the lean one (``lean``, ``quick``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from waypost.carriers._parse import WordRules, as_dict
from waypost.status import Status

# ILS status words -> Status, first match wins (order matters: "not delivered" before "delivered").
STATUS_RULES = WordRules(
    (
        (
            r"return(ed)? to (sender|origin)|\breturned\b|exception|damaged|\blost\b|refused|"
            r"detained|seized|held\b|on hold|problem",
            Status.EXCEPTION,
        ),
        (
            r"not delivered|undeliver|delivery (attempt|failed)|attempted|unsuccessful|"
            r"failed",
            Status.FAILED_ATTEMPT,
        ),
        (
            r"out for delivery|on (the )?vehicle for delivery|with (the )?(courier|driver) for "
            r"delivery|last mile",
            Status.OUT_FOR_DELIVERY,
        ),
        (
            r"ready for (collection|pick ?up)|available for (collection|pick ?up)|awaiting "
            r"collection|collection point|pick ?up point",
            Status.AVAILABLE_FOR_PICKUP,
        ),
        (r"\bdelivered\b|signed (for|by)|proof of delivery|\bpod\b", Status.DELIVERED),
        (
            r"booked|label (created|printed)|manifest|order (received|created)|information "
            r"received|pre-?advice|awaiting (pick ?up|collection from)",
            Status.INFO_RECEIVED,
        ),
    )
)


_SEPARATORS = re.compile(r"[\s_\-]")


@lru_cache(maxsize=256)
def fold_key(name: str) -> str:
    """A key without spaces, dashes or underscores, case-folded."""
    return _SEPARATORS.sub("", name).casefold()


def fields_of(order_status: Any) -> dict[str, Any]:
    """``orderStatus`` with keys folded: ``Despatch Date`` and ``despatchdate`` are one key."""
    return {fold_key(k): v for k, v in as_dict(order_status).items() if isinstance(k, str)}


def build_request(user_id: str, pdd: str, numbers: Sequence[str]) -> dict[str, Any]:
    """The JSON body of one trackOrders call."""
    return {"userId": user_id, "pdd": pdd, "method": "trackOrders", "trackingNos": list(numbers)}
