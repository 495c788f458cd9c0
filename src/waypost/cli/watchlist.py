"""``archive`` and ``edit``, and the watch list's hooks in ``track``, ``watch``, ``list`` and
``carriers`` (SPEC.md, "The watch list manages itself"; the rules are in ``insights`` and
``manage``)."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from waypost.cli.env import Env
from waypost.cli.options import (
    global_options,
)
from waypost.errors import CarrierError, UsageError

if TYPE_CHECKING:
    from waypost.config import Config

commands = typer.Typer()


def insights_marker(cfg: "Config", store: Any) -> Any:
    """A function that marks shipments stalled and, with a store, gives them a learned ETA."""
    from waypost import insights

    history = insights.History.learn(store.deliveries()) if store is not None else None
    now = insights.clock()
    thresholds: dict[str, float] = {}

    def mark(shipments: list[Any]) -> None:
        for s in shipments:
            shown = insights.annotate(s, cfg, history, now=now, thresholds=thresholds)
            s.stalled, s.eta, s.eta_source = shown.stalled, shown.eta, shown.eta_source

    return mark


def refresh_quota(env: Env, cfg: "Config", store: Any) -> None:
    """Read TrackingMore's quota again where the kept value is a day old (``watch``)."""
    from waypost import quota

    quota.refresh(cfg, store.cache, store.state, timeout=env.timeout)


def quota_warning(env: Env, cfg: "Config", needed: int, cache: Any) -> None:
    """One warning line when TrackingMore had fewer trackings left than the run may need."""
    from waypost import quota

    line = quota.warning(cfg, needed, cache, timeout=env.timeout)
    if line:
        env.say(line)


def add_quota(env: Env, rows: list[dict[str, Any]], cfg: "Config") -> None:
    """TrackingMore's row of ``carriers`` gains ``quota``: what the account had left when
    waypost last read it (``carriers --check trackingmore``), with its time; no request."""
    for row in rows:
        if row["name"] == "trackingmore" and row["configured"]:  # quota.ACCOUNT
            from waypost import quota

            if not quota.told(cfg):
                row["quota"] = quota.kept(cfg, None)  # nothing kept: no store opened
                continue
            cache = env.cache()
            try:
                row["quota"] = quota.kept(cfg, cache.state)
            finally:
                cache.close()


def check_quota(env: Env, cfg: "Config", as_json: bool) -> int:
    """``carriers --check trackingmore``: read the remaining quota now (one request; on v4,
    which tells none, one call that proves the key), keep it for ``carriers`` and the warnings
    of ``track`` and ``watch``; the exit code."""
    from waypost import quota, render
    from waypost.errors import MissingCredentials

    missing = cfg.missing(quota.ACCOUNT)
    if missing:
        raise MissingCredentials(
            f"{quota.ACCOUNT} is not configured, so its quota cannot be read",
            hint=f"run `waypost config set carriers.{quota.ACCOUNT}.{missing[0].key}`",
        )
    cache = env.cache()
    try:
        shown = quota.read(cfg, cache, cache.state, timeout=env.timeout)
    finally:
        cache.close()
    if as_json:
        answer = {"carrier": quota.ACCOUNT, "credentials": "work", "quota": shown}
        env.stdout.write(render.dumps(answer) + "\n")
    else:
        works = "" if shown.get("told") else "the credentials work; "
        env.stdout.write(f"{quota.ACCOUNT}: {works}{render.quota_text(shown)}\n")
    return 0


def _watched_rows(store: Any, numbers: list[str]) -> tuple[list[Any], list[str]]:
    """The watched rows ``numbers`` name (numbers or order ids), and the ones that name none."""
    from waypost import carriers, inputs

    infos = {i.name: i for i in carriers.infos()}
    found: dict[int, Any] = {}
    unknown: list[str] = []
    for q in inputs.parse_numbers(numbers, None, infos):
        rows = store.find(q.number, q.carrier)
        if rows:
            found.update((r.id, r) for r in rows)
        else:
            unknown.append(q.raw or q.number)
    return list(found.values()), unknown


