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
from waypost.errors import ConfigError, UsageError, WaypostError

if TYPE_CHECKING:
    from waypost.config import Config
    from waypost.render import Terminal

HELP = """Track parcels from the terminal: ILS, TrackingMore and PandaPon (1688/Taobao).

Numbers may carry a carrier prefix (ils:3676E4043665, trackingmore:usps:9400...,
pandapon:2542285634920880794); `-` reads numbers from stdin. Exit codes: 0 all answered,
1 some failed, 2 usage error, 3 config or credentials error, 4 nothing could be answered."""

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
                err(f"warning: {warning}")
        return self._config

    def terminal(self, tz: str | None = None) -> "Terminal":
        """The output environment of this run."""
        from waypost.render import Terminal

        return Terminal.detect(no_color=self.no_color, tz=_zone(tz) if tz else None)


STATE = State()
# Shorter values are not secrets worth masking, and masking them would garble every message.
MIN_SECRET = 4


def err(message: str) -> None:
    """One line to stderr, secrets masked."""
    sys.stderr.write(_redact(message) + "\n")


def _redact(text: str) -> str:
    for secret in STATE.secrets:
        if len(secret) >= MIN_SECRET:
            text = text.replace(secret, "****")
    return text


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from None


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"waypost {__version__}\n")
        raise typer.Exit(0)


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
VersionOpt = Annotated[
    bool,
    typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
]


def _merge(config: Path | None, timeout: float | None, no_color: bool, verbose: int) -> State:
    if config is not None:
        STATE.config_path = config
        STATE._config = None
    if timeout is not None:
        STATE.timeout = timeout
    STATE.no_color = STATE.no_color or no_color
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
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
    version: VersionOpt = False,
) -> None:
    """Track parcels from the terminal."""
    STATE.debug = STATE.debug or debug
    _merge(config, timeout, no_color, verbose)


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
        help="Give up on whatever is still unanswered after this long.",
        show_default=False,
    ),
]


def _mode(as_json: bool, as_jsonl: bool) -> str:
    if as_json and as_jsonl:
        raise UsageError("--json and --jsonl cannot be combined")
    return "json" if as_json else "jsonl" if as_jsonl else "text"


