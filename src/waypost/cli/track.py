"""``track`` and ``watch``: look numbers up now, or keep refreshing the watch list.

Both parse options, hand the work to ``service``/``watch`` and the output to ``render``
(SPEC.md, "track" and "watch").
"""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from waypost.cli.env import Env
from waypost.cli.options import (
    MAX_SECONDS,
    DeadlineOpt,
    JsonlOpt,
    JsonOpt,
    TzOpt,
    finite,
    global_options,
    output_format,
)
from waypost.errors import StoreError, UsageError, WaypostError, carrier_said

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from waypost import service
    from waypost.carriers.base import Query, TrackOptions
    from waypost.errors import CarrierError
    from waypost.render import Format, Terminal

commands = typer.Typer()


@commands.command(
    epilog="Examples:\n\n"
    "  waypost track 3676E4043665 trackingmore:usps:9400111899223197428490\n\n"
    "  waypost track --json LS912989618CN | jq -r '.shipments[] | .status'\n\n"
    "  cut -f1 orders.tsv | waypost track --save --label march -"
)
@global_options
def track(
    ctx: typer.Context,
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
) -> None:
    """Look up tracking numbers now and print their timelines."""
    from waypost import carriers, inputs, render
    from waypost.render import Format

    env = Env.of(ctx)
    fmt = output_format(as_json, as_jsonl, env.stdout_tty)
    if label is not None and not save:
        raise UsageError("--label needs --save")
    from waypost.safe import argument

    label = argument(label)
    term = env.terminal(tz)
    cfg = env.config()
    infos = {i.name: i for i in carriers.infos()}
    args = numbers or []
    stdin_text = env.read_stdin() if "-" in args else None
    queries = inputs.parse_numbers(args, stdin_text, infos, carrier.lower() if carrier else None)
    # Lines streamed to a terminal would be torn by a progress display on the same screen.
    show_progress = not env.quiet and not (fmt is Format.JSONL and term.stdout_tty)
    handover = None
    if not save and deadline is None:
        from waypost import quick

        if quick.enabled():
            lean = quick.track(env, cfg, queries, fmt, term, show_progress)
            if isinstance(lean, int):
                raise typer.Exit(lean)
            handover = lean
    from waypost import service
    from waypost.carriers.base import TrackOptions
    from waypost.cli import watchlist

    printed = handover.printed if handover is not None else set()
    store: Any = env.store(required=True) if save else None
    cache = env.cache(store)
    not_saved: StoreError | None = None
    out = env.stdout
    answered: dict[int, service.Result | None] = {}
    mark = watchlist.insights_marker(cfg, store)
    trackingmore = service.plan(queries, cfg).by_carrier.get("trackingmore", [])
    watchlist.quota_warning(env, cfg, len(trackingmore), cache)
    from waypost.cli.journeys import JourneyLegs

    legs = JourneyLegs(store, cfg)
    failed = _Failures()

    def on_result(index: int, result: service.Result) -> None:
        mark(result.shipments)
        failed.add(result)
        # JSONL keeps no answer: each is streamed as soon as it is complete, then dropped.
        answered[index] = None if fmt is Format.JSONL else result
        if fmt is Format.JSONL and index not in printed:  # the lean path printed it already
            legs.annotate(result.shipments)
            render.shipments(result.shipments, fmt, term, out)
            out.flush()

    try:
        with render.progress(term, enabled=show_progress, deadline=deadline) as bar:
            options = TrackOptions(refresh=refresh, save=save, wait=wait, on_answered=bar.advance)
            try:
                if save:
                    report, code, added, not_saved = _save_in_batches(
                        env, queries, options, store, label, fmt, bar, cache, deadline, on_result
                    )
                else:
                    report = service.run_blocking(
                        queries,
                        cfg,
                        options,
                        timeout=env.timeout,
                        deadline=deadline,
                        cache=cache,
                        on_start=bar.start,
                        on_result=on_result,
                        on_retry=bar.retrying,
                        transport=None if handover is None else handover.transport(),
                    )
                    mark(report.shipments)
                    code = report.exit_code
            except KeyboardInterrupt:
                bar.stop()
                _print_partial(env, answered, fmt, term, len(queries))
                raise
        if save and not_saved is None:
            env.say(f"watching {added} new shipment(s)" if added else "watch list updated")
        journeys = legs.annotate(report.shipments) if fmt is not Format.JSONL else {}
    finally:
        legs.close()
        cache.close()
        if store is not None:
            store.close()
    if journeys and fmt.human:
        from waypost import render_journeys

        marks = render.marks(report.results)
        render_journeys.track(report.shipments, journeys, term, out, marks)
    elif fmt is not Format.JSONL:  # JSONL has streamed every shipment already
        render.shipments(report.shipments, fmt, term, out, render.marks(report.results))
    out.flush()
    failed.report(env)
    for hint in report.hints:
        env.say(f"hint: {hint}")
    if not_saved is not None:
        raise not_saved
    raise typer.Exit(code)


