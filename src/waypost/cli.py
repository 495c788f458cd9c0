"""The Typer layer: parse options, call the service or the store, render. Nothing else.

``main()`` alone turns errors into exit codes (SPEC.md, "Exit codes"); a traceback is shown
only with ``--debug`` (or ``WAYPOST_DEBUG=1``).
"""

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from waypost import __version__
from waypost.errors import ConfigError, StoreError, UsageError, WaypostError

if TYPE_CHECKING:
    from waypost.config import Config
    from waypost.render import Terminal

HELP = """Track parcels from the terminal: ILS, TrackingMore and PandaPon (1688/Taobao).

Numbers may carry a carrier prefix (ils:3676E4043665, trackingmore:usps:9400...,
pandapon:2542285634920880794); `-` reads numbers from stdin. Exit codes: 0 all answered,
1 some failed, 2 usage error, 3 config or credentials error, 4 nothing could be answered,
5 the local store could not be used (busy, damaged, read-only, disk full)."""

app = typer.Typer(
    name="waypost",
    help=HELP,
    epilog="Examples:\n\n"
    '  eval "$(waypost sandbox --detach)"; waypost track 3676E4043665   # try it, no account\n\n'
    "  waypost config init; waypost track --save LS912989618CN\n\n"
    "  */30 * * * * waypost watch --once --notify 'ntfy://ntfy.sh/my-parcels'",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(
    help="Show and edit the configuration file.",
    no_args_is_help=True,
    epilog="Examples:\n\n  waypost config init\n\n"
    "  waypost config set carriers.trackingmore.api_key\n\n  waypost config show",
)
app.add_typer(config_app, name="config")


class State:
    """Global options, merged from the root and the subcommand."""

    def __init__(self) -> None:
        self.config_path: Path | None = None
        self.timeout = 20.0
        self.no_color = False
        self.color = "auto"
        self.quiet = False
        self.verbose = 0
        self.debug = False
        self.secrets: list[str] = []
        self._config: Config | None = None

    def config(self) -> "Config":
        """The merged configuration; warnings go to stderr once."""
        if self._config is None:
            from waypost import config as cfg

            self._config = cfg.load(self.config_path)
            self.secrets = self._config.secrets()
            for warning in self._config.warnings:
                say(f"warning: {warning}")
        return self._config

    def terminal(self, tz: str | None = None) -> "Terminal":
        """The output environment of this run."""
        from waypost.render import Terminal

        return Terminal.detect(
            no_color=self.no_color, color=self.color, tz=_zone(tz) if tz else None
        )


STATE = State()


def err(message: str) -> None:
    """One line to stderr, secrets masked, carrier text made harmless (``safe.lines``)."""
    from waypost import safe

    sys.stderr.write(safe.lines(_redact(message)) + "\n")


def say(message: str) -> None:
    """A note, hint or warning on stderr; ``-q`` keeps only errors."""
    if not STATE.quiet:
        err(message)


def _redact(text: str) -> str:
    from waypost.redaction import redact

    return redact(text, STATE.secrets)


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from None


def _color(value: str) -> str:
    """``--color WHEN``: auto, always or never."""
    choice = value.strip().lower()
    if choice not in ("auto", "always", "never"):
        raise typer.BadParameter(f"{value!r} is not one of auto, always, never")
    return choice


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"waypost {__version__}\n")
        raise typer.Exit(0)


# Longer than any wait a user means; short enough to stay a valid timeout everywhere.
MAX_SECONDS = 86400.0


def _finite(value: float | None) -> float | None:
    """Reject ``nan`` and ``inf``, which the range check of a float option lets through."""
    import math

    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number of seconds")
    return value


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="PATH",
        help="Config file (default: $WAYPOST_CONFIG or the user config dir).",
        show_default=False,
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        min=0.1,
        max=MAX_SECONDS,
        callback=_finite,
        help="Per-request timeout in seconds (default 20).",
        show_default=False,
    ),
]
NoColorOpt = Annotated[
    bool, typer.Option("--no-color", help="No colour (NO_COLOR is honoured too).")
]
VerboseOpt = Annotated[
    int,
    typer.Option(
        "-v", "--verbose", count=True, show_default=False, help="Log to stderr (-vv: more)."
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("-q", "--quiet", help="Print only errors on stderr (no notes, no progress).")
]
ColorOpt = Annotated[
    str | None,
    typer.Option(
        "--color",
        metavar="WHEN",
        parser=_color,
        help="Colour: auto (on a terminal, unless NO_COLOR), always or never.",
        show_default=False,
    ),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]
VersionOpt = Annotated[
    bool,
    typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
]


def _merge(
    config: Path | None,
    timeout: float | None,
    no_color: bool,
    verbose: int,
    quiet: bool = False,
    color: str | None = None,
    debug: bool = False,
) -> State:
    if config is not None:
        STATE.config_path = config
        STATE._config = None
    if timeout is not None:
        STATE.timeout = timeout
    STATE.no_color = STATE.no_color or no_color
    STATE.quiet = STATE.quiet or quiet
    STATE.debug = STATE.debug or debug
    if color is not None:
        STATE.color = color
    if verbose:
        STATE.verbose = max(STATE.verbose, verbose)
        _setup_logging(STATE.verbose)
    return STATE


def _setup_logging(verbose: int) -> None:
    from waypost import logs

    logs.setup(verbose, _redact)


@app.callback()
def root(
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
    color: ColorOpt = None,
    debug: DebugOpt = False,
    version: VersionOpt = False,
) -> None:
    """Track parcels from the terminal."""
    _merge(config, timeout, no_color, verbose, quiet, color, debug)


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document (schema 2).")]
JsonlOpt = Annotated[bool, typer.Option("--jsonl", help="Print one JSON object per line.")]
TzOpt = Annotated[
    str | None,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="Show times in this zone (default: the local zone).",
        show_default=False,
    ),
]
DeadlineOpt = Annotated[
    float | None,
    typer.Option(
        "--deadline",
        metavar="SECONDS",
        min=0.1,
        max=MAX_SECONDS,
        callback=_finite,
        help="Give up on whatever is still unanswered after this long.",
        show_default=False,
    ),
]


