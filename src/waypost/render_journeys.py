"""How ``track``, ``list`` and ``link`` show a journey: one item, the legs in order with their
carriers, one merged timeline (each event marked with its leg), the current leg's status.

Carrier text goes through ``render.readable``/``safe.field`` like every human output; JSON is
unchanged apart from the ``journey`` field of each leg.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from waypost import safe

if TYPE_CHECKING:
    from waypost.journeys import Journey
    from waypost.models import Shipment
    from waypost.render import Terminal
    from waypost.store.protocols import ListRow


def _leg_line(number: int, journey: Journey, encoding: str = "utf-8") -> tuple[str, str, str, str]:
    """(``leg N``, number, carrier[/courier], status) of leg ``number`` (from 1)."""
    leg = journey.legs[number - 1]
    s = leg.shipment
    carrier = leg.row.carrier + (f"/{leg.row.courier}" if leg.row.courier else "")
    status = s.status.value if s is not None else leg.row.status
    shown = [safe.encodable(safe.field(v), encoding) for v in (leg.row.number, carrier)]
    return f"leg {number}", shown[0], shown[1], status


def header(journey: Journey) -> str:
    """``journey j1a2b3c4  LABEL  leg 2 of 3 (ils 3676E4043665): in_transit``."""
    current = journey.current
    leg = journey.legs[current]
    status = leg.shipment.status.value if leg.shipment is not None else leg.row.status
    label = f"  {safe.field(journey.label)}" if journey.label else ""
    return (
        f"journey {journey.id}{label}  leg {current + 1} of {len(journey.legs)} "
        f"({safe.field(leg.row.carrier)} {safe.field(leg.row.number)}): {status}"
    )


def plain(journey: Journey, term: Terminal, out: IO[str]) -> None:
    """A journey as plain lines: the header, one line per leg, the merged timeline."""
    from waypost.render import absolute, readable

    out.write(header(journey) + "\n")
    current = journey.current
    for number in range(1, len(journey.legs) + 1):
        fields = _leg_line(number, journey)
        mark = "  <- current" if number - 1 == current else ""
        out.write("  " + "  ".join(fields) + mark + "\n")
    for number, event in journey.timeline():
        ev = readable_event(event, readable)
        parts = [f"[{number}]", absolute(ev.time, term), ev.location or "-", ev.description or "-"]
        out.write("  " + "  ".join(parts) + "\n")


def readable_event(event: Any, readable: Any) -> Any:
    """An event with its text made safe (through a one-event shipment)."""
    from waypost.models import Shipment

    holder = Shipment(tracking_number="-", carrier="-", events=[event])
    return readable(holder).events[0]


def rich(journey: Journey, term: Terminal, out: IO[str]) -> None:
    """A journey on a terminal: a title, the legs, a timeline table with a Leg column."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from waypost.render import (
        NARROW,
        STATUS_STYLE,
        absolute,
        console,
        readable,
        relative,
        whole_escapes,
    )

    con = console(term, out)
    current = journey.current
    leg = journey.legs[current]
    status = leg.shipment.status.value if leg.shipment is not None else leg.row.status
    title = Text()
    title.append(f"journey {journey.id}", style="bold")
    if journey.label:
        label = safe.encodable(safe.field(journey.label), term.encoding)
        title.append(f"  {label}", style="yellow")
    title.append(f"  leg {current + 1} of {len(journey.legs)}  ", style="dim")
    title.append(status.replace("_", " "), style=STATUS_STYLE.get(status, ""))
    con.print(Group(whole_escapes(title, term)))
    for number in range(1, len(journey.legs) + 1):
        name, number_text, carrier, leg_status = _leg_line(number, journey, term.encoding)
        line = Text(f"  {name}  ", style="bold" if number - 1 == current else "dim")
        line.append(f"{number_text}  {carrier}  ")
        line.append(leg_status.replace("_", " "), style=STATUS_STYLE.get(leg_status, ""))
        con.print(Group(whole_escapes(line, term)))
    marked = journey.timeline()
    if not marked:
        return
    if term.width < NARROW:
        con.print(_stacked(marked, term))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))
    table.add_column("Leg", no_wrap=True)
    table.add_column("When", no_wrap=True)
    table.add_column("Where", overflow="fold", max_width=max(10, min(28, term.width // 5)))
    table.add_column("What", overflow="fold")
    for number, event in marked:
        ev = readable_event(event, lambda s: readable(s, term.encoding))
        when = Text(absolute(ev.time, term))
        rel = relative(ev.time, term)
        if rel:
            when.append(f"\n{rel}", style="dim")
        where = whole_escapes(Text(ev.location or ""), term)
        table.add_row(
            Text(str(number)), when, where, whole_escapes(Text(ev.description or "-"), term)
        )
    con.print(table)


def _stacked(marked: Sequence[tuple[int, Any]], term: Terminal) -> Any:
    """The timeline for a narrow terminal: a leg and time line, then place and text indented."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    from waypost.render import absolute, readable, relative, whole_escapes

    parts: list[Any] = []
    for number, event in marked:
        ev = readable_event(event, lambda s: readable(s, term.encoding))
        when = Text(f"leg {number}  ", style="dim")
        when.append(absolute(ev.time, term), style="bold")
        rel = relative(ev.time, term)
        if rel:
            when.append(f"  {rel}", style="dim")
        parts.append(when)
        for text, style in ((ev.location, "dim"), (ev.description or "-", "")):
            if text:
                shown = whole_escapes(Text(text, style=style, overflow="fold"), term)
                parts.append(Padding(shown, (0, 0, 0, 2), expand=False))
    return Group(*parts)


def track(
    shipments: Sequence[Shipment],
    journeys: Mapping[str, Journey],
    term: Terminal,
    out: IO[str],
    marks: Mapping[int, str] | None = None,
) -> None:
    """``track``'s blocks: each journey once (where its first asked leg stands), the other
    shipments as ``render.track`` shows them."""
    from waypost import render

    shown: set[str] = set()
    alone: list[Shipment] = []
    alone_marks: dict[int, str] = {}
    blocks = 0

    def flush() -> None:
        nonlocal blocks
        if alone:
            if blocks:
                out.write("\n")
            render.track(list(alone), term, out, dict(alone_marks))
            blocks += 1
            alone.clear()
            alone_marks.clear()

    for index, s in enumerate(shipments):
        journey = journeys.get(s.journey.id) if s.journey is not None else None
        if journey is None:
            if marks and index in marks:
                alone_marks[len(alone)] = marks[index]
            alone.append(s)
            continue
        flush()
        if journey.id in shown:
            continue
        shown.add(journey.id)
        if blocks:
            out.write("\n")
        (rich if term.stdout_tty else plain)(journey, term, out)
        blocks += 1
    flush()


def list_rows(rows: Iterable[ListRow], store: Any) -> Iterator[ListRow]:
    """``list`` in a table or TSV, row by row: each journey as one row where its first leg
    stands (numbers and carriers joined by ``->``, the current leg's status and last event).
    The journeys are read once a row is a leg."""
    legs: Any = None
    marks: Mapping[int, Mapping[str, Any]] | None = None
    shown: set[str] = set()
    for row in rows:
        if row.journey is None:
            yield row
            continue
        from waypost import journeys

        if marks is None:
            legs = journeys.backend(store)
            marks = journeys.index(legs) if legs is not None else {}
        mark = marks.get(row.id)
        if mark is None:
            yield row
            continue
        if mark["id"] in shown:
            continue
        shown.add(mark["id"])
        journey = journeys.load(legs, mark["id"])
        current_id = journey.legs[journey.current].row.id
        current = row if current_id == row.id else next(store.listed(ids=[current_id]), row)
        yield current._replace(
            label=journey.label,
            number=" -> ".join(leg.row.number for leg in journey.legs),
            carrier=" -> ".join(leg.row.carrier for leg in journey.legs),
            added=min(leg.row.added for leg in journey.legs),
        )


def journey_field(store: Any) -> Callable[[ListRow], dict[str, Any] | None]:
    """A row's ``journey`` field for ``list --json`` (the journeys read once a row is a leg)."""
    marks: Mapping[int, Mapping[str, Any]] | None = None

    def field(row: ListRow) -> dict[str, Any] | None:
        nonlocal marks
        if row.journey is None:
            return None
        if marks is None:
            from waypost import journeys

            legs = journeys.backend(store)
            marks = journeys.index(legs) if legs is not None else {}
        mark = marks.get(row.id)
        return dict(mark) if mark is not None else None

    return field
