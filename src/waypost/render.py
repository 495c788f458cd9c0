"""Output: Rich tables on a terminal, plain lines when piped, JSON/JSONL for scripts.

The terminal (TTY or not, colour, width, display zone, now) is a ``Terminal`` value made once
in the CLI, so every mode is testable without a real terminal. Plain output never imports Rich.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from waypost.models import Event, Shipment
    from waypost.store import Watched

STATUS_STYLE = {
    "pending": "dim",
    "info_received": "blue",
    "in_transit": "cyan",
    "out_for_delivery": "bold cyan",
    "available_for_pickup": "bold yellow",
    "delivered": "bold green",
    "failed_attempt": "yellow",
    "exception": "bold red",
    "expired": "red",
    "not_found": "magenta",
    "unknown": "bold red",
}


@dataclass(frozen=True)
class Terminal:
    """Where output goes and how it may look."""

    stdout_tty: bool = False
    stderr_tty: bool = False
    color: bool = False
    width: int = 100
    tz: tzinfo | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def detect(
        cls,
        *,
        no_color: bool = False,
        tz: tzinfo | None = None,
        env: Mapping[str, str] | None = None,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
    ) -> Terminal:
        """Read TTY-ness, ``NO_COLOR``, ``--no-color`` and the width from the environment."""
        env = os.environ if env is None else env
        out = stdout or sys.stdout
        err = stderr or sys.stderr
        out_tty = _isatty(out)
        color = out_tty and not no_color and "NO_COLOR" not in env and env.get("TERM") != "dumb"
        try:
            width = int(env.get("COLUMNS", "")) or os.get_terminal_size().columns
        except (ValueError, OSError):
            width = 100
        return cls(out_tty, _isatty(err), color, max(40, width), tz)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def local_time(when: datetime, term: Terminal) -> datetime:
    """``when`` in the display zone (naive times are shown as the carrier gave them)."""
    if when.tzinfo is None:
        return when
    return when.astimezone(term.tz) if term.tz is not None else when.astimezone()


def absolute(when: datetime | None, term: Terminal) -> str:
    """``2025-02-14 10:10 +0800`` in the display zone."""
    if when is None:
        return "-"
    shown = local_time(when, term)
    stamp = shown.strftime("%Y-%m-%d %H:%M")
    offset = shown.strftime("%z")
    return f"{stamp} {offset}" if offset else stamp


def relative(when: datetime | None, term: Terminal) -> str:
    """``3 h ago``, ``2 d ago``; empty for naive times (their zone is unknown)."""
    if when is None or when.tzinfo is None:
        return ""
    seconds = (term.now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for size, unit in ((86400 * 365, "y"), (86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            amount = f"{int(seconds // size)} {unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return "just now"


def _route(s: Shipment) -> str:
    if s.origin or s.destination:
        return f"{s.origin or '?'} -> {s.destination or '?'}"
    return ""


def _state(s: Shipment) -> str:
    """The status word of a header: ``failed`` for a number that could not be answered."""
    return "failed" if s.status.value == "unknown" else s.status.value


def header_fields(s: Shipment, term: Terminal) -> list[str]:
    """The header of one shipment block, as separate fields."""
    fields = [s.tracking_number, s.carrier + (f"/{s.courier}" if s.courier else ""), _state(s)]
    if s.order_id and s.order_id != s.tracking_number:
        fields.append(f"order {s.order_id}")
    for extra in (s.service, _route(s)):
        if extra:
            fields.append(extra)
    if s.last_update:
        fields.append(f"updated {absolute(s.last_update, term)}")
    return fields


def _event_line(ev: Event, term: Terminal) -> str:
    parts = [absolute(ev.time, term), ev.location or "-", ev.description or "-"]
    return "  " + "  ".join(parts)


def plain_track(
    shipments: Sequence[Shipment],
    term: Terminal,
    out: IO[str],
    marks: Mapping[int, str] | None = None,
) -> None:
    """Blocks of plain lines: a header line, then one line per event, newest first."""
    for index, s in enumerate(shipments):
        if index:
            out.write("\n")
        mark = (marks or {}).get(index)
        out.write("  ".join(header_fields(s, term)) + (f"  [{mark}]" if mark else "") + "\n")
        if s.error:
            out.write(f"  error: {s.error}\n")
        elif not s.found:
            out.write(f"  not found{': ' + s.status_text if s.status_text else ''}\n")
        elif s.status_text:
            out.write(f"  status: {s.status_text}\n")
        for ev in s.events:
            out.write(_event_line(ev, term) + "\n")
            for url in ev.images:
                out.write(f"    image: {url}\n")


def console(term: Terminal, file: IO[str] | None = None) -> Console:
    """A Rich console that obeys ``term`` (colour, width, TTY)."""
    from rich.console import Console

    return Console(
        file=file or sys.stdout,
        force_terminal=term.stdout_tty,
        no_color=not term.color,
        color_system="auto" if term.color else None,
        width=term.width,
        highlight=False,
        soft_wrap=False,
    )


def rich_track(
    shipments: Sequence[Shipment],
    term: Terminal,
    out: IO[str],
    marks: Mapping[int, str] | None = None,
) -> None:
    """A header and a timeline table per shipment."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    con = console(term, out)
    for index, s in enumerate(shipments):
        style = STATUS_STYLE.get(s.status.value, "")
        title = Text()
        title.append(s.tracking_number, style="bold")
        title.append(f"  {s.carrier}" + (f"/{s.courier}" if s.courier else ""), style="dim")
        title.append("  ")
        title.append(_state(s).replace("_", " "), style=style)
        mark = (marks or {}).get(index)
        if mark:
            title.append(f"  [{mark}]", style="yellow")
        con.print(title)
        details = []
        if s.order_id and s.order_id != s.tracking_number:
            details.append(f"order {s.order_id}")
        details.extend(x for x in (s.service, _route(s)) if x)
        if s.last_update:
            rel = relative(s.last_update, term)
            details.append(
                f"updated {absolute(s.last_update, term)}" + (f" ({rel})" if rel else "")
            )
        if details:
            con.print(Text("  " + "  ·  ".join(details), style="dim"))
        if s.error:
            con.print(Text(f"  error: {s.error}", style="red"))
        elif not s.found:
            con.print(
                Text(f"  not found{': ' + s.status_text if s.status_text else ''}", style="magenta")
            )
        elif s.status_text:
            con.print(Text(f"  {s.status_text}"))
        if s.events:
            table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))
            table.add_column("When", no_wrap=True)
            table.add_column("Where", overflow="fold", max_width=28)
            table.add_column("What", overflow="fold")
            for ev in s.events:
                rel = relative(ev.time, term)
                when = Text(absolute(ev.time, term))
                if rel:
                    when.append(f"\n{rel}", style="dim")
                what = Text(
                    ev.description or "-",
                    style=STATUS_STYLE.get(ev.status.value, "") if ev is s.events[0] else "",
                )
                for number, url in enumerate(ev.images, 1):
                    # A terminal hyperlink keeps long URLs from wrapping; --json has them in full.
                    what.append(f"\nimage {number}", style=f"blue underline link {url}")
                table.add_row(when, ev.location or "", what)
            con.print(table)
        if index < len(shipments) - 1:
            con.print()