def _mode(as_json: bool, as_jsonl: bool) -> str:
    if as_json and as_jsonl:
        raise UsageError("--json and --jsonl cannot be combined")
    return "json" if as_json else "jsonl" if as_jsonl else "text"


def _store(required: bool) -> Any:
    """The SQLite store; without ``required``, a broken store only costs the caches.

    It waits up to ``[store] busy_timeout`` for another writer, then fails with exit 5.
    """
    from waypost.paths import data_dir
    from waypost.store import Store

    try:
        return Store.open(data_dir(), timeout=_busy_timeout())
    except StoreError as exc:
        if required:
            raise
        say(f"warning: {exc.message}; going on without the cache")
        return None


def _busy_timeout() -> float:
    from waypost.paths import busy_timeout

    if STATE._config is not None:
        return STATE._config.busy_timeout
    return busy_timeout(STATE.config_path)


def _cache(store: Any = None) -> Any:
    """A lookup cache over the store that never waits for it nor fails because of it."""
    from waypost.paths import data_dir
    from waypost.store import StoreCache

    return StoreCache(data_dir(), store, warn=err)


@app.command(
    epilog="Examples:\n\n"
    "  waypost track 3676E4043665 trackingmore:usps:9400111899223197428490\n\n"
    "  waypost track --json LS912989618CN | jq -r '.shipments[] | .status'\n\n"
    "  cut -f1 orders.tsv | waypost track --save --label march -"
)
def track(
    numbers: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="NUMBER...",
            help="Tracking numbers, optionally prefixed (ils:..., trackingmore:COURIER:..., "
            "pandapon:...); `-` reads stdin.",
            show_default=False,
        ),
    ] = None,
    carrier: Annotated[
        str | None,
        typer.Option(
            "--carrier",
            "-c",
            metavar="NAME",
            help="Ask this carrier for numbers without a prefix.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
    as_jsonl: JsonlOpt = False,
    save: Annotated[
        bool, typer.Option("--save", help="Add the numbers to the watch list.")
    ] = False,
    label: Annotated[
        str | None,
        typer.Option("--label", metavar="TEXT", help="Name for saved numbers.", show_default=False),
    ] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Ask again even where a recent answer is cached.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Wait out a carrier's rate-limit pause instead of failing."),
    ] = False,
    deadline: DeadlineOpt = None,
    tz: TzOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
    color: ColorOpt = None,
    debug: DebugOpt = False,
    version: VersionOpt = False,
) -> None:
    """Look up tracking numbers now and print their timelines."""
    import asyncio

    from waypost import carriers, inputs, render, service
    from waypost.carriers.base import TrackOptions

    st = _merge(config, timeout, no_color, verbose, quiet, color, debug)
    mode = _mode(as_json, as_jsonl)
    if label is not None and not save:
        raise UsageError("--label needs --save")
    term = st.terminal(tz)
    cfg = st.config()
    infos = {i.name: i for i in carriers.infos()}
    args = numbers or []
    stdin_text = _read_stdin() if "-" in args else None
    queries = inputs.parse_numbers(args, stdin_text, infos, carrier.lower() if carrier else None)
    store: Any = _store(required=True) if save else None
    cache = _cache(store)
    not_saved: StoreError | None = None
    out = sys.stdout
    answered: dict[int, service.Result] = {}
    legs = _JourneyLegs(store)

    def on_result(index: int, result: service.Result) -> None:
        answered[index] = result
        if mode == "jsonl":  # streamed: each shipment as soon as its answer is complete
            legs.annotate(result.shipments)
            out.write(render.json_lines(result.shipments))
            out.flush()

    # Lines streamed to a terminal would be torn by a progress display on the same screen.
    show_progress = not st.quiet and not (mode == "jsonl" and term.stdout_tty)
    try:
        with render.progress(term, enabled=show_progress, deadline=deadline) as bar:
            options = TrackOptions(refresh=refresh, save=save, wait=wait, on_answered=bar.advance)
            try:
                report = asyncio.run(
                    service.run(
                        queries,
                        cfg,
                        options,
                        timeout=st.timeout,
                        deadline=deadline,
                        cache=cache,
                        on_start=bar.start,
                        on_result=on_result,
                        on_retry=bar.retrying,
                    )
                )
            except KeyboardInterrupt:
                bar.stop()
                _print_partial(answered, mode, term, len(queries))
                raise
        if save:
            try:
                added = service.save(store, report, label)
            except StoreError as exc:
                not_saved = exc  # the answers are still shown, then the run fails (exit 5)
            else:
                say(f"watching {added} new shipment(s)" if added else "watch list updated")
        journeys = legs.annotate(report.shipments)
    finally:
        legs.close()
        cache.close()
        if store is not None:
            store.close()
    if mode == "json":
        out.write(render.json_document(report.shipments) + "\n")
    elif mode != "jsonl" and journeys:
        from waypost import render_journeys

        render_journeys.track(report.shipments, journeys, term, out, report.marks())
    elif mode != "jsonl":
        render.track(report.shipments, term, out, report.marks())
    out.flush()
    for hint in report.hints:
        say(f"hint: {hint}")
    if not_saved is not None:
        raise not_saved
    raise typer.Exit(report.exit_code)


