"""What TrackingMore's API v2 and v4 answers share: status and substatus codes, checkpoint
words, country codes and zones, the words of a 429 pause (its timing is ``http.CarrierHandle``).

Follows ``shared/seeds/trackingmore-api-v2-realtime.txt`` and the v4 docs named in ``v4_api``.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from waypost.carriers._parse import (
    WordRules,
    text,
    zone,
)
from waypost.carriers.trackingmore import NAME
from waypost.errors import (
    RateLimited,
)
from waypost.status import Status

if TYPE_CHECKING:
    from waypost.models import Event

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


def limited(answer: tuple[int | None, str | None, Any]) -> bool:
    """True when a ``(meta.code, message, data)`` answer is TrackingMore's 429 (both versions)."""
    return answer[0] == 429
