"""Output: Rich tables on a terminal, plain lines when piped, JSON/JSONL for scripts.

The one owner of every command's output (SPEC.md, "Output"): a ``Format`` (table, plain, json,
jsonl) chosen once per run, times every document kind. The terminal (TTY or not, colour, width,
display zone, now) is a ``Terminal`` value made once in the CLI, so every format is testable
without a real terminal. Plain output never imports Rich.
"""

from __future__ import annotations

import enum
import functools
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import IO, TYPE_CHECKING, Any, Literal

from waypost import safe
from waypost.render_plain import STATUS_STYLE as STATUS_STYLE
from waypost.render_plain import _value as _value
from waypost.render_plain import _wrapped, list_tsv, painted, wants_color
from waypost.render_plain import age_text as age_text
from waypost.render_plain import carriers_overview as carriers_overview
from waypost.render_plain import config_document as config_document
from waypost.render_plain import dumps as dumps
from waypost.render_plain import looks_secret as looks_secret
from waypost.render_plain import quota_text as quota_text

if TYPE_CHECKING:
    from rich.console import Console

    from waypost.carriers.base import CarrierInfo, Query
    from waypost.config import Config
    from waypost.models import Event, Shipment
    from waypost.service import Result
    from waypost.store.protocols import ListRow

# Narrower than this, no layout helps; Rich still draws, the terminal wraps.
MIN_WIDTH = 20


class Format(enum.Enum):
    """How a run prints: a Rich table (terminal), plain lines (piped), one JSON document, JSONL."""

    TABLE = "table"
    PLAIN = "plain"
    JSON = "json"
    JSONL = "jsonl"

    @classmethod
    def choose(cls, *, as_json: bool = False, as_jsonl: bool = False, tty: bool = False) -> Format:
        """``--json``/``--jsonl``, else a table on a terminal and plain lines elsewhere."""
        if as_json:
            return cls.JSON
        if as_jsonl:
            return cls.JSONL
        return cls.TABLE if tty else cls.PLAIN

    @property
    def human(self) -> bool:
        """True for the formats meant for people (table, plain)."""
        return self in (Format.TABLE, Format.PLAIN)


@dataclass(frozen=True)
class Terminal:
    """Where output goes and how it may look."""

    stdout_tty: bool = False
    stderr_tty: bool = False
    color: bool = False
    width: int = 100
    tz: tzinfo | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    encoding: str = "utf-8"  # of standard output: tables escape what it cannot carry first

    @classmethod
    def detect(
        cls,
        *,
        no_color: bool = False,
        color: str = "auto",
        tz: tzinfo | None = None,
        env: Mapping[str, str] | None = None,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
    ) -> Terminal:
        """Read TTY-ness, colour (``--color``, ``NO_COLOR``, ``TERM=dumb``) and the width.

        ``color`` is ``auto`` (colour on a terminal unless ``NO_COLOR``), ``always`` or ``never``;
        ``no_color`` is ``--no-color``.
        """
        env = os.environ if env is None else env
        out = stdout or sys.stdout
        err = stderr or sys.stderr
        out_tty = _isatty(out)
        colored = wants_color(color, no_color, out_tty, env)
        encoding = getattr(out, "encoding", None) or "utf-8"
        width = terminal_width(env, out, err)
        return cls(out_tty, _isatty(err), colored, width, tz, encoding=str(encoding))


