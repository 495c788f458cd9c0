"""``waypost store``: bring the watch list's database up to date, or copy it into PostgreSQL
(README, "A watch list shared by several hosts"). The logic lives in ``store_postgres``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

store_app = typer.Typer(
    help="Set up the watch list's database, or move it into PostgreSQL.",
    no_args_is_help=True,
    epilog="Examples:\n\n  waypost store migrate\n\n"
    "  waypost store copy --to postgresql://waypost@db.example.org/waypost",
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="PATH",
        help="Config file (default: $WAYPOST_CONFIG or the user config dir).",
        show_default=False,
    ),
]


@store_app.command(
    "migrate", epilog="Example:\n\n  WAYPOST_DATABASE_URL=postgresql://... waypost store migrate"
)
def migrate(config: ConfigOpt = None) -> None:
    """Create or upgrade the tables of the configured database ([store] url, else SQLite)."""
    from waypost import cli

    st = cli._merge(config, None, False, 0)
    st.config()
    with cli._store(required=True) as store:
        version = store.version
        where = store.path
    cli.say(f"database {where}: schema {version}, up to date")


@store_app.command(
    "copy",
    epilog="Example:\n\n  waypost store copy --to 'postgresql://waypost:PASSWORD@db/waypost'",
)
def copy(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="URL",
            help="The PostgreSQL database to copy the local SQLite watch list into.",
        ),
    ],
    config: ConfigOpt = None,
) -> None:
    """Copy the local SQLite watch list, history and caches into PostgreSQL (idempotent)."""
    from waypost import cli
    from waypost.errors import UsageError
    from waypost.paths import data_dir
    from waypost.store import DB_NAME, Store
    from waypost.store_postgres import PgStore, check_url, copy_store, password_of, shown

    st = cli._merge(config, None, False, 0)
    st.config()
    url = to.strip()
    if secret := password_of(url):
        st.secrets.append(secret)
    try:
        check_url(url)
    except ValueError as exc:
        raise UsageError(f"--to {shown(url)} {exc}") from None
    source_path = data_dir() / DB_NAME
    if not source_path.is_file():
        raise UsageError(f"there is no local watch list to copy ({source_path} does not exist)")
    with Store(source_path, timeout=cli._busy_timeout()) as source, PgStore(url) as target:
        counts = copy_store(source, target)
    for table, (read, new) in counts.items():
        sys.stdout.write(f"{table}\t{read}\t{new} new\n")
    cli.say(f"copied {source_path} into {shown(url)}; nothing was removed from either")