class _Failures:
    """Per carrier, the first reason it could not answer a number and how many it failed."""

    def __init__(self) -> None:
        self.first: dict[str, tuple[CarrierError, int]] = {}

    def add(self, result: "service.Result") -> None:
        """Count the carriers that failed one answered query (none when it was answered)."""
        if result.failure is None:
            return
        for name, err in {
            s.carrier: s.failure
            for a in result.answers
            for s in a.shipments
            if s.failure is not None
        }.items():
            first, count = self.first.get(name, (err, 0))
            self.first[name] = (first, count + 1)

    def report(self, env: Env) -> None:
        """One ``waypost: error: CARRIER: reason`` line per failing carrier (never hidden)."""
        for name, (err, count) in self.first.items():
            message = carrier_said(name, err)
            many = f"; {count} numbers not answered" if count > 1 else ""
            env.err(f"waypost: error: {message}{many}")
            if err.hint:
                env.say(f"hint: {err.hint}")


# Numbers looked up and saved at a time by ``track --save``: memory stays that of one batch.
SAVE_BATCH = 2000


def _save_in_batches(
    env: Env,
    queries: "Sequence[Query]",
    options: "TrackOptions",
    store: Any,
    label: str | None,
    fmt: "Format",
    bar: Any,
    cache: Any,
    deadline: float | None,
    on_result: "Callable[[int, service.Result], None]",
) -> "tuple[service.Report, int, int, StoreError | None]":
    """Look up and save ``queries`` ``SAVE_BATCH`` at a time in one session: (the report to
    print (no results for JSONL, which streamed them), exit code, shipments added, the store
    fault that stopped saving)."""
    from waypost import service
    from waypost.render import Format

    kept: list[service.Result] = []
    hints: list[str] = []
    tally = service.Tally()
    added = 0
    not_saved: StoreError | None = None

    def on_report(_: object, part: service.Report) -> None:
        nonlocal added, not_saved
        tally.add(part)
        hints.extend(h for h in part.hints if h not in hints)
        if fmt is not Format.JSONL:
            kept.extend(part.results)
        if not_saved is None:
            try:
                added += service.save(store, part, label)
            except StoreError as exc:
                not_saved = exc  # the answers are still shown, then the run fails (exit 5)

    def restart(totals: dict[str, int]) -> None:
        bar.stop()
        bar.start(totals)

    service.run_batches(
        ((queries[i : i + SAVE_BATCH], options) for i in range(0, len(queries), SAVE_BATCH)),
        env.config(),
        on_report,
        timeout=env.timeout,
        deadline=deadline,
        cache=cache,
        on_start=restart,
        on_result=on_result,
        on_retry=bar.retrying,
    )
    return service.Report(kept, hints), tally.exit_code, added, not_saved


def _print_partial(
    env: Env, answered: dict[int, Any], fmt: "Format", term: "Terminal", total: int
) -> None:
    """After Ctrl-C: what was answered so far, in input order (JSONL has streamed it already)."""
    from waypost import render
    from waypost.render import Format

    shipments = [s for _, r in sorted(answered.items()) if r is not None for s in r.shipments]
    if fmt is Format.JSON or (fmt is not Format.JSONL and shipments):
        render.shipments(shipments, fmt, term, env.stdout)
    env.stdout.flush()
    env.say(f"waypost: note: {len(answered)} of {total} number(s) answered before the interrupt")