def terminal_width(env: Mapping[str, str], *streams: IO[str]) -> int:
    """``COLUMNS`` when it is a positive number, else the size of the first terminal among
    ``streams``, else 80 on a terminal of unknown size and 100 when nothing is a terminal."""
    raw = env.get("COLUMNS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return max(MIN_WIDTH, int(raw))
    for stream in streams:
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            continue
        if columns > 0:
            return max(MIN_WIDTH, columns)
    return 80 if any(_isatty(s) for s in streams) else 100


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def local_time(when: datetime, term: Terminal) -> datetime:
    """``when`` in the display zone (naive times are shown as the carrier gave them)."""
    if when.tzinfo is None:
        return when
    try:
        return when.astimezone(term.tz) if term.tz is not None else when.astimezone()
    except (OverflowError, OSError, ValueError):
        return when  # at the ends of the calendar (year 1, 9999) it stays in its own zone


def absolute(when: datetime | None, term: Terminal) -> str:
    """``2025-02-14 10:10 +0800`` in the display zone; a naive time (a country with several
    zones) is ``2025-02-14 10:10 local time``, the carrier's local clock."""
    if when is None:
        return "-"
    shown = local_time(when, term)
    stamp = shown.strftime("%Y-%m-%d %H:%M")
    offset = shown.strftime("%z")
    return f"{stamp} {offset}" if offset else f"{stamp} local time"


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
    fields.extend(_insight_fields(s))
    return fields


def _insight_fields(s: Shipment) -> list[str]:
    """``ETA 2026-12-08 (history)`` and ``stalled`` for a header."""
    out = []
    if s.eta is not None:
        day = s.eta.date() if isinstance(s.eta, datetime) else s.eta
        out.append(f"ETA {day.isoformat()}" + (f" ({s.eta_source})" if s.eta_source else ""))
    if s.stalled:
        out.append("stalled")
    return out


def readable(s: Shipment, encoding: str = "utf-8") -> Shipment:
    """``s`` with every text field made safe for people (``safe.field``) and for an output of
    ``encoding`` (``safe.encodable``); JSON never uses it."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return safe.encodable(safe.field(value), encoding)
        if isinstance(value, list):
            return [clean(v) for v in value]
        if hasattr(value, "model_copy"):
            return value.model_copy(update={k: clean(v) for k, v in value})
        return value

    copy: Shipment = clean(s)
    return copy


def _marks(marks: Mapping[int, str] | None, encoding: str = "utf-8") -> dict[int, str]:
    return {i: safe.encodable(safe.field(m), encoding) for i, m in (marks or {}).items()}


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
    marks = _marks(marks)
    for index, s in enumerate(map(readable, shipments)):
        if index:
            out.write("\n")
        mark = (marks or {}).get(index)
        fields = header_fields(s, term)
        if term.color:  # `--color always` when piped: the status word as on a terminal
            fields[2] = painted(fields[2], s.status.value)
        out.write("  ".join(fields) + (f"  [{mark}]" if mark else "") + "\n")
        if s.error:
            out.write(f"  error: {s.error}\n")
        elif s.found is None:
            out.write("  failed: no answer\n")
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
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    con = console(term, out)
    marks = _marks(marks, term.encoding)
    shipments = [readable(s, term.encoding) for s in shipments]
    dot = "·" if safe.encodable("·", term.encoding) == "·" else "-"
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
        con.print(Group(whole_escapes(title, term)))
        details = []
        if s.order_id and s.order_id != s.tracking_number:
            details.append(f"order {s.order_id}")
        details.extend(x for x in (s.service, _route(s)) if x)
        if s.last_update:
            rel = relative(s.last_update, term)
            details.append(
                f"updated {absolute(s.last_update, term)}" + (f" ({rel})" if rel else "")
            )
        details.extend(_insight_fields(s))
        if details:
            joined = f"  {dot}  ".join(details)
            # Too long for one line: one detail per line rather than a date cut in two.
            if len(joined) + 2 > term.width:
                joined = "\n".join(details)
            shown = whole_escapes(Text(joined, style="dim"), term)
            con.print(Padding(shown, (0, 0, 0, 2), expand=False))
        if s.error:
            con.print(Text(f"  error: {s.error}", style="red"))
        elif s.found is None:
            con.print(Text("  failed: no answer", style="red"))
        elif not s.found:
            con.print(
                Text(f"  not found{': ' + s.status_text if s.status_text else ''}", style="magenta")
            )
        elif s.status_text:
            con.print(Text(f"  {s.status_text}"))
        if s.events and term.width < NARROW:
            con.print(_stacked_events(s, term))
        elif s.events:
            table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))
            table.add_column("When", no_wrap=True)
            # Narrow terminals keep most of the room for the description.
            table.add_column("Where", overflow="fold", max_width=max(10, min(28, term.width // 5)))
            table.add_column("What", overflow="fold")
            for ev in s.events:
                rel = relative(ev.time, term)
                when = Text(absolute(ev.time, term))
                if rel:
                    when.append(f"\n{rel}", style="dim")
                what = whole_escapes(_event_text(s, ev, term), term)
                table.add_row(when, whole_escapes(Text(ev.location or ""), term), what)
            con.print(table)
        if index < len(shipments) - 1:
            con.print()


# Below this width the timeline is a list (time, then place and text indented), not a table.
NARROW = 60


def whole_escapes(text: Any, term: Terminal) -> Any:
    """``text`` (a Rich Text, ``encodable`` already) wrapping between the ``\\uXXXX`` escapes of an
    output that cannot carry them, never inside one (unchanged for UTF-8). Printed on its own, in
    a ``Group``: ``Console.print`` joins Text objects into a plain one."""
    if "\\u" not in text.plain or term.encoding.lower().replace("_", "-").startswith("utf"):
        return text
    whole = _escaped_text_type()(
        style=text.style, justify=text.justify, overflow=text.overflow, end=text.end
    )
    whole.append_text(text)
    return whole


_ESCAPE = r"\\u[0-9a-fA-F]{4}"


def _escape_breaks(text: str, width: int) -> list[int]:
    """Where ``text`` (one cell a character) wraps at ``width``: before a word that does not fit;
    inside a word longer than a line, before the escape the line's end would cut."""
    import re

    width = max(1, width)  # Rich may ask for none at all: one character a line then
    spans = [m.span() for m in re.finditer(_ESCAPE, text)]
    offsets: list[int] = []
    start = 0
    for word in re.finditer(r"\S+", text):
        if word.end() - start <= width:
            continue
        if word.start() > start:
            offsets.append(start := word.start())
        while word.end() - start > width:
            cut = start + width
            cut = next((a for a, b in spans if a < cut < b and a > start), cut)
            offsets.append(start := cut)
    return offsets


@functools.cache
def _escaped_text_type() -> Any:
    import re

    from rich.containers import Lines
    from rich.measure import Measurement
    from rich.text import Text

    class WholeEscapes(Text):
        """Rich Text that folds a long word between escapes (Rich folds at any cell)."""

        def wrap(self, console: Any, width: int, **options: Any) -> Lines:
            if options.get("no_wrap") or self.no_wrap:
                return super().wrap(console, width, **options)
            lines = Lines()
            for line in self.split(allow_blank=True):
                for part in line.divide(_escape_breaks(line.plain, width)):
                    part.rstrip()
                    part.truncate(width, overflow="fold")
                    lines.append(part)
            justify = options.get("justify") or self.justify
            if justify:
                lines.justify(console, width, justify=justify, overflow="fold")
            return lines

        def __rich_measure__(self, console: Any, options: Any) -> Measurement:
            widest = super().__rich_measure__(console, options).maximum
            units = re.split(f"({_ESCAPE})|\\s+", self.plain)
            return Measurement(min(widest, max((len(u) for u in units if u), default=0)), widest)

    return WholeEscapes


def _event_text(s: Shipment, ev: Event, term: Terminal) -> Any:
    """An event's description (in the status colour for the newest) and its image URLs."""
    from rich.style import Style
    from rich.text import Text

    what = Text(
        ev.description or "-",
        style=STATUS_STYLE.get(ev.status.value, "") if ev is s.events[0] else "",
    )
    for url in ev.images:
        # The URL itself, so it survives NO_COLOR and copy and paste; in colour also a link.
        target = safe.link(url) if term.color else None
        what.append(f"\nimage: {url}", Style(color="blue", link=target) if target else "")
    return what


def _stacked_events(s: Shipment, term: Terminal) -> Any:
    """The timeline for a narrow terminal: a time line, then place and text indented."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    parts: list[Any] = []
    for ev in s.events:
        rel = relative(ev.time, term)
        when = Text(absolute(ev.time, term), style="bold")
        if rel:
            when.append(f"  {rel}", style="dim")
        parts.append(when)
        if ev.location:
            place = whole_escapes(Text(ev.location, style="dim", overflow="fold"), term)
            parts.append(Padding(place, (0, 0, 0, 2), expand=False))
        what = _event_text(s, ev, term)
        what.overflow = "fold"
        parts.append(Padding(whole_escapes(what, term), (0, 0, 0, 2), expand=False))
    return Group(*parts)


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


def shipments(
    found: Sequence[Shipment],
    fmt: Format,
    term: Terminal,
    out: IO[str],
    marks: Mapping[int, str] | None = None,
) -> None:
    """``track``'s output in ``fmt``: the JSON document, JSON lines, a table or plain lines."""
    if fmt is Format.JSON:
        out.write(json_document(found) + "\n")
    elif fmt is Format.JSONL:
        out.write(json_lines(found))
    elif fmt is Format.TABLE:
        rich_track(found, term, out, marks)
    else:
        plain_track(found, term, out, marks)


def marks(results: Sequence[Result]) -> dict[int, str]:
    """Labels for shipments that several carriers found (index into the run's shipments)."""
    labels: dict[int, str] = {}
    index = 0
    for result in results:
        carriers_found = [a.query.carrier for a in result.answers if a.found]
        for answer in result.answers:
            for _ in answer.shipments:
                if len(set(carriers_found)) > 1:
                    others = sorted({c for c in carriers_found if c != answer.query.carrier if c})
                    labels[index] = "also found by " + ", ".join(others)
                index += 1
    return labels


@dataclass
class Shown:
    """What ``NewsWriter.show`` printed, for the other channels: JSON, text and hook echo."""

    payload: str
    text: str
    echo: Callable[[str], object]


class NewsWriter:
    """``watch``'s output: the news of each shipment as it is delivered (or one JSON document
    of all of them first), and the same news as JSON and text for notifications and hooks."""

    def __init__(
        self,
        fmt: Format,
        term: Terminal,
        out: IO[str],
        warn: Callable[[str], object],
        err: IO[str] | None = None,
    ) -> None:
        self.fmt = fmt
        self.term = term
        self.out = out
        self.warn = warn
        self.err = sys.stderr if err is None else err

    @property
    def whole_pass(self) -> bool:
        """True when a pass's news is one document (``--json``), so it cannot come in chunks."""
        return self.fmt is Format.JSON

    def hook_echo(self, text: str) -> None:
        """A hook's output, as it is: to stdout (cron mails it), or to stderr beside JSON on
        stdout (not a waypost error, so not labelled one)."""
        if self.fmt.human:
            self.out.write(text)
        else:
            self.err.write(text)
            self.err.flush()

    def begin(self, views: Sequence[Shipment]) -> None:
        """Before any delivery: the ``--json`` document of every shipment with news."""
        if self.fmt is Format.JSON and views:
            self.out.write(json_document(views) + "\n")
            self.out.flush()

    def show(
        self, index: int, view: Shipment, label: str | None, notes: Sequence[str] = ()
    ) -> Shown:
        """Print one shipment's news (its ``index`` among this pass's news); ``notes``: news that
        is not an event (``stalled: ...``, ``ETA moved: ...``), a line each after the block."""
        payload = view.model_dump_json()
        if self.fmt is Format.JSONL:
            self.out.write(payload + "\n")
        elif self.fmt.human:
            if index:
                self.out.write("\n")
            track([view], self.term, self.out, marks={0: label} if label else None)
            self.out.write("".join(f"  {line}\n" for line in notes))
        self.out.flush()
        text = "\n".join(
            [
                *notes,
                *(
                    f"{absolute(e.time, self.term)}  {e.location or '-'}  {e.description or '-'}"
                    for e in readable(view).events
                ),
            ]
        )
        return Shown(payload, text, self.hook_echo)

    def show_group(
        self,
        index: int,
        views: Sequence[Shipment],
        moved: int,
        label: str | None,
        header: str | None,
        notes: Sequence[str] = (),
    ) -> Shown:
        """Print one journey's news once: ``header``, then each leg that moved, then ``notes``
        (``[leg 2] stalled: ...``); the other channels get the leg that moved last (``moved``),
        the notes and every leg's events, leg-marked."""
        payload = views[moved].model_dump_json()
        if self.fmt is Format.JSONL:
            self.out.writelines(v.model_dump_json() + "\n" for v in views)
        elif self.fmt.human:
            if index:
                self.out.write("\n")
            if header:
                self.out.write(header + "\n")
            track(list(views), self.term, self.out, marks={0: label} if label else None)
            self.out.write("".join(f"  {line}\n" for line in notes))
        self.out.flush()
        text = "\n".join(
            [
                *notes,
                *(
                    (f"[leg {v.journey.leg}] " if v.journey is not None else "")
                    + f"{absolute(e.time, self.term)}  {e.location or '-'}  {e.description or '-'}"
                    for v in views
                    for e in readable(v).events
                ),
            ]
        )
        return Shown(payload, text, self.hook_echo)


def json_document(shipments: Iterable[Shipment]) -> str:
    """The ``--json`` document, schema 2."""
    from waypost.models import TrackDocument

    return TrackDocument(shipments=list(shipments)).model_dump_json(indent=2)


def json_lines(shipments: Iterable[Shipment]) -> str:
    """One Shipment per line (``--jsonl``)."""
    return "".join(s.model_dump_json() + "\n" for s in shipments)


def data_lines(shipments: list[dict[str, Any]]) -> str:
    """``json_lines`` of shipments given as plain data."""
    import json

    return "".join(
        json.dumps(s, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
        for s in shipments
    )


class _Progress:
    """Per-carrier progress on stderr while answers are awaited, or nothing at all.

    Each carrier's line says what is still awaited and for how long (``waiting for
    trackingmore: 12 s``), with the run's ``--deadline`` when there is one. It appears only
    after ``delay`` seconds, so quick runs never flash it.
    """

    def __init__(
        self,
        term: Terminal,
        enabled: bool,
        *,
        deadline: float | None = None,
        delay: float = 0.5,
        file: IO[str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.enabled = enabled and (term.stderr_tty or file is not None)
        self.term = term
        self.deadline = deadline
        self.delay = delay
        self.file = file
        self.clock = clock
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._shown = False

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Take the lines off the screen (before anything is printed under them)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._bar is not None and self._shown:
                self._bar.stop()
            self._bar = None
            self._shown = False

    def start(self, totals: Mapping[str, int]) -> None:
        """One line per carrier with its number count, shown once ``delay`` has passed."""
        if not self.enabled or not totals:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
        from rich.table import Column

        file = self.file or sys.stderr
        con = Console(file=file, no_color=not self.term.color, width=self.term.width)
        # What stderr cannot carry would reach it as a 6-cell escape: a bar of '#' and '-'
        # there (Rich draws both parts with '-'), and "..." where a line is cut.
        glyphs = "\u2501\u2026"  # the bar's and the cut's
        ascii_only = safe.encodable(glyphs, getattr(file, "encoding", None) or "utf-8") != glyphs
        named = max(12, *(len(n) for n in totals))
        counts = max(len(f"{t}/{t}") for t in totals.values())
        # The waiting text gets the room the other columns leave (one space between columns).
        room = con.width - named - _BAR - counts - 3
        self._bar = Progress(
            TextColumn(f"{{task.description:>{named}}}", table_column=Column(no_wrap=True)),
            _ascii_bar_type()() if ascii_only else BarColumn(bar_width=_BAR),
            MofNCompleteColumn(table_column=Column(no_wrap=True, min_width=counts)),
            _waiting_column(self.deadline, room, ascii_only),
            console=con,
            transient=True,
            get_time=self.clock,
        )
        for name, total in totals.items():
            self._tasks[name] = self._bar.add_task(name, total=total)
        if self.delay <= 0:
            self.show()
        else:
            self._timer = threading.Timer(self.delay, self.show)
            self._timer.daemon = True
            self._timer.start()

    def show(self) -> None:
        """Put the lines on the screen now."""
        with self._lock:
            if self._bar is not None and not self._shown:
                self._bar.start()
                self._shown = True

    def retrying(self, carrier: str, count: int) -> None:
        """A request to ``carrier`` is being retried (the ``count``-th time)."""
        bar = self._bar
        if bar is not None and carrier in self._tasks:
            bar.update(self._tasks[carrier], retries=count)

    def advance(self, carrier: str, count: int) -> None:
        """``count`` more numbers of ``carrier`` are answered."""
        bar = self._bar
        if bar is not None and carrier in self._tasks:
            bar.advance(self._tasks[carrier], count)

    def render(self) -> str:
        """The lines as they would be drawn now (for tests)."""
        if self._bar is None:
            return ""
        con = self._bar.console
        with con.capture() as cap:
            con.print(self._bar.make_tasks_table(self._bar.tasks))
        return str(cap.get())


_BAR = 10  # cells of the progress bar


@functools.cache
def _ascii_bar_type() -> Any:
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class AsciiBar(ProgressColumn):
        """``#####-----``: done and awaited told apart without colour or box characters."""

        def render(self, task: Task) -> Text:
            done = 0
            if task.total:
                done = min(_BAR, int(_BAR * task.completed / task.total))
            style = "bar.finished" if task.finished else "bar.complete"
            return Text.assemble(("#" * done, style), ("-" * (_BAR - done), "bar.back"))

    return AsciiBar


def _waiting_column(
    deadline: float | None, room: int | None = None, ascii_only: bool = False
) -> Any:
    """A Rich column: ``waiting for NAME: 12 s`` (and the deadline) while a carrier owes
    answers, ``done`` after; cut to ``room`` cells ("..." where the output is ASCII)."""
    from rich.progress import ProgressColumn, Task
    from rich.table import Column
    from rich.text import Text

    mark = "..." if ascii_only else "\u2026"

    class Waiting(ProgressColumn):
        def render(self, task: Task) -> Text:
            if task.finished:
                return Text("done", style="green")
            waited = f"{task.elapsed or 0.0:.0f} s"
            if task.fields.get("retries"):
                waited += f", retry {task.fields['retries']}"
            limit = "" if deadline is None else f" (--deadline {deadline:g}s)"
            # Short of room, the carrier's name (first on the line already) goes, then the limit.
            forms = (
                f"waiting for {task.description}: {waited}{limit}",
                f"waiting {waited}{limit}",
                f"waiting {waited}",
            )
            text = next((f for f in forms if room is None or len(f) <= room), waited)
            if room is not None and len(text) > room:
                text = text[: max(0, room - len(mark))] + mark if room > len(mark) else ""
            return Text(text, style="dim")

    return Waiting(table_column=Column(no_wrap=True, overflow="crop"))


def progress(
    term: Terminal, *, enabled: bool, deadline: float | None = None, **kwargs: Any
) -> _Progress:
    """Progress on stderr when it is a terminal and ``enabled``."""
    return _Progress(term, enabled, deadline=deadline, **kwargs)


def _iso(ts: float | None, term: Terminal) -> str | None:
    if ts is None:
        return None
    if term.tz is not None:
        return datetime.fromtimestamp(ts, term.tz).isoformat(timespec="seconds")
    return datetime.fromtimestamp(ts, UTC).astimezone().isoformat(timespec="seconds")


def _iso_dt(when: datetime | None, term: Terminal) -> str | None:
    return None if when is None else _iso(when.timestamp(), term)


def first_event(times: Iterable[str]) -> datetime | None:
    """The earliest of stored ISO event times (naive ones read as UTC: days are all it needs)."""
    parsed = []
    for raw in times:
        try:
            when = datetime.fromisoformat(raw)
        except (TypeError, ValueError):
            continue
        parsed.append(when if when.tzinfo is not None else when.replace(tzinfo=UTC))
    return min(parsed, default=None)


def _first(raw: str | None) -> datetime | None:
    """One stored ISO time (naive: UTC), None when absent or unreadable."""
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


# One ``list --json`` item inside the document, as ``json.dumps(indent=2)`` places it.
_ITEM_INDENT = "\n    "


def watch_list(
    rows: Iterable[ListRow],
    term: Terminal,
    out: IO[str],
    fmt: Format,
    facts: Callable[[ListRow], Mapping[str, Any]] | None = None,
    journey: Callable[[ListRow], dict[str, Any] | None] | None = None,
) -> None:
    """The watch list as a table, TSV when piped (ISO times), or JSON, written row by row as
    ``rows`` come (only the table needs them all); ``facts``: a row's ``eta``, ``eta_source``,
    ``stalled``, ``transit_days`` (``insights.RowFacts``); ``journey``: a leg's ``journey``
    field."""
    now = term.now.timestamp()

    def since_first(first: datetime | None) -> float | None:
        return None if first is None else round((now - first.timestamp()) / 86400, 1)

    if fmt in (Format.JSON, Format.JSONL):
        import json

        def item(r: ListRow) -> dict[str, Any]:
            first = _first(r.first_event_time)
            fact = facts(r) if facts is not None else {}
            return {
                "number": r.number,
                "carrier": r.carrier,
                "courier": r.courier,
                "order_id": r.order_id,
                "label": r.label,
                "status": r.status,
                "status_text": r.status_text,
                "final": bool(r.final),
                "last_event": r.last_event,
                "last_event_time": r.last_event_time,
                "last_checked": _iso(r.last_checked, term),
                "added": _iso(r.added, term),
                "age_days": round((now - r.added) / 86400, 1),
                "first_event_time": _iso_dt(first, term),
                "days_since_first_event": since_first(first),
                # Schema 2's Shipment fields (last_mile, link: not stored yet).
                "tracking_number": r.number,
                "eta": fact.get("eta"),
                "eta_source": fact.get("eta_source"),
                "transit_days": fact.get("transit_days"),
                "stalled": bool(fact.get("stalled")),
                "last_mile": None,
                "link": None,
                "archived": r.archived is not None,
                "archived_at": _iso(r.archived, term),
                "journey": journey(r) if journey is not None else None,
            }

        if fmt is Format.JSONL:
            for r in rows:
                out.write(json.dumps(item(r), ensure_ascii=False) + "\n")
            return
        # The document of json.dumps(indent=2), written one item at a time (flat memory).
        out.write('{\n  "schema": 2,\n  "watched": [')
        sep = _ITEM_INDENT
        for r in rows:
            text = json.dumps(item(r), ensure_ascii=False, indent=2)
            out.write(sep + text.replace("\n", _ITEM_INDENT))
            sep = "," + _ITEM_INDENT
        out.write("]\n}\n" if sep == _ITEM_INDENT else "\n  ]\n}\n")
        return
    if fmt is Format.PLAIN:
        list_tsv(rows, term.now, term.tz, out, color=term.color)
        return
    shown = list(rows)
    con = console(term, out)
    if not shown:
        con.print(
            "[dim]The watch list is empty: add numbers with `waypost track --save NUMBER`.[/]"
        )
        return
    firsts = {r.id: _first(r.first_event_time) for r in shown}
    con.print(_watch_table(shown, term, firsts, {r.id: facts(r) for r in shown} if facts else {}))


# Columns of the `list` table; the optional ones go, in this order, when the terminal is narrow.
LIST_COLUMNS = (
    "Label",
    "Number",
    "Carrier",
    "Status",
    "ETA",
    "Last event",
    "Checked",
    "First event",
)
_DROP_ORDER = ("Checked", "First event", "ETA", "Carrier", "Label")
_MIN_LAST_EVENT = 16


def _watch_table(
    rows: Sequence[ListRow],
    term: Terminal,
    firsts: Mapping[int, datetime | None],
    facts: Mapping[int, Mapping[str, Any]] | None = None,
) -> Any:
    """One line per shipment; "Last event" gets the room the other columns leave, cut with "…"."""
    import re

    from rich import box
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    now = term.now.timestamp()

    def shown(value: object) -> str:
        return safe.encodable(safe.field(value), term.encoding)

    cells = [
        {
            "Label": shown(r.label),
            "Number": shown(r.number),
            "Carrier": shown(r.carrier),
            "Status": shown(r.status).replace("_", " ")
            + (" (stalled)" if (facts or {}).get(r.id, {}).get("stalled") else ""),
            "ETA": _eta_cell((facts or {}).get(r.id, {})),
            "Last event": " ".join(shown(r.last_event).split()),
            "Checked": _ago(r.last_checked, now),
            "First event": _ago(None if (f := firsts[r.id]) is None else f.timestamp(), now, "-"),
        }
        for r in rows
    ]
    optional = {"Label", "ETA"}
    heads = [h for h in LIST_COLUMNS if h not in optional or any(c[h] for c in cells)]
    widths = {h: max(cell_len(h), *(cell_len(c[h]) for c in cells)) for h in heads}

    def room() -> int:
        # Each column is padded by one space either side, minus the outer edges, plus a rule.
        used = sum(w for h, w in widths.items() if h != "Last event") + 3 * (len(heads) - 1)
        return term.width - used

    for name in _DROP_ORDER:
        if room() >= _MIN_LAST_EVENT:
            break
        if name in heads:
            heads.remove(name)
            del widths[name]
    space = room()
    if space < 8:  # not even a word of it would show
        heads.remove("Last event")
    # "…" where the output can carry it, else "..." (an escaped "…" would not fit the room).
    cut: Literal["ellipsis", "crop"] = "ellipsis"
    if safe.encodable("…", term.encoding) != "…":
        cut = "crop"
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in heads:
        table.add_column(
            name,
            no_wrap=True,
            overflow=cut,
            max_width=space if name == "Last event" else None,
            min_width=widths[name] if name == "Number" else None,
        )
    for r, c in zip(rows, cells, strict=True):
        values: list[Any] = []
        for name in heads:
            if name == "Status":
                values.append(Text(c[name], style=STATUS_STYLE.get(r.status, "")))
            elif name == "Last event":
                last = Text(c[name])
                if cut == "crop" and cell_len(c[name]) > space:
                    last.truncate(max(0, space - 3))
                    # Not inside a \uXXXX escape: a part of one would read as another character.
                    last.truncate(len(re.sub(r"\\(?:u[0-9a-f]{0,3})?\Z", "", last.plain)))
                    last.append("...")
                else:
                    last.truncate(space, overflow="ellipsis")
                values.append(last)
            else:
                values.append(Text(c[name]))
        table.add_row(*values)
    return table


def _eta_cell(fact: Mapping[str, Any]) -> str:
    """``Dec 8`` (``Dec 8 ~`` when learned from history), empty without an ETA."""
    raw = fact.get("eta")
    if not raw:
        return ""
    day = datetime.fromisoformat(str(raw))
    return f"{day:%b} {day.day}" + (" ~" if fact.get("eta_source") == "history" else "")


def watch_summary(summary: Mapping[str, Any], out: IO[str], fmt: Format) -> None:
    """``list --summary``: counts per status, stalled and archived (a table or JSON)."""
    import json

    if fmt in (Format.JSON, Format.JSONL):
        indent = 2 if fmt is Format.JSON else None
        out.write(json.dumps({"schema": 2, "summary": summary}, indent=indent) + "\n")
        return
    lines = [(status, count) for status, count in summary["statuses"].items()]
    lines += [("stalled", summary["stalled"]), ("archived", summary["archived"])]
    lines.append(("total", summary["total"]))
    width = max(len(name) for name, _ in lines)
    out.writelines(f"{name.replace('_', ' '):<{width}}  {count}\n" for name, count in lines)


def _ago(ts: float | None, now: float, never: str = "never") -> str:
    if ts is None:
        return never
    seconds = max(0.0, now - ts)
    for size, unit in ((86400 * 365, "y"), (86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def detection(results: Sequence[Mapping[str, Any]], out: IO[str], width: int | None = None) -> None:
    """``waypost carriers --detect`` in plain text: ranked candidates, why, and who is asked."""
    for item in results:
        if item.get("given"):
            verdict = f"given: {item['given']}"
        elif item["sure"]:
            verdict = f"sure: {item['sure']}"
        else:
            verdict = "not sure"
        out.write(f"{safe.field(item['number'])}  ({verdict})\n")
        if not item["candidates"]:
            out.write("  no pattern matches\n")
        for c in item["candidates"]:
            courier = f"/{c['courier']}" if c["courier"] else ""
            out.write(f"  {c['confidence']:.2f}  {c['carrier']}{courier}  {c['reason']}\n")
        asked = item.get("asked", [])
        ready = [_target(a) for a in asked if a["configured"]]
        skipped = [_target(a) for a in asked if not a["configured"]]
        if ready:
            _wrapped(out, "  asked: " + ", ".join(ready), width, 9)
        if skipped:
            _wrapped(out, "  not configured, skipped: " + ", ".join(skipped), width, 4)
        if asked and not ready:
            out.write("  nobody can be asked: configure one with `waypost config init`\n")


def _target(asked: Mapping[str, Any]) -> str:
    courier = asked["courier"]
    return str(asked["carrier"]) + (f"/{courier}" if courier else "")


def courier_codes(couriers: Sequence[Mapping[str, Any]], out: IO[str]) -> None:
    """``carriers --remote``: one ``code<TAB>name`` line per courier."""
    out.writelines(f"{safe.field(c.get('code'))}\t{safe.field(c.get('name'))}\n" for c in couriers)


def detection_document(
    queries: Sequence[Query], infos: Mapping[str, CarrierInfo], config: Config
) -> list[dict[str, Any]]:
    """``carriers --detect``: per number, the carriers it could be, how sure, and why."""
    from waypost.carriers import detect

    results = []
    for q in queries:
        ranked = detect.candidates(q.number, infos.values())
        top = detect.sure(ranked)
        targets = detect.targets(q.number, q.carrier, q.courier, infos.values())
        results.append(
            {
                "number": q.number,
                "given": (f"{q.carrier}/{q.courier}" if q.courier else q.carrier)
                if q.carrier
                else None,
                "sure": top.carrier if top else None,
                "asked": [
                    {"carrier": name, "courier": courier, "configured": config.configured(name)}
                    for name, courier in targets
                ],
                "candidates": [
                    {
                        "carrier": c.carrier,
                        "courier": c.courier,
                        "confidence": c.confidence,
                        "pattern": c.pattern,
                        "check_digit": {True: "ok", False: "failed", None: "none"}[c.check],
                        "reason": c.reason,
                    }
                    for c in ranked
                ],
            }
        )
    return results
