"""TrackingMore: the declared facts of API v2 and v4 (paths, limits, patterns, settings),
light to import (``shared/seeds/trackingmore-api-v2-realtime.txt``; v4: see ``v4_api``).

The version-independent answer facts are in ``shared``; each version has ``vN_api`` (pure) and
``vN`` (the strategy); ``adapter`` picks the configured one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waypost.carriers import _checkdigits as cd
from waypost.carriers.base import CarrierInfo, Pattern, Setting, rate, timezone
from waypost.status import Status

NAME = "trackingmore"
DEFAULT_BASE = "https://api.trackingmore.com/v2"
V4_BASE = "https://api.trackingmore.com/v4"
APIS = ("v4", "v2")
GET = "/trackings/get"
REALTIME = "/trackings/realtime"
POST = "/trackings/post"
BATCH = "/trackings/batch"
DELETE = "/trackings/delete"
CARRIERS = "/carriers"
DETECT = "/carriers/detect"
MAX_NUMBERS = 40  # numbers= per GET /trackings/get
MAX_CREATE = 40  # items per POST /trackings/batch
MAX_LIMIT = 2000  # limit= per GET /trackings/get page
REALTIME_REUSE = 2 * 3600.0
COURIERS_MAX_AGE = 86400.0
DETECT_NONE_MAX_AGE = 86400.0
PAUSE_429 = 120.0
MAX_PAGES = 20  # pages of 2,000 per watch pass, whatever `total` says
WATCH_OVERLAP = 600.0
REALTIME_MAX = 20

NS_REALTIME = "trackingmore.realtime"
NS_DETECT = "trackingmore.detect"
NS_DETECT_NONE = "trackingmore.detect-none"
NS_COURIERS = "trackingmore.couriers"
NS_ACCOUNT = "trackingmore.account"
NS_WATCH = "trackingmore.watch"
NS_LIMITS = "trackingmore.limits"
# The last four: the watch list's account calls (account.py).
ENDPOINTS: tuple[str, ...] = (GET, REALTIME, POST, BATCH, DELETE, CARRIERS, DETECT)
ENDPOINTS += ("/trackings/update", "/trackings/updatemore", "/trackings/notupdate")
ENDPOINTS += ("/trackings/getuserinfo",)

# Country of an S10 number -> TrackingMore courier code (the docs' examples use china-post,
# china-ems, usps, phlpost, lietuvos-pastas, korea-post; the rest are TrackingMore's usual
# codes, which `waypost carriers --remote trackingmore` lists). TrackingMore auto-corrects.
S10_POSTS: dict[str, str] = {
    "AU": "australia-post",
    "CA": "canada-post",
    "CH": "swiss-post",
    "CN": "china-post",
    "DE": "deutsche-post",
    "GB": "royal-mail",
    "HK": "hong-kong-post",
    "IT": "poste-italiane",
    "JP": "japan-post",
    "KR": "korea-post",
    "LT": "lietuvos-pastas",
    "NL": "netherlands-post",
    "PH": "phlpost",
    "RU": "russian-post",
    "SG": "singapore-post",
    "US": "usps",
}


def s10_courier(number: str) -> str | None:
    """The post of an S10 number's country; China's EMS items (``E?``) go to china-ems."""
    country = number[-2:]
    if country == "CN" and number.startswith("E"):
        return "china-ems"
    return S10_POSTS.get(country)


def api_version(settings: Mapping[str, Any]) -> str:
    """The configured API version (``v4`` unless ``api = "v2"``)."""
    return "v2" if str(settings.get("api") or "").lower() == "v2" else "v4"


def effective_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` with the defaults of the configured version filled in (for display)."""
    v4 = api_version(settings) == "v4"
    filled = dict(settings)
    filled["api"] = "v4" if v4 else "v2"
    filled.setdefault("base_url", V4_BASE if v4 else DEFAULT_BASE)
    for key, old, new in (("get_rate", 1.0, 10.0), ("realtime_rate", 3.0, 3.0)):
        filled[key] = filled.get(key) or (new if v4 else old)
    filled["default_rate"] = filled.get("default_rate") or (10.0 if v4 else 1.0)
    return filled