@commands.command(
    epilog="Examples:\n\n"
    "  waypost watch --once\n\n"
    "  */30 * * * * waypost watch --once --notify 'ntfy://ntfy.sh/my-parcels'\n\n"
    "  waypost watch --interval 15m --exec 'notify-send waypost'\n\n"
    "  waypost watch --once --on delivered,exception,stalled,eta"
)
@global_options
def watch(
    ctx: typer.Context,
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
        list[str] | None,
        typer.Option(
            "--exec",
            metavar="CMD",
            help="Run CMD per shipment with news: shipment JSON on stdin, WAYPOST_NUMBER, "
            "WAYPOST_CARRIER, WAYPOST_STATUS, WAYPOST_LABEL in a clean environment. No shell.",
            show_default=False,
        ),
    ] = None,
    on: Annotated[
        list[str] | None,
        typer.Option(
            "--on",
            metavar="STATUS[,STATUS...]",
            help="Report only shipments entering these statuses; also `stalled`, `eta` "
            "(default: all news).",
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
            callback=finite,
            help="How long to wait for another running watch before skipping this pass.",
        ),
    ] = 30.0,
    deadline: DeadlineOpt = None,
    tz: TzOpt = None,
) -> None:
    """Refresh the watch list and print only new events (nothing when nothing changed)."""
    from waypost import inputs, render
    from waypost import watch as watching
    from waypost.cli import watchlist
    from waypost.notify import Notifier

    env = Env.of(ctx)
    fmt = output_format(as_json, as_jsonl, env.stdout_tty)
    cfg = env.config()
    every = interval or str(cfg.watch.get("interval", "30m"))
    seconds = inputs.parse_duration(every)
    urls = notify if notify else list(cfg.watch.get("notify", []))
    if exec_cmd and len(exec_cmd) > 1:
        # Taken as a list only to see a repeat: one hook per shipment, never silently the last.
        raise UsageError(
            f"--exec takes one command, given {len(exec_cmd)} times",
            hint="run one script that calls each of them",
        )
    notifier = Notifier.build(urls, exec_cmd[0] if exec_cmd else cfg.watch.get("exec"))
    from waypost.insights import parse_on

    wanted = parse_on(on) if on else parse_on(cfg.watch.get("on", []), source="watch.on")
    term = env.terminal(tz)

    def warn(problem: str) -> None:
        env.err(f"waypost: error: {problem}")

    def one_pass() -> "watching.PassReport":
        with (
            env.store(required=True) as store,
            store.pass_lock(lock_wait),  # SQLite: the lock file; PostgreSQL: the hosts' pass
            render.progress(term, enabled=not env.quiet, deadline=deadline) as bar,
        ):
            tm = store.count(include_final=False, carrier="trackingmore")
            if tm:
                watchlist.refresh_quota(env, cfg, store)
            watchlist.quota_warning(env, cfg, tm, store.cache)
            result = watching.run_pass(
                store,
                cfg,
                notifier,
                sink=render.NewsWriter(fmt, term, env.stdout, warn, env.stderr),
                timeout=env.timeout,
                deadline=deadline,
                warn=warn,
                on_start=bar.start,
                on_answered=bar.advance,
                on_answers=bar.stop,
                on=wanted,
            )
        for line in result.failure_lines():
            env.err(line)
        for hint in result.hints:
            env.say(f"hint: {hint}")
        return result

    if not once and term.stderr_tty:
        env.say(f"waypost: watching the list every {every}; news prints as it comes (Ctrl-C stops)")
    last = watching.loop(
        one_pass,
        seconds=seconds,
        once=once,
        on_failure=lambda exc: _tell_pass_failure(env, exc),
    )
    if last is None:
        env.say("waypost: watch stopped")
    raise typer.Exit(0 if last is None else last.exit_code)


def _tell_pass_failure(env: Env, exc: WaypostError) -> None:
    """A pass of the loop that failed: an error, or (exit 0: another watch holds the lock) a
    note that ``-q`` keeps quiet, as ``main()`` tells them."""
    if exc.exit_code:
        env.err(f"waypost: error: {exc.message}")
    else:
        env.say(f"waypost: note: {exc.message}")