@commands.command(
    epilog="Examples:\n\n  waypost archive 3676E4038521\n\n"
    "  waypost archive --undo 3676E4038521\n\n"
    "  waypost list --all --status delivered --json | jq -r '.watched[].number' | "
    "waypost archive -"
)
@global_options
def archive(
    ctx: typer.Context,
    numbers: Annotated[
        list[str],
        typer.Argument(metavar="NUMBER...", help="Watched numbers or order ids; `-` reads stdin."),
    ],
    undo: Annotated[bool, typer.Option("--undo", help="Bring archived shipments back.")] = False,
) -> None:
    """Hide shipments from `list` and stop refreshing them (history kept; TrackingMore too)."""
    from waypost import manage

    env = Env.of(ctx)
    if "-" in numbers:
        numbers = [n for n in numbers if n != "-"] + env.read_stdin().split()
    cfg = env.config()
    with env.store(required=True) as store:
        rows, unknown = _watched_rows(store, numbers)
        problems = manage.archive(store, rows, cfg, undo=undo, timeout=env.timeout)
    for row in rows:
        env.say(f"{'unarchived' if undo else 'archived'} {row.number} ({row.carrier})")
    for problem in problems:
        env.err(f"waypost: error: {problem}")
    for raw in unknown:
        env.err(f"waypost: error: not on the watch list: {raw}")
    raise typer.Exit(1 if unknown or problems else 0)


@commands.command(
    epilog="Examples:\n\n  waypost edit LS912989618CN --label 'winter boots'\n\n"
    "  waypost edit 9400111201080805483016 --courier usps"
)
@global_options
def edit(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(metavar="NUMBER", help="A watched number.")],
    label: Annotated[
        str | None,
        typer.Option(
            "--label", metavar="TEXT", help="New label ('' removes it).", show_default=False
        ),
    ] = None,
    courier: Annotated[
        str | None,
        typer.Option(
            "--courier",
            metavar="CODE",
            help="The right courier (TrackingMore codes): the account is told, the shipment "
            "asked again and its history replaced.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Correct a watched shipment: its label, or the courier TrackingMore asks."""
    from waypost import manage

    env = Env.of(ctx)
    if label is None and courier is None:
        raise UsageError("nothing to change: give --label TEXT and/or --courier CODE")
    from waypost.safe import argument

    label = argument(label)
    cfg = env.config()
    code = 0
    with env.store(required=True) as store:
        rows, unknown = _watched_rows(store, [number])
        if unknown or not rows:
            raise UsageError(
                f"not on the watch list: {number}", hint="add it with `waypost track --save NUMBER`"
            )
        if len(rows) > 1:
            listed = ", ".join(f"{r.carrier}:{r.number}" for r in rows)
            raise UsageError(f"{number} names {len(rows)} shipments ({listed}); name one of them")
        row = rows[0]
        done = []
        if courier is not None and row.courier and courier.strip().lower() == row.courier:
            done.append(f"courier already {row.courier}; nothing sent")
            courier = None
        try:
            done[:0] = manage.edit(
                store, row, cfg, label=label, courier=courier, timeout=env.timeout
            )
        except CarrierError as exc:
            if courier is not None and exc.hint and "trackingmore:COURIER:NUMBER" in exc.hint:
                # The hint is the one for numbers on the command line; edit takes a code.
                exc.hint = f"{LIST_COURIERS} lists the courier codes"
            raise
        if courier is not None:
            code = _ask_again(env, store, row.id, cfg)
    for line in done:
        env.say(f"{row.number}: {line}")
    raise typer.Exit(code)


LIST_COURIERS = "`waypost carriers --remote trackingmore`"


def _ask_again(env: Env, store: Any, row_id: int, cfg: "Config") -> int:
    """Ask the carrier again for a row whose courier changed; its answer becomes the history."""
    from waypost import service
    from waypost.carriers.base import TrackOptions

    row = next(r for r in store.watched(archived=None) if r.id == row_id)
    if row.ask is None:
        return 0
    report = service.run_blocking(
        [row.ask], cfg, TrackOptions(refresh=True, save=True), timeout=env.timeout, cache=store
    )
    for shipment in report.shipments:
        if shipment.tracking_number == row.number and shipment.carrier == row.carrier:
            store.refresh(row, shipment)
            if shipment.error:
                env.err(f"waypost: error: {row.number}: not asked again: {shipment.error}")
    return report.exit_code
