"""ILS: the declared facts (``shared/seeds/ils-tracking-api.txt``), light to import.

Requests and answers are in ``api``, the strategy in ``adapter``.
"""

from __future__ import annotations

from waypost.carriers.base import CarrierInfo, Pattern, Setting, base_url, timezone
from waypost.status import Status

NAME = "ils"
ENDPOINT = "/oms/v2/event/getOrdersTrack"
MAX_BATCH = 100

INFO = CarrierInfo(
    name=NAME,
    title="ILS Logistics",
    coverage="ILS consignments (sea and air freight, China to Europe)",
    docs="shared/seeds/ils-tracking-api.txt",
    docs_url="https://www.tracking.themefixes.com/",
    credentials_from="ILS support gives each customer a user_id and a private key (pdd)",
    max_batch=MAX_BATCH,
    max_connections=10,
    settings=(
        Setting("user_id", "customer ID (from ILS support)", credential=True),
        Setting("pdd", "customer private key", credential=True, secret=True),
        base_url("http://106.52.44.213:8485"),
        timezone("Asia/Shanghai"),
    ),
    patterns=(
        Pattern(
            name="ILS consignment",
            regex=r"\d{4}[A-Z]\d{7}",
            example="3676E4043665",
            confidence=0.9,
            describe="4 digits, a letter, 7 digits (as in the ILS docs)",
        ),
    ),
    rate_notes=("no documented rate limit; at most 10 requests in flight",),
)

TEST_CASES = (
    {"number": "3676E4043665", "found": True, "status": Status.IN_TRANSIT},
    {"number": "3676E4038434", "found": False, "status": Status.NOT_FOUND},
)
