"""``sandbox``: run the carrier emulator in the foreground, or detached (SPEC.md, "sandbox").

The process control (spawn, state file, stop) lives in ``waypost.sandbox.detach``.
"""

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from waypost.cli.env import Env
from waypost.cli.options import (
    global_options,
)
from waypost.errors import UsageError

commands = typer.Typer()


class _Command(TyperCommand):
    """``sandbox``, whose unknown-option errors never suggest its internal ``--state-file``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse as usual; a "Possible options" list leaves out the hidden options."""
        try:
            return super().parse_args(ctx, args)
        except typer.TyperException as exc:
            possible = getattr(exc, "possibilities", None)
            if possible:
                hidden = {n for p in self.params if getattr(p, "hidden", False) for n in p.opts}
                exc.possibilities = [n for n in possible if n not in hidden]  # type: ignore[attr-defined]
            raise


@commands.command(
    cls=_Command,
    epilog="Examples:\n\n"
    '  eval "$(waypost sandbox --detach)" && waypost track 3676E4043665\n\n'
    '  eval "$(waypost sandbox --status)"   # the variables again, in a new shell\n\n'
    "  waypost sandbox --port 9000 --latency 80\n\n"
    "  waypost sandbox --faults '503@trackingmore:x2,hang@pandapon:0.5'",
)
@global_options
def sandbox(
    ctx: typer.Context,
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
    status: Annotated[
        bool,
        typer.Option(
            "--status", help="Say whether a detached sandbox runs, and print its variables."
        ),
    ] = False,
    faults: Annotated[
        str | None,
        typer.Option(
            "--faults",
            metavar="SPEC",
            help="Misbehave on purpose: KIND[@CARRIER[/PATH]][:RATE|:xCOUNT],... with KIND one of "
            "500, 502, 503, 429, truncated, shape, empty, slow, hang, or a hostile one: huge, "
            "bomb, endless, deep, html200, pause, dates, surrogate, nulls.",
            show_default=False,
        ),
    ] = None,
    state_file: Annotated[Path | None, typer.Option("--state-file", hidden=True)] = None,
) -> None:
    """Serve a local emulation of every carrier API, with demo shipments.

    Prints `export WAYPOST_...` lines that point waypost at it: `eval "$(waypost sandbox
    --detach)"` starts it in the background and sets them in your shell.
    """
    from waypost.paths import data_dir
    from waypost.sandbox import Sandbox
    from waypost.sandbox import detach as bg

    env = Env.of(ctx)
    if stop and status:
        raise UsageError("--stop and --status cannot be combined")
    if stop:
        stopped = bg.stop(data_dir())
        if stopped:
            env.say("sandbox stopped")
        else:
            env.err("no detached sandbox is running")
        raise typer.Exit(0 if stopped else 1)
    if status:
        state = bg.running(data_dir())
        if state is None:
            env.err("no detached sandbox is running (start one: waypost sandbox --detach)")
            raise typer.Exit(1)
        _print_env(env, state["env"])
        env.say(f"a sandbox runs in the background on port {state['port']}")
        return
    from waypost.sandbox.faults import parse as parse_faults

    rules = parse_faults(faults or "")
    if detach:
        state = bg.running(data_dir())
        if state is not None:
            env.say(f"a sandbox already runs in the background on port {state['port']}: reusing it")
            env.say("(to change --port, --latency or --faults: waypost sandbox --stop first)")
            _print_env(env, state["env"])
            return
        state = bg.spawn(data_dir(), 0 if port is None else port, latency, faults or "")
        _print_env(env, state["env"])
        env.say(f"waypost sandbox running in the background on port {state['port']}")
        env.say("stop it with: waypost sandbox --stop")
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
    env.say(f"waypost sandbox listening on {box.base_url} (Ctrl-C stops it)")
    _print_env(env, box.env())
    env.say("\nDemo numbers:")
    for app_ in box.apps.values():
        for number, what in app_.demo_numbers():
            env.say(f"  {app_.name}:{number}  {what}")
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


def _print_env(env: Env, variables: dict[str, str]) -> None:
    import shlex

    for key, value in variables.items():
        env.stdout.write(f"export {key}={shlex.quote(value)}\n")
    env.stdout.flush()
