"""PandaPon: the declared facts (``shared/seeds/pandapon-openapi-logistics.txt``), light to import.

Signing, requests and answers are in ``api``, the strategy in ``adapter``.
"""

from __future__ import annotations

from typing import Literal

from waypost.carriers.base import CarrierInfo, Pattern, Setting, base_url, rate, timezone
from waypost.carriers.pandapon import signing
from waypost.status import Status

NAME = "pandapon"
PATH_1688 = "/v2/alibaba/order/logistics"
PATH_TAOBAO = "/open/order/logistics/detail/get"
DEFAULT_BASE_URL = "https://api.pandapon.com"
DEFAULT_RATE = 5.0
SUCCESS_CODES = frozenset({"0", "200"})

Platform = Literal["1688", "taobao"]
SERVICE: dict[str, str] = {"1688": "1688", "taobao": "Taobao"}

INFO = CarrierInfo(
    name=NAME,
    title="PandaPon OpenAPI",
    coverage="1688 and Taobao orders bought through PandaPon (one order, many parcels)",
    docs="shared/seeds/pandapon-openapi-logistics.txt",
    docs_url="https://doc-en.pandapon.com/",
    credentials_from="the PandaPon open platform (become a developer, then get the access key "
    "and secret: https://doc-en.pandapon.com/)",
    max_batch=1,
    max_connections=8,
    settings=(
        Setting("user_id", "PandaPon user ID (sent unsigned, for sub-accounts)", credential=True),
        Setting("access_key", "AccessKey assigned by PandaPon", credential=True),
        Setting("secret", "AccessKey secret (signs requests)", credential=True, secret=True),
        base_url(DEFAULT_BASE_URL),
        timezone("Asia/Shanghai"),
        rate("rate", DEFAULT_RATE, "the PandaPon API (the real limit is not documented)"),
        Setting(
            "signature",
            "request signing recipe: auto (find and remember the one the account accepts), "
            "pairs or concat",
            default=signing.AUTO,
            choices=signing.CHOICES,
        ),
    ),
    patterns=(
        Pattern(
            name="1688 order id",
            regex=r"\d{18,20}",
            example="2542285634920880794",
            confidence=0.5,
            courier="1688",
            describe="18 to 20 digits, no check digit",
        ),
    ),
    capabilities=frozenset({"check"}),
    number_form=r"\d+",  # order ids: a number with letters is no PandaPon order
    number_help="a PandaPon order id is digits only",
    courier_regex=r"1688|taobao",
    courier_help="pandapon:1688:ORDER_ID or pandapon:taobao:SUB_PURCHASE_ORDER_ID",
    rate_notes=("one request per order id; 5 requests/s unless carriers.pandapon.rate says",),
)

TEST_CASES = (
    {"number": "2542285634920880794", "found": True, "status": Status.IN_TRANSIT},
    {"number": "2205513879640221987", "found": True, "status": Status.DELIVERED},
    {"number": "2694057731265508832", "found": True, "status": Status.PENDING},
    {"number": "2542285634920880000", "found": False, "status": Status.NOT_FOUND},
)