class _JourneyLegs:
    """The watch list's journeys for ``track``: read only if a database exists; any store fault
    only costs the journey view."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.own = False

    def _open(self) -> Any:
        if self.store is None and not self.own:
            from waypost.paths import data_dir
            from waypost.store import DB_NAME, Store

            self.own = True
            if (data_dir() / DB_NAME).is_file():
                try:
                    self.store = Store.open(data_dir(), timeout=0)
                except StoreError:
                    self.store = None
        return self.store

    def annotate(self, shipments: list[Any]) -> dict[str, Any]:
        """Set ``journey`` on the shipments that are legs; the journeys by id."""
        store = self._open()
        if store is None:
            return {}
        from waypost import journeys

        try:
            return journeys.annotate(store, shipments)
        except StoreError:
            return {}

    def close(self) -> None:
        """Close the store if this opened it."""
        if self.own and self.store is not None:
            self.store.close()
            self.store = None


def _print_partial(answered: dict[int, Any], mode: str, term: "Terminal", total: int) -> None:
    """After Ctrl-C: what was answered so far, in input order (JSONL has streamed it already)."""
    from waypost import render

    shipments = [s for _, r in sorted(answered.items()) for s in r.shipments]
    if mode == "json":
        sys.stdout.write(render.json_document(shipments) + "\n")
    elif mode != "jsonl" and shipments:
        render.track(shipments, term, sys.stdout)
    sys.stdout.flush()
    say(f"waypost: note: {len(answered)} of {total} number(s) answered before the interrupt")
    err("waypost: interrupted")


def _read_stdin() -> str:
    if sys.stdin is None or sys.stdin.closed:
        raise UsageError("`-` given but standard input is closed")
    try:
        return sys.stdin.read()
    except UnicodeDecodeError as exc:
        raise UsageError(f"standard input is not UTF-8 text ({exc.reason})") from None


@app.command(
    epilog="Examples:\n\n"
    "  waypost watch --once\n\n"
    "  */30 * * * * waypost watch --once --notify 'ntfy://ntfy.sh/my-parcels'\n\n"
    "  waypost watch --interval 15m --exec 'notify-send waypost'"
)
def watch(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (for cron).")] = False,
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval",
            metavar="DURATION",
            help="Time between passes: 90s, 15m, 2h (default 30m).",
            show_default=False,
        ),
    ] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            metavar="URL",
            help="Apprise URL to notify per shipment with news (repeatable).",
            show_default=False,
        ),
    ] = None,
    exec_cmd: Annotated[
        str | None,
        typer.Option(
            "--exec",
            metavar="CMD",
            help="Run CMD per shipment with news: shipment JSON on stdin, WAYPOST_NUMBER, "
            "WAYPOST_CARRIER, WAYPOST_STATUS, WAYPOST_LABEL in a clean environment. No shell.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
    as_jsonl: JsonlOpt = False,
    lock_wait: Annotated[
        float,
        typer.Option(
            "--lock-wait",
            metavar="SECONDS",
            min=0,
            max=MAX_SECONDS,
            callback=_finite,
            help="How long to wait for another running watch before skipping this pass.",
        ),
    ] = 30.0,
    deadline: DeadlineOpt = None,
    tz: TzOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
    color: ColorOpt = None,
    debug: DebugOpt = False,
    version: VersionOpt = False,
) -> None:
    """Refresh the watch list and print only new events (nothing when nothing changed)."""
    from waypost import inputs
    from waypost.notify import Notifier
    from waypost.paths import data_dir

    st = _merge(config, timeout, no_color, verbose, quiet, color, debug)
    mode = _mode(as_json, as_jsonl)
    cfg = st.config()
    every = interval or str(cfg.watch.get("interval", "30m"))
    seconds = inputs.parse_duration(every)
    urls = notify if notify else list(cfg.watch.get("notify", []))
    notifier = Notifier.build(urls, exec_cmd if exec_cmd is not None else cfg.watch.get("exec"))
    term = st.terminal(tz)
    directory = data_dir()
    stop = _Stopper()
    code = 0
    if not once and term.stderr_tty:
        say(f"waypost: watching the list every {every}; news prints as it comes (Ctrl-C stops)")
    try:
        while True:
            code = _watch_pass(directory, lock_wait, term, cfg, notifier, mode, st, deadline, once)
            if once or stop.wait(seconds):
                break
    except KeyboardInterrupt:
        if not stop.event.is_set():
            raise
        say("waypost: watch stopped")
        code = 0
    raise typer.Exit(code)


def _watch_pass(
    directory: Path,
    lock_wait: float,
    term: "Terminal",
    cfg: "Config",
    notifier: Any,
    mode: str,
    st: State,
    deadline: float | None,
    once: bool,
) -> int:
    """One locked pass; in a loop, a failed pass is reported and the loop goes on."""
    from waypost import render
    from waypost import watch as watching

    try:
        with (
            watching.exclusive(directory, lock_wait),
            _store(required=True) as store,
            render.progress(term, enabled=not st.quiet, deadline=deadline) as bar,
        ):
            result = watching.run_pass(
                store,
                cfg,
                notifier,
                term=term,
                out=sys.stdout,
                mode=mode,
                timeout=st.timeout,
                deadline=deadline,
                warn=lambda problem: err(f"waypost: error: {problem}"),
                on_start=bar.start,
                on_answered=bar.advance,
                on_answers=bar.stop,
            )
    except WaypostError as exc:
        if once or exc.exit_code in (2, 3):
            raise
        err(f"waypost: error: {exc.message}")
        return exc.exit_code
    for line in result.failure_lines():
        err(line)
    for hint in result.hints:
        say(f"hint: {hint}")
    return result.exit_code


class _Stopper:
    """Sleeps between passes; SIGTERM ends the loop cleanly (Ctrl-C too, via KeyboardInterrupt)."""

    def __init__(self) -> None:
        import signal
        import threading

        self.event = threading.Event()
        signal.signal(signal.SIGTERM, self._term)

    def _term(self, *_: object) -> None:
        self.event.set()
        raise KeyboardInterrupt

    def wait(self, seconds: float) -> bool:
        """Sleep; True when asked to stop."""
        return self.event.wait(seconds)


@app.command(
    "list",
    epilog="Examples:\n\n  waypost list\n\n"
    "  waypost list --all --status delivered --json | jq '.watched[].number'",
)
def list_(
    show_all: Annotated[
        bool, typer.Option("--all", "-a", help="Include delivered and expired shipments.")
    ] = False,
    status: Annotated[
        str | None,
        typer.Option("--status", metavar="STATUS", help="Only this status.", show_default=False),
    ] = None,
    as_json: JsonOpt = False,
    as_jsonl: JsonlOpt = False,
    tz: TzOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
    color: ColorOpt = None,
    debug: DebugOpt = False,
    version: VersionOpt = False,
) -> None:
    """Show the watch list: status, last event, label and age."""
    from waypost import render
    from waypost.status import Status

    st = _merge(config, timeout, no_color, verbose, quiet, color, debug)
    mode = _mode(as_json, as_jsonl)
    if status is not None and status not in {s.value for s in Status}:
        raise UsageError(
            f"unknown status {status!r} (one of: {', '.join(s.value for s in Status)})"
        )
    with _store(required=True) as store:
        rows = store.watched(include_final=show_all or status is not None, status=status)
        times = store.first_event_times()
        from waypost import journeys

        marks = journeys.index(store)
        loaded = {j: journeys.load(store, j) for j in {m["id"] for m in marks.values()}}
    if loaded and mode == "text":
        from waypost import render_journeys

        rows = render_journeys.list_rows(rows, marks, loaded)
    render.watch_list(rows, st.terminal(tz), sys.stdout, mode, times, journeys=marks)


@app.command(
    epilog="Examples:\n\n  waypost remove 3676E4043665\n\n"
    "  waypost remove ils:3676E4043665 2542285634920880794\n\n"
    "  waypost remove --remote LS912989618CN"
)
def remove(
    numbers: Annotated[
        list[str],
        typer.Argument(metavar="NUMBER...", help="Watched numbers (or order ids) to forget."),
    ],
    remote: Annotated[
        bool,
        typer.Option(
            "--remote",
            help="Also delete them from the carrier's own account (TrackingMore keeps one).",
        ),
    ] = False,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
    color: ColorOpt = None,
    debug: DebugOpt = False,
    version: VersionOpt = False,
) -> None:
    """Remove shipments (and their events) from the watch list."""
    from waypost import carriers, inputs

    st = _merge(config, timeout, no_color, verbose, quiet, color, debug)
    infos = {i.name: i for i in carriers.infos()}
    queries = inputs.parse_numbers(numbers, None, infos)
    unknown: list[str] = []
    failed = 0
    with _store(required=True) as store:
        found = []
        for q in queries:
            rows = store.find(q.number, q.carrier)
            if rows:
                found.extend(rows)
            else:
                unknown.append(q.raw or q.number)
        keep = _remove_remote(found, st, store) if remote else set()
        failed = len(keep)
        going = list({r.id: r for r in found if r.id not in keep}.values())
        store.remove(going)
    for row in going:
        what = row.carrier + (f", order {row.order_id}" if row.order_id else "")
        what += f", label {row.label!r}" if row.label else ""
        say(f"removed {row.number} ({what}) from the watch list")
    for raw in unknown:
        err(f"waypost: error: not on the watch list: {raw}")
    raise typer.Exit(1 if unknown or failed else 0)


def _remove_remote(rows: list[Any], st: State, store: Any) -> set[int]:
    """Delete rows from carrier accounts; the ids whose remote deletion failed (kept locally)."""
    from waypost import carriers, service
    from waypost.inputs import Token, parse_token

    infos = {i.name: i for i in carriers.infos()}
    keep: set[int] = set()
    by_carrier: dict[str, list[Any]] = {}
    for row in rows:
        by_carrier.setdefault(row.carrier, []).append(row)
    for name, mine in by_carrier.items():
        if not service.supports(name, "remove"):
            say(f"{name} keeps no account of its own: removed from the watch list only")
            continue
        queries = [parse_token(Token(r.query, "watch list"), infos) for r in mine]
        answers = service.remove_remote(name, queries, st.config(), timeout=st.timeout, cache=store)
        for row, answer in zip(mine, answers, strict=True):
            shipment = answer.shipments[0]
            if answer.failure is not None:
                keep.add(row.id)
                err(f"waypost: error: {row.number}: not removed: {shipment.error}")
            else:
                say(f"{row.number}: {shipment.status_text}")
    return keep


@app.command(
    epilog="Examples:\n\n  waypost carriers\n\n"
    "  waypost carriers --detect LS912989618CN 1Z999AA10123456784\n\n"
    "  waypost carriers --json | jq '.carriers[] | select(.configured | not) | .name'"
)
def carriers(
    numbers: Annotated[
        list[str] | None,
        typer.Argument(metavar="[NUMBER...]", help="Numbers for --detect.", show_default=False),
    ] = None,
    detect: Annotated[
        bool, typer.Option("--detect", help="Show which carriers each NUMBER could be, and why.")
    ] = False,
    remote: Annotated[
        str | None,
        typer.Option(
            "--remote",
            metavar="CARRIER",
            help="List the courier codes CARRIER knows (trackingmore; cached a day).",
            show_default=False,
        ),
    ] = None,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            metavar="CODE",
            help="Language of --remote names (en, cn, ru...).",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        str | None,
        typer.Option(
            "--check",
            metavar="CARRIER",
            help="Make one real call: do the credentials work (pandapon: which signing recipe)?",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
    color: ColorOpt = None,
    debug: DebugOpt = False,
    version: VersionOpt = False,
) -> None:
    """List the carriers: coverage, credentials, batch size, rate limits, number patterns."""
    from waypost import carriers as registry
    from waypost import render

    st = _merge(config, timeout, no_color, verbose, quiet, color, debug)
    out = sys.stdout
    if check is not None:
        from waypost.imports import check_command

        raise typer.Exit(check_command(check, st.config(), st.timeout, _cache(), as_json, out))
    if detect or numbers:
        if not detect or not numbers:
            raise UsageError("use --detect NUMBER... to rank the carriers for numbers")
        from waypost import detect as detection
        from waypost.inputs import parse_numbers

        infos = {i.name: i for i in registry.infos()}
        cfg = st.config()
        results = []
        for q in parse_numbers(numbers, None, infos):
            ranked = detection.candidates(q.number, infos.values())
            top = detection.sure(ranked)
            targets = detection.targets(q.number, q.carrier, q.courier, infos.values())
            results.append(
                {
                    "number": q.number,
                    "given": (f"{q.carrier}/{q.courier}" if q.courier else q.carrier)
                    if q.carrier
                    else None,
                    "sure": top.carrier if top else None,
                    "asked": [
                        {"carrier": name, "courier": courier, "configured": cfg.configured(name)}
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
        if as_json:
            out.write(render.dumps({"detect": results}) + "\n")
        else:
            render.detection(results, out, _width(out))
        return
    cfg = st.config()
    if remote is not None:
        from waypost import service

        name = remote.lower()
        if name not in registry.names() or not service.supports(name, "couriers"):
            known = [n for n in registry.names() if service.supports(n, "couriers")]
            raise UsageError(f"--remote: {remote!r} has no courier list (try: {', '.join(known)})")
        cache = _cache()
        try:
            couriers = service.remote_couriers(
                name, cfg, lang=lang, timeout=st.timeout, cache=cache
            )
        finally:
            cache.close()
        if as_json:
            out.write(render.dumps({"carrier": name, "couriers": couriers}) + "\n")
        else:
            from waypost.safe import field

            out.writelines(f"{field(c.get('code'))}\t{field(c.get('name'))}\n" for c in couriers)
        return
    rows = [
        registry.describe(info, cfg.carrier(info.name), [s.key for s in cfg.missing(info.name)])
        for info in registry.infos()
    ]
    if as_json:
        out.write(render.dumps({"carriers": rows}) + "\n")
    else:
        render.carriers_overview(rows, out, _width(out))


@app.command(
    epilog="Examples:\n\n"
    "  waypost link 4318765290123 ils:3676E4043665 trackingmore:usps:9400111899223197428490\n\n"
    "  waypost link --undo 3676E4043665"
)
def link(
    numbers: Annotated[
        list[str],
        typer.Argument(
            metavar="NUMBER...",
            help="The legs in the order the parcel travels (as `track` takes them; saved if "
            "not watched yet); with --undo, legs whose journey to dissolve.",
        ),
    ],
    undo: Annotated[
        bool, typer.Option("--undo", help="Dissolve the journey of each NUMBER.")
    ] = False,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
    color: ColorOpt = None,
    debug: DebugOpt = False,
    version: VersionOpt = False,
) -> None:
    """Link watched shipments as the ordered legs of one journey (track and list show it whole)."""
    from waypost.journeys import link_command

    st = _merge(config, timeout, no_color, verbose, quiet, color, debug)
    with _store(required=True) as store:
        lines = link_command(numbers, undo, store, st.config(), timeout=st.timeout, say=say)
    from waypost import safe

    sys.stdout.writelines(safe.lines(line) + "\n" for line in lines)


@app.command(
    "import",
    epilog="Examples:\n\n  waypost import pandapon\n\n"
    "  waypost import pandapon --since 2w --platform 1688\n\n"
    "  waypost import pandapon --since 2026-11-01 --json | jq '.import.new[].order_id'",
)
def import_(
    carrier: Annotated[
        str, typer.Argument(metavar="CARRIER", help="Where to import from: pandapon.")
    ],
    since: Annotated[
        str,
        typer.Option(
            "--since",
            metavar="DURATION|DATE",
            help="Orders placed since: 30d, 2w, 12h, or 2026-11-01 (UTC).",
        ),
    ] = "30d",
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform", metavar="1688|taobao", help="Only this platform.", show_default=False
        ),
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(
            "--label",
            metavar="TEXT",
            help="Name every imported order (default: product title and shop).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
    color: ColorOpt = None,
    debug: DebugOpt = False,
    version: VersionOpt = False,
) -> None:
    """Add every order of an account in a window to the watch list (shipped or not)."""
    from waypost.imports import import_command

    st = _merge(config, timeout, no_color, verbose, quiet, color, debug)
    with _store(required=True) as store:
        code = import_command(
            carrier,
            store,
            st.config(),
            since=since,
            platform=platform,
            label=label,
            timeout=st.timeout,
            as_json=as_json,
            out=sys.stdout,
            warn=say,
        )
    raise typer.Exit(code)


@app.command(epilog="Example:\n\n  waypost schema > waypost.schema.json")
def schema(version: VersionOpt = False) -> None:
    """Print the JSON Schema of the `track --json` document (and of one `--jsonl` line)."""
    import json

    from waypost.models import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n")


@config_app.callback()
def config_root(
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
    color: ColorOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show and edit the configuration file."""
    _merge(config, timeout, no_color, verbose, quiet, color, debug)


