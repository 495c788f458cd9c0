"""``list``, ``remove``, ``carriers`` and ``schema``: the watch list and what waypost knows.

SPEC.md, "list", "remove", "carriers" and "schema"; documents are built in ``render``
(``render_plain``: the piped list and ``carriers``).
"""

from typing import Annotated, Any

import typer

from waypost.cli.env import Env
from waypost.cli.options import (
    JsonlOpt,
    JsonOpt,
    TzOpt,
    global_options,
    output_format,
)
from waypost.errors import UsageError

commands = typer.Typer()


@commands.command(
    "list",
    epilog="Examples:\n\n  waypost list\n\n"
    "  waypost list --all --status delivered --json | jq '.watched[].number'\n\n"
    "  waypost list --stalled; waypost list --summary; waypost list --archived",
)
@global_options
def list_(
    ctx: typer.Context,
    show_all: Annotated[
        bool, typer.Option("--all", "-a", help="Include delivered and expired shipments.")
    ] = False,
    status: Annotated[
        str | None,
        typer.Option("--status", metavar="STATUS", help="Only this status.", show_default=False),
    ] = None,
    stalled: Annotated[
        bool, typer.Option("--stalled", help="Only shipments with no news for too long.")
    ] = False,
    archived: Annotated[
        bool, typer.Option("--archived", help="Only archived shipments (`waypost archive`).")
    ] = False,
    summary: Annotated[
        bool,
        typer.Option("--summary", help="Counts per status, stalled and archived, not the rows."),
    ] = False,
    as_json: JsonOpt = False,
    as_jsonl: JsonlOpt = False,
    tz: TzOpt = None,
) -> None:
    """Show the watch list: status, last event, label and age."""
    from waypost.status import Status

    env = Env.of(ctx)
    # Piped: TSV, written by ``render_plain`` without loading ``render`` (start-up).
    tsv = not (as_json or as_jsonl or summary or env.stdout_tty)
    fmt = None if tsv else output_format(as_json, as_jsonl, env.stdout_tty)
    if status is not None and status not in {s.value for s in Status}:
        raise UsageError(
            f"unknown status {status!r} (one of: {', '.join(s.value for s in Status)})"
        )
    from waypost import insights

    cfg = insights.light_settings(env.config_path) or env.config()
    with env.store(required=True) as store:
        facts = insights.RowFacts(cfg, store.deliveries, insights.clock())
        if summary:
            from waypost import render

            assert fmt is not None
            shelved = sum(1 for _ in store.listed(archived=True))
            counts = insights.summary(store.listed(), facts.stalled, shelved)
            render.watch_summary(counts, env.stdout, fmt)
            return
        listed = store.listed(
            include_final=show_all or status is not None or archived or stalled,
            status=status,
            archived=archived,
            # TSV reads only the first fields (``--stalled`` also the last event's time).
            brief=fmt is None and not stalled,
        )
        if stalled:
            listed = (r for r in listed if facts.stalled(r))
        from waypost import render_journeys

        if fmt is None:
            # TSV shows no ETA nor stalled mark: it reads no facts at all.
            from waypost.cli.env import zone
            from waypost.render_plain import list_tsv, wants_color

            rows = render_journeys.list_rows(listed, store)
            colored = wants_color(env.color, env.no_color, False, env.environ)
            list_tsv(rows, env.now, zone(tz) if tz else None, env.stdout, color=colored)
            return
        from waypost import render

        if fmt.human:
            listed = render_journeys.list_rows(listed, store)
        render.watch_list(
            listed,
            env.terminal(tz),
            env.stdout,
            fmt,
            lambda r: facts.of(r, r.first_event_time),
            journey=None if fmt.human else render_journeys.journey_field(store),
        )


@commands.command(
    epilog="Examples:\n\n  waypost remove 3676E4043665\n\n"
    "  waypost remove ils:3676E4043665 2542285634920880794\n\n"
    "  waypost remove --remote LS912989618CN"
)
@global_options
def remove(
    ctx: typer.Context,
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
) -> None:
    """Remove shipments (and their events) from the watch list."""
    from waypost import carriers, inputs

    env = Env.of(ctx)
    infos = {i.name: i for i in carriers.infos()}
    queries = inputs.parse_numbers(numbers, None, infos)
    unknown: list[str] = []
    failed = 0
    with env.store(required=True) as store:
        found = []
        for q in queries:
            rows = store.find(q.number, q.carrier)
            if rows:
                found.extend(rows)
            else:
                unknown.append(q.raw or q.number)
        keep = _remove_remote(env, found, store) if remote else set()
        failed = len(keep)
        going = list({r.id: r for r in found if r.id not in keep}.values())
        store.remove(going)
    for row in going:
        what = row.carrier + (f", order {row.order_id}" if row.order_id else "")
        what += f", label {row.label!r}" if row.label else ""
        env.say(f"removed {row.number} ({what}) from the watch list")
    for raw in unknown:
        env.err(f"waypost: error: not on the watch list: {raw}")
    raise typer.Exit(1 if unknown or failed else 0)