def track(
    shipments: Sequence[Shipment],
    term: Terminal,
    out: IO[str],
    marks: Mapping[int, str] | None = None,
) -> None:
    """Shipments for people: Rich on a terminal, plain lines otherwise."""
    if term.stdout_tty:
        rich_track(shipments, term, out, marks)
    else:
        plain_track(shipments, term, out, marks)


def json_document(shipments: Iterable[Shipment]) -> str:
    """The ``--json`` document, schema 2."""
    from waypost.models import TrackDocument

    return TrackDocument(shipments=list(shipments)).model_dump_json(indent=2)


def json_lines(shipments: Iterable[Shipment]) -> str:
    """One Shipment per line (``--jsonl``)."""
    return "".join(s.model_dump_json() + "\n" for s in shipments)


def dumps(value: Any) -> str:
    """Compact JSON for plain data (no pydantic needed)."""
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


class _Progress:
    """A per-carrier Rich progress bar on stderr, or nothing at all."""

    def __init__(self, term: Terminal, enabled: bool) -> None:
        self.enabled = enabled and term.stderr_tty
        self.term = term
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Take the bars off the screen (before anything is printed under them)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def start(self, totals: Mapping[str, int]) -> None:
        """Show one bar per carrier with its number count."""
        if not self.enabled or not totals:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        con = Console(file=sys.stderr, no_color=not self.term.color, width=self.term.width)
        self._bar = Progress(
            TextColumn("{task.description:>12}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=con,
            transient=True,
        )
        for name, total in totals.items():
            self._tasks[name] = self._bar.add_task(name, total=total)
        self._bar.start()

    def advance(self, carrier: str, count: int) -> None:
        """``count`` more numbers of ``carrier`` are answered."""
        if self._bar is not None and carrier in self._tasks:
            self._bar.advance(self._tasks[carrier], count)


def progress(term: Terminal, *, enabled: bool) -> _Progress:
    """Progress on stderr when it is a terminal and ``enabled``."""
    return _Progress(term, enabled)


def _iso(ts: float | None, term: Terminal) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).astimezone(term.tz).isoformat(timespec="seconds")


