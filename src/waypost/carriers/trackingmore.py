"""TrackingMore API v2 (``shared/seeds/trackingmore-api-v2-realtime.txt`` and
``shared/seeds/trackingmore-api-v2-list-ru.txt``; research notes in ``notes/trackingmore.md``).

``carriers.trackingmore.api`` picks the version: ``v4`` (the default) is answered by
``trackingmore_v4.py`` (``adapter`` chooses); this module keeps v2 and what both share: the
number patterns, S10 courier codes, the status and substatus tables, ``INFO``.

Base ``https://api.trackingmore.com/v2``, header ``Trackingmore-Api-Key``. Every answer is
``{"meta": {"code", "type", "message"}, "data": ...}`` and the adapter branches on ``meta.code``,
never on the HTTP status alone (4016, 4021, 4031... arrive with HTTP 200).

Which path a number takes:

* ``track``: first ``GET /trackings/get?numbers=a,b,...`` (40 numbers per call, 1 call/s) reads
  what the account already holds; 4031/4017 or absence means "not in the account". The rest go
  to ``POST /trackings/realtime`` (3 calls/s, concurrent up to that rate), or, when there are
  more than ``realtime_max`` of them, to ``POST /trackings/batch`` (40 per call) and are answered
  ``pending``. ``--save`` then batch-creates the realtime-answered numbers in the account.
* ``watch`` (``TrackOptions.watch``): numbers the cache does not know to be in the account are
  batch-created (``pending``); the account is paged with ``limit=2000`` and
  ``update_time_min`` = last successful refresh (``TrackOptions.since``, else the cursor kept in
  the cache) minus 10 minutes, until a short page (or ``total`` is reached). Watched numbers on
  no page are ``Answer(unchanged=True)``. Without a cursor (first refresh) or without a cache
  (membership unknown) the whole account is paged.
* ``realtime_max`` (20): realtime costs N/3 s and gives events now; creating costs about
  N/40 s (batch) and later N/40 s of list reads, but answers ``pending`` until TrackingMore has
  fetched the parcels (minutes to hours). 20 numbers keep ``track`` under 7 s of realtime; past
  that, waiting longer than that at a terminal buys less than the account refresh will.

Decisions where the API or the brief is silent:

* A realtime answer is kept in the cache and reused for 2 hours (TrackingMore allows one
  realtime fetch per shipment per 2 hours) unless ``refresh``; what the API answers to a second
  call inside that window is undocumented.
* 429 (HTTP 429 or meta 429; no ``Retry-After`` is documented, one is honoured if sent) pauses
  every TrackingMore limiter of the session for 120 s, and never longer than ``[http]
  max_pause`` (300 s): a ``Retry-After`` of years is a broken server. With ``wait`` or ``watch``
  the request waits that out and is retried once (unless the pause outlasts ``--deadline``);
  otherwise it and every request still queued fail at once with ``RateLimited``.
* Paging stops at a short or empty page, a page seen before, the page count ``total`` implies,
  and at ``MAX_PAGES`` in any case. The watch cursor moves only after the pass's news has been
  delivered and stored (``TrackOptions.after_delivery``), and not at all when paging was cut
  short: a killed or failed pass reads the same updates again.
* The courier for realtime/create: ``Query.courier``, else this module's own sure pattern, else
  the cached ``/carriers/detect`` answer, else one detect call (cached; 5 calls cost one
  credit). Several candidates: the first wins, as TrackingMore's support advises (it also
  auto-corrects the courier on its side). None: the number fails, asking for
  ``trackingmore:COURIER:NUMBER``.
* ``notfound`` is a definite answer: ``found=False``, status ``not_found``, no error (exit 0);
  ``notfound001`` ("info received") is ``found=True``, ``info_received``. ``pending`` (created,
  not fetched yet) is ``found=True``.
* ``transit003`` stays ``in_transit``: every version of the docs files it under Transit ("arrived
  at delivery facility"); out-for-delivery and ready-for-pickup are the main status ``pickup``,
  told apart by the substatus (``pickup002`` ready for collection) or, without one, by the
  words (a locker, ``驿站``, ``入柜``: ``available_for_pickup``).
* ``status_text`` is ``lastEvent`` without its trailing ``,<lastUpdateTime>`` and the newest
  checkpoint's place; without one, the substatus' documented words.
* Times carry no zone: a checkpoint's time is local to where it happened. That is the country
  its place writes out in full (``ZHENGZHOU EMS,CHINA``, ``美国``), else its leg's country
  (origin leg: ``original_country``, destination leg: ``destination_country``; without one,
  the leg courier's home country, ``COURIER_COUNTRIES``; none for a consolidator such as
  Cainiao, whose one leg holds every country's scans). It gets that country's zone where the
  country has one zone (``COUNTRY_ZONES``) and stays naive where it has several (US, RU, CA,
  AU, BR...) or is unknown. A ``timezone`` setting holds for every checkpoint instead.
* Events of both legs are merged, destination leg first so that its details win on duplicates
  (as in ``lastEvent``); an event's status comes from that checkpoint alone: its
  ``checkpoint_status`` and ``substatus``, else its words (``EVENT_WORDS``: 2015-2017 answers
  carry no status field), else ``in_transit``; never the shipment's status.
* Every endpoint has its own limiter (``get_rate``, ``realtime_rate``, ``default_rate``;
  ``http.RateLimiter`` counts arrivals, not sends). The last request time of each endpoint and
  a 429 pause are kept in the cache, so back-to-back runs keep the spacing too.

Detection patterns: UPU S10 (country -> that country's post), UPS ``1Z``, FedEx 12/15/22
(``96``), USPS IMpb and 20-digit, DHL Express 10. Only checks that catch every single-digit
error may make detection sure (>= 0.9): S10 with a check digit other than 5 (5 stands for both
residues 0 and 6), USPS 22-digit. UPS doubles without digit sums (a 0<->5 change in a doubled
place passes), FedEx 12 folds mod 11 into mod 10, FedEx ``96`` checks only its serial, DHL's mod 7
misses +-7 changes, and bare 10/12/15/20-digit numbers are common to many couriers: those
rank below 0.9. FedEx SmartPost numbers are IMpb barcodes USPS delivers (the USPS pattern
takes them); FedEx door tags (``DT`` + 12 digits) have no check digit and are left to detect.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from waypost.carriers import _checkdigits as cd
from waypost.carriers._parse import (
    WordRules,
    as_dict,
    as_list,
    merge_events,
    parse_time,
    text,
    zone,
)
from waypost.carriers.base import (
    Answer,
    CarrierInfo,
    Pattern,
    Query,
    Setting,
    TrackOptions,
    rate,
    timezone,
)
from waypost.errors import (
    AuthError,
    CarrierError,
    ProtocolError,
    QuotaExceeded,
    RateLimited,
    Timeout,
)
from waypost.models import Event, Shipment, Status

if TYPE_CHECKING:
    import httpx

    from waypost.carriers.base import Cache
    from waypost.http import RateLimiter, Session

log = logging.getLogger("waypost.trackingmore")

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
# The last four: the watch list's account calls (trackingmore_account.py).
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


INFO = CarrierInfo(
    name=NAME,
    title="TrackingMore",
    coverage="1,000+ couriers and posts worldwide through a TrackingMore account (API v4 or v2)",
    docs="shared/seeds/trackingmore-api-v2-realtime.txt",
    docs_url="https://www.trackingmore.com/api-index.html",
    credentials_from="your TrackingMore account: https://my.trackingmore.com/get_apikey.php",
    max_batch=MAX_CREATE,
    max_connections=8,
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
        "v2: GET /trackings/get: 1 request/s, 40 numbers or 2,000 items per call",
        "POST /trackings/realtime: 3 requests/s; the same shipment once per 2 hours",
        "other endpoints: 1 request/s each; batch create 40 per call",
        "a 429 pauses the account for 2 minutes",
    ),
)


def api_version(settings: Mapping[str, Any]) -> str:
    """The configured API version (``v4`` unless ``api = "v2"``)."""
    return "v2" if str(settings.get("api") or "").lower() == "v2" else "v4"


def adapter(settings: Mapping[str, Any], session: Session, cache: Cache | None = None) -> Any:
    """The adapter of the configured API version."""
    if api_version(settings) == "v2":
        return Adapter(settings, session, cache)
    from waypost.carriers import trackingmore_v4

    return trackingmore_v4.Adapter(settings, session, cache)


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


TEST_CASES = (
    {"number": "china-ems:LS912989618CN", "found": True, "status": Status.IN_TRANSIT},
    {"number": "usps:9400111899223197428490", "found": False, "status": Status.NOT_FOUND},
)

STATUS: dict[str, Status] = {
    "pending": Status.PENDING,
    "notfound": Status.NOT_FOUND,
    "transit": Status.IN_TRANSIT,
    # "pickup" covers both out for delivery and ready for collection: see ``pickup_status``.
    "pickup": Status.OUT_FOR_DELIVERY,
    "delivered": Status.DELIVERED,
    "undelivered": Status.FAILED_ATTEMPT,
    "exception": Status.EXCEPTION,
    "expired": Status.EXPIRED,
    # Main status of TrackingMore's later APIs; harmless to know here.
    "inforeceived": Status.INFO_RECEIVED,
}

# Substatus -> (refined status, the docs' words), after TrackingMore's published substatus
# tables (the support article "Main statuses & sub-statuses", docs/logistics_status, and the
# older v2 page api-logistics_status, which alone lists exception001-003).
SUBSTATUS: dict[str, tuple[Status, str]] = {
    "notfound001": (Status.INFO_RECEIVED, "Info received; the package is about to be picked up"),
    "notfound002": (Status.NOT_FOUND, "No tracking information for this package"),
    "inforeceived001": (Status.INFO_RECEIVED, "Waiting for the courier to pick up"),
    "transit001": (Status.IN_TRANSIT, "Shipment on the way"),
    "transit002": (Status.IN_TRANSIT, "Arrived at a hub or sorting center"),
    "transit003": (Status.IN_TRANSIT, "Arrived at the delivery facility"),
    "transit004": (Status.IN_TRANSIT, "Arrived in the destination country"),
    "transit005": (Status.IN_TRANSIT, "Customs clearance completed"),
    "transit006": (Status.IN_TRANSIT, "Item dispatched"),
    "transit007": (Status.IN_TRANSIT, "Departed from the airport"),
    "pickup001": (Status.OUT_FOR_DELIVERY, "Out for delivery"),
    "pickup002": (Status.AVAILABLE_FOR_PICKUP, "Ready for collection"),
    "pickup003": (Status.OUT_FOR_DELIVERY, "The addressee is contacted before the final delivery"),
    "delivered001": (Status.DELIVERED, "Delivered"),
    "delivered002": (Status.DELIVERED, "Collected by the addressee"),
    "delivered003": (Status.DELIVERED, "Delivered and signed for by the addressee"),
    "delivered004": (Status.DELIVERED, "Left at the front door or with a neighbour"),
    "undelivered001": (Status.FAILED_ATTEMPT, "Not delivered: an address-related issue"),
    "undelivered002": (Status.FAILED_ATTEMPT, "Not delivered: the addressee was not at home"),
    "undelivered003": (Status.FAILED_ATTEMPT, "Not delivered: the addressee could not be found"),
    "undelivered004": (Status.FAILED_ATTEMPT, "Not delivered, for another reason"),
    "exception001": (Status.EXCEPTION, "Added long ago, still without tracking information"),
    "exception002": (Status.EXCEPTION, "In transit for too long"),
    "exception003": (Status.EXCEPTION, "Added long ago, still not delivered"),
    "exception004": (Status.EXCEPTION, "Unclaimed"),
    "exception005": (Status.EXCEPTION, "Delivery exception"),
    "exception006": (Status.EXCEPTION, "Held by customs (prohibited goods)"),
    "exception007": (Status.EXCEPTION, "Damaged, lost or discarded"),
    "exception008": (Status.EXCEPTION, "Cancelled before delivery"),
    "exception009": (Status.EXCEPTION, "Refused by the addressee"),
    "exception010": (Status.EXCEPTION, "Returned to the sender"),
    "exception011": (Status.EXCEPTION, "Being returned to the sender"),
}

# A ``pickup`` without a substatus: these words (lockers, pickup stations, "ready for
# collection") mean the parcel waits for the addressee; anything else is out for delivery.
_PICKUP = (
    r"入柜|入库|驿站|快递柜|丰巢|待取件|取件码|自提|"
    r"ready for (collection|pick ?up)|available for (collection|pick ?up)|"
    r"awaiting collection|parcel locker"
)
PICKUP_WORDS = WordRules(((_PICKUP, Status.AVAILABLE_FOR_PICKUP),))

# A checkpoint without ``checkpoint_status`` and ``substatus`` (2015-2017 answers) has only its
# words; first match wins (refusals and failures before "delivered"), else in transit.
EVENT_WORDS = WordRules(
    (
        (
            r"not delivered|undeliver|delivery attempt|attempted delivery|未妥投|投递失败|派送失败",
            Status.FAILED_ATTEMPT,
        ),
        (r"return(ed)? to (the )?sender|refused|退回|退件|拒收|拒签", Status.EXCEPTION),
        (
            r"\bdelivered\b|\bentregado\b|已签收|签收成功|妥投|投递成功|\bzugestellt\b",
            Status.DELIVERED,
        ),
        (_PICKUP, Status.AVAILABLE_FOR_PICKUP),
        (r"out for delivery|正在派件|派件中|派送中|开始派送|正在投递", Status.OUT_FOR_DELIVERY),
        (
            r"电子信息已收到|收到电子信息|shipping label created|shipment information received|"
            r"electronic (shipping )?info",
            Status.INFO_RECEIVED,
        ),
    )
)

# Countries with one time zone (for the mainland: Spain's Canaries, France's overseas parts
# aside) -> that zone; TrackingMore's times are local to where each checkpoint happened and
# carry no offset. Countries with several zones (US, RU, CA, AU, BR, MX, ID, ...) are left out
# on purpose: their times stay naive ("local time").
COUNTRY_ZONES: dict[str, str] = {
    "CN": "Asia/Shanghai",
    "HK": "Asia/Hong_Kong",
    "MO": "Asia/Macau",
    "TW": "Asia/Taipei",
    "SG": "Asia/Singapore",
    "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "TH": "Asia/Bangkok",
    "VN": "Asia/Ho_Chi_Minh",
    "MY": "Asia/Kuala_Lumpur",
    "PH": "Asia/Manila",
    "IN": "Asia/Kolkata",
    "IL": "Asia/Jerusalem",
    "AE": "Asia/Dubai",
    "SA": "Asia/Riyadh",
    "TR": "Europe/Istanbul",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "DE": "Europe/Berlin",
    "FR": "Europe/Paris",
    "IT": "Europe/Rome",
    "ES": "Europe/Madrid",
    "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels",
    "LU": "Europe/Luxembourg",
    "CH": "Europe/Zurich",
    "AT": "Europe/Vienna",
    "PL": "Europe/Warsaw",
    "CZ": "Europe/Prague",
    "SK": "Europe/Bratislava",
    "HU": "Europe/Budapest",
    "SE": "Europe/Stockholm",
    "NO": "Europe/Oslo",
    "DK": "Europe/Copenhagen",
    "FI": "Europe/Helsinki",
    "LT": "Europe/Vilnius",
    "LV": "Europe/Riga",
    "EE": "Europe/Tallinn",
    "GR": "Europe/Athens",
    "RO": "Europe/Bucharest",
    "BG": "Europe/Sofia",
    "UA": "Europe/Kiev",
    "BY": "Europe/Minsk",
    "ZA": "Africa/Johannesburg",
    "EG": "Africa/Cairo",
    "CO": "America/Bogota",
    "PE": "America/Lima",
}
COUNTRY_CODES: dict[str, str] = {
    "china": "CN",
    "hong kong": "HK",
    "hong kong, china": "HK",
    "macau": "MO",
    "macao": "MO",
    "taiwan": "TW",
    "singapore": "SG",
    "japan": "JP",
    "korea, south": "KR",
    "south korea": "KR",
    "korea": "KR",
    "republic of korea": "KR",
    "thailand": "TH",
    "vietnam": "VN",
    "viet nam": "VN",
    "malaysia": "MY",
    "philippines": "PH",
    "india": "IN",
    "israel": "IL",
    "united arab emirates": "AE",
    "saudi arabia": "SA",
    "turkey": "TR",
    "united kingdom": "GB",
    "great britain": "GB",
    "uk": "GB",
    "ireland": "IE",
    "germany": "DE",
    "france": "FR",
    "italy": "IT",
    "spain": "ES",
    "netherlands": "NL",
    "the netherlands": "NL",
    "belgium": "BE",
    "luxembourg": "LU",
    "switzerland": "CH",
    "austria": "AT",
    "poland": "PL",
    "czech republic": "CZ",
    "czechia": "CZ",
    "slovakia": "SK",
    "hungary": "HU",
    "sweden": "SE",
    "norway": "NO",
    "denmark": "DK",
    "finland": "FI",
    "lithuania": "LT",
    "latvia": "LV",
    "estonia": "EE",
    "greece": "GR",
    "romania": "RO",
    "bulgaria": "BG",
    "ukraine": "UA",
    "belarus": "BY",
    "south africa": "ZA",
    "egypt": "EG",
    "colombia": "CO",
    "peru": "PE",
    # Several zones: recognised as a place, their times stay naive.
    "united states": "US",
    "united states of america": "US",
    "usa": "US",
    "russia": "RU",
    "russian federation": "RU",
    "canada": "CA",
    "australia": "AU",
    "brazil": "BR",
    "mexico": "MX",
    "indonesia": "ID",
    "中国": "CN",
    "美国": "US",
    "英国": "GB",
    "德国": "DE",
    "法国": "FR",
    "日本": "JP",
    "韩国": "KR",
    "香港": "HK",
    "新加坡": "SG",
    "俄罗斯": "RU",
}

# A leg without a country: the courier's home country, for couriers that deliver in one country.
# Cross-border consolidators carry every country's scans in one leg: no country at all.
COURIER_COUNTRIES: dict[str, str] = {
    "china-post": "CN",
    "china-ems": "CN",
    "ems": "CN",
    "sf-express": "CN",
    "yto": "CN",
    "zto": "CN",
    "sto": "CN",
    "yunda": "CN",
    "bestex": "CN",
    "deppon": "CN",
    "jd": "CN",
    "hong-kong-post": "HK",
    "singapore-post": "SG",
    "japan-post": "JP",
    "korea-post": "KR",
    "royal-mail": "GB",
    "deutsche-post": "DE",
    "dhl-germany": "DE",
    "la-poste-colissimo": "FR",
    "poste-italiane": "IT",
    "correos-spain": "ES",
    "netherlands-post": "NL",
    "bluedart": "IN",
    "india-post": "IN",
    "thailand-post": "TH",
    "phlpost": "PH",
    "lietuvos-pastas": "LT",
    "swiss-post": "CH",
}
CONSOLIDATORS = frozenset({"cainiao", "4px", "yanwen", "yunexpress", "sunyou", "wishpost"})


def _fold(raw: str) -> str:
    """``Hong Kong [CN]`` -> ``hong kong``; ``United States of America (the)`` -> ``united
    states of america``."""
    if "[" in raw or "(" in raw:
        raw = re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", raw)
    return " ".join(raw.split()).casefold()


def country_code(country: Any) -> str | None:
    """The ISO code of a country field (a code or TrackingMore's English name), or None."""
    raw = text(country)
    if raw is None:
        return None
    if len(raw) == 2 and raw.isalpha():
        return raw.upper()
    return COUNTRY_CODES.get(_fold(raw))


def country_zone(country: Any) -> tzinfo | None:
    """The zone of a country (ISO code or TrackingMore's English name) with one time zone;
    None for unknown countries and for those with several zones."""
    return zone(COUNTRY_ZONES.get(country_code(country) or ""))


_COUNTRY_NAMES = re.compile(
    r"(?<![^\W\d_])("
    + "|".join(
        re.escape(n)
        for n in sorted(COUNTRY_CODES, key=len, reverse=True)
        if len(n) > 2 or not n.isascii()
    )
    + r")(?![^\W\d_])",
    re.I,
)


@lru_cache(maxsize=4096)
def place_country(location: str | None) -> str | None:
    """The country a checkpoint's place writes out in full (``ZHENGZHOU EMS,CHINA``, ``美国``;
    the last one named wins), else None. Bare two-letter codes are not read: posts put the
    item's destination there."""
    if not location:
        return None
    from waypost.safe import field

    # Escape sequences glued to a name (``\x9b31mChina``) must not hide it.
    found = _COUNTRY_NAMES.findall(field(location))
    return COUNTRY_CODES.get(found[-1].casefold()) if found else None


def leg_country(country: Any, courier: Any) -> str | None:
    """Where a leg's checkpoints happen: its country field, else its courier's home country;
    None for a consolidator's leg, which holds several countries' scans."""
    code = text(courier)
    if code is not None and code.lower() in CONSOLIDATORS:
        return None
    return country_code(country) or COURIER_COUNTRIES.get((code or "").lower())


SUCCESS = frozenset({200, 201})
AUTH_CODES = frozenset({401, 403, 4001, 4002})
QUOTA_CODES = frozenset({402, 4019, 4021})
BAD_REQUEST = frozenset({4012, 4013, 4014, 4015})
SERVER_CODES = frozenset({500, 502, 503, 504})
NOT_IN_ACCOUNT = frozenset({4017, 4031})
OVER_LIMIT = frozenset({202, 4020})  # 202 "successful but exceeding the limit", 4020 "up to 200"
BAD_STATUS = 4033  # the "status" filter value is invalid
WRONG_PATH = frozenset({404, 405})  # no such resource / method not allowed there
CONFLICT = 409
ALREADY_EXISTS = 4016
CANNOT_DETECT = 4032
AUTH_HINT = (
    "check carriers.trackingmore.api_key (`waypost config show`); a key of an account on the "
    'newer API needs api = "v4" (`waypost config set carriers.trackingmore.api v4`)'
)
COURIER_HINT = "name the courier: trackingmore:COURIER:NUMBER (e.g. trackingmore:usps:NUMBER)"


def _code(value: Any) -> int | None:
    raw = text(value)
    return int(raw) if raw is not None and re.fullmatch(r"\d{1,6}", raw) else None


def _number(value: Any) -> str | None:
    raw = text(value)
    return raw.upper() if raw else None


def read_envelope(payload: Any) -> tuple[int | None, str | None, Any]:
    """``(meta.code, meta.message, data)`` of one answer; a missing meta gives code None."""
    envelope = as_dict(payload)
    meta = as_dict(envelope.get("meta"))
    return _code(meta.get("code")), text(meta.get("message")), envelope.get("data")


def envelope_error(code: int | None, message: str | None) -> CarrierError:
    """The error for a ``meta.code`` that is neither success nor handled by the caller."""
    words = message or "no message"
    if code in AUTH_CODES:
        return AuthError(
            f"{NAME}: API key rejected (code {code}: {words}); "
            'a key of an account on the newer API needs api = "v4"',
            carrier=NAME,
            hint=AUTH_HINT,
        )
    if code in QUOTA_CODES:
        return QuotaExceeded(
            f"{NAME}: the account's balance or quota is used up, or its free trial has expired "
            f"(code {code}: {words}); recharge it to continue",
            carrier=NAME,
            hint="recharge the TrackingMore account (trackingmore.com, Billing), then run again",
        )
    if code == 429:
        return RateLimited(f"{NAME}: too many requests (code 429: {words})", carrier=NAME)
    if code == CANNOT_DETECT:
        return CarrierError(
            f"{NAME}: the courier of this number cannot be detected (code 4032)",
            carrier=NAME,
            hint=COURIER_HINT,
        )
    if code in BAD_REQUEST:
        return CarrierError(f"{NAME}: request refused (code {code}: {words})", carrier=NAME)
    if code == 4018:
        return CarrierError(
            f"{NAME}: this feature needs activation by TrackingMore (code 4018)",
            carrier=NAME,
            hint="ask service@trackingmore.org to activate it for the account",
        )
    if code in OVER_LIMIT:
        return CarrierError(
            f"{NAME}: the request asked for more than one call may (code {code}: {words})",
            carrier=NAME,
            hint="ask for fewer numbers at once; TrackingMore takes up to 40 per call",
        )
    if code == BAD_STATUS:
        return CarrierError(
            f"{NAME}: the status filter was refused as invalid (code 4033: {words})", carrier=NAME
        )
    if code in WRONG_PATH:
        what = "no such resource" if code == 404 else "method not allowed on this resource"
        return ProtocolError(
            f"{NAME}: {what} (code {code}: {words})",
            carrier=NAME,
            hint="check carriers.trackingmore.base_url (`waypost config show`)",
        )
    if code == CONFLICT:
        return CarrierError(
            f"{NAME}: the request conflicts with another change (code 409: {words}); "
            "try again in a moment",
            carrier=NAME,
        )
    if code in SERVER_CODES:
        return CarrierError(
            f"{NAME}: server error (code {code}: {words}); try again later", carrier=NAME
        )
    return CarrierError(f"{NAME}: error code {code}: {words}", carrier=NAME)


def pickup_status(substatus: str | None, words: str | None) -> Status:
    """What ``pickup`` means: its substatus where sent, else its words (a locker or pickup
    station is ``available_for_pickup``), else out for delivery."""
    refined = SUBSTATUS.get((substatus or "").lower())
    if refined is not None:
        return refined[0]
    return PICKUP_WORDS.match(words) or Status.OUT_FOR_DELIVERY


def _refine(raw: str | None, substatus: str | None, words: str | None) -> Status | None:
    """A main status word refined by its substatus (and, for ``pickup``, its words)."""
    main = (raw or "").lower()
    if main == "pickup":
        return pickup_status(substatus, words)
    refined = SUBSTATUS.get((substatus or "").lower())
    if refined is not None:
        return refined[0]
    return STATUS.get(main)


def _first(point: dict[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` with a text value."""
    for key in keys:
        value = point.get(key)
        if value is not None:
            found = text(value)
            if found is not None:
                return found
    return None


def _location(point: dict[str, Any]) -> str | None:
    """A checkpoint's place: ``location``/``checkpoint_location`` where sent, else ``Details``."""
    return _first(point, "location", "checkpoint_location", "Details")


def parse_event(node: Any, tz: tzinfo | None) -> Event | None:
    """One ``trackinfo`` checkpoint; None when it carries neither time nor words. Its status
    comes from the checkpoint only: ``checkpoint_status`` and its ``substatus``, else its
    words (``EVENT_WORDS``), else in transit."""
    point = as_dict(node)
    return _event(point, tz, _location(point))


def _event(point: dict[str, Any], tz: tzinfo | None, location: str | None) -> Event | None:
    when = parse_time(point.get("Date"), tz)
    description = text(point.get("StatusDescription"))
    if when is None and description is None:
        return None
    raw = _first(point, "checkpoint_status", "checkpoint_delivery_status")
    sub = _first(point, "substatus", "checkpoint_delivery_substatus")
    status = _refine(raw, sub, description)
    if status is None:
        status = EVENT_WORDS.match(description) or Status.IN_TRANSIT
    return Event(time=when, location=location, description=description, status=status)


def _status_text(
    item: dict[str, Any], newest: dict[str, Any] | None, substatus_words: str | None
) -> str | None:
    """``lastEvent`` without its trailing ``,<lastUpdateTime>`` and ``,<place>`` (the newest
    checkpoint's description alone where it starts ``lastEvent``)."""
    last = text(item.get("lastEvent"))
    stamp = text(item.get("lastUpdateTime"))
    if last and stamp and last.endswith("," + stamp):
        last = last[: -len(stamp) - 1].strip(" ,") or None
    if last and newest is not None:
        description = text(newest.get("StatusDescription"))
        if description and last.startswith(description + ","):
            return description
        for place in (text(newest.get(k)) for k in ("Details", "location", "checkpoint_location")):
            if place and last.endswith("," + place):
                last = last[: -len(place) - 1].strip(" ,") or None
                break
    return last or substatus_words


def _place_zone(location: str | None, leg: str | None) -> tzinfo | None:
    """A checkpoint's zone: the country its place names, else its leg's; None (naive) when
    that country has several zones or is unknown."""
    code = place_country(location) or leg
    return zone(COUNTRY_ZONES.get(code or ""))


def same_step_same_time(
    parsed: list[tuple[Event | None, dict[str, Any]]],
) -> list[tuple[Event | None, dict[str, Any]]]:
    """Both legs often copy one step with the same wall-clock time; in two zones those would be
    two instants. A later (origin) copy takes the first (destination) copy's time, so that
    ``merge_events`` sees one step."""
    first: dict[tuple[datetime, str], datetime] = {}  # (wall-clock time, words) -> time
    out = []
    for event, point in parsed:
        if event is not None and event.time is not None:
            naive = event.time if event.time.tzinfo is None else event.time.replace(tzinfo=None)
            key = (naive, event.description or "")
            seen = first.setdefault(key, event.time)
            if seen != event.time:
                event = event.model_copy(update={"time": seen})
        out.append((event, point))
    return out


def _int(value: Any) -> int | None:
    raw = text(value)
    return int(raw) if raw is not None and re.fullmatch(r"\d{1,5}", raw) else None


def parse_item(
    item: Any, number: str, tz: tzinfo | None = None, courier: str | None = None
) -> Shipment:
    """One tracking object (get, realtime, created) as a Shipment; never raises.

    ``tz`` (the ``timezone`` setting) holds for every checkpoint when given; else each gets the
    zone of the country it happened in (see the module docstring), or stays naive."""
    node = as_dict(item)
    dest_info, origin_info = as_dict(node.get("destination_info")), as_dict(node.get("origin_info"))
    dest = leg_country(node.get("destination_country"), dest_info.get("carrier_code"))
    origin = leg_country(
        node.get("original_country"), origin_info.get("carrier_code") or node.get("carrier_code")
    )
    legs = [(dest_info, dest), (origin_info, origin)]
    points = [(as_dict(n), c) for leg, c in legs for n in as_list(leg.get("trackinfo"))]
    parsed = []
    for point, leg in points:
        place = _location(point)
        parsed.append((_event(point, tz or _place_zone(place, leg), place), point))
    if as_list(dest_info.get("trackinfo")) and as_list(origin_info.get("trackinfo")):
        parsed = same_step_same_time(parsed)
    dest_zone = tz or zone(COUNTRY_ZONES.get(dest or ""))
    origin_zone = tz or zone(COUNTRY_ZONES.get(origin or ""))
    events = merge_events(e for e, _ in parsed if e is not None)
    raw_status = (text(node.get("status")) or "").lower()
    substatus = text(node.get("substatus"))
    refined = SUBSTATUS.get((substatus or "").lower())
    newest = next((p for e, p in parsed if events and e is events[0]), None)
    # An unknown (newer) status word: in transit when there are events, else still pending.
    status = STATUS.get(raw_status, Status.IN_TRANSIT if events else Status.PENDING)
    if raw_status == "pickup":
        words = text(node.get("lastEvent")) or (events[0].description if events else None)
        status = pickup_status(substatus, words)
    elif refined is not None and status not in (Status.PENDING, Status.EXPIRED):
        status = refined[0]
    return Shipment(
        tracking_number=number,
        carrier=NAME,
        courier=text(node.get("carrier_code")) or courier,
        found=status is not Status.NOT_FOUND,
        status=status,
        status_text=_status_text(node, newest, refined[1] if refined else None),
        service=text(node.get("service_code")),
        origin=text(node.get("original_country")),
        destination=text(node.get("destination_country")),
        last_update=_last_update(node.get("lastUpdateTime"), events, dest_zone, origin_zone),
        events=events,
        order_id=text(node.get("order_id")),
        transit_days=_int(node.get("itemTimeLength")),
    )


def _last_update(
    value: Any, events: Sequence[Event], dest_zone: tzinfo | None, origin_zone: tzinfo | None
) -> datetime | None:
    """``lastUpdateTime`` in the zone of the checkpoint it names (same wall-clock time), else
    of the destination leg; the newest event's time when it is missing."""
    naive = parse_time(value)
    if naive is None:
        return events[0].time if events else None
    for ev in events:
        if ev.time is not None and ev.time.replace(tzinfo=None) == naive.replace(tzinfo=None):
            return ev.time
    zone_of = dest_zone or origin_zone
    return naive if zone_of is None or naive.tzinfo else naive.replace(tzinfo=zone_of)


def item_number(item: Any) -> str | None:
    """The upper-cased ``tracking_number`` of a tracking object."""
    return _number(as_dict(item).get("tracking_number"))


def items_of(data: Any) -> list[dict[str, Any]]:
    """``data.items`` of a get/realtime answer, dicts only."""
    return [i for i in as_list(as_dict(data).get("items")) if isinstance(i, dict)]


def build_create(number: str, courier: str) -> dict[str, str]:
    """One create object for ``/trackings/post`` and ``/trackings/batch``."""
    return {"tracking_number": number, "carrier_code": courier}


def parse_batch(data: Any) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int | None, str]]]:
    """A batch answer -> (created objects by number, ``(code, message)`` errors by number)."""
    body = as_dict(data)
    created: dict[str, dict[str, Any]] = {}
    for item in as_list(body.get("trackings")):
        number = item_number(item)
        if number:
            created[number] = as_dict(item)
    errors: dict[str, tuple[int | None, str]] = {}
    for item in as_list(body.get("errors")):
        node = as_dict(item)
        number = _number(node.get("tracking_number"))
        if number:
            errors[number] = (_code(node.get("code")), text(node.get("message")) or "")
    return created, errors


def parse_couriers(data: Any) -> list[dict[str, Any]]:
    """``GET /carriers`` -> courier dicts (name, code, phone, homepage, type, picture)."""
    out = []
    for item in as_list(data):
        node = as_dict(item)
        if text(node.get("code")):
            keys = ("name", "code", "phone", "homepage", "type", "picture")
            out.append({k: text(node.get(k)) for k in keys})
    return out


def parse_detect(data: Any) -> list[dict[str, str]]:
    """``POST /carriers/detect`` -> ``[{"name", "code"}]`` candidates, best first."""
    out = []
    for item in as_list(data):
        node = as_dict(item)
        code = text(node.get("code"))
        if code:
            out.append({"name": text(node.get("name")) or code, "code": code.lower()})
    return out


def _pick(items: Iterable[dict[str, Any]], courier: str | None) -> dict[str, Any] | None:
    """The account's tracking for a number: the one of ``courier`` when one is asked."""
    items = list(items)
    if courier is None:
        return items[0] if items else None
    return next((i for i in items if text(i.get("carrier_code")) == courier), None)


def _chunks(values: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class Adapter:
    """Answers numbers from the TrackingMore account first, then by realtime or creation."""

    info = INFO

    def __init__(
        self, settings: Mapping[str, Any], session: Session, cache: Cache | None = None
    ) -> None:
        self.settings = settings
        self.session = session
        self.cache = cache
        self.url = str(settings.get("base_url") or DEFAULT_BASE).rstrip("/")
        self.tz = zone(settings.get("timezone"))
        self.rates = {
            GET: float(settings.get("get_rate") or 1.0),
            REALTIME: float(settings.get("realtime_rate") or 3.0),
        }
        self.default_rate = float(settings.get("default_rate") or 1.0)
        self.realtime_max = int(settings.get("realtime_max") or REALTIME_MAX)
        self.headers = {
            "Trackingmore-Api-Key": str(settings.get("api_key") or ""),
            "Content-Type": "application/json",
        }
        self.wait = False
        self._paused_until = 0.0
        self._pause_length: float | None = PAUSE_429
        self._primed = False
        self._complete = True

    # -- the one call -------------------------------------------------------------------

    def limiter(self, endpoint: str) -> Any:
        """The session-wide limiter of one endpoint."""
        return self.session.limiter(NAME, endpoint, self.rate(endpoint))

    def rate(self, endpoint: str) -> float:
        """Configured requests per second of one endpoint."""
        return self.rates.get(endpoint, self.default_rate)

    def paused(self) -> bool:
        """True while a 429's pause lasts."""
        return time.monotonic() < self._paused_until

    @property
    def max_pause(self) -> float:
        """The longest pause a 429 may impose (``[http] max_pause``)."""
        return self.session.retry.max_pause

    def pause_error(self) -> RateLimited:
        """The error every number gets while TrackingMore pauses the account."""
        return pause_error(self._paused_until - time.monotonic(), self._pause_length)

    def _pause(self, seconds: float) -> None:
        """Hold every TrackingMore request of this session for ``seconds``."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        for endpoint in ENDPOINTS:
            shared = self.limiter(endpoint)
            if shared is not None:
                shared.pause(seconds)

    def _on_429(self, response: httpx.Response) -> None:
        from waypost.http import retry_after

        seconds = pause_429(retry_after(response.headers, cap=self.max_pause), self.max_pause)
        log.warning("%s: 429 too many requests; pausing every request for %g s", NAME, seconds)
        self._pause_length = seconds
        self._pause(seconds)
        if self.cache is not None:
            self.cache.put(NS_LIMITS, "paused_until", time.time() + seconds)

    def _prime(self) -> None:
        """Carry the request spacing and a 429 pause over from earlier runs (via the cache),
        so that two runs in a row do not exceed a limit between them."""
        if self._primed or self.cache is None:
            return
        self._primed = True
        now = time.time()
        left = stored_pause(self.cache, NS_LIMITS, now, self.max_pause)
        if left is not None:
            self._pause_length = None
            self._pause(left)
        carry_spacing(self.cache, NS_LIMITS, ENDPOINTS, self.limiter, now)

    async def call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        accept: Iterable[int] = (),
        **kwargs: Any,
    ) -> tuple[int, Any]:
        """One API call -> ``(meta.code, data)`` for success codes and ``accept``.

        Any other code raises its CarrierError; a 429 pauses and, in ``wait`` mode, is
        retried once after the pause.
        """
        self._prime()
        accepted = frozenset(accept)
        shared = self.limiter(endpoint)
        headers = {**self.headers, **kwargs.pop("headers", {})}
        for attempt in (1, 2):
            try:
                response = await self.session.request(
                    NAME,
                    method,
                    self.url + path,
                    limiter=shared,
                    max_connections=INFO.max_connections,
                    retry_429=False,
                    wait_pause=self.wait,
                    headers=headers,
                    **kwargs,
                )
            except RateLimited:
                raise self.pause_error() from None
            if self.cache is not None:
                self.cache.put(NS_LIMITS, endpoint, time.time())
            code, message, data = self._envelope(response)
            if code == 429:
                self._on_429(response)
                if self.wait and attempt == 1:
                    continue
                raise self.pause_error()
            if code is not None and (code in SUCCESS or code in accepted):
                return code, data
            raise envelope_error(code, message)
        raise AssertionError("unreachable")  # pragma: no cover

    def _envelope(self, response: httpx.Response) -> tuple[int | None, str | None, Any]:
        """``(meta.code, meta.message, data)``; HTTP 401/403/429 without an envelope count as
        those codes, other answers without one are errors."""
        from waypost.http import read_answer

        status = response.status_code
        try:
            payload = read_answer(response, NAME, envelope=_has_code, refused=_Refused)
        except (_Refused, RateLimited):
            return status, f"HTTP {status}", None
        code, message, data = read_envelope(payload)
        if code is None:
            raise ProtocolError(f"{NAME}: answer without meta.code (HTTP {status})", carrier=NAME)
        return code, message, data

    # -- track --------------------------------------------------------------------------

    async def track(self, queries: Sequence[Query], options: TrackOptions) -> list[Answer]:
        """Answer every query; failures become failed Shipments, never exceptions."""
        self.wait = options.wait or options.watch
        try:
            if options.watch:
                answers = await self._watch(queries, options)
            else:
                answers = await self._track(queries, options)
        except CarrierError as err:
            return [self._failed(q, err) for q in queries]
        return [answers[q.key] for q in queries]

    def _failed(self, query: Query, err: CarrierError) -> Answer:
        err.message = self.session.redact(err.message)
        return Answer(query, [Shipment.failed(query.number, NAME, err, courier=query.courier)])

    def _answer(self, query: Query, item: dict[str, Any]) -> Answer:
        return Answer(query, [parse_item(item, query.number, self.tz, query.courier)])

    async def _track(self, queries: Sequence[Query], options: TrackOptions) -> dict[Any, Answer]:
        """Read the account 40 numbers at a time; answer the rest by realtime when they are
        few (``realtime_max``), else create them in batches of 40 as soon as a batch is full,
        while the account is still being read."""
        out: dict[Any, Answer] = {}
        by_number: dict[str, list[Query]] = {}
        for q in queries:
            by_number.setdefault(q.number, []).append(q)
        reads = [
            asyncio.ensure_future(self._read_chunk(chunk))
            for chunk in _chunks(list(by_number), MAX_NUMBERS)
        ]
        missing: list[Query] = []
        queued: list[Query] = []
        creating: list[asyncio.Future[dict[Any, Answer]]] = []
        many = False
        for next_read in asyncio.as_completed(reads):
            chunk, held = await next_read
            fresh: list[Query] = []
            for number in chunk:
                for q in by_number[number]:
                    if isinstance(held, CarrierError):
                        out[q.key] = self._failed(q, held)
                    elif (item := _pick(held.get(number, []), q.courier)) is not None:
                        out[q.key] = self._answer(q, item)
                    else:
                        fresh.append(q)
            options.answered(NAME, sum(len(by_number[n]) for n in chunk) - len(fresh))
            missing.extend(fresh)
            if not many and len(missing) > self.realtime_max:
                many, queued = True, list(missing)
            elif many:
                queued.extend(fresh)
            while many and len(queued) >= MAX_CREATE:
                batch, queued = queued[:MAX_CREATE], queued[MAX_CREATE:]
                creating.append(asyncio.ensure_future(self._create(batch, options)))
        if many:
            if queued:
                creating.append(asyncio.ensure_future(self._create(queued, options)))
            for answers in await asyncio.gather(*creating):
                out.update(answers)
            return out
        out.update(await self._gather(missing, lambda q: self._realtime(q, options)))
        if options.save:
            await self._save([out[q.key] for q in missing])
        return out

    async def _gather(
        self, queries: Sequence[Query], ask: Callable[[Query], Awaitable[Answer]]
    ) -> dict[Any, Answer]:
        answers = await asyncio.gather(*(ask(q) for q in queries))
        return {q.key: a for q, a in zip(queries, answers, strict=True)}

    async def _read_account(
        self, queries: Sequence[Query]
    ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, CarrierError]]:
        """What the account holds for these numbers: items by number, failures by number."""
        numbers = list(dict.fromkeys(q.number for q in queries))
        held: dict[str, list[dict[str, Any]]] = {}
        failures: dict[str, CarrierError] = {}
        chunks = _chunks(numbers, MAX_NUMBERS)
        for chunk, result in await asyncio.gather(*(self._read_chunk(c) for c in chunks)):
            if isinstance(result, CarrierError):
                failures.update((n, result) for n in chunk)
            else:
                held.update(result)
        return held, failures

    async def _read_chunk(
        self, numbers: Sequence[str]
    ) -> tuple[Sequence[str], dict[str, list[dict[str, Any]]] | CarrierError]:
        """One ``GET /trackings/get?numbers=`` call: the account's items by number, or why not."""
        try:
            items = await self._get_numbers(numbers)
        except CarrierError as err:
            return numbers, err
        held: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            number = item_number(item)
            if number is not None and number in numbers:
                held.setdefault(number, []).append(item)
                self._remember(number, text(item.get("carrier_code")))
        return numbers, held

    async def _get_numbers(self, numbers: Sequence[str]) -> list[dict[str, Any]]:
        code, data = await self.call(
            GET, "GET", GET, params={"numbers": ",".join(numbers)}, accept=NOT_IN_ACCOUNT
        )
        return [] if code in NOT_IN_ACCOUNT else items_of(data)

    async def _realtime(self, query: Query, options: TrackOptions) -> Answer:
        try:
            answer = await self._realtime_answer(query, options)
        except CarrierError as err:
            answer = self._failed(query, err)
        options.answered(NAME, 1)
        return options.deliver(answer)

    async def _realtime_answer(self, query: Query, options: TrackOptions) -> Answer:
        if self.cache is not None and not options.refresh:
            hit = as_dict(self.cache.get(NS_REALTIME, query.number, REALTIME_REUSE))
            item = as_dict(hit.get("item"))
            if item and query.courier in (None, hit.get("asked"), item.get("carrier_code")):
                return self._answer(query, item)
        courier = await self._courier(query)
        _, data = await self.call(
            REALTIME, "POST", REALTIME, json=build_create(query.number, courier)
        )
        items = items_of(data)
        mine = [i for i in items if item_number(i) == query.number]
        item = (mine or items or [{"status": "notfound", "carrier_code": courier}])[0]
        if self.cache is not None:
            self.cache.put(NS_REALTIME, query.number, {"asked": courier, "item": item})
        return Answer(query, [parse_item(item, query.number, self.tz, courier)])

    # -- couriers -------------------------------------------------------------------------

    async def _courier(self, query: Query) -> str:
        """The courier code realtime and create need for ``query``."""
        if query.courier:
            return query.courier
        from waypost import detect

        top = detect.sure(detect.candidates(query.number, [INFO]))
        if top is not None and top.courier:
            return top.courier
        found = await self.detect_courier(query.number)
        if not found:
            raise CarrierError(
                f"{NAME}: TrackingMore cannot tell the courier of this number",
                carrier=NAME,
                hint=COURIER_HINT,
            )
        if len(found) > 1:
            log.info(
                "%s: %s could be %s; asking as %s",
                NAME,
                query.number,
                ", ".join(c["code"] for c in found),
                found[0]["code"],
            )
        return found[0]["code"]

    async def detect_courier(self, number: str) -> list[dict[str, str]]:
        """TrackingMore's courier candidates for ``number`` (cached; each call costs credit)."""
        number = number.upper()
        if self.cache is not None:
            hit = self.cache.get(NS_DETECT, number)
            if isinstance(hit, list) and hit:
                return parse_detect(hit)
            if self.cache.get(NS_DETECT_NONE, number, DETECT_NONE_MAX_AGE) is not None:
                return []
        code, data = await self.call(
            DETECT, "POST", DETECT, json={"tracking_number": number}, accept={CANNOT_DETECT}
        )
        found = [] if code == CANNOT_DETECT else parse_detect(data)
        if self.cache is not None:
            if found:
                self.cache.put(NS_DETECT, number, found)
            else:
                self.cache.put(NS_DETECT_NONE, number, True)
        return found

    async def couriers(self, lang: str | None = None) -> list[dict[str, Any]]:
        """TrackingMore's courier list (``GET /carriers``), cached for a day."""
        key = lang or "en"
        if self.cache is not None:
            hit = self.cache.get(NS_COURIERS, key, COURIERS_MAX_AGE)
            if isinstance(hit, list):
                return hit
        headers = {"Lang": lang} if lang else {}
        _, data = await self.call(CARRIERS, "GET", CARRIERS, headers=headers)
        rows = parse_couriers(data)
        if self.cache is not None:
            self.cache.put(NS_COURIERS, key, rows)
        return rows

    # -- the account ------------------------------------------------------------------------

    def _remember(self, number: str | None, courier: str | None) -> None:
        if self.cache is not None and number:
            self.cache.put(NS_ACCOUNT, number, courier or "")

    def _forget(self, number: str) -> None:
        if self.cache is not None:
            self.cache.put(NS_ACCOUNT, number, None)

    def _member(self, number: str) -> str | None:
        """The courier under which the cache saw ``number`` in the account ("" unknown)."""
        if self.cache is None:
            return None
        hit = self.cache.get(NS_ACCOUNT, number)
        return hit if isinstance(hit, str) else None

    async def _batch(
        self, pairs: Sequence[tuple[str, str]]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int | None, str]]]:
        """Create ``(number, courier)`` pairs, 40 per call; a failed call fails its chunk."""
        created: dict[str, dict[str, Any]] = {}
        errors: dict[str, tuple[int | None, str]] = {}
        chunks = _chunks(pairs, MAX_CREATE)

        async def one(chunk: Sequence[tuple[str, str]]) -> None:
            body = [build_create(n, c) for n, c in chunk]
            _, data = await self.call(BATCH, "POST", BATCH, json=body)
            made, failed = parse_batch(data)
            created.update(made)
            errors.update(failed)
            for number, courier in chunk:
                if number in made or failed.get(number, (None,))[0] == ALREADY_EXISTS:
                    self._remember(
                        number, text(made.get(number, {}).get("carrier_code")) or courier
                    )

        await asyncio.gather(*(one(c) for c in chunks))
        return created, errors

    async def _create(self, queries: Sequence[Query], options: TrackOptions) -> dict[Any, Answer]:
        """Add numbers to the account and answer them ``pending`` (4016: read them back)."""
        out: dict[Any, Answer] = {}
        couriers = await asyncio.gather(
            *(self._courier(q) for q in queries), return_exceptions=True
        )
        todo: list[tuple[Query, str]] = []
        for q, courier in zip(queries, couriers, strict=True):
            if isinstance(courier, CarrierError):
                out[q.key] = self._failed(q, courier)
            elif isinstance(courier, BaseException):
                raise courier
            else:
                todo.append((q, courier))
        try:
            created, errors = await self._batch([(q.number, c) for q, c in todo])
        except CarrierError as err:
            out.update((q.key, self._failed(q, err)) for q, _ in todo)
            options.answered(NAME, len(queries))
            return out
        existing: list[Query] = []
        for q, _courier in todo:
            if q.number in created:
                out[q.key] = self._answer(q, created[q.number])
            elif errors.get(q.number, (None,))[0] == ALREADY_EXISTS:
                existing.append(q)
            else:
                code, message = errors.get(q.number, (None, "left out of the batch answer"))
                error = (
                    envelope_error(code, message)
                    if code
                    else ProtocolError(f"{NAME}: {message}", carrier=NAME)
                )
                out[q.key] = self._failed(q, error)
        if existing:
            out.update(await self._read_back(existing))
        options.answered(NAME, len(queries))
        return out

    async def _read_back(self, queries: Sequence[Query]) -> dict[Any, Answer]:
        held, failures = await self._read_account(queries)
        out = {}
        for q in queries:
            item = _pick(held.get(q.number, []), q.courier) or _pick(held.get(q.number, []), None)
            if q.number in failures:
                out[q.key] = self._failed(q, failures[q.number])
            elif item is not None:
                out[q.key] = self._answer(q, item)
            else:
                item = {"status": "pending", "carrier_code": q.courier}
                out[q.key] = self._answer(q, item)
        return out

    async def _save(self, answers: Sequence[Answer]) -> None:
        """``--save``: add the realtime-answered numbers to the account (4016 is fine)."""
        pairs = [
            (a.query.number, a.shipments[0].courier or a.query.courier or "")
            for a in answers
            if a.failure is None and a.shipments
        ]
        pairs = [(n, c) for n, c in pairs if c]
        if not pairs:
            return
        try:
            _, errors = await self._batch(pairs)
        except CarrierError as err:
            log.warning("%s: could not add the numbers to the account: %s", NAME, err.message)
            return
        for number, (code, message) in errors.items():
            if code != ALREADY_EXISTS:
                log.warning("%s: %s not added to the account: %s", NAME, number, message)

    # -- watch --------------------------------------------------------------------------

    async def _watch(self, queries: Sequence[Query], options: TrackOptions) -> dict[Any, Answer]:
        started = time.time()
        cursor: float | None = None
        if self.cache is not None:
            saved = self.cache.get(NS_WATCH, "cursor")
            cursor = options.since if options.since is not None else _float(saved)
        try:
            pages = await self._pages(cursor)
        except CarrierError as err:
            options.answered(NAME, len(queries))
            return {q.key: self._failed(q, err) for q in queries}
        seen: dict[str, list[dict[str, Any]]] = {}
        for item in pages:
            number = item_number(item)
            if number:
                seen.setdefault(number, []).append(item)
        out: dict[Any, Answer] = {}
        new: list[Query] = []
        for q in queries:
            picked = _pick(seen.get(q.number, []), q.courier)
            if picked is not None:
                self._remember(q.number, text(picked.get("carrier_code")))
                out[q.key] = self._answer(q, picked)
            elif cursor is not None and self._member(q.number) is not None:
                out[q.key] = Answer(q, [], unchanged=True)
            else:
                new.append(q)
        options.answered(NAME, len(queries) - len(new))
        if new:
            out.update(await self._create(new, options))
        if self.cache is not None and self._complete:
            cache = self.cache
            options.after_delivery(NAME, lambda: cache.put(NS_WATCH, "cursor", started))
        return out

    async def _pages(self, cursor: float | None) -> list[dict[str, Any]]:
        """Every account item updated since ``cursor`` (minus the overlap), page by page."""
        params: dict[str, Any] = {"limit": MAX_LIMIT}
        if cursor is not None:
            params["update_time_min"] = int(cursor - WATCH_OVERLAP)
        items: list[dict[str, Any]] = []
        seen: set[tuple[str, ...]] = set()
        self._complete = True
        for page in range(1, MAX_PAGES + 1):
            if self.session.remaining() <= 0:
                raise Timeout(
                    f"{NAME}: run deadline reached while paging the account", carrier=NAME
                )
            code, data = await self.call(
                GET, "GET", GET, params={**params, "page": page}, accept=NOT_IN_ACCOUNT
            )
            batch = [] if code in NOT_IN_ACCOUNT else items_of(data)
            signature = tuple(str(i.get("id") or item_number(i)) for i in batch)
            if not batch or signature in seen:
                return items
            seen.add(signature)
            items.extend(batch)
            total = _code(as_dict(data).get("total"))
            if len(batch) < MAX_LIMIT or (total is not None and page * MAX_LIMIT >= total):
                return items
        log.warning(
            "%s: the account has more than %d pages of updates; the rest waits for the next pass",
            NAME,
            MAX_PAGES,
        )
        self._complete = False
        return items

    # -- remove -------------------------------------------------------------------------

    async def remove(self, queries: Sequence[Query], *, wait: bool = False) -> list[Answer]:
        """Delete numbers from the TrackingMore account (4017: already gone, fine)."""
        self.wait = wait
        couriers = {q.key: q.courier or self._member(q.number) or None for q in queries}
        unknown = [q for q in queries if not couriers[q.key]]
        held, failures = await self._read_account(unknown) if unknown else ({}, {})
        answers = []
        for q in queries:
            if q.number in failures:
                answers.append(self._failed(q, failures[q.number]))
                continue
            item = _pick(held.get(q.number, []), None)
            courier = couriers[q.key] or (text(item.get("carrier_code")) if item else None)
            answers.append(await self._delete(q, courier))
        return answers

    async def _delete(self, query: Query, courier: str | None) -> Answer:
        words = "was not in the TrackingMore account"
        if courier:
            try:
                code, _ = await self.call(
                    DELETE, "DELETE", f"/trackings/{courier}/{query.number}", accept={4017}
                )
            except CarrierError as err:
                return self._failed(query, err)
            if code in SUCCESS:
                words = "deleted from the TrackingMore account"
        self._forget(query.number)
        shipment = Shipment(
            tracking_number=query.number, carrier=NAME, courier=courier, status_text=words
        )
        return Answer(query, [shipment])


class _Refused(CarrierError):
    """HTTP 401/403 without an envelope (mapped to those codes by ``_envelope``)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"{NAME}: HTTP {status}", carrier=NAME)


def _has_code(payload: Any) -> bool:
    return read_envelope(payload)[0] is not None


def pause_429(hinted: float | None, max_pause: float) -> float:
    """How long a 429 pauses the account: its (already capped) ``Retry-After``, else
    ``PAUSE_429``, never longer than ``max_pause`` (``[http] max_pause``)."""
    return min(PAUSE_429, max_pause) if hinted is None else min(hinted, max_pause)


def carry_spacing(
    cache: Cache,
    namespace: str,
    endpoints: Iterable[str],
    limiter: Callable[[str], RateLimiter | None],
    now: float,
) -> None:
    """Space each endpoint's first request a ``hold`` after an earlier run's last one (the
    server still counts it)."""
    for endpoint in endpoints:
        last = _float(cache.get(namespace, endpoint))
        lim = limiter(endpoint)
        if last is not None and lim is not None and now - last < lim.hold:
            lim.defer(lim.hold - (now - last))


def stored_pause(cache: Cache, namespace: str, now: float, max_pause: float) -> float | None:
    """Seconds left of a 429 pause an earlier run stored (``namespace``/``paused_until``), or
    None; never more than ``max_pause``: a longer one (an older waypost, a larger cap) is
    stored again capped."""
    until = _float(cache.get(namespace, "paused_until"))
    if until is None or until <= now:
        return None
    if until - now > max_pause:
        until = now + max_pause
        cache.put(namespace, "paused_until", until)
    return until - now


def pause_error(seconds: float, length: float | None) -> RateLimited:
    """The error every number gets while TrackingMore pauses the account: ``seconds`` still
    to wait of a pause of ``length`` (None: a pause carried over from an earlier run)."""
    seconds = max(1.0, seconds)
    if length is None:
        why = "TrackingMore paused the account after an earlier run's 429"
    else:
        why = f"TrackingMore paused the account for {duration(length)}"
    return RateLimited(
        f"{NAME}: too many requests (429): {why}; "
        f"try again in {duration(seconds)}, or pass --wait to wait it out",
        carrier=NAME,
        hint="pass --wait to wait the pause out instead",
        retry_after=seconds,
    )


def duration(seconds: float) -> str:
    """``45 s``, ``2 minutes``, ``4 min 10 s``: how long a pause lasts, as people say it."""
    whole = max(0, round(seconds))
    if whole < 100:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    return f"{minutes} minutes" if not rest else f"{minutes} min {rest} s"


def _float(value: Any) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value) if math.isfinite(value) else None
