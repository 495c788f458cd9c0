"""``link`` and ``import``, and the journeys ``track`` shows (``waypost.journeys``)."""

from typing import Annotated, Any

import typer

from waypost.cli.env import Env
from waypost.cli.options import (
    global_options,
)
from waypost.errors import StoreError

commands = typer.Typer()


@commands.command(
    epilog="Examples:\n\n"
    "  waypost link 4318765290123 ils:3676E4043665 trackingmore:usps:9400111899223197428490\n\n"
    "  waypost link --undo 3676E4043665"
)
@global_options
def link(
    ctx: typer.Context,
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
) -> None:
    """Link watched shipments as the ordered legs of one journey (track and list show it whole)."""
    from waypost.journeys import link_command

    env = Env.of(ctx)
    with env.store(required=True) as store:
        lines = link_command(numbers, undo, store, env.config(), timeout=env.timeout, say=env.say)
    from waypost import safe

    env.stdout.writelines(safe.lines(line) + "\n" for line in lines)


@commands.command(
    "import",
    epilog="Examples:\n\n  waypost import pandapon\n\n"
    "  waypost import pandapon --since 2w --platform 1688\n\n"
    "  waypost import pandapon --since 2026-11-01 --json | jq '.import.new[].order_id'",
)
@global_options
def import_(
    ctx: typer.Context,
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
) -> None:
    """Add every order of an account in a window to the watch list (shipped or not)."""
    from waypost.imports import import_command
    from waypost.safe import argument

    env = Env.of(ctx)
    with env.store(required=True) as store:
        code = import_command(
            carrier,
            store,
            env.config(),
            since=since,
            platform=platform,
            label=argument(label),
            timeout=env.timeout,
            as_json=as_json,
            out=env.stdout,
            warn=env.say,
        )
    raise typer.Exit(code)


class JourneyLegs:
    """The watch list's journeys for ``track``: read only if a watch list exists (the SQLite
    file, or the ``[store] url`` database); any store fault only costs the journey view."""

    def __init__(self, store: Any, config: Any = None) -> None:
        self.store = store
        self.config = config
        self.own = False

    def _open(self) -> Any:
        if self.store is None and not self.own:
            from waypost.paths import data_dir
            from waypost.store import DB_NAME, Store, backend_url, open_store

            self.own = True
            url = backend_url(self.config)
            try:
                if url is not None:
                    self.store = open_store(self.config, timeout=1)
                elif (data_dir() / DB_NAME).is_file():
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

        legs = journeys.backend(store)
        if legs is None:
            return {}
        try:
            return journeys.annotate(legs, shipments)
        except StoreError:
            return {}

    def close(self) -> None:
        """Close the store if this opened it."""
        if self.own and self.store is not None:
            self.store.close()
            self.store = None
