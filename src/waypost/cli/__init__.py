"""The Typer layer: parse options, call the service or the store, hand the output to render.

The app is built here from one module per command group: ``track`` (track, watch), ``manage``
(list, remove, carriers, schema), ``watchlist`` (archive, edit), ``configure`` (the ``config``
group), ``sandbox``. Each
command gets the run's ``Env`` (``env.py``) from ``main()``, which builds it once per
invocation and is the only place where errors become exit codes (SPEC.md, "Exit codes"); a
traceback is shown only with ``--debug`` (or ``WAYPOST_DEBUG=1``).
"""

import sys
from typing import TYPE_CHECKING, Any, Literal

import typer
from typer.main import get_command

from waypost.cli.env import EXIT_PIPE, Env, PipeClosed, isatty, prepare_streams, quiet_stdout
from waypost.cli.options import (
    global_options,
)
from waypost.errors import WaypostError

if TYPE_CHECKING:
    app: typer.Typer

HELP = """Track parcels from the terminal: ILS, TrackingMore and PandaPon (1688/Taobao).

Numbers may carry a carrier prefix (ils:3676E4043665, trackingmore:usps:9400...,
pandapon:2542285634920880794); `-` reads numbers from stdin. Exit codes: 0 all answered,
1 some failed, 2 usage error, 3 config or credentials error, 4 nothing could be answered,
5 the local store could not be used (busy, damaged, read-only, disk full)."""
EPILOG = (
    "Examples:\n\n"
    '  eval "$(waypost sandbox --detach)"; waypost track 3676E4043665   # try it, no account\n\n'
    "  waypost config init; waypost track --save LS912989618CN\n\n"
    "  */30 * * * * waypost watch --once --notify 'ntfy://ntfy.sh/my-parcels'"
)


@global_options
def root(
    ctx: typer.Context,
) -> None:
    """Track parcels from the terminal."""
    Env.of(ctx)


_APP: list[typer.Typer] = []