def _path() -> Path:
    from waypost.paths import config_path

    return config_path(STATE.config_path)


@config_app.command("path", epilog='Example:\n\n  $EDITOR "$(waypost config path)"')
def config_path(config: ConfigOpt = None) -> None:
    """Print where the config file is (it may not exist yet)."""
    _merge(config, None, False, 0)
    sys.stdout.write(f"{_path()}\n")


@config_app.command(
    "show",
    epilog="Examples:\n\n  waypost config show\n\n  waypost config show --json | jq .carriers.ils",
)
def config_show(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Print the merged configuration, every secret masked."""
    from waypost import carriers as registry
    from waypost import render
    from waypost.config import mask, mask_urls

    st = _merge(config, None, False, 0)
    cfg = st.config()
    shown: dict[str, Any] = {"carriers": {}}
    lines = [f"# {cfg.path}" + ("" if cfg.exists else " (does not exist)")]

    def section(name: str, values: dict[str, Any], secret: Any) -> None:
        """One ``[name]`` table: every value with where it came from, secrets masked."""
        lines.append(f"\n[{name}]")
        for key, value in values.items():
            if secret(key, value):
                value = mask(str(value))
            source = cfg.sources.get(f"{name}.{key}", "")
            note = f"  # {source}" if source and source != "file" else ""
            lines.append(f"{key} = {render.dumps(value)}{note}")

    for info in registry.infos():
        values = cfg.carrier(info.name)
        secrets = {s.key for s in info.secrets}
        mine = {s.key: values[s.key] for s in info.settings if s.key in values}
        section(f"carriers.{info.name}", mine, lambda key, _v, keys=secrets: key in keys)
        shown["carriers"][info.name] = {
            k: mask(str(v)) if k in secrets else v for k, v in mine.items()
        }
    others = {"http": dict(cfg.http), "watch": mask_urls(dict(cfg.watch), st.secrets)}
    # Any other table of the file too (newer sections), values that look secret masked.
    others.update(
        {
            name: dict(values)
            for name, values in cfg.file_data.items()
            if name not in ("carriers", "http", "watch") and isinstance(values, dict)
        }
    )
    for name, values in others.items():
        section(name, values, _looks_secret)
        if not values:
            lines.append("# nothing set")
        shown[name] = {k: mask(str(v)) if _looks_secret(k, v) else v for k, v in values.items()}
    if as_json:
        sys.stdout.write(render.dumps(shown) + "\n")
    else:
        sys.stdout.write("\n".join(lines) + "\n")


def _looks_secret(key: str, value: Any) -> bool:
    """Keys of tables without declared secrets: key, secret, password, token, or a URL with a
    password in it."""
    import re

    if re.search(r"key|secret|pass|token|pdd", key, re.I):
        return True
    return isinstance(value, str) and bool(
        re.match(r"^[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]*@", value)
    )


@config_app.command(
    "set",
    epilog="Examples:\n\n  waypost config set carriers.ils.pdd          # prompts, input hidden\n\n"
    "  waypost config set carriers.ils.user_id 1\n\n  waypost config set watch.interval 15m",
)
def config_set(
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. carriers.ils.pdd.")],
    value: Annotated[
        str | None,
        typer.Argument(
            help="New value; omit it to be prompted (input hidden).", show_default=False
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Set one key; without VALUE, prompt for it with hidden input."""
    from waypost import config as cfg

    _merge(config, None, False, 0)
    path = _path()
    spec = cfg.known_keys().get(key)
    if spec is None:
        raise ConfigError(
            f"unknown key {key!r}", hint=cfg.unknown_key_hint(key, list(cfg.known_keys()))
        )
    secret = getattr(spec, "secret", False)
    if value is None:
        value = typer.prompt(key, hide_input=_can_hide())
    if secret:
        STATE.secrets.append(value)
    cfg.set_value(path, key, value)
    shown = cfg.mask(value) if secret else value
    say(f"set {key} = {shown} in {path}")


def _can_hide() -> bool:
    """Hidden input needs a terminal; piped answers are not echoed anyway."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


@config_app.command("unset", epilog="Example:\n\n  waypost config unset carriers.pandapon.rate")
def config_unset(
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. carriers.ils.pdd.")],
    config: ConfigOpt = None,
) -> None:
    """Remove one key from the file."""
    from waypost import config as cfg

    _merge(config, None, False, 0)
    path = _path()
    if cfg.unset_value(path, key):
        say(f"removed {key} from {path}")
    else:
        say(f"{key} was not set in {path}")


@config_app.command("init", epilog="Example:\n\n  waypost config init && waypost carriers")
def config_init(
    check: Annotated[
        bool | None,
        typer.Option(
            "--check/--no-check",
            help="Check the credentials with one real request per carrier (default: ask on "
            "a terminal).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Ask for each carrier's credentials (Enter skips; secrets are not echoed)."""
    from waypost import carriers as registry
    from waypost import config as cfg

    _merge(config, None, False, 0)
    path = _path()
    data: dict[str, Any] = {}
    if path.exists():
        data, _ = cfg.read_file(path)
    sections = data.get("carriers", {})
    answers: dict[str, dict[str, str]] = {}
    err(f"Configuring {path} (press Enter to skip or keep a value).")
    changed: list[str] = []
    for info in registry.infos():
        err(f"\n{info.title} ({info.name}): {info.coverage}")
        if info.credentials_from:
            err(f"  where to get them: {info.credentials_from}")
        current = sections.get(info.name, {})
        for s in info.credentials:
            old = current.get(s.key)
            shown = (cfg.mask(str(old)) if s.secret else str(old)) if old else ""
            label = f"  {s.key} ({s.help})" + (f" [{shown}]" if shown else "")
            hide = s.secret and _can_hide()
            answer = cfg.clean(typer.prompt(label, default="", show_default=False, hide_input=hide))
            if answer and s.secret:
                STATE.secrets.append(answer)
            if answer:
                answers.setdefault(info.name, {})[s.key] = answer
                changed.append(info.name)
        for s in (s for s in info.settings if s.choices):
            now = str(current.get(s.key) or s.default or s.choices[0])
            label = f"  {s.key} ({s.help}; {' or '.join(s.choices)}) [{now}]"
            while (answer := typer.prompt(label, default="", show_default=False).strip()) and (
                answer not in s.choices
            ):
                err(f"  {s.key} must be one of {', '.join(s.choices)}")
            if answer:
                answers.setdefault(info.name, {})[s.key] = answer

    def apply(fresh: dict[str, Any]) -> None:
        for name, values in answers.items():
            fresh.setdefault("carriers", {}).setdefault(name, {}).update(values)

    cfg.update(path, apply)
    err(f"\nsaved {path} (mode 600)")
    STATE._config = None
    ready = [n for n in dict.fromkeys(changed) if STATE.config().configured(n)]
    if not ready:
        return
    if check is None:
        check = _can_hide() and typer.confirm(
            f"Check {', '.join(ready)} now with one real request each?", default=True
        )
    if check:
        _check_credentials(ready)
    else:
        say("hint: check them any time with `waypost config init --check`")


def _check_credentials(names: list[str]) -> None:
    """One real request per carrier: its first documented example number."""
    import asyncio

    from waypost import carriers as registry
    from waypost import service
    from waypost.carriers.base import Query
    from waypost.errors import AuthError

    conf = STATE.config()
    for name in names:
        info = registry.info(name)
        if not info.patterns:
            continue
        example = info.patterns[0]
        query = Query(example.example, name, example.courier_for(example.example))
        try:
            report = asyncio.run(service.run([query], conf, timeout=STATE.timeout))
        except WaypostError as exc:
            err(f"  {name}: could not check: {exc.message}")
            continue
        failure = report.results[0].failure
        if isinstance(failure, AuthError):
            err(f"  {name}: credentials rejected: {failure.message}")
        elif failure is not None:
            err(f"  {name}: could not check ({failure.message}); the credentials are saved")
        else:
            err(f"  {name}: credentials accepted")


@app.command(
    epilog="Examples:\n\n"
    '  eval "$(waypost sandbox --detach)" && waypost track 3676E4043665\n\n'
    "  waypost sandbox --port 9000 --latency 80\n\n"
    "  waypost sandbox --faults '503@trackingmore:x2,hang@pandapon:0.5'"
)
def sandbox(
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="Port on 127.0.0.1 (default 8765; with --detach: any free port).",
            show_default=False,
        ),
    ] = None,
    latency: Annotated[
        float,
        typer.Option(
            "--latency", metavar="MS", min=0, help="Answer every request MS ms after it arrives."
        ),
    ] = 0.0,
    detach: Annotated[
        bool,
        typer.Option("--detach", help="Run in the background; print the variables and return."),
    ] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop a detached sandbox.")] = False,
    faults: Annotated[
        str | None,
        typer.Option(
            "--faults",
            metavar="SPEC",
            help="Misbehave on purpose: KIND[@CARRIER[/PATH]][:RATE|:xCOUNT],... with KIND one of "
            "500, 502, 503, 429, truncated, shape, empty, slow, hang.",
            show_default=False,
        ),
    ] = None,
    state_file: Annotated[Path | None, typer.Option("--state-file", hidden=True)] = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Serve a local emulation of every carrier API, with demo shipments.

    Prints `export WAYPOST_...` lines that point waypost at it: `eval "$(waypost sandbox
    --detach)"` starts it in the background and sets them in your shell.
    """
    from waypost.paths import data_dir
    from waypost.sandbox import Sandbox
    from waypost.sandbox import detach as bg

    _merge(None, None, False, verbose)
    if stop:
        stopped = bg.stop(data_dir())
        err("sandbox stopped" if stopped else "no detached sandbox is running")
        raise typer.Exit(0 if stopped else 1)
    from waypost.sandbox.faults import parse as parse_faults

    rules = parse_faults(faults or "")
    if detach:
        state = bg.running(data_dir())
        if state is not None:
            err(f"a sandbox already runs in the background on port {state['port']}: reusing it")
            err("(to change --port, --latency or --faults: waypost sandbox --stop first)")
            _print_env(state["env"])
            return
        state = bg.spawn(data_dir(), 0 if port is None else port, latency, faults or "")
        _print_env(state["env"])
        err(f"waypost sandbox running in the background on port {state['port']}")
        err("stop it with: waypost sandbox --stop")
        return
    try:
        port = 8765 if port is None else port
        box = Sandbox(port=port, latency_ms=latency)
        box.faults.set(rules)
        box.start()
    except OSError as exc:
        raise UsageError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", hint="pick another --port"
        ) from None
    err(f"waypost sandbox listening on {box.base_url} (Ctrl-C stops it)")
    _print_env(box.env())
    err("\nDemo numbers:")
    for app_ in box.apps.values():
        for number, what in app_.demo_numbers():
            err(f"  {app_.name}:{number}  {what}")
    if state_file is not None:
        box.token = bg.new_token()
        bg.write_state(state_file, box.port, box.env(), box.token)
        bg.release_stderr()
    import signal

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        box.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _print_env(env: dict[str, str]) -> None:
    import shlex

    for key, value in env.items():
        sys.stdout.write(f"export {key}={shlex.quote(value)}\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; the only place where errors become exit codes."""
    saved = sys.stdout, sys.stderr
    _streams()
    try:
        return _main(argv)
    except _PipeClosed:
        _quiet_stdout()
        return EXIT_PIPE
    finally:
        sys.stdout, sys.stderr = saved


