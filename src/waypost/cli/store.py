"""``waypost store migrate|copy``: bring the watch list's database up to date, or copy the local
SQLite list into PostgreSQL (README, "A watch list shared by several hosts"). The logic lives in
``store.postgres``."""

from typing import Annotated

import typer

from waypost.cli.env import Env
from waypost.cli.options import (
    global_options,
)

app = typer.Typer(
    help="Set up the watch list's database, or move it into PostgreSQL.",
    no_args_is_help=True,
    epilog="Examples:\n\n  waypost store migrate\n\n"
    "  waypost store copy --to postgresql://waypost@db.example.org/waypost",
)


@app.callback()
@global_options
def store_root(
    ctx: typer.Context,
) -> None:
    """Set up the watch list's database, or move it into PostgreSQL."""
    Env.of(ctx)


@app.command(
    "migrate", epilog="Example:\n\n  WAYPOST_DATABASE_URL=postgresql://... waypost store migrate"
)
@global_options
def migrate(
    ctx: typer.Context,
) -> None:
    """Create or upgrade the tables of the configured database ([store] url, else SQLite)."""
    env = Env.of(ctx)
    env.config()
    with env.store(required=True) as store:
        version, where = store.version, store.path
    env.say(f"database {where}: schema {version}, up to date")


@app.command(
    "copy",
    epilog="Example:\n\n  waypost store copy --to 'postgresql://waypost:PASSWORD@db/waypost'",
)
@global_options
def copy(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="URL",
            help="The PostgreSQL database to copy the local SQLite watch list into.",
        ),
    ],
) -> None:
    """Copy the local SQLite watch list, history and state into PostgreSQL (idempotent)."""
    from waypost.errors import UsageError
    from waypost.paths import data_dir
    from waypost.store.postgres import PgStore, check_url, copy_store, password_of, shown
    from waypost.store.sqlite import DB_NAME, Store

    env = Env.of(ctx)
    env.config()
    url = to.strip()
    if secret := password_of(url):
        env.secrets.append(secret)
    try:
        check_url(url)
    except ValueError as exc:
        raise UsageError(f"--to {shown(url)} {exc}") from None
    source_path = data_dir() / DB_NAME
    if not source_path.is_file():
        raise UsageError(f"there is no local watch list to copy ({source_path} does not exist)")
    with Store(source_path, timeout=env.busy_timeout()) as source, PgStore(url) as target:
        counts = copy_store(source, target)
    env.stdout.write("".join(f"{t}\t{read}\t{new} new\n" for t, (read, new) in counts.items()))
    env.say(f"copied {source_path} into {shown(url)}; nothing was removed from either")
