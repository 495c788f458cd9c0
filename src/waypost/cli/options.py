"""Options shared by several commands (SPEC.md, "Global options"), declared once.

Every command also accepts the global options after its name (``waypost track --json -q``):
``global_options`` adds them to its signature and folds them into the run's ``Env``.
"""

import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from waypost import __version__
from waypost.errors import UsageError

if TYPE_CHECKING:
    from waypost.render import Format


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


def finite(value: float | None) -> float | None:
    """Reject ``nan`` and ``inf``, which the range check of a float option lets through."""
    import math

    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number of seconds")
    return value


def output_format(as_json: bool, as_jsonl: bool, tty: bool) -> "Format":
    """The Format asked for by ``--json``/``--jsonl``; a table on a terminal, else plain."""
    from waypost.render import Format

    if as_json and as_jsonl:
        raise UsageError("--json and --jsonl cannot be combined")
    return Format.choose(as_json=as_json, as_jsonl=as_jsonl, tty=tty)


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
        callback=finite,
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
        callback=finite,
        help="Give up on whatever is still unanswered after this long.",
        show_default=False,
    ),
]


# The run-wide options every command takes after its name, in the order help lists them.
_GLOBALS: tuple[tuple[str, Any, Any], ...] = (
    ("config", ConfigOpt, None),
    ("timeout", TimeoutOpt, None),
    ("no_color", NoColorOpt, False),
    ("verbose", VerboseOpt, 0),
    ("quiet", QuietOpt, False),
    ("color", ColorOpt, None),
    ("debug", DebugOpt, False),
    ("version", VersionOpt, False),
)
_Command = TypeVar("_Command", bound=Callable[..., Any])


def global_options(command: _Command) -> _Command:
    """``command`` taking the global options after its own and folding them into the run's
    ``Env`` (``Env.of(ctx)``) before it runs; it needs a ``ctx: typer.Context`` parameter."""
    signature = inspect.signature(command)
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        for name, kind, default in _GLOBALS
    ]

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        from waypost.cli.env import Env

        given = [kwargs.pop(name) for name, _, _ in _GLOBALS]
        Env.of(kwargs["ctx"]).merge(*given[:7])
        return command(*args, **kwargs)

    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    run.__annotations__ = {
        **command.__annotations__,
        **{name: kind for name, kind, _ in _GLOBALS},
    }
    return run  # type: ignore[return-value]