def _main(argv: list[str] | None) -> int:
    STATE.__init__()  # type: ignore[misc]
    if "waypost.logs" in sys.modules:
        sys.modules["waypost.logs"].reset()
    STATE.debug = os.environ.get("WAYPOST_DEBUG", "") not in ("", "0")
    args = sys.argv[1:] if argv is None else argv
    # Rich help and error panels on a terminal; plain text (and no Rich import) otherwise.
    markup: Literal["rich"] | None = "rich" if _isatty(sys.stdout) else None
    app.rich_markup_mode = config_app.rich_markup_mode = markup
    target, prog, rest = _single(args, markup)
    try:
        code = target(args=rest, prog_name=prog, standalone_mode=False)
        return code if isinstance(code, int) else 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except typer.TyperException as exc:
        # The parser's own errors (Click, vendored by Typer), in the one error style.
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.stderr.write(exc.format_message() + "\n")
            return 2
        if ctx is not None:
            sys.stderr.write(ctx.get_usage() + "\n")
        err(f"waypost: error: {exc.format_message()}")
        if ctx is not None:
            err(f"hint: see `{ctx.command_path} --help`")
        return int(getattr(exc, "exit_code", 2))
    except typer.Abort:
        err("waypost: interrupted")
        return 130
    except WaypostError as exc:
        err(f"waypost: {'error' if exc.exit_code else 'note'}: {exc.message}")
        if exc.hint:
            err(f"hint: {exc.hint}")
        if STATE.debug:
            import traceback

            traceback.print_exc()
        return exc.exit_code
    except KeyboardInterrupt:
        err("waypost: interrupted")
        return 130
    except (BrokenPipeError, _PipeClosed):
        raise _PipeClosed from None
    except Exception as exc:
        if STATE.debug:
            import traceback

            traceback.print_exc()
        err(f"waypost: internal error: {type(exc).__name__}: {exc}")
        err("hint: this is a bug; run again with --debug for the traceback and report it")
        return 70
    return 0