def watch_list(rows: Sequence[Watched], term: Terminal, out: IO[str], mode: str) -> None:
    """The watch list as a table, TSV when piped, or JSON."""
    import json

    if mode in ("json", "jsonl"):
        items = [
            {
                "number": r.number,
                "carrier": r.carrier,
                "courier": r.courier,
                "order_id": r.order_id,
                "label": r.label,
                "status": r.status,
                "status_text": r.status_text,
                "final": r.final,
                "last_event": r.last_event,
                "last_event_time": r.last_event_time,
                "last_checked": _iso(r.last_checked, term),
                "added": _iso(r.added, term),
                "age_days": round((term.now.timestamp() - r.added) / 86400, 1),
                # Schema 2's Shipment fields; the watch list does not know them yet.
                "tracking_number": r.number,
                "eta": None,
                "eta_source": None,
                "transit_days": None,
                "stalled": False,
                "last_mile": None,
                "link": None,
                "archived": False,
                "journey": None,
            }
            for r in rows
        ]
        if mode == "json":
            out.write(
                json.dumps({"schema": 2, "watched": items}, ensure_ascii=False, indent=2) + "\n"
            )
        else:
            out.writelines(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
        return
    now = term.now.timestamp()
    table = [
        (
            r.label or "",
            r.number,
            r.carrier,
            r.status,
            (r.last_event or "")[:60],
            _ago(r.last_checked, now),
            f"{(now - r.added) / 86400:.0f}",
        )
        for r in rows
    ]
    if not term.stdout_tty:
        out.writelines("\t".join(row) + "\n" for row in table)
        return
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    heads = ("Label", "Number", "Carrier", "Status", "Last event", "Checked", "Age (d)")
    shown = [(*r[:3], r[3].replace("_", " "), *r[4:]) for r in table]
    widths = [max(cell_len(r[i]) for r in [heads, *shown]) for i in range(len(heads))]
    # One line per shipment: the last event gets the room the other columns leave, cut with "…".
    room = max(12, term.width - sum(widths) + widths[4] - 3 * (len(heads) - 1))  # padding, rule
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in heads:
        t.add_column(name, no_wrap=True, justify="right" if name == "Age (d)" else "left")
    for row, raw in zip(shown, table, strict=True):
        last = Text(row[4])
        last.truncate(room, overflow="ellipsis")
        status = Text(row[3], style=STATUS_STYLE.get(raw[3], ""))
        t.add_row(*row[:3], status, last, *row[5:])
    con = console(term, out)
    if table:
        con.print(t)
    else:
        con.print(
            "[dim]The watch list is empty: add numbers with `waypost track --save NUMBER`.[/]"
        )


def _ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    seconds = max(0.0, now - ts)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def carriers_overview(rows: Sequence[Mapping[str, Any]], out: IO[str]) -> None:
    """``waypost carriers`` in plain text."""
    for index, row in enumerate(rows):
        if index:
            out.write("\n")
        missing = row["missing"]
        state = "configured" if not missing else f"not configured: missing {', '.join(missing)}"
        out.write(f"{row['name']}  {row['title']}  [{state}]\n")
        out.write(f"  covers:  {row['coverage']}\n")
        if row.get("api"):
            out.write(f"  api:     {row['api']}\n")
        out.write(
            f"  batch:   up to {row['max_batch']} number(s) per request, "
            f"{row['max_connections']} requests in flight\n"
        )
        for key, value in row["rates_per_second"].items():
            out.write(f"  rate:    {key} = {value:g} requests/s\n")
        for note in row["rate_notes"]:
            out.write(f"  note:    {note}\n")
        for p in row["patterns"]:
            check = ", check digit" if p["check_digit"] else ""
            out.write(f"  detects: {p['name']} ({p['describe']}{check}), e.g. {p['example']}\n")
        out.write(f"  docs:    {row['docs']}\n")


def detection(results: Sequence[Mapping[str, Any]], out: IO[str]) -> None:
    """``waypost carriers --detect`` in plain text: ranked candidates and why."""
    for item in results:
        sure = item["sure"]
        verdict = (
            f"sure: {sure}"
            if sure
            else "not sure: every configured carrier that could have it is asked"
        )
        out.write(f"{item['number']}  ({verdict})\n")
        if not item["candidates"]:
            out.write("  no pattern matches\n")
        for c in item["candidates"]:
            courier = f"/{c['courier']}" if c["courier"] else ""
            out.write(f"  {c['confidence']:.2f}  {c['carrier']}{courier}  {c['reason']}\n")