def _app() -> typer.Typer:
    """The whole app, built on first use: `track` and `watch` alone import only their module."""
    if _APP:
        return _APP[0]
    from waypost.cli import configure, journeys, manage, sandbox, store, track, watchlist

    whole = typer.Typer(
        name="waypost",
        help=HELP,
        epilog=EPILOG,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    # Plain commands, in the order `--help` lists them; then the groups.
    for group in (
        track.commands,
        manage.commands,
        watchlist.commands,
        journeys.commands,
        sandbox.commands,
    ):
        whole.registered_commands.extend(group.registered_commands)
    whole.add_typer(configure.app, name="config")
    whole.add_typer(store.app, name="store")
    whole.callback()(root)
    _APP.append(whole)
    return whole


def __getattr__(name: str) -> Any:
    if name == "app":
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Plain commands answered by building their own module's app alone (see ``_single``): `list`
# and `carriers` load none of the other command modules.
_ALONE = {"track": "track", "watch": "track", "list": "manage", "carriers": "manage"}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; the only place where errors, Ctrl-C and a reader gone become exit codes."""
    saved = sys.stdout, sys.stderr
    try:
        prepare_streams()
        env = Env.from_process()
        code = _main(env, argv)
        sys.stdout.flush()  # the output's last bytes: a reader gone even now is exit 141
        return code
    except PipeClosed:
        quiet_stdout()
        return EXIT_PIPE
    except KeyboardInterrupt:
        return _interrupted()
    except WaypostError as exc:  # standard output could not take its last bytes
        sys.stderr.write(f"waypost: error: {exc.message}\n")
        return exc.exit_code
    finally:
        sys.stdout, sys.stderr = saved


def _interrupted() -> int:
    """Ctrl-C: what was printed goes out, one line says so, and the exit status is 130."""
    import contextlib

    try:
        sys.stdout.flush()
    except (PipeClosed, WaypostError):
        quiet_stdout()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write("waypost: interrupted\n")
        sys.stderr.flush()
    return EXIT_INTERRUPTED


# What a shell reports for a process that Ctrl-C (SIGINT) ended: 128 + 2.
EXIT_INTERRUPTED = 130


def _main(env: Env, argv: list[str] | None) -> int:
    if "waypost.logs" in sys.modules:
        sys.modules["waypost.logs"].reset()
    args = sys.argv[1:] if argv is None else argv
    # Rich help and error panels on a terminal; plain text (and no Rich import) otherwise.
    markup: Literal["rich"] | None = "rich" if isatty(env.stdout) else None
    if not (args and args[0] in _ALONE):
        from waypost.cli import configure, store

        _app().rich_markup_mode = markup
        configure.app.rich_markup_mode = store.app.rich_markup_mode = markup
    target, prog, rest = (
        (_overview(markup), "waypost", args) if args in OVERVIEW else _single(args, markup)
    )
    try:
        # The command itself, without Typer's `main()`: that one turns Ctrl-C into a silent
        # exit 130 of its own, and Ctrl-C is main()'s to report.
        command = get_command(target)
        with command.make_context(prog, rest, obj=env) as context:
            code = command.invoke(context)
        return code if isinstance(code, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except typer.TyperException as exc:
        # The parser's own errors (Click, vendored by Typer), in the one error style.
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":
            env.stderr.write(exc.format_message() + "\n")
            return 2
        if ctx is not None:
            env.stderr.write(ctx.get_usage() + "\n")
        env.err(f"waypost: error: {exc.format_message()}")
        if ctx is not None:
            env.err(f"hint: see `{ctx.command_path} --help`")
        return int(getattr(exc, "exit_code", 2))
    except (typer.Abort, EOFError):
        # Ctrl-C or the end of input at a prompt: the prompt's line ends first.
        env.stderr.write("\n")
        raise KeyboardInterrupt from None
    except WaypostError as exc:
        # An exit-0 one (another watch running) is a note, which ``-q`` keeps quiet.
        tell = env.err if exc.exit_code else env.say
        tell(f"waypost: {'error' if exc.exit_code else 'note'}: {exc.message}")
        if exc.hint:
            tell(f"hint: {exc.hint}")
        if env.debug:
            import traceback

            traceback.print_exc()
        return exc.exit_code
    except (BrokenPipeError, PipeClosed):
        raise PipeClosed from None
    except Exception as exc:
        if env.debug:
            import traceback

            traceback.print_exc()
        env.err(f"waypost: internal error: {type(exc).__name__}: {exc}")
        env.err("hint: this is a bug; run again with --debug for the traceback and report it")
        return 70


# `waypost`, `waypost --help`: the list of commands, which needs none of their options.
OVERVIEW: tuple[list[str], ...] = ([], ["--help"], ["-h"])


def _overview(markup: Literal["rich"] | None) -> typer.Typer:
    """The root app with stand-ins that carry each command's name and help and nothing else.

    Typer builds every option of every command to print the root help, though the root help
    shows only names and first lines; the stand-ins print the same text (a test compares).
    """
    import inspect

    from typer.models import CommandInfo, TyperInfo

    app = _app()
    lite = typer.Typer(
        name=app.info.name,
        help=app.info.help,
        epilog=app.info.epilog,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        rich_markup_mode=markup,
    )
    lite.registered_callback = app.registered_callback
    for info in app.registered_commands:
        lite.registered_commands.append(
            CommandInfo(
                name=info.name or getattr(info.callback, "__name__", None),
                help=info.help if info.help is not None else inspect.getdoc(info.callback),
                short_help=info.short_help,
                hidden=info.hidden,
                deprecated=info.deprecated,
                rich_help_panel=info.rich_help_panel,
                callback=_stand_in,
            )
        )
    for group in app.registered_groups:
        sub = group.typer_instance
        assert sub is not None
        stub = typer.Typer(help=sub.info.help, rich_markup_mode=markup)
        stub.command("-")(_stand_in)
        lite.registered_groups.append(TyperInfo(stub, name=group.name))
    return lite


def _stand_in() -> None:
    """Never run: ``_overview`` only prints help."""


def _single(args: list[str], markup: Literal["rich"] | None) -> tuple[typer.Typer, str, list[str]]:
    """When the first argument names a plain command, a Typer app of that command alone.

    Typer builds every command's parameters before it runs one; building only the one asked
    for keeps `waypost list` and friends quick. Anything else (root options first, `config`,
    `--help`) goes through the whole app.
    """
    name = args[0] if args else ""
    home = _ALONE.get(name)
    if home is not None:
        import importlib

        registered = importlib.import_module(f"waypost.cli.{home}").commands.registered_commands
    else:
        registered = _app().registered_commands
    commands = {c.name or getattr(c.callback, "__name__", ""): c for c in registered}
    info = commands.get(name) if name and not name.startswith("-") else None
    if info is None:
        return _single_of_group(args, markup)
    alone = typer.Typer(
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        rich_markup_mode=markup,
    )
    alone.registered_commands.append(info)
    return alone, f"waypost {name}", args[1:]


def _single_of_group(
    args: list[str], markup: Literal["rich"] | None
) -> tuple[typer.Typer, str, list[str]]:
    """`waypost config show` and the like: an app of that one subcommand (its group's options,
    when given before the subcommand, go through the whole app)."""
    app = _app()
    groups = {g.name: g.typer_instance for g in app.registered_groups}
    sub = groups.get(args[0]) if len(args) > 1 else None
    if sub is None:
        return app, "waypost", args
    commands = {c.name or getattr(c.callback, "__name__", ""): c for c in sub.registered_commands}
    info = commands.get(args[1])
    if info is None:
        return app, "waypost", args
    alone = typer.Typer(
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        rich_markup_mode=markup,
    )
    alone.registered_commands.append(info)
    return alone, f"waypost {args[0]} {args[1]}", args[2:]