def _remove_remote(env: Env, rows: list[Any], store: Any) -> set[int]:
    """Report ``service.remove_everywhere``; the ids whose remote deletion failed (kept locally)."""
    from waypost import service

    keep: set[int] = set()
    for removal in service.remove_everywhere(rows, env.config(), timeout=env.timeout, cache=store):
        if removal.answers is None:
            env.say(
                f"{removal.carrier} keeps no account of its own: removed from the watch list only"
            )
            continue
        for row, answer in removal.answers:
            shipment = answer.shipments[0]
            if answer.failure is not None:
                keep.add(row.id)
                env.err(f"waypost: error: {row.number}: not removed: {shipment.error}")
            else:
                env.say(f"{row.number}: {shipment.status_text}")
    return keep


@commands.command(
    epilog="Examples:\n\n  waypost carriers\n\n"
    "  waypost carriers --detect LS912989618CN 1Z999AA10123456784\n\n"
    "  waypost carriers --json | jq '.carriers[] | select(.configured | not) | .name'\n\n"
    "  waypost carriers --check trackingmore; "
    "waypost carriers --json | jq '.carriers[] | .quota.remaining // empty'"
)
@global_options
def carriers(
    ctx: typer.Context,
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
            help="Make one real call: do the credentials work (pandapon: which signing recipe; "
            "trackingmore: the quota left, kept for `carriers`)?",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the carriers: coverage, credentials, batch size, rate limits, number patterns."""
    from waypost import carriers as registry
    from waypost import render_plain
    from waypost.cli import watchlist

    env = Env.of(ctx)
    out = env.stdout
    if check is not None and check.lower() == "trackingmore":  # quota.ACCOUNT
        raise typer.Exit(watchlist.check_quota(env, env.config(), as_json))
    if check is not None:
        from waypost.imports import check_command

        cfg = env.config()
        raise typer.Exit(check_command(check, cfg, env.timeout, env.cache(), as_json, out))
    if detect or numbers:
        if not detect or not numbers:
            raise UsageError("use --detect NUMBER... to rank the carriers for numbers")
        from waypost import render
        from waypost.inputs import parse_numbers

        infos = {i.name: i for i in registry.infos()}
        cfg = env.config()
        queries = parse_numbers(numbers, None, infos)
        results = render.detection_document(queries, infos, cfg)
        if as_json:
            out.write(render.dumps({"detect": results}) + "\n")
        else:
            render.detection(results, out, env.width)
        return
    cfg = env.config()
    if remote is not None:
        from waypost import service

        name = remote.lower()
        if name not in registry.names() or not service.supports(name, "couriers"):
            known = [n for n in registry.names() if service.supports(n, "couriers")]
            raise UsageError(f"--remote: {remote!r} has no courier list (try: {', '.join(known)})")
        cache = env.cache()
        try:
            couriers = service.remote_couriers(
                name, cfg, lang=lang, timeout=env.timeout, cache=cache
            )
        finally:
            cache.close()
        if as_json:
            out.write(render_plain.dumps({"carrier": name, "couriers": couriers}) + "\n")
        else:
            from waypost import render

            render.courier_codes(couriers, out)
        return
    rows = [
        registry.describe(info, cfg.carrier(info.name), [s.key for s in cfg.missing(info.name)])
        for info in registry.infos()
    ]
    watchlist.add_quota(env, rows, cfg)
    if as_json:
        out.write(render_plain.dumps({"carriers": rows}) + "\n")
    else:
        render_plain.carriers_overview(rows, out, env.width)


@commands.command(epilog="Example:\n\n  waypost schema > waypost.schema.json")
@global_options
def schema(
    ctx: typer.Context,
) -> None:
    """Print the JSON Schema of the `track --json` document (and of one `--jsonl` line)."""
    import json

    from waypost.models import json_schema

    env = Env.of(ctx)
    env.stdout.write(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n")