def _single(args: list[str], markup: Literal["rich"] | None) -> tuple[typer.Typer, str, list[str]]:
    """When the first argument names a plain command, a Typer app of that command alone.

    Typer builds every command's parameters before it runs one; building only the one asked
    for keeps `waypost list` and friends quick. Anything else (root options first, `config`,
    `--help`) goes through the whole app.
    """
    name = args[0] if args else ""
    commands = {c.name or getattr(c.callback, "__name__", ""): c for c in app.registered_commands}
    info = commands.get(name) if name and not name.startswith("-") else None
    if info is None:
        return app, "waypost", args
    alone = typer.Typer(
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        rich_markup_mode=markup,
    )
    alone.registered_commands.append(info)
    return alone, f"waypost {name}", args[1:]


def _width(stream: Any) -> int | None:
    """The terminal width to wrap plain text at, or None when ``stream`` is not a terminal."""
    if not _isatty(stream):
        return None
    from waypost.render import terminal_width

    return terminal_width(os.environ, stream, sys.stderr)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# What a shell reports for a process killed by SIGPIPE (128 + 13), as `git log | head -1` does.
EXIT_PIPE = 141


class _PipeClosed(Exception):
    """The reader of standard output went away; not an OSError, so click does not catch it."""


def _escape(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: what the stream cannot encode becomes ``\\uXXXX`` (as JSON escapes it:
    a JSON document stays valid and exact, a table stays readable)."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    escaped = []
    for char in exc.object[exc.start : exc.end]:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            escaped.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            escaped.append(f"\\u{code:04x}")
    return "".join(escaped), exc.end


class _Output:
    """Standard output of a run: a closed pipe or a failed write is an error click passes on."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        """Write, or raise _PipeClosed / OutputError."""
        if self._stream is None:
            raise _closed()
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            raise _PipeClosed from None
        except (OSError, ValueError) as exc:
            raise _failed(exc) from None

    def writelines(self, lines: Any) -> None:
        """Write each line."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush, or raise _PipeClosed / OutputError."""
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise _PipeClosed from None
        except (OSError, ValueError) as exc:
            raise _failed(exc) from None

    def isatty(self) -> bool:
        """True on a terminal."""
        return self._stream is not None and _isatty(self._stream)

    def fileno(self) -> int:
        """The file descriptor (none when standard output was closed)."""
        if self._stream is None:
            import io

            raise io.UnsupportedOperation("standard output is closed")
        return int(self._stream.fileno())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _closed() -> WaypostError:
    from waypost.errors import OutputError

    return OutputError(
        "cannot write the output: standard output is closed",
        hint="run waypost with its output going somewhere (a file, a pipe, /dev/null)",
    )


def _failed(exc: OSError | ValueError) -> WaypostError:
    from waypost.errors import OutputError

    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return OutputError(f"cannot write the output to standard output: {reason}")


def _streams() -> None:
    """Make the standard streams safe for any text and any state (closed, a full disk)."""
    import codecs
    import contextlib

    stdout_closed = sys.stdout is None
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            # A closed standard descriptor would be reused by the next file opened (the
            # database, a lock): /dev/null holds its place.
            with contextlib.suppress(OSError):
                os.open(os.devnull, os.O_RDWR)
            stdout_closed = stdout_closed or fd == 1
    codecs.register_error("waypost.escape", _escape)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="waypost.escape")  # type: ignore[union-attr]
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the whole run)
    sys.stdout = _Output(None if stdout_closed else sys.stdout)