def _store(required: bool) -> Any:
    """The SQLite store; without ``required``, a broken store only costs the caches."""
    from waypost.errors import StoreError
    from waypost.paths import data_dir
    from waypost.store import Store

    try:
        return Store.open(data_dir())
    except StoreError as exc:
        if required:
            raise
        err(f"warning: {exc.message}; going on without the cache")
        return None


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
    version: VersionOpt = False,
) -> None:
    """Look up tracking numbers now and print their timelines."""
    import asyncio

    from waypost import carriers, inputs, render, service
    from waypost.carriers.base import TrackOptions

    st = _merge(config, timeout, no_color, verbose)
    mode = _mode(as_json, as_jsonl)
    if label is not None and not save:
        raise UsageError("--label needs --save")
    term = st.terminal(tz)
    cfg = st.config()
    infos = {i.name: i for i in carriers.infos()}
    args = numbers or []
    stdin_text = _read_stdin() if "-" in args else None
    queries = inputs.parse_numbers(args, stdin_text, infos, carrier.lower() if carrier else None)
    store = _store(required=save)
    try:
        with render.progress(term, enabled=len(queries) > 5) as bar:
            options = TrackOptions(refresh=refresh, save=save, wait=wait, on_answered=bar.advance)
            report = asyncio.run(
                service.run(
                    queries,
                    cfg,
                    options,
                    timeout=st.timeout,
                    deadline=deadline,
                    cache=store,
                    on_start=bar.start,
                )
            )
        if save:
            added = service.save(store, report, label)
            err(f"watching {added} new shipment(s)" if added else "watch list updated")
    finally:
        if store is not None:
            store.close()
    out = sys.stdout
    if mode == "json":
        out.write(render.json_document(report.shipments) + "\n")
    elif mode == "jsonl":
        out.write(render.json_lines(report.shipments))
    else:
        render.track(report.shipments, term, out, report.marks())
    out.flush()
    for hint in report.hints:
        err(f"hint: {hint}")
    raise typer.Exit(report.exit_code)


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
            "WAYPOST_CARRIER, WAYPOST_STATUS in the environment. No shell.",
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
            help="How long to wait for another running watch before skipping this pass.",
        ),
    ] = 30.0,
    deadline: DeadlineOpt = None,
    tz: TzOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
    version: VersionOpt = False,
) -> None:
    """Refresh the watch list and print only new events (nothing when nothing changed)."""
    from waypost import inputs
    from waypost.notify import Notifier
    from waypost.paths import data_dir

    st = _merge(config, timeout, no_color, verbose)
    mode = _mode(as_json, as_jsonl)
    cfg = st.config()
    seconds = inputs.parse_duration(interval or str(cfg.watch.get("interval", "30m")))
    urls = notify if notify else list(cfg.watch.get("notify", []))
    notifier = Notifier.build(urls, exec_cmd if exec_cmd is not None else cfg.watch.get("exec"))
    term = st.terminal(tz)
    directory = data_dir()
    stop = _Stopper()
    code = 0
    try:
        while True:
            code = _watch_pass(directory, lock_wait, term, cfg, notifier, mode, st, deadline, once)
            if once or stop.wait(seconds):
                break
    except KeyboardInterrupt:
        if not stop.event.is_set():
            raise
        err("waypost: watch stopped")
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
            render.progress(term, enabled=True) as bar,
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
                warn=err,
                on_start=bar.start,
                on_answered=bar.advance,
                on_answers=bar.stop,
            )
    except WaypostError as exc:
        if once or exc.exit_code in (2, 3):
            raise
        err(f"waypost: error: {exc.message}")
        return exc.exit_code
    for hint in result.hints:
        err(f"hint: {hint}")
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
    version: VersionOpt = False,
) -> None:
    """Show the watch list: status, last event, label and age."""
    from waypost import render
    from waypost.status import Status

    st = _merge(config, timeout, no_color, verbose)
    mode = _mode(as_json, as_jsonl)
    if status is not None and status not in {s.value for s in Status}:
        raise UsageError(
            f"unknown status {status!r} (one of: {', '.join(s.value for s in Status)})"
        )
    with _store(required=True) as store:
        rows = store.watched(include_final=show_all or status is not None, status=status)
    render.watch_list(rows, st.terminal(tz), sys.stdout, mode)


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
    version: VersionOpt = False,
) -> None:
    """Remove shipments (and their events) from the watch list."""
    from waypost import carriers, inputs

    st = _merge(config, timeout, no_color, verbose)
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
        removed = store.remove([r for r in found if r.id not in keep])
    err(f"removed {removed} shipment(s) from the watch list")
    for raw in unknown:
        err(f"not on the watch list: {raw}")
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
            err(f"{name} keeps no account of its own: removed from the watch list only")
            continue
        queries = [parse_token(Token(r.query, "watch list"), infos) for r in mine]
        answers = service.remove_remote(name, queries, st.config(), timeout=st.timeout, cache=store)
        for row, answer in zip(mine, answers, strict=True):
            shipment = answer.shipments[0]
            if answer.failure is not None:
                keep.add(row.id)
                err(f"{row.number}: not removed: {shipment.error}")
            else:
                err(f"{row.number}: {shipment.status_text}")
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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
    version: VersionOpt = False,
) -> None:
    """List the carriers: coverage, credentials, batch size, rate limits, number patterns."""
    from waypost import carriers as registry
    from waypost import render

    st = _merge(config, timeout, no_color, verbose)
    out = sys.stdout
    if detect or numbers:
        if not detect or not numbers:
            raise UsageError("use --detect NUMBER... to rank the carriers for numbers")
        from waypost import detect as detection
        from waypost.inputs import parse_numbers

        infos = {i.name: i for i in registry.infos()}
        results = []
        for q in parse_numbers(numbers, None, infos):
            ranked = detection.candidates(q.number, infos.values())
            top = detection.sure(ranked)
            results.append(
                {
                    "number": q.number,
                    "sure": top.carrier if top else None,
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
            render.detection(results, out)
        return
    cfg = st.config()
    if remote is not None:
        from waypost import service

        name = remote.lower()
        if name not in registry.names() or not service.supports(name, "couriers"):
            known = [n for n in registry.names() if service.supports(n, "couriers")]
            raise UsageError(f"--remote: {remote!r} has no courier list (try: {', '.join(known)})")
        with _store(required=False) as store:
            couriers = service.remote_couriers(
                name, cfg, lang=lang, timeout=st.timeout, cache=store
            )
        if as_json:
            out.write(render.dumps({"carrier": name, "couriers": couriers}) + "\n")
        else:
            out.writelines(f"{c.get('code', '')}\t{c.get('name', '')}\n" for c in couriers)
        return
    rows = [
        registry.describe(info, cfg.carrier(info.name), [s.key for s in cfg.missing(info.name)])
        for info in registry.infos()
    ]
    if as_json:
        out.write(render.dumps({"carriers": rows}) + "\n")
    else:
        render.carriers_overview(rows, out)


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
) -> None:
    """Show and edit the configuration file."""
    _merge(config, timeout, no_color, verbose)


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
    from waypost.config import mask

    st = _merge(config, None, False, 0)
    cfg = st.config()
    shown: dict[str, Any] = {"carriers": {}, "watch": dict(cfg.watch)}
    lines = [f"# {cfg.path}" + ("" if cfg.exists else " (does not exist)")]
    for info in registry.infos():
        values = cfg.carrier(info.name)
        section: dict[str, Any] = {}
        lines.append(f"\n[carriers.{info.name}]")
        for s in info.settings:
            if s.key not in values:
                continue
            value = values[s.key]
            value = mask(str(value)) if s.secret else value
            section[s.key] = value
            source = cfg.sources.get(f"carriers.{info.name}.{s.key}", "")
            note = f"  # {source}" if source and source != "file" else ""
            lines.append(f"{s.key} = {render.dumps(value)}{note}")
        shown["carriers"][info.name] = section
    if cfg.watch:
        lines.append("\n[watch]")
        lines.extend(f"{k} = {render.dumps(v)}" for k, v in cfg.watch.items())
    if as_json:
        sys.stdout.write(render.dumps(shown) + "\n")
    else:
        sys.stdout.write("\n".join(lines) + "\n")


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
        raise ConfigError(f"unknown key {key!r}", hint="known keys: " + ", ".join(cfg.known_keys()))
    secret = getattr(spec, "secret", False)
    if value is None:
        value = typer.prompt(key, hide_input=_can_hide())
    if secret:
        STATE.secrets.append(value)
    cfg.set_value(path, key, value)
    shown = cfg.mask(value) if secret else value
    err(f"set {key} = {shown} in {path}")


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
        err(f"removed {key} from {path}")
    else:
        err(f"{key} was not set in {path}")


@config_app.command("init", epilog="Example:\n\n  waypost config init && waypost carriers")
def config_init(config: ConfigOpt = None) -> None:
    """Ask for each carrier's credentials (Enter skips; secrets are not echoed)."""
    from waypost import carriers as registry
    from waypost import config as cfg

    _merge(config, None, False, 0)
    path = _path()
    data: dict[str, Any] = {}
    if path.exists():
        data, _ = cfg.read_file(path)
    sections = data.setdefault("carriers", {})
    err(f"Configuring {path} (press Enter to skip or keep a value).")
    for info in registry.infos():
        err(f"\n{info.title} ({info.name}): {info.coverage}")
        current = sections.get(info.name, {})
        for s in info.credentials:
            old = current.get(s.key)
            shown = (cfg.mask(str(old)) if s.secret else str(old)) if old else ""
            label = f"  {s.key} ({s.help})" + (f" [{shown}]" if shown else "")
            hide = s.secret and _can_hide()
            answer = typer.prompt(label, default="", show_default=False, hide_input=hide).strip()
            if answer and s.secret:
                STATE.secrets.append(answer)
            if answer:
                sections.setdefault(info.name, {})[s.key] = answer
        for s in (s for s in info.settings if s.choices):
            now = str(current.get(s.key) or s.default or s.choices[0])
            label = f"  {s.key} ({s.help}; {' or '.join(s.choices)}) [{now}]"
            while (answer := typer.prompt(label, default="", show_default=False).strip()) and (
                answer not in s.choices
            ):
                err(f"  {s.key} must be one of {', '.join(s.choices)}")
            if answer:
                sections.setdefault(info.name, {})[s.key] = answer
    if not sections:
        del data["carriers"]
    cfg.validate(data, path)
    cfg.write_atomic(path, data)
    err(f"\nsaved {path} (mode 600)")


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
    if state_file is not None:
        bg.write_state(state_file, box.port, box.env())
    err(f"waypost sandbox listening on {box.base_url} (Ctrl-C stops it)")
    _print_env(box.env())
    err("\nDemo numbers:")
    for app_ in box.apps.values():
        for number, what in app_.demo_numbers():
            err(f"  {app_.name}:{number}  {what}")
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
        target(args=rest, prog_name=prog, standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
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
    except BrokenPipeError:
        _quiet_stdout()
        return 0
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