INFO = CarrierInfo(
    name=NAME,
    title="TrackingMore",
    coverage="1,000+ couriers and posts worldwide through a TrackingMore account (API v4 or v2)",
    docs="shared/seeds/trackingmore-api-v2-realtime.txt",
    docs_url="https://www.trackingmore.com/api-index.html",
    credentials_from="your TrackingMore account: https://my.trackingmore.com/get_apikey.php",
    max_batch=MAX_CREATE,
    # v4 reads 10 calls at once at its 10/s, with creates and deletes beside them.
    max_connections=16,
    courier_regex=r"[a-z0-9][a-z0-9-]*",
    courier_help="a TrackingMore courier code such as usps or china-ems; "
    "`waypost carriers --remote trackingmore` lists them",
    settings=(
        Setting("api_key", "TrackingMore API key", credential=True, secret=True),
        Setting("api", "API version: v4 (new accounts) or v2", default="v4", choices=APIS),
        Setting(
            "base_url",
            f"API base URL (default {V4_BASE}, or {DEFAULT_BASE} with api = v2)",
        ),
        Setting("lang", "language of checkpoint texts (API v4 `lang`, e.g. en, de, cn)"),
        rate("get_rate", None, "GET /trackings/get (default 10 with v4, 1 with v2)"),
        rate("realtime_rate", None, "v4 /trackings/create, v2 /trackings/realtime (default 3)"),
        rate("default_rate", None, "each other endpoint (default 10 with v4, 1 with v2)"),
        Setting(
            "realtime_max",
            "above this many numbers not in the account, create them (pending) "
            "instead of asking realtime",
            kind="int",
            default=REALTIME_MAX,
        ),
        timezone(None),
    ),
    patterns=(
        Pattern(
            name="UPU S10",
            regex=r"[A-Z]{2}\d{8}[0-46-9][A-Z]{2}",
            example="LS912989618CN",
            confidence=0.95,
            check=cd.s10_ok,
            courier_of=s10_courier,
            describe="2 letters, 8 digits, check digit, country (the country's post)",
        ),
        Pattern(
            name="UPU S10 (check digit 5)",
            regex=r"[A-Z]{2}\d{8}5[A-Z]{2}",
            example="RR050349575PH",
            confidence=0.85,
            check=cd.s10_ok,
            courier_of=s10_courier,
            describe="S10 whose check digit 5 also hides some typing errors",
        ),
        Pattern(
            name="USPS IMpb",
            regex=r"9[1-5]\d{20}",
            example="9400111201080805483016",
            confidence=0.95,
            courier="usps",
            check=cd.usps_ok,
            describe="22 digits from 91-95, mod-10 check",
        ),
        Pattern(
            name="USPS 20-digit",
            regex=r"\d{20}",
            example="03071790000523483741",
            confidence=0.8,
            courier="usps",
            check=cd.usps_ok,
            describe="20 digits, mod-10 check",
        ),
        Pattern(
            name="UPS",
            regex=r"1Z[A-Z0-9]{15}\d",
            example="1Z999AA10123456784",
            confidence=0.85,
            courier="ups",
            check=cd.ups_ok,
            describe="1Z + shipper, service, package, check digit",
        ),
        Pattern(
            name="FedEx Express",
            regex=r"\d{12}",
            example="986578788855",
            confidence=0.8,
            courier="fedex",
            check=cd.fedex12_ok,
            describe="12 digits, mod-11 check",
        ),
        Pattern(
            name="FedEx Ground",
            regex=r"\d{15}",
            example="041441760228964",
            confidence=0.8,
            courier="fedex",
            check=cd.fedex15_ok,
            describe="15 digits, mod-10 check",
        ),
        Pattern(
            name="FedEx Ground 96",
            regex=r"96\d{20}",
            example="9611020987654312345672",
            confidence=0.85,
            courier="fedex",
            check=cd.fedex96_ok,
            describe="22 digits from 96, mod-10 check over the serial",
        ),
        Pattern(
            name="DHL Express",
            regex=r"\d{10}",
            example="3318810025",
            confidence=0.7,
            courier="dhl",
            check=cd.dhl_express_ok,
            describe="10 digits, mod-7 check",
        ),
    ),
    rate_notes=(
        "v4 (api = v4): GET /trackings/get 10 requests/s, 40 numbers per call; "
        "POST /trackings/create 3 requests/s; other endpoints 10 requests/s",
        "v2 (api = v2): GET /trackings/get 1 request/s, 40 numbers or 2,000 items per call; "
        "POST /trackings/realtime 3 requests/s, the same shipment once per 2 hours; "
        "other endpoints 1 request/s each; batch create 40 per call",
        "either version: a 429 pauses the account for 2 minutes",
    ),
    capabilities=frozenset({"remove", "couriers"}),
    watch_cursor=True,
    effective_settings=effective_settings,
)


TEST_CASES = (
    {"number": "china-ems:LS912989618CN", "found": True, "status": Status.IN_TRANSIT},
    {"number": "usps:9400111899223197428490", "found": False, "status": Status.NOT_FOUND},
)
