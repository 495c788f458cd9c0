"""What a leaner parser would save on today's code: ILS answers for 1,000 numbers, parsed and
rendered as `--json` in-process, today's way against three prototypes (nothing here is used by
waypost itself).

The answers are real sandbox answers (10 x 100 synthetic consignments, ~5 events each), fetched
once; every variant gets the same bytes and must produce the same shipments (status, event count,
times). Columns: parse (bytes -> shipments) and render (shipments -> the indented `--json`
document), median milliseconds of `--reps`, and each variant's total as a ratio to today's.

* today: `json.loads` + `ils_api.parse_response` (pydantic models, validated on construction)
  + `TrackDocument.model_dump_json(indent=2)`.
* construct: the same decode and rules, models built with `model_construct` (no validation:
  the normaliser already guarantees the types) -- the cheapest change that keeps pydantic.
* validate_json: `TypeAdapter.validate_json` of the raw answer shape (TypedDicts) on the bytes,
  then the same `model_construct` normaliser.
* msgspec: `msgspec.json.decode` into raw Structs, a normaliser into Structs, `msgspec.json.encode`
  + `msgspec.json.format(indent=2)` (only when msgspec is installed; it is not a dependency).

    python bench/parse_proto.py [--reps 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pydantic import TypeAdapter
from typing_extensions import TypedDict  # pydantic wants this one before Python 3.12

from _sandbox import SandboxProcess
from waypost.carriers import ils
from waypost.carriers._parse import merge_events, parse_time, text, zone
from waypost.carriers.ils import api as ils_api
from waypost.models import Event, Shipment, Status, TrackDocument

TZ = zone("Asia/Shanghai")
Chunks = list[tuple[bytes, list[str]]]


def fetch(box: SandboxProcess, n: int) -> Chunks:
    """Raw answer bytes for ``n`` synthetic numbers, 100 per answer."""
    import httpx

    numbers = [f"8181S{i:07d}" for i in range(n)]
    url = box.env["WAYPOST_ILS_BASE_URL"] + ils.ENDPOINT
    auth = (box.env["WAYPOST_ILS_USER_ID"], box.env["WAYPOST_ILS_PDD"])
    out = []
    with httpx.Client(timeout=60) as client:
        for i in range(0, n, 100):
            chunk = numbers[i : i + 100]
            response = client.post(url, json=ils_api.build_request(*auth, chunk))
            out.append((response.content, chunk))
    return out


# -- today ------------------------------------------------------------------------------------


def today_parse(chunks: Chunks) -> list[Shipment]:
    return [
        s for body, numbers in chunks for s in ils_api.parse_response(json.loads(body), numbers, TZ)
    ]


def pydantic_render(shipments: list[Any]) -> str:
    return TrackDocument(shipments=shipments).model_dump_json(indent=2)


def construct_render(shipments: list[Any]) -> str:
    return TrackDocument.model_construct(shipments=shipments).model_dump_json(indent=2)


# -- lean normaliser shared by "construct" and "validate_json" ---------------------------------


def lean_item(item: dict[str, Any], number: str, tz: tzinfo | None) -> Shipment:
    raw = item.get("orderStatus")
    events = []
    for node in item.get("billTrackList") or ():
        desc = text(node.get("desc"))
        when = parse_time(node.get("date"), tz)
        if desc is None and when is None:
            continue
        images = [u for u in map(text, node.get("img") or ()) if u]
        status = ils_api.STATUS_RULES.match(desc) or Status.IN_TRANSIT
        events.append(
            Event.model_construct(
                time=when,
                location=text(node.get("deport")),
                description=desc,
                status=status,
                images=images,
            )
        )
    events = merge_events(events)
    if not isinstance(raw, dict) and not events:
        return Shipment.model_construct(
            tracking_number=number,
            carrier="ils",
            found=False,
            status=Status.NOT_FOUND,
            status_text=text(item.get("msg")),
        )
    fields = ils_api._fields(raw)
    status_text = text(fields.get("status"))
    status = ils_api.STATUS_RULES.match(status_text) or (
        events[0].status if events else Status.INFO_RECEIVED
    )
    return Shipment.model_construct(
        tracking_number=number,
        carrier="ils",
        found=True,
        status=status,
        status_text=status_text,
        service=text(fields.get("service")),
        origin=text(fields.get("despatchdepot")),
        destination=text(fields.get("deliverydepot")),
        last_update=parse_time(fields.get("lastscan"), tz) or (events[0].time if events else None),
        events=events,
    )


def lean_envelope(payload: dict[str, Any], numbers: list[str]) -> list[Shipment]:
    by_number = {str(i.get("consignment")).upper(): i for i in payload.get("body") or ()}
    return [lean_item(by_number[n.upper()], n, TZ) for n in numbers]


def construct_parse(chunks: Chunks) -> list[Shipment]:
    return [s for body, numbers in chunks for s in lean_envelope(json.loads(body), numbers)]


class RawNode(TypedDict, total=False):
    deport: str | None
    desc: str | None
    date: str | None
    img: list[str] | None


class RawItem(TypedDict, total=False):
    consignment: str
    orderStatus: dict[str, Any] | None
    billTrackList: list[RawNode] | None
    msg: str | None


class RawEnvelope(TypedDict, total=False):
    code: int | str
    msg: str | None
    body: list[RawItem] | None


ADAPTER = TypeAdapter(RawEnvelope)


def validate_json_parse(chunks: Chunks) -> list[Shipment]:
    adapter = ADAPTER
    return [
        s
        for body, numbers in chunks
        for s in lean_envelope(dict(adapter.validate_json(body)), numbers)
    ]


# -- msgspec ----------------------------------------------------------------------------------

try:
    import msgspec
except ImportError:  # not a dependency: the row is left out
    msgspec = None

if msgspec is not None:

    class MNode(msgspec.Struct):
        deport: str | None = None
        desc: str | None = None
        date: str | None = None
        img: list[str] | None = None

    class MItem(msgspec.Struct):
        consignment: str = ""
        orderStatus: dict[str, Any] | None = None
        billTrackList: list[MNode] | None = None
        msg: str | None = None

    class MEnvelope(msgspec.Struct):
        code: int | str = 0
        msg: str | None = None
        body: list[MItem] | None = None

    class MEvent(msgspec.Struct):
        time: datetime | None
        location: str | None
        description: str | None
        status: str
        images: list[str]

    class MShipment(msgspec.Struct):
        tracking_number: str
        carrier: str
        courier: str | None = None
        found: bool = False
        status: str = "not_found"
        status_text: str | None = None
        service: str | None = None
        origin: str | None = None
        destination: str | None = None
        last_update: datetime | None = None
        events: list[MEvent] = msgspec.field(default_factory=list)
        error: str | None = None
        order_id: str | None = None

    class MDocument(msgspec.Struct):
        schema: int
        shipments: list[MShipment]


def msgspec_variant() -> tuple[Callable[[Chunks], list[Any]], Callable[[list[Any]], str]] | None:
    if msgspec is None:
        return None
    decoder = msgspec.json.Decoder(MEnvelope)
    encoder = msgspec.json.Encoder()

    def item(raw: MItem, number: str) -> MShipment:
        events = []
        seen = set()
        for node in raw.billTrackList or ():
            desc = text(node.desc)
            when = parse_time(node.date, TZ)
            if (desc is None and when is None) or (when, desc) in seen:
                continue
            seen.add((when, desc))
            status = ils_api.STATUS_RULES.match(desc) or Status.IN_TRANSIT
            images = [u for u in map(text, node.img or ()) if u]
            events.append(MEvent(when, text(node.deport), desc, status.value, images))
        events.sort(key=lambda e: e.time or datetime.min.replace(tzinfo=TZ), reverse=True)
        if raw.orderStatus is None and not events:
            return MShipment(number, "ils", status_text=text(raw.msg))
        fields = ils_api._fields(raw.orderStatus)
        status_text = text(fields.get("status"))
        status = ils_api.STATUS_RULES.match(status_text)
        return MShipment(
            number,
            "ils",
            found=True,
            status=status.value if status else (events[0].status if events else "info_received"),
            status_text=status_text,
            service=text(fields.get("service")),
            origin=text(fields.get("despatchdepot")),
            destination=text(fields.get("deliverydepot")),
            last_update=parse_time(fields.get("lastscan"), TZ)
            or (events[0].time if events else None),
            events=events,
        )

    def parse(chunks: Chunks) -> list[Any]:
        out = []
        for body, numbers in chunks:
            envelope = decoder.decode(body)
            by_number = {i.consignment.upper(): i for i in envelope.body or ()}
            out.extend(item(by_number[n.upper()], n) for n in numbers)
        return out

    def render(shipments: list[Any]) -> str:
        raw = encoder.encode(MDocument(1, shipments))
        return msgspec.json.format(raw, indent=2).decode()

    return parse, render


def fingerprint(document: str) -> list[tuple[str, str, int, str | None]]:
    """What every variant must agree on, read back from its `--json` text."""
    out = []
    for s in json.loads(document)["shipments"]:
        first = s["events"][0]["time"] if s["events"] else None
        out.append((s["tracking_number"], s["status"], len(s["events"]), first))
    return out


def measure(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--numbers", type=int, default=1000)
    args = parser.parse_args()
    with SandboxProcess() as box:
        chunks = fetch(box, args.numbers)
    variants: dict[str, tuple[Callable[[Chunks], list[Any]], Callable[[list[Any]], str]]] = {
        "today (pydantic, validated)": (today_parse, pydantic_render),
        "construct (model_construct)": (construct_parse, construct_render),
        "validate_json + construct": (validate_json_parse, construct_render),
    }
    extra = msgspec_variant()
    if extra is not None:
        variants["msgspec Structs"] = extra
    events = sum(len(s.events) for s in today_parse(chunks))
    decode, _ = measure(lambda: [json.loads(b) for b, _ in chunks], args.reps)
    print(
        f"parse + render of {args.numbers} ILS numbers ({events} events, "
        f"{sum(len(b) for b, _ in chunks) / 1e6:.1f} MB), median of {args.reps}; "
        f"json.loads alone {decode * 1000:.1f} ms"
    )
    print(f"{'variant':<30}{'parse ms':>10}{'render ms':>11}{'total ms':>10}{'ratio':>8}  same")
    base = None
    reference = None
    for name, (parse, render) in variants.items():
        parse_s, shipments = measure(lambda p=parse: p(chunks), args.reps)
        render_s, document = measure(lambda r=render, s=shipments: r(s), args.reps)
        total = parse_s + render_s
        base = base or total
        reference = reference or fingerprint(document)
        same = "yes" if fingerprint(document) == reference else "NO"
        print(
            f"{name:<30}{parse_s * 1000:>10.1f}{render_s * 1000:>11.1f}{total * 1000:>10.1f}"
            f"{total / base:>7.2f}x  {same}"
        )
    if extra is None:
        print("msgspec not installed: its row is left out (pip install msgspec to see it)")


if __name__ == "__main__":
    main()
